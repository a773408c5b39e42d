"""The second ADI generator (`make_empirical_sequence`): seeded, valid, companions where the truth says,
pupil-fixed speckles, the FWHM it declares, flux-conserving companions, the pipeline's leftovers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from qusi_lab.errors import ImagingError
from qusi_lab.imaging import AdiSequence, make_empirical_sequence
from qusi_lab.imaging.baselines import derotate, median_adi, pca_adi, snr

SMALL = {"n_frames": 40, "size": 61}


def _ring(seq: AdiSequence, lo: float, hi: float) -> np.ndarray:
    radius = np.hypot(*(np.indices(seq.shape) - np.asarray(seq.center)[:, None, None]))
    return (radius >= lo * seq.fwhm) & (radius <= hi * seq.fwhm)


def test_seeded_reproducible():
    a = make_empirical_sequence(**SMALL, seed=5, companions=[(10.0, 20.0, 2e-3)])
    b = make_empirical_sequence(**SMALL, seed=5, companions=[(10.0, 20.0, 2e-3)])
    c = make_empirical_sequence(**SMALL, seed=6, companions=[(10.0, 20.0, 2e-3)])
    assert np.array_equal(a.cube, b.cube) and np.array_equal(a.angles, b.angles)
    assert np.array_equal(a.psf, b.psf) and a.fwhm == b.fwhm
    assert not np.allclose(a.cube, c.cube) and not np.allclose(a.angles, c.angles)
    assert a.meta["truth"]["seed"] == 5 and a.meta["generator"] == "make_empirical_sequence"


@pytest.mark.parametrize("instrument", ["gpi_h", "nirc2_lp"])
def test_shapes_and_validation(instrument):
    seq = make_empirical_sequence(n_frames=30, size=71, seed=2, instrument=instrument)
    assert seq.cube.shape == (30, 71, 71) and seq.cube.dtype == np.float64 and np.isfinite(seq.cube).all()
    replace(seq)  # construction validates: angles in degrees, PSF odd and centred, finite pixels
    AdiSequence(seq.cube, seq.angles, seq.psf, seq.pixel_scale, seq.fwhm)
    assert seq.psf.shape[0] % 2 == 1 and seq.psf.shape[0] == seq.psf.shape[1]
    yy, xx = np.indices(seq.psf.shape) - seq.psf.shape[0] // 2
    assert seq.psf[np.hypot(yy, xx) <= seq.fwhm / 2].sum() == pytest.approx(1.0)  # as make_adi_sequence
    truth = seq.meta["truth"]
    turned = abs(float(seq.angles[-1] - seq.angles[0]))
    assert 20.0 <= turned <= 90.0 and turned == pytest.approx(truth["rotation_deg"], abs=1e-6)
    assert np.all(np.diff(seq.angles) != 0) and np.all(np.sign(np.diff(seq.angles)) == np.sign(np.diff(seq.angles)[0]))
    steps = np.diff(truth["times"])
    assert steps.max() > 3 * np.median(steps)  # the gap: frames are not evenly spaced
    assert truth["altitude_deg"].min() >= 30.0
    assert seq.meta["star_flux"] > 0 and truth["parameters"]["noiseless_min"] > 0  # positive before sky removal
    # the pipeline recentred the star (a core centroid) to better than half a pixel, and the check finds
    # the core where the pipeline left it (a halo centroid was pulled ~1 px by the bright asymmetric speckles)
    assert np.abs(truth["residual_centring_px"]).max() < 0.5
    measured = seq.check_centering()
    assert measured is not None and np.hypot(*np.subtract(measured, seq.star_position)) < 0.35  # coma: 0.28 (L')


def test_companion_where_truth_says():
    companions = [(12.0, 60.0, 1e-3)]
    seq = make_empirical_sequence(**SMALL, seed=1, rotation=60.0, companions=companions)
    truth = seq.meta["truth"]["companions"]
    assert truth == [{"separation_px": 12.0, "position_angle_deg": 60.0, "contrast": 1e-3,
                      "flux": 1e-3 * seq.meta["star_flux"]}]
    cy, cx = seq.center
    phi = math.radians(60.0)
    at = (cy + 12 * math.sin(phi), cx + 12 * math.cos(phi))
    final = pca_adi(seq, 5, mode="annular")
    assert snr(final, at, seq.fwhm) > 5
    y, x = np.unravel_index(np.nanargmax(np.where(_ring(seq, 2.5, 5), final, -np.inf)), final.shape)
    assert math.hypot(y - at[0], x - at[1]) < seq.fwhm
    empty = make_empirical_sequence(**SMALL, seed=1, rotation=60.0)
    assert abs(snr(pca_adi(empty, 5, mode="annular"), at, seq.fwhm)) < 3


def test_companion_flux_conserved():
    args = {**SMALL, "seed": 4, "photon_noise": False}
    flux = 2e-3
    with_companion = make_empirical_sequence(**args, companions=[(12.0, 200.0, flux)])
    without = make_empirical_sequence(**args)
    truth = with_companion.meta["truth"]
    conditions = truth["transparency"] * truth["strehl"] / truth["parameters"]["strehl"]
    added = (with_companion.cube - without.cube).sum(axis=(1, 2)) / conditions
    expected = flux * with_companion.meta["star_flux"] * with_companion.psf.sum()  # inject_companions' total
    assert np.mean(added) == pytest.approx(expected, rel=0.08)


def test_speckles_fixed_in_pupil_frame():
    seq = make_empirical_sequence(**SMALL, seed=2, photon_noise=False)
    ring = _ring(seq, 2, 5)
    raw = np.std(seq.cube[0][ring])
    final = median_adi(seq)
    assert np.nanstd(final[ring]) < 0.2 * raw  # median-ADI removes most of the star light
    # a pattern fixed on the sky survives median-ADI instead
    sky_pattern = derotate(seq.cube[:1].repeat(seq.n_frames, axis=0), -seq.angles)
    on_sky = AdiSequence(np.nan_to_num(sky_pattern), seq.angles, seq.psf, seq.pixel_scale, seq.fwhm)
    assert np.nanstd(final[ring]) < 0.3 * np.nanstd(median_adi(on_sky)[ring])
    # but not frozen: the speckles drift, so consecutive-frame differences exceed pure-noise ones
    still = make_empirical_sequence(**SMALL, seed=2, photon_noise=False, speckle_drift=0.0,
                                    pattern_rotation=0.0, strehl_jitter=0.0, transparency_jitter=0.0,
                                    centring_jitter=0.0)
    moving = np.std((seq.cube[-1] - seq.cube[0])[ring])
    frozen = np.std((still.cube[-1] - still.cube[0])[ring])
    assert moving > 2 * frozen


def test_fwhm_matches_the_star():
    seq = make_empirical_sequence(**SMALL, seed=3, photon_noise=False)
    cy, cx = (int(round(v)) for v in seq.center)
    core = np.median(seq.cube, axis=0)[cy - 8:cy + 9, cx - 8:cx + 9]
    fine = ndimage.zoom(core, 8, order=3)  # half-maximum area, sub-pixel
    measured = 2 * math.sqrt(float((fine >= fine.max() / 2).sum()) / 64 / math.pi)
    assert measured == pytest.approx(seq.fwhm, rel=0.10)
    lod = seq.meta["truth"]["parameters"]["lambda_over_d_px"]
    assert 1.0 < seq.fwhm / lod < 1.15  # an obstructed, pixel-integrated Airy core


def test_conditions_jitter_and_pipeline():
    seq = make_empirical_sequence(n_frames=61, size=61, seed=7)
    truth = seq.meta["truth"]
    for name in ("strehl", "transparency"):
        relative = np.std(truth[name]) / np.mean(truth[name])
        assert 0.01 < relative < 0.06  # a few %
    jitter = np.asarray(truth["jitter_px"])
    residual = np.asarray(truth["residual_centring_px"])
    assert 0.2 < np.std(jitter) < 0.4
    assert 0 < np.sqrt(np.mean(residual**2)) < 0.5 * np.sqrt(np.mean(jitter**2))  # recentred, not perfectly
    # bad pixels replaced by a local median: no hot pixel is left in the cube
    clean = make_empirical_sequence(n_frames=10, size=61, seed=7, photon_noise=False, bad_pixels=0)
    dirty = make_empirical_sequence(n_frames=10, size=61, seed=7, photon_noise=False, bad_pixels=40)
    assert len(dirty.meta["truth"]["bad_pixels"]) >= 40 * 10
    far = _ring(clean, 1.5, 100)
    assert np.abs(dirty.cube - clean.cube)[:, far].max() < 0.5 * np.abs(clean.cube[:, far]).max()


def test_bad_input():
    with pytest.raises(ImagingError, match="instrument"):
        make_empirical_sequence(instrument="naco")
    with pytest.raises(ImagingError, match="rotation"):
        make_empirical_sequence(rotation=120.0)
    with pytest.raises(ImagingError, match="rotation"):
        make_empirical_sequence(rotation=10.0)
    with pytest.raises(ImagingError, match="contrast"):
        make_empirical_sequence(size=41, companions=[(10.0, 0.0, -1e-3)])
    with pytest.raises(ImagingError, match="inside the frame"):
        make_empirical_sequence(size=41, companions=[(30.0, 0.0, 1e-3)])
    with pytest.raises(ImagingError, match="strehl_jitter"):
        make_empirical_sequence(strehl_jitter=-0.1)
