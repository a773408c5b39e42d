"""Train a small Hadryss with ``ql.train`` as tests/test_distributed_training.py's child process.

Run directly (one process) or under ``torchrun`` (several); every rank writes ``OUT/rank<r>.pt`` (its
final weights) and ``OUT/rank<r>.json`` (its result), so the test can compare ranks and runs.

Usage: ``python tests/distributed_run.py OUT CHECKPOINT_DIR MAX_STEPS [STEP_SECONDS [TASK]]``; a positive
STEP_SECONDS sleeps that long before each step (to give a test time to kill a rank mid-run) and
writes ``OUT/pid<r>`` first. TASK ``multiclass`` trains 3 unbalanced classes with ``class_weights="auto"``
(a weighted-mean loss) instead of the binary task; ``binary-per-rank`` the binary task with
``global_batch=False``. CHECKPOINT_DIR ``-``: no checkpoints.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from test_training import LENGTH, binary_dataset, small_model, synthetic_curve  # noqa: E402

from qusi_lab.data import LightCurveDataset  # noqa: E402
from qusi_lab.training import train  # noqa: E402
from qusi_lab.training.distributed import rank  # noqa: E402

#: The run both the tests and this script use (the one-process reference calls train() with these too).
SETTINGS = {"batch_size": 16, "validation_every": 10, "checkpoint_every": 10, "seed": 5, "progress": False}
TRAIN_CURVES, VALIDATION_CURVES = 64, 32


def datasets(task: str = "binary") -> tuple:
    if task.startswith("binary"):
        return binary_dataset(TRAIN_CURVES, seed=1), binary_dataset(VALIDATION_CURVES, seed=2)
    # Three classes in shares 3:2:1, so the class weights differ and each rank's weighted mean would too.
    rng = np.random.default_rng(3)
    kinds = ["flat", "flat", "flat", "dip", "dip", "sine"]
    curves = [synthetic_curve(kinds[i % 6], rng, i) for i in range(96)]
    dataset = LightCurveDataset.from_light_curves(curves, [kinds[i % 6] for i in range(96)], input_length=LENGTH)
    return dataset.subset(range(64)), dataset.subset(range(64, 96))


def network(task: str = "binary") -> torch.nn.Module:
    return small_model() if task.startswith("binary") else small_model(n_outputs=3)


def options(task: str = "binary") -> dict:
    if task == "binary-per-rank":  # plain DDP: BatchNorm statistics and dropout masks per process
        return {**SETTINGS, "global_batch": False}
    return SETTINGS if task == "binary" else {**SETTINGS, "class_weights": "auto"}


def main() -> None:
    out, checkpoint_dir, max_steps = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    step_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    task = sys.argv[5] if len(sys.argv) > 5 else "binary"
    torch.set_num_threads(1)  # bit-identical reductions need the same thread count as the reference
    out.mkdir(parents=True, exist_ok=True)
    me = int(os.environ.get("RANK", "0"))
    if step_seconds > 0:
        (out / f"pid{me}").write_text(str(os.getpid()))
        register_optimizer_step_pre_hook(lambda *_: time.sleep(step_seconds))
    train_set, validation_set = datasets(task)
    directory = None if checkpoint_dir == "-" else checkpoint_dir
    result = train(network(task), train_set, validation_set, max_steps=max_steps, checkpoint_dir=directory,
                   **options(task))
    assert rank() == me
    torch.save(result.model.network.state_dict(), out / f"rank{me}.pt")
    report = {
        "best_step": result.best_step,
        "steps": result.steps,
        "resumed_from": result.resumed_from,
        "world_size": result.config["world_size"],
        "history": result.history.drop(columns="elapsed").to_dict("list"),
    }
    (out / f"rank{me}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main()
