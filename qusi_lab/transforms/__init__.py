"""Light-curve transforms: preprocessing, augmentation and the :class:`Pipeline` that chains them.

Print the defaults to see every parameter, edit one, save the result::

    >>> from qusi_lab.transforms import default_augmentation, default_preprocessing, make_pipeline
    >>> pipeline = make_pipeline(default_preprocessing(), default_augmentation())
    >>> pipeline.set_params("AddNoise", std=0.3)[9]
    AddNoise(std=0.3, units='mad', probability=0.5)

The network input is ``pipeline.to_array(lc, rng)``: float32, ``DEFAULT_INPUT_LENGTH``
(2048) values, all finite, covering the whole light curve (see
:mod:`qusi_lab.transforms.preprocessing` for why binning rather than cropping).
"""

from __future__ import annotations

from qusi_lab.transforms.augmentation import (
    AddNoise,
    CadenceDropout,
    Flip,
    RandomGaps,
    RandomRoll,
    ScaleFlux,
    TimeStretch,
    default_augmentation,
)
from qusi_lab.transforms.base import (
    Augmentation,
    Transform,
    register_transform,
    registered_transforms,
    transform_from_dict,
)
from qusi_lab.transforms.pipeline import Pipeline, make_pipeline
from qusi_lab.transforms.preprocessing import (
    DEFAULT_INPUT_LENGTH,
    MIN_VALID_CADENCES,
    AsinhStretch,
    BinToLength,
    CropOrPad,
    Detrend,
    FillGaps,
    Normalize,
    RemoveNonFinite,
    default_preprocessing,
    heartbeat_preprocessing,
)

__all__ = [
    "DEFAULT_INPUT_LENGTH",
    "MIN_VALID_CADENCES",
    "Transform",
    "Augmentation",
    "register_transform",
    "registered_transforms",
    "transform_from_dict",
    "Pipeline",
    "make_pipeline",
    "default_preprocessing",
    "heartbeat_preprocessing",
    "default_augmentation",
    "RemoveNonFinite",
    "BinToLength",
    "Normalize",
    "Detrend",
    "AsinhStretch",
    "CropOrPad",
    "FillGaps",
    "RandomRoll",
    "Flip",
    "AddNoise",
    "ScaleFlux",
    "CadenceDropout",
    "RandomGaps",
    "TimeStretch",
]
