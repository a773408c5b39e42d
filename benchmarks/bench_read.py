"""Benchmark: reading SPOC light-curve FITS files with qusi_lab.io vs lightkurve.read.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_read.py                 # 200 files of 20,000 cadences
    .venv/bin/python benchmarks/bench_read.py --files 50      # quicker

Writes N real-size synthetic TESS SPOC files (20,000 two-minute cadences, a
mid-sector gap of NaN times, quality flags) with ``qusi_lab.io.write_spoc_fits``
into a temporary folder, then times, on the same files in the same run:

* ``qusi_lab.io.read_light_curve`` (the fast path: quality mask applied, meta filled);
* the same followed by ``default_preprocessing().to_array`` when ``qusi_lab.transforms`` exists;
* ``lightkurve.read`` (the baseline; it applies the same default quality mask).

Each reader first reads a few files untimed (imports, caches). Files are in the
OS page cache for every reader, so this measures parsing, not the disk. Prints a
markdown table; "speed-up" is lightkurve.read's time per file divided by the row's.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.io import read_light_curve, write_spoc_fits

CADENCES = 20_000


def write_files(directory: Path, count: int, cadences: int = CADENCES) -> tuple[list[Path], float]:
    """Write ``count`` SPOC files; return their paths and the seconds taken."""
    rng = np.random.default_rng(0)
    time_values = 1325.3 + np.arange(cadences) * 2.0 / 1440.0
    time_values[cadences // 2 : cadences // 2 + 500] = np.nan  # the data-download gap between orbits
    quality = np.zeros(cadences, dtype=np.int32)
    quality[::250] = 32  # momentum dumps (in the default mask)
    quality[7::400] = 1024  # collateral cosmic rays (not in the default mask)
    noise = rng.normal(0.0, 1.0, cadences)
    paths = []
    start = time.perf_counter()
    for index in range(count):
        flux = 1000.0 + index + 2.0 * np.roll(noise, index)
        paths.append(
            write_spoc_fits(
                directory / f"tess2018206045859-s0001-{index:016d}-0120-s_lc.fits", time_values, flux,
                flux_err=np.full(cadences, 2.0), quality=quality, tic_id=index + 1, sector=1, tess_mag=10.0,
            )
        )
    return paths, time.perf_counter() - start


def time_reader(paths: list[Path], read: Callable[[Path], Any], warmup: int = 3) -> float:
    """Seconds per file of ``read`` over ``paths`` (after ``warmup`` untimed reads)."""
    for path in paths[:warmup]:
        read(path)
    start = time.perf_counter()
    for path in paths:
        read(path)
    return (time.perf_counter() - start) / len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200, help="number of files (default 200)")
    parser.add_argument("--cadences", type=int, default=CADENCES, help="cadences per file (default 20000)")
    arguments = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightkurve's import-time warnings about optional packages
        import lightkurve

    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="qusi_bench_read_") as folder:
        paths, write_seconds = write_files(Path(folder), arguments.files, arguments.cadences)
        rows.append(("qusi_lab.io.read_light_curve", time_reader(paths, read_light_curve)))
        preprocessing: Callable[[], Any] | None
        try:
            from qusi_lab.transforms import default_preprocessing as preprocessing
        except ImportError:  # the transforms package is optional for this benchmark
            preprocessing = None
        if preprocessing is not None:
            pipeline = preprocessing()
            rng = np.random.default_rng(0)
            rows.append(
                (
                    "read_light_curve + default_preprocessing().to_array",
                    time_reader(paths, lambda path: pipeline.to_array(read_light_curve(path), rng)),
                )
            )

        def lightkurve_read(path: Path) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return lightkurve.read(str(path))

        baseline = time_reader(paths, lightkurve_read)
        rows.append(("lightkurve.read (baseline)", baseline))

    print(f"{arguments.files} SPOC files of {arguments.cadences:,} cadences "
          f"(written by write_spoc_fits at {1000 * write_seconds / arguments.files:.1f} ms/file)\n")
    print("| reader | files/s | ms/file | speed-up vs lightkurve.read |")
    print("|---|---:|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {1 / seconds:,.0f} | {1000 * seconds:.2f} | {baseline / seconds:.1f}x |")


if __name__ == "__main__":
    main()
