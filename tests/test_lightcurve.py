"""Behaviour of the LightCurve type: validation, astronomy methods, interop with lightkurve/astropy."""

from __future__ import annotations

import pickle

import astropy.units as u
import numpy as np
import pytest
from astropy.time import Time

import qusi_lab as ql
from qusi_lab.lightcurve import normalization_constants, normalize_flux


def make_curve(n: int = 100, **meta) -> ql.LightCurve:
    time = 1325.0 + np.arange(n) * (2.0 / 60 / 24)
    flux = 1000.0 + np.sin(np.arange(n) / 5.0)
    return ql.LightCurve(time, flux, np.full(n, 2.0), target_id="TIC 42", mission="TESS", sector=1, **meta)


def test_metadata_properties_and_repr():
    lc = make_curve(path="/data/tic42.fits")
    assert lc.target_id == "TIC 42"
    assert lc.mission == "TESS"
    assert lc.sector == 1
    assert lc.cadence == pytest.approx(2.0 / 60 / 24)
    assert len(lc) == 100
    text = repr(lc)
    assert "100 cadences" in text and "TIC 42" in text and "tic42.fits" in text


@pytest.mark.parametrize(
    ("time", "flux", "message"),
    [
        ([], [], "empty"),
        ([1.0, 2.0, 3.0], [1.0, 2.0], "time has 3 values but flux has 2"),
        ([1.0, 2.0], [np.nan, np.nan], "all NaN"),
        ([1.0, 3.0, 2.0], [1.0, 1.0, 1.0], "times do not increase"),
        ([[1.0, 2.0]], [[1.0, 2.0]], "1-D"),
    ],
)
def test_validation_errors_name_the_file(time, flux, message):
    with pytest.raises(ql.LightCurveError) as info:
        ql.LightCurve(time, flux, path="bad_star.fits")
    assert message in str(info.value)
    assert str(info.value).startswith("bad_star.fits: ")
    assert info.value.path == "bad_star.fits"


def test_errors_survive_pickling_for_worker_processes():
    error = ql.LightCurveError("all fluxes are NaN", path="x.fits")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "x.fits: all fluxes are NaN" and copy.path == "x.fits"


def test_remove_nans_and_slicing_keep_metadata():
    lc = make_curve()
    lc.flux[[3, 7]] = np.nan
    lc.time[10] = np.inf
    clean = lc.remove_nans()
    assert len(clean) == 97
    assert np.isfinite(clean.flux).all() and np.isfinite(clean.time).all()
    assert clean.target_id == "TIC 42"
    assert np.isnan(lc.flux[3]), "the original must not be modified"


@pytest.mark.parametrize("method", ["median", "median_mad", "standard", "minmax"])
def test_normalize_methods(method):
    rng = np.random.default_rng(1)
    flux = 500.0 + rng.normal(0, 3.0, 5000)
    lc = ql.LightCurve(np.arange(5000.0), flux, np.full(5000, 3.0))
    normalized = lc.normalize(method)
    if method == "median":
        assert np.median(normalized.flux) == pytest.approx(1.0)
        assert normalized.flux_err[0] == pytest.approx(3.0 / np.median(flux))
    elif method == "median_mad":
        assert np.median(normalized.flux) == pytest.approx(0.0, abs=1e-12)
        assert np.std(normalized.flux) == pytest.approx(1.0, rel=0.05)  # MAD-based sigma for Gaussian noise
        assert normalized.flux_err[0] == pytest.approx(1.0, rel=0.05)
    elif method == "standard":
        assert normalized.flux.mean() == pytest.approx(0.0, abs=1e-9)
        assert normalized.flux.std() == pytest.approx(1.0)
    else:
        assert normalized.flux.min() == 0.0 and normalized.flux.max() == 1.0
    assert normalized.meta["normalization"] == method


