"""Scaling of training (issue 17): samples per second on 1 and 2 processes (torchrun, DDP over gloo on the CPU).

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_distributed.py [--steps 30] [--batch-size 64] [--input-length 2048]

One job measures, on the same in-memory data and settings (default Hadryss, batch 64, no validation):
1 process with 1 torch thread (the baseline), 1 process with 2 threads, and 2 processes of 1 thread
each under ``torchrun --standalone --nproc-per-node 2`` (``ql.train``'s DDP path), and the same without
the global-batch BatchNorm and dropout (per-rank statistics and masks: not the one-process model, shown
to price the exactness: two all-reduces per BatchNorm layer in each direction). Each is a fresh
``torchrun`` job (``--nproc-per-node 1`` is the plain one-process path: WORLD_SIZE 1 sets nothing up).
The rate is global samples per second between the 5th and the last optimisation step (start-up,
the preprocessing cache and DDP's first steps excluded). The three runs are repeated in rotation
(``--repeats``, default 3) and each keeps its best rate, the one least slowed by other jobs on a shared
machine. It prints a markdown table with ratios to the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WARMUP_STEPS = 5


def worker(args: argparse.Namespace) -> None:
    """One rank of a measured run (started by torchrun): train, time the steps, rank 0 prints JSON."""
    sys.path.insert(0, str(ROOT))
    import torch
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    import qusi_lab as ql
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.models import Hadryss
    from qusi_lab.training import train
    from qusi_lab.training.distributed import is_main_process

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    time_days = np.arange(args.cadences) / 720.0
    curves, labels = [], []
    for index in range(args.curves):
        flux = 1.0 + rng.normal(0.0, 1e-3, time_days.size)
        if index % 2:
            flux[(time_days % rng.uniform(1.0, 4.0)) < 0.15] -= 4e-3
        curves.append(ql.LightCurve(time_days, flux, target_id=f"TIC {index}"))
        labels.append("positive" if index % 2 else "negative")
    dataset = LightCurveDataset.from_light_curves(curves, labels, input_length=args.input_length)
    stamps: list[float] = []
    register_optimizer_step_pre_hook(lambda *_: stamps.append(time.perf_counter()))
    torch.manual_seed(0)
    result = train(Hadryss(input_length=args.input_length), dataset, None, max_steps=args.steps,
                   global_batch=not args.per_rank_layers,
                   batch_size=args.batch_size, validation_every=args.steps, progress=False, seed=0, num_workers=0)
    if is_main_process():
        measured = len(stamps) - 1 - WARMUP_STEPS
        rate = measured * args.batch_size / (stamps[-1] - stamps[WARMUP_STEPS])
        print(json.dumps({"rate": rate, "world_size": result.config["world_size"]}))


def measure(processes: int, threads: int, args: argparse.Namespace, per_rank_layers: bool = False) -> float:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
        str(Path(__file__).resolve()), "--worker", "--threads", str(threads), "--steps", str(args.steps),
        "--batch-size", str(args.batch_size), "--input-length", str(args.input_length),
        "--curves", str(args.curves), "--cadences", str(args.cadences),
        *(["--per-rank-layers"] if per_rank_layers else []),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if finished.returncode != 0:
        raise RuntimeError(finished.stderr[-3000:])
    line = [text for text in finished.stdout.splitlines() if text.startswith("{")][-1]
    report = json.loads(line)
    assert report["world_size"] == processes
    return float(report["rate"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--input-length", type=int, default=2048)
    parser.add_argument("--curves", type=int, default=200)
    parser.add_argument("--cadences", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the three runs, in rotation")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--per-rank-layers", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    rows = [("1 process, 1 thread (baseline)", 1, 1, False), ("1 process, 2 threads", 1, 2, False),
            ("2 processes (DDP, gloo), 1 thread each", 2, 1, False),
            ("2 processes, per-rank BatchNorm and dropout (not exact)", 2, 1, True)]
    load = os.getloadavg()[0]
    measured: list[list[float]] = [[] for _ in rows]
    for _ in range(max(1, args.repeats)):  # in rotation: a burst of load hits every run alike
        for rates_of_row, (_, processes, threads, per_rank) in zip(measured, rows, strict=True):
            rates_of_row.append(measure(processes, threads, args, per_rank))
    rates = [max(values) for values in measured]
    print(f"Hadryss, input length {args.input_length}, batch {args.batch_size}, {args.steps} steps "
          f"(rate from step {WARMUP_STEPS}), best of {args.repeats}; {os.cpu_count()} CPUs, load average "
          f"{load:.1f} at the start, {os.getloadavg()[0]:.1f} at the end\n")
    print("| run | samples/s (best) | all rounds | ratio to baseline |")
    print("|---|---:|---|---:|")
    for (name, *_), rate, values in zip(rows, rates, measured, strict=True):
        print(f"| {name} | {rate:.0f} | {', '.join(f'{value:.0f}' for value in values)} | {rate / rates[0]:.2f} |")


if __name__ == "__main__":
    main()
