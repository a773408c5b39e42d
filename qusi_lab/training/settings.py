"""Settings of a training run, worked out before its first step (the first stage of :func:`train`).

:func:`prepare` checks :func:`~qusi_lab.training.train`'s keyword arguments (:class:`Options`) and data,
and builds the loss, optimizer, schedules and the run's config (:class:`Setup`); beside it the seeds,
deterministic algorithms, initial weights, class weights, and whether to cache the training inputs.

Example
-------
>>> from qusi_lab.training.settings import derived_seed
>>> derived_seed(0, 1) == derived_seed(0, 1) != derived_seed(0, 2)
True
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qusi_lab.models.trained import Model, description_of
from qusi_lab.training.cache import DEFAULT_CACHE_BYTES, estimated_cache_bytes
from qusi_lab.training.distributed import (
    check_batch_size,
    choose_device,
    choose_precision,
    is_distributed,
    world_size,
)
from qusi_lab.training.resume import RESUME_KEYS, data_record, plain
from qusi_lab.training.schedules import make_optimizer, make_scheduler, time_budget_schedule
from qusi_lab.training.validation import check_inputs, monitor_name

__all__ = [
    "Options",
    "OPTION_NAMES",
    "Setup",
    "prepare",
    "network_to_train",
    "derived_seed",
    "deterministic_algorithms",
    "initialize_weights",
    "resolve_class_weights",
    "use_cache",
]


def derived_seed(*keys: int) -> int:
    """A 63-bit seed from integer keys (independent streams for different keys)."""
    return int(
        np.random.SeedSequence([int(key) for key in keys]).generate_state(1, np.uint64)[0] % (2**63 - 1)
    )


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    if enabled:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn_only)


def resolve_class_weights(class_weights: Any, dataset: Any, task: str) -> list[float] | None:
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


def initialize_weights(model: nn.Module, seed: int, *, stacklevel: int = 3) -> None:
    """Re-draw the weights of every submodule that knows how (``reset_parameters``), from ``seed``.

    PyTorch layers draw their initial weights in their constructors from the global random state, so
    two models built one after the other differ; this makes them depend on ``seed`` alone.
    ``stacklevel`` is the warning's (the frame of the user's call).
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
            stacklevel=stacklevel,
        )


def use_cache(cache: bool | None, train_set: Any) -> bool:
    # The cache holds preprocessed light curves: a dataset whose inputs are already arrays in memory
    # (MLAR patches) has nothing to cache, whatever ``cache`` asks.
    if not hasattr(train_set, "preprocessing") or not hasattr(train_set, "light_curve"):
        return False
    if cache is not None:
        return bool(cache)
    return estimated_cache_bytes(train_set) <= DEFAULT_CACHE_BYTES


# ---------------------------------------------------------------- train()'s stage 1: the settings
@dataclass(frozen=True)
class Options:
    """The keyword arguments of :func:`train`, as given (see its docstring)."""

    max_steps: Any
    batch_size: Any
    learning_rate: Any
    weight_decay: Any
    optimizer: Any
    scheduler: Any
    warmup_steps: Any
    balance: Any
    class_weights: Any
    regression_loss: Any
    gradient_clip_norm: Any
    validation_every: Any
    checkpoint_every: Any
    early_stopping_patience: Any
    monitor: Any
    min_delta: Any
    seed: Any
    num_workers: Any
    augment: Any
    checkpoint_dir: Any
    resume: Any
    loggers: Any
    progress: Any
    max_time: Any
    device: Any
    deterministic: Any
    threshold: Any
    top_fraction: Any
    cache: Any
    initialize: Any
    precision: Any
    global_batch: Any


OPTION_NAMES = frozenset(option.name for option in fields(Options))


@dataclass
class Setup:
    """What :func:`prepare` works out from the options: checked numbers, loss, optimizer, the run's config."""

    task: str
    max_steps: int
    batch_size: int
    validation_every: int
    checkpoint_every: int
    monitor_name: str
    scaler: dict[str, float] | None
    loss_function: nn.Module
    device: torch.device
    precision: str
    world_size: int
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    time_budget: Callable[[float, int], None] | None
    architecture: str
    config: dict[str, Any]
    fingerprint: dict[str, Any]
    data_record: dict[str, Any]
    folder: Path | None


def network_to_train(model: nn.Module | Model) -> tuple[nn.Module, bool]:
    """The network inside ``model``, and whether it is already trained (fine-tuned, not re-initialised)."""
    # A trained model (a Model, or a network an earlier train() described) is fine-tuned, not re-initialised.
    already_trained = description_of(model) is not None
    if isinstance(model, Model):
        if model.network is None:
            raise ValueError("this Model is a description without weights (load_bundle_info); load it with "
                             "qusi_lab.load(path) to fine-tune it")
        return model.network, already_trained
    return model, already_trained


def check_numbers(options: Options, validation: Any) -> None:
    for name, value in (
        ("max_steps", options.max_steps),
        ("batch_size", options.batch_size),
        ("validation_every", options.validation_every),
    ):
        if int(value) < 1:
            raise ValueError(f"{name} must be at least 1, got {value!r}")
    if int(options.num_workers) < 0:
        raise ValueError(f"num_workers must be 0 or more, got {options.num_workers!r}")
    # An infinite or NaN rate would only show up as a FloatingPointError at the first step.
    learning_rate, weight_decay = options.learning_rate, options.weight_decay
    if not (math.isfinite(float(learning_rate)) and float(learning_rate) > 0):
        raise ValueError(f"learning_rate must be a positive finite number, got {learning_rate!r}")
    if not (math.isfinite(float(weight_decay)) and float(weight_decay) >= 0):
        raise ValueError(f"weight_decay must be a finite number of at least 0, got {weight_decay!r}")
    patience = options.early_stopping_patience
    if patience is not None and int(patience) < 1:
        raise ValueError(f"early_stopping_patience must be at least 1 (or None), got {patience!r}")
    if patience is not None and validation is None:
        raise ValueError("early stopping needs a validation set")


