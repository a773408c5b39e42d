"""Training on several processes (torchrun, gloo over loopback) and the helpers of qusi_lab.training.distributed.

The process tests start real ``torchrun`` jobs of 2 CPU processes (one torch thread each) on the small
in-memory datasets of tests/test_training.py (through tests/distributed_run.py) or on a synthetic
experiment folder (through ``python -m qusi_lab train``).

Tolerance of 1 vs 2 processes: the 2-process run computes the same global batches, BatchNorm
statistics and dropout masks, but sums in another order (per-rank partial sums, then over ranks), so
the weights differ by rounding only. Measured after 40 steps of Adam: at most 2-3e-7 absolute
(~2.5e-6 relative to a tensor's largest value) for the binary run, 5.7e-7 for the class-weighted
multiclass one; the assertions allow ``WEIGHT_ATOL`` = 1e-5. (Without the global-batch BatchNorm and
dropout the binary run differs by 0.18; without the per-rank share of the class weights the multiclass
one by 0.037.) A resumed 2-process run is bit-identical to an uninterrupted one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from qusi_lab.training import distributed
from qusi_lab.training.distributed import (
    check_batch_size,
    choose_device,
    choose_precision,
    shard_batch,
    shard_indices,
)

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SCRIPT = TESTS / "distributed_run.py"
MAX_STEPS = 40
#: Largest absolute weight difference allowed between 1 and 2 processes (rounding; see the docstring).
WEIGHT_ATOL = 1e-5

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py: the children use one thread too


def child_environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["OMP_NUM_THREADS"] = "1"
    return env


def torchrun(*arguments: str, processes: int = 2) -> list[str]:
    # --standalone: a rendezvous on a free local port, so tests running side by side do not collide.
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", *arguments]


def run_script(out: Path, checkpoint_dir: Path | str, max_steps: int, task: str = "binary") -> subprocess.CompletedProcess[str]:
    command = torchrun(str(SCRIPT), str(out), str(checkpoint_dir), str(max_steps), "0", task)
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240, env=child_environment())
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished


def report(out: Path, rank: int) -> dict:
    return json.loads((out / f"rank{rank}.json").read_text())


def weights(out: Path, rank: int) -> dict[str, torch.Tensor]:
    return torch.load(out / f"rank{rank}.pt", weights_only=True)


def assert_same_weights(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor], atol: float) -> None:
    assert first.keys() == second.keys()
    for key in first:
        torch.testing.assert_close(first[key], second[key], rtol=0.0, atol=atol, msg=key)


@pytest.fixture(scope="module")
def two_process_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 2-process run of MAX_STEPS steps (with checkpoints): its folder of results."""
    out = tmp_path_factory.mktemp("two")
    run_script(out, out / "checkpoints", MAX_STEPS)
    return out


# ---------------------------------------------------------------- helpers, in this process
def test_shards_are_disjoint_covering_and_deterministic() -> None:
    for size in (0, 1, 7, 16, 33):
        for world in (1, 2, 3, 4):
            shards = [shard_indices(size, rank=r, world=world) for r in range(world)]
            together = sorted(int(i) for shard in shards for i in shard)
            assert together == list(range(size))  # covering, and disjoint (no index twice)
            assert max(len(s) for s in shards) - min(len(s) for s in shards) <= 1  # balanced
            assert all(
                (shard == shard_indices(size, rank=r, world=world)).all() for r, shard in enumerate(shards)
            )
    batch = torch.arange(16).reshape(8, 2)
    rows = torch.cat([shard_batch(batch, rank=r, world=4) for r in range(4)])
    assert sorted(rows[:, 0].tolist()) == batch[:, 0].tolist()
    assert shard_batch(batch, rank=1, world=2)[:, 0].tolist() == [2, 6, 10, 14]  # items 1::2
    with pytest.raises(ValueError, match="rank 2"):
        shard_indices(4, rank=2, world=2)


def test_batch_size_must_split_evenly() -> None:
    check_batch_size(16, 2)
    with pytest.raises(ValueError, match="not divisible by the 3 training processes"):
        check_batch_size(16, 3)


