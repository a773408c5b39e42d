"""Benchmark: reading SPOC light-curve FITS files with qusi_lab.io vs lightkurve.read.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_read.py                 # 200 files of 20,000 cadences
    .venv/bin/python benchmarks/bench_read.py --files 50      # quicker

Writes N real-size synthetic TESS SPOC files (20,000 two-minute cadences, a
mid-sector gap of NaN times, quality flags; ``_common.write_spoc_files``)
into a temporary folder, then times, on the same files in the same run:

* ``qusi_lab.io.read_light_curve`` (the fast path: quality mask applied, meta filled), with the FITS
  layout cache on (the default: a file whose headers match the cached layout of its product is read
  without parsing them) and off (every header card parsed, as before the cache);
* the same followed by ``default_preprocessing().to_array`` when ``qusi_lab.transforms`` exists;
* ``lightkurve.read`` (the baseline; it applies the same default quality mask).

Each reader first reads a few files untimed (imports, caches). Files are in the
OS page cache for every reader, so this measures parsing, not the disk. The qusi_lab
readers run ``--rounds`` interleaved rounds and keep the best (the machine may be
shared); lightkurve, ~50x slower, runs once. Prints a markdown table with the load
average; "speed-up" is lightkurve.read's time per file divided by the row's.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import CADENCES, write_spoc_files

from qusi_lab.io import read_light_curve


def time_reader(paths: list[Path], read: Callable[[Path], Any], warmup: int = 3) -> tuple[float, float]:
    """Wall and CPU seconds per file of ``read`` over ``paths`` (after ``warmup`` untimed reads).

    CPU time is the steadier measure on a shared machine: waiting for a core does not count.
    """
    for path in paths[:warmup]:
        read(path)
    start, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        read(path)
    return (time.perf_counter() - start) / len(paths), (time.process_time() - cpu) / len(paths)


def layout_cache(enabled: bool, read: Callable[[Path], Any]) -> Callable[[Path], Any]:
    """``read`` with the FITS layout cache on or off (a checkout without the cache reads in full both times)."""
    try:
        from qusi_lab.io._fitsfile import LAYOUT_CACHE
    except ImportError:
        return read

    def run(path: Path) -> Any:
        LAYOUT_CACHE.enabled = enabled
        try:
            return read(path)
        finally:
            LAYOUT_CACHE.enabled = True

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=200, help="number of files (default 200)")
    parser.add_argument("--cadences", type=int, default=CADENCES, help="cadences per file (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the qusi_lab readers")
    arguments = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lightkurve's import-time warnings about optional packages
        import lightkurve

    rows: list[tuple[str, tuple[float, float]]] = []
    with tempfile.TemporaryDirectory(prefix="qusi_bench_read_") as folder:
        started = time.perf_counter()
        paths = write_spoc_files(Path(folder), arguments.files, cadences=arguments.cadences)
        write_seconds = time.perf_counter() - started
        readers: dict[str, Callable[[Path], Any]] = {
            "qusi_lab.io.read_light_curve, layout cache on (default)": layout_cache(True, read_light_curve),
            "qusi_lab.io.read_light_curve, layout cache off (every header card parsed)": layout_cache(
                False, read_light_curve),
        }
        preprocessing: Callable[[], Any] | None
        try:
            from qusi_lab.transforms import default_preprocessing as preprocessing
        except ImportError:  # the transforms package is optional for this benchmark
            preprocessing = None
        if preprocessing is not None:
            pipeline = preprocessing()
            rng = np.random.default_rng(0)
            readers["read_light_curve + default_preprocessing().to_array"] = (
                lambda path: pipeline.to_array(read_light_curve(path), rng))
        loads = [os.getloadavg()[0]]
        best = dict.fromkeys(readers, (float("inf"), float("inf")))
        for _ in range(arguments.rounds):
            for name, read in readers.items():
                wall, cpu = time_reader(paths, read)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
        rows.extend(best.items())

        def lightkurve_read(path: Path) -> Any:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return lightkurve.read(str(path))

        baseline = time_reader(paths, lightkurve_read)
        rows.append(("lightkurve.read (baseline)", baseline))
        loads.append(os.getloadavg()[0])

    print(f"{arguments.files} SPOC files of {arguments.cadences:,} cadences "
          f"(written by write_spoc_fits at {1000 * write_seconds / arguments.files:.1f} ms/file); "
          f"1-minute load average {loads[0]:.1f} -> {loads[-1]:.1f} on {os.cpu_count()} CPUs\n")
    print("| reader | files/s | ms/file | CPU ms/file | speed-up vs lightkurve.read (wall / CPU) |")
    print("|---|---:|---:|---:|---:|")
    for name, (seconds, cpu) in rows:
        print(f"| {name} | {1 / seconds:,.0f} | {1000 * seconds:.2f} | {1000 * cpu:.2f} | "
              f"{baseline[0] / seconds:.1f}x / {baseline[1] / cpu:.1f}x |")


if __name__ == "__main__":
    main()
