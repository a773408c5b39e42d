"""What the logits mean for each task: output size, loss and scores.

====================  ==============  ======================  ==========================
task                  ``n_outputs``   loss                    scores
====================  ==============  ======================  ==========================
``"binary"``          1               ``BCEWithLogitsLoss``   ``sigmoid`` -> (batch,)
``"multiclass"``      n_classes       ``CrossEntropyLoss``    ``softmax`` -> (batch, k)
``"regression"``      n_targets (1)   ``MSELoss``/Huber       identity -> (batch,) if 1
====================  ==============  ======================  ==========================

The networks never apply a sigmoid/softmax themselves (qusi's end modules do): the losses above
take raw logits, which is numerically safer, and :func:`scores_from_logits` converts for reporting.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["TASKS", "outputs_for_task", "scores_from_logits", "loss_for_task", "TaskLoss", "make_head"]

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")


def _check_task(task: str) -> str:
    key = task.lower()
    if key not in TASKS:
        raise ValueError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    return key


def outputs_for_task(task: str, n_classes: int | None = None, *, n_targets: int = 1) -> int:
    """Number of logits the network needs for ``task``.

    Example
    -------
    >>> outputs_for_task("binary"), outputs_for_task("multiclass", 5), outputs_for_task("regression")
    (1, 5, 1)
    """
    key = _check_task(task)
    if key == "binary":
        if n_classes not in (None, 1, 2):
            raise ValueError(f"a binary task has 2 classes (one logit), got n_classes={n_classes}")
        return 1
    if key == "multiclass":
        if n_classes is None or n_classes < 2:
            raise ValueError(f"a multiclass task needs n_classes >= 2, got {n_classes}")
        return int(n_classes)
    if n_targets < 1:
        raise ValueError(f"n_targets must be at least 1, got {n_targets}")
    return int(n_targets)


def make_head(task: str, in_features: int, n_classes: int | None = None, *, n_targets: int = 1) -> nn.Linear:
    """A fresh output layer of the right size for ``task`` (to replace a model's ``output_layer``).

    Example
    -------
    >>> make_head("multiclass", 20, n_classes=3)
    Linear(in_features=20, out_features=3, bias=True)
    """
    return nn.Linear(in_features, outputs_for_task(task, n_classes, n_targets=n_targets))


def scores_from_logits(logits: Tensor, task: str) -> Tensor:
    """Probabilities (classification) or values (regression) from raw logits.

    Binary: ``sigmoid``, shape ``(batch,)`` for a single logit (``(batch, k)`` for k independent
    labels). Multiclass: ``softmax`` over the last axis. Regression: the logits, squeezed to
    ``(batch,)`` for one target.

    Example
    -------
    >>> scores_from_logits(torch.tensor([[0.0], [100.0]]), "binary").tolist()
    [0.5, 1.0]
    >>> scores_from_logits(torch.zeros(1, 4), "multiclass").tolist()
    [[0.25, 0.25, 0.25, 0.25]]
    """
    key = _check_task(task)
    if key == "multiclass":
        return torch.softmax(logits, dim=-1)
    if logits.dim() == 2 and logits.shape[-1] == 1:
        logits = logits.squeeze(-1)
    if key == "binary":
        return torch.sigmoid(logits)
    return logits


class TaskLoss(nn.Module):
    """The loss for a task, taking logits ``(batch, n_outputs)`` and the dataset's targets.

    Binary targets may be ``(batch,)`` floats/ints (0/1) - they are reshaped to the logits. Multiclass
    targets are class indices ``(batch,)``. Regression targets ``(batch,)`` or ``(batch, n_targets)``.

    Example
    -------
    >>> loss = TaskLoss("binary")
    >>> round(float(loss(torch.zeros(4, 1), torch.tensor([0, 1, 0, 1]))), 4)
    0.6931
    """

    def __init__(
        self,
        task: str,
        *,
        class_weights: Sequence[float] | Tensor | None = None,
        regression_loss: str = "mse",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.task = _check_task(task)
        weights = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.loss: nn.Module
        if self.task == "binary":
            # class_weights (w_negative, w_positive) -> pos_weight = w_positive / w_negative.
            pos_weight = None
            if weights is not None:
                if weights.numel() != 2:
                    raise ValueError("binary class_weights must be (weight_negative, weight_positive)")
                pos_weight = (weights[1] / weights[0]).reshape(1)
            self.loss = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        elif self.task == "multiclass":
            self.loss = nn.CrossEntropyLoss(weight=weights, label_smoothing=label_smoothing)
        elif regression_loss == "mse":
            self.loss = nn.MSELoss()
        elif regression_loss == "huber":
            self.loss = nn.HuberLoss()
        else:
            raise ValueError(f"unknown regression_loss {regression_loss!r}; use 'mse' or 'huber'")

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        if self.task == "multiclass":
            return self.loss(logits, targets.long())
        return self.loss(logits, targets.to(logits.dtype).reshape(logits.shape))


def loss_for_task(task: str, **kwargs: object) -> TaskLoss:
    """:class:`TaskLoss` for ``task`` (``class_weights=``, ``regression_loss=``, ``label_smoothing=``)."""
    return TaskLoss(task, **kwargs)  # type: ignore[arg-type]
