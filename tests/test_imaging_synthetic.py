"""Synthetic ADI generator: determinism, parallactic angles, pupil-fixed AR(1) speckles, truth, speed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.baselines import derotate, median_adi, pca_adi, snr
from qusi_lab.imaging.synthetic import airy_psf, make_adi_sequence, parallactic_angle

PARANAL = -24.6275


def test_seeded_determinism_shape_dtype():
    a = make_adi_sequence(n_frames=20, size=41, seed=5)
    b = make_adi_sequence(n_frames=20, size=41, seed=5)
    c = make_adi_sequence(n_frames=20, size=41, seed=6)
    assert a.cube.shape == (20, 41, 41) and a.cube.dtype == np.float64 and np.isfinite(a.cube).all()
    assert np.array_equal(a.cube, b.cube) and np.array_equal(a.angles, b.angles)
    assert not np.allclose(a.cube, c.cube)
    assert a.meta["truth"]["seed"] == 5 and a.meta["star_flux"] > 0


@pytest.mark.parametrize("frames", [40, 61, 100])
def test_rotation_range_and_monotonic_angles(frames):
    for seed in range(3):
        seq = make_adi_sequence(n_frames=frames, size=31, seed=seed, photon_noise=False)
        turned = abs(seq.angles[-1] - seq.angles[0])
        assert 40 - 1e-6 <= turned <= 60 + 1e-6
        assert turned == pytest.approx(seq.meta["truth"]["rotation_deg"], abs=1e-6)
        assert (np.diff(seq.angles) > 0).all()
    seq = make_adi_sequence(n_frames=40, size=31, rotation=85.0, photon_noise=False)
    assert seq.angles[-1] - seq.angles[0] == pytest.approx(85.0, abs=1e-6)
    north = make_adi_sequence(n_frames=40, size=31, rotation=50.0, declination=0.0, photon_noise=False)
    assert (np.diff(north.angles) < 0).all() and abs(abs(north.angles).mean() - 180) < 30  # around 180
    assert north.angles[0] - north.angles[-1] == pytest.approx(50.0, abs=1e-6)


def test_parallactic_angle_formula():
    # transit: 0 south of the zenith, 180 north of it
    assert parallactic_angle(0.0, -51.07, PARANAL)[0] == pytest.approx(0.0)
    assert abs(parallactic_angle(0.0, 10.0, PARANAL)[0]) == pytest.approx(180.0)
    # hand computation at H = 1 h (15 deg), dec = -51.07: tan(lat) cos(dec) = -0.28796,
    # sin(dec) cos(H) = -0.75130, so q = atan2(0.25882, 0.46334) = 29.19 deg
    assert parallactic_angle(1.0, -51.07, PARANAL)[0] == pytest.approx(29.19, abs=0.01)
    # independent formula: sin q = sin H cos(lat) / sin z (|q| < 90 here)
    lat, dec = math.radians(PARANAL), math.radians(-60.0)
    for hours in (-2.0, -0.5, 0.7, 1.5):
        h = math.radians(15 * hours)
        z = math.acos(math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(h))
        expected = math.degrees(math.asin(math.sin(h) * math.cos(lat) / math.sin(z)))
        assert parallactic_angle(hours, -60.0, PARANAL)[0] == pytest.approx(expected, abs=1e-9)


def test_psf_normalisation_and_size():
    for lod in (3.5, 3.3):
        psf, fwhm = airy_psf(lod)
        yy, xx = np.indices(psf.shape) - psf.shape[0] // 2
        assert psf.shape[0] % 2 == 1 and np.unravel_index(psf.argmax(), psf.shape) == (psf.shape[0] // 2,) * 2
        assert psf[np.hypot(yy, xx) <= fwhm / 2].sum() == pytest.approx(1.0)
        assert 1.0 < fwhm / lod < 1.05  # obstructed Airy FWHM ~ 1.02 lambda/D
    assert 3.5 < make_adi_sequence(n_frames=5, size=21).fwhm < 4.0
    assert 3.2 < make_adi_sequence(n_frames=5, size=21, band="H").fwhm < 3.6


def _ring(seq, lo, hi):
    c = (seq.shape[0] - 1) / 2
    radius = np.hypot(*(np.indices(seq.shape) - c))
    lod = seq.meta["truth"]["parameters"]["lambda_over_d_px"]
    return (radius >= lo * lod) & (radius <= hi * lod)


def test_speckles_fixed_in_pupil_frame():
    seq = make_adi_sequence(n_frames=40, size=61, seed=2, photon_noise=False, fast_averaging=1e6)
    ring = _ring(seq, 2, 4)
    speckle_rms = np.std(seq.cube[0][ring])  # halo slope + Airy rings + speckles of one frame
    final = median_adi(seq)
    assert np.nanstd(final[ring]) < 0.05 * speckle_rms
    # a pattern fixed on the SKY instead is kept by median-ADI: derotation aligns it, the median keeps it
    sky_pattern = derotate(seq.cube[:1].repeat(seq.n_frames, axis=0), -seq.angles)
    on_sky = type(seq)(np.nan_to_num(sky_pattern), seq.angles, seq.psf, seq.pixel_scale, seq.fwhm)
    assert np.nanstd(final[ring]) < 0.3 * np.nanstd(median_adi(on_sky)[ring])


def test_quasi_static_ar1_correlation():
    seq = make_adi_sequence(n_frames=61, size=61, seed=4, photon_noise=False, fast_averaging=1e8,
                            static_nm=0.0, quasi_static_nm=60.0, decorrelation_minutes=40.0)
    ring = _ring(seq, 2, 5)
    perfect = make_adi_sequence(n_frames=61, size=61, seed=4, photon_noise=False, fast_averaging=1e8,
                                static_nm=0.0, quasi_static_nm=0.0)
    pixels = (seq.cube - perfect.cube)[:, ring]  # the aberration speckles alone (no Airy rings, no halo)

    def corr(lag: int) -> float:
        return float(np.mean([np.corrcoef(pixels[k], pixels[k + lag])[0, 1] for k in range(61 - lag)]))

    values = [corr(lag) for lag in (1, 5, 20, 50)]
    assert values[0] > 0.9
    assert values[0] > values[1] > values[2] > values[3]
    assert values[3] < 0.5  # exp(-lag dt / tau) ~ 0.1 at lag 50 (independent speckle patterns)


def test_companion_recovered_and_truth():
    seq = make_adi_sequence(n_frames=40, size=61, seed=7, companions=[(14.0, 60.0, 3e-3)])
    truth = seq.meta["truth"]["companions"]
    assert truth == [{"separation_px": 14.0, "position_angle_deg": 60.0, "contrast": 3e-3,
                      "flux": 3e-3 * seq.meta["star_flux"]}]
    final = pca_adi(seq, 5, mode="annular")
    c = (seq.shape[0] - 1) / 2
    phi = math.radians(60.0)
    at = (c + 14 * math.sin(phi), c + 14 * math.cos(phi))
    assert snr(final, at, seq.fwhm) > 5
    y, x = np.unravel_index(np.nanargmax(np.where(_ring(seq, 3, 5), final, -np.inf)), final.shape)
    assert math.hypot(y - at[0], x - at[1]) < seq.fwhm
    empty = make_adi_sequence(n_frames=40, size=61, seed=7)
    assert snr(pca_adi(empty, 5, mode="annular"), at, seq.fwhm) < 3


def test_coronagraph_attenuates_centre():
    plain = make_adi_sequence(n_frames=5, size=41, photon_noise=False)
    corono = make_adi_sequence(n_frames=5, size=41, photon_noise=False, coronagraph=True)
    assert corono.cube[0, 20, 20] < 0.01 * plain.cube[0, 20, 20]


def test_bad_input():
    with pytest.raises(ImagingError, match="band"):
        make_adi_sequence(band="K")
    with pytest.raises(ImagingError, match="site"):
        make_adi_sequence(site="moon")
    with pytest.raises(ImagingError, match="rotation"):
        make_adi_sequence(rotation=-5.0)
    with pytest.raises(ImagingError, match="altitude"):
        make_adi_sequence(rotation=60.0, hour_angle_center=5.0)
    with pytest.raises(ImagingError):
        make_adi_sequence(companions=[(10.0, 0.0, -1e-3)])
    with pytest.raises(ImagingError, match="inside the frame"):
        make_adi_sequence(size=41, companions=[(30.0, 0.0, 1e-3)])