def test_normalize_ignores_nans_and_rejects_unknown_method():
    flux = np.array([1.0, np.nan, 3.0])
    assert normalize_flux(flux, "median")[2] == pytest.approx(1.5)
    with pytest.raises(ValueError, match="unknown normalisation method 'zscore'"):
        normalization_constants(flux, "zscore")
    with pytest.raises(ql.LightCurveError, match="median flux is 0"):
        ql.LightCurve([1.0, 2.0], [0.0, 0.0], path="zero.fits").normalize("median")


def test_fold_puts_transits_at_phase_zero():
    time = np.arange(0.0, 30.0, 0.01)
    flux = np.ones_like(time)
    period, epoch = 3.0, 1.2
    in_transit = np.abs(((time - epoch + 1.5) % 3.0) - 1.5) < 0.05
    flux[in_transit] = 0.99
    folded = ql.LightCurve(time, flux).fold(period, epoch_time=epoch)
    assert folded.time.min() >= -1.5 and folded.time.max() < 1.5
    assert np.all(np.diff(folded.time) >= 0)
    assert np.all(folded.flux[np.abs(folded.time) < 0.045] == 0.99)
    assert np.all(folded.flux[np.abs(folded.time) > 0.06] == 1.0)
    assert folded.meta["period"] == 3.0
    with pytest.raises(ValueError, match="period must be positive"):
        ql.LightCurve(time, flux).fold(0.0)


def test_bin_averages_and_marks_gaps():
    time = np.concatenate([np.arange(0.0, 10.0, 0.1), np.arange(20.0, 30.0, 0.1)])
    flux = np.where(time < 15, 1.0, 3.0)
    binned = ql.LightCurve(time, flux).bin(bins=30)
    assert len(binned) == 30
    assert np.isnan(binned.flux[12:18]).all(), "bins inside the gap are NaN"
    assert np.nanmin(binned.flux) == pytest.approx(1.0) and np.nanmax(binned.flux) == pytest.approx(3.0)
    assert binned.time[0] > time[0] and binned.time[-1] < time[-1]


def test_astropy_time_and_quantity_inputs():
    time = Time(2459000.0 + np.arange(10) * 0.01, format="jd", scale="tdb")
    flux = (np.ones(10) * 100.0) * u.electron / u.s
    lc = ql.LightCurve(time, flux)
    assert lc.time[0] == pytest.approx(2459000.0)
    assert lc.meta["time_format"] == "jd" and lc.meta["time_scale"] == "tdb"
    assert "electron" in lc.meta["flux_unit"]


def test_lightkurve_round_trip():
    lightkurve = pytest.importorskip("lightkurve")
    lc = make_curve()
    lk_curve = lc.to_lightkurve()
    assert isinstance(lk_curve, lightkurve.LightCurve)
    assert lk_curve.time.format == "btjd"
    back = ql.LightCurve.from_lightkurve(lk_curve)
    np.testing.assert_allclose(back.time, lc.time)
    np.testing.assert_allclose(back.flux, lc.flux)
    np.testing.assert_allclose(back.flux_err, lc.flux_err)
    assert back.target_id == "TIC 42"
    assert back.sector == 1


def test_from_lightkurve_masked_values_become_nan():
    lightkurve = pytest.importorskip("lightkurve")
    import astropy.units as units
    from astropy.utils.masked import Masked

    flux = Masked([1.0, 2.0, 3.0] * units.electron / units.s, mask=[False, True, False])
    lk_curve = lightkurve.LightCurve(time=[1.0, 2.0, 3.0], flux=flux)
    back = ql.LightCurve.from_lightkurve(lk_curve)
    assert np.isnan(back.flux[1]) and back.flux[0] == 1.0


def test_to_pandas_and_plot(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    lc = make_curve()
    frame = lc.to_pandas()
    assert list(frame.columns) == ["time", "flux", "flux_err"] and len(frame) == 100
    ax = lc.plot()
    assert ax.get_title() == "TIC 42 TESS 1"
    assert len(ax.lines[0].get_xdata()) == 100
