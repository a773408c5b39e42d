"""The training loop: plain PyTorch, resumable, reproducible.

:func:`train` draws batches from ``train.stream(...)`` through a DataLoader, minimises the task's
loss, validates every ``validation_every`` steps, keeps the best weights, stops early when asked,
and writes checkpoints it can resume from.

**Reproducibility.** The run is cut into *chunks* of ``checkpoint_every`` steps. Each chunk draws
its batches from a fresh iterator over the training stream seeded by ``(seed, chunk)`` and starts
with the torch random generator (dropout) seeded the same way, so what happens after any chunk
boundary depends only on the seed, the chunk number and the weights. A run killed and resumed from
its last checkpoint therefore continues with exactly the batches and dropout masks the
uninterrupted run would have used, and ends with the same weights (on the same machine and number
of threads). A checkpoint written mid-chunk (a ``max_time`` stop, Ctrl-C) records the random states
and the number of batches already taken from the chunk, which are replayed on resume. A fresh start
first re-draws the model's initial weights from the seed (``initialize``; not for a trained model
from :func:`qusi_lab.load`), so with or without a ``checkpoint_dir``, the same seed and data give
the same weights, however the model was built.

**Ctrl-C.** With a ``checkpoint_dir``, an interrupt while a batch is being loaded is taken at once;
one during the update or a validation lets that step finish first (a second Ctrl-C stops at once).
Either way ``last.pt`` then holds every step done, DataLoader workers are stopped rather than waited
for, and a warning says at which step the checkpoint was saved (or that none was written); the same
call continues exactly where the interrupted one stopped. Workers ignore Ctrl-C themselves: the
main process saves and then ends them.

The loop runs inside :func:`torch.random.fork_rng` (your global torch random state is left as it
was) with ``torch.use_deterministic_algorithms(True, warn_only=True)`` (restored afterwards).

Example
-------
>>> from qusi_lab.models import model_for_task
>>> model = model_for_task("hadryss", train_set.input_length, train_set.task)      # doctest: +SKIP
>>> result = train(model, train_set, validation_set, max_steps=2000,               # doctest: +SKIP
...                checkpoint_dir="runs/transits", early_stopping_patience=5)
>>> result.history.tail()                                                          # doctest: +SKIP
>>> result.plot()                                                                  # doctest: +SKIP
>>> result.save("models/transits")                                                 # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import signal
import sys
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from qusi_lab.errors import CheckpointError
from qusi_lab.models.trained import Model, check_compatible, description_of, scores_from_outputs
from qusi_lab.training.cache import DEFAULT_CACHE_BYTES, CachedTrainingView, estimated_cache_bytes
from qusi_lab.training.checkpoints import (
    BEST_CHECKPOINT,
    CHECKPOINT_FORMAT_VERSION,
    LAST_CHECKPOINT,
    START_OVER,
    atomic_torch_save,
    load_checkpoint,
    random_states,
    restore_random_states,
)
from qusi_lab.training.evaluate import predict_outputs
from qusi_lab.training.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER, metrics_for_task
from qusi_lab.training.progress import CSVLogger, ProgressBar, make_loggers

__all__ = ["train", "TrainingResult", "OPTIMIZERS", "SCHEDULERS"]

OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "sgd")
SCHEDULERS: tuple[str, ...] = ("cosine", "constant")
# Validation inputs are kept in memory after the first pass when they fit in this many bytes
# (preprocessing is deterministic, so later passes would recompute the same arrays).
VALIDATION_CACHE_BYTES = 512 * 1024**2
# Settings that change which batches or updates a run makes: a checkpoint written with other values
# cannot continue this run exactly.
_RESUME_KEYS: tuple[str, ...] = (
    "task",
    "label_names",
    "seed",
    "batch_size",
    "balance",
    "augment",
    "num_workers",
    "checkpoint_every",
    "optimizer",
    "learning_rate",
    "weight_decay",
    "scheduler",
    "class_weights",
    "regression_loss",
    "gradient_clip_norm",
    "architecture",
    "model_config",
)


# ---------------------------------------------------------------- result
@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model:
        The trained :class:`~qusi_lab.models.Model`: the network that was passed to :func:`train`
        (``model.network``) with the best validation weights loaded (the last weights without a
        validation set), in eval mode, and its description (preprocessing, classes, task, ...).
        ``result.model.save(path)`` writes it; ``result.model(x)`` runs the network.
    history:
        DataFrame, one row per validation: ``step``, ``train_loss`` (mean since the previous row),
        ``learning_rate``, ``grad_norm`` (mean norm before clipping), ``elapsed`` (seconds), and with a
        validation set ``val_loss`` and ``val_<metric>`` for every metric of the task.
    best_step, best_metrics:
        Step of the saved best weights and their validation metrics (``loss`` and the task's metrics).
    steps:
        Steps completed.
    stopped_reason:
        ``"max_steps"``, ``"early_stopping"`` or ``"max_time"``.
    monitor:
        The validation metric that chose the best weights.
    checkpoint_dir:
        Where checkpoints and ``metrics.csv`` went (None if not written).
    problems:
        Light curves skipped during training and validation (``dataset``, ``path``, ``error``, ``stage``).
    config:
        The training settings (also stored in saved bundles).
    resumed_from:
        Step of the checkpoint this call continued from (None for a fresh start).
    elapsed:
        Wall-clock seconds spent in this call.
    """

    model: Model
    history: Any
    best_step: int | None
    best_metrics: dict[str, float]
    steps: int
    stopped_reason: str
    monitor: str
    checkpoint_dir: Path | None = None
    problems: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    resumed_from: int | None = None
    elapsed: float = 0.0

    def save(self, path: str | Path) -> Path:
        """Write the model as a bundle folder (same as ``result.model.save(path)``); returns it.

        Example
        -------
        >>> result.save("models/transits")   # doctest: +SKIP
        """
        return self.model.save(path)

    def plot(self) -> Any:
        """Loss curves (training and validation) and the validation metric curves; returns the Figure."""
        import matplotlib.pyplot as plt

        history = self.history
        has_validation = "val_loss" in history.columns
        metric_columns = [column for column in ("val_auc_roc", "val_auc_pr") if column in history.columns]
        if not metric_columns and has_validation:
            if self.monitor != "loss" and f"val_{self.monitor}" in history.columns:
                metric_columns = [f"val_{self.monitor}"]
            elif "val_r2" in history.columns:
                metric_columns = ["val_r2"]
        panels = 2 if metric_columns else 1
        figure, axes = plt.subplots(
            1, panels, figsize=(5.5 * panels, 4), constrained_layout=True, squeeze=False
        )
        loss_axis = axes[0][0]
        if len(history):
            loss_axis.plot(history["step"], history["train_loss"], marker=".", label="training")
            if has_validation:
                loss_axis.plot(history["step"], history["val_loss"], marker=".", label="validation")
        loss_axis.set(xlabel="step", ylabel="loss", title="Loss")
        loss_axis.legend()
        axes_with_best = [loss_axis]
        if metric_columns:
            metric_axis = axes[0][1]
            for column in metric_columns:
                metric_axis.plot(
                    history["step"], history[column], marker=".", label=column.removeprefix("val_")
                )
            metric_axis.set(xlabel="step", ylabel="validation metric", title="Validation")
            metric_axis.legend()
            axes_with_best.append(metric_axis)
        if self.best_step is not None and has_validation:
            for axis in axes_with_best:
                axis.axvline(self.best_step, color="0.5", linestyle="--", linewidth=1)
        return figure

    def __repr__(self) -> str:
        task = getattr(self.model, "task", "?")
        total = self.config.get("max_steps", self.steps)
        parts = [f"{task}", f"{self.steps:,}/{total:,} steps", f"stopped: {self.stopped_reason}"]
        shown = [name for name in dict.fromkeys([self.monitor, "loss"]) if name in self.best_metrics]
        if self.best_step is not None and shown:
            values = ", ".join(f"val {name}={self.best_metrics[name]:.4f}" for name in shown)
            parts.append(f"best step {self.best_step:,}: {values}")
        elif "train_loss" in self.best_metrics:
            parts.append(f"final train loss={self.best_metrics['train_loss']:.4f}")
        if self.problems is not None and len(self.problems):
            parts.append(f"{len(self.problems)} problem files")
        parts.append(f"{self.elapsed:.1f} s")
        return f"TrainingResult({', '.join(parts)})"