def test_outside_torchrun_nothing_is_distributed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert distributed.world_size() == 1 and distributed.rank() == 0 and distributed.is_main_process()
    with distributed.process_group(torch.device("cpu")) as is_distributed:
        assert not is_distributed
    assert distributed.broadcast_object({"a": 1}) == {"a": 1}
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    assert distributed.world_size() == 4 and distributed.rank() == 3 and not distributed.is_main_process()
    assert not distributed.launched_by_torchrun()  # no MASTER_ADDR / MASTER_PORT: not a launcher's environment


def test_device_and_precision_selection(monkeypatch: pytest.MonkeyPatch) -> None:
    # No GPU here: the CUDA branches are checked by pretending one exists.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert choose_device(None) == torch.device("cpu")
    assert choose_precision(None, torch.device("cpu")) == "fp32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert choose_device(None) == torch.device("cuda", 1)
    assert choose_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: True)
    assert choose_precision(None, torch.device("cuda", 1)) == "bf16"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: False)
    assert choose_precision(None, torch.device("cuda", 1)) == "fp16"
    assert choose_precision("FP32", torch.device("cuda", 0)) == "fp32"
    assert distributed.backend_for(torch.device("cuda", 0)) == "nccl"
    assert distributed.backend_for(torch.device("cpu")) == "gloo"
    with pytest.raises(ValueError, match="fp16"):
        choose_precision("fp16", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision must be"):
        choose_precision("fp8", torch.device("cpu"))


def test_one_process_records_device_precision_and_world_size() -> None:
    from test_training import binary_dataset, small_model

    from qusi_lab.training import train

    result = train(small_model(), binary_dataset(16, seed=1), None, max_steps=2, batch_size=8, progress=False)
    assert result.config["device"] == "cpu"
    assert result.config["precision"] == "fp32"
    assert result.config["world_size"] == 1
    assert result.config["global_batch"] is True
    per_rank = train(small_model(), binary_dataset(16, seed=1), None, max_steps=2, batch_size=8, progress=False,
                     global_batch=False)
    assert per_rank.config["global_batch"] is False  # on one process the two are the same run
    for key, value in result.model.network.state_dict().items():
        assert torch.equal(value, per_rank.model.network.state_dict()[key])


# ---------------------------------------------------------------- real processes
@pytest.mark.slow
def test_torchrun_cli_trains_and_rank_zero_alone_writes_the_bundle(tmp_path: Path) -> None:
    from qusi_lab import synthetic

    experiment = synthetic.make_sector(tmp_path / "data", n_stars=30, seed=4, experiment=True).experiment_directory
    assert experiment is not None
    out = tmp_path / "run"
    command = torchrun(
        "-m", "qusi_lab", "train", "--data", str(experiment), "--out", str(out), "--max-steps", "4",
        "--batch-size", "8", "--input-length", "128", "--validation-every", "2", "--num-workers", "0",
        "--threads", "1", "--quiet",
    )
    finished = subprocess.run(command, capture_output=True, text=True, timeout=240, env=child_environment())
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert finished.stdout.count("model saved to") == 1  # rank 0 only
    bundle = json.loads((out / "bundle.json").read_text())
    assert bundle["training"]["world_size"] == 2 and bundle["training"]["precision"] == "fp32"
    assert (out / "model.pt").is_file() and (out / "history.csv").is_file()
    checkpoint = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert checkpoint["step"] == 4
    assert sorted(path.name for path in (out / "checkpoints").iterdir()) == ["best.pt", "last.pt", "metrics.csv"]


@pytest.mark.slow
def test_two_processes_give_the_weights_of_one(two_process_run: Path) -> None:
    from distributed_run import SETTINGS, datasets
    from test_training import small_model

    from qusi_lab.training import train

    first, second = report(two_process_run, 0), report(two_process_run, 1)
    assert first["world_size"] == second["world_size"] == 2 and first["steps"] == MAX_STEPS
    assert first == second  # the same history and best step on both ranks
    assert_same_weights(weights(two_process_run, 0), weights(two_process_run, 1), atol=0.0)  # bit-identical

    train_set, validation_set = datasets()
    one = train(small_model(), train_set, validation_set, max_steps=MAX_STEPS, **SETTINGS)
    assert one.config["world_size"] == 1
    assert_same_weights(weights(two_process_run, 0), one.model.network.state_dict(), atol=WEIGHT_ATOL)
    assert first["best_step"] == one.best_step
    assert first["history"]["val_loss"] == pytest.approx(list(one.history["val_loss"]), abs=1e-5)
    assert first["history"]["train_loss"] == pytest.approx(list(one.history["train_loss"]), abs=1e-5)


@pytest.mark.slow
def test_per_rank_layers_keep_the_ranks_in_step_but_are_not_the_one_process_model(tmp_path: Path,
                                                                                 two_process_run: Path) -> None:
    out = tmp_path / "per_rank"
    run_script(out, "-", MAX_STEPS, task="binary-per-rank")
    per_rank = weights(out, 0)
    assert_same_weights(per_rank, weights(out, 1), atol=0.0)  # DDP keeps the ranks identical
    exact = weights(two_process_run, 0)
    largest = max(float((per_rank[key] - exact[key]).abs().max()) for key in exact)
    assert largest > 100 * WEIGHT_ATOL  # statistics over 8 curves, not 16: a different (equivalent) model


@pytest.mark.slow
def test_class_weighted_multiclass_loss_is_shared_exactly(tmp_path: Path) -> None:
    # A weighted mean (CrossEntropyLoss(weight=...)) per rank is not the batch's: each rank scales its loss by
    # its share of the batch's weights. Without that the weights differ by ~0.04 after 40 steps here.
    from distributed_run import datasets, network, options

    from qusi_lab.training import train

    run_script(tmp_path, "-", MAX_STEPS, task="multiclass")
    train_set, validation_set = datasets("multiclass")
    one = train(network("multiclass"), train_set, validation_set, max_steps=MAX_STEPS, **options("multiclass"))
    assert one.config["class_weights"] is not None and len(set(one.config["class_weights"])) == 3
    assert_same_weights(weights(tmp_path, 0), one.model.network.state_dict(), atol=WEIGHT_ATOL)
    assert report(tmp_path, 0)["history"]["train_loss"] == pytest.approx(list(one.history["train_loss"]), abs=1e-5)


@pytest.mark.slow
def test_killing_a_rank_then_rerunning_resumes_to_the_uninterrupted_result(
    two_process_run: Path, tmp_path: Path
) -> None:
    out, checkpoints = tmp_path / "killed", tmp_path / "killed" / "checkpoints"
    # Steps slowed to 0.15 s (a sleep before each update, same numbers) so the kill lands mid-run.
    command = torchrun(str(SCRIPT), str(out), str(checkpoints), str(MAX_STEPS), "0.15")
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_environment())
    deadline = time.monotonic() + 120
    while not ((checkpoints / "last.pt").exists() and (out / "pid1").exists()):
        assert job.poll() is None, job.communicate()[1].decode()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    os.kill(int((out / "pid1").read_text()), signal.SIGKILL)  # rank 1 dies; torchrun stops rank 0
    job.communicate(timeout=120)
    assert job.returncode != 0
    killed_at = torch.load(checkpoints / "last.pt", weights_only=True)["step"]
    assert 10 <= killed_at < MAX_STEPS, "the run must be killed part-way for this test to mean anything"
    assert not (out / "rank0.json").exists()

    run_script(out, checkpoints, MAX_STEPS)  # the same command again, at full speed
    resumed = report(out, 0)
    assert resumed["resumed_from"] == killed_at and resumed["steps"] == MAX_STEPS
    uninterrupted = report(two_process_run, 0)
    assert resumed["best_step"] == uninterrupted["best_step"]
    assert resumed["history"] == uninterrupted["history"]
    # Resuming replays the same batches, masks and reductions on the same ranks and thread counts:
    # the weights are bit-identical to the uninterrupted run's (as for one process, tests/test_training.py).
    assert_same_weights(weights(out, 0), weights(two_process_run, 0), atol=0.0)
    assert_same_weights(weights(out, 1), weights(out, 0), atol=0.0)
