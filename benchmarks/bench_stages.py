"""Benchmark: per-curve cost of each stage of scoring a SPOC sector (read, preprocess, score) and end to end.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_stages.py                  # 1,000 files of 20,000 cadences
    .venv/bin/python benchmarks/bench_stages.py --files 300      # quicker
    .venv/bin/python benchmarks/bench_stages.py --files 2000 --floor-only --rounds 3   # the floor alone

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

``--floor`` adds what no implementation of this pipeline on this machine can go below: how much work 2
processes get done against one (a numpy partition of 4,096 values, the same in each), and ``ql.infer``'s
own arrangement with the parsing and preprocessing taken out: loader workers that only copy each file's
table bytes out of the page cache (``readinto``, as the reader must) and hand the main process an input of
zeros, which the network scores as ``ql.infer`` does (folded, 1 torch thread, batches of 256); and 2
processes that each copy and score their own half (no hand-over at all). Interleaved with ``ql.infer``
itself, ``--rounds`` rounds.

Single stages are the best of ``--rounds`` interleaved rounds (the machine is shared: the best
round is the least disturbed one); end-to-end runs are timed once each, in the order 2, 1, 0
workers, then 2 again. Prints markdown tables with the load average.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _common import CADENCES, cpu_seconds, load_average, make_bundle, write_spoc_files
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

INPUT_LENGTH = 4096
#: Inputs per batch in the floor runs, as ``ql.infer``'s default.
FLOOR_BATCH = 256


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


# ----------------------------------------------------------------------------- the floor (--floor)


def _partition_work(count: int) -> float:
    """CPU microseconds per partition of 4,096 values (a copy and one ``np.partition``), in this process."""
    values = np.random.default_rng(0).random(4096)
    started = time.process_time()
    for _ in range(count):
        part = values.copy()
        part.partition(2048)
    return (time.process_time() - started) / count * 1e6


def parallel_work(count: int = 20_000) -> tuple[float, float]:
    """(microseconds per partition alone, in each of 2 processes running at once, averaged): how much of a
    second CPU the machine gives (the 2 vCPUs of a shared host need not give twice one)."""
    import multiprocessing

    alone = _partition_work(count)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        together = pool.map(_partition_work, [count, count])
    return alone, sum(together) / 2


def _table_span(path: Path) -> tuple[int, int]:
    """(first byte, bytes) of the light-curve table of a SPOC file: every file of the run has the same."""
    from qusi_lab.io._fitsfile import iter_hdus

    with open(path, "rb") as stream:
        table = list(iter_hdus(stream, path, path.stat().st_size))[1]
    return table.data_offset, table.data_size


def _copy_table(path: Path, offset: int, buffer: bytearray) -> None:
    with open(path, "rb") as stream:
        stream.seek(offset)
        stream.readinto(buffer)


class _CopyOnly(IterableDataset):  # type: ignore[type-arg]
    """Each worker copies its contiguous share of the tables (as ``ql.infer``'s stream shards) and yields zeros."""

    def __init__(self, paths: list[Path], offset: int, size: int) -> None:
        super().__init__()
        self.paths, self.offset, self.size = paths, offset, size

    def __iter__(self) -> Iterator[np.ndarray]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        buffer, zeros = bytearray(self.size), np.zeros(INPUT_LENGTH, np.float32)
        for index in np.array_split(np.arange(len(self.paths)), workers)[worker]:
            _copy_table(self.paths[int(index)], self.offset, buffer)
            yield zeros


def floor_with_loader(network: Any, paths: list[Path], workers: int = 2) -> float:
    """Wall ms per curve: ``workers`` loader workers copy the tables, this process scores zeros (1 thread)."""
    import torch

    offset, size = _table_span(paths[0])
    loader = DataLoader(_CopyOnly(paths, offset, size), batch_size=FLOOR_BATCH, num_workers=workers)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        started = time.perf_counter()
        with torch.inference_mode():
            for batch in loader:
                network(batch)
        return (time.perf_counter() - started) / len(paths) * 1e3
    finally:
        torch.set_num_threads(previous)


def _copy_and_score(network: Any, paths: list[Path], offset: int, size: int) -> None:
    import torch

    torch.set_num_threads(1)
    buffer, zeros = bytearray(size), torch.zeros(FLOOR_BATCH, INPUT_LENGTH)
    with torch.inference_mode():
        for first in range(0, len(paths), FLOOR_BATCH):
            share = paths[first:first + FLOOR_BATCH]
            for path in share:
                _copy_table(path, offset, buffer)
            network(zeros[: len(share)])


def floor_split(network: Any, paths: list[Path]) -> float:
    """Wall ms per curve: 2 forked processes, each copying and scoring its own half (no hand-over)."""
    import multiprocessing

    offset, size = _table_span(paths[0])
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_copy_and_score, args=(network, paths[half::2], offset, size))
                 for half in range(2)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    if any(process.exitcode for process in processes):
        raise RuntimeError("a floor process failed")
    return (time.perf_counter() - started) / len(paths) * 1e3


def print_floor(model: Any, network: Any, paths: list[Path], folder: Path, rounds: int) -> None:
    """The ``--floor`` tables: 2 processes against one, and the floor interleaved with ``ql.infer``."""
    from qusi_lab.inference import infer

    def infer_ms() -> float:
        started = time.perf_counter()
        table = infer(model, folder, num_workers=2, period_search=False, progress=False)
        return (time.perf_counter() - started) / len(table) * 1e3

    print(f"\nThe floor ({load_average()}):\n")
    print("| numpy partition of 4,096 values (copy included) | CPU us per partition |")
    print("|---|---:|")
    for round_ in range(rounds):
        alone, together = parallel_work()
        print(f"| round {round_ + 1}: one process alone / each of 2 at once (2 processes do "
              f"{2 * alone / together:.2f}x the work of one) | {alone:.1f} / {together:.1f} |")
    runs: dict[str, Callable[[], float]] = {
        "`ql.infer`, 2 loader workers (period search off)": infer_ms,
        "floor: 2 loader workers only copy the tables, the network scores zeros": lambda: floor_with_loader(
            network, paths),
        "floor: 2 processes each copy and score their own half": lambda: floor_split(network, paths),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(run())
    print(f"\n| {len(paths):,} files, {rounds} interleaved rounds | wall ms per curve |")
    print("|---|---:|")
    for name, values in times.items():
        print(f"| {name} | {', '.join(f'{value:.3f}' for value in values)} |")
    print(f"\n({load_average()} at the end)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="files (default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the stages (default 5)")
    parser.add_argument("--floor", action="store_true",
                        help="also the floor: copying the tables and scoring zeros, no parsing or preprocessing")
    parser.add_argument("--floor-only", action="store_true", help="only the floor tables (implies --floor)")
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
        if args.floor_only:
            print_floor(model, network, paths, root / "sector", args.rounds)
            return
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
        if args.floor:
            print_floor(model, network, paths, root / "sector", args.rounds)


if __name__ == "__main__":
    main()
