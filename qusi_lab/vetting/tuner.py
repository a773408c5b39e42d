"""Deprecated: the augmentation tuner moved to :mod:`qusi_lab.widgets.tuner` (it is a notebook widget, not
vetting). The old names keep working with a ``DeprecationWarning`` until 0.2.
"""

from __future__ import annotations

from qusi_lab._deprecation import moved_names

__getattr__ = moved_names(__name__, {
    **dict.fromkeys(("AugmentationTuner", "ParameterSpec", "PARAMETER_SPECS"), "qusi_lab.widgets.tuner"),
    "PROBABILITY_SPEC": "qusi_lab.widgets._controls",
})
