"""The shared helpers of qusi_lab.core: binning, folding, running medians, robust scale, JSON encoding.

Binning and folding are checked as properties over many inputs (hypothesis); the others on cases
whose answer is known, and against the copies they replaced (LightCurve.bin, the period search).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import qusi_lab as ql
from qusi_lab.core import (
    MAD_TO_SIGMA,
    bin_means,
    dumps,
    fold_phase,
    fold_time,
    robust_scale,
    running_median,
    running_median_over_time,
    to_jsonable,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
positions = hnp.arrays(np.float64, st.integers(1, 200), elements=finite)


# ----------------------------------------------------------------------------- binning
@settings(max_examples=200, deadline=None)
@given(x=positions, bins=st.integers(1, 50), data=st.data())
def test_bin_means_by_count_keep_every_value_and_the_total(x: np.ndarray, bins: int, data: st.DataObject) -> None:
    y = data.draw(hnp.arrays(np.float64, x.size, elements=finite))
    binned = bin_means(x, y, bins=bins, keep_empty=True)
    assert binned.centers.size == binned.means.size == binned.counts.size == bins
    assert binned.counts.sum() == x.size  # every value lands in exactly one bin
    filled = binned.counts > 0
    # The bin means preserve the total (sum of count x mean is the sum of the values)...
    assert np.sum(binned.counts[filled] * binned.means[filled]) == pytest.approx(y.sum(), rel=1e-9, abs=1e-3)
    # ... each mean lies within its values, and empty bins are NaN.
    assert np.isnan(binned.means[~filled]).all()
    assert (binned.means[filled] >= y.min() - 1e-6).all() and (binned.means[filled] <= y.max() + 1e-6).all()
    # Centres never go backwards (bins narrower than the floats' spacing there may share one).
    assert (np.diff(binned.centers) >= 0).all()
    assert binned.centers[0] >= x.min() and binned.centers[-1] <= x.max() or x.min() == x.max()


def test_bin_means_by_count_over_a_subnormal_span() -> None:
    # Found by hypothesis: the width of 2 bins over [0, 5e-324] underflows to 0.
    binned = bin_means(np.array([5e-324, 0.0]), np.array([1.0, 2.0]), bins=2, keep_empty=True)
    assert binned.counts.tolist() == [1, 1] and binned.means.tolist() == [2.0, 1.0]


@settings(max_examples=200, deadline=None)
@given(x=positions, per_span=st.floats(min_value=1e-3, max_value=10.0), data=st.data())
def test_bin_means_by_width_put_each_value_within_half_a_width_of_its_centre(
    x: np.ndarray, per_span: float, data: st.DataObject
) -> None:
    x = np.sort(x)
    width = max(per_span * float(np.ptp(x)), 1e-3)  # at most ~1,000 bins (memory grows with their number)
    y = data.draw(hnp.arrays(np.float64, x.size, elements=finite))
    binned = bin_means(x, y, width=width)
    assert binned.counts.sum() == x.size and (binned.counts > 0).all()  # empty bins dropped
    assert np.sum(binned.counts * binned.means) == pytest.approx(y.sum(), rel=1e-9, abs=1e-3)
    edges = np.concatenate([[0], np.cumsum(binned.counts)])  # sorted x: bins are consecutive runs
    for centre, low, high in zip(binned.centers, edges[:-1], edges[1:], strict=True):
        assert np.all(np.abs(x[low:high] - centre) <= 0.5 * width * (1 + 1e-9) + 1e-9 * abs(centre))


def test_bin_means_errors_span_and_bad_arguments() -> None:
    binned = bin_means(np.array([0.0, 0.1, 0.9]), np.array([1.0, 3.0, 5.0]), bins=2, errors=np.full(3, 2.0))
    assert binned.means.tolist() == [2.0, 5.0]
    np.testing.assert_allclose(binned.errors, [math.sqrt(8.0) / 2, 2.0])
    # A fixed span (one cycle of phase): bins cover it whatever the data cover.
    phase = bin_means(np.array([-0.2, 0.3]), np.ones(2), bins=4, span=(-0.5, 0.5), keep_empty=True)
    assert phase.centers.tolist() == [-0.375, -0.125, 0.125, 0.375] and phase.counts.tolist() == [0, 1, 0, 1]
    assert bin_means(np.empty(0), np.empty(0), width=1.0).means.size == 0
    for kwargs in ({}, {"width": 1.0, "bins": 2}, {"width": 0.0}, {"bins": 0}, {"width": 1.0, "span": (0, 1)}):
        with pytest.raises(ValueError):
            bin_means(np.arange(3.0), np.ones(3), **kwargs)


def test_light_curve_bin_is_bin_means_with_gaps_kept() -> None:
    time = np.concatenate([np.arange(0.0, 1.0, 0.1), np.arange(3.0, 4.0, 0.1)])
    flux = np.sin(time)
    lc = ql.LightCurve(time, flux, np.full(time.size, 0.5)).bin(bins=8)
    expected = bin_means(time, flux, bins=8, errors=np.full(time.size, 0.5), keep_empty=True)
    np.testing.assert_array_equal(lc.time, expected.centers)
    np.testing.assert_array_equal(lc.flux, expected.means)
    np.testing.assert_array_equal(lc.flux_err, expected.errors)
    assert np.isnan(lc.flux).sum() == 4  # the 2-day gap stays visible (bins 2-5 of 0.4875 days)


# ----------------------------------------------------------------------------- folding
@settings(max_examples=300, deadline=None)
@given(
    time=hnp.arrays(np.float64, st.integers(1, 100), elements=st.floats(-1e5, 1e5)),
    period=st.floats(min_value=1e-3, max_value=1e3),
    epoch=st.floats(-1e5, 1e5),
    start=st.sampled_from([-0.5, -0.25, 0.0]),
)
def test_fold_phase_is_in_its_half_open_cycle_and_repeats_every_period(
    time: np.ndarray, period: float, epoch: float, start: float
) -> None:
    phase = fold_phase(time, period, epoch, start=start)
    assert ((phase >= start) & (phase < start + 1.0)).all()
    shifted = fold_phase(time + period, period, epoch, start=start)
    # One period later is the same phase (up to rounding, and modulo the cycle at its ends).
    difference = np.abs(phase - shifted)
    assert np.all((difference < 1e-6 + 1e-9 * np.abs(time - epoch) / period) | (np.abs(difference - 1) < 1e-6))
    days = fold_time(time, period, epoch)
    assert ((days >= -0.5 * period) & (days < 0.5 * period)).all()


def test_fold_phase_rounding_edge_and_bad_period() -> None:
    # np.mod(-1e-20, 1.0) is 1.0: the helper keeps the interval half-open.
    assert np.mod(-1e-20, 1.0) == 1.0
    assert fold_phase(np.array([-1e-20]), 1.0, 0.0, start=0.0).tolist() == [0.0]
    with pytest.raises(ValueError, match="period must be positive"):
        fold_phase(np.arange(3.0), 0.0, 0.0)
    lc = ql.LightCurve(np.arange(0.0, 10.0, 0.5), np.ones(20)).fold(period=2.0, epoch_time=1.0)
    assert lc.time.min() == -1.0 and lc.time.max() == 0.5


# ----------------------------------------------------------------------------- running medians
def test_running_median_exact_path_ignores_short_spikes_and_fast_path_follows_trends() -> None:
    spike = np.ones(50)
    spike[25] = 100.0
    assert running_median(spike, 5, fast=False).tolist() == [1.0] * 50
    x = np.linspace(0.0, 6.0, 4096)
    values = np.sin(x) + np.where(np.abs(x - 3.0) < 0.02, -1.0, 0.0)
    fast, exact = running_median(values, 301), running_median(values, 301, fast=False)
    for trend in (fast, exact):  # both follow the wave (the edges, padded, a little less) and skip the dip
        assert np.max(np.abs(trend - np.sin(x))) < 0.05
        dip = np.abs(x - 3.0) < 0.02
        assert np.max(np.abs(trend - np.sin(x))[dip]) < 0.05  # the dip is 1.0 deep


def test_running_median_over_time_window_in_days_and_degenerate_inputs() -> None:
    time = np.arange(0.0, 10.0, 0.1)
    flux = 1.0 + 0.01 * time
    flux[50] = 5.0  # one outlier
    trend = running_median_over_time(time, flux, window=1.0)
    np.testing.assert_allclose(trend[10:-10], 1.0 + 0.01 * time[10:-10], atol=0.002)
    assert running_median_over_time(time[:3], flux[:3], 1.0).tolist() == [float(np.median(flux[:3]))] * 3
    same_time = np.zeros(20)  # times that do not advance: a 3-sample window, no division by zero
    assert running_median_over_time(same_time, np.ones(20), 1.0).tolist() == [1.0] * 20
    assert running_median_over_time(time, flux, window=100.0).tolist() == [float(np.median(flux))] * time.size


# ----------------------------------------------------------------------------- robust scale
def test_robust_scale_is_the_gaussian_sigma_and_ignores_outliers_and_nans() -> None:
    noise = np.random.default_rng(0).normal(0.0, 2.0, 100_000)
    assert robust_scale(noise) == pytest.approx(2.0, rel=0.02)
    noise[:1000] = 1e6
    noise[1000:2000] = np.nan
    assert robust_scale(noise) == pytest.approx(2.0, rel=0.05)
    assert math.isnan(robust_scale(np.array([np.nan])))
    assert MAD_TO_SIGMA == ql.lightcurve.MAD_TO_SIGMA == 1.4826


# ----------------------------------------------------------------------------- JSON
def test_json_encoding_writes_strict_json_with_nan_as_null(tmp_path: Path) -> None:
    value = {
        1: np.float32(0.5), "nan": float("nan"), "inf": np.float64(np.inf), "array": np.array([1.0, np.nan]),
        "tensor": torch.tensor([1, 2]), "tuple": (np.int64(3), True), "path": tmp_path, "flag": np.bool_(False),
        "set": {"b", "a"}, "none": None,
    }
    expected = {"1": 0.5, "nan": None, "inf": None, "array": [1.0, None], "tensor": [1, 2], "tuple": [3, True],
                "path": str(tmp_path), "flag": False, "set": ["a", "b"], "none": None}
    assert to_jsonable(value) == expected
    text = dumps(value)
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard token {token}")) == expected
    assert to_jsonable(object, default=repr) == repr(object)
    marker = object()
    assert to_jsonable([marker], default=lambda item: item)[0] is marker


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_light_curve_metadata_nan_round_trips_as_null(tmp_path: Path, suffix: str) -> None:
    lc = ql.LightCurve([1.0, 2.0], [1.0, 1.0], tess_mag=float("nan"), depth=np.float32(0.25))
    path = lc.to_csv(tmp_path / f"star{suffix}") if suffix == ".csv" else lc.to_npz(tmp_path / f"star{suffix}")
    back = ql.read_light_curve(path)
    assert back.meta["tess_mag"] is None and back.meta["depth"] == 0.25


def test_transform_parameters_are_plain_json() -> None:
    from qusi_lab.transforms import BinToLength

    step = BinToLength(length=np.int64(64))
    assert step.to_dict() == {"name": "BinToLength", "length": 64, "span": None}
    assert json.dumps(step.to_dict())
