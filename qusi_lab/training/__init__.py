"""Training, evaluation and saved models.

- :func:`train` — a plain PyTorch training loop over a :class:`~qusi_lab.data.LightCurveDataset`:
  balanced/augmented streams, validation, early stopping, best/last checkpoints, exact resume.
- :func:`evaluate` — metrics, per-curve scores and plots on a labelled dataset.
- :func:`load` / :meth:`Model.save <qusi_lab.models.Model.save>` — a model folder with weights, preprocessing
  and class names (:mod:`qusi_lab.models.bundle`; :func:`save_bundle` for a bare network).
- :mod:`~qusi_lab.training.metrics` — AUC ROC/PR, recall among the top-scored fraction, ... in numpy.

The training loop by job: :mod:`~qusi_lab.training.loop` (:func:`train` as stages),
:mod:`~qusi_lab.training.settings` (arguments, seeds, initial weights), :mod:`~qusi_lab.training.schedules`
(optimizers, learning rates, the time budget), :mod:`~qusi_lab.training.validation` (validation passes,
best weights), :mod:`~qusi_lab.training.resume` (what ``last.pt`` records and the checks on resume),
:mod:`~qusi_lab.training.checkpoints` (the files), :mod:`~qusi_lab.training.interrupts` (Ctrl-C),
:mod:`~qusi_lab.training.result` (:class:`TrainingResult`).

Example
-------
>>> from qusi_lab.training import train, evaluate, load   # doctest: +SKIP
>>> result = train(model, train_set, validation_set, checkpoint_dir="runs/transits")   # doctest: +SKIP
>>> evaluate(result.model, test_set)                                                 # doctest: +SKIP
>>> result.model.save("models/transits"); model = load("models/transits")            # doctest: +SKIP
"""

from __future__ import annotations

from qusi_lab._deprecation import moved_names
from qusi_lab.models.bundle import (
    BUNDLE_FORMAT_VERSION,
    BundleError,
    load,
    load_bundle_info,
    save_bundle,
    versions_compatible,
)
from qusi_lab.models.trained import Model, bundle_of, scores_from_outputs
from qusi_lab.training.evaluate import EvaluationResult, evaluate, predict_outputs
from qusi_lab.training.loop import TrainingResult, train
from qusi_lab.training.metrics import (
    accuracy,
    auc_pr,
    auc_roc,
    average_precision,
    binary_metrics,
    confusion_matrix,
    f1_score,
    multiclass_metrics,
    precision,
    precision_recall_curve,
    recall,
    recall_at_k_positives,
    recall_at_top_fraction,
    recall_at_top_fraction_ceiling,
    regression_metrics,
    roc_curve,
)
from qusi_lab.training.progress import CSVLogger, MetricLogger, TensorBoardLogger, WandbLogger

__all__ = [
    "train",
    "TrainingResult",
    "evaluate",
    "EvaluationResult",
    "predict_outputs",
    "save_bundle",
    "load",
    "load_bundle_info",
    "Model",
    "bundle_of",
    "BundleError",
    "BUNDLE_FORMAT_VERSION",
    "versions_compatible",
    "scores_from_outputs",
    "auc_roc",
    "auc_pr",
    "average_precision",
    "roc_curve",
    "precision_recall_curve",
    "accuracy",
    "precision",
    "recall",
    "f1_score",
    "confusion_matrix",
    "recall_at_top_fraction",
    "recall_at_top_fraction_ceiling",
    "recall_at_k_positives",
    "binary_metrics",
    "multiclass_metrics",
    "regression_metrics",
    "MetricLogger",
    "CSVLogger",
    "TensorBoardLogger",
    "WandbLogger",
]

# BundleInfo became qusi_lab.models.Model (one description of a trained model).
__getattr__ = moved_names(__name__, {"BundleInfo": "qusi_lab.models.trained:Model"})
