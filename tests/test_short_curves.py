"""Curves with nothing to score (1 or 2 cadences, constant or all-zero flux) are problems, never ranked.

The check is the first preprocessing step (:class:`RemoveNonFinite`), so training and inference,
which both run the model's preprocessing, refuse the same files with the same words.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from qusi_lab.data import LightCurveDataset
from qusi_lab.errors import LightCurveError
from qusi_lab.inference import infer
from qusi_lab.io import write_spoc_fits
from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms import RemoveNonFinite, Transform, default_preprocessing
from qusi_lab.transforms.preprocessing import MIN_VALID_CADENCES

INPUT_LENGTH = 128
TIME = 1325.0 + np.arange(500) * 2.0 / 1440.0
GOOD_FLUX = 1000.0 + np.random.default_rng(0).normal(0.0, 1.0, 500)

# file name, time, flux, expected fragment of the problem's message
BAD = [
    ("one_cadence.fits", TIME[:1], GOOD_FLUX[:1], "too few valid cadences: 1 (need at least 10"),
    ("two_cadences.fits", TIME[:2], GOOD_FLUX[:2], "too few valid cadences: 2 (need at least 10"),
    ("constant.fits", TIME, np.full(500, 1234.5), "flux is constant: every valid cadence is 1234.5"),
    ("all_zero.fits", TIME, np.zeros(500), "flux is constant: every valid cadence is 0 (all zero)"),
    ("nine_valid.fits", TIME[:20], np.r_[GOOD_FLUX[:9], np.full(11, np.nan)], "too few valid cadences: 9"),
]


def _tiny_untrained_model(folder: Path) -> torch.nn.Module:
    from qusi_lab.models import Hadryss
    from qusi_lab.training import load, save_bundle

    torch.manual_seed(0)
    network = Hadryss(input_length=INPUT_LENGTH, n_outputs=1)
    return load(save_bundle(network, folder, task="binary", preprocessing=default_preprocessing(INPUT_LENGTH)))


def test_inference_lists_meaningless_curves_as_problems_and_ranks_only_the_good_one(tmp_path: Path) -> None:
    data = tmp_path / "sector"
    good = write_spoc_fits(LightCurve(TIME, GOOD_FLUX, validate=False), data / "good.fits", tic_id=1, sector=1)
    for name, time, flux, _ in BAD:
        write_spoc_fits(LightCurve(time, flux, validate=False), data / name, tic_id=2, sector=1)
    model = _tiny_untrained_model(tmp_path / "model")
    table = infer(model, data, period_search=False, progress=False, num_workers=0)
    assert list(table["path"]) == [str(good)]
    problems = table.problems.set_index("path")
    assert sorted(problems.index) == sorted(str(data / name) for name, *_ in BAD)
    for name, _, _, fragment in BAD:
        assert fragment in problems.loc[str(data / name), "error"], problems.loc[str(data / name), "error"]
        assert problems.loc[str(data / name), "stage"] == "preprocess"


def test_training_dataset_refuses_the_same_curves_naming_them() -> None:
    good = LightCurve(TIME, GOOD_FLUX, path="good.fits")
    curves = [good] + [LightCurve(time, flux, path=name) for name, time, flux, _ in BAD]
    dataset = LightCurveDataset.from_light_curves(
        curves, ["positive", "negative"] * 3, preprocessing=default_preprocessing(INPUT_LENGTH), augmentation=False)
    assert dataset[0][0].shape == (INPUT_LENGTH,)
    for index, (name, _, _, fragment) in enumerate(BAD, start=1):
        with pytest.raises(LightCurveError) as caught:
            dataset[index]
        assert str(caught.value).startswith(f"{name}: ") and fragment in str(caught.value)
    # What a training run does first (and what its streams record while skipping): one problem per bad curve.
    problems = dataset.check()
    assert sorted(problems["path"]) == sorted(name for name, *_ in BAD)
    assert set(problems["stage"]) == {"preprocess"}


def test_the_minimum_and_the_constant_check_are_parameters_saved_with_the_pipeline() -> None:
    rng = np.random.default_rng(0)
    assert MIN_VALID_CADENCES == 10
    ten = LightCurve(np.arange(10.0), np.arange(10.0) % 3)
    assert len(RemoveNonFinite()(ten, rng)) == 10  # exactly the minimum is enough
    with pytest.raises(LightCurveError, match="too few valid cadences: 2"):
        RemoveNonFinite()(ten[:2], rng)
    assert len(RemoveNonFinite(min_cadences=1)(ten[:2], rng)) == 2
    flat = LightCurve(np.arange(20.0), np.ones(20))
    with pytest.raises(LightCurveError, match="flux is constant"):
        RemoveNonFinite()(flat, rng)
    assert len(RemoveNonFinite(allow_constant=True)(flat, rng)) == 20
    step = RemoveNonFinite(min_cadences=3, allow_constant=True)
    assert Transform.from_dict(step.to_dict()) == step
    # A pipeline saved before these parameters existed ({"name": "RemoveNonFinite"}) gets the checks.
    assert Transform.from_dict({"name": "RemoveNonFinite"}) == RemoveNonFinite()
    with pytest.raises(ValueError, match="min_cadences must be a positive integer"):
        RemoveNonFinite(min_cadences=0)
