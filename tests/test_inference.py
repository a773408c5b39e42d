"""Inference: every curve once, ranking, problems, tables on disk, BLS periods, saliency, all tasks.

The model used here is really trained (a few seconds): a Hadryss network that tells light curves with
periodic box-shaped dips from flat ones, saved as a bundle and loaded back, as a user would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from qusi_lab import LightCurve
from qusi_lab.data import LightCurveDataset
from qusi_lab.inference import (
    CandidateTable,
    InferenceError,
    infer,
    read_candidates,
    saliency,
    save_candidates,
    search_period,
)
from qusi_lab.io import read_light_curve, write_spoc_fits
from qusi_lab.transforms import default_preprocessing

INPUT_LENGTH = 256
SPAN_DAYS = 10.0
CADENCES = 2048
DURATION = 0.15  # days
DEPTH = 0.006


def transit_mask(time: np.ndarray, period: float, epoch: float) -> np.ndarray:
    return np.abs((time - epoch + 0.5 * period) % period - 0.5 * period) < DURATION / 2


def make_curve(seed: int, planet: bool, period: float | None = None) -> tuple[LightCurve, dict]:
    """A 10-day curve of white noise, with a box-shaped transit train when ``planet``."""
    rng = np.random.default_rng(seed)
    time = 1325.0 + np.arange(CADENCES) * (SPAN_DAYS / CADENCES)
    flux = 1000.0 * (1 + rng.normal(0, 1e-3, time.size))
    truth: dict = {}
    if planet:
        period = float(rng.uniform(1.5, 4.0)) if period is None else period
        epoch = float(time[0] + rng.uniform(0.2, period))
        flux[transit_mask(time, period, epoch)] *= 1 - DEPTH
        truth = {"period": period, "epoch": epoch}
    return LightCurve(time, flux, target_id=f"TIC {1000 + seed}", mission="TESS", sector=1), truth


@pytest.fixture(scope="module")
def bundle_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train a small transit detector for real and save it as a bundle."""
    from qusi_lab.models import model_for_task
    from qusi_lab.training import train

    curves, labels = [], []
    for seed in range(240):
        curve, _ = make_curve(seed, planet=seed % 2 == 1)
        curves.append(curve)
        labels.append("positive" if seed % 2 else "negative")
    dataset = LightCurveDataset.from_light_curves(
        curves, labels, preprocessing=default_preprocessing(INPUT_LENGTH), augmentation=False)
    train_set, validation_set = dataset.split((0.8, 0.2), seed=0)
    torch.manual_seed(0)
    model = model_for_task("hadryss", INPUT_LENGTH, "binary")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small batches: one thread is fastest, and immune to busy cores
    try:
        result = train(model, train_set, validation_set, max_steps=120, batch_size=32, validation_every=60,
                       learning_rate=3e-3, progress=False)
    finally:
        torch.set_num_threads(threads)
    assert result.best_metrics["auc_roc"] > 0.95
    return result.save(tmp_path_factory.mktemp("model") / "transits")


@pytest.fixture(scope="module")
def model(bundle_folder: Path) -> torch.nn.Module:
    from qusi_lab.training import load

    return load(bundle_folder)