# ---------------------------------------------------------------- helpers
def _derived_seed(*keys: int) -> int:
    """A 63-bit seed from integer keys (independent streams for different keys)."""
    return int(
        np.random.SeedSequence([int(key) for key in keys]).generate_state(1, np.uint64)[0] % (2**63 - 1)
    )


@contextlib.contextmanager
def _deterministic_algorithms(enabled: bool) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    if enabled:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn_only)


def _plain(value: Any) -> Any:
    """Plain Python values (for checkpoints loadable with weights_only=True, and JSON)."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, torch.Tensor):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _make_optimizer(
    optimizer: str | Callable[..., torch.optim.Optimizer],
    model: nn.Module,
    learning_rate: float,
    weight_decay: float,
) -> torch.optim.Optimizer:
    parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
    if callable(optimizer):
        return optimizer(parameters)
    name = str(optimizer).lower()
    if name == "adamw":
        return torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(
            parameters, lr=learning_rate, momentum=0.9, weight_decay=weight_decay, nesterov=True
        )
    raise ValueError(
        f"unknown optimizer {optimizer!r}; use one of {OPTIMIZERS} or a function params -> Optimizer"
    )


def _cosine_factor(progress: float) -> float:
    """Cosine decay from the full rate (progress 0) to 5% of it (progress 1 and beyond)."""
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _make_scheduler(
    scheduler: str | None, optimizer: torch.optim.Optimizer, max_steps: int, warmup_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    name = "constant" if scheduler is None else str(scheduler).lower()
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; use one of {SCHEDULERS}")

    def factor(step: int) -> float:
        if warmup_steps and step < warmup_steps:
            return (step + 1) / warmup_steps
        if name == "constant":
            return 1.0
        return _cosine_factor((step - warmup_steps) / max(1, max_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


#: Steps timed before :func:`_time_budget_schedule` projects when a run will end.
_PACE_STEPS = 20


def _time_budget_schedule(
    scheduler: str | None,
    optimizer: torch.optim.Optimizer,
    max_steps: int,
    warmup_steps: int,
    max_time: float | None,
) -> Callable[[float, int], None] | None:
    """With a time budget, let the cosine decay follow whichever budget runs out first.

    A run stopped by ``max_time`` before ``max_steps`` would otherwise end at a high learning rate,
    never annealed (on a busy machine, or when ``max_steps`` is generous). From the end of warm-up,
    after each step this projects the end of the run from the mean time per step so far; once the
    projection passes ``max_time`` the rate follows the cosine at the elapsed fraction of
    ``max_time`` (or of ``max_steps``, whichever is further along) to the end of the run. A run
    projected to finish within its budget at every step keeps the step schedule exactly, so its
    result does not depend on the machine's speed.
    """
    name = "constant" if scheduler is None else str(scheduler).lower()
    if name != "cosine" or max_time is None or not float(max_time) > 0:
        return None
    budget = float(max_time)
    bases = [float(group["initial_lr"]) for group in optimizer.param_groups]
    reference: list[float] = []  # (elapsed, step) when the projection starts
    engaged = False

    def apply(elapsed: float, step: int) -> None:
        nonlocal engaged
        if step < max(1, warmup_steps):
            return
        if not reference:
            reference.extend((elapsed, float(step)))
            return
        if not engaged:
            measured = step - reference[1]
            if measured < _PACE_STEPS:  # too few steps for a steady time per step
                return
            per_step = (elapsed - reference[0]) / measured
            if elapsed + (max_steps - step) * per_step <= budget:
                return  # on pace: the step schedule alone
            engaged = True
            warnings.warn(
                f"max_time: at step {step} this run is projected to need more than {budget:g} s for its "
                f"{max_steps} steps, so from here the learning rate decays with the clock: its weights now "
                "depend on the machine's speed, not only on the seed. For a reproducible run, lower max_steps "
                "to what fits in the time, or drop max_time",
                UserWarning,
                stacklevel=3,
            )
        progress = max(min(1.0, elapsed / budget), (step - warmup_steps) / max(1, max_steps - warmup_steps))
        factor = _cosine_factor(progress)
        for group, base in zip(optimizer.param_groups, bases, strict=True):
            group["lr"] = base * factor

    return apply


def _resolve_class_weights(class_weights: Any, dataset: Any, task: str) -> list[float] | None:
    """Weights as ``(w_negative, w_positive)`` (binary) or one per class (multiclass)."""
    if class_weights is None:
        return None
    if task == "regression":
        raise ValueError("class_weights apply to classification; this is a regression task")
    if isinstance(class_weights, str):
        if class_weights != "auto":
            raise ValueError(
                f"class_weights must be None, 'auto' or a sequence of weights, got {class_weights!r}"
            )
        weights = [float(value) for value in dataset.class_weights().reshape(-1).tolist()]
    else:
        weights = [
            float(value) for value in torch.as_tensor(class_weights, dtype=torch.float64).reshape(-1).tolist()
        ]
    if task == "binary":
        if len(weights) == 1:  # a pos_weight, as dataset.class_weights() gives for binary tasks
            weights = [1.0, weights[0]]
        if len(weights) != 2:
            raise ValueError(
                f"binary class_weights need a pos_weight or (negative, positive) weights, got {weights}"
            )
    elif len(weights) != len(dataset.label_names):
        raise ValueError(f"class_weights has {len(weights)} values for {len(dataset.label_names)} classes")
    if not all(math.isfinite(value) and value > 0 for value in weights):
        raise ValueError(f"class_weights must be positive and finite, got {weights}")
    return weights


def _check_inputs(model: nn.Module, train_set: Any, validation: Any, task: str) -> None:
    check_compatible(model, train_set, role="training set")
    if validation is None:
        return
    if not validation.is_labelled:
        raise ValueError("the validation set has no labels")
    if validation.task != task:
        raise ValueError(
            f"the training set is a {task} task but the validation set is a {validation.task} task"
        )
    if tuple(validation.label_names) != tuple(train_set.label_names):
        raise ValueError(
            f"training classes {list(train_set.label_names)} and validation classes "
            f"{list(validation.label_names)} differ (names or order); build both with the same label_names="
        )
    if int(validation.input_length) != int(train_set.input_length):
        raise ValueError(
            f"training inputs have length {train_set.input_length} but validation inputs {validation.input_length}"
        )


def _monitor_name(monitor: str | None, task: str, validation: Any) -> str:
    name = ("loss" if task == "regression" else "auc_roc") if monitor is None else str(monitor)
    name = name.removeprefix("val_")
    if (
        name not in LOWER_IS_BETTER
        and name not in HIGHER_IS_BETTER
        and not name.startswith(("recall_at_top_", "precision_", "recall_", "f1_", "auc_roc_"))
    ):
        raise ValueError(
            f"unknown monitor {monitor!r}; use 'loss' or a validation metric name such as 'auc_roc'"
        )
    if validation is not None and task == "binary" and name != "loss":
        counts = validation.class_counts()
        if (counts == 0).any():
            warnings.warn(
                f"the validation set has only one class, so {name} is undefined; monitoring the validation "
                "loss instead",
                UserWarning,
                stacklevel=3,
            )
            name = "loss"
    return name


def _improved(
    value: float, best: float | None, name: str, min_delta: float, loss: float, best_loss: float | None
) -> bool:
    if math.isnan(value):
        return False
    if best is None or math.isnan(best):
        return True
    if value == best and name != "loss" and best_loss is not None:
        # A saturated metric (AUC 1.0 again) is no reason to keep older weights: the loss decides.
        return loss < best_loss
    if name in LOWER_IS_BETTER:
        return value < best - min_delta
    return value > best + min_delta


class _Validator:
    """Runs the model over the validation set; keeps its inputs in memory after the first pass if small."""

    def __init__(self, dataset: Any, batch_size: int, num_workers: int) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.cacheable = len(dataset) * int(dataset.input_length) * 4 <= VALIDATION_CACHE_BYTES
        self.cache: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None

    def _batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        if self.cache is not None:
            yield from self.cache
            return
        collected = []
        # evaluation_batches' loader, with workers that leave Ctrl-C to this process (_ignore_interrupts).
        loader = DataLoader(
            self.dataset.iterate(),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(0),
            worker_init_fn=_ignore_interrupts,
        )
        iterator = iter(loader)
        try:
            for x, y, index in iterator:
                collected.append((x, y, torch.as_tensor(index)))
                yield x, y, index
        except BaseException:  # a Ctrl-C or an error: do not wait for the workers' batches
            _stop_workers(iterator)
            raise
        if self.cacheable:
            self.cache = collected

    def __call__(
        self,
        model: nn.Module,
        loss_function: nn.Module,
        task: str,
        scaler: dict[str, float] | None,
        device: torch.device,
        threshold: float,
        top_fraction: float,
    ) -> dict[str, float]:
        outputs, targets, _ = predict_outputs(model, self._batches(), device=device)
        if outputs.shape[0] == 0:
            raise ValueError("no validation light curve could be loaded; see validation.problems")
        scaled_targets = targets
        if task == "regression" and scaler is not None:
            scaled_targets = (targets - scaler["mean"]) / scaler["std"]
        with torch.no_grad():
            loss = float(loss_function(outputs, scaled_targets))
        scores = scores_from_outputs(outputs, task, scaler).numpy().astype(np.float64)
        truth = targets.numpy()
        metrics = metrics_for_task(
            task,
            scores,
            truth,
            label_names=self.dataset.label_names,
            threshold=threshold,
            top_fraction=top_fraction,
        )
        return {"loss": loss, **metrics}


def _problems(train_set: Any, validation: Any) -> Any:
    import pandas as pd

    frames = []
    for name, dataset in (("train", train_set), ("validation", validation)):
        if dataset is None:
            continue
        frame = dataset.problems
        if len(frame):
            frames.append(frame.assign(dataset=name)[["dataset", *frame.columns]])
    if not frames:
        return pd.DataFrame(columns=["dataset", "path", "error", "stage"])
    return pd.concat(frames, ignore_index=True)


@dataclass
class _LoopState:
    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_step: int | None = None
    best_value: float | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_validations: int = 0
    stopped_reason: str | None = None
    elapsed: float = 0.0


# ---------------------------------------------------------------- the loop
def train(
    model: nn.Module | Model,
    train: Any,
    validation: Any = None,
    *,
    max_steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-2,
    optimizer: str | Callable[..., torch.optim.Optimizer] = "adamw",
    scheduler: str | None = "cosine",
    warmup_steps: int | None = None,
    balance: Any = None,
    class_weights: Any = None,
    regression_loss: str = "mse",
    gradient_clip_norm: float | None = 1.0,
    validation_every: int = 100,
    checkpoint_every: int | None = None,
    early_stopping_patience: int | None = None,
    monitor: str | None = None,
    min_delta: float = 0.0,
    seed: int = 0,
    num_workers: int = 0,
    augment: bool = True,
    checkpoint_dir: str | Path | None = None,
    resume: bool = True,
    loggers: Any = (),
    progress: bool = True,
    max_time: float | None = None,
    device: str | torch.device | None = None,
    deterministic: bool = True,
    threshold: float = 0.5,
    top_fraction: float = 0.1,
    cache: bool | None = None,
    initialize: bool | None = None,
) -> TrainingResult:
    """Train ``model`` on ``train`` (a labelled :class:`~qusi_lab.data.LightCurveDataset`).

    Parameters
    ----------
    model:
        A network returning logits with as many outputs as the task needs (e.g. from
        :func:`qusi_lab.models.model_for_task`). Trained in place.
    train, validation:
        Datasets. Training batches come from ``train.stream(seed, balance, augment)``: random,
        augmented, bad files skipped (listed in ``result.problems``). The validation set is gone
        through completely, without augmentation, every ``validation_every`` steps.
    max_steps:
        Number of optimisation steps (batches).
    batch_size, learning_rate, weight_decay:
        The usual.
    optimizer:
        ``"adamw"`` (default), ``"adam"``, ``"sgd"`` (Nesterov momentum 0.9), or a function
        ``parameters -> torch.optim.Optimizer``.
    scheduler, warmup_steps:
        ``"cosine"`` (decay to 5% of ``learning_rate`` at ``max_steps``, or at ``max_time`` when that
        comes first) or ``"constant"``, after a
        linear warm-up of ``warmup_steps`` (default ``min(100, max_steps // 20)``).
    balance:
        Class shares of the training stream: None (natural), ``"equal"``, or e.g.
        ``{"positive": 0.3, "negative": 0.7}``.
    class_weights:
        Loss weights against imbalance: None, ``"auto"`` (``train.class_weights()``), a binary
        ``pos_weight``, ``(w_negative, w_positive)``, or one weight per class. Use this *or* ``balance``.
    regression_loss:
        ``"mse"`` or ``"huber"``. Regression targets are standardised with the training set's mean and
        standard deviation (stored as ``result.model.target_scaler``; predictions are reported in the
        original units).
    gradient_clip_norm:
        Clip the total gradient norm to this value before each update (None: no clipping).
    validation_every:
        Validate (and add a history row) every this many steps, and at the end.
    checkpoint_every:
        Write ``last.pt`` every this many steps (default ``validation_every``); also the length of
        the reproducibility chunks (see the module docstring), so it is part of what makes a run.
    early_stopping_patience:
        Stop after this many validations in a row without improvement of ``monitor`` (None: never).
    monitor, min_delta:
        Validation metric choosing the best weights: ``"auc_roc"`` (default for classification,
        macro one-vs-rest for multiclass), ``"loss"`` (default for regression), or any metric name
        (``"auc_pr"``, ``"recall_at_top_10%"``, ``"r2"``, ...); an improvement must exceed ``min_delta``.
        An exact tie of the metric (a saturated AUC of 1.0, say) counts as an improvement when the
        validation loss is lower.
    seed:
        Seed of the initial weights (see ``initialize``), the batches, augmentations and dropout:
        the same seed and the same data give the same trained weights.
    initialize:
        Whether a fresh start (not a resume) first re-draws the model's weights from ``seed``:
        every submodule with a ``reset_parameters`` method (``Conv1d``, ``Linear``, ``BatchNorm1d``,
        ``LayerNorm``, attention ...) calls it under ``torch.manual_seed`` of a seed derived from
        ``seed``, so its weights no longer depend on the global random state when the model was built.
        None (default): re-initialise unless the model is a trained :class:`~qusi_lab.models.Model`
        (from :func:`qusi_lab.load` or an earlier ``train``, or its network), whose weights are
        fine-tuned as they are. Pass ``initialize=False`` to keep weights you loaded yourself (``load_state_dict``), and
        ``True`` to re-draw a loaded model's. Parameters held by a module without
        ``reset_parameters`` keep their values (a warning names them). ``result.config["initialize"]``
        says what was done.
    num_workers:
        DataLoader worker processes (0 loads in the main process). The same seed and number of
        workers give the same batches, whatever the workers' speed; another number of workers draws
        other batches, hence other weights.
    augment:
        Use the dataset's augmentation for training batches.
    checkpoint_dir:
        Folder for ``last.pt``, ``best.pt`` and ``metrics.csv``. With ``resume=True`` (default) a
        run that finds ``last.pt`` there continues from it, giving the same result as an
        uninterrupted run; a finished run returns at once.
    resume:
        Continue from ``checkpoint_dir/last.pt`` when there is one (default). A checkpoint made with
        other settings, on other data (another list of files or labels, in the training or the
        validation set: ``last.pt`` records them) or for another network raises
        :class:`~qusi_lab.errors.CheckpointError` saying what differs, rather than continuing some other
        run. ``resume=False`` (``qusi-lab train --fresh``) deletes ``last.pt`` and ``best.pt`` there and
        starts over.
    loggers:
        ``"csv"``, ``"tensorboard"``, ``"wandb"`` or objects with ``log(metrics, step)``; a CSV logger is
        always used when there is a ``checkpoint_dir``.
    progress:
        Show a progress bar (a widget in notebooks) with the latest loss and validation metrics.
    max_time:
        Stop after this many seconds in this call (writing ``last.pt`` first, so the same call
        continues the run). The result holds the best weights validated so far. When ``max_steps``
        cannot be reached in the time, the cosine decay follows the clock and the weights depend on the
        machine's speed (a warning says so at the step where that starts).
    device:
        ``"cpu"``, ``"cuda"``, ... (default: CUDA when available, else CPU).
    deterministic:
        Use ``torch.use_deterministic_algorithms`` during training.
    threshold, top_fraction:
        For the binary validation metrics (accuracy/precision/recall/F1 and ``recall_at_top_<k>%``).
    cache:
        Keep the deterministic part of the training preprocessing (reading, binning, normalising)
        in memory, computed once before the first step, so that each step only augments
        (:class:`~qusi_lab.training.cache.CachedTrainingView`; the batches are the same). None
        (default): when it fits in 1 GiB (about 20,000 curves of 2048 bins). Its time counts
        towards ``max_time``.

    Returns
    -------
    TrainingResult
        ``.model`` (a :class:`~qusi_lab.models.Model`: best weights, eval mode), ``.history``, ``.best_step``,
        ``.best_metrics``, ``.plot()``, ``.save(path)``.

    Example
    -------
    >>> result = train(model, train_set, validation_set, max_steps=1000, balance="equal")   # doctest: +SKIP
    >>> result.best_metrics["auc_roc"]                                                     # doctest: +SKIP
    """
    started = time.monotonic()
    train_set = train
    # A trained model (a Model, or a network an earlier train() described) is fine-tuned, not re-initialised.
    already_trained = description_of(model) is not None
    if isinstance(model, Model):
        if model.network is None:
            raise ValueError("this Model is a description without weights (load_bundle_info); load it with "
                             "qusi_lab.load(path) to fine-tune it")
        model = model.network
    if not getattr(train_set, "is_labelled", False):
        raise ValueError("train needs a labelled dataset (labels=...)")
    task = str(train_set.task)
    if task not in ("binary", "multiclass", "regression"):
        raise ValueError(f"cannot train for task {task!r}")
    for name, value in (
        ("max_steps", max_steps),
        ("batch_size", batch_size),
        ("validation_every", validation_every),
    ):
        if int(value) < 1:
            raise ValueError(f"{name} must be at least 1, got {value!r}")
    if int(num_workers) < 0:
        raise ValueError(f"num_workers must be 0 or more, got {num_workers!r}")
    # An infinite or NaN rate would only show up as a FloatingPointError at the first step.
    if not (math.isfinite(float(learning_rate)) and float(learning_rate) > 0):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    if not (math.isfinite(float(weight_decay)) and float(weight_decay) >= 0):
        raise ValueError(f"weight_decay must be a finite number of at least 0, got {weight_decay!r}")
    if early_stopping_patience is not None and int(early_stopping_patience) < 1:
        raise ValueError(
            f"early_stopping_patience must be at least 1 (or None), got {early_stopping_patience!r}"
        )
    if early_stopping_patience is not None and validation is None:
        raise ValueError("early stopping needs a validation set")
    max_steps, batch_size, validation_every = int(max_steps), int(batch_size), int(validation_every)
    checkpoint_every = validation_every if checkpoint_every is None else int(checkpoint_every)
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every!r}")
    warmup = min(100, max_steps // 20) if warmup_steps is None else max(0, int(warmup_steps))
    _check_inputs(model, train_set, validation, task)
    monitor_name = _monitor_name(monitor, task, validation) if validation is not None else "loss"
    weights = _resolve_class_weights(class_weights, train_set, task)
    if weights is not None and balance is not None:
        warnings.warn(
            "both balance and class_weights counter class imbalance; using both over-corrects",
            UserWarning,
            stacklevel=2,
        )
    scaler: dict[str, float] | None = None
    if task == "regression":
        targets = np.asarray(train_set.targets, dtype=np.float64)
        finite = targets[np.isfinite(targets)]
        spread = float(finite.std()) if finite.size else 1.0
        scaler = {"mean": float(finite.mean()) if finite.size else 0.0, "std": spread if spread > 0 else 1.0}

    from qusi_lab.models import loss_for_task

    loss_function = loss_for_task(task, class_weights=weights, regression_loss=regression_loss)
    chosen_device = (
        torch.device(device)
        if device is not None
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    model.to(chosen_device)
    loss_function.to(chosen_device)
    optimizer_object = _make_optimizer(optimizer, model, float(learning_rate), float(weight_decay))
    scheduler_object = _make_scheduler(scheduler, optimizer_object, max_steps, warmup)
    time_budget_schedule = _time_budget_schedule(scheduler, optimizer_object, max_steps, warmup, max_time)

    architecture = getattr(model, "name", None) or type(model).__name__
    config: dict[str, Any] = _plain(
        {
            "task": task,
            "label_names": list(train_set.label_names),
            "max_steps": max_steps,
            "batch_size": batch_size,
            "learning_rate": float(learning_rate),
            "weight_decay": float(weight_decay),
            "optimizer": optimizer
            if isinstance(optimizer, str)
            else getattr(optimizer, "__name__", repr(optimizer)),
            "scheduler": scheduler,
            "warmup_steps": warmup,
            "balance": balance,
            "class_weights": weights,
            "regression_loss": regression_loss,
            "gradient_clip_norm": gradient_clip_norm,
            "validation_every": validation_every,
            "checkpoint_every": checkpoint_every,
            "early_stopping_patience": early_stopping_patience,
            "monitor": monitor_name,
            "min_delta": float(min_delta),
            "seed": int(seed),
            "num_workers": int(num_workers),
            "augment": bool(augment),
            "threshold": float(threshold),
            "top_fraction": float(top_fraction),
            "architecture": architecture,
            "model_config": dict(getattr(model, "config", {}) or {}),
            "train_size": len(train_set),
            "validation_size": None if validation is None else len(validation),
            "checkpoint_dir": None if checkpoint_dir is None else str(checkpoint_dir),
            # Whether a fresh start re-draws the weights from the seed (see the docstring); a resume never does.
            "initialize": (not already_trained) if initialize is None else bool(initialize),
        }
    )
    fingerprint = {key: config[key] for key in _RESUME_KEYS}
    # Only checkpoints need it (one pass over the source names: skipped without a checkpoint_dir).
    data_record = _data_record(train_set, validation) if checkpoint_dir is not None else {}

    folder = None if checkpoint_dir is None else Path(checkpoint_dir)
    state = _LoopState()
    best_weights: dict[str, torch.Tensor] | None = None
    resumed_from: int | None = None
    devices = [chosen_device.index or 0] if chosen_device.type == "cuda" else []

    with torch.random.fork_rng(devices=devices), _deterministic_algorithms(deterministic):
        torch.manual_seed(_derived_seed(seed, 0))
        if folder is not None and resume and (folder / LAST_CHECKPOINT).exists():
            checkpoint = load_checkpoint(folder / LAST_CHECKPOINT)
            _check_fingerprint(checkpoint, fingerprint, folder / LAST_CHECKPOINT)
            _check_data(checkpoint, data_record, folder / LAST_CHECKPOINT)
            try:
                model.load_state_dict(checkpoint["model"])
            except RuntimeError as error:
                first_line = (str(error).strip().splitlines() or [""])[0]
                raise CheckpointError(
                    f"{folder / LAST_CHECKPOINT}: does not fit this model ({first_line}); "
                    f"use another checkpoint_dir or {START_OVER}"
                ) from error
            optimizer_object.load_state_dict(checkpoint["optimizer"])
            scheduler_object.load_state_dict(checkpoint["scheduler"])
            restore_random_states(checkpoint["random_states"])
            state = _LoopState(
                step=int(checkpoint["step"]),
                history=[dict(row) for row in checkpoint["history"]],
                best_step=checkpoint["best"]["step"],
                best_value=checkpoint["best"]["value"],
                best_metrics=dict(checkpoint["best"]["metrics"]),
                bad_validations=int(checkpoint["best"]["bad_validations"]),
                stopped_reason=checkpoint["stopped_reason"],
                elapsed=float(checkpoint["elapsed"]),
            )
            resumed_from = state.step
            best_weights = checkpoint.get("best_model")
            # A run stopped by its time budget continues; one that ran out of steps continues if
            # max_steps was raised; one stopped early stays stopped (same patience).
            if state.stopped_reason == "max_time" or (
                state.stopped_reason == "max_steps" and state.step < max_steps
            ):
                state.stopped_reason = None
            if (
                state.stopped_reason == "early_stopping"
                and checkpoint.get("patience") != early_stopping_patience
            ):
                state.stopped_reason = None
        else:
            if folder is not None:
                # A fresh start: a best.pt left by an earlier run in this folder must not pass for this run's,
                # nor its last.pt be resumed by the next call if this run stops before its first checkpoint.
                (folder / BEST_CHECKPOINT).unlink(missing_ok=True)
                (folder / LAST_CHECKPOINT).unlink(missing_ok=True)
            if config["initialize"]:
                _initialize_weights(model, _derived_seed(seed, 3))
        logger_objects = make_loggers(loggers, folder, config)
        for logger in logger_objects:
            if isinstance(logger, CSVLogger):
                logger.restore(state.history)

        validator = None
        if validation is not None:
            validator = _Validator(validation, max(batch_size, 128), int(num_workers))
        source = train_set
        if state.stopped_reason is None and _use_cache(cache, train_set):
            source = CachedTrainingView(train_set, augment=bool(augment))
        stream = source.stream(seed=int(seed), balance=balance, augment=bool(augment))
        bar = ProgressBar(
            max_steps, initial=min(state.step, max_steps), enabled=progress and state.stopped_reason is None
        )
        parameters = [parameter for parameter in model.parameters() if parameter.requires_grad]
        iterator: Iterator[Any] | None = None
        iterator_chunk = -1
        loss_sum, grad_norm_sum, steps_since_row = 0.0, 0.0, 0
        if resumed_from is not None:  # the training-loss average of the next history row continues too
            loss_sum = float(checkpoint["running"]["loss_sum"])
            grad_norm_sum = float(checkpoint["running"]["grad_norm_sum"])
            steps_since_row = int(checkpoint["running"]["steps"])
        smoothed_loss: float | None = None
        elapsed_before = state.elapsed

        def elapsed_now() -> float:
            return elapsed_before + (time.monotonic() - started)

        saved_at: list[int] = [] if resumed_from is None else [resumed_from]  # step of the newest last.pt

        def save_last(rng: dict[str, Any] | None = None) -> None:
            if folder is None:
                return
            saved_at[:] = []  # a failed write below leaves last.pt as it was, but say nothing about it
            atomic_torch_save(
                {
                    "format_version": CHECKPOINT_FORMAT_VERSION,
                    "qusi_lab_version": _version(),
                    "step": state.step,
                    "model": model.state_dict(),
                    "optimizer": optimizer_object.state_dict(),
                    "scheduler": scheduler_object.state_dict(),
                    "random_states": random_states() if rng is None else rng,
                    "stream": {
                        "seed": int(seed),
                        "chunk": state.step // checkpoint_every,
                        "batches_into_chunk": state.step % checkpoint_every,
                        "checkpoint_every": checkpoint_every,
                    },
                    "history": state.history,
                    "best": {
                        "step": state.best_step,
                        "value": state.best_value,
                        "metrics": state.best_metrics,
                        "bad_validations": state.bad_validations,
                    },
                    # The best weights travel inside last.pt too, so the two can never disagree after a crash
                    # between writing best.pt and last.pt.
                    "best_model": best_weights,
                    "running": {
                        "loss_sum": loss_sum,
                        "grad_norm_sum": grad_norm_sum,
                        "steps": steps_since_row,
                    },
                    "stopped_reason": state.stopped_reason,
                    "patience": early_stopping_patience,
                    "elapsed": elapsed_now(),
                    "fingerprint": fingerprint,
                    "data": data_record,
                    "target_scaler": scaler,
                },
                folder / LAST_CHECKPOINT,
            )
            saved_at[:] = [state.step]

        def add_row() -> None:
            nonlocal loss_sum, grad_norm_sum, steps_since_row, best_weights
            row: dict[str, Any] = {
                "step": state.step,
                "train_loss": loss_sum / steps_since_row if steps_since_row else math.nan,
                "learning_rate": float(optimizer_object.param_groups[0]["lr"]),
                "grad_norm": grad_norm_sum / steps_since_row if steps_since_row else math.nan,
                "elapsed": elapsed_now(),
            }
            loss_sum, grad_norm_sum, steps_since_row = 0.0, 0.0, 0
            if validator is not None:
                metrics = validator(
                    model, loss_function, task, scaler, chosen_device, float(threshold), float(top_fraction)
                )
                row.update({f"val_{name}": float(value) for name, value in metrics.items()})
                value = float(metrics.get(monitor_name, math.nan))
                if monitor_name not in metrics:
                    raise ValueError(
                        f"monitor {monitor_name!r} is not a validation metric of this task; "
                        f"choose one of {['loss', *metrics]}"
                    )
                if _improved(
                    value,
                    state.best_value,
                    monitor_name,
                    float(min_delta),
                    float(metrics["loss"]),
                    state.best_metrics.get("loss"),
                ):
                    state.best_step, state.best_value = state.step, value
                    state.best_metrics = {name: float(metric) for name, metric in metrics.items()}
                    state.bad_validations = 0
                    best_weights = {
                        key: tensor.detach().clone() for key, tensor in model.state_dict().items()
                    }
                    if folder is not None:
                        atomic_torch_save(
                            {
                                "format_version": CHECKPOINT_FORMAT_VERSION,
                                "step": state.step,
                                "model": best_weights,
                                "metrics": state.best_metrics,
                            },
                            folder / BEST_CHECKPOINT,
                        )
                else:
                    state.bad_validations += 1
                bar.set(**{name: row[f"val_{name}"] for name in dict.fromkeys(["loss", monitor_name])})
            state.history.append(_plain(row))
            for logger in logger_objects:
                logger.log(state.history[-1], state.step)

        # Where a Ctrl-C lands decides what can be saved. While the batch is being loaded nothing of the
        # step has happened yet (the forward pass changes batch-norm statistics and the random state), so
        # the weights are those of `state.step` and the random state the one captured when the step began:
        # the interrupt is taken at once and that state saved. During the update and the bookkeeping
        # (validation included) the state is half-changed, so with a checkpoint_dir the interrupt is
        # deferred to the end of the step, which is saved as a time-budget stop would be; a second Ctrl-C
        # stops at once (and saves nothing of that step).
        phase = "idle"
        step_start_rng: torch.Tensor | None = None
        interrupt_requested = False

        def on_interrupt(signum: int, frame: Any) -> None:
            nonlocal interrupt_requested
            if phase in ("computing", "bookkeeping") and not interrupt_requested:
                interrupt_requested = True
                print(
                    "qusi_lab: interrupted; finishing this step, then saving a checkpoint "
                    "(press Ctrl-C again to stop at once)",
                    file=sys.stderr,
                    flush=True,
                )
                return
            raise KeyboardInterrupt

        previous_handler = _install_interrupt_handler(on_interrupt) if folder is not None else None
        try:
            while state.stopped_reason is None and state.step < max_steps:
                phase = "loading"
                step_start_rng = torch.get_rng_state()
                chunk = state.step // checkpoint_every
                if iterator is None or chunk != iterator_chunk:
                    into_chunk = state.step - chunk * checkpoint_every
                    if into_chunk == 0:
                        # Everything from a chunk boundary on depends only on (seed, chunk) and the weights.
                        torch.manual_seed(_derived_seed(seed, chunk, 1))
                    stream.set_epoch(chunk)
                    # Each worker draws its own seeded sequence (TrainingStream) and the workers' random
                    # states come from this generator; with in_order the DataLoader takes one batch from
                    # each worker in turn, so the batches do not depend on which worker is faster.
                    loader = DataLoader(
                        stream,
                        batch_size=batch_size,
                        num_workers=int(num_workers),
                        generator=torch.Generator().manual_seed(_derived_seed(seed, chunk, 2)),
                        in_order=True,
                        worker_init_fn=_ignore_interrupts,
                    )
                    iterator = iter(loader)
                    iterator_chunk = chunk
                    for _ in range(into_chunk):  # replay the part of the chunk done before the checkpoint
                        next(iterator)
                x, y = next(iterator)
                phase = "computing"
                x, y = x.to(chosen_device), y.to(chosen_device)
                if scaler is not None:
                    y = (y - scaler["mean"]) / scaler["std"]
                model.train()
                optimizer_object.zero_grad(set_to_none=True)
                loss = loss_function(model(x), y)
                if not torch.isfinite(loss):
                    raise FloatingPointError(
                        f"the training loss became {float(loss)} at step {state.step + 1}; lower the learning_rate "
                        "or check the inputs (see dataset.plot(i))"
                    )
                loss.backward()
                if gradient_clip_norm is not None and gradient_clip_norm > 0:
                    grad_norm = float(torch.nn.utils.clip_grad_norm_(parameters, float(gradient_clip_norm)))
                else:
                    grad_norm = float(
                        torch.nn.utils.get_total_norm([p.grad for p in parameters if p.grad is not None])
                    )
                optimizer_object.step()
                scheduler_object.step()
                state.step += 1
                if time_budget_schedule is not None:
                    time_budget_schedule(time.monotonic() - started, state.step)
                phase = "bookkeeping"
                loss_value = float(loss.detach())
                loss_sum += loss_value
                grad_norm_sum += grad_norm
                steps_since_row += 1
                smoothed_loss = (
                    loss_value if smoothed_loss is None else 0.9 * smoothed_loss + 0.1 * loss_value
                )
                bar.update(1, loss=smoothed_loss)

                out_of_time = max_time is not None and time.monotonic() - started >= float(max_time)
                # No extra validation when the time budget stops the run: a resumed run then makes exactly
                # the validations (best weights, early stopping) of an uninterrupted one.
                if state.step % validation_every == 0 or state.step >= max_steps:
                    add_row()
                    if early_stopping_patience is not None and state.bad_validations >= int(
                        early_stopping_patience
                    ):
                        state.stopped_reason = "early_stopping"
                if state.stopped_reason is None:
                    if state.step >= max_steps:
                        state.stopped_reason = "max_steps"
                    elif out_of_time:
                        state.stopped_reason = "max_time"
                if (
                    state.step % checkpoint_every == 0
                    or state.stopped_reason is not None
                    or interrupt_requested
                ):
                    save_last()
                if interrupt_requested:
                    phase = "saved"
                    raise KeyboardInterrupt
            phase = "idle"
            if state.stopped_reason is None:  # resumed at or beyond max_steps
                state.stopped_reason = "max_steps"
        except KeyboardInterrupt:
            _stop_workers(iterator)  # workers would otherwise finish the batches they are reading first
            if folder is not None and phase == "loading" and step_start_rng is not None:
                states = random_states()
                states["torch"] = step_start_rng
                save_last(states)
            warnings.warn(_interrupted_message(state.step, folder, saved_at[0] if saved_at else None),
                          UserWarning, stacklevel=2)
            raise
        except BaseException:
            _stop_workers(iterator)
            raise
        finally:
            _restore_interrupt_handler(previous_handler)
            iterator = None
            bar.close()
            for logger in logger_objects:
                close = getattr(logger, "close", None)
                if callable(close):
                    close()

    if validation is not None and best_weights is not None:
        model.load_state_dict(best_weights)
    if validation is None or state.best_step is None:
        state.best_step = state.step
        state.best_metrics = {"train_loss": state.history[-1]["train_loss"]} if state.history else {}
    model.eval()
    preprocessing = train_set.preprocessing
    trained = Model(
        model,
        task=task,
        label_names=tuple(train_set.label_names),
        positive_class=train_set.positive_class,
        input_length=int(train_set.input_length),
        preprocessing=preprocessing.copy() if hasattr(preprocessing, "copy") else preprocessing,
        architecture=architecture,
        model_config=config["model_config"],
        target_scaler=scaler,
        training_config={
            **config,
            "steps": state.step,
            "best_step": state.best_step,
            "stopped_reason": state.stopped_reason,
        },
        metrics=dict(state.best_metrics),
        qusi_lab_version=_version(),
    )
    # The network keeps its description too, as before the Model existed (code holding the network it passed in).
    setattr(model, "bundle", trained)  # noqa: B010 - nn.Module types attribute assignment as Tensor|Module
    import pandas as pd

    return TrainingResult(
        model=trained,
        history=pd.DataFrame(state.history),
        best_step=state.best_step,
        best_metrics=dict(state.best_metrics),
        steps=state.step,
        stopped_reason=str(state.stopped_reason),
        monitor=monitor_name,
        checkpoint_dir=folder,
        problems=_problems(train_set, validation),
        config=config,
        resumed_from=resumed_from,
        elapsed=time.monotonic() - started,
    )


def _install_interrupt_handler(handler: Callable[[int, Any], None]) -> Any:
    """Put ``handler`` on SIGINT if Python's own is there (main thread only); returns what to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None
    current = signal.getsignal(signal.SIGINT)
    if current is not signal.default_int_handler:  # someone else handles Ctrl-C: leave it to them
        return None
    signal.signal(signal.SIGINT, handler)
    return current


def _restore_interrupt_handler(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def _ignore_interrupts(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C to the main process, which saves and then stops them.

    A terminal's Ctrl-C reaches every process of the group: a worker dying of it mid-batch would turn
    the interrupt into "DataLoader worker exited unexpectedly" while the main process finishes its step.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _stop_workers(iterator: Any) -> None:
    """End a DataLoader iterator's worker processes now.

    Dropping the iterator lets each worker finish the batch it is reading and waits up to 5 s per
    worker, which after a Ctrl-C (workers reading big files, or a notebook interrupt that reaches the
    main process only) makes the user wait for nothing. This uses torch's private iterator fields;
    if they change, the DataLoader's own shutdown still happens when the iterator is dropped.
    """
    workers = getattr(iterator, "_workers", None)
    if not workers:
        return
    try:
        from torch.utils.data._utils import signal_handling

        if getattr(iterator, "_worker_pids_set", False):
            # Unregister first: torch's SIGCHLD handler would report the terminated workers as crashed.
            signal_handling._remove_worker_pids(id(iterator))
            iterator._worker_pids_set = False
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        iterator._shutdown_workers()
    except Exception:  # noqa: BLE001 - the normal shutdown still runs when the iterator is dropped
        pass


def _interrupted_message(step: int, folder: Path | None, saved_step: int | None) -> str:
    """What a Ctrl-C left behind, truthfully."""
    again = "run the same call (or qusi-lab command) again to continue"
    if folder is None:
        return f"training interrupted at step {step}; no checkpoint was written (no checkpoint_dir)"
    if saved_step == step:
        return f"training interrupted at step {step}: saved a checkpoint at step {step} in {folder}; {again}"
    if saved_step is None:
        return f"training interrupted at step {step}; no checkpoint was written in {folder}"
    return (
        f"training interrupted at step {step}; the steps since the checkpoint at step {saved_step} in "
        f"{folder} were not saved; {again} from step {saved_step}"
    )


def _initialize_weights(model: nn.Module, seed: int) -> None:
    """Re-draw the weights of every submodule that knows how (``reset_parameters``), from ``seed``.

    PyTorch layers draw their initial weights in their constructors from the global random state, so
    two models built one after the other differ; this makes them depend on ``seed`` alone.
    """
    torch.manual_seed(seed)
    covered: set[int] = set()
    for module in model.modules():
        # nn.MultiheadAttention initialises its own projection weights in _reset_parameters.
        reset = getattr(module, "reset_parameters", None) or getattr(module, "_reset_parameters", None)
        if callable(reset):
            reset()
            covered.update(id(parameter) for parameter in module.parameters(recurse=False))
    left = [name for name, parameter in model.named_parameters() if id(parameter) not in covered]
    if left:
        shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
        warnings.warn(
            f"initialize: {len(left)} parameters belong to modules without reset_parameters() and keep the "
            f"values they were built with ({shown}), so the seed does not set them; build the model under "
            "torch.manual_seed for reproducible weights",
            UserWarning,
            stacklevel=3,
        )


def _use_cache(cache: bool | None, train_set: Any) -> bool:
    if cache is not None:
        return bool(cache)
    if not hasattr(train_set, "preprocessing") or not hasattr(train_set, "light_curve"):
        return False
    return estimated_cache_bytes(train_set) <= DEFAULT_CACHE_BYTES


def _version() -> str:
    from qusi_lab._version import __version__

    return __version__


def _check_fingerprint(checkpoint: Mapping[str, Any], fingerprint: Mapping[str, Any], path: Path) -> None:
    saved = checkpoint.get("fingerprint", {})
    differing = [key for key in fingerprint if _plain(saved.get(key)) != _plain(fingerprint[key])]
    if differing:
        details = "; ".join(
            f"{key}: checkpoint {saved.get(key)!r}, now {fingerprint[key]!r}" for key in differing
        )
        raise CheckpointError(
            f"{path}: cannot resume, the run was started with other settings ({details}); "
            f"use the same settings, another checkpoint_dir, or {START_OVER}"
        )


def _curve_names(dataset: Any) -> list[str]:
    """Where each curve comes from (its path, usually), in dataset order."""
    if dataset is None:
        return []
    name_of = getattr(dataset, "source_name", None)
    target_ids = getattr(dataset, "target_ids", None)
    names = []
    for index in range(len(dataset)):
        name = str(name_of(index)) if callable(name_of) else f"<curve {index}>"
        if name.startswith("<") and target_ids is not None and index < len(target_ids):
            name = f"{name[:-1]}, {target_ids[index]}>"  # in-memory curves: the star tells them apart
        names.append(name)
    return names


def _curve_keys(names: list[str], dataset: Any, root: str | None) -> list[str]:
    """One line per curve: its name (relative to ``root``, so a moved data folder is the same data) and label."""
    labels = dataset.labels if dataset is not None and getattr(dataset, "is_labelled", False) else None
    keys = []
    for index, name in enumerate(names):
        if root is not None and not name.startswith("<"):
            name = Path(os.path.relpath(name, root)).as_posix()
        keys.append(name if labels is None else f"{name}: {labels[index]}")
    return keys


def _common_folder(names: list[str]) -> str | None:
    paths = [name for name in names if not name.startswith("<")]
    if not paths:
        return None
    try:
        return os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in paths])
    except ValueError:  # paths on different Windows drives
        return None


def _data_record(train_set: Any, validation: Any) -> dict[str, Any]:
    """What a run learns from, stored in ``last.pt`` so that a resume can check it has the same data.

    Per set: the number of curves, a sha256 over the (source name, label) lines in dataset order (the
    order decides which curve each draw of the stream is), and the lines themselves, zlib-compressed
    into a uint8 tensor (so the file still loads with ``weights_only=True``), to name what differs.
    File names are taken relative to the folder holding both sets, so a data folder that was moved
    or copied elsewhere is still the same data.
    """
    sets = {"train": train_set, "validation": validation}
    names = {name: _curve_names(dataset) for name, dataset in sets.items()}
    root = _common_folder(names["train"] + names["validation"])
    record: dict[str, Any] = {}
    for name, dataset in sets.items():
        text = "\n".join(_curve_keys(names[name], dataset, root)).encode("utf-8")
        record[name] = {
            "count": 0 if dataset is None else len(dataset),
            "sha256": hashlib.sha256(text).hexdigest(),
            "curves": torch.frombuffer(bytearray(zlib.compress(text, 6)), dtype=torch.uint8),
        }
    return record


def _unpack_curves(entry: Mapping[str, Any]) -> list[str] | None:
    try:
        text = zlib.decompress(bytes(entry["curves"].numpy().tobytes())).decode("utf-8")
    except (KeyError, AttributeError, zlib.error, UnicodeDecodeError):
        return None
    return text.split("\n") if text else []


def _describe_difference(old: list[str] | None, new: list[str]) -> str:
    if old is None:
        return "the checkpoint's list of curves is unreadable"
    if sorted(old) == sorted(new):
        return "the same curves in another order"
    for position, (before, now) in enumerate(zip(old, new, strict=False)):
        if before != now:
            return f"first difference at curve {position}: checkpoint {before!r}, now {now!r}"
    if len(old) > len(new):
        return f"the checkpoint also has {old[len(new)]!r} ..."
    return f"now also {new[len(old)]!r} ..."


def _check_data(checkpoint: Mapping[str, Any], record: Mapping[str, Any], path: Path) -> None:
    """Refuse to resume a run on data other than the data it was started on."""
    saved = checkpoint.get("data")
    if not isinstance(saved, Mapping):
        warnings.warn(
            f"{path} was written by a qusi_lab that did not record the training data, so this resume "
            f"cannot check it is the same; if the data changed, {START_OVER}",
            UserWarning,
            stacklevel=3,
        )
        return
    details = []
    for name, label in (("train", "training set"), ("validation", "validation set")):
        before, now = saved.get(name, {}), record[name]
        if before.get("sha256") == now["sha256"]:
            continue
        old_keys = _unpack_curves(before)
        details.append(
            f"{label}: checkpoint {before.get('count', '?')} curves, now {now['count']}, "
            + _describe_difference(old_keys, _unpack_curves(now) or [])
        )
    if details:
        raise CheckpointError(
            f"{path}: cannot resume, the checkpoint was made on other data ({'; '.join(details)}); "
            f"use the same data, another checkpoint_dir (CLI: another --out), or {START_OVER}"
        )
