"""MLAR samples: one SVD per annulus, explained-variance levels, one collapse, opposite-angle negatives."""

from __future__ import annotations

import numpy as np
import pytest
from test_imaging_baselines import CENTER, FWHM, make_sequence, sky_position

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.baselines import pca_adi
from qusi_lab.imaging.samples import (
    MlarSamples,
    default_separations,
    mlar_annulus,
    mlar_levels,
    mlar_stacks,
    patch_size_for,
)


def test_levels_follow_the_cumulative_explained_variance():
    rng = np.random.default_rng(0)
    modes = rng.normal(size=(6, 300)) * np.array([30, 20, 10, 5, 2, 1])[:, None]
    block = rng.normal(size=(40, 6)) @ modes + rng.normal(size=(40, 300)) * 0.5
    levels = mlar_levels(block, n_levels=10, max_variance=0.99)
    assert len(levels) == 10 and levels == sorted(levels) and levels[0] == 1
    centred = block - block.mean(axis=0)
    spectrum = np.linalg.svd(centred, compute_uv=False) ** 2
    explained = np.cumsum(spectrum) / spectrum.sum()
    assert explained[levels[-1] - 1] >= 0.99 > explained[levels[-1] - 2]  # the last level reaches 0.99
    with pytest.raises(ValueError, match="max_variance"):
        mlar_levels(block, max_variance=1.0)


def test_the_distinct_ladder_adds_a_component_at_each_level():
    rng = np.random.default_rng(0)
    # one dominant mode (a star whose Strehl varies): the cumulative-variance ladder repeats 1-3 components
    block = rng.normal(size=(40, 1)) * rng.normal(size=(1, 300)) * 30 + rng.normal(size=(40, 300))
    cevr = mlar_levels(block, n_levels=12)
    distinct = mlar_levels(block, n_levels=12, ladder="distinct")
    assert len(set(cevr)) < 12 and distinct == sorted(set(distinct)) and len(distinct) == 12
    assert distinct[0] == 1 and distinct[-1] == max(cevr[-1], 12)
    assert all(d >= c for d, c in zip(distinct, cevr, strict=True))  # never fewer components than the ladder asks
    with pytest.raises(ValueError, match="ladder"):
        mlar_levels(block, ladder="log")


def test_the_last_level_puts_the_companion_where_pca_adi_does():
    sequence = make_sequence(companion=20.0, frames=30)
    annulus = mlar_annulus(sequence, 10.0, n_levels=5)
    assert annulus.stack.shape == (5, 41, 41)
    # one SVD over the annulus' band, as an annular PCA over everything outside its inner edge
    count = annulus.counts[-1]
    reference = pca_adi(sequence, count, mode="annular", annulus_width=100.0, mask_center=annulus.inner - 1.0)
    ring = np.isfinite(annulus.stack[-1])
    assert ring.sum() > 100
    # not identical (a different SVD region), but the companion is where both put it
    y, x = (int(round(v)) for v in sky_position(10.0, 30.0))
    assert np.nanargmax(annulus.stack[-1]) == np.ravel_multi_index((y, x), (41, 41))
    assert np.nanargmax(np.where(ring, reference, -np.inf)) == np.ravel_multi_index((y, x), (41, 41))


