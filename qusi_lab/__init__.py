"""qusi_lab: neural networks that sift photometric surveys, and panels to vet what they find.

Import one name::

    import qusi_lab as ql
    lc = ql.read_light_curve("tess2018206045859-s0001-0000000025155310-0120-s_lc.fits")
    train = ql.LightCurveDataset.from_directory("data/spoc_transit_experiment/train")

Sub-modules (``ql.signals``, ``ql.synthetic``, ``ql.download``, ``ql.transforms``, ``ql.models`` ...) load on
first use, so ``import qusi_lab`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import Any

from qusi_lab._version import __version__
from qusi_lab.data import LightCurveDataset, split_by_target
from qusi_lab.errors import LabelError, LightCurveError, LightCurveReadError, QusiLabError
from qusi_lab.io import find_light_curve_files, read_light_curve, write_csv, write_npz, write_spoc_fits
from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms import (
    DEFAULT_INPUT_LENGTH,
    Pipeline,
    default_augmentation,
    default_preprocessing,
    heartbeat_preprocessing,
    make_pipeline,
)

# Sub-modules loaded on first attribute access (PEP 562).
_SUBMODULES = (
    "data",
    "download",
    "errors",
    "io",
    "models",
    "signals",
    "synthetic",
    "transforms",
    "training",
    "inference",
    "vetting",
    "widgets",
    "imaging",
)
# Names re-exported from lazily loaded sub-modules: name -> (module, attribute).
_LAZY_NAMES = {
    "inject": ("qusi_lab.data.injection", "inject"),
    "make_injected_dataset": ("qusi_lab.data.injection", "make_injected_dataset"),
    "train": ("qusi_lab.training", "train"),
    "evaluate": ("qusi_lab.training", "evaluate"),
    "load": ("qusi_lab.models.bundle", "load"),
    "save_bundle": ("qusi_lab.models.bundle", "save_bundle"),
    "Model": ("qusi_lab.models.trained", "Model"),
    "TrainingResult": ("qusi_lab.training", "TrainingResult"),
    "EvaluationResult": ("qusi_lab.training", "EvaluationResult"),
    "infer": ("qusi_lab.inference", "infer"),
    "CandidateTable": ("qusi_lab.inference", "CandidateTable"),
    "save_candidates": ("qusi_lab.inference", "save_candidates"),
    "read_candidates": ("qusi_lab.inference", "read_candidates"),
    "saliency": ("qusi_lab.inference", "saliency"),
    "search_period": ("qusi_lab.inference", "search_period"),
    "search_heartbeat": ("qusi_lab.inference", "search_heartbeat"),
    "heartbeat_features": ("qusi_lab.inference", "heartbeat_features"),
    "VettingPanel": ("qusi_lab.vetting.panel", "VettingPanel"),
    "AugmentationTuner": ("qusi_lab.widgets.tuner", "AugmentationTuner"),
    "DatasetBrowser": ("qusi_lab.widgets.browser", "DatasetBrowser"),
    "VerdictStore": ("qusi_lab.vetting.store", "VerdictStore"),
    "read_verdicts": ("qusi_lab.vetting.store", "read_verdicts"),
}

__all__ = [
    "__version__",
    "LightCurve",
    "LightCurveDataset",
    "read_light_curve",
    "write_spoc_fits",
    "write_csv",
    "write_npz",
    "find_light_curve_files",
    "split_by_target",
    "Pipeline",
    "DEFAULT_INPUT_LENGTH",
    "default_preprocessing",
    "heartbeat_preprocessing",
    "default_augmentation",
    "make_pipeline",
    "QusiLabError",
    "LightCurveError",
    "LightCurveReadError",
    "LabelError",
    *_SUBMODULES,
    *_LAZY_NAMES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"qusi_lab.{name}")
    if name in _LAZY_NAMES:
        module, attribute = _LAZY_NAMES[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'qusi_lab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
