"""Issue 12, "Nothing silently wrong", for training: resume checks its data, seeds set the weights,
workers are deterministic, Ctrl-C saves what it did and says so, failed checkpoint writes are clear.

Curves are small in-memory synthetic ones (as in test_training.py) binned to 256 values, and the CLI
runs use a 30-star synthetic experiment at 128 bins, so every test takes a few seconds.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import qusi_lab as ql
from qusi_lab.cli import _positive_float, main
from qusi_lab.data import LightCurveDataset
from qusi_lab.errors import CheckpointError, CheckpointWriteError, QusiLabError
from qusi_lab.models import Hadryss
from qusi_lab.training import train

LENGTH = 256
SMALL: dict[str, Any] = {"filters": (8, 8, 16, 16, 32, 32), "dense_units": (16,)}
TESTS = Path(__file__).resolve().parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def synthetic_curve(kind: str, rng: np.random.Generator, index: int) -> ql.LightCurve:
    time_days = np.arange(1000) / 48.0
    flux = 1.0 + rng.normal(0.0, 1e-3, time_days.size)
    if kind == "dip":
        period, phase = rng.uniform(1.0, 4.0), rng.uniform(0.0, 4.0)
        flux[((time_days - phase) % period) < 0.15] -= 4e-3
    return ql.LightCurve(time_days, flux, target_id=f"TIC {index}")


def binary_dataset(count: int, seed: int, **kwargs: Any) -> LightCurveDataset:
    rng = np.random.default_rng(seed)
    kinds = ["dip" if i % 2 else "flat" for i in range(count)]
    curves = [synthetic_curve(kind, rng, seed * 10_000 + i) for i, kind in enumerate(kinds)]
    labels = ["positive" if kind == "dip" else "negative" for kind in kinds]
    return LightCurveDataset.from_light_curves(curves, labels, input_length=LENGTH, **kwargs)


def small_model(seed: int = 0) -> Hadryss:
    torch.manual_seed(seed)
    return Hadryss(input_length=LENGTH, **SMALL)


def weights_equal(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


@pytest.fixture(scope="module")
def sets() -> tuple[LightCurveDataset, LightCurveDataset]:
    return binary_dataset(64, seed=1), binary_dataset(24, seed=2)


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two synthetic experiments with different numbers of curves."""
    from qusi_lab import synthetic

    folders = []
    for stars, seed in ((30, 4), (24, 5)):
        root = tmp_path_factory.mktemp(f"data{stars}")
        result = synthetic.make_sector(root, n_stars=stars, seed=seed, experiment=True)
        assert result.experiment_directory is not None
        folders.append(result.experiment_directory)
    return folders[0], folders[1]


def cli_train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data", str(data), "--out", str(out), "--max-steps", "4", "--batch-size", "8",
                 "--input-length", "128", "--validation-every", "2", "--num-workers", "0", "--quiet", *extra])


# ------------------------------------------------------------------ 1. resume checks its data
def test_resume_refuses_a_checkpoint_made_on_other_data(sets, tmp_path) -> None:
    train_set, validation_set = sets
    settings: dict[str, Any] = dict(max_steps=4, batch_size=8, validation_every=2, progress=False)
    train(small_model(), train_set, validation_set, checkpoint_dir=tmp_path, **settings)
    other = binary_dataset(48, seed=7)
    with pytest.raises(CheckpointError) as error:
        train(small_model(), other, validation_set, checkpoint_dir=tmp_path, **settings)
    message = str(error.value)
    assert isinstance(error.value, ValueError) and isinstance(error.value, QusiLabError)
    assert "last.pt" in message and "other data" in message
    assert "64" in message and "48" in message  # the training-set sizes, checkpoint and now
    assert "TIC 70000" in message  # the first curve that differs
    assert "resume=False (CLI: --fresh)" in message and "\n" not in message
    # Another validation set is other data too.
    with pytest.raises(CheckpointError, match="validation"):
        train(small_model(), train_set, binary_dataset(24, seed=8), checkpoint_dir=tmp_path, **settings)
    restarted = train(small_model(), other, validation_set, checkpoint_dir=tmp_path, resume=False, **settings)
    assert restarted.resumed_from is None and restarted.steps == 4
    again = train(small_model(), other, validation_set, checkpoint_dir=tmp_path, **settings)
    assert again.resumed_from == 4


