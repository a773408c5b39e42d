"""Optimizers and learning-rate schedules of the training loop, and the time budget's schedule.

Example
-------
>>> from qusi_lab.training.schedules import cosine_factor
>>> cosine_factor(0.0), round(cosine_factor(1.0), 3)
(1.0, 0.05)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import nn

__all__ = [
    "OPTIMIZERS",
    "SCHEDULERS",
    "PACE_STEPS",
    "make_optimizer",
    "make_scheduler",
    "cosine_factor",
    "time_budget_schedule",
]


OPTIMIZERS: tuple[str, ...] = ("adamw", "adam", "sgd")
SCHEDULERS: tuple[str, ...] = ("cosine", "constant")


def make_optimizer(
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


def cosine_factor(progress: float) -> float:
    """Cosine decay from the full rate (progress 0) to 5% of it (progress 1 and beyond)."""
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def make_scheduler(
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
        return cosine_factor((step - warmup_steps) / max(1, max_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


#: Steps timed before :func:`time_budget_schedule` projects when a run will end.
PACE_STEPS = 20


def time_budget_schedule(
    scheduler: str | None,
    optimizer: torch.optim.Optimizer,
    max_steps: int,
    warmup_steps: int,
    max_time: float | None,
    *,
    stacklevel: int = 3,
) -> Callable[[float, int], None] | None:
    """With a time budget, let the cosine decay follow whichever budget runs out first.

    A run stopped by ``max_time`` before ``max_steps`` would otherwise end at a high learning rate,
    never annealed (on a busy machine, or when ``max_steps`` is generous). From the end of warm-up,
    after each step this projects the end of the run from the mean time per step so far; once the
    projection passes ``max_time`` the rate follows the cosine at the elapsed fraction of
    ``max_time`` (or of ``max_steps``, whichever is further along) to the end of the run. A run
    projected to finish within its budget at every step keeps the step schedule exactly, so its
    result does not depend on the machine's speed. ``stacklevel`` is the warning's, counted from the
    returned function.
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
            if measured < PACE_STEPS:  # too few steps for a steady time per step
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
                stacklevel=stacklevel,
            )
        progress = max(min(1.0, elapsed / budget), (step - warmup_steps) / max(1, max_steps - warmup_steps))
        factor = cosine_factor(progress)
        for group, base in zip(optimizer.param_groups, bases, strict=True):
            group["lr"] = base * factor

    return apply
