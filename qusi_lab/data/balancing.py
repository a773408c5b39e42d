"""Class balance: sampling shares per class, loss weights, and a weighted sampler.

Three ways to counter class imbalance (use one, not several at once):

- sample classes in chosen proportions (``dataset.stream(balance=...)``: class-stratified
  sampling with replacement; ``"equal"`` is qusi's balanced sampling);
- weight the loss (``dataset.class_weights()``);
- a map-style ``WeightedRandomSampler`` (``dataset.sampler(balance=...)``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from qusi_lab.errors import LabelError

__all__ = [
    "BALANCE_OPTIONS",
    "WEIGHT_SCHEMES",
    "class_probabilities",
    "class_weights",
    "item_weights",
]

BALANCE_OPTIONS = "None (natural frequencies), 'equal', or a dict of shares per class such as {'positive': 0.3, 'negative': 0.7}"
WEIGHT_SCHEMES: tuple[str, ...] = ("inverse_frequency", "inverse_sqrt_frequency", "none")

Balance = None | str | Mapping[str, float]


def class_probabilities(
    balance: Balance, label_names: Sequence[str], class_counts: Sequence[int] | np.ndarray
) -> np.ndarray:
    """The probability of drawing each class (in ``label_names`` order) under ``balance``.

    ``None`` keeps the natural frequencies, ``"equal"`` gives every class the same
    share, a dict gives explicit shares (any positive numbers; they are normalised).
    Every class must be named, and a class with a positive share must have curves.

    Example
    -------
    >>> class_probabilities({"positive": 3, "negative": 7}, ["negative", "positive"], [900, 100]).tolist()
    [0.7, 0.3]
    >>> class_probabilities("equal", ["negative", "positive"], [900, 100]).tolist()
    [0.5, 0.5]
    """
    names = [str(name) for name in label_names]
    counts = np.asarray(class_counts, dtype=np.float64)
    if not names:
        raise LabelError(f"balance={balance!r} needs a classification task with labels")
    if balance is None:
        if counts.sum() <= 0:
            raise LabelError("no labelled light curves to sample from")
        return counts / counts.sum()
    if isinstance(balance, str):
        if balance != "equal":
            raise ValueError(f"unknown balance {balance!r}; use {BALANCE_OPTIONS}")
        shares = np.ones(len(names))
    elif isinstance(balance, Mapping):
        unknown = sorted(str(key) for key in balance if str(key) not in names)
        if unknown:
            raise LabelError(f"balance names unknown classes {unknown}; the classes are {names}")
        missing = [name for name in names if name not in {str(key) for key in balance}]
        if missing:
            raise LabelError(f"balance gives no share for classes {missing}; give one for each of {names}")
        by_name = {str(key): value for key, value in balance.items()}
        shares = np.empty(len(names))
        for position, name in enumerate(names):
            value = by_name[name]
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"balance share for {name!r} must be a positive number, got {value!r}")
            if not (math.isfinite(float(value)) and float(value) > 0):
                raise ValueError(f"balance share for {name!r} must be a positive number, got {value!r}")
            shares[position] = float(value)
    else:
        raise ValueError(f"unknown balance {balance!r}; use {BALANCE_OPTIONS}")
    empty = [name for name, count, share in zip(names, counts, shares, strict=True) if share > 0 and count == 0]
    if empty:
        raise LabelError(f"balance asks for classes {empty} but the dataset has no curves of them")
    return shares / shares.sum()


def class_weights(
    class_counts: Sequence[int] | np.ndarray, task: str | None, scheme: str = "inverse_frequency"
) -> torch.Tensor:
    """Loss weights from class counts.

    Binary: a one-element ``pos_weight`` tensor for ``BCEWithLogitsLoss``
    (``n_negative / n_positive`` for ``"inverse_frequency"``, its square root for
    ``"inverse_sqrt_frequency"``, 1 for ``"none"``). Multiclass: one weight per
    class for ``CrossEntropyLoss``, ``n / (n_classes * n_class)`` (or its square
    root), so a balanced dataset gets all ones.

    Example
    -------
    >>> class_weights([900, 100], "binary")
    tensor([9.])
    >>> class_weights([50, 25, 25], "multiclass")
    tensor([0.6667, 1.3333, 1.3333])
    """
    if scheme not in WEIGHT_SCHEMES:
        raise ValueError(f"unknown weighting scheme {scheme!r}; choose one of {WEIGHT_SCHEMES}")
    if task not in ("binary", "multiclass"):
        raise ValueError(f"class weights need a classification task with labels, not task={task!r}")
    counts = np.asarray(class_counts, dtype=np.float64)
    if (counts == 0).any():
        raise LabelError(f"cannot weight classes with no curves (class counts {counts.astype(int).tolist()})")
    if task == "binary":
        ratio = counts[0] / counts[1]
        weight = {"inverse_frequency": ratio, "inverse_sqrt_frequency": math.sqrt(ratio), "none": 1.0}[scheme]
        return torch.tensor([weight], dtype=torch.float32)
    weights = counts.sum() / (len(counts) * counts)
    if scheme == "inverse_sqrt_frequency":
        weights = np.sqrt(weights)
    elif scheme == "none":
        weights = np.ones_like(weights)
    return torch.tensor(weights, dtype=torch.float32)


def item_weights(class_indices: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per-curve sampling weights so a weighted sampler draws class c with ``probabilities[c]``.

    Example
    -------
    >>> item_weights(np.array([0, 0, 0, 1]), np.array([0.5, 0.5])).tolist()
    [0.16666666666666666, 0.16666666666666666, 0.16666666666666666, 0.5]
    """
    counts = np.bincount(class_indices, minlength=len(probabilities)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.where(counts > 0, probabilities / counts, 0.0)
    return per_class[class_indices]


def describe_balance(balance: Any) -> str:
    """Short text for reprs: ``natural``, ``equal`` or ``negative=0.7, positive=0.3``."""
    if balance is None:
        return "natural"
    if isinstance(balance, str):
        return balance
    return ", ".join(f"{key}={value:g}" for key, value in dict(balance).items())
