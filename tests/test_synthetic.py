"""The synthetic TESS sector: real files, opened by lightkurve and qusi_lab, checked against the truth table.

Sectors of 30-40 stars keep this file fast; the 1,000-star timing lives in benchmarks/bench_synthetic.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import lightkurve as lk
import numpy as np
import pytest
from astropy.io import fits

import qusi_lab.synthetic as synthetic
from qusi_lab.io import read_light_curve
from qusi_lab.signals import signal
from qusi_lab.synthetic import (
    DEFAULT_MIX,
    DEFAULT_SNR_RANGE,
    QualityFlags,
    load_truth,
    make_sector,
    matched_filter_snr,
    sector_timeline,
    synthetic_light_curve,
    tess_flux_from_magnitude,
    tess_noise_ppm,
)

N_STARS = 40
N_EXPERIMENT = 30


@pytest.fixture(scope="module")
def sector(tmp_path_factory: pytest.TempPathFactory) -> synthetic.SectorResult:
    return make_sector(tmp_path_factory.mktemp("sector"), n_stars=N_STARS, seed=11, num_workers=1)


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> synthetic.SectorResult:
    return make_sector(tmp_path_factory.mktemp("experiment"), n_stars=N_EXPERIMENT, seed=5, experiment=True)


def raw_columns(path: Path) -> dict[str, np.ndarray]:
    with fits.open(path) as hdul:
        data = hdul[1].data
        return {name: np.array(data[name]) for name in ("TIME", "SAP_FLUX", "PDCSAP_FLUX", "QUALITY")}


def robust_scatter(flux: np.ndarray) -> float:
    """Point-to-point scatter (white noise), insensitive to slow variability and to a few outliers."""
    differences = np.diff(flux[np.isfinite(flux)])
    return float(1.4826 * np.median(np.abs(differences - np.median(differences))) / np.sqrt(2))


def test_files_open_with_lightkurve_and_qusi_lab(sector: synthetic.SectorResult) -> None:
    truth = sector.truth
    assert len(sector.paths) == N_STARS and all(path.exists() for path in sector.paths)
    for _, row in truth.iloc[:6].iterrows():
        path = sector.directory / row["path"]
        lk_curve = lk.read(path)
        assert int(lk_curve.meta["TICID"]) == row["tic_id"]
        assert lk_curve.meta["SECTOR"] == 1
        assert str(lk_curve.flux.unit) == "electron / s"
        ours = read_light_curve(path)
        assert ours.target_id == row["target_id"]
        assert ours.meta["magnitude"] == pytest.approx(row["tess_mag"])
        # lightkurve and qusi_lab keep the same cadences with the default quality mask.
        np.testing.assert_allclose(ours.time, lk_curve.time.value)
        # PDCSAP flux in e-/s follows the magnitude (15,000 e-/s at T = 10).
        if row["label"] == "quiet":
            assert np.nanmedian(ours.flux) == pytest.approx(tess_flux_from_magnitude(row["tess_mag"]), rel=0.05)


def test_cadence_start_length_and_downlink_gap(sector: synthetic.SectorResult) -> None:
    lc = read_light_curve(sector.paths[0])
    steps = np.diff(lc.time)
    assert np.median(steps) * 1440 == pytest.approx(2.0, abs=1e-6)
    assert lc.time[0] == pytest.approx(1325.3, abs=0.1)
    assert lc.time[-1] - lc.time[0] == pytest.approx(27.4, abs=0.2)
    # One ~1-day downlink gap near mid-sector; every other jump is a few flagged cadences at most.
    big = steps > 0.5
    assert big.sum() == 1
    assert 0.9 <= steps[big][0] <= 1.25
    assert abs(lc.time[:-1][big][0] - (lc.time[0] + 13.7)) < 1.0
    # The file itself keeps the gap rows, with NaN times, as early SPOC products did.
    columns = raw_columns(sector.paths[0])
    assert np.isnan(columns["TIME"]).sum() > 600


def test_momentum_dumps_are_flagged_and_masked_by_default(sector: synthetic.SectorResult) -> None:
    path = sector.paths[1]
    columns = raw_columns(path)
    desat = (columns["QUALITY"] & QualityFlags.DESAT) != 0
    dump_times = columns["TIME"][desat]
    # Group flagged cadences into events: one every ~2.5-3.1 days.
    events = dump_times[np.insert(np.diff(dump_times) > 0.1, 0, True)]
    assert 8 <= events.size <= 12
    spacing = np.diff(events)
    within_orbit = spacing[spacing < 3.5]
    assert within_orbit.size >= 6 and np.all((within_orbit > 2.4) & (within_orbit < 3.2))
    # Scattered-light, Argabrightening and manual-exclude bits appear on a few cadences too.
    for bit in (QualityFlags.STRAYLIGHT, QualityFlags.ARGABRIGHTENING, QualityFlags.MANUAL_EXCLUDE):
        assert 0 < ((columns["QUALITY"] & bit) != 0).sum() < 0.1 * columns["QUALITY"].size
    # Default reads drop the desaturation cadences, "none" keeps them.
    kept = lk.read(path)
    assert not np.any(kept.quality.value & QualityFlags.DESAT)
    everything = lk.read(path, quality_bitmask="none")
    assert np.sum((everything.quality.value & QualityFlags.DESAT) != 0) == desat.sum()
    ours = read_light_curve(path)
    assert not np.isin(ours.time, dump_times).any()
    # PDC leaves the desaturation cadences empty; SAP keeps them.
    assert np.isfinite(columns["SAP_FLUX"][desat]).all()
    assert np.isnan(columns["PDCSAP_FLUX"][desat]).all()


def test_sap_flux_keeps_the_systematics_that_pdcsap_removes(sector: synthetic.SectorResult) -> None:
    ratios = []
    for relative in sector.truth.loc[sector.truth["label"] == "quiet", "path"]:
        # Half-day bins average the white noise away and leave the trends.
        sap = read_light_curve(sector.directory / relative, flux_column="sap_flux").normalize().bin(time_bin_size=0.5)
        pdcsap = read_light_curve(sector.directory / relative).normalize().bin(time_bin_size=0.5)
        ratios.append(np.nanstd(sap.flux) / np.nanstd(pdcsap.flux))
    assert np.median(ratios) > 2


def test_noise_scales_with_magnitude_as_the_noise_model(sector: synthetic.SectorResult) -> None:
    quiet = sector.truth[sector.truth["label"] == "quiet"]
    magnitudes, measured = [], []
    for _, row in quiet.iterrows():
        lc = read_light_curve(sector.directory / row["path"]).normalize()
        scatter = robust_scatter(lc.flux) * 1e6
        expected = tess_noise_ppm(row["tess_mag"], cadence_minutes=2.0)
        # Scattered light raises the noise at orbit ends; the bulk follows the model.
        assert scatter == pytest.approx(expected, rel=0.2), row["path"]
        magnitudes.append(row["tess_mag"])
        measured.append(scatter)
    order = np.argsort(magnitudes)
    brightest, faintest = np.array(measured)[order[:3]], np.array(measured)[order[-3:]]
    assert faintest.mean() > 2 * brightest.mean()
    # The model itself: ~94 ppm in an hour at T = 8, thousands of ppm at T = 15 (Stassun et al. 2018).
    assert tess_noise_ppm(8.0) == pytest.approx(94, rel=0.02)
    assert 4000 < tess_noise_ppm(15.0) < 6000


def test_labels_and_truth_table_match_the_files(sector: synthetic.SectorResult) -> None:
    truth = load_truth(sector.directory)
    assert len(truth) == N_STARS
    counts = truth["label"].value_counts().to_dict()
    assert counts == {kind: round(fraction * N_STARS) for kind, fraction in DEFAULT_MIX.items()}
    assert truth["tic_id"].is_unique
    expected_kind = {"planet": "transit", "eclipsing_binary": "eclipsing_binary", "heartbeat": "heartbeat",
                     "flare": "flare", "quiet": "none"}
    for _, row in truth.iterrows():
        assert row["kind"] == expected_kind[row["label"]]
        with fits.open(row["absolute_path"]) as hdul:
            assert hdul[0].header["TICID"] == row["tic_id"]
            assert hdul[0].header["TESSMAG"] == pytest.approx(row["tess_mag"])
        injected = row["parameters"]["signals"]
        assert (len(injected) > 0) == (row["label"] != "quiet")
        # The star's own signal first; a physical heartbeat star may add its eclipses and tidally
        # excited oscillations (sinusoids at harmonics of the orbit).
        assert not injected or injected[0]["kind"] == row["kind"]
        extra = {"eclipsing_binary", "sinusoidal"} if row["kind"] == "heartbeat" else {row["kind"]}
        assert all(item["kind"] in extra for item in injected[1:])


def test_planets_have_two_transits_with_the_injected_depth(sector: synthetic.SectorResult) -> None:
    truth = load_truth(sector.directory)
    planets = truth[truth["label"] == "planet"]
    assert len(planets) == 8
    assert (planets["n_events"] >= 2).all() and (planets["period"] <= 12).all()
    # Signal-to-noise ratios run from marginal to obvious.
    assert planets["snr"].min() < 15 and planets["snr"].max() > 30
    checked = 0
    for _, row in planets.iterrows():
        lc = read_light_curve(row["absolute_path"]).normalize()
        parameters = dict(row["parameters"]["signals"][0])
        model = signal(parameters.pop("kind"), lc.time, **parameters)
        # Replaying the recorded parameters gives the recorded depth at the epoch.
        at_epoch = signal("transit", np.array([row["epoch"]]), **parameters)[0]
        assert 1 - at_epoch == pytest.approx(row["depth"], rel=1e-6)
        in_transit = model < 1 - 0.5 * row["depth"]
        transits_seen = np.unique(np.round((lc.time[in_transit] - row["epoch"]) / row["period"]))
        assert transits_seen.size >= 2
        if row["snr"] < 20:
            continue
        # Measured depth: in-transit flux against the flux just around each transit.
        half = row["duration_hours"] / 24
        phase = (lc.time - row["epoch"] + 0.5 * row["period"]) % row["period"] - 0.5 * row["period"]
        near = (np.abs(phase) < 2 * half) & ~in_transit
        measured = np.median(lc.flux[near]) - np.mean(lc.flux[in_transit])
        expected = np.mean(1 - model[in_transit])
        error = robust_scatter(lc.flux) / np.sqrt(in_transit.sum())
        assert measured == pytest.approx(expected, abs=5 * error + 0.25 * expected), row["path"]
        checked += 1
    assert checked >= 2


def test_matched_filter_snr_equals_the_dense_calculation_in_white_and_red_noise() -> None:
    rng = np.random.default_rng(2)
    time = np.sort(rng.uniform(0.0, 5.0, 300))  # an uneven grid
    signal_values = rng.normal(0.0, 1e-3, time.size)
    white = rng.uniform(5e-4, 2e-3, time.size)
    covariance = np.diag(white**2) + (3e-4) ** 2 * np.exp(-np.abs(time[:, None] - time[None, :]) / 0.3)
    dense = float(np.sqrt(signal_values @ np.linalg.solve(covariance, signal_values)))
    assert matched_filter_snr(signal_values, time, white, 3e-4, 0.3) == pytest.approx(dense, rel=1e-9)
    # White noise alone: the familiar sqrt(sum(s^2)) / sigma; red noise lowers it.
    simple = float(np.sqrt(np.sum(signal_values**2)) / 1e-3)
    assert matched_filter_snr(signal_values, time, 1e-3) == pytest.approx(simple)
    assert matched_filter_snr(signal_values, time, 1e-3, 3e-4, 0.3) < simple


def test_planets_and_heartbeats_get_the_signal_to_noise_ratio_asked_for(sector: synthetic.SectorResult) -> None:
    truth = load_truth(sector.directory)
    sized = truth[truth["label"].isin(["planet", "heartbeat"])]
    low, high = DEFAULT_SNR_RANGE
    assert low == 7.0 and ((sized["snr"] > 0.97 * low) & (sized["snr"] < 1.03 * high)).all()
    # The same star asked for half the SNR gets half the depth (and the same orbit).
    bright = synthetic_light_curve("planet", seed=4, snr_range=(20.0, 20.0))
    faint = synthetic_light_curve("planet", seed=4, snr_range=(10.0, 10.0))
    assert bright.meta["truth"]["snr"] == pytest.approx(20.0, rel=0.02)
    assert faint.meta["truth"]["snr"] == pytest.approx(10.0, rel=0.02)
    assert faint.meta["truth"]["depth"] == pytest.approx(0.5 * bright.meta["truth"]["depth"], rel=0.1)
    assert faint.meta["truth"]["period"] == bright.meta["truth"]["period"]
    with pytest.raises(ValueError, match="snr_range"):
        synthetic_light_curve("planet", snr_range=(10.0, 5.0))


def test_same_seed_gives_identical_arrays_whatever_the_workers(tmp_path: Path) -> None:
    one = make_sector(tmp_path / "one", n_stars=6, seed=3, num_workers=1)
    two = make_sector(tmp_path / "two", n_stars=6, seed=3, num_workers=2, chunk_size=2)
    assert two.num_workers == 2
    assert list(one.truth["path"]) == list(two.truth["path"])
    assert one.truth.drop(columns=[]).equals(two.truth)
    for first, second in zip(one.paths, two.paths, strict=True):
        a, b = raw_columns(first), raw_columns(second)
        for name in a:
            assert a[name].tobytes() == b[name].tobytes(), (first.name, name)
    other = make_sector(tmp_path / "other", n_stars=6, seed=4, num_workers=1)
    assert set(other.truth["tic_id"]).isdisjoint(one.truth["tic_id"])


def test_experiment_layout_splits_by_star_and_loads(experiment: synthetic.SectorResult) -> None:
    from qusi_lab.data import LightCurveDataset

    root = experiment.experiment_directory
    assert root is not None and root.name == "spoc_transit_experiment"
    truth = experiment.truth
    for _, row in truth.iterrows():
        parts = Path(row["path"]).parts
        assert parts[:3] == ("spoc_transit_experiment", row["split"], row["class"])
        assert (row["class"] == "positive") == (row["label"] == "planet")
    # Every split has both classes; no star is in two splits.
    assert truth.groupby("split")["class"].nunique().to_dict() == {"train": 2, "validation": 2, "test": 2}
    assert truth.groupby("tic_id")["split"].nunique().max() == 1
    assert (truth["split"] == "train").sum() == pytest.approx(0.8 * N_EXPERIMENT, abs=2)

    # A second sector of the same stars keeps each star in its split (no leakage across sectors).
    second = make_sector(experiment.directory, n_stars=N_EXPERIMENT, seed=5, sector=2, experiment=True)
    merged = load_truth(experiment.directory)
    assert set(merged["sector"]) == {1, 2}
    assert set(second.truth["tic_id"]) == set(truth["tic_id"])
    assert merged.groupby("tic_id")["split"].nunique().max() == 1

    datasets = LightCurveDataset.from_experiment(root, input_length=256)
    train = datasets["train"]
    assert len(train) == (merged["split"] == "train").sum()
    assert train.task == "binary"
    assert dict(zip(train.label_names, train.class_counts(), strict=True)) == {
        "negative": int(((merged["split"] == "train") & (merged["class"] == "negative")).sum()),
        "positive": int(((merged["split"] == "train") & (merged["class"] == "positive")).sum()),
    }
    x, y = train[0]
    assert tuple(x.shape) == (256,) and bool(np.isfinite(x.numpy()).all())


def test_heartbeat_experiment_and_regeneration_removes_stale_files(tmp_path: Path) -> None:
    first = make_sector(tmp_path, n_stars=20, seed=2, experiment=True, positive_kinds=("heartbeat",),
                        mix={"heartbeat": 0.5, "quiet": 0.5}, num_workers=1)
    assert first.experiment_directory == tmp_path / "spoc_heartbeat_experiment"
    positives = first.truth[first.truth["class"] == "positive"]
    assert (positives["label"] == "heartbeat").all() and len(positives) == 10
    # Making the sector again with other splits leaves no file of the old layout behind.
    again = make_sector(tmp_path, n_stars=20, seed=2, experiment=True, positive_kinds=("heartbeat",),
                        mix={"heartbeat": 0.5, "quiet": 0.5}, split_fractions=(0.5, 0.25, 0.25), num_workers=1)
    on_disk = sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*.fits"))
    assert on_disk == sorted(again.truth["path"])
    assert len(load_truth(tmp_path)) == 20
    text = repr(again)
    assert "20 stars" in text and "heartbeat 10" in text and "train" in text


def test_synthetic_light_curve_in_memory() -> None:
    lc = synthetic_light_curve("planet", seed=2, tess_mag=9.0, parameters={"period": 3.0, "radius_ratio": 0.08})
    assert lc.meta["mission"] == "TESS" and lc.meta["label"] == "planet"
    assert lc.meta["injected"]["kind"] == "transit"
    assert lc.meta["injected"]["period"] == 3.0 and lc.meta["injected"]["radius_ratio"] == 0.08
    assert np.isfinite(lc.time).all() and np.isfinite(lc.flux).all()
    # The same star written to disk and read back: identical to the in-memory version.
    everything = synthetic_light_curve("planet", seed=2, tess_mag=9.0, quality_bitmask="none",
                                  parameters={"period": 3.0, "radius_ratio": 0.08})
    assert np.isnan(everything.time).sum() > 600 and len(everything) == sector_timeline(1).time.size
    sap = synthetic_light_curve("quiet", seed=2, flux_column="sap_flux")
    pdc = synthetic_light_curve("quiet", seed=2)
    # SAP loses flux outside the aperture; PDCSAP is corrected back to the star's flux.
    assert np.median(sap.flux) < np.median(pdc.flux)
    assert synthetic_light_curve("quiet", seed=2).meta["injected"] == []
    with pytest.raises(ValueError, match="unknown kind"):
        synthetic_light_curve("supernova")


def test_bad_arguments_are_explained(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown kinds in mix"):
        make_sector(tmp_path, n_stars=2, mix={"planet": 0.5, "comet": 0.5})
    with pytest.raises(ValueError, match="positive_kinds"):
        make_sector(tmp_path, n_stars=2, experiment=True, positive_kinds=("comet",))
    with pytest.raises(ValueError, match="n_stars"):
        make_sector(tmp_path, n_stars=0)
    with pytest.raises(Exception, match="truth"):
        load_truth(tmp_path / "nothing")


def test_truth_parameters_are_json_with_every_signal(sector: synthetic.SectorResult) -> None:
    raw = (sector.directory / "truth.csv").read_text().splitlines()
    assert raw[0].startswith("path,tic_id,target_id,sector,tess_mag,label,kind,period,epoch,depth")
    truth = load_truth(sector.directory)
    flares = truth[truth["label"] == "flare"]
    for _, row in flares.iterrows():
        items = row["parameters"]["signals"]
        assert len(items) == row["n_events"] >= 2
        assert {"peak_time", "fwhm", "amplitude"} <= set(items[0])
    noise = truth.iloc[0]["parameters"]["noise"]
    assert noise["white_ppm_per_cadence"] == pytest.approx(truth.iloc[0]["noise_ppm"])
    json.dumps(truth.iloc[0]["parameters"])  # plain JSON types