def test_a_companion_persists_across_levels_and_smears_with_opposite_angles():
    sequence = make_sequence(companion=25.0, frames=40)
    y, x = sky_position(10.0, 30.0)
    size = patch_size_for(FWHM)
    straight = mlar_annulus(sequence, 10.0, n_levels=8).patch(y, x, size)
    flipped = mlar_annulus(sequence, 10.0, n_levels=8, opposite=True).patch(y, x, size)
    assert straight.shape == (8, size, size)
    assert (straight[:, size // 2, size // 2] > 4).all()  # > 4 robust sigma at every level (4.9 at one component)
    assert np.abs(flipped[:, size // 2, size // 2]).max() < 0.5 * straight[:, size // 2, size // 2].min()


def test_each_level_reads_in_units_of_its_annulus_noise():
    annulus = mlar_annulus(make_sequence(frames=30), 12.0, n_levels=6)
    ring = np.abs(np.hypot(*(np.indices((41, 41)) - CENTER[0])) - 12.0) <= FWHM / 2
    values = annulus.stack[:, ring]
    mad = 1.4826 * np.median(np.abs(values - np.median(values, axis=1, keepdims=True)), axis=1)
    np.testing.assert_allclose(mad, 1.0, rtol=0.35)
    assert (annulus.noise > 0).all()


def test_an_annulus_that_does_not_fit_names_the_cube():
    sequence = make_sequence(frames=10)
    sequence.path = "cube.fits"
    with pytest.raises(ImagingError, match="cube.fits: an annulus at 19.0 px"):
        mlar_annulus(sequence, 19.0)
    with pytest.raises(ImagingError, match="leaves the frame"):
        mlar_annulus(sequence, 10.0).patch(20, 0, 7)


def test_samples_round_trip_through_npz_and_bad_files_are_named(tmp_path):
    rng = np.random.default_rng(1)
    samples = MlarSamples(rng.normal(size=(6, 4, 7, 7)).astype(np.float32), np.array([0, 1] * 3),
                          np.full(6, 10.0), np.zeros((6, 2), dtype=np.int64), np.array([0, 3.0] * 3),
                          {"seed": 1, "counts": {"10.000": [1, 2, 3, 4]}})
    path = samples.save(tmp_path / "samples.npz")
    back = MlarSamples.load(path)
    np.testing.assert_array_equal(back.x, samples.x)
    np.testing.assert_array_equal(back.y, samples.y)
    assert back.provenance == samples.provenance and back.n_levels == 4 and back.patch_size == 7
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImagingError, match="truncated.npz: not a readable MLAR sample file"):
        MlarSamples.load(truncated)
    with pytest.raises(ImagingError, match="missing.npz: no such MLAR sample file"):
        MlarSamples.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(ImagingError, match="other.npz: not an MLAR sample file"):
        MlarSamples.load(tmp_path / "other.npz")



@pytest.mark.parametrize("separation", [3.0, 4.5, 7.0, 10.0])
def test_every_patch_of_an_annulus_is_whole_corners_included(separation):
    sequence = make_sequence(frames=12)
    annulus = mlar_annulus(sequence, separation, n_levels=3)
    size = patch_size_for(FWHM)
    positions = annulus.positions(step=FWHM)
    assert len(positions) > 10
    for y, x in positions:
        assert np.isfinite(annulus.patch(y, x, size)).all(), (y, x)


def test_default_separations_all_fit():
    sequence = make_sequence(frames=8)
    radii = default_separations(sequence)
    assert radii[0] == FWHM and len(radii) >= 3
    for radius in radii:
        mlar_annulus(sequence, radius, n_levels=2)


def test_make_samples_is_balanced_seeded_and_positives_stand_out(tmp_path):
    from qusi_lab.imaging.samples import make_samples

    sequence = make_sequence(frames=20)
    sequence.path = "cube.fits"
    samples = make_samples(sequence, (20.0, 40.0), separations=[7.0, 10.0], n_per_annulus=6, n_levels=4, seed=3)
    assert len(samples) == 24 and int(samples.y.sum()) == 12 and samples.x.shape == (24, 4, 7, 7)
    assert np.isfinite(samples.x).all()
    positives, negatives = samples.x[samples.y == 1], samples.x[samples.y == 0]
    assert positives[:, :, 3, 3].mean() > 3 * max(negatives[:, :, 3, 3].std(), 0.5)
    assert ((samples.flux[samples.y == 1] >= 20) & (samples.flux[samples.y == 1] <= 40)).all()
    assert (samples.flux[samples.y == 0] == 0).all()
    assert samples.provenance["cube"] == "cube.fits" and set(samples.provenance["counts"]) == {"7.000", "10.000"}
    again = make_samples(sequence, (20.0, 40.0), separations=[7.0, 10.0], n_per_annulus=6, n_levels=4, seed=3)
    np.testing.assert_array_equal(again.x, samples.x)
    back = MlarSamples.load(samples.save(tmp_path / "s.npz"))
    np.testing.assert_array_equal(back.flux, samples.flux)
    with pytest.raises(ValueError, match="fluxes"):
        make_samples(sequence, (40.0, 20.0), separations=[7.0])


def test_positives_fill_the_ring_the_negatives_come_from():
    """No radial cue: positives sit across the same band as negatives (not all on the separation)."""
    import pandas as pd

    from qusi_lab.imaging.samples import make_samples

    sequence = make_sequence(frames=20)
    sequence.path = "cube.fits"
    fwhm = float(sequence.fwhm)
    samples = make_samples(sequence, (20.0, 40.0), separations=[10.0], n_per_annulus=60, n_levels=3, seed=1)

    def radii(label: int) -> np.ndarray:
        where = samples.position[samples.y == label]
        return np.hypot(where[:, 0] - CENTER[0], where[:, 1] - CENTER[1])

    positives, negatives = radii(1), radii(0)
    assert np.abs(positives - 10.0).max() <= fwhm / 2 + 1e-9 and np.abs(negatives - 10.0).max() <= fwhm / 2 + 1e-9
    assert (positives < 10.0 - fwhm / 4).any() and (positives > 10.0 + fwhm / 4).any()  # both edges
    assert abs(positives.mean() - negatives.mean()) < 0.5
    assert np.isfinite(samples.x).all() and samples.provenance["spread_fwhm"] == 1.0
    # the old recipe (spread=0): every companion on the separation itself
    centred = make_samples(sequence, (20.0, 40.0), separations=[10.0], n_per_annulus=20, n_levels=3, seed=1,
                           spread=0.0)
    where = centred.position[centred.y == 1]
    assert np.abs(np.hypot(where[:, 0] - CENTER[0], where[:, 1] - CENTER[1]) - 10.0).max() <= 0.75
    # no companion inside min_separation: the ring at 1 FWHM gets them at 1-1.5 FWHM only
    near = make_samples(sequence, (20.0, 40.0), separations=[fwhm], n_per_annulus=30, n_levels=3, seed=2)
    where = near.position[near.y == 1]
    assert np.hypot(where[:, 0] - CENTER[0], where[:, 1] - CENTER[1]).min() >= fwhm - 1e-9
    with pytest.raises(ValueError, match="spread"):
        make_samples(sequence, (20.0, 40.0), separations=[10.0], spread=1.5)
    # a calibration table that stops at the separation cannot give fluxes at its ring's outer edge
    table = pd.DataFrame({"separation": [8.0, 10.0], "flux_low": [20.0, 20.0], "flux_high": [40.0, 40.0]})
    with pytest.raises(ImagingError, match=r"cube\.fits.*calibrate at separations"):
        make_samples(sequence, table, separations=[10.0], n_per_annulus=60, n_levels=3, seed=1)
    # a table that covers exactly the band (10 +- FWHM / 2) is enough: sub-pixel offsets stay inside it
    table = pd.DataFrame({"separation": [10.0 - fwhm / 2, 10.0 + fwhm / 2], "flux_low": [20.0, 20.0],
                          "flux_high": [40.0, 40.0]})
    calibrated = make_samples(sequence, table, separations=[10.0], n_per_annulus=80, n_levels=3, seed=1)
    assert ((calibrated.flux[calibrated.y == 1] >= 20) & (calibrated.flux[calibrated.y == 1] <= 40)).all()
    with pytest.raises(ValueError, match="flux_high"):
        make_samples(sequence, table.drop(columns="flux_high"), separations=[10.0])


def test_concatenate_refuses_samples_of_different_shapes():
    def samples(levels: int) -> MlarSamples:
        return MlarSamples(np.zeros((2, levels, 5, 5), np.float32), np.array([0, 1]), np.ones(2),
                           np.zeros((2, 2), np.int64), np.zeros(2), {})
    assert len(MlarSamples.concatenate([samples(3), samples(3)])) == 4
    with pytest.raises(ImagingError, match="different shapes"):
        MlarSamples.concatenate([samples(3), samples(4)])


def test_each_sample_keeps_its_cube_and_fwhm_through_concatenation_and_subsets():
    def samples(cube: str, fwhm: float, n: int) -> MlarSamples:
        return MlarSamples(np.zeros((n, 3, 5, 5), np.float32), np.arange(n) % 2, np.full(n, 2.0 * fwhm),
                           np.zeros((n, 2), np.int64), np.zeros(n), {"cube": cube, "fwhm": fwhm})
    joined = MlarSamples.concatenate([samples("a.fits", 4.0, 2), samples("b.fits", 5.0, 3)])
    assert joined.cubes == ["a.fits"] * 2 + ["b.fits"] * 3
    assert joined.separation_fwhm.tolist() == [2.0] * 5
    part = joined.subset([4, 0])
    assert part.cubes == ["b.fits", "a.fits"] and part.per_sample("fwhm") == [5.0, 4.0]
    again = MlarSamples.concatenate([part, samples("c.fits", 3.0, 1)])
    assert again.cubes == ["b.fits", "a.fits", "c.fits"]
    from qusi_lab.imaging import MlarDataset

    dataset = MlarDataset(again.subset([2, 1]))
    assert dataset.target_ids == ("c.fits", "a.fits")
    assert dataset.subset([1]).target_ids == ("a.fits",)
    legacy = MlarSamples(joined.x, joined.y, joined.separation, joined.position, joined.flux,
                         {"parts": [{"cube": "a.fits"}, {"cube": "b.fits"}]})  # lengths not recorded
    assert legacy.cubes == [""] * 5 and np.isnan(legacy.separation_fwhm).all()


def brute_force_annulus(sequence, separation: float, counts: list[int], *, opposite: bool = False,
                        fit_region: str = "ring") -> np.ndarray:
    """The MLAR stack the slow way: a full SVD of the fit pixels (within one ring width of the separation,
    or the whole band), their frame-space components removed from every pixel of the band, every residual
    frame derotated by ``map_coordinates`` (bicubic, mirror, the whole frame prefiltered), ``np.median``,
    then the ring's median and MAD."""
    from scipy import ndimage

    size, ring = patch_size_for(sequence.fwhm), float(sequence.fwhm)
    half = size // 2
    corner = half * np.sqrt(2.0)
    inner, outer = max(0.0, separation - ring / 2 - corner - 1), separation + ring / 2 + corner + 1
    ny, nx = sequence.shape
    (cy, cx), frames = sequence.star_position, sequence.n_frames
    yy, xx = np.indices((ny, nx))
    radius = np.hypot(yy - cy, xx - cx).ravel()
    region = (radius >= inner) & (radius <= outer)
    output = (radius >= (inner + 1 if inner > 0 else 0)) & (radius <= outer - 1)
    block = sequence.cube.reshape(frames, -1)[:, region]
    block = block - block.mean(axis=0)
    fit = np.abs(radius[region] - separation) <= ring if fit_region == "ring" else np.ones(region.sum(), bool)
    u = np.linalg.svd(block[:, fit], full_matrices=False)[0]  # frame-space components of the fit pixels
    angles = np.deg2rad(-sequence.angles if opposite else sequence.angles)
    finals = []
    for count in counts:
        residual = np.zeros((frames, ny * nx))
        residual[:, region] = block - u[:, :count] @ (u[:, :count].T @ block)
        derotated = [ndimage.map_coordinates(frame.reshape(ny, nx),
                                             [cy - (xx - cx) * np.sin(t) + (yy - cy) * np.cos(t),
                                              cx + (xx - cx) * np.cos(t) + (yy - cy) * np.sin(t)],
                                             order=3, mode="mirror").ravel()[output]
                     for frame, t in zip(residual, angles, strict=True)]
        finals.append(np.median(derotated, axis=0))
    finals = np.asarray(finals)
    ring_pixels = np.abs(radius[output] - separation) <= ring / 2 + half
    median = np.median(finals[:, ring_pixels], axis=1, keepdims=True)
    noise = 1.4826 * np.median(np.abs(finals[:, ring_pixels] - median), axis=1)
    stack = np.full((len(counts), ny * nx), np.nan)
    stack[:, output] = (finals - median) / noise[:, None]
    return stack.reshape(len(counts), ny, nx)


@pytest.mark.parametrize(("frames", "opposite", "fit_region"), [(30, False, "ring"), (31, True, "ring"),
                                                                (30, False, "band")])
def test_mlar_stacks_match_a_brute_force_reduction(frames, opposite, fit_region):
    # bright speckles (a halo 20 times the noise near the star): float32 must not lose the residuals
    sequence = make_sequence(frames=frames, halo=True, companion=5.0)
    radii = default_separations(sequence)
    annuli = mlar_stacks(sequence, radii, n_levels=6, opposite=opposite, fit_region=fit_region)
    assert [a.separation for a in annuli] == radii and len(radii) >= 4
    for annulus, radius in zip(annuli, radii, strict=True):
        assert max(annulus.counts) < frames - 1  # a level at the full rank would be rounding noise
        reference = brute_force_annulus(sequence, radius, annulus.counts, opposite=opposite, fit_region=fit_region)
        np.testing.assert_array_equal(np.isnan(annulus.stack), np.isnan(reference))
        np.testing.assert_allclose(annulus.stack, reference, atol=1e-4, rtol=0)
        # one annulus alone (its own operator) gives the same stack
        alone = mlar_annulus(sequence, radius, n_levels=6, counts=annulus.counts, opposite=opposite,
                             fit_region=fit_region)
        np.testing.assert_allclose(alone.stack, annulus.stack, atol=1e-5, rtol=0)
