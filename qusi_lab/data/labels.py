"""Labels: which task a list of labels implies, and the class names and indices.

Rules (all overridable with ``task=``, ``label_names=`` and ``positive_class=``):

- no labels: an unlabelled (inference) dataset;
- strings, booleans, or integers with at most :data:`MAX_INTEGER_CLASSES` distinct
  values: classification, ``"binary"`` with two classes (or integers within {0, 1}),
  else ``"multiclass"``; ``label_names`` with fewer than two names is an error;
- floats (or integers with many distinct values): ``"regression"``.

Class order: the given ``label_names``, else sorted (numerically for integers).
For a binary task the *positive* class is index 1, the class whose score the
network outputs: ``positive_class`` when given, else the class named
``"positive"``, else the second class (``1``, ``True``, or the second name in order).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from qusi_lab.errors import LabelError

__all__ = ["TASKS", "MAX_INTEGER_CLASSES", "LabelInfo", "infer_task", "encode_labels", "positive_class_of"]

TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")
# Integers with more distinct values than this are taken as a regression target.
MAX_INTEGER_CLASSES = 20


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _is_float(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral)


def label_key(value: Any) -> str:
    """The class name a label value stands for: ``"positive"``, ``"1"`` (also for ``1.0``), ``"True"``."""
    if _is_bool(value):
        return str(bool(value))
    if _is_float(value) and math.isfinite(float(value)) and float(value).is_integer():
        return str(int(value))
    if _is_integer(value):
        return str(int(value))
    return str(value)


def positive_class_of(
    task: str | None, label_names: Sequence[Any], positive_class: Any | None = None, *, in_output_order: bool = True
) -> str | None:
    """The positive class: the one place qusi_lab decides it (datasets, saved models, inference).

    ``positive_class`` when given (as its class name). Otherwise, for a binary task, the class
    whose score the single output gives: with ``label_names`` in output order (a trained or saved
    model), the second; with names not yet ordered (a dataset being built), the class named
    ``"positive"`` if there is one, else the second. A binary model with no class names calls it
    ``"positive"``. Other tasks have none unless one is given.

    Example
    -------
    >>> positive_class_of("binary", ["quiet", "transit"]), positive_class_of("multiclass", ["a", "b", "c"])
    ('transit', None)
    >>> positive_class_of("binary", ["positive", "negative"], in_output_order=False)
    'positive'
    """
    if positive_class is not None:
        return label_key(positive_class)
    if task != "binary":
        return None
    names = [label_key(name) for name in label_names]
    if not names:
        return "positive"
    if not in_output_order and "positive" in names:
        return "positive"
    return names[1] if len(names) > 1 else names[0]


def infer_task(labels: Sequence[Any] | None, label_names: Sequence[Any] | None = None) -> str | None:
    """The task ``labels`` imply: ``"binary"``, ``"multiclass"``, ``"regression"``, or None (no labels).

    Example
    -------
    >>> infer_task(["positive", "negative", "positive"])
    'binary'
    >>> infer_task([0, 2, 1]), infer_task([0.3, 1.7]), infer_task(None)
    ('multiclass', 'regression', None)
    """
    if labels is None:
        return None
    values = list(labels)
    if label_names is not None:
        names = list(label_names)
        if len(names) < 2:
            # Caught here, not when a model with one output class fails to build.
            raise LabelError(f"label_names {names} names {len(names)} class(es): a classifier needs at least two")
        return "binary" if len(names) == 2 else "multiclass"
    if not values:
        raise LabelError("the label list is empty")
    if all(_is_bool(value) for value in values):
        return "binary"
    if all(_is_integer(value) for value in values):
        distinct = {int(value) for value in values}
        if distinct <= {0, 1}:
            return "binary"
        return "multiclass" if len(distinct) <= MAX_INTEGER_CLASSES else "regression"
    if all(_is_integer(value) or _is_float(value) for value in values):
        return "regression"
    if all(isinstance(value, str) for value in values):
        return "binary" if len(set(values)) <= 2 else "multiclass"
    kinds = sorted({type(value).__name__ for value in values})
    raise LabelError(f"labels mix kinds ({', '.join(kinds)}); give strings, integers or floats")


class LabelInfo:
    """The outcome of :func:`encode_labels`: task, class names and per-curve encoded labels.

    ``indices`` (int64, classification) or ``targets`` (float64, regression) hold
    one value per curve; ``names`` is the class name per curve (classification).
    """

    __slots__ = ("task", "label_names", "indices", "targets", "names")

    def __init__(
        self,
        task: str | None,
        label_names: tuple[str, ...],
        indices: np.ndarray | None,
        targets: np.ndarray | None,
        names: tuple[str, ...] | None,
    ) -> None:
        self.task = task
        self.label_names = label_names
        self.indices = indices
        self.targets = targets
        self.names = names


def _sorted_names(keys: set[str]) -> list[str]:
    if all(key.lstrip("-").isdigit() for key in keys):
        return sorted(keys, key=int)
    return sorted(keys)


def resolve_label_names(
    keys: set[str], label_names: Sequence[Any] | None, task: str, positive_class: Any | None
) -> tuple[str, ...]:
    """Class names in index order (see the module docstring for the rules)."""
    if label_names is not None:
        names = [label_key(name) for name in label_names]
    elif task == "binary" and keys and keys <= {"0", "1"}:
        names = ["0", "1"]  # all-0 or all-1 integer labels are still a two-class problem
    elif task == "binary" and keys and keys <= {"False", "True"}:
        names = ["False", "True"]
    else:
        names = _sorted_names(keys)
    if len(set(names)) != len(names):
        raise LabelError(f"label_names has duplicates: {names}")
    if task == "binary":
        if len(names) != 2:
            if label_names is None and len(names) == 1:
                raise LabelError(
                    f"every label is {names[0]!r}: a binary task needs two classes; pass "
                    f"label_names=(negative_name, positive_name) to name both"
                )
            raise LabelError(f"a binary task needs exactly 2 class names, got {names}")
        positive = positive_class_of(task, names, positive_class, in_output_order=False)
        if positive not in names:
            raise LabelError(f"positive_class {positive!r} is not one of the classes {names}")
        names = [name for name in names if name != positive] + [positive]
    elif positive_class is not None:
        raise LabelError(f"positive_class only applies to a binary task, not {task!r}")
    elif task == "multiclass" and label_names is not None and len(names) < 2:
        raise LabelError(f"label_names {names} names {len(names)} class(es): a classifier needs at least two")
    return tuple(names)


def encode_labels(
    labels: Sequence[Any] | None,
    *,
    sources: Sequence[Any],
    task: str | None = None,
    label_names: Sequence[Any] | None = None,
    positive_class: Any | None = None,
) -> LabelInfo:
    """Check ``labels`` and encode them for ``task`` (inferred when None).

    Unknown labels raise :class:`~qusi_lab.errors.LabelError` naming the file
    (``sources[i]``) and listing the known labels. Integer labels that are not
    class names index into ``label_names``.

    Example
    -------
    >>> info = encode_labels(["negative", "positive", "positive"], sources=["a", "b", "c"])
    >>> info.task, info.label_names, info.indices.tolist()
    ('binary', ('negative', 'positive'), [0, 1, 1])
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {TASKS} (or None to infer it)")
    if labels is None:
        names: tuple[str, ...] = ()
        if task in ("binary", "multiclass") and label_names is not None:
            names = resolve_label_names(set(), label_names, task, positive_class)
        return LabelInfo(task, names, None, None, None)
    values = list(labels)
    if len(values) != len(sources):
        raise LabelError(f"got {len(values)} labels for {len(sources)} light curves")
    if task is None:
        task = infer_task(values, label_names)
    assert task is not None
    if task == "regression":
        if label_names is not None or positive_class is not None:
            raise LabelError("label_names and positive_class apply to classification, not regression")
        targets = np.empty(len(values), dtype=np.float64)
        for position, value in enumerate(values):
            try:
                targets[position] = float(value)
            except (TypeError, ValueError):
                raise LabelError(
                    f"regression label {value!r} is not a number", sources[position]
                ) from None
            if not math.isfinite(targets[position]):
                raise LabelError(f"regression label {value!r} is not finite", sources[position])
        return LabelInfo(task, (), None, targets, None)

    keys = [label_key(value) for value in values]
    resolved = resolve_label_names(set(keys), label_names, task, positive_class)
    lookup = {name: index for index, name in enumerate(resolved)}
    # Integer labels index into user-given names: label_names=("negative", "positive"), labels 0/1.
    given_order = [label_key(name) for name in label_names] if label_names is not None else None
    indices = np.empty(len(values), dtype=np.int64)
    for position, (value, key) in enumerate(zip(values, keys, strict=True)):
        if key in lookup:
            indices[position] = lookup[key]
        elif given_order is not None and _is_integer(value) and 0 <= int(value) < len(given_order):
            indices[position] = lookup[given_order[int(value)]]
        else:
            raise LabelError(
                f"unknown label {value!r}; the known labels are {list(resolved)}", sources[position]
            )
    names_per_curve = tuple(resolved[index] for index in indices)
    return LabelInfo(task, resolved, indices, None, names_per_curve)