def target_scaler(train_set: Any, task: str) -> dict[str, float] | None:
    """Mean and standard deviation that standardise regression targets (None for classification)."""
    if task != "regression":
        return None
    targets = np.asarray(train_set.targets, dtype=np.float64)
    finite = targets[np.isfinite(targets)]
    spread = float(finite.std()) if finite.size else 1.0
    return {"mean": float(finite.mean()) if finite.size else 0.0, "std": spread if spread > 0 else 1.0}


def prepare(
    model: nn.Module, train_set: Any, validation: Any, options: Options, already_trained: bool
) -> Setup:
    """Check the arguments and data, then build the loss, optimizer and schedules and the run's config."""
    if not getattr(train_set, "is_labelled", False):
        raise ValueError("train needs a labelled dataset (labels=...)")
    task = str(train_set.task)
    if task not in ("binary", "multiclass", "regression"):
        raise ValueError(f"cannot train for task {task!r}")
    check_numbers(options, validation)
    max_steps, batch_size = int(options.max_steps), int(options.batch_size)
    validation_every = int(options.validation_every)
    checkpoint_every = validation_every if options.checkpoint_every is None else int(options.checkpoint_every)
    if checkpoint_every < 1:
        raise ValueError(f"checkpoint_every must be at least 1, got {checkpoint_every!r}")
    warmup_steps = options.warmup_steps
    warmup = min(100, max_steps // 20) if warmup_steps is None else max(0, int(warmup_steps))
    check_inputs(model, train_set, validation, task)
    # Warnings name the line that called train(): monitor_name <- prepare <- train <- the caller.
    monitor = monitor_name(options.monitor, task, validation, stacklevel=4) if validation is not None else "loss"
    weights = resolve_class_weights(options.class_weights, train_set, task)
    if weights is not None and options.balance is not None:
        warnings.warn(
            "both balance and class_weights counter class imbalance; using both over-corrects",
            UserWarning,
            stacklevel=3,
        )
    scaler = target_scaler(train_set, task)

    from qusi_lab.models import loss_for_task

    loss_function = loss_for_task(task, class_weights=weights, regression_loss=options.regression_loss)
    # The device (this rank's GPU under torchrun) and precision are chosen here and recorded in the config.
    device = choose_device(options.device)
    precision = choose_precision(options.precision, device)
    world = world_size() if is_distributed() else 1  # a stray $WORLD_SIZE without a process group is one process
    if world > 1:
        check_batch_size(batch_size, world)
    model.to(device)
    loss_function.to(device)
    optimizer = make_optimizer(options.optimizer, model, float(options.learning_rate), float(options.weight_decay))
    scheduler = make_scheduler(options.scheduler, optimizer, max_steps, warmup)
    # Its warning is raised from the step loop: apply <- _Run._update <- _Run.steps <- train <- the caller.
    time_budget = time_budget_schedule(
        options.scheduler, optimizer, max_steps, warmup, options.max_time, stacklevel=5
    )

    architecture = getattr(model, "name", None) or type(model).__name__
    config: dict[str, Any] = plain(
        {
            "task": task,
            "label_names": list(train_set.label_names),
            "max_steps": max_steps,
            "batch_size": batch_size,
            "learning_rate": float(options.learning_rate),
            "weight_decay": float(options.weight_decay),
            "optimizer": options.optimizer
            if isinstance(options.optimizer, str)
            else getattr(options.optimizer, "__name__", repr(options.optimizer)),
            "scheduler": options.scheduler,
            "warmup_steps": warmup,
            "balance": options.balance,
            "class_weights": weights,
            "regression_loss": options.regression_loss,
            "gradient_clip_norm": options.gradient_clip_norm,
            "validation_every": validation_every,
            "checkpoint_every": checkpoint_every,
            "early_stopping_patience": options.early_stopping_patience,
            "monitor": monitor,
            "min_delta": float(options.min_delta),
            "seed": int(options.seed),
            "num_workers": int(options.num_workers),
            "augment": bool(options.augment),
            "threshold": float(options.threshold),
            "top_fraction": float(options.top_fraction),
            "architecture": architecture,
            "model_config": dict(getattr(model, "config", {}) or {}),
            "train_size": len(train_set),
            "validation_size": None if validation is None else len(validation),
            "checkpoint_dir": None if options.checkpoint_dir is None else str(options.checkpoint_dir),
            # Whether a fresh start re-draws the weights from the seed (see the docstring); a resume never does.
            "initialize": (not already_trained) if options.initialize is None else bool(options.initialize),
            # Where and how it ran (not part of what must match on resume: a run may continue elsewhere).
            "device": str(device),
            "precision": precision,
            "world_size": world,
            "global_batch": bool(options.global_batch),
        }
    )
    checkpoint_dir = options.checkpoint_dir
    return Setup(
        task=task,
        max_steps=max_steps,
        batch_size=batch_size,
        validation_every=validation_every,
        checkpoint_every=checkpoint_every,
        monitor_name=monitor,
        scaler=scaler,
        loss_function=loss_function,
        device=device,
        precision=precision,
        world_size=world,
        optimizer=optimizer,
        scheduler=scheduler,
        time_budget=time_budget,
        architecture=architecture,
        config=config,
        fingerprint={key: config[key] for key in RESUME_KEYS},
        # Only checkpoints need it (one pass over the source names: skipped without a checkpoint_dir).
        data_record=data_record(train_set, validation) if checkpoint_dir is not None else {},
        folder=None if checkpoint_dir is None else Path(checkpoint_dir),
    )
