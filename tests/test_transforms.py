"""Behaviour of qusi_lab.transforms: each preprocessing step, each augmentation, and Pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import MAD_TO_SIGMA, LightCurve
from qusi_lab.transforms import (
    DEFAULT_INPUT_LENGTH,
    AddNoise,
    AsinhStretch,
    Augmentation,
    BinToLength,
    CadenceDropout,
    CropOrPad,
    Detrend,
    FillGaps,
    Flip,
    Normalize,
    Pipeline,
    RandomGaps,
    RandomRoll,
    RemoveNonFinite,
    ScaleFlux,
    TimeStretch,
    Transform,
    default_augmentation,
    default_preprocessing,
    make_pipeline,
    register_transform,
    registered_transforms,
)

TWO_MINUTES = 2.0 / 1440.0


def tess_like(
    days: float = 27.0,
    *,
    seed: int = 0,
    noise: float = 1e-3,
    transit_at: float | None = None,
    depth: float = 0.01,
    duration: float = 0.2,
    gap: tuple[float, float] | None = (13.0, 14.0),
    with_errors: bool = True,
) -> LightCurve:
    """A 2-minute-cadence TESS-like curve in e-/s with an optional box transit and a downlink gap."""
    rng = np.random.default_rng(seed)
    time = 1325.0 + np.arange(0.0, days, TWO_MINUTES)
    flux = 1.0 + noise * rng.standard_normal(time.size)
    if transit_at is not None:
        flux[np.abs(time - 1325.0 - transit_at) < duration / 2] -= depth
    if gap is not None:
        keep = ~((time - 1325.0 >= gap[0]) & (time - 1325.0 < gap[1]))
        time, flux = time[keep], flux[keep]
    flux *= 5000.0
    flux[rng.random(flux.size) < 0.002] = np.nan  # scattered bad cadences
    flux_err = np.full(flux.size, 5.0) if with_errors else None
    return LightCurve(time, flux, flux_err, target_id="TIC 1", mission="TESS", sector=1, path="tic1_s1.fits")


def uniform(flux: np.ndarray | list[float], flux_err: np.ndarray | None = None) -> LightCurve:
    """A curve on a uniform 0.01-day grid (what augmentations see after binning)."""
    flux = np.asarray(flux, dtype=np.float64)
    return LightCurve(1000.0 + 0.01 * np.arange(flux.size), flux, flux_err, target_id="TIC 2")


def normalised_noise(size: int = 4096, seed: int = 1) -> LightCurve:
    return uniform(np.random.default_rng(seed).standard_normal(size), np.linspace(0.4, 0.6, size))


def always(step: Augmentation) -> Augmentation:
    return step.replace(probability=1.0)  # type: ignore[return-value]


ALL_AUGMENTATIONS: list[Transform] = [
    RandomRoll(max_fraction=1.0, probability=1.0),
    Flip(probability=1.0),
    AddNoise(std=0.5, units="mad", probability=1.0),
    ScaleFlux(low=0.5, high=1.5, probability=1.0),
    CadenceDropout(fraction=0.1, probability=1.0),
    RandomGaps(count=3, max_length_fraction=0.05, probability=1.0),
    TimeStretch(low=0.8, high=1.2, probability=1.0),
]
ALL_PREPROCESSING: list[Transform] = [
    RemoveNonFinite(),
    BinToLength(length=512),
    BinToLength(length=256, span=10.0),
    Normalize(method="median_mad"),
    Detrend(window_days=1.0),
    AsinhStretch(scale=5.0),
    CropOrPad(length=3000, mode="random", pad="wrap"),
    CropOrPad(length=30000, mode="center", pad="nan"),
    FillGaps(method="interpolate"),
    FillGaps(value=0.0, method="constant"),
]


# ---------------------------------------------------------------- preprocessing
def test_remove_non_finite_drops_bad_cadences_and_names_the_file_when_nothing_is_left():
    lc = LightCurve([0.0, 1.0, np.nan, 3.0], [1.0, np.inf, 2.0, 4.0], [0.1, 0.2, 0.3, 0.4])
    out = RemoveNonFinite(min_cadences=1)(lc, np.random.default_rng())  # 2 cadences: below the default 10
    assert out.time.tolist() == [0.0, 3.0]
    assert out.flux.tolist() == [1.0, 4.0]
    assert out.flux_err is not None and out.flux_err.tolist() == [0.1, 0.4]
    empty = LightCurve([0.0, 1.0], [np.nan, np.nan], path="dead.fits", validate=False)
    with pytest.raises(LightCurveError, match="dead.fits"):
        RemoveNonFinite()(empty, np.random.default_rng())


def test_bin_to_length_matches_a_slow_reference_average_and_spans_first_to_last_cadence():
    rng = np.random.default_rng(3)
    time = np.sort(rng.uniform(100.0, 110.0, 5000))
    flux = rng.normal(size=time.size)
    flux[::97] = np.nan
    errors = rng.uniform(0.1, 0.2, time.size)
    lc = LightCurve(time, flux, errors)
    out = BinToLength(length=64)(lc, rng)

    finite = np.isfinite(flux)
    t, f, e = time[finite], flux[finite], errors[finite]
    edges = np.linspace(t[0], t[-1], 65)
    expected_flux, expected_err = [], []
    for i in range(64):
        inside = (t >= edges[i]) & ((t < edges[i + 1]) if i < 63 else (t <= edges[i + 1]))
        expected_flux.append(f[inside].mean())
        expected_err.append(np.sqrt((e[inside] ** 2).sum()) / inside.sum())
    np.testing.assert_allclose(out.flux, expected_flux, rtol=1e-10)
    assert out.flux_err is not None
    np.testing.assert_allclose(out.flux_err, expected_err, rtol=1e-10)
    np.testing.assert_allclose(out.time, 0.5 * (edges[:-1] + edges[1:]), rtol=1e-12)
    assert out.meta["cadence"] == pytest.approx((t[-1] - t[0]) / 64)


def test_bin_to_length_leaves_empty_bins_nan_and_a_fixed_span_drops_later_cadences():
    lc = LightCurve(np.array([0.0, 1.0, 2.0, 7.0, 8.0]), np.array([1.0, 3.0, 5.0, 7.0, 9.0]))
    out = BinToLength(length=4)(lc, np.random.default_rng())
    assert out.flux[0] == 2.0 and out.flux[1] == 5.0 and np.isnan(out.flux[2]) and out.flux[3] == 8.0
    fixed = BinToLength(length=2, span=2.0)(lc, np.random.default_rng())
    assert fixed.flux.tolist() == [1.0, 3.0]  # cadences at t >= 2 days are outside the span
    assert fixed.time.tolist() == [0.5, 1.5]


def test_binning_keeps_a_transit_at_day_25_that_a_qusi_style_crop_to_3500_cadences_loses():
    lc = tess_like(transit_at=25.0, depth=0.005, duration=0.25)
    binned = default_preprocessing()(lc, np.random.default_rng(0))
    assert len(binned) == DEFAULT_INPUT_LENGTH
    assert binned.time[0] < 1325.01 and binned.time[-1] > 1325.0 + 26.99  # whole sector kept
    lowest = int(np.argmin(binned.flux))
    assert binned.time[lowest] - 1325.0 == pytest.approx(25.0, abs=0.15)
    # A 5000 ppm transit on 1000 ppm noise: deeper than 10 robust sigmas, seen through AsinhStretch(5).
    assert binned.flux[lowest] < 5 * np.arcsinh(-10 / 5)

    qusi_style = Pipeline([RemoveNonFinite(), CropOrPad(3500, mode="start"), Normalize(), FillGaps()])
    cropped = qusi_style(lc, np.random.default_rng(0))
    assert cropped.time[-1] - 1325.0 < 5.0  # under 5 days of a 27-day sector
    assert cropped.flux.min() > -6  # nothing but noise


@pytest.mark.parametrize(
    ("method", "check"),
    [
        ("median", lambda f: np.nanmedian(f) == pytest.approx(1.0)),
        ("median_mad", lambda f: (np.nanmedian(f), MAD_TO_SIGMA * np.nanmedian(np.abs(f))) == pytest.approx((0, 1))),
        ("standard", lambda f: (np.nanmean(f), np.nanstd(f)) == pytest.approx((0, 1))),
        ("minmax", lambda f: (np.nanmin(f), np.nanmax(f)) == pytest.approx((0, 1))),
    ],
)
def test_normalize_methods(method, check):
    flux = np.random.default_rng(4).normal(100.0, 7.0, 1000)
    flux[5] = np.nan
    out = Normalize(method=method)(uniform(flux, np.full(1000, 2.0)), np.random.default_rng())
    assert check(out.flux)
    assert np.isnan(out.flux[5])
    assert out.meta["normalization"] == method
    # Errors scale with the flux.
    assert out.flux_err is not None
    ratio = (out.flux[10] - out.flux[11]) / (flux[10] - flux[11])
    assert out.flux_err[0] == pytest.approx(2.0 * abs(ratio))


def test_normalize_rejects_unknown_methods_and_names_the_file_of_an_all_nan_curve():
    with pytest.raises(ValueError, match="median_mad"):
        Normalize(method="zscore")
    lc = LightCurve([0.0, 1.0], [np.nan, np.nan], path="blank.fits", validate=False)
    with pytest.raises(LightCurveError, match="blank.fits"):
        Normalize()(lc, np.random.default_rng())


def test_fill_gaps_interpolates_or_fills_a_constant_and_always_leaves_finite_flux():
    flux = np.array([np.nan, 2.0, np.nan, np.nan, 8.0, np.inf, 10.0, np.nan])
    lc = uniform(flux, np.ones(flux.size))
    interpolated = FillGaps()(lc, np.random.default_rng()).flux
    np.testing.assert_allclose(interpolated, [2.0, 2.0, 4.0, 6.0, 8.0, 9.0, 10.0, 10.0])
    constant = FillGaps(value=-1.0, method="constant")(lc, np.random.default_rng())
    np.testing.assert_array_equal(constant.flux, [-1.0, 2.0, -1.0, -1.0, 8.0, -1.0, 10.0, -1.0])
    assert constant.flux_err is not None and np.isnan(constant.flux_err).sum() == 0  # errors untouched
    all_nan = FillGaps(value=0.5)(LightCurve([0.0, 1.0], [np.nan, np.nan], validate=False), np.random.default_rng())
    assert all_nan.flux.tolist() == [0.5, 0.5]
    # On an uneven grid interpolation is linear in time, not in index.
    uneven = LightCurve([0.0, 1.0, 4.0], [0.0, np.nan, 4.0])
    assert FillGaps()(uneven, np.random.default_rng()).flux.tolist() == [0.0, 1.0, 4.0]


def test_detrend_flattens_rotation_and_keeps_a_transit_and_the_gaps():
    # A spotted star: 0.6 % peak-to-peak rotational modulation over 8 days (50 times the noise of a
    # 38-minute bin), a 1,000 ppm, 3-hour transit, the downlink gap.
    lc = tess_like(noise=2e-4, transit_at=20.0, depth=1e-3, duration=0.125)
    time = lc.time - 1325.0
    lc = LightCurve(lc.time, lc.flux * (1.0 + 0.003 * np.sin(2 * np.pi * time / 8.0)), lc.flux_err, path=lc.path)
    binned = BinToLength(1024)(lc, np.random.default_rng())
    flat = Detrend(window_days=1.0)(binned, np.random.default_rng())
    days = flat.time - 1325.0
    baseline = np.abs(days - 20.0) > 0.3
    noise_per_bin = 2e-4 * 5000.0 / np.sqrt(np.median(np.diff(binned.time)) / TWO_MINUTES)
    assert np.nanstd(binned.flux[baseline]) > 30 * noise_per_bin  # the rotation dominates before ...
    assert np.nanstd(flat.flux[baseline]) < 1.2 * noise_per_bin  # ... and is gone after
    in_transit = np.abs(days - 20.0) < 0.04
    around = (np.abs(days - 20.0) > 0.1) & (np.abs(days - 20.0) < 0.3)
    depth = np.nanmean(flat.flux[around]) - np.mean(flat.flux[in_transit])
    assert depth == pytest.approx(1e-3 * 5000.0, rel=0.25)  # the transit keeps its depth
    assert np.nanmedian(flat.flux) == pytest.approx(np.nanmedian(binned.flux), rel=0.01)  # and the level
    np.testing.assert_array_equal(np.isnan(flat.flux), np.isnan(binned.flux))  # empty bins stay empty
    assert flat.flux_err is binned.flux_err
    # Windows longer than the curve use all of it; too few points: unchanged.
    assert np.isfinite(Detrend(window_days=100.0)(binned, np.random.default_rng()).flux).sum() > 900
    tiny = uniform([1.0, np.nan, 2.0])
    assert Detrend()(tiny, np.random.default_rng()) is tiny


def test_asinh_stretch_is_linear_near_zero_logarithmic_far_out_and_keeps_the_order():
    flux = np.array([-500.0, -20.0, -3.0, -0.5, 0.0, 0.5, 3.0, 20.0, np.nan])
    out = AsinhStretch(scale=5.0)(uniform(flux, np.ones(flux.size)), np.random.default_rng())
    assert out.flux[3:6].tolist() == pytest.approx([-0.5, 0.0, 0.5], abs=0.003)
    assert out.flux[2] == pytest.approx(-3.0, rel=0.06)
    assert out.flux[0] == pytest.approx(-5.0 * np.log(200.0), rel=0.01)  # -500 sigma -> about -26
    assert np.all(np.diff(out.flux[:8]) > 0) and np.isnan(out.flux[8])
    # Errors follow the local slope of the stretch.
    assert out.flux_err is not None
    np.testing.assert_allclose(out.flux_err[:8], 1.0 / np.sqrt(1.0 + (flux[:8] / 5.0) ** 2))


def test_crop_or_pad_windows_and_padding():
    lc = uniform(np.arange(10.0))
    rng = np.random.default_rng(0)
    assert CropOrPad(4, mode="start")(lc, rng).flux.tolist() == [0, 1, 2, 3]
    assert CropOrPad(4, mode="center")(lc, rng).flux.tolist() == [3, 4, 5, 6]
    starts = {CropOrPad(4, mode="random")(lc, rng).flux[0] for _ in range(200)}
    assert starts == set(range(7))  # every window position occurs
    short = uniform([1.0, 2.0, 3.0])
    assert CropOrPad(7, mode="start", pad="wrap")(short, rng).flux.tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert CropOrPad(5, mode="start", pad="zero")(short, rng).flux.tolist() == [1, 2, 3, 0, 0]
    padded = CropOrPad(5, mode="center", pad="nan")(short, rng)
    assert np.isnan(padded.flux[[0, 4]]).all() and padded.flux[1:4].tolist() == [1, 2, 3]
    np.testing.assert_allclose(np.diff(padded.time), 0.01)  # padded times continue the grid
    assert CropOrPad(4, mode="random").deterministic is False
    assert CropOrPad(4, mode="start").deterministic is True


def test_default_preprocessing_gives_exactly_input_length_finite_float32_whatever_the_cadence():
    pipeline = default_preprocessing(1024)
    sparse = LightCurve(np.arange(0.0, 27.0, 30 / 1440), np.ones(1296) + 0.001 * np.arange(1296) % 3)
    short = LightCurve(np.arange(10.0), [1.0, 2.0, 1.5] * 3 + [1.0])  # the fewest cadences accepted
    for lc in (tess_like(), tess_like(days=5.0, gap=None, with_errors=False), sparse, short):
        array = pipeline.to_array(lc, np.random.default_rng(0))
        assert array.dtype == np.float32 and array.shape == (1024,) and np.isfinite(array).all()
    with pytest.raises(LightCurveError, match="too few valid cadences: 3"):  # nothing meaningful to bin
        pipeline.to_array(LightCurve([0.0, 1.0, 2.0], [1.0, 2.0, 1.5]), np.random.default_rng(0))


# ---------------------------------------------------------------- augmentations
def test_flip_reverses_flux_and_keeps_a_uniform_time_grid():
    lc = normalised_noise(100)
    out = always(Flip())(lc, np.random.default_rng())
    np.testing.assert_array_equal(out.flux, lc.flux[::-1])
    assert out.flux_err is not None and lc.flux_err is not None
    np.testing.assert_array_equal(out.flux_err, lc.flux_err[::-1])
    np.testing.assert_array_equal(out.time, lc.time)
    uneven = LightCurve([0.0, 1.0, 3.0], [1.0, 2.0, 3.0])
    mirrored = always(Flip())(uneven, np.random.default_rng())
    assert mirrored.time.tolist() == [0.0, 2.0, 3.0] and mirrored.flux.tolist() == [3.0, 2.0, 1.0]


def test_random_roll_is_a_cyclic_permutation_within_max_fraction():
    lc = normalised_noise(1000)
    shifts = set()
    for seed in range(30):
        out = RandomRoll(max_fraction=0.1)(lc, np.random.default_rng(seed))
        shift = int(out.meta["augmentations"][-1].split("=")[1].rstrip(")"))
        np.testing.assert_array_equal(out.flux, np.roll(lc.flux, shift))
        np.testing.assert_array_equal(np.sort(out.flux), np.sort(lc.flux))  # same multiset of values
        np.testing.assert_array_equal(out.time, lc.time)
        assert abs(shift) <= 100
        shifts.add(shift)
    assert len(shifts) > 20


def test_add_noise_has_the_requested_std_in_flux_or_mad_units():
    flat = uniform(np.zeros(20000))
    out = AddNoise(std=0.3, units="flux", probability=1.0)(flat, np.random.default_rng(0))
    assert out.flux.std() == pytest.approx(0.3, rel=0.03)
    assert abs(out.flux.mean()) < 0.01

    base = uniform(np.random.default_rng(5).normal(0.0, 4.0, 20000))
    base.flux[:10] = np.nan
    noisy = AddNoise(std=0.5, units="mad", probability=1.0)(base, np.random.default_rng(1))
    added = noisy.flux - base.flux
    assert np.isnan(noisy.flux[:10]).all()
    assert np.nanstd(added) == pytest.approx(0.5 * 4.0, rel=0.05)  # half the curve's own sigma
    np.testing.assert_array_equal(noisy.time, base.time)


def test_scale_flux_scales_deviations_from_the_median_by_one_factor_in_range():
    lc = normalised_noise(1001)
    lc = lc.replace(flux=lc.flux + 3.0)
    median = np.median(lc.flux)
    for seed in range(10):
        out = ScaleFlux(low=0.8, high=1.2, probability=1.0)(lc, np.random.default_rng(seed))
        off_median = lc.flux != median  # 1001 values: one of them is the median itself
        factor = (out.flux - median)[off_median] / (lc.flux - median)[off_median]
        assert np.ptp(factor) < 1e-9 and 0.8 <= factor[0] <= 1.2
        assert np.median(out.flux) == pytest.approx(median)
        assert out.flux_err is not None and lc.flux_err is not None
        np.testing.assert_allclose(out.flux_err, lc.flux_err * factor[0])


def test_cadence_dropout_removes_the_requested_fraction_and_nothing_else():
    lc = normalised_noise(20000)
    out = CadenceDropout(fraction=0.1, probability=1.0)(lc, np.random.default_rng(0))
    dropped = np.isnan(out.flux)
    assert dropped.mean() == pytest.approx(0.1, abs=0.01)
    np.testing.assert_array_equal(out.flux[~dropped], lc.flux[~dropped])
    assert out.flux_err is not None and np.isnan(out.flux_err[dropped]).all()


def test_random_gaps_are_contiguous_and_no_longer_than_allowed():
    lc = normalised_noise(1000)
    for seed in range(20):
        out = RandomGaps(count=1, max_length_fraction=0.05, probability=1.0)(lc, np.random.default_rng(seed))
        missing = np.flatnonzero(np.isnan(out.flux))
        assert 1 <= missing.size <= 50
        assert missing[-1] - missing[0] == missing.size - 1  # one contiguous run
        keep = ~np.isnan(out.flux)
        np.testing.assert_array_equal(out.flux[keep], lc.flux[keep])
    out = RandomGaps(count=3, max_length_fraction=0.02, probability=1.0)(lc, np.random.default_rng(1))
    runs = np.count_nonzero(np.diff(np.isnan(out.flux).astype(int)) == 1) + int(np.isnan(out.flux[0]))
    assert 1 <= runs <= 3


@pytest.mark.parametrize("factor", [0.5, 1.5])
def test_time_stretch_keeps_length_and_widens_a_feature_by_the_factor(factor):
    flux = np.zeros(1001)
    flux[450:551] = -1.0  # a 101-cadence box in the middle
    lc = uniform(flux)
    out = TimeStretch(low=factor, high=factor, probability=1.0)(lc, np.random.default_rng())
    assert len(out) == len(lc)
    np.testing.assert_array_equal(out.time, lc.time)
    width = np.count_nonzero(out.flux < -0.5)
    assert width == pytest.approx(100 * factor, abs=2)
    if factor < 1:  # the uncovered ends are gaps
        assert np.isnan(out.flux[:200]).all() and np.isnan(out.flux[-200:]).all()
    else:
        assert np.isfinite(out.flux).all()


@pytest.mark.parametrize("step", ALL_AUGMENTATIONS, ids=lambda step: step.name)
def test_augmentations_probability_zero_is_identity_and_seeds_reproduce(step):
    lc = normalised_noise(2048)
    off = step.replace(probability=0.0)
    assert off(lc, np.random.default_rng(0)) is lc
    assert off.deterministic
    first = step(lc, np.random.default_rng(42))
    again = step(lc, np.random.default_rng(42))
    np.testing.assert_array_equal(first.flux, again.flux)
    assert first.meta["augmentations"] == again.meta["augmentations"]
    if step.name != "Flip":  # Flip draws nothing once applied
        other = step(lc, np.random.default_rng(43))
        assert not np.array_equal(first.flux, other.flux, equal_nan=True)


def test_probability_is_the_fraction_of_calls_that_apply():
    lc = normalised_noise(64)
    rng = np.random.default_rng(0)
    applied = sum("augmentations" in Flip(probability=0.3)(lc, rng).meta for _ in range(2000))
    assert applied / 2000 == pytest.approx(0.3, abs=0.04)


@pytest.mark.parametrize("step", ALL_AUGMENTATIONS + ALL_PREPROCESSING, ids=repr)
def test_no_transform_modifies_its_input(step):
    lc = tess_like(days=3.0) if step.name in ("RemoveNonFinite", "BinToLength", "CropOrPad") else normalised_noise()
    if step.name in ("FillGaps",):
        lc.flux[::7] = np.nan
    before = (lc.time.copy(), lc.flux.copy(), None if lc.flux_err is None else lc.flux_err.copy(), dict(lc.meta))
    step(lc, np.random.default_rng(0))
    np.testing.assert_array_equal(lc.time, before[0])
    np.testing.assert_array_equal(lc.flux, before[1])
    np.testing.assert_array_equal(lc.flux_err, before[2])
    assert lc.meta == before[3]


@pytest.mark.parametrize(
    "make",
    [
        lambda: AddNoise(std=-1),
        lambda: Flip(probability=1.5),
        lambda: ScaleFlux(low=1.2, high=0.8),
        lambda: TimeStretch(low=0.0, high=1.0),
        lambda: CadenceDropout(fraction=1.0),
        lambda: RandomGaps(count=-1),
        lambda: BinToLength(length=0),
        lambda: CropOrPad(10, mode="end"),
        lambda: FillGaps(method="spline"),
        lambda: AddNoise(units="ppm"),
        lambda: Detrend(window_days=0.0),
        lambda: Detrend(window_days=float("nan")),
        lambda: AsinhStretch(scale=-1.0),
    ],
)
def test_invalid_parameters_are_rejected(make):
    with pytest.raises(ValueError):
        make()


# ---------------------------------------------------------------- serialisation and Pipeline
@pytest.mark.parametrize("step", ALL_AUGMENTATIONS + ALL_PREPROCESSING, ids=repr)
def test_every_transform_round_trips_through_json_and_repr_shows_every_parameter(step):
    data = json.loads(json.dumps(step.to_dict()))
    assert data["name"] == type(step).__name__
    assert Transform.from_dict(data) == step
    text = repr(step)
    assert text.startswith(f"{step.name}(")
    for key, value in step.params.items():
        assert f"{key}={value!r}" in text


def test_repr_format_matches_the_documented_style():
    assert repr(AddNoise(std=0.1, probability=0.5)) == "AddNoise(std=0.1, units='mad', probability=0.5)"
    assert repr(RemoveNonFinite()) == "RemoveNonFinite(min_cadences=10, allow_constant=False)"


def test_from_dict_rejects_unknown_names_listing_the_known_ones_and_unknown_parameters():
    with pytest.raises(ValueError, match="unknown transform 'Smooth'") as info:
        Transform.from_dict({"name": "Smooth", "window": 5})
    for known in ("AddNoise", "BinToLength", "FillGaps", "TimeStretch"):
        assert known in str(info.value)
    with pytest.raises(ValueError, match="no parameter"):
        Transform.from_dict({"name": "Flip", "probability": 0.5, "axis": 0})
    with pytest.raises(ValueError, match="'name'"):
        Transform.from_dict({"probability": 0.5})
    with pytest.raises(ValueError, match="unknown transform"):
        Pipeline.from_dict({"steps": [{"name": "Flip"}, {"name": "Smooth"}]})


def test_a_user_registered_transform_works_in_a_pipeline_and_round_trips(tmp_path):
    @register_transform
    class ClipOutliers(Transform):
        def __init__(self, limit: float = 3.0) -> None:
            self.limit = float(limit)

        def apply(self, lc, rng):
            return lc.replace(flux=np.clip(lc.flux, -self.limit, self.limit))

    assert registered_transforms()["ClipOutliers"] is ClipOutliers
    pipeline = Pipeline([Normalize(), ClipOutliers(limit=2.0)])
    lc = normalised_noise()
    assert np.abs(pipeline(lc).flux).max() == 2.0
    loaded = Pipeline.load(pipeline.save(tmp_path / "custom.json"))
    assert loaded == pipeline
    assert isinstance(loaded[1], ClipOutliers) and loaded[1].limit == 2.0
    assert "ClipOutliers(limit=2.0)" in repr(loaded)


def test_pipeline_save_load_round_trip_and_load_errors_name_the_file(tmp_path):
    pipeline = make_pipeline(default_preprocessing(2048), default_augmentation())
    pipeline.set_params("AddNoise", std=0.25)
    path = pipeline.save(tmp_path / "pipeline.json")
    loaded = Pipeline.load(path)
    assert loaded == pipeline and repr(loaded) == repr(pipeline)
    assert json.loads(path.read_text())["steps"][1] == {"name": "BinToLength", "length": 2048, "span": None}
    assert loaded != default_preprocessing()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="broken.json"):
        Pipeline.load(broken)


def test_pipeline_repr_lists_every_step_with_all_parameters():
    pipeline = make_pipeline(default_preprocessing(), default_augmentation())
    text = repr(pipeline)
    assert text.count("\n") == len(pipeline) + 1
    for step in pipeline:
        assert repr(step) in text
        for key in step.params:
            assert f"{key}=" in text


def test_pipeline_behaves_like_a_list_and_can_be_edited():
    pipeline = default_preprocessing()
    assert len(pipeline) == 6 and pipeline[1] == BinToLength(2048)
    assert [step.name for step in pipeline] == [
        "RemoveNonFinite", "BinToLength", "Detrend", "Normalize", "AsinhStretch", "FillGaps"]
    assert isinstance(pipeline[1:3], Pipeline) and len(pipeline[1:3]) == 2
    pipeline.append(Flip())
    pipeline.insert(0, RandomRoll())
    assert pipeline[-1] == Flip() and pipeline[0] == RandomRoll() and len(pipeline) == 8
    del pipeline[0]
    edited = pipeline.replace("BinToLength", length=128)
    assert edited[1].params == {"length": 128, "span": None}
    assert pipeline[1].params["length"] == 2048  # replace() leaves the original alone
    pipeline.set_params(1, length=256)
    assert pipeline.input_length == 256
    with pytest.raises(TypeError, match="no parameter"):
        pipeline.set_params("Normalize", scale=2)
    with pytest.raises(ValueError):
        pipeline.set_params("Normalize", method="nope")
    with pytest.raises(KeyError, match="no step named"):
        pipeline.set_params("Smooth", window=3)
    with pytest.raises(TypeError):
        pipeline.append("Flip")  # type: ignore[arg-type]


def test_make_pipeline_puts_augmentation_after_normalize_and_before_the_final_fill():
    preprocessing, augmentation = default_preprocessing(), default_augmentation()
    combined = make_pipeline(preprocessing, augmentation)
    names = [step.name for step in combined]
    deterministic = ["RemoveNonFinite", "BinToLength", "Detrend", "Normalize", "AsinhStretch"]
    assert names[:5] == deterministic
    assert names[5:-1] == [step.name for step in augmentation] and names[-1] == "FillGaps"
    assert len(preprocessing) == 6 and len(augmentation) == 7  # arguments untouched
    assert make_pipeline(preprocessing, None) == preprocessing
    no_fill = make_pipeline(Pipeline([Normalize()]), Pipeline([Flip()]))
    assert [step.name for step in no_fill] == ["Normalize", "Flip"]
    prefix, rest = combined.split_deterministic()
    assert [step.name for step in prefix] == deterministic
    assert rest[0].name == "TimeStretch" and not rest.deterministic and prefix.deterministic


def test_training_pipeline_is_seeded_finite_and_keeps_the_length():
    pipeline = make_pipeline(default_preprocessing(), default_augmentation())
    lc = tess_like(transit_at=20.0)
    first = pipeline.to_array(lc, np.random.default_rng(7))
    assert first.dtype == np.float32 and first.shape == (DEFAULT_INPUT_LENGTH,) and np.isfinite(first).all()
    np.testing.assert_array_equal(first, pipeline.to_array(lc, np.random.default_rng(7)))
    np.testing.assert_array_equal(first, pipeline.to_array(lc, 7))  # an int seed works too
    assert not np.array_equal(first, pipeline.to_array(lc, np.random.default_rng(8)))
    # The same curve without augmentation is a fixed point of the preprocessing.
    plain = default_preprocessing()
    np.testing.assert_array_equal(plain.to_array(lc), plain.to_array(lc, np.random.default_rng(1)))
    applied = pipeline(lc, np.random.default_rng(7)).meta["augmentations"]
    assert applied[0].startswith(("TimeStretch(", "RandomRoll("))  # RandomRoll always applies


def test_to_array_refuses_non_finite_output_naming_the_file():
    with pytest.raises(LightCurveError, match="tic1_s1.fits.*FillGaps"):
        Pipeline([BinToLength(4096)]).to_array(tess_like(days=2.0))


def test_pipeline_accepts_a_lightkurve_light_curve():
    lightkurve = pytest.importorskip("lightkurve")
    lk_curve = lightkurve.LightCurve(time=np.linspace(0, 27, 5000), flux=np.ones(5000) + 0.01 * np.sin(np.arange(5000)))
    array = default_preprocessing(512).to_array(lk_curve)
    assert array.shape == (512,) and np.isfinite(array).all()


def test_heartbeat_preprocessing_keeps_a_day_long_periastron_passage_that_the_default_detrending_removes():
    from qusi_lab.signals import heartbeat
    from qusi_lab.transforms import heartbeat_preprocessing

    # A 30-day orbit at e = 0.3 (a passage ~2 days long), 3,000 ppm, in 200 ppm noise, one passage at day 8.
    lc = tess_like(noise=2e-4, gap=None)
    days = lc.time - 1325.0
    signal = heartbeat(days, period=30.0, epoch_periastron=8.0, eccentricity=0.3, inclination=60.0,
                       argument_of_periastron=90.0, amplitude=3e-3)
    lc = LightCurve(lc.time, lc.flux * signal, lc.flux_err, path=lc.path)
    passage = np.abs(np.linspace(0.0, days[-1], 1024) - 8.0) < 1.0
    quiet = np.abs(np.linspace(0.0, days[-1], 1024) - 8.0) > 5.0

    def contrast(pipeline: Pipeline) -> float:
        # The passage's mean offset from the quiet orbit over the bin-to-bin noise (the normalisation's
        # scale differs between the pipelines; the noise measured from neighbouring bins does not care).
        array = pipeline.to_array(lc, np.random.default_rng(0))
        noise = np.std(np.diff(array[quiet])) / np.sqrt(2.0)
        return float(abs(np.mean(array[passage]) - np.median(array[quiet])) / noise)

    kept, detrended = contrast(heartbeat_preprocessing(1024)), contrast(default_preprocessing(1024))
    assert kept > 3.0 * detrended  # the 2-day running median eats most of the passage
    assert [type(step).__name__ for step in heartbeat_preprocessing()] == [
        "RemoveNonFinite", "BinToLength", "Normalize", "AsinhStretch", "FillGaps"]
    assert heartbeat_preprocessing(512).input_length == 512
    assert list(default_preprocessing(detrend_days=6.0))[2].window_days == 6.0
    assert "Detrend" not in repr(default_preprocessing(detrend_days=None))
