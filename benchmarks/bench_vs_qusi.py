"""qusi_lab against qusi itself (PyPI ``qusi`` 1.5.6), side by side in one run, on this CPU.

Commands (from the repository root)::

    .venv/bin/python benchmarks/bench_vs_qusi.py            # everything, 12-22 minutes on 2 cores
    .venv/bin/python benchmarks/bench_vs_qusi.py --quick    # smoke run, 3-4 minutes
    .venv/bin/python benchmarks/bench_vs_qusi.py --sections forward,e2e

qusi runs in its own virtual environment (``--qusi-venv``, default ``$QUSI_VENV`` or ``../qusi_venv``
beside the repository), made on first use: ``python -m venv``; ``pip install torch==<this torch's
version>`` (both sides then run the same kernels; pip takes a CPU build where it is configured for
one, where ``pip install qusi`` alone pulls a CUDA build); ``pip install qusi==1.5.6 "wandb<0.19"``
with that torch pinned (qusi 1.5.6 passes ``wandb.Settings(start_method=...)``, which newer wandb
refuses); ``pip uninstall torchvision`` (unused by qusi; a build for another torch breaks
``import torchmetrics``). The scripts in ``benchmarks/qusi_side/`` run there and drive qusi as its
own ``examples/`` do. wandb runs disabled (no account here).

Sections (``--sections``, default all), each printed as a markdown table with the load average:

``forward``
    Forward throughput of the network alone, batch 256, eval mode, float32, 2 threads and 1 thread,
    input lengths 3,500 (qusi's default) and 10,000: qusi's ``Hadryss.new(input_length=L)`` under
    ``torch.no_grad`` (as its ``infer_phase``) against ``qusi_lab.models.Hadryss`` plain
    (``model.eval()``) and through ``optimize_for_inference`` (batch norm folded, channels-last conv
    blocks, cache-sized chunks on single-threaded workers). The two sides take turns, round after
    round, on the same machine; best time of each. FLOPs per curve from
    ``torch.utils.flop_counter``; "% of peak" against the faster of a 2048^2 float32 matmul and a
    large conv timed in the same rounds with the same threads. "curves per CPU-second" divides by
    the process CPU time instead of the wall time: with one thread it is the speed a core gives
    whatever else the machine runs (wall times on a shared machine are not); with two it shows
    how much CPU each side burns per curve.
``e2e``
    SPOC FITS files on disk (``--files``, default 2,000, 20,000 two-minute cadences each, written
    with ``qusi_lab.io.write_spoc_fits``) to a ranked list. qusi: ``TessMissionLightCurve.from_path``
    loader, ``FiniteStandardLightCurveDataset`` (first 3,500 cadences), ``infer_session`` (batch
    100, as in qusi's ``examples/transit_infer.py``) and a sort, with 0 (qusi's default) and 2
    loader workers. qusi_lab: ``ql.infer`` (whole sectors binned to 4,096, 2 workers, period search
    off) with an untrained bundle saved by ``save_bundle`` and read by ``load``. Files are in the
    page cache (just written), so this is parsing, preprocessing and the network, not the disk.
    The CPU column adds up user and system time of the process and its workers: the cost of a
    curve whatever else the machine runs.
``train``
    Training throughput on those files (labelled by their parity), batch 64, 2 loader workers, one
    torch thread in the training process on both sides: qusi's ``train_session`` (its infinite
    ``LightCurveDataset``, default transform, ``Hadryss.new()`` at 3,500) against ``ql.train``
    (default augmentation) at the same input length 3,500 (same model size; also with
    ``cache=False`` where ``ql.train`` has that option, so every step reads its files as qusi's
    does) and at the default 4,096. Samples per second between training steps from the 4th step
    on, the seconds from the call to the first step, and samples per second including those.
``auc``
    Time to a validation AUC of 0.95 on the synthetic sector (``qusi_lab.synthetic.make_sector``,
    ``--sector-stars`` stars, planets against everything else, split by star) with ``ql.train``'s
    default settings (except 2 loader workers, one torch thread, validation every 50 steps, at most
    ``--auc-seconds``): the first history row with ``val_auc_roc >= 0.95``.
``memory``
    Peak memory of ``ql.infer`` (period search off, 2 workers) over 10,000 and 100,000 curves (the
    files listed over and over), each in a fresh process: peak resident set size of the main
    process (``VmHWM``) and of the largest worker (``resource.getrusage``).

Data are kept in ``--data-dir`` (default ``/tmp/qusi_lab_bench_vs_qusi``) and reused by later runs.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import CADENCES, ROOT, cpu_seconds, load_average, make_bundle, peak_rss_mb, write_spoc_files

QUSI_SIDE = Path(__file__).resolve().parent / "qusi_side"
QUSI_VERSION = "1.5.6"
SECTIONS = ("forward", "e2e", "train", "auc", "memory")


# ----------------------------------------------------------------------------------------- helpers
def heading(title: str) -> None:
    print(f"\n### {title}\n\n_{load_average()} at start_\n", flush=True)


def footer() -> None:
    print(f"\n_{load_average()} at end_\n", flush=True)


def run_json(command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
             timeout: float = 3600) -> dict[str, Any]:
    """Run a command that prints one JSON object as its last stdout line; return that object."""
    completed = subprocess.run(command, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout,
                               check=False)
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        sys.stderr.write(completed.stdout[-3000:] + completed.stderr[-3000:])
        raise RuntimeError(f"{' '.join(command[:3])} ... failed with exit code {completed.returncode}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def child(*arguments: str) -> list[str]:
    """A command running this script's child mode in this environment's Python."""
    return [sys.executable, str(Path(__file__).resolve()), "--child", *arguments]


# ----------------------------------------------------------------------------------------- qusi venv
def qusi_environment() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["WANDB_SILENT"] = "true"
    env["PYTHONWARNINGS"] = "ignore"
    return env


def ensure_qusi_venv(venv: Path) -> Path:
    """The qusi venv's python, creating the venv first if it is missing (prints each step)."""
    import torch

    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import qusi.model, qusi.session, ramjet, torch, wandb; "
             "print(torch.__version__, wandb.__version__)"]
    torch_version = torch.__version__.split("+")[0]
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    if python.exists():
        completed = subprocess.run(probe, capture_output=True, text=True, env=qusi_environment(), check=False)
        if completed.returncode == 0:
            wandb_minor = int(completed.stdout.split()[1].split(".")[1])
            if wandb_minor >= 19:  # qusi 1.5.6 passes wandb.Settings(start_method=...), refused from 0.19 on
                subprocess.run([*pip, "wandb<0.19"], check=True)
            return python
        print(f"{venv} exists but `import qusi` fails there:\n{completed.stderr[-1500:]}", file=sys.stderr)
    print(f"Setting up qusi {QUSI_VERSION} in {venv} (once; a few minutes):", flush=True)

    def run(step: list[str]) -> bool:
        print("    " + " ".join(step), flush=True)
        return subprocess.run(step, check=False).returncode == 0

    if not python.exists():
        run([sys.executable, "-m", "venv", str(venv)])
    # torch first, pinned to this environment's version (pip takes a CPU build where one is configured), so
    # that qusi does not pull a CUDA build; if that cannot be resolved, install qusi as it comes, then put
    # the same torch back. torchvision goes either way: qusi does not use it, and a build made for another
    # torch (or for CUDA) breaks `import torchmetrics`, which imports it when present.
    done = (run([*pip, f"torch=={torch_version}"])
            and run([*pip, f"qusi=={QUSI_VERSION}", "wandb<0.19", f"torch=={torch_version}"]))
    if not done:
        done = run([*pip, f"qusi=={QUSI_VERSION}", "wandb<0.19"]) and run([*pip, f"torch=={torch_version}"])
    done = done and run([str(python), "-m", "pip", "uninstall", "--quiet", "-y", "torchvision"])
    completed = subprocess.run(probe, capture_output=True, text=True, env=qusi_environment(), check=False)
    if not done or completed.returncode != 0:
        raise SystemExit(
            f"Could not set up qusi ({completed.stderr[-1500:]}). Make the environment by hand and pass "
            f"--qusi-venv:\n    python3.11 -m venv {venv}\n    {python} -m pip install qusi=={QUSI_VERSION} "
            f"'wandb<0.19'\n    {python} -m pip install torch=={torch_version}   # same version as here, CPU build\n"
            f"    {python} -m pip uninstall -y torchvision")
    return python