def test_every_resume_refusal_names_the_cli_flag(sets, tmp_path) -> None:
    train_set, _ = sets
    train(small_model(), train_set, max_steps=3, batch_size=8, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"batch_size: checkpoint 8, now 16.*resume=False \(CLI: --fresh\)"):
        train(small_model(), train_set, max_steps=3, batch_size=16, checkpoint_dir=tmp_path, progress=False)
    # Weights of another shape (another network under the same name and settings).
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    state["model"] = {key: torch.zeros(1) for key in state["model"]}
    torch.save(state, tmp_path / "last.pt")
    with pytest.raises(CheckpointError, match=r"does not fit this model.*resume=False \(CLI: --fresh\)"):
        train(small_model(), train_set, max_steps=3, batch_size=8, checkpoint_dir=tmp_path, progress=False)
    (tmp_path / "last.pt").write_bytes(b"PK\x03\x04 half a checkpoint")
    with pytest.raises(CheckpointError) as error:
        train(small_model(), train_set, max_steps=3, batch_size=8, checkpoint_dir=tmp_path, progress=False)
    message = str(error.value)
    assert str(tmp_path / "last.pt") in message and "resume=False (CLI: --fresh)" in message
    assert "cannot read" in message


def test_cli_refuses_to_resume_on_other_data_and_fresh_starts_over(experiments, tmp_path, capsys) -> None:
    first, second = experiments
    out = tmp_path / "run"
    assert cli_train(first, out) == 0
    model_bytes = (out / "model.pt").read_bytes()
    # The same data copied elsewhere is the same data (names are compared relative to the data folder).
    moved = shutil.copytree(first, tmp_path / "moved" / first.name)
    assert cli_train(moved, out) == 0
    capsys.readouterr()
    assert cli_train(second, out) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("qusi-lab: error: ") and len(error.splitlines()) == 1
    assert "other data" in error and "--fresh" in error
    assert (out / "model.pt").read_bytes() == model_bytes  # nothing was overwritten
    assert cli_train(second, out, "--fresh") == 0
    output = capsys.readouterr().out
    assert "4/4 steps" in output
    assert (out / "model.pt").read_bytes() != model_bytes
    assert cli_train(second, out) == 0  # and the new run resumes (finished: returns at once)


# ------------------------------------------------------------------ 2. the seed sets the initial weights
def test_the_seed_sets_the_initial_weights(sets) -> None:
    train_set, validation_set = sets
    settings: dict[str, Any] = dict(max_steps=6, batch_size=8, validation_every=3, progress=False, seed=3)
    first = train(small_model(seed=1), train_set, validation_set, **settings)
    second = train(small_model(seed=2), train_set, validation_set, **settings)
    assert first.config["initialize"] is True
    assert weights_equal(first.model.state_dict(), second.model.state_dict())
    # initialize=False keeps the weights given: different initial weights, different results.
    kept = [
        train(small_model(seed=s), train_set, validation_set, initialize=False, **settings).model.state_dict()
        for s in (1, 2)
    ]
    assert not weights_equal(*kept)
    # A trained model (it carries .bundle, as ql.load gives) is fine-tuned, not re-initialised.
    model = first.model
    before = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}
    tuned = train(model, train_set, max_steps=1, batch_size=8, learning_rate=1e-9, progress=False, seed=3)
    assert tuned.config["initialize"] is False
    after = dict(tuned.model.named_parameters())
    assert all(torch.allclose(before[name], after[name], atol=1e-6) for name in before)


def test_cli_same_seed_gives_identical_weights_with_two_workers(experiments, tmp_path) -> None:
    # Also issue item 9: two runs with two DataLoader workers and the same seed.
    first, _ = experiments
    weights = []
    for name in ("a", "b"):
        assert cli_train(first, tmp_path / name, "--seed", "3", "--num-workers", "2") == 0
        weights.append(torch.load(tmp_path / name / "model.pt", weights_only=True))
    assert weights_equal(weights[0], weights[1])


