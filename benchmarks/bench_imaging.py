"""Benchmark: the imaging path's speed (a synthetic cube, ADI-PCA stacks, MLAR stacks, a probability map).

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_imaging.py                    # 61 frames of 101 x 101, 20 levels
    .venv/bin/python benchmarks/bench_imaging.py --repeats 1        # quicker

The baseline, run in the same process on the same cube, is the textbook way (VIP's structure with
scipy's rotation): for each number of components, project the components out, rotate every residual
frame with ``scipy.ndimage.rotate`` (bicubic), take the median. Ours builds one sparse derotation
operator for all levels and reads only the pixels it needs (``qusi_lab.imaging.baselines``); "cold"
clears the operator cache first, "warm" is a map or a sample set's repeated use of the same angles.
"MLAR stacks of every annulus" is ``mlar_stacks`` (one operator for all annuli, as ``probability_map`` and
``make_samples`` use it); "one mlar_annulus call each" builds an operator per annulus.
Prints a markdown table; "speed-up" is the baseline's time over the row's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from scipy import ndimage

from qusi_lab.imaging import AdiSequence
from qusi_lab.imaging import baselines as adi
from qusi_lab.imaging.predict import probability_map
from qusi_lab.imaging.samples import default_separations, mlar_annulus, mlar_stacks
from qusi_lab.imaging.synthetic import make_adi_sequence
from qusi_lab.models.mlar import MlarConv3D


def seconds(function: Callable[[], object], repeats: int, *, cold: bool = False) -> float:
    """Median wall time of ``function`` over ``repeats`` calls (after one untimed call)."""
    function()
    times = []
    for _ in range(repeats):
        if cold:
            adi._DEROTATORS.clear()
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def textbook_pca(sequence: AdiSequence, counts: list[int]) -> np.ndarray:
    """Full-frame PCA-ADI, one count at a time, every frame rotated by scipy (the baseline)."""
    flat = sequence.cube.reshape(sequence.n_frames, -1)
    centred = flat - flat.mean(axis=0)
    _, _, vh = np.linalg.svd(centred, full_matrices=False)
    finals = []
    for count in counts:
        residuals = (centred - centred @ vh[:count].T @ vh[:count]).reshape(sequence.cube.shape)
        rotated = [ndimage.rotate(frame, -angle, reshape=False, order=3) for frame, angle in
                   zip(residuals, sequence.angles, strict=True)]
        finals.append(np.median(rotated, axis=0))
    return np.asarray(finals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=61)
    parser.add_argument("--size", type=int, default=101)
    parser.add_argument("--levels", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()

    rng = np.random.default_rng(0)
    fwhm = 4.0
    sequence = AdiSequence(rng.normal(size=(arguments.frames, arguments.size, arguments.size)),
                           np.linspace(-30.0, 30.0, arguments.frames), np.ones((9, 9)), 0.0272, fwhm)
    counts = list(range(1, arguments.levels + 1))
    repeats = arguments.repeats
    baseline = seconds(lambda: textbook_pca(sequence, counts), repeats)
    separations = default_separations(sequence)
    model = MlarConv3D(levels=arguments.levels, patch_size=9).eval()
    rows = [
        (f"textbook full-frame PCA-ADI, {arguments.levels} counts (baseline)", baseline),
        (f"make_adi_sequence ({arguments.frames} frames of {arguments.size} x {arguments.size})", seconds(
            lambda: make_adi_sequence(n_frames=arguments.frames, size=arguments.size), repeats)),
        (f"pca_adi full-frame, {arguments.levels} counts, cold", seconds(
            lambda: adi.pca_adi(sequence, counts), repeats, cold=True)),
        (f"pca_adi full-frame, {arguments.levels} counts, warm", seconds(lambda: adi.pca_adi(sequence, counts), repeats)),
        (f"pca_adi annular, {arguments.levels} counts, warm", seconds(
            lambda: adi.pca_adi(sequence, counts, mode="annular"), repeats)),
        (f"one MLAR annulus (3 FWHM, {arguments.levels} levels), cold", seconds(
            lambda: mlar_annulus(sequence, 3 * fwhm, n_levels=arguments.levels), repeats, cold=True)),
        (f"MLAR stacks of every annulus ({len(separations)}), cold", seconds(
            lambda: mlar_stacks(sequence, separations, n_levels=arguments.levels), repeats, cold=True)),
        (f"MLAR stacks of every annulus ({len(separations)}), one mlar_annulus call each, cold", seconds(
            lambda: [mlar_annulus(sequence, r, n_levels=arguments.levels) for r in separations], repeats, cold=True)),
        ("probability map (MlarConv3D, every pixel), cold", seconds(
            lambda: probability_map(model, sequence), max(1, repeats // 3), cold=True)),
    ]
    print(f"A cube of {arguments.frames} frames of {arguments.size} x {arguments.size} pixels, "
          f"{arguments.levels} levels, FWHM {fwhm:g} px; median of {repeats}\n")
    print("| operation | seconds | speed-up vs the textbook PCA |")
    print("|---|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.3f} | {baseline / value:.1f}x |")


if __name__ == "__main__":
    main()