# ----------------------------------------------------------------------------------------- data
def listing(directory: Path, paths: list[Path], repeat: int = 1, name: str = "files") -> Path:
    path = directory / f"{name}_{len(paths)}x{repeat}.txt"
    path.write_text("\n".join(str(p) for p in paths * repeat))
    return path


# ----------------------------------------------------------------------------------------- 1. forward
class QusiForward:
    """The qusi side of the forward benchmark: a process in the qusi venv answering timing requests."""

    def __init__(self, python: Path) -> None:
        self.process = subprocess.Popen([str(python), str(QUSI_SIDE / "forward.py")], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=qusi_environment())

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the qusi forward process stopped")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def best_of(function: Callable[[], object], repeats: int) -> float:
    return best_times(function, repeats)[0]


def best_times(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall time and best process CPU time (all threads) of ``repeats`` calls."""
    best, best_cpu = math.inf, math.inf
    for _ in range(repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        function()
        best = min(best, time.perf_counter() - started)
        best_cpu = min(best_cpu, time.process_time() - cpu_started)
    return best, best_cpu


class Peak:
    """This machine's float32 peak with ``threads`` threads, measured alongside the models.

    Two kernels that run near the hardware's limit: a 2048 x 2048 matmul (MKL) and a 128 -> 256
    channel, kernel-5 Conv1d (oneDNN; MKL's sgemm takes its AVX2 path on AMD CPUs). Each is timed
    both ways threads can be used: one call with ``threads`` intra-op threads, and ``threads``
    concurrent single-threaded calls (as ``optimize_for_inference`` runs chunks). The best GFLOP/s
    over all rounds is the peak.
    """

    def __init__(self, threads: int) -> None:
        import threading
        from concurrent.futures import ThreadPoolExecutor

        import torch

        self.threads = threads
        self.gflops = 0.0
        self.how = "-"
        self.a, self.b = torch.randn(2048, 2048), torch.randn(2048, 2048)
        self.input, self.weight = torch.randn(64, 128, 256), torch.randn(256, 128, 5)
        previous = torch.get_num_threads()
        ready = threading.Barrier(threads + 1)

        def single_threaded() -> None:
            torch.get_num_threads()
            torch.set_num_threads(1)
            ready.wait()

        self.pool = ThreadPoolExecutor(threads)
        for _ in range(threads):
            self.pool.submit(single_threaded)
        ready.wait()
        torch.set_num_threads(previous)

    def _kernels(self) -> dict[str, tuple[Callable[[], object], float]]:
        import torch

        return {"matmul": (lambda: self.a @ self.b, 2 * 2048**3),
                "conv": (lambda: torch.nn.functional.conv1d(self.input, self.weight, padding=2),
                         2 * 64 * 128 * 256 * 5 * 256)}

    def measure(self) -> None:
        for name, (kernel, flops) in self._kernels().items():
            kernel()
            rate = flops / best_of(kernel, 1) / 1e9
            if rate > self.gflops:
                self.gflops, self.how = rate, f"{name}, {self.threads} intra-op thread(s)"
            if self.threads > 1:
                started = time.perf_counter()
                list(self.pool.map(lambda _, kernel=kernel: kernel(), range(self.threads)))
                rate = self.threads * flops / (time.perf_counter() - started) / 1e9
                if rate > self.gflops:
                    self.gflops, self.how = rate, f"{name}, {self.threads} concurrent 1-thread calls"

    def close(self) -> None:
        self.pool.shutdown()


def forward_section(qusi_python: Path, quick: bool) -> dict[str, Any]:
    import torch

    from qusi_lab.models import Hadryss, count_flops, optimize_for_inference

    batch = 256
    seconds = 4.0 if quick else 12.0
    lengths = [3500] if quick else [3500, 10000]
    heading("1. Forward throughput: qusi Hadryss vs qusi_lab Hadryss (batch 256, eval, float32, CPU)")
    print("| threads | length | model | MFLOP/curve | curves/s | GFLOP/s | % of peak | vs qusi "
          "| curves per CPU-second | vs qusi (CPU) |")
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    qusi = QusiForward(qusi_python)
    results: dict[str, Any] = {}
    previous_threads = torch.get_num_threads()
    try:
        for threads in (2, 1):
            torch.set_num_threads(threads)
            peak = Peak(threads)
            for length in lengths:
                setup = qusi.ask({"setup": {"length": length, "batch": batch, "threads": threads}})
                torch.manual_seed(0)
                model = Hadryss(input_length=length).eval()
                fast = optimize_for_inference(model, threads=threads)
                x = torch.randn(batch, length)
                flops = {"qusi": setup["flops"], "plain": count_flops(model), "optimized": count_flops(model)}

                def plain(model: torch.nn.Module = model, x: torch.Tensor = x) -> object:
                    with torch.no_grad():
                        return model(x)

                def optimized(fast: torch.nn.Module = fast, x: torch.Tensor = x) -> object:
                    return fast(x)

                ours: dict[str, Callable[[], object]] = {"plain": plain, "optimized": optimized}
                for run in ours.values():
                    run()  # warm-up
                best = {"qusi": math.inf, "plain": math.inf, "optimized": math.inf}
                best_cpu = dict(best)
                started, rounds = time.perf_counter(), 0
                while rounds < 3 or time.perf_counter() - started < seconds:
                    answer = qusi.ask({"time": 2})
                    best["qusi"] = min(best["qusi"], *answer["times"])
                    best_cpu["qusi"] = min(best_cpu["qusi"], *answer["cpu_times"])
                    for key, run in ours.items():
                        wall, cpu = best_times(run, 2)
                        best[key], best_cpu[key] = min(best[key], wall), min(best_cpu[key], cpu)
                    peak.measure()
                    rounds += 1
                rates = {key: batch / value for key, value in best.items()}
                cpu_rates = {key: batch / value for key, value in best_cpu.items()}
                labels = {"qusi": f"qusi {QUSI_VERSION} `Hadryss.new(input_length={length})`",
                          "plain": "qusi_lab `Hadryss`, plain `eval()`",
                          "optimized": "qusi_lab `optimize_for_inference(Hadryss)`"}
                for key in ("qusi", "plain", "optimized"):
                    gflops = rates[key] * flops[key] / 1e9
                    print(f"| {threads} | {length:,} | {labels[key]} | {flops[key] / 1e6:.1f} | {rates[key]:,.0f} "
                          f"| {gflops:.1f} | {100 * gflops / peak.gflops:.0f}% | {rates[key] / rates['qusi']:.2f}x "
                          f"| {cpu_rates[key]:,.0f} | {cpu_rates[key] / cpu_rates['qusi']:.2f}x |", flush=True)
                results[f"{threads}/{length}"] = {"rates": rates, "cpu_rates": cpu_rates, "flops": flops,
                                                  "peak_gflops": peak.gflops, "rounds": rounds}
            print(f"| {threads} |  | measured peak {peak.gflops:.0f} GFLOP/s ({peak.how}) |  |  |  |  |  |  |  |")
            peak.close()
    finally:
        qusi.close()
        torch.set_num_threads(previous_threads)
    footer()
    return results


# ----------------------------------------------------------------------------------------- 2. end to end
def child_infer(bundle: str, paths_file: str, workers: str) -> None:
    """Child mode: ``ql.infer`` over the listed files; prints JSON: curves, seconds, CPU seconds, peak RSS (MB)."""
    import qusi_lab as ql

    paths = Path(paths_file).read_text().split("\n")
    model = ql.load(bundle)
    started, cpu_started = time.perf_counter(), cpu_seconds()
    table = ql.infer(model, paths, num_workers=int(workers), period_search=False, progress=False)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    print(json.dumps({"curves": len(table), "seconds": seconds, "cpu_seconds": cpu, "problems": len(table.problems),
                      "main_mb": peak_rss_mb(),
                      # ru_maxrss is in kilobytes on Linux; RUSAGE_CHILDREN: the largest finished child (a worker).
                      "worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))


def e2e_section(qusi_python: Path, data: Path, paths: list[Path], quick: bool) -> dict[str, Any]:
    bundle = make_bundle(data, 4096, name="bundle_4096")
    files = listing(data, paths)
    heading(f"2. End to end: {len(paths):,} SPOC FITS files of {CADENCES:,} cadences -> ranked list")
    print("| pipeline | network input | loader workers | curves | seconds | ms/curve | vs best qusi "
          "| CPU ms/curve (all processes) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    rows: list[tuple[str, str, int, dict[str, Any]]] = []
    ours_runs = 1 if quick else 2
    ours = min((run_json(child("infer", str(bundle), str(files), "2")) for _ in range(ours_runs)),
               key=lambda result: result["seconds"])
    for workers in (0, 2):
        result = run_json([str(qusi_python), str(QUSI_SIDE / "infer.py"), str(files), str(workers), "100", "0"],
                          env=qusi_environment(), cwd=data)
        rows.append((f"qusi {QUSI_VERSION} `infer_session` (`TessMissionLightCurve` loader)",
                     "first 3,500 cadences", workers, result))
    rows.append(("qusi_lab `ql.infer` (period search off)", "whole sector binned to 4,096", 2, ours))
    qusi_best = min(row[3]["seconds"] / row[3]["curves"] for row in rows[:2])
    for name, what, workers, result in rows:
        per_curve = result["seconds"] / result["curves"]
        print(f"| {name} | {what} | {workers} | {result['curves']:,} | {result['seconds']:.1f} "
              f"| {1e3 * per_curve:.2f} | {qusi_best / per_curve:.2f}x "
              f"| {1e3 * result['cpu_seconds'] / result['curves']:.2f} |", flush=True)
    footer()
    return {"qusi_ms": 1e3 * qusi_best, "ours_ms": 1e3 * ours["seconds"] / ours["curves"],
            "rows": [(name, workers, result) for name, _, workers, result in rows]}


# ----------------------------------------------------------------------------------------- 3. training
def child_train(paths_file: str, length: str, batch: str, steps: str, workers: str, cache: str) -> None:
    """Child mode: ``ql.train`` throughput on the listed files (labels by parity); prints JSON.

    ``cache``: ``default`` (``ql.train``'s own choice) or ``off`` (``cache=False``, when ``ql.train`` has it).
    """
    import inspect

    import torch

    import qusi_lab as ql
    from qusi_lab.models import model_for_task
    from qusi_lab.transforms import default_preprocessing

    torch.set_num_threads(1)
    paths = Path(paths_file).read_text().split("\n")
    labels = ["positive" if index % 2 == 0 else "negative" for index in range(len(paths))]
    dataset = ql.LightCurveDataset(paths, labels, preprocessing=default_preprocessing(int(length)))
    torch.manual_seed(0)
    model = model_for_task("hadryss", int(length), "binary")
    stamps: list[float] = []
    model.register_forward_pre_hook(lambda module, _inputs: stamps.append(time.perf_counter())
                                    if module.training else None)
    options: dict[str, Any] = {}
    if cache == "off":
        if "cache" not in inspect.signature(ql.train).parameters:
            print(json.dumps({"unsupported": True}))
            return
        options["cache"] = False
    started = time.perf_counter()
    ql.train(model, dataset, None, max_steps=int(steps), batch_size=int(batch), num_workers=int(workers),
             progress=False, validation_every=int(steps), **options)
    print(json.dumps(_throughput(stamps, started, int(batch))
                     | {"parameters": sum(p.numel() for p in model.parameters())}))


def _throughput(stamps: list[float], started: float, batch: int) -> dict[str, float]:
    """Steady samples/s (from the 4th step on), overall samples/s from the call, and seconds to the first step."""
    timed = stamps[3:]
    return {"steps": len(stamps), "samples_per_second": batch * (len(timed) - 1) / (timed[-1] - timed[0]),
            "overall_samples_per_second": batch * (len(stamps) - 1) / (stamps[-1] - started),
            "seconds_to_first_step": stamps[0] - started}


def train_section(qusi_python: Path, data: Path, paths: list[Path], quick: bool) -> dict[str, Any]:
    from qusi_lab.models import Hadryss

    batch, workers = 64, 2
    steps = 8 if quick else 30
    files = listing(data, paths)
    heading(f"3. Training throughput (batch {batch}, {workers} loader workers, 1 torch thread, {steps} steps)")
    print("| trainer | network input | parameters | samples/s (steady) | vs qusi | seconds to first step "
          "| samples/s including start-up |")
    print("|---|---|---:|---:|---:|---:|---:|")
    qusi = run_json([str(qusi_python), str(QUSI_SIDE / "train.py"), str(files), str(batch), str(steps),
                     str(workers), "1"], env=qusi_environment(), cwd=data)
    runs = [(3500, "default", "whole sector binned to 3,500 (same model size)"),
            (3500, "off", "whole sector binned to 3,500, `cache=False` (reads every step, as qusi)"),
            (4096, "default", "whole sector binned to 4,096 (default)")]
    ours = {}
    for length, cache, what in runs:
        result = run_json(child("train", str(files), str(length), str(batch), str(steps), str(workers), cache))
        if not result.get("unsupported"):
            ours[(length, cache)] = (what, result)

    def row(name: str, what: str, parameters: int, result: dict[str, Any]) -> str:
        return (f"| {name} | {what} | {parameters:,} | {result['samples_per_second']:.0f} "
                f"| {result['samples_per_second'] / qusi['samples_per_second']:.2f}x "
                f"| {result['seconds_to_first_step']:.1f} | {result['overall_samples_per_second']:.0f} |")

    print(row(f"qusi {QUSI_VERSION} `train_session`", "first 3,500 cadences", qusi["parameters"], qusi))
    for (length, _), (what, result) in ours.items():
        print(row("qusi_lab `ql.train`", what, Hadryss(input_length=length).number_of_parameters(), result))
    footer()
    return {"qusi": qusi, "ours": {f"{length}/{cache}": result for (length, cache), (_, result) in ours.items()}}


# ----------------------------------------------------------------------------------------- 3b. AUC
def child_auc(experiment: str, seconds: str, validation_every: str) -> None:
    """Child mode: ``ql.train`` with default settings on the synthetic sector; prints the history as JSON."""
    import torch

    import qusi_lab as ql
    from qusi_lab.models import model_for_task
    from qusi_lab.transforms import DEFAULT_INPUT_LENGTH

    torch.set_num_threads(1)
    datasets = ql.LightCurveDataset.from_experiment(experiment)
    torch.manual_seed(0)
    model = model_for_task("hadryss", DEFAULT_INPUT_LENGTH, "binary")
    result = ql.train(model, datasets["train"], datasets["validation"], num_workers=2, progress=False,
                      max_time=float(seconds), validation_every=int(validation_every))
    history = result.history
    print(json.dumps({"history": json.loads(history.to_json(orient="records")),
                      "train": len(datasets["train"]), "validation": len(datasets["validation"]),
                      "input_length": DEFAULT_INPUT_LENGTH}))


def auc_section(data: Path, stars: int, seconds: float, validation_every: int) -> dict[str, Any]:
    from qusi_lab.synthetic import make_sector

    folder = data / f"sector_{stars}"
    experiment = folder / "spoc_transit_experiment"
    made = 0.0
    if not (folder / f"complete-{stars}").exists():
        shutil.rmtree(folder, ignore_errors=True)
        result = make_sector(folder, n_stars=stars, seed=0, experiment=True)
        made = result.seconds
        (folder / f"complete-{stars}").touch()
    heading(f"3b. Time to validation AUC 0.95: `ql.train` defaults on the synthetic sector ({stars:,} stars)")
    outcome = run_json(child("auc", str(experiment), str(seconds), str(validation_every)),
                       timeout=seconds * 3 + 600)
    history = outcome["history"]
    auc = [row.get("val_auc_roc") for row in history]
    reached = next((row for row in history if (row.get("val_auc_roc") or 0) >= 0.95), None)
    best = max((value for value in auc if value is not None), default=float("nan"))
    last = history[-1] if history else {}
    print(f"Validation every {validation_every} steps (the only setting changed besides 2 loader workers and "
          "the time budget).\n")
    print("| input | train / validation curves | budget | first step with val AUC >= 0.95 | time to it "
          "| best val AUC | steps run |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    step = str(reached["step"]) if reached else "not reached"
    elapsed = f"{reached['elapsed']:.0f} s" if reached else "-"
    print(f"| whole sector binned to {outcome['input_length']:,} | {outcome['train']:,} / {outcome['validation']:,} "
          f"| {seconds:.0f} s | {step} | {elapsed} | {best:.3f} | {last.get('step', 0)} |")
    print("\nValidation history (step: AUC @ seconds): " + ", ".join(
        f"{row['step']}: {row.get('val_auc_roc', float('nan')):.3f} @ {row['elapsed']:.0f} s" for row in history))
    if made:
        print(f"\n(The sector took {made:.0f} s to write; later runs reuse it.)")
    footer()
    return {"reached": reached, "best_auc": best, "history": history}


# ----------------------------------------------------------------------------------------- 4. memory
def memory_section(data: Path, paths: list[Path], quick: bool) -> dict[int, dict[str, Any]]:
    bundle = make_bundle(data, 4096, name="bundle_4096")
    counts = (2_000, 10_000) if quick else (10_000, 100_000)
    heading("4. Memory of `ql.infer` streaming (period search off, 2 workers; a fresh process per run)")
    print("| curves | seconds | ms/curve | main process peak RSS (MB) | largest worker peak RSS (MB) |")
    print("|---:|---:|---:|---:|---:|")
    results: dict[int, dict[str, Any]] = {}
    for count in counts:
        repeat = math.ceil(count / len(paths))
        files = data / f"memory_{count}.txt"
        files.write_text("\n".join(str(path) for path in (paths * repeat)[:count]))
        result = run_json(child("infer", str(bundle), str(files), "2"), timeout=3600)
        results[count] = result
        print(f"| {result['curves']:,} | {result['seconds']:.0f} | {1e3 * result['seconds'] / result['curves']:.2f} "
              f"| {result['main_mb']:.0f} | {result['worker_mb']:.0f} |", flush=True)
    small, large = (results[count] for count in counts)
    growth = large["main_mb"] - small["main_mb"]
    print(f"\nPeak RSS growth from {counts[0]:,} to {counts[1]:,} curves: main {growth:+.0f} MB "
          f"({1024 * growth / (counts[1] - counts[0]):.2f} KB per extra curve: the ranked table's row, the "
          f"curve's metadata and allocator slack; one 4,096-bin float32 input alone is 16 KB), largest worker "
          f"{large['worker_mb'] - small['worker_mb']:+.0f} MB.")
    footer()
    return results


# ----------------------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, short timings")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--qusi-venv", type=Path, default=Path(os.environ.get("QUSI_VENV", ROOT.parent / "qusi_venv")),
                        help="virtual environment with qusi (made if missing; default: %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/qusi_lab_bench_vs_qusi"),
                        help="where files are written and kept for later runs (default: %(default)s)")
    parser.add_argument("--files", type=int, default=None, help="SPOC files for e2e/train/memory (default 2000)")
    parser.add_argument("--sector-stars", type=int, default=None, help="stars in the AUC sector (default 1000)")
    parser.add_argument("--auc-seconds", type=float, default=None, help="training budget of the AUC run (300)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        mode, *rest = arguments.child
        modes: dict[str, Callable[..., None]] = {"infer": child_infer, "train": child_train, "auc": child_auc}
        modes[mode](*rest)
        return 0

    import torch

    sections = [name.strip() for name in arguments.sections.split(",") if name.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    quick = arguments.quick
    files = arguments.files or (300 if quick else 2000)
    stars = arguments.sector_stars or (100 if quick else 1000)
    auc_seconds = arguments.auc_seconds or (30.0 if quick else 300.0)
    data = arguments.data_dir
    data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    qusi_python = ensure_qusi_venv(arguments.qusi_venv)
    qusi_torch = subprocess.run([str(qusi_python), "-c", "import torch; print(torch.__version__)"],
                                capture_output=True, text=True, check=True).stdout.strip()
    print(f"# qusi_lab vs qusi {QUSI_VERSION}\n")
    print(f"torch {torch.__version__} here, {qusi_torch} in {arguments.qusi_venv}; {os.cpu_count()} CPUs "
          f"({_cpu_name()}); {load_average()}.")
    if torch.__version__ != qusi_torch:
        print(f"**Warning: the two sides run different torch builds ({torch.__version__} / {qusi_torch}).**")
    paths: list[Path] = []
    if {"e2e", "train", "memory"} & set(sections):
        tick = time.perf_counter()
        # Reused by later runs; a box transit on every other star, so the files are not all alike.
        paths = write_spoc_files(data / f"spoc_{files}", files, transits=True, reuse=True)
        print(f"{len(paths):,} SPOC files of {CADENCES:,} cadences in {data / f'spoc_{files}'} "
              f"({time.perf_counter() - tick:.0f} s).")
    summary: dict[str, Any] = {}
    if "forward" in sections:
        summary["forward"] = forward_section(qusi_python, quick)
    if "e2e" in sections:
        summary["e2e"] = e2e_section(qusi_python, data, paths, quick)
    if "train" in sections:
        summary["train"] = train_section(qusi_python, data, paths, quick)
    if "auc" in sections:
        summary["auc"] = auc_section(data, stars, auc_seconds, 25 if quick else 50)
    if "memory" in sections:
        summary["memory"] = memory_section(data, paths, quick)
    print_targets(summary)
    print(f"\nTotal {time.perf_counter() - started:.0f} s.")
    return 0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def print_targets(summary: dict[str, Any]) -> None:
    """The targets of the comparison, met or not, from the numbers above."""
    lines = []
    if "forward" in summary:
        for key, result in summary["forward"].items():
            threads, length = key.split("/")
            ratio = result["rates"]["optimized"] / result["rates"]["qusi"]
            lines.append(f"forward, {threads} thread(s), length {int(length):,}: {ratio:.2f}x qusi "
                         f"(target >= 2x: {'met' if ratio >= 2 else 'NOT met'})")
    if "e2e" in summary:
        e2e = summary["e2e"]
        ratio = e2e["qusi_ms"] / e2e["ours_ms"]
        lines.append(f"end to end: {e2e['ours_ms']:.2f} ms/curve vs qusi {e2e['qusi_ms']:.2f}: {ratio:.1f}x "
                     f"(target >= 5x: {'met' if ratio >= 5 else 'NOT met'}; < 1 ms/curve: "
                     f"{'met' if e2e['ours_ms'] < 1 else 'NOT met'})")
    if "train" in summary:
        train = summary["train"]
        ratio = train["ours"]["3500/default"]["samples_per_second"] / train["qusi"]["samples_per_second"]
        lines.append(f"training throughput at equal model size: {ratio:.2f}x qusi "
                     f"(target >= 1.5x: {'met' if ratio >= 1.5 else 'NOT met'})")
    if "auc" in summary:
        reached = summary["auc"]["reached"]
        lines.append("validation AUC 0.95: " + (f"reached at step {reached['step']} after {reached['elapsed']:.0f} s"
                                                if reached else
                                                f"not reached (best {summary['auc']['best_auc']:.3f})"))
    if "memory" in summary:
        (small, first), (large, second) = summary["memory"].items()
        growth = max(second["main_mb"] - first["main_mb"], second["worker_mb"] - first["worker_mb"])
        per_curve = 1024 * growth / (large - small)
        lines.append(f"memory {small:,} -> {large:,} curves: peak RSS grows {growth:+.0f} MB, {per_curve:.2f} KB per "
                     "extra curve (keeping each curve's 4,096-bin input would take 16 KB per curve)")
    if lines:
        print("\n### Targets\n")
        print("\n".join(f"- {line}" for line in lines))


if __name__ == "__main__":
    sys.exit(main())
