"""Facts defined once, in leaf modules, and still found where they always were."""

from __future__ import annotations

import inspect

import qusi_lab as ql
from qusi_lab import _version, defaults, io, transforms
from qusi_lab.io import _columns, fits
from qusi_lab.models import AstronetGlobalLocal, Hadryss, ResNet1D, TransformerClassifier
from qusi_lab.training import metrics
from qusi_lab.transforms import preprocessing


def test_version_is_defined_once_and_the_package_face_shows_it() -> None:
    assert ql.__version__ is _version.__version__


def test_input_length_is_defined_once_and_every_old_place_gives_it() -> None:
    assert defaults.DEFAULT_INPUT_LENGTH == 2048
    for place in (ql, transforms, preprocessing):
        assert place.DEFAULT_INPUT_LENGTH is defaults.DEFAULT_INPUT_LENGTH
    assert preprocessing.BinToLength().length == defaults.DEFAULT_INPUT_LENGTH
    for architecture in (Hadryss, AstronetGlobalLocal, ResNet1D, TransformerClassifier):
        default = inspect.signature(architecture.__init__).parameters["input_length"].default
        assert default == defaults.DEFAULT_INPUT_LENGTH, architecture


def test_flux_column_and_decision_threshold_are_defined_once() -> None:
    assert fits.DEFAULT_FLUX_COLUMN is _columns.DEFAULT_FLUX_COLUMN is defaults.DEFAULT_FLUX_COLUMN
    assert inspect.signature(io.read_light_curve).parameters["flux_column"].default == "pdcsap_flux"
    for function in (metrics.accuracy, metrics.precision, metrics.recall, metrics.f1_score):
        assert inspect.signature(function).parameters["threshold"].default == defaults.DEFAULT_THRESHOLD == 0.5
    assert metrics.accuracy([0.5, 0.49], [1, 0]) == 1.0  # a score equal to the threshold is positive
