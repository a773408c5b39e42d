"""The optional cross-check against VIP-HCI 2.1.1 (a dev-only dependency): the same cube through both.

VIP (Gomez Gonzalez et al. 2017, AJ 154, 7; Christiaens et al. 2023, JOSS 8, 4774) is the community's
reference for ADI post-processing. Interpolators differ (ours: a cubic B-spline operator; VIP here:
scikit-image's biquintic), and they differ most on pixel-scale noise, which no interpolator can
reproduce; so the algorithms are compared on a band-limited cube (the synthetic one smoothed by a
1-pixel Gaussian), where the kernels agree and what remains is the method. Settings that VIP leaves
to the user are set to ours: temporal mean-centring before the SVD (``scaling="temp-mean"``; VIP's
default projects the uncentred frames), the disk inscribed in the frame.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import ndimage

from qusi_lab.imaging import (
    AdiSequence,
    derotate,
    inject_companions,
    make_adi_sequence,
    median_adi,
    pca_adi,
    snr,
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import vip_hci as vip

ROTATION = {"imlib": "skimage", "interpolation": "biquintic"}


@pytest.fixture(scope="module")
def smooth() -> AdiSequence:
    raw = make_adi_sequence(seed=5, n_frames=40, size=61)
    cube = ndimage.gaussian_filter(raw.cube, (0, 1.0, 1.0))
    radius = np.hypot(*(np.indices(raw.shape) - np.asarray(raw.star_position)[:, None, None]))
    cube[:, radius > 30] = 0.0  # outside the inscribed disk: nothing for either SVD
    return AdiSequence(cube, raw.angles, raw.psf, raw.pixel_scale, raw.fwhm, meta=dict(raw.meta))


def _ring(sequence: AdiSequence) -> np.ndarray:
    radius = np.hypot(*(np.indices(sequence.shape) - np.asarray(sequence.star_position)[:, None, None]))
    return (radius > sequence.fwhm) & (radius < 25)


def _agreement(ours: np.ndarray, theirs: np.ndarray, where: np.ndarray) -> tuple[float, float]:
    """Correlation and rms difference relative to VIP's rms, over ``where``."""
    a, b = ours[where], theirs[where]
    return float(np.corrcoef(a, b)[0, 1]), float(np.std(a - b) / np.std(b))


def test_derotation_matches_vip_cube_derotate(smooth):
    theirs = vip.preproc.cube_derotate(smooth.cube, smooth.angles, **ROTATION)
    correlation, difference = _agreement(derotate(smooth.cube, smooth.angles), theirs,
                                         np.broadcast_to(_ring(smooth), smooth.cube.shape))
    assert correlation > 0.9999 and difference < 0.01  # measured 0.99999 and 0.004


@pytest.mark.parametrize("n_components", [1, 5, 12])
def test_full_frame_pca_adi_matches_vip_pca(smooth, n_components):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = vip.psfsub.pca(smooth.cube, smooth.angles, ncomp=n_components, scaling="temp-mean",
                                verbose=False, **ROTATION)
    correlation, difference = _agreement(pca_adi(smooth, n_components), theirs, _ring(smooth))
    assert correlation > 0.995 and difference < 0.1  # measured 0.9989 and 0.046 at 5 components


def test_median_adi_matches_vip_median_sub(smooth):
    theirs = vip.psfsub.median_sub(smooth.cube, smooth.angles, verbose=False, **ROTATION)
    correlation, difference = _agreement(median_adi(smooth), theirs, _ring(smooth))
    assert correlation > 0.995 and difference < 0.1  # measured 0.9988 and 0.050


def test_injection_matches_vip_cube_inject_companions():
    sequence = make_adi_sequence(seed=6, n_frames=30, size=61)
    for separation, angle, flux in [(12.0, 40.0, 500.0), (7.3, 201.5, 80.0)]:
        ours = inject_companions(sequence, separation, angle, flux).cube - sequence.cube
        theirs = vip.fm.cube_inject_companions(sequence.cube, sequence.psf, sequence.angles, flevel=flux,
                                               rad_dists=[separation], theta=angle, imlib="vip-fft",
                                               verbose=False) - sequence.cube
        assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.9999  # measured 0.999995
        assert ours.sum() / theirs.sum() == pytest.approx(1.0, abs=0.005)  # the same flux (0.16 % apart)
        peak = np.unravel_index(np.argmax(ours[0]), ours[0].shape)
        assert peak == np.unravel_index(np.argmax(theirs[0]), theirs[0].shape)  # same place, same turn


def test_snr_agrees_with_vip_within_the_methods_own_spread():
    """Both follow Mawet et al. (2014); they place the apertures differently (ours: floor(2 pi r / FWHM)
    evenly around the ring, Mawet's count; VIP: tangent apertures, 2 arcsin(FWHM / 2r) apart) and ours
    takes pixel-centre photometry. No bias; the scatter is that between VIP and exact photometry on our
    apertures (0.15 rms, measured)."""
    sequence = make_adi_sequence(seed=5, n_frames=40, size=61)
    final = np.nan_to_num(pca_adi(inject_companions(sequence, 11.0, 40.0, 300.0), 5))
    rng = np.random.default_rng(0)
    ours, theirs = [], []
    cy, cx = sequence.star_position
    for _ in range(60):
        radius, phi = rng.uniform(6.0, 22.0), rng.uniform(0.0, 2 * math.pi)
        y, x = cy + radius * math.sin(phi), cx + radius * math.cos(phi)
        ours.append(snr(final, (y, x), sequence.fwhm))
        theirs.append(vip.metrics.snr(final, (x, y), sequence.fwhm))
    ours_array, theirs_array = np.asarray(ours), np.asarray(theirs)
    assert abs(np.mean(ours_array - theirs_array)) < 0.1  # measured 0.01
    assert np.std(ours_array - theirs_array) < 0.35  # measured 0.24
    y, x = cy + 11.0 * math.sin(math.radians(40.0)), cx + 11.0 * math.cos(math.radians(40.0))
    assert snr(final, (y, x), sequence.fwhm) == pytest.approx(vip.metrics.snr(final, (x, y), sequence.fwhm), abs=0.3)
