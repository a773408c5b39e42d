"""Inference: rank every light curve of a sector, estimate transit periods, explain scores.

=================================  ====================================================================
:func:`infer`                      score every curve (folder, files, light curves or a dataset) once,
                                   with DataLoader workers; returns a ranked :class:`CandidateTable`
:class:`CandidateTable`            a pandas DataFrame (rank, path, target_id, mission, sector, score,
                                   period, epoch, duration_hours, depth_ppm ...) with ``.problems``
:meth:`CandidateTable.save`        write ``.csv`` (+ ``.meta.json``) or ``.parquet`` (also
                                   :func:`save_candidates`)
:func:`read_candidates`            read them back, metadata included
:func:`search_period`              box-least-squares period, epoch, duration and depth of one curve
:func:`search_heartbeat`           heartbeat period, periastron epoch, shape and significance of one curve
:func:`saliency`                   which cadences drove the score (occlusion or integrated gradients)
=================================  ====================================================================

Example
-------
>>> from qusi_lab.inference import infer
>>> table = infer("runs/transits", "data/sector_01")          # doctest: +SKIP
>>> table.save("candidates.csv")                              # doctest: +SKIP
>>> table.problems                                            # doctest: +SKIP
"""

from __future__ import annotations

from qusi_lab._deprecation import moved_names
from qusi_lab.inference.candidates import CandidateTable, metadata_path, read_candidates, save_candidates
from qusi_lab.inference.heartbeat_search import (
    HEARTBEAT_COLUMNS,
    HEARTBEAT_FEATURES,
    HeartbeatSearchResult,
    heartbeat_features,
    search_heartbeat,
)
from qusi_lab.inference.infer import (
    DEFAULT_PERIOD_SEARCH_TOP,
    InferenceError,
    infer,
    inference_dataset,
    load_model,
    model_info,
)
from qusi_lab.inference.periods import (
    PERIOD_COLUMNS,
    PeriodSearchResult,
    period_grid,
    prepare_for_period_search,
    search_period,
)
from qusi_lab.inference.saliency import SALIENCY_METHODS, saliency

__all__ = [
    "infer",
    "CandidateTable",
    "save_candidates",
    "read_candidates",
    "metadata_path",
    "InferenceError",
    "model_info",
    "load_model",
    "inference_dataset",
    "DEFAULT_PERIOD_SEARCH_TOP",
    "search_period",
    "prepare_for_period_search",
    "period_grid",
    "PeriodSearchResult",
    "PERIOD_COLUMNS",
    "search_heartbeat",
    "heartbeat_features",
    "HeartbeatSearchResult",
    "HEARTBEAT_COLUMNS",
    "HEARTBEAT_FEATURES",
    "saliency",
    "SALIENCY_METHODS",
]

# ModelInfo became qusi_lab.models.Model: one description of a trained model.
__getattr__ = moved_names(__name__, {"ModelInfo": "qusi_lab.models.trained:Model"})
