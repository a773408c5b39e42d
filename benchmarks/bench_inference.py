"""Benchmark: end-to-end inference, SPOC FITS files on disk -> preprocessing -> network -> ranked table.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_inference.py                  # 2,000 files of 20,000 cadences
    .venv/bin/python benchmarks/bench_inference.py --files 300      # quicker

Writes N real-size TESS SPOC files (20,000 two-minute cadences with the mid-sector gap
and quality flags: ``_common.write_spoc_files``) to a temporary folder,
saves an (untrained: speed does not depend on the weights) Hadryss bundle with the
default 4096-bin preprocessing, and times :func:`qusi_lab.inference.infer` over the
folder:

* with 0 and 2 DataLoader workers, period search off (the scoring pipeline itself);
* with 2 workers and the default BLS period search on the top 100 candidates;
* a naive baseline on the first 200 files: read, preprocess and run the network one
  curve at a time in a Python loop (what a first script would do), with one torch
  thread, and on 50 files with torch's default thread count (on a machine whose cores
  are busy, several OpenMP threads per tiny forward pass can be far slower).

Memory: ``infer`` keeps one small row per curve, so its peak memory must not grow with
the number of curves. Each memory run is a fresh process (so peaks do not carry over)
scoring N and then 5N curves (the same files listed five times), with 2 workers; it
reports the peak resident set size (``resource.getrusage``) of the main process and of
the largest worker.

Files are in the OS page cache after writing, so this measures parsing, preprocessing
and the network, not the disk. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import CADENCES, make_bundle, write_spoc_files


def time_infer(bundle: Path, data: object, workers: int, period_search: bool) -> tuple[float, int]:
    from qusi_lab.inference import infer
    from qusi_lab.training import load

    model = load(bundle)
    started = time.perf_counter()
    table = infer(model, data, num_workers=workers, period_search=period_search, progress=False)
    return time.perf_counter() - started, len(table)


def time_naive(bundle: Path, paths: list[Path], threads: int | None) -> float:
    """One curve at a time: read, preprocess, network (no batching, no workers, no fusing)."""
    import torch

    from qusi_lab.io import read_light_curve
    from qusi_lab.training import load

    model: Any = load(bundle)
    pipeline = model.bundle.preprocessing
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    try:
        with torch.no_grad():
            for path in paths:
                x = pipeline.to_array(read_light_curve(path))
                torch.sigmoid(model(torch.from_numpy(x)[None]))
    finally:
        torch.set_num_threads(previous)
    return time.perf_counter() - started


def memory_run(bundle: str, listing: str, repeat: int) -> None:
    """Child-process entry: infer over the listed files ``repeat`` times over; print peak RSS as JSON."""
    from qusi_lab.inference import infer
    from qusi_lab.training import load

    paths = Path(listing).read_text().split("\n") * repeat
    model = load(bundle)
    started = time.perf_counter()
    table = infer(model, paths, num_workers=2, period_search=False, progress=False)
    seconds = time.perf_counter() - started
    # ru_maxrss is in kilobytes on Linux; RUSAGE_CHILDREN is the largest finished child (a worker).
    print(json.dumps({
        "curves": len(table), "seconds": seconds,
        "main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=2000, help="distinct files (default: %(default)s)")
    parser.add_argument("--memory-files", type=int, default=None,
                        help="files for the memory runs, N and 5N curves (default: --files)")
    parser.add_argument("--memory-child", nargs=3, metavar=("BUNDLE", "LISTING", "REPEAT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_run(args.memory_child[0], args.memory_child[1], int(args.memory_child[2]))
        return 0

    with tempfile.TemporaryDirectory(prefix="qusi_lab_bench_inference_") as folder:
        root = Path(folder)
        started = time.perf_counter()
        data = root / "sector"
        paths = write_spoc_files(data, args.files)
        bundle = make_bundle(root)
        print(f"wrote {len(paths)} files of {CADENCES:,} cadences in {time.perf_counter() - started:.0f} s; "
              f"{os.cpu_count()} CPUs\n")

        import torch

        rows = []
        naive_count = min(200, len(paths))
        naive = time_naive(bundle, paths[:naive_count], threads=1)
        rows.append(("naive loop: read, preprocess, network, one curve at a time (1 torch thread)",
                     naive_count, naive))
        default_threads = torch.get_num_threads()
        if default_threads > 1:
            count = min(50, len(paths))
            rows.append((f"the same with torch's default {default_threads} threads", count,
                         time_naive(bundle, paths[:count], threads=None)))
        for workers in (0, 2):
            seconds, count = time_infer(bundle, data, workers, period_search=False)
            rows.append((f"`infer`, {workers} workers, no period search", count, seconds))
        seconds, count = time_infer(bundle, data, 2, period_search=True)
        rows.append(("`infer`, 2 workers, BLS on the top 100 (default)", count, seconds))

        baseline = naive / naive_count
        print("| configuration | curves | seconds | ms per curve | curves per second | vs naive loop |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, count, seconds in rows:
            per_curve = seconds / count
            print(f"| {name} | {count:,} | {seconds:.1f} | {per_curve * 1e3:.2f} | {1 / per_curve:,.0f} "
                  f"| {baseline / per_curve:.1f}x |")

        memory_files = min(args.memory_files or len(paths), len(paths))
        listing = root / "listing.txt"
        listing.write_text("\n".join(str(path) for path in paths[:memory_files]))
        print("\nPeak memory of a streamed run (fresh process each; 2 workers; files reused for 5N):\n")
        print("| curves | seconds | peak RSS main process (MB) | peak RSS largest worker (MB) |")
        print("|---:|---:|---:|---:|")
        for repeat in (1, 5):
            run = subprocess.run([sys.executable, __file__, "--memory-child", str(bundle), str(listing), str(repeat)],
                                 capture_output=True, text=True, check=True)
            result = json.loads(run.stdout.strip().splitlines()[-1])
            print(f"| {result['curves']:,} | {result['seconds']:.1f} | {result['main_mb']:.0f} "
                  f"| {result['worker_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
