"""Validation during training: the checks on the validation set, the monitored metric, the passes.

:class:`Validator` runs the network over the validation set (through the one scoring path,
:func:`~qusi_lab.training.evaluate.predict_outputs`) and computes the loss and the task's metrics;
:func:`improved` decides whether a validation beats the best one so far.

Example
-------
>>> from qusi_lab.training.validation import improved
>>> improved(0.9, 0.8, "auc_roc", min_delta=0.0, loss=0.3, best_loss=0.4)
True
>>> improved(0.5, 0.4, "loss", min_delta=0.0, loss=0.5, best_loss=0.4)
False
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from qusi_lab.models.trained import check_compatible, input_shape_of, scores_from_outputs
from qusi_lab.training.checkpoints import BEST_CHECKPOINT, CHECKPOINT_FORMAT_VERSION, atomic_torch_save
from qusi_lab.training.evaluate import predict_outputs
from qusi_lab.training.interrupts import ignore_interrupts, stop_workers
from qusi_lab.training.metrics import CEILING_SUFFIX, HIGHER_IS_BETTER, LOWER_IS_BETTER, metrics_for_task
from qusi_lab.training.resume import LoopState

__all__ = ["VALIDATION_CACHE_BYTES", "Validator", "check_inputs", "improved", "keep_best", "monitor_name"]

# (preprocessing is deterministic, so later passes would recompute the same arrays).
VALIDATION_CACHE_BYTES = 512 * 1024**2


def check_inputs(model: nn.Module, train_set: Any, validation: Any, task: str) -> None:
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
    trained_on, validated_on = input_shape_of(train_set), input_shape_of(validation)
    if trained_on != validated_on:
        if trained_on is not None and validated_on is not None and len(trained_on) == len(validated_on) == 1:
            raise ValueError(
                f"training inputs have length {trained_on[0]} but validation inputs {validated_on[0]}"
            )
        raise ValueError(f"training inputs have shape {trained_on} but validation inputs {validated_on}")


def monitor_name(monitor: str | None, task: str, validation: Any, *, stacklevel: int = 3) -> str:
    """The validation metric choosing the best weights (``loss`` when a binary validation set has one class)."""
    name = ("loss" if task == "regression" else "auc_roc") if monitor is None else str(monitor)
    name = name.removeprefix("val_")
    if name.endswith(CEILING_SUFFIX):
        # The ceiling depends on the validation labels only: every set of weights would tie.
        raise ValueError(
            f"monitor {monitor!r} is the best value {name.removesuffix(CEILING_SUFFIX)} can take on the validation "
            f"set (fixed by its labels, not by the network); monitor {name.removesuffix(CEILING_SUFFIX)!r} or "
            "'recall_at_k_positives' instead"
        )
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
                stacklevel=stacklevel,
            )
            name = "loss"
    return name


def improved(
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


def keep_best(
    state: LoopState,
    metrics: dict[str, float],
    monitor: str,
    min_delta: float,
    model: nn.Module,
    folder: Path | None,
) -> bool:
    """After a validation: update ``state``'s best step, metrics and weights, and the early-stopping count.

    Returns whether the weights are the new best; they are copied into ``state.best_weights`` (and
    written to ``folder/best.pt`` with a folder).
    """
    value = float(metrics.get(monitor, math.nan))
    if monitor not in metrics:
        raise ValueError(
            f"monitor {monitor!r} is not a validation metric of this task; choose one of {['loss', *metrics]}"
        )
    if not improved(value, state.best_value, monitor, min_delta, float(metrics["loss"]), state.best_metrics.get("loss")):
        state.bad_validations += 1
        return False
    state.best_step, state.best_value = state.step, value
    state.best_metrics = {name: float(metric) for name, metric in metrics.items()}
    state.bad_validations = 0
    state.best_weights = {key: tensor.detach().clone() for key, tensor in model.state_dict().items()}
    if folder is not None:
        atomic_torch_save(
            {
                "format_version": CHECKPOINT_FORMAT_VERSION,
                "step": state.step,
                "model": state.best_weights,
                "metrics": state.best_metrics,
            },
            folder / BEST_CHECKPOINT,
        )
    return True


class Validator:
    """Runs the model over the validation set; keeps its inputs in memory after the first pass if small.

    Returns ``loss`` and the task's metrics (:func:`~qusi_lab.training.metrics.metrics_for_task`); binary ones
    include ``recall_at_top_<k>%`` with its ceiling on this set and ``recall_at_k_positives``, so the training
    history has ``val_recall_at_top_10%_ceiling`` beside ``val_recall_at_top_10%``.
    """

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
        # evaluation_batches' loader, with workers that leave Ctrl-C to this process (ignore_interrupts).
        loader = DataLoader(
            self.dataset.iterate(),
            batch_size=self.batch_size,
            num_workers=self.num_workers,
            generator=torch.Generator().manual_seed(0),
            worker_init_fn=ignore_interrupts,
        )
        iterator = iter(loader)
        try:
            for x, y, index in iterator:
                collected.append((x, y, torch.as_tensor(index)))
                yield x, y, index
        except BaseException:  # a Ctrl-C or an error: do not wait for the workers' batches
            stop_workers(iterator)
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
