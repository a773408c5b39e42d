"""Datasets for training and evaluating light-curve classifiers.

:class:`LightCurveDataset` is a plain PyTorch map-style dataset (``dataset[i]``
is ``(x, y)``) with constructors for the usual layouts, endless balanced and
augmented training streams (:meth:`~LightCurveDataset.stream`), finite in-order
evaluation streams (:meth:`~LightCurveDataset.iterate`), splits that keep each
star in one split, and a table of the files it had to skip
(:attr:`~LightCurveDataset.problems`).

Example
-------
>>> import qusi_lab.data as qd
>>> datasets = qd.LightCurveDataset.from_experiment("data/spoc_transit_experiment")  # doctest: +SKIP
>>> loader = DataLoader(datasets["train"].stream(balance="equal"), batch_size=64, num_workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

from qusi_lab.data.balancing import class_probabilities, class_weights
from qusi_lab.data.dataset import EXPECTED_LAYOUT, LightCurveDataset, as_light_curve, target_id_from_filename
from qusi_lab.data.labels import encode_labels, infer_task
from qusi_lab.data.problems import DatasetLayoutError, NoUsableLightCurvesError, ProblemLog
from qusi_lab.data.splits import split_by_target
from qusi_lab.data.streams import EvaluationStream, TrainingStream
from qusi_lab.data.worker_safety import WorkerSafeCallable, worker_safe

__all__ = [
    "LightCurveDataset",
    "EvaluationStream",
    "TrainingStream",
    "split_by_target",
    "class_probabilities",
    "class_weights",
    "infer_task",
    "encode_labels",
    "as_light_curve",
    "target_id_from_filename",
    "ProblemLog",
    "DatasetLayoutError",
    "NoUsableLightCurvesError",
    "WorkerSafeCallable",
    "worker_safe",
    "EXPECTED_LAYOUT",
]

from qusi_lab.data import injection  # noqa: E402
from qusi_lab.data.injection import *  # noqa: E402,F403

__all__ += [name for name in injection.__all__ if name not in __all__]
