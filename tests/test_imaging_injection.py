"""Companion injection (flux-conserving, VIP geometry) and SODINN's per-annulus flux calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qusi_lab.errors import ImagingError
from qusi_lab.imaging import AdiSequence
from qusi_lab.imaging.baselines import derotate, pca_adi, snr
from qusi_lab.imaging.injection import calibrate_flux, inject_companions, sample_fluxes
from qusi_lab.imaging.synthetic import airy_psf, make_adi_sequence

N = 61


def blank(frames: int = 12, rotation: float = 60.0) -> AdiSequence:
    psf, fwhm = airy_psf(3.5)
    return AdiSequence(np.zeros((frames, N, N)), np.linspace(-rotation / 2, rotation / 2, frames), psf,
                       0.027, fwhm, meta={"note": "kept"})


@pytest.mark.parametrize(("separation", "angle"), [(7.3, 12.0), (11.61, 200.5), (0.0, 0.0)])
def test_flux_conserved(separation, angle):
    seq = blank()
    out = inject_companions(seq, separation, angle, 3.7)
    totals = out.cube.sum(axis=(1, 2))
    np.testing.assert_allclose(totals, 3.7 * seq.psf.sum(), rtol=1e-6)
    assert not seq.cube.any() and "injections" not in seq.meta  # original untouched
    assert out.meta["note"] == "kept"


def test_edge_cut_loses_flux_only_there():
    seq = blank()
    out = inject_companions(seq, 29.0, 0.0, 1.0)
    assert (out.cube.sum(axis=(1, 2)) < seq.psf.sum() * (1 - 1e-3)).all()


def test_position_and_derotation_alignment():
    seq = blank(frames=9, rotation=80.0)
    r, pa = 10.0, 35.0
    out = inject_companions(seq, r, pa, 1.0)
    c = (N - 1) / 2
    for k, frame in enumerate(out.cube):  # frame k: the companion at pa - angles[k]
        phi = math.radians(pa - seq.angles[k])
        y, x = np.unravel_index(frame.argmax(), frame.shape)
        assert math.hypot(y - (c + r * math.sin(phi)), x - (c + r * math.cos(phi))) <= 0.75
    aligned = derotate(out.cube, out.angles)
    sky = (c + r * math.sin(math.radians(pa)), c + r * math.cos(math.radians(pa)))
    for frame in aligned:  # same sky place in every derotated frame
        y, x = np.unravel_index(np.nanargmax(frame), frame.shape)
        assert math.hypot(y - sky[0], x - sky[1]) <= 0.75
    # sub-pixel centroid of the derotated mean: the sky position
    mean = np.nan_to_num(aligned.mean(axis=0))
    yy, xx = np.indices(mean.shape)
    near = np.hypot(yy - sky[0], xx - sky[1]) <= 3
    w = mean * near
    assert (w * yy).sum() / w.sum() == pytest.approx(sky[0], abs=0.1)
    assert (w * xx).sum() / w.sum() == pytest.approx(sky[1], abs=0.1)


def test_several_companions_and_meta_appends():
    seq = blank()
    once = inject_companions(seq, [6.0, 12.0], [0.0, 90.0], 2.0)
    twice = inject_companions(once, 9.0, 45.0, 1.5)
    assert [d["separation_px"] for d in twice.meta["injections"]] == [6.0, 12.0, 9.0]
    assert len(once.meta["injections"]) == 2
    np.testing.assert_allclose(twice.cube.sum(axis=(1, 2)), 5.5 * seq.psf.sum(), rtol=1e-6)


def test_bad_input():
    seq = blank()
    with pytest.raises(ImagingError, match="inside the frame"):
        inject_companions(seq, 35.0, 0.0, 1.0)
    with pytest.raises(ImagingError, match="inside the frame"):
        inject_companions(seq, -1.0, 0.0, 1.0)
    with pytest.raises(ImagingError, match=">= 0"):
        inject_companions(seq, 5.0, 0.0, -1.0)
    with pytest.raises(ImagingError, match="empty"):
        inject_companions(seq, [], [], [])
    with pytest.raises(ImagingError, match="do not match"):
        inject_companions(seq, [5.0, 6.0, 7.0], [0.0, 1.0], 1.0)
    with pytest.raises(ImagingError, match="finite"):
        inject_companions(seq, 5.0, float("nan"), 1.0)
    with pytest.raises(ImagingError, match="odd"):
        inject_companions(seq, 5.0, 0.0, 1.0, psf=np.ones((4, 4)))


@pytest.fixture(scope="module")
def small() -> AdiSequence:
    return make_adi_sequence(n_frames=30, size=61, seed=11)


@pytest.fixture(scope="module")
def calibration(small):
    return calibrate_flux(small, [11.0, 16.0, 21.0], (1.0, 3.0), n_components=5, n_branches=4)


def test_calibration_table(calibration):
    assert list(calibration.columns) == ["separation", "flux_low", "flux_high", "slope", "scatter", "noise"]
    assert (calibration.flux_high > calibration.flux_low).all() and (calibration.slope > 0).all()
    assert (calibration.flux_low >= 0).all()


def test_calibrated_mid_flux_gives_target_snr(small, calibration):
    c = (small.shape[0] - 1) / 2
    for row in calibration.itertuples():
        values = []
        for pa in np.arange(15.0, 360.0, 30.0):  # 12 angles, off the calibration branches
            injected = inject_companions(small, row.separation, pa, 0.5 * (row.flux_low + row.flux_high))
            final = pca_adi(injected, 5, mode="annular")
            phi = math.radians(pa)
            values.append(snr(final, (c + row.separation * math.sin(phi), c + row.separation * math.cos(phi)),
                              small.fwhm))
        assert 1.0 <= np.median(values) <= 3.0, (row.separation, values)


def test_sample_fluxes_interpolate_a_steep_calibration_in_log_flux():
    """Near the star the calibrated flux falls tenfold in half a FWHM: a linear interpolation would put a
    companion between the rows several times above the S/N range."""
    import pandas as pd

    steep = pd.DataFrame({"separation": [4.0, 6.0], "flux_low": [2700.0, 190.0], "flux_high": [8000.0, 570.0]})
    values = sample_fluxes(steep, 5.0, np.random.default_rng(0), 400)
    assert values.min() >= np.sqrt(2700 * 190) - 1e-6 and values.max() <= np.sqrt(8000 * 570) + 1e-6
    assert values.max() > 0.9 * np.sqrt(8000 * 570)  # the range is filled, not squeezed
    # a range starting at 0 (snr_range from 0) interpolates that column linearly
    zero = steep.assign(flux_low=[0.0, 0.0])
    assert sample_fluxes(zero, 5.0, np.random.default_rng(0), 400).min() >= 0.0


def test_sample_fluxes(calibration):
    rng = np.random.default_rng(0)
    row = calibration.iloc[1]
    values = sample_fluxes(calibration, float(row.separation), rng, 500)
    assert values.min() >= row.flux_low and values.max() <= row.flux_high
    assert abs(values.mean() - 0.5 * (row.flux_low + row.flux_high)) < 0.05 * (row.flux_high - row.flux_low)
    logs = sample_fluxes(calibration, 13.0, rng, 50, log=True)
    assert logs.shape == (50,) and (logs > 0).all()
    with pytest.raises(ImagingError, match="outside the calibrated"):
        sample_fluxes(calibration, 40.0, rng, 5)


def test_calibration_bad_input(small):
    with pytest.raises(ImagingError, match="separations"):
        calibrate_flux(small, [1.0])
    with pytest.raises(ImagingError, match="separations"):
        calibrate_flux(small, [40.0])
    with pytest.raises(ImagingError, match="snr_range"):
        calibrate_flux(small, [10.0], (3.0, 1.0))
    with pytest.raises(ImagingError, match="empty"):
        calibrate_flux(small, [])
