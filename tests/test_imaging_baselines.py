"""Classical ADI baselines: derotation convention, median/PCA-ADI, Mawet S/N, contrast curves."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from qusi_lab.imaging import AdiSequence, contrast_curve, inject_companions
from qusi_lab.imaging.baselines import (
    collapse,
    derotate,
    median_adi,
    pca_adi,
    snr,
    snr_map,
)

N, FWHM = 41, 3.0
CENTER = ((N - 1) / 2.0, (N - 1) / 2.0)


def gaussian_psf(size: int = 9, fwhm: float = FWHM) -> np.ndarray:
    yy, xx = np.indices((size, size)) - size // 2
    psf = np.exp(-(yy**2 + xx**2) / (2 * (fwhm / 2.3548) ** 2))
    return psf / psf[np.hypot(yy, xx) <= fwhm / 2].sum()  # unit flux in a fwhm-diameter aperture


def make_sequence(*, companion: float = 0.0, frames: int = 40, rotation: float = 120.0, seed: int = 0,
                  modes: int = 3, separation: float = 10.0, position_angle: float = 30.0,
                  halo: bool = False) -> AdiSequence:
    """Noise + a static speckle pattern + ``modes`` speckle patterns varying in time (+ a companion)."""
    rng = np.random.default_rng(seed)
    angles = np.linspace(0.0, rotation, frames)
    radius = np.hypot(*(np.indices((N, N)) - (N - 1) / 2.0))
    envelope = 20.0 / (1.0 + (radius / 3.0) ** 2) if halo else 1.0
    def speckles() -> np.ndarray:
        return ndimage.gaussian_filter(rng.normal(size=(N, N)), 1.2) * 10 * envelope
    cube = np.broadcast_to(speckles(), (frames, N, N)).copy()
    for _ in range(modes):
        cube += rng.normal(size=(frames, 1, 1)) * speckles()
    if halo:  # fast-varying halo speckles: the noise PCA cannot remove, falling with separation
        cube += np.stack([speckles() * 0.3 for _ in range(frames)])
    cube += rng.normal(size=cube.shape) * 0.3
    sequence = AdiSequence(cube, angles, gaussian_psf(), 0.0125, FWHM)
    return inject_companions(sequence, separation, position_angle, companion) if companion else sequence


def sky_position(separation: float, position_angle: float) -> tuple[float, float]:
    phi = np.deg2rad(position_angle)
    return CENTER[0] + separation * np.sin(phi), CENTER[1] + separation * np.cos(phi)


def test_derotate_recovers_the_sky_image_rotated_by_plus_angles():
    rng = np.random.default_rng(3)
    sky = ndimage.gaussian_filter(rng.normal(size=(N, N)), 2.0)
    angles = np.array([0.0, 17.0, 45.0, 90.0, 133.0])
    yy, xx = np.indices((N, N)) - CENTER[0]
    frames = []
    for angle in angles:  # the sky at position angle phi shows at phi - angle in the frame
        t = np.deg2rad(angle)
        frames.append(ndimage.map_coordinates(sky, [CENTER[0] + xx * np.sin(t) + yy * np.cos(t),
                                                    CENTER[1] + xx * np.cos(t) - yy * np.sin(t)], order=5))
    derotated = derotate(np.array(frames), angles)
    inside = np.hypot(yy, xx) <= N / 2 - 3
    assert np.abs(derotated[:, inside] - sky[inside]).max() < 0.02 * np.abs(sky).max()
    assert not np.isnan(derotated[:, inside]).any()


def test_derotate_is_scipy_bicubic_and_undoes_the_injection_geometry():
    rng = np.random.default_rng(4)
    cube, angles = rng.normal(size=(3, N, N)), np.array([10.0, -35.0, 200.0])
    out = derotate(cube, angles)
    yy, xx = np.indices((N, N)) - CENTER[0]
    for k, angle in enumerate(angles):
        t = np.deg2rad(angle)
        ref = ndimage.map_coordinates(cube[k], [CENTER[0] - xx * np.sin(t) + yy * np.cos(t),
                                                CENTER[1] + xx * np.cos(t) + yy * np.sin(t)], order=3, mode="mirror")
        inside = np.hypot(yy, xx) <= (N - 1) / 2
        np.testing.assert_allclose(out[k][inside], ref[inside], atol=1e-10)
    empty = AdiSequence(np.zeros((3, N, N)), angles, gaussian_psf(), 0.0125, FWHM, validate=False)
    injected = inject_companions(empty, 12.0, 0.0, 1.0).cube
    peaks = [np.unravel_index(np.nanargmax(f), f.shape) for f in derotate(injected, angles)]
    assert all(p == (20, 32) for p in peaks)  # position angle 0: +x of the centre in every frame


def test_collapse_is_the_median_by_default_and_handles_nan():
    cube = np.random.default_rng(0).normal(size=(6, 4, 4))
    np.testing.assert_allclose(collapse(cube), np.median(cube, axis=0))
    np.testing.assert_allclose(collapse(cube[:5]), np.median(cube[:5], axis=0))
    np.testing.assert_allclose(collapse(cube, "mean"), cube.mean(axis=0))
    cube[0, 0, 0] = np.nan
    assert collapse(cube)[0, 0] == np.median(cube[1:, 0, 0])
    with pytest.raises(ValueError):
        collapse(cube, "sum")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["median", "pca", "annular"])
def test_baselines_recover_a_companion_and_nothing_without_it(method):
    def final(sequence: AdiSequence) -> np.ndarray:
        if method == "median":
            return median_adi(sequence)
        return pca_adi(sequence, 5, mode="full" if method == "pca" else "annular")
    position = sky_position(10.0, 30.0)
    with_planet = final(make_sequence(companion=80.0))
    # a bright companion is partly taken by the components (S/N ~7 for PCA, ~19 median) against a
    # null ring maximum of ~4: 6 separates them
    assert snr(with_planet, position, FWHM) > 6
    ring = np.abs(np.hypot(*(np.indices((N, N)) - CENTER[0])) - 10.0) <= 1.5
    assert np.nanargmax(np.where(ring, snr_map(with_planet, FWHM), -np.inf)) == np.ravel_multi_index(
        tuple(int(round(p)) for p in position), (N, N))
    assert np.nanmax(snr_map(final(make_sequence()), FWHM)[ring]) < 5


def test_pca_list_equals_single_calls_and_residuals_collapse_to_the_final_frame():
    sequence = make_sequence(companion=20.0, frames=24)
    for mode in ("full", "annular"):
        stack, residuals = pca_adi(sequence, [1, 4, 2], mode=mode, mask_center=2.0, return_residuals=True)
        assert stack.shape == (3, N, N) and residuals.shape == (3, 24, N, N)
        for index, count in enumerate([1, 4, 2]):
            np.testing.assert_allclose(stack[index], pca_adi(sequence, count, mode=mode, mask_center=2.0),
                                       atol=1e-10, equal_nan=True)
            np.testing.assert_allclose(collapse(residuals[index]), stack[index], atol=1e-12, equal_nan=True)
        assert np.isnan(stack[:, 20, 20]).all()  # the masked centre


def test_numpy_and_torch_engines_agree():
    sequence = make_sequence(companion=20.0, frames=24)
    for mode in ("full", "annular"):
        a = pca_adi(sequence, [0, 3, 8], mode=mode, engine="numpy")
        b = pca_adi(sequence, [0, 3, 8], mode=mode, engine="torch")
        np.testing.assert_allclose(a, b, atol=1e-8 * np.nanmax(np.abs(a)), equal_nan=True)


def test_more_components_remove_more_speckles():
    sequence = make_sequence(modes=5, frames=30)
    _, residuals = pca_adi(sequence, [0, 1, 3, 5], return_residuals=True)
    rms = [float(np.sqrt(np.nanmean(r**2))) for r in residuals]
    assert rms[0] > rms[1] > rms[2] > rms[3]
    assert rms[3] < 0.1 * rms[0]


def test_pca_rejects_bad_arguments():
    sequence = make_sequence(frames=10)
    with pytest.raises(ValueError, match="n_components"):
        pca_adi(sequence, 10)
    with pytest.raises(ValueError, match="mode"):
        pca_adi(sequence, 1, mode="ring")  # type: ignore[call-overload]


def test_mawet_snr_has_unit_scatter_on_noise_and_the_t_correction_lowers_it():
    rng = np.random.default_rng(7)
    size = 101
    frame = ndimage.gaussian_filter(rng.normal(size=(size, size)), FWHM / 2.3548)
    values = snr_map(frame, FWHM)
    radius = np.hypot(*(np.indices((size, size)) - (size - 1) / 2.0))
    for separation in (6.0, 15.0, 30.0):
        ring = np.abs(radius - separation) < 1.0
        assert 0.6 < np.nanstd(values[ring]) < 1.5
        assert abs(np.nanmean(values[ring])) < 0.5
    frame[50, 54] += 5.0  # a point at 4 px (1.3 fwhm: n = 8 apertures) and one at 30 px
    frame[50, 80] += 5.0
    small = snr(frame, (50, 54), FWHM) / snr(frame, (50, 54), FWHM, correction=False)
    large = snr(frame, (50, 80), FWHM) / snr(frame, (50, 80), FWHM, correction=False)
    assert small < large < 1
    assert np.isclose(small, 1 / np.sqrt(1 + 1 / 7))
    assert np.isnan(snr(frame, (50, 50.5), FWHM))  # too close: fewer than 3 apertures
    np.testing.assert_allclose(snr_map(frame, FWHM)[50, [54, 80]],
                               [snr(frame, (50, 54), FWHM), snr(frame, (50, 80), FWHM)])


def test_contrast_curve_throughput_and_falling_contrast_in_a_halo():
    sequence = make_sequence(halo=True, frames=30, modes=2)
    curve = contrast_curve(sequence, n_components=2, separations=[4.0, 7.0, 10.0, 13.0, 16.0], n_branches=2)
    assert list(curve.columns) == ["separation_px", "separation_fwhm", "separation_arcsec", "noise",
                                   "throughput", "contrast"]
    assert ((curve.throughput > 0) & (curve.throughput <= 1)).all()
    np.testing.assert_allclose(curve.separation_arcsec, curve.separation_px * 0.0125)
    assert (np.diff(curve.contrast) < 0).all()


def test_snr_map_masks_the_core_by_default():
    frame = np.random.default_rng(2).normal(size=(41, 41))
    radius = np.hypot(*(np.indices((41, 41)) - CENTER[0]))
    default, open_core = snr_map(frame, FWHM), snr_map(frame, FWHM, mask_center=0)
    assert np.isnan(default[radius < FWHM]).all() and np.isfinite(open_core[(radius >= FWHM / 2) & (radius < FWHM)]).all()
    np.testing.assert_array_equal(default[radius >= FWHM], open_core[radius >= FWHM])