# ------------------------------------------------------------------ 9. workers are deterministic
def test_two_workers_with_a_bad_file_give_the_same_weights_twice(experiments, tmp_path) -> None:
    first, _ = experiments
    data = tmp_path / "data"
    shutil.copytree(first, data)
    shutil.copy(TESTS / "data" / "bad" / "not_fits.fits", data / "train" / "positive" / "zz_bad.fits")
    from qusi_lab.transforms import default_preprocessing

    datasets = LightCurveDataset.from_experiment(data, preprocessing=default_preprocessing(128))
    results = []
    for _ in range(2):
        torch.manual_seed(0)
        model = Hadryss(input_length=128, **SMALL)
        result = train(model, datasets["train"], datasets["validation"], max_steps=12, batch_size=8,
                       validation_every=4, num_workers=2, cache=False, balance="equal", progress=False, seed=3)
        results.append(result)
    assert weights_equal(results[0].model.state_dict(), results[1].model.state_dict())
    assert results[0].best_step == results[1].best_step
    assert "zz_bad.fits" in " ".join(results[0].problems["path"])


# ------------------------------------------------------------------ 13. Ctrl-C
@pytest.fixture(autouse=True)
def ctrl_c_raises() -> Any:
    # A shell starts background jobs with SIGINT ignored and Python keeps that: these tests need the
    # interactive default (KeyboardInterrupt), whoever started pytest.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _default_ctrl_c() -> None:
    """In a child process: Ctrl-C back to its default, so that Python turns it into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_at_training_call(model: torch.nn.Module, call: int) -> None:
    """Send this process a real SIGINT (a Ctrl-C) during the ``call``-th training forward pass."""
    calls = [0]

    def hook(module: torch.nn.Module, inputs: Any, output: Any) -> None:
        if module.training:
            calls[0] += 1
            if calls[0] == call:
                os.kill(os.getpid(), signal.SIGINT)

    model.register_forward_hook(hook)


def test_ctrl_c_before_the_first_checkpoint_saves_the_steps_done(sets, tmp_path) -> None:
    train_set, validation_set = sets
    settings: dict[str, Any] = dict(
        max_steps=12, batch_size=8, validation_every=10, checkpoint_every=10, progress=False, seed=6
    )
    reference = train(small_model(), train_set, validation_set, **settings)
    model = small_model()
    interrupt_at_training_call(model, 4)
    with pytest.warns(UserWarning) as caught, pytest.raises(KeyboardInterrupt):
        train(model, train_set, validation_set, checkpoint_dir=tmp_path, **settings)
    message = " ".join(str(item.message) for item in caught)
    assert "saved a checkpoint at step 4" in message and "again to continue" in message
    assert "last checkpoint" not in message
    assert torch.load(tmp_path / "last.pt", weights_only=True)["step"] == 4
    continued = train(small_model(), train_set, validation_set, checkpoint_dir=tmp_path, **settings)
    assert continued.resumed_from == 4 and continued.steps == 12
    assert weights_equal(continued.model.state_dict(), reference.model.state_dict())


def test_ctrl_c_without_a_checkpoint_dir_says_nothing_was_saved(sets) -> None:
    train_set, _ = sets
    model = small_model()
    interrupt_at_training_call(model, 2)
    with pytest.warns(UserWarning, match="no checkpoint was written") as caught, pytest.raises(KeyboardInterrupt):
        train(model, train_set, max_steps=10, batch_size=8, progress=False)
    assert "continue" not in " ".join(str(item.message) for item in caught)


class SlowLoader:
    """Returns in-memory curves slowly, as big FITS files on a network disk would be read, and leaves a
    file per curve read so the test can count, across worker processes, what the workers finished."""

    def __init__(self, marks: Path) -> None:
        self.marks = marks

    def __call__(self, light_curve: ql.LightCurve) -> ql.LightCurve:
        time.sleep(0.4)
        (self.marks / f"{os.getpid()}-{time.monotonic_ns()}").touch()
        return light_curve


def test_ctrl_c_with_busy_workers_exits_promptly(sets, tmp_path) -> None:
    train_set, _ = sets
    curves = [train_set.light_curve(i) for i in range(len(train_set))]
    marks = tmp_path / "reads"
    marks.mkdir()
    slow = LightCurveDataset(curves, train_set.labels, load=SlowLoader(marks), input_length=LENGTH)
    batch_size = 16

    def press_ctrl_c() -> None:  # as Jupyter's "interrupt kernel" does: the main process only
        while len(list(marks.iterdir())) < 2:  # the workers are reading their first batches
            time.sleep(0.05)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    with warnings.catch_warnings(record=True), pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("always")
        train(small_model(), slow, max_steps=50, batch_size=batch_size, num_workers=2, cache=False,
              checkpoint_dir=tmp_path, progress=False)
    reads_at_return = len(list(marks.iterdir()))
    # Returning did not wait for the workers' batches: no worker finished its first one ...
    assert reads_at_return < 2 * batch_size, f"{reads_at_return} curves read before Ctrl-C returned"
    # ... and the workers are gone: nothing more is read after the return.
    time.sleep(1.0)
    assert len(list(marks.iterdir())) == reads_at_return
    assert (tmp_path / "last.pt").exists()


# ------------------------------------------------------------------ 10. checkpoint writes and bad values
@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 4416 vs 4304"),
        OSError(errno.ENOSPC, "No space left on device"),
    ],
)
def test_a_failed_checkpoint_write_keeps_the_previous_one_and_says_why(sets, tmp_path, monkeypatch,
                                                                        failure) -> None:
    train_set, _ = sets
    settings: dict[str, Any] = dict(batch_size=8, checkpoint_dir=tmp_path, progress=False)
    train(small_model(), train_set, max_steps=3, **settings)
    previous = (tmp_path / "last.pt").read_bytes()

    def failing_save(*args: Any, **kwargs: Any) -> None:
        raise failure

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(CheckpointWriteError) as error:
        train(small_model(), train_set, max_steps=6, **settings)
    message = str(error.value)
    assert str(tmp_path / "last.pt") in message and str(failure) in message
    assert isinstance(error.value, QusiLabError)
    assert (tmp_path / "last.pt").read_bytes() == previous
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".tmp")] == []


def test_a_full_disk_is_named_as_such(tmp_path, monkeypatch) -> None:
    from qusi_lab.training import checkpoints

    target = tmp_path / "last.pt"
    checkpoints.atomic_torch_save({"step": 1}, target)
    real_fsync = os.fsync

    def full_disk(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(CheckpointWriteError, match="No space left on device"):
        checkpoints.atomic_torch_save({"step": 2}, target)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert torch.load(target, weights_only=True) == {"step": 1}


@pytest.mark.parametrize("text", ["inf", "nan", "-inf", "1e400"])
def test_non_finite_learning_rates_are_refused(sets, text, capsys) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="finite"):
        _positive_float(text)
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", ".", "--out", "x", "--learning-rate", text])
    assert exit_info.value.code == 2
    assert "--learning-rate" in capsys.readouterr().err
    train_set, _ = sets
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number"):
        train(small_model(), train_set, max_steps=2, batch_size=8, progress=False, learning_rate=float(text))
    assert math.isfinite(_positive_float("1e-3"))


# Started as a shell's background job, pytest inherits SIGINT ignored; under that start a child CLI given a
# group Ctrl-C was seen to hang in DataLoader teardown (CI run of 2026-12-04, not yet explained): skip loudly.
_STARTED_WITH_CTRL_C_IGNORED = signal.getsignal(signal.SIGINT) == signal.SIG_IGN


@pytest.mark.slow
@pytest.mark.skipif(_STARTED_WITH_CTRL_C_IGNORED,
                    reason="pytest was started with SIGINT ignored (a background job): no terminal Ctrl-C to test")
@pytest.mark.slow
def test_terminal_ctrl_c_reaching_the_workers_too_saves_and_exits_130(experiments, tmp_path) -> None:
    # A terminal's Ctrl-C goes to every process of the foreground group, DataLoader workers included.
    import subprocess
    import sys

    first, _ = experiments
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "qusi_lab.cli", "train", "--data", str(first), "--out", str(out), "--max-steps",
         "100000", "--batch-size", "8", "--input-length", "128", "--validation-every", "10", "--num-workers", "2",
         "--quiet"],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_default_ctrl_c,
    )
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoints" / "last.pt").exists():
            assert process.poll() is None and time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        time.sleep(0.3)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:  # never leave a 100,000-step run behind when the test fails
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 130, stderr
    assert "exited unexpectedly" not in stderr and "saved a checkpoint at step" in stderr
    step = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert f"saved a checkpoint at step {step} " in stderr
