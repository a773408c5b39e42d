"""Synthetic-sector speed: seconds to write a 1,000-star TESS sector with 1 and 2 worker processes.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_synthetic.py [--stars 1000] [--workers 1 2]

Each run writes a fresh sector (SPOC FITS files of 19,728 two-minute cadences, ~2 MB each, and
truth.csv) to a temporary folder, which is deleted afterwards. Printed: a markdown table of wall
time, files per second and the speed-up over the 1-worker run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from _common import cpu_seconds

from qusi_lab.synthetic import make_sector


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stars", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    arguments = parser.parse_args()

    warm_up = tempfile.mkdtemp()
    make_sector(warm_up, n_stars=5, n_workers=1)  # imports and caches, not timed
    shutil.rmtree(warm_up, ignore_errors=True)
    load = os.getloadavg()[0]
    rows = []
    baseline = None
    for workers in arguments.workers:
        directory = Path(tempfile.mkdtemp(prefix="qusi_bench_synthetic_"))
        cpu_before = cpu_seconds()
        try:
            result = make_sector(directory, n_stars=arguments.stars, seed=0, n_workers=workers)
            size = sum(path.stat().st_size for path in result.paths) / 1e9
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        cpu = cpu_seconds() - cpu_before
        baseline = baseline or result.seconds
        rows.append((workers, result.seconds, arguments.stars / result.seconds, baseline / result.seconds,
                     1000 * cpu / arguments.stars, size))

    # Wall time depends on what else the machine runs; CPU ms per star does not.
    print(f"Load average before the runs: {load:.1f} on {os.cpu_count()} cores.\n")
    print(f"| {arguments.stars:,} stars, `make_sector` | seconds | files/s | speed-up | CPU ms/star | GB written |")
    print("|---|---:|---:|---:|---:|---:|")
    for workers, seconds, files_per_second, speedup, cpu_ms, size in rows:
        print(f"| n_workers={workers} | {seconds:.1f} | {files_per_second:.0f} | {speedup:.2f}x | {cpu_ms:.1f} "
              f"| {size:.2f} |")


if __name__ == "__main__":
    main()
