"""The training loop (qusi_lab.training.train) on small synthetic light curves built in memory.

Curves are 1,000 cadences of white noise (30-minute cadence, ~21 days); "dip" curves carry periodic
box transits, "sine" curves a sinusoid. Networks see them binned to 256 values, so a Hadryss step
takes milliseconds and every test trains for real.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

import qusi_lab as ql
from qusi_lab.data import LightCurveDataset
from qusi_lab.io import write_npz
from qusi_lab.models import Hadryss
from qusi_lab.training import bundle_of, evaluate, train

LENGTH = 256
SMALL: dict[str, Any] = {
    "filters": (8, 8, 16, 16, 32, 32),
    "dense_units": (16,),
}  # a faster Hadryss for most tests
TESTS = Path(__file__).resolve().parent


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def synthetic_curve(
    kind: str, rng: np.random.Generator, index: int, depth: float | None = None
) -> ql.LightCurve:
    time_days = np.arange(1000) / 48.0
    flux = 1.0 + rng.normal(0.0, 1e-3, time_days.size)
    if kind == "dip":
        period, phase = rng.uniform(1.0, 4.0), rng.uniform(0.0, 4.0)
        flux[((time_days - phase) % period) < 0.15] -= 4e-3 if depth is None else depth
    elif kind == "sine":
        flux += 4e-3 * np.sin(2 * np.pi * time_days / rng.uniform(0.5, 2.0) + rng.uniform(0, 2 * np.pi))
    return ql.LightCurve(time_days, flux, target_id=f"TIC {index}")


def binary_dataset(count: int, seed: int, **kwargs) -> LightCurveDataset:
    rng = np.random.default_rng(seed)
    kinds = ["dip" if i % 2 else "flat" for i in range(count)]
    curves = [synthetic_curve(kind, rng, seed * 10_000 + i) for i, kind in enumerate(kinds)]
    labels = ["positive" if kind == "dip" else "negative" for kind in kinds]
    return LightCurveDataset.from_light_curves(curves, labels, input_length=LENGTH, **kwargs)


def small_model(seed: int = 0, **kwargs) -> Hadryss:
    torch.manual_seed(seed)
    return Hadryss(input_length=LENGTH, **{**SMALL, **kwargs})


def use_agg_backend() -> None:
    # Imported here, not at module level: the resume test's subprocess imports this module and should start fast.
    import matplotlib

    matplotlib.use("Agg")


def weights_equal(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


@pytest.fixture(scope="module")
def binary_sets() -> tuple[LightCurveDataset, LightCurveDataset]:
    return binary_dataset(160, seed=1), binary_dataset(60, seed=2)


def test_learns_an_easy_binary_task(binary_sets, tmp_path) -> None:
    train_set, validation_set = binary_sets
    torch.manual_seed(0)
    model = Hadryss(input_length=LENGTH)
    result = train(
        model,
        train_set,
        validation_set,
        max_steps=200,
        batch_size=16,
        validation_every=50,
        checkpoint_dir=tmp_path / "run",
        progress=False,
        seed=0,
    )
    history = result.history
    assert list(history["step"]) == [50, 100, 150, 200]
    assert history["train_loss"].iloc[-1] < 0.5 * history["train_loss"].iloc[0]
    assert history["val_auc_roc"].max() >= 0.9
    assert {"val_loss", "val_auc_pr", "val_recall_at_top_10%", "val_recall_at_top_10%_ceiling",
            "val_recall_at_k_positives", "learning_rate", "grad_norm"} <= set(history.columns)
    # The ceiling depends on the validation labels only: ceil(0.1 * 60) = 6 places for the positives.
    positives = int(validation_set.class_counts()[1])
    assert (history["val_recall_at_top_10%_ceiling"] == min(1.0, 6 / positives)).all()
    assert (history["val_recall_at_top_10%"] <= history["val_recall_at_top_10%_ceiling"] + 1e-12).all()
    assert result.stopped_reason == "max_steps" and result.steps == 200
    # The best weights are loaded: evaluating them reproduces the best validation metrics.
    # result.model is a Model around the very network that was passed in, trained, in eval mode.
    assert isinstance(result.model, ql.Model) and result.model.network is model and not model.training
    best_row = history.set_index("step").loc[result.best_step]
    assert best_row["val_auc_roc"] == history["val_auc_roc"].max()
    evaluation = evaluate(result.model, validation_set)
    assert evaluation.metrics["auc_roc"] == pytest.approx(result.best_metrics["auc_roc"], abs=1e-6)
    assert evaluation.metrics["auc_roc"] >= 0.9
    assert len(evaluation.scores) == len(validation_set) and len(evaluation.problems) == 0
    assert f"(ceiling {min(1.0, 6 / positives):.4f}: 6 places in the top 10% for {positives} positives)" in repr(
        evaluation)
    # What inference needs travels with the model.
    info = bundle_of(model)
    assert info is getattr(model, "bundle")  # noqa: B009 - the attribute itself
    assert info.task == "binary"
    assert info.label_names == ("negative", "positive") and info.positive_class == "positive"
    assert info.preprocessing == train_set.preprocessing
    # Files in the checkpoint folder; metrics.csv holds the history.
    assert {"last.pt", "best.pt", "metrics.csv"} <= {path.name for path in (tmp_path / "run").iterdir()}
    logged = pd.read_csv(tmp_path / "run" / "metrics.csv")
    np.testing.assert_allclose(logged["val_auc_roc"], history["val_auc_roc"])
    assert "best step" in repr(result) and "200/200 steps" in repr(result)
    use_agg_backend()
    figure = result.plot()
    assert len(figure.axes) == 2
    assert len(evaluation.plot().axes) == 2


def test_same_seed_gives_identical_weights_with_or_without_checkpoints(binary_sets, tmp_path) -> None:
    train_set, validation_set = binary_sets
    settings: dict[str, Any] = dict(max_steps=30, batch_size=16, validation_every=10, progress=False, seed=3)
    first = train(small_model(), train_set, validation_set, **settings).model.state_dict()
    second = train(
        small_model(), train_set, validation_set, checkpoint_dir=tmp_path, **settings
    ).model.state_dict()
    assert weights_equal(first, second)
    other_seed = train(small_model(), train_set, validation_set, **{**settings, "seed": 4}).model.state_dict()
    assert not weights_equal(first, other_seed)


def test_cached_preprocessing_changes_nothing_but_the_speed(binary_sets) -> None:
    from qusi_lab.training.cache import CachedTrainingView

    train_set, validation_set = binary_sets
    view = CachedTrainingView(train_set)
    # RemoveNonFinite, BinToLength, Detrend, Normalize, AsinhStretch: augmentation goes in before FillGaps.
    assert view.cached_steps == 5 and len(view) == len(train_set)
    for index in (0, 7):
        for augment in (False, True):
            expected = train_set.sample(index, rng=np.random.default_rng(index), augment=augment)
            cached = view.sample(index, rng=np.random.default_rng(index), augment=augment)
            assert torch.equal(expected[0], cached[0]) and torch.equal(expected[1], cached[1])
    settings: dict[str, Any] = dict(max_steps=30, batch_size=16, validation_every=10, progress=False, seed=3)
    cached_run = train(small_model(), train_set, validation_set, cache=True, **settings)
    plain_run = train(small_model(), train_set, validation_set, cache=False, **settings)
    assert weights_equal(cached_run.model.state_dict(), plain_run.model.state_dict())


def test_training_leaves_the_global_random_state_alone(binary_sets) -> None:
    train_set, _ = binary_sets
    model = small_model()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train(model, train_set, max_steps=3, batch_size=8, progress=False)
    assert torch.equal(torch.rand(3), expected)


RESUME_SCRIPT = """
import json, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {tests!r})
from test_training import binary_dataset, small_model
from qusi_lab.training import train