@pytest.fixture(scope="module")
def sector(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """40 SPOC FITS files (20 with transits), one in a sub-folder, and one broken file."""
    root = tmp_path_factory.mktemp("sector")
    truth = {}
    for seed in range(40):
        curve, injected = make_curve(500 + seed, planet=seed < 20, period=2.5 if seed < 20 else None)
        folder = root / ("camera_2" if seed == 7 else "camera_1")
        path = write_spoc_fits(LightCurve(curve.time, curve.flux), folder / f"tic_{1000 + seed}_s01_lc.fits",
                               tic_id=1000 + seed, sector=1)
        truth[str(path)] = injected
    broken = root / "camera_1" / "tic_9999_s01_lc.fits"
    broken.write_bytes(b"SIMPLE  =                    T" + b" " * 50)  # a FITS header cut short
    return {"root": root, "truth": truth, "broken": str(broken)}


def test_every_curve_exactly_once_with_two_workers(model, sector):
    table = infer(model, sector["root"], num_workers=2, batch_size=8, period_search=False, progress=False)
    assert isinstance(table, CandidateTable) and isinstance(table, pd.DataFrame)
    assert len(table) == 40
    assert table["path"].is_unique
    assert set(table["path"]) == set(sector["truth"])
    assert table.attrs["light_curves"] == 41 and table.attrs["scored"] == 40
    # The broken file is skipped, named, and never fatal.
    problems = table.problems
    assert list(problems["path"]) == [sector["broken"]]
    assert problems["stage"].iloc[0] == "load"
    assert "FITS" in problems["error"].iloc[0] or "truncated" in problems["error"].iloc[0]


def test_same_table_with_and_without_workers(model, sector):
    serial = infer(model, sector["root"], num_workers=0, period_search=False, progress=False)
    parallel = infer(model, sector["root"], num_workers=2, batch_size=4, period_search=False, progress=False)
    pd.testing.assert_frame_equal(serial, parallel)


def test_ranking_puts_transits_first(model, sector):
    table = infer(model, sector["root"], num_workers=0, period_search=False, progress=False)
    assert table["rank"].tolist() == list(range(1, 41))
    assert table["score"].is_monotonic_decreasing
    assert table["score"].between(0, 1).all()
    has_transit = table["path"].map(lambda path: bool(sector["truth"][path]))
    assert has_transit.iloc[:20].mean() >= 0.9
    assert table["target_id"].iloc[0].startswith("TIC ")
    assert set(table["mission"]) == {"TESS"} and set(table["sector"]) == {1}
    assert table.attrs["task"] == "binary" and table.attrs["positive_class"] == "positive"


def test_scores_use_the_bundle_preprocessing(model, sector):
    """The dataset's own (different) preprocessing is ignored: inputs are made as in training."""
    paths = sorted(sector["truth"])
    other = LightCurveDataset(paths, preprocessing=default_preprocessing(64))
    table = infer(model, other, period_search=False, progress=False).set_index("path")
    assert len(table) == len(paths)
    path = paths[3]
    x = model.preprocessing.to_array(read_light_curve(path))
    with torch.inference_mode():
        expected = torch.sigmoid(model(torch.from_numpy(x)[None]))[0, 0].item()
    assert table.loc[path, "score"] == pytest.approx(expected, abs=1e-4)


def test_labelled_dataset_and_light_curves_in_memory(model):
    curves = [make_curve(900 + seed, planet=seed % 2 == 0)[0] for seed in range(6)]
    labels = ["positive" if seed % 2 == 0 else "negative" for seed in range(6)]
    dataset = LightCurveDataset.from_light_curves(curves, labels, preprocessing=default_preprocessing(INPUT_LENGTH))
    table = infer(model, dataset, period_search=False, progress=False)
    assert sorted(table["label"]) == sorted(labels)
    assert table.iloc[0]["label"] == "positive"
    in_memory = infer(model, curves, period_search=False, progress=False)
    assert sorted(in_memory["score"]) == pytest.approx(sorted(table["score"]))
    assert "label" not in in_memory


def test_period_search_on_top_candidates(model, sector):
    table = infer(model, sector["root"], period_search_top=5, progress=False)
    searched = table["period"].notna()
    assert searched.sum() == 5 and searched.iloc[:5].all()
    for _, row in table.iloc[:5].iterrows():
        truth = sector["truth"][row["path"]]
        if truth:  # a transit host: the period is right within 1 %
            assert row["period"] == pytest.approx(truth["period"], rel=0.01)
            assert row["depth_ppm"] == pytest.approx(DEPTH * 1e6, rel=0.35)
            assert row["transit_count"] >= 3
    assert table.attrs["period_search"]["searched"] == 5


def test_bls_recovers_the_period_of_a_clear_transit():
    from qusi_lab.synthetic import synthetic_light_curve

    for seed, period in ((1, 3.7), (2, 8.3)):
        lc = synthetic_light_curve("planet", seed=seed, parameters={"period": period, "radius_ratio": 0.08})
        injected = lc.meta["truth"]
        result = search_period(lc)
        assert result.period == pytest.approx(period, rel=0.01)
        # The epoch is a transit time of the injected ephemeris.
        phase = (result.epoch - injected["epoch"]) / injected["period"]
        assert abs(phase - round(phase)) * injected["period"] < result.duration
        assert result.duration * 24 == pytest.approx(injected["duration_hours"], rel=0.6)


def test_bls_rejects_a_curve_too_short_for_two_transits():
    from qusi_lab.errors import LightCurveError

    time = np.linspace(0, 0.8, 500)
    with pytest.raises(LightCurveError, match="two transits"):
        search_period(LightCurve(time, np.ones_like(time) + np.random.default_rng(0).normal(0, 1e-3, 500)))


def test_csv_and_parquet_round_trip(model, sector, tmp_path):
    table = infer(model, sector["root"], period_search_top=3, progress=False)
    csv = save_candidates(table, tmp_path / "candidates.csv")
    assert (tmp_path / "candidates.meta.json").is_file()
    assert len(pd.read_csv(csv)) == 40  # plain CSV for any program
    parquet = save_candidates(table, tmp_path / "candidates.parquet")
    for path, check_dtype in ((csv, False), (parquet, True)):
        back = read_candidates(path)
        assert isinstance(back, CandidateTable)
        pd.testing.assert_frame_equal(back, table, check_dtype=check_dtype)
        assert back.attrs["model"] == table.attrs["model"]
        assert back.attrs["problems"] == table.attrs["problems"]
        assert len(back.problems) == 1
    with pytest.raises(ValueError, match="csv or .parquet"):
        save_candidates(table, tmp_path / "candidates.xlsx")


def test_saliency_peaks_at_the_dips(model):
    curve, truth = make_curve(4242, planet=True, period=3.1)
    time, values = saliency(model, curve, return_time=True)
    assert values.shape == (INPUT_LENGTH,) and time.shape == (INPUT_LENGTH,)
    in_transit = transit_mask(time, truth["period"], truth["epoch"])
    assert in_transit[np.argmax(values)]
    top = np.argsort(values)[-10:]  # the ten cadences that raised the score most
    assert in_transit[top].mean() >= 0.8, in_transit[top]
    assert np.abs(values[in_transit]).mean() > 5 * np.abs(values[~in_transit]).mean()
    gradients = saliency(model, curve, method="integrated_gradients", steps=16)
    assert in_transit[np.argmax(gradients)]
    assert gradients[in_transit].sum() > gradients[~in_transit].sum()


def test_saliency_rejects_an_unknown_method(model):
    with pytest.raises(ValueError, match="unknown saliency method"):
        saliency(model, np.zeros(INPUT_LENGTH), method="magic")


def _bundle(tmp_path: Path, task: str, n_outputs: int, **extra) -> Any:
    from qusi_lab.models import Hadryss
    from qusi_lab.training import load, save_bundle

    torch.manual_seed(1)
    network = Hadryss(input_length=INPUT_LENGTH, n_outputs=n_outputs)
    folder = save_bundle(network, tmp_path / task, task=task, preprocessing=default_preprocessing(INPUT_LENGTH),
                         **extra)
    return load(folder)


def test_multiclass_table(tmp_path, sector):
    model = _bundle(tmp_path, "multiclass", 3, label_names=["eclipsing", "planet", "quiet"])
    table = infer(model, sector["root"], period_search=False, progress=False)
    columns = ["score_eclipsing", "score_planet", "score_quiet"]
    assert set(columns) <= set(table.columns)
    assert np.allclose(table[columns].sum(axis=1), 1.0, atol=1e-5)
    assert (table["predicted"] == table[columns].idxmax(axis=1).str.removeprefix("score_")).all()
    assert table["score"].is_monotonic_decreasing
    assert np.allclose(table["score"], table[columns].max(axis=1))
    ranked = infer(model, sector["root"], rank_by="planet", period_search=False, progress=False)
    assert np.allclose(ranked["score"], ranked["score_planet"]) and ranked["score"].is_monotonic_decreasing
    assert ranked.attrs["score"] == "probability of class 'planet'"


def test_regression_table(tmp_path, sector):
    model = _bundle(tmp_path, "regression", 1, target_scaler={"mean": 10.0, "std": 2.0})
    table = infer(model, sector["root"], period_search="auto", progress=False)
    assert "period" not in table  # "auto" searches periods for classifiers only
    assert (table["prediction"] == table["score"]).all() and table["score"].is_monotonic_decreasing
    path = table["path"].iloc[0]
    x = model.preprocessing.to_array(read_light_curve(path))
    with torch.inference_mode():
        raw = model(torch.from_numpy(x)[None])[0, 0].item()
    assert table["prediction"].iloc[0] == pytest.approx(raw * 2.0 + 10.0, abs=1e-3)


def test_clear_errors_for_missing_or_empty_data(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        infer(model, tmp_path / "nowhere", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InferenceError, match="no light-curve files"):
        infer(model, tmp_path / "empty", progress=False)


def test_all_files_bad_gives_an_empty_table_not_an_error(model, sector, tmp_path):
    table = infer(model, [sector["broken"]], period_search=True, progress=False)
    assert len(table) == 0 and "score" in table and len(table.problems) == 1
    with pytest.raises(TypeError, match="unknown period_search_options"):
        infer(model, [sector["broken"]], period_search_options={"minimum_periods": 1.0}, progress=False)
