"""Benchmark: survey inference on Dask against ``ql.infer`` in one process, on the same files in one job.

Command (from the repository root; needs the cluster extra, ``pip install -e ".[cluster]"``)::

    .venv/bin/python benchmarks/bench_survey.py                 # 1,000 files of 20,000 cadences
    .venv/bin/python benchmarks/bench_survey.py --files 300     # quicker

Writes N real-size TESS SPOC files (``_common.write_spoc_files``), saves an untrained Hadryss bundle
(4096-bin default preprocessing; speed does not depend on the weights) and times, period search off:

* ``ql.infer`` in this process with 0 DataLoader workers (one process), and with its default 2 workers;
* ``ql.infer(..., client=...)`` on a Dask LocalCluster of 1 and of 2 worker processes (one thread each),
  shards of ``--shard-size`` curves written as Parquet parts to a fresh folder each run (the cluster is
  started before the clock and reused; each worker's first shard loads the model, which is timed).

Each configuration runs ``--repeats`` times in interleaved rounds; the best run counts (the machine is
shared). Prints a markdown table of curves per second with the ratio to the one-process run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import load_average, make_bundle, write_spoc_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--shard-size", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import distributed

    import qusi_lab as ql

    work = Path(tempfile.mkdtemp(prefix="bench_survey_"))
    try:
        started = time.perf_counter()
        folder = work / "sector"
        write_spoc_files(folder, args.files)
        print(f"wrote {args.files:,} SPOC files in {time.perf_counter() - started:.1f} s")
        bundle = make_bundle(work)
        clusters: dict[int, Any] = {}
        clients: dict[int, Any] = {}
        for workers in (1, 2):
            started = time.perf_counter()
            clusters[workers] = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                         dashboard_address=":0", silence_logs=50)
            clients[workers] = distributed.Client(clusters[workers])
            print(f"LocalCluster of {workers} started in {time.perf_counter() - started:.1f} s")
        runs = 0

        def survey(workers: int) -> Callable[[], Any]:
            def run() -> Any:
                nonlocal runs
                runs += 1
                return ql.infer(bundle, folder, client=clients[workers], out=work / f"out{runs}",
                                shard_size=args.shard_size, period_search=False, progress=False)
            return run

        configurations: list[tuple[str, Callable[[], Any]]] = [
            ("`ql.infer`, one process (0 DataLoader workers)",
             lambda: ql.infer(bundle, folder, num_workers=0, period_search=False, progress=False)),
            ("`ql.infer`, default (2 DataLoader workers)",
             lambda: ql.infer(bundle, folder, period_search=False, progress=False)),
            ("Dask LocalCluster, 1 worker", survey(1)),
            ("Dask LocalCluster, 2 workers", survey(2)),
        ]
        best = {name: float("inf") for name, _ in configurations}
        for _ in range(args.repeats):  # interleaved rounds: a busy spell on the machine hits every row
            for name, function in configurations:
                started = time.perf_counter()
                table = function()
                best[name] = min(best[name], time.perf_counter() - started)
                assert len(table) == args.files, (name, len(table))
        for workers in (1, 2):
            clients[workers].close()
            clusters[workers].close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    reference = best[configurations[0][0]]
    print()
    print(f"{args.files:,} files of 20,000 cadences, shards of {args.shard_size}, best of {args.repeats}; "
          f"{load_average()}; pid {os.getpid()}")
    print()
    print("| configuration | seconds | curves per second | vs one process |")
    print("|---|---:|---:|---:|")
    for name, _ in configurations:
        seconds = best[name]
        print(f"| {name} | {seconds:.2f} | {args.files / seconds:,.0f} | {reference / seconds:.2f}x |")


if __name__ == "__main__":
    main()