result = train(small_model(), binary_dataset(160, seed=1), binary_dataset(60, seed=2), max_steps={max_steps},
               batch_size=16, validation_every=20, checkpoint_every=20, checkpoint_dir={checkpoint_dir!r},
               progress=False, seed=5)
torch.save(result.model.state_dict(), {output!r})
print(json.dumps({{"resumed_from": result.resumed_from, "steps": result.steps, "best_step": result.best_step}}))
"""


@pytest.mark.slow
def test_resume_after_kill_gives_the_uninterrupted_result(tmp_path) -> None:
    max_steps = 80
    checkpoint_dir = tmp_path / "killed"
    script = tmp_path / "run_training.py"
    script.write_text(
        textwrap.dedent(RESUME_SCRIPT).format(
            tests=str(TESTS),
            max_steps=max_steps,
            checkpoint_dir=str(checkpoint_dir),
            output=str(tmp_path / "final.pt"),
        )
    )
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (checkpoint_dir / "last.pt").exists():
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "script died"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    killed_at = torch.load(checkpoint_dir / "last.pt", weights_only=True)["step"]
    assert 20 <= killed_at < max_steps, "the run must be killed part-way for this test to mean anything"
    assert not (tmp_path / "final.pt").exists()

    finished = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["resumed_from"] >= killed_at and report["steps"] == max_steps

    uninterrupted = train(
        small_model(),
        binary_dataset(160, seed=1),
        binary_dataset(60, seed=2),
        max_steps=max_steps,
        batch_size=16,
        validation_every=20,
        checkpoint_every=20,
        checkpoint_dir=tmp_path / "reference",
        progress=False,
        seed=5,
    )
    assert report["best_step"] == uninterrupted.best_step
    resumed_best = torch.load(tmp_path / "final.pt", weights_only=True)
    assert weights_equal(resumed_best, uninterrupted.model.state_dict())
    resumed_last = torch.load(checkpoint_dir / "last.pt", weights_only=True)
    reference_last = torch.load(tmp_path / "reference" / "last.pt", weights_only=True)
    assert weights_equal(resumed_last["model"], reference_last["model"])
    assert len(resumed_last["history"]) == len(reference_last["history"]) == max_steps // 20
    pd.testing.assert_frame_equal(
        pd.DataFrame(resumed_last["history"]).drop(columns="elapsed"),
        pd.DataFrame(reference_last["history"]).drop(columns="elapsed"),
    )
    # metrics.csv was rewritten from the checkpoint: no duplicate rows from the killed run.
    assert list(pd.read_csv(checkpoint_dir / "metrics.csv")["step"]) == list(range(20, max_steps + 1, 20))


def test_time_budget_stops_mid_chunk_and_a_rerun_continues_exactly(binary_sets, tmp_path) -> None:
    train_set, validation_set = binary_sets
    settings: dict[str, Any] = dict(
        max_steps=25, batch_size=16, validation_every=10, checkpoint_every=10, progress=False, seed=2
    )
    reference = train(small_model(), train_set, validation_set, **settings)
    stopped = train(
        small_model(), train_set, validation_set, checkpoint_dir=tmp_path, max_time=0.0, **settings
    )
    assert stopped.stopped_reason == "max_time" and stopped.steps == 1  # a checkpoint one step into chunk 0
    continued = train(small_model(), train_set, validation_set, checkpoint_dir=tmp_path, **settings)
    assert continued.resumed_from == 1 and continued.steps == 25
    assert weights_equal(continued.model.state_dict(), reference.model.state_dict())
    pd.testing.assert_frame_equal(
        continued.history.drop(columns="elapsed"), reference.history.drop(columns="elapsed")
    )
    # A finished run returns at once with the same result.
    again = train(small_model(seed=9), train_set, validation_set, checkpoint_dir=tmp_path, **settings)
    assert again.resumed_from == 25 and again.best_step == continued.best_step
    assert weights_equal(again.model.state_dict(), reference.model.state_dict())


class InterruptingLoader:
    """Returns in-memory curves, but raises KeyboardInterrupt (a Ctrl-C) at one call."""

    def __init__(self, interrupt_at: int) -> None:
        self.calls = 0
        self.interrupt_at = interrupt_at

    def __call__(self, light_curve: ql.LightCurve) -> ql.LightCurve:
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return light_curve


def test_ctrl_c_saves_a_checkpoint_the_same_call_continues_from(binary_sets, tmp_path) -> None:
    train_set, validation_set = binary_sets
    # cache=False: files are then read during the steps, where a Ctrl-C lands (a cache reads them all first).
    settings: dict[str, Any] = dict(
        max_steps=25, batch_size=8, validation_every=10, progress=False, seed=6, cache=False
    )
    reference = train(small_model(), train_set, validation_set, **settings)
    curves = [train_set.light_curve(i) for i in range(len(train_set))]
    interrupting = LightCurveDataset(
        curves, train_set.labels, load=InterruptingLoader(interrupt_at=8 * 13 + 3), input_length=LENGTH
    )
    with pytest.warns(UserWarning, match="interrupted at step 13"), pytest.raises(KeyboardInterrupt):
        train(small_model(), interrupting, validation_set, checkpoint_dir=tmp_path, **settings)
    continued = train(small_model(), interrupting, validation_set, checkpoint_dir=tmp_path, **settings)
    assert continued.resumed_from == 13
    assert weights_equal(continued.model.state_dict(), reference.model.state_dict())


def test_resume_refuses_a_checkpoint_from_other_settings(binary_sets, tmp_path) -> None:
    train_set, _ = binary_sets
    train(small_model(), train_set, max_steps=5, batch_size=8, checkpoint_dir=tmp_path, progress=False)
    with pytest.raises(ValueError, match=r"batch_size: checkpoint 8, now 16") as error:
        train(small_model(), train_set, max_steps=10, batch_size=16, checkpoint_dir=tmp_path, progress=False)
    assert "last.pt" in str(error.value)
    restarted = train(
        small_model(),
        train_set,
        max_steps=3,
        batch_size=16,
        checkpoint_dir=tmp_path,
        resume=False,
        progress=False,
    )
    assert restarted.resumed_from is None and restarted.steps == 3


def test_gradient_clipping_is_applied(binary_sets) -> None:
    train_set, _ = binary_sets
    clip = 0.05
    norms: list[float] = []

    def record_norm(optimizer: torch.optim.Optimizer, args, kwargs) -> None:
        gradients = [
            p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None
        ]
        norms.append(
            float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in gradients])))
        )

    handle = register_optimizer_step_pre_hook(record_norm)  # every optimizer, just before step()
    try:
        clipped = train(
            small_model(),
            train_set,
            max_steps=10,
            batch_size=16,
            gradient_clip_norm=clip,
            validation_every=5,
            progress=False,
        )
        clipped_norms, norms[:] = list(norms), []
        train(small_model(), train_set, max_steps=10, batch_size=16, gradient_clip_norm=None, progress=False)
        unclipped_norms = list(norms)
    finally:
        handle.remove()
    assert len(clipped_norms) == 10
    assert max(clipped_norms) <= clip * (1 + 1e-4)
    assert min(unclipped_norms) > clip  # so clipping had work to do
    assert (clipped.history["grad_norm"] > clip).all()  # the history records the norm before clipping


def test_early_stopping_stops_before_max_steps(binary_sets) -> None:
    train_set, validation_set = binary_sets
    # An improvement must beat the best loss by 1e9: only the first validation ever counts as one.
    result = train(
        small_model(),
        train_set,
        validation_set,
        max_steps=1000,
        batch_size=8,
        validation_every=5,
        early_stopping_patience=2,
        monitor="loss",
        min_delta=1e9,
        progress=False,
    )
    assert result.stopped_reason == "early_stopping"
    assert result.steps == 15 and result.best_step == 5
    assert list(result.history["step"]) == [5, 10, 15]


def test_multiclass_head_trains(tmp_path) -> None:
    rng = np.random.default_rng(3)
    kinds = ["flat", "dip", "sine"]
    curves, labels = [], []
    for i in range(180):
        kind = kinds[i % 3]
        curves.append(synthetic_curve(kind, rng, i))
        labels.append(kind)
    dataset = LightCurveDataset.from_light_curves(curves, labels, input_length=LENGTH)
    train_set, validation_set = dataset.subset(range(120)), dataset.subset(range(120, 180))
    model = small_model(n_outputs=3)
    result = train(
        model,
        train_set,
        validation_set,
        max_steps=120,
        batch_size=16,
        validation_every=40,
        progress=False,
        class_weights="auto",
    )
    assert result.monitor == "auc_roc"
    assert result.best_metrics["accuracy"] >= 0.8
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]
    evaluation = evaluate(result.model, validation_set)
    assert list(evaluation.confusion_matrix.index) == ["dip", "flat", "sine"]
    assert evaluation.confusion_matrix.to_numpy().sum() == 60
    assert {"predicted", "score_dip", "score_flat", "score_sine"} <= set(evaluation.scores.columns)
    use_agg_backend()
    assert len(evaluation.plot().axes) >= 1


def test_regression_head_trains_on_standardised_targets() -> None:
    rng = np.random.default_rng(4)
    depths = rng.uniform(1.0, 10.0, 200)  # transit depth in parts per thousand
    curves = [synthetic_curve("dip", rng, i, depth=depth * 1e-3) for i, depth in enumerate(depths)]
    dataset = LightCurveDataset.from_light_curves(
        curves, depths.tolist(), input_length=LENGTH, augmentation=False
    )
    assert dataset.task == "regression"
    train_set, validation_set = dataset.subset(range(150)), dataset.subset(range(150, 200))
    result = train(
        small_model(),
        train_set,
        validation_set,
        max_steps=150,
        batch_size=16,
        validation_every=50,
        progress=False,
    )
    scaler = bundle_of(result.model).target_scaler
    assert scaler is not None
    assert scaler["mean"] == pytest.approx(depths[:150].mean()) and scaler["std"] == pytest.approx(
        depths[:150].std()
    )
    assert result.monitor == "loss"
    assert result.best_metrics["r2"] >= 0.5
    evaluation = evaluate(result.model, validation_set)
    # Predictions come back in parts per thousand, not in standardised units.
    assert evaluation.scores["score"].mean() == pytest.approx(depths[150:].mean(), abs=1.5)
    assert evaluation.metrics["r2"] == pytest.approx(result.best_metrics["r2"], abs=1e-6)


def test_bad_file_is_skipped_and_reported(tmp_path) -> None:
    rng = np.random.default_rng(6)
    paths, labels = [], []
    for i in range(24):
        kind = "dip" if i % 2 else "flat"
        lc = synthetic_curve(kind, rng, i)
        paths.append(write_npz(lc, tmp_path / f"tic_{i}.npz"))
        labels.append("positive" if kind == "dip" else "negative")
    bad = tmp_path / "tic_999.npz"
    bad.write_bytes(b"not an npz file")
    paths.append(bad)
    labels.append("positive")
    dataset = LightCurveDataset(paths, labels, input_length=LENGTH)
    runs = [
        train(
            small_model(),
            dataset,
            dataset,
            max_steps=20,
            batch_size=8,
            validation_every=10,
            num_workers=2,
            progress=False,
        )
        for _ in range(2)
    ]
    result = runs[0]
    assert result.steps == 20
    assert list(result.problems["path"].unique()) == [str(bad)]
    assert set(result.problems["dataset"]) == {"train", "validation"}
    # Worker processes give reproducible runs too.
    assert weights_equal(runs[0].model.state_dict(), runs[1].model.state_dict())
    evaluation = evaluate(result.model, dataset)
    assert len(evaluation.scores) == 24 and list(evaluation.problems["path"]) == [str(bad)]


def test_loggers_receive_every_history_row(binary_sets, tmp_path) -> None:
    train_set, validation_set = binary_sets

    class Recorder:
        def __init__(self) -> None:
            self.rows: list[tuple[int, dict]] = []

        def log(self, metrics, step) -> None:
            self.rows.append((step, dict(metrics)))

    recorder = Recorder()
    result = train(
        small_model(),
        train_set,
        validation_set,
        max_steps=12,
        batch_size=8,
        validation_every=5,
        loggers=[recorder],
        progress=True,
    )
    assert [step for step, _ in recorder.rows] == [5, 10, 12] == list(result.history["step"])
    assert "val_auc_roc" in recorder.rows[0][1]
    with pytest.raises(ValueError, match="unknown logger"):
        train(small_model(), train_set, max_steps=1, loggers=["nope"], progress=False)


def test_mismatched_model_or_datasets_are_refused(binary_sets) -> None:
    train_set, validation_set = binary_sets
    with pytest.raises(ValueError, match="3 outputs but a binary task"):
        train(small_model(n_outputs=3), train_set, progress=False)
    with pytest.raises(ValueError, match="length 512"):
        train(Hadryss(input_length=512), train_set, progress=False)
    renamed = binary_dataset(10, seed=3, label_names=["positive", "negative"], positive_class="negative")
    with pytest.raises(ValueError, match="differ"):
        train(small_model(), train_set, renamed, progress=False)
    with pytest.raises(ValueError, match="early stopping needs a validation set"):
        train(small_model(), train_set, early_stopping_patience=3, progress=False)


def test_a_time_budget_anneals_the_cosine_schedule_before_max_steps(binary_sets) -> None:
    train_set, _ = binary_sets
    base = 1e-3
    timed = train(small_model(), train_set, max_steps=100_000, max_time=2.0, batch_size=8, validation_every=5, warmup_steps=0,
                  learning_rate=base, progress=False, cache=True)
    assert timed.stopped_reason == "max_time" and timed.steps < 100_000
    rates = timed.history["learning_rate"].to_numpy()
    # By steps alone the rate would still be ~base (a few hundred of 100,000 steps); by time it has decayed.
    assert rates[-1] < 0.25 * base and rates[0] > 0.9 * base
    assert (np.diff(rates) <= 1e-12).all()  # monotonic decay
    # A run that reaches max_steps well within its time budget keeps the step schedule, rate for rate.
    settings: dict[str, Any] = dict(max_steps=40, batch_size=8, validation_every=5, learning_rate=base,
                                    progress=False, cache=True)
    generous = train(small_model(), train_set, max_time=600.0, **settings)
    plain = train(small_model(), train_set, **settings)
    assert np.array_equal(generous.history["learning_rate"].to_numpy(), plain.history["learning_rate"].to_numpy())
    assert weights_equal(generous.model.state_dict(), plain.model.state_dict())


def test_a_ceiling_cannot_be_monitored() -> None:
    from qusi_lab.training.validation import monitor_name

    with pytest.raises(ValueError, match="fixed by its labels, not by the network"):
        monitor_name("val_recall_at_top_10%_ceiling", "binary", None)
    assert monitor_name("recall_at_k_positives", "binary", None) == "recall_at_k_positives"
