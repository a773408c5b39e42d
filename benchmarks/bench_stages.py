"""Benchmark: per-curve cost of each stage of scoring a SPOC sector (read, preprocess, score) and end to end.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_stages.py                  # 1,000 files of 20,000 cadences
    .venv/bin/python benchmarks/bench_stages.py --files 300      # quicker

Writes N real-size TESS SPOC files (``_common.write_spoc_files``; in the OS page cache afterwards,
so this measures the CPU, not the disk) and an untrained Hadryss bundle with the default
preprocessing at 4,096 bins, then times on the same files, in one process:

* read: ``read_light_curve`` with the FITS layout cache off (every header card parsed) and on
  (the default: headers matched against the cached layout, only the wanted cards parsed);
* preprocess: the bundle's pipeline (``Pipeline.to_array``) on curves already read, and each step;
* score: the network as ``ql.infer`` runs it (batch norm folded, channels-last) on batches of 256,
  with 1 and 2 torch threads;
* end to end: ``ql.infer`` over the folder, period search off, with 0, 1 and 2 loader workers:
  wall ms per curve and CPU ms per curve of all processes.

Single stages are the best of ``--rounds`` interleaved rounds (the machine is shared: the best
round is the least disturbed one); end-to-end runs are timed once each, in the order 2, 1, 0
workers, then 2 again. Prints markdown tables with the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import CADENCES, cpu_seconds, load_average, make_bundle, write_spoc_files

INPUT_LENGTH = 4096


def per_item(items: list[Any], work: Callable[[Any], object]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (this process, all its threads) per item of ``work`` over ``items``."""
    started, cpu = time.perf_counter(), time.process_time()
    for item in items:
        work(item)
    return (time.perf_counter() - started) / len(items), (time.process_time() - cpu) / len(items)


def best_of(rounds: int, runs: dict[str, Callable[[], tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """The best (smallest) wall and CPU time of each run over ``rounds`` interleaved rounds."""
    best = dict.fromkeys(runs, (float("inf"), float("inf")))
    for _ in range(rounds):
        for name, run in runs.items():
            wall, cpu = run()
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="files (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the stages (default 5)")
    args = parser.parse_args()

    import torch

    from qusi_lab.inference import infer
    from qusi_lab.inference.infer import _inference_network
    from qusi_lab.io import read_light_curve
    from qusi_lab.training import load

    try:
        from qusi_lab.io._fitsfile import LAYOUT_CACHE
    except ImportError:  # a checkout before the layout cache (for before/after runs): both rows read in full
        LAYOUT_CACHE = None

    with tempfile.TemporaryDirectory(prefix="qusi_lab_bench_stages_") as folder:
        root = Path(folder)
        paths = write_spoc_files(root / "sector", args.files)
        model: Any = load(make_bundle(root, INPUT_LENGTH))
        pipeline = model.preprocessing
        print(f"{len(paths)} SPOC files of {CADENCES:,} cadences, Hadryss at {INPUT_LENGTH} bins; "
              f"{os.cpu_count()} CPUs; start: {load_average()}\n")

        def read_with_cache(enabled: bool) -> Callable[[], tuple[float, float]]:
            def run() -> tuple[float, float]:
                if LAYOUT_CACHE is None:
                    return per_item(paths, read_light_curve)
                LAYOUT_CACHE.enabled = enabled
                try:
                    return per_item(paths, read_light_curve)
                finally:
                    LAYOUT_CACHE.enabled = True
            return run

        curves = [read_light_curve(path) for path in paths[:200]]
        rng = np.random.default_rng(0)
        network = _inference_network(model.network.eval(), INPUT_LENGTH, True)
        batch = torch.from_numpy(np.stack([pipeline.to_array(lc) for lc in curves[:8]] * 32))

        def score(threads: int) -> Callable[[], tuple[float, float]]:
            def run() -> tuple[float, float]:
                previous = torch.get_num_threads()
                torch.set_num_threads(threads)
                try:
                    with torch.inference_mode():
                        wall, cpu = per_item([batch] * 4, network)
                        return wall / len(batch), cpu / len(batch)
                finally:
                    torch.set_num_threads(previous)
            return run

        stages = {
            "read, layout cache off (every header card parsed)": read_with_cache(False),
            "read, layout cache on (default)": read_with_cache(True),
            "preprocess (`to_array`, default pipeline, 4,096 bins)": lambda: per_item(
                curves, lambda lc: pipeline.to_array(lc, rng)),
            "score (folded Hadryss, batch 256, 1 torch thread)": score(1),
            "score (folded Hadryss, batch 256, 2 torch threads)": score(2),
        }
        # Each step on what the steps before it give (not on raw curves).
        step_inputs = curves[:100]
        for step in pipeline._steps:
            stages[f"  step `{step!r}`"] = (lambda step=step, inputs=step_inputs: per_item(
                inputs, lambda lc, step=step: step(lc, rng)))  # noqa: B023 - rng is fixed
            step_inputs = [step(lc, rng) for lc in step_inputs]
        before = load_average()
        best = best_of(args.rounds, stages)
        print(f"Stages, best of {args.rounds} interleaved rounds ({before} -> {load_average()}):\n")
        print("| stage | ms per curve | CPU ms per curve |")
        print("|---|---:|---:|")
        for name, (wall, cpu) in best.items():
            print(f"| {name} | {wall * 1e3:.3f} | {cpu * 1e3:.3f} |")

        print("\nEnd to end, `ql.infer(model, folder, period_search=False)`, one run each:\n")
        print("| loader workers | curves | seconds | ms per curve | CPU ms per curve (all processes) | load |")
        print("|---:|---:|---:|---:|---:|---|")
        for workers in (2, 1, 0, 2):
            cpu_before, started = cpu_seconds(), time.perf_counter()
            table = infer(model, root / "sector", num_workers=workers, period_search=False, progress=False)
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_before
            print(f"| {workers} | {len(table):,} | {seconds:.2f} | {seconds / len(table) * 1e3:.3f} | "
                  f"{cpu / len(table) * 1e3:.3f} | {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
