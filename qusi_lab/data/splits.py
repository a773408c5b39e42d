"""Train/validation/test splits that keep every star in one split.

Several light curves of one star (TESS sectors, Kepler quarters) are nearly the
same example: put them in different splits and the validation score measures
memory, not generalisation. :func:`split_by_target` therefore splits *targets*
(groups of curves sharing a target id), stratified by class so each split gets
each class in about the requested fractions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["split_by_target", "check_fractions"]


def check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """Validate split fractions: at least two, each positive, summing to 1 (within 1e-6)."""
    values = np.asarray(list(fractions), dtype=np.float64)
    if values.ndim != 1 or values.size < 2:
        raise ValueError(f"give at least two split fractions, e.g. (0.8, 0.1, 0.1); got {fractions!r}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"split fractions must be positive numbers, got {fractions!r}")
    if abs(values.sum() - 1.0) > 1e-6:
        raise ValueError(f"split fractions must sum to 1, got {fractions!r} (sum {values.sum():g})")
    return values


def split_by_target(
    target_ids: Sequence[Any],
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    *,
    classes: Sequence[Any] | None = None,
    seed: int = 0,
) -> list[np.ndarray]:
    """Split curve indices so no target id appears in two splits.

    Parameters
    ----------
    target_ids:
        One target id per curve; curves with the same id stay together.
    fractions:
        Share of curves per split (positive, summing to 1).
    classes:
        Optional class per curve. Targets are then split class by class (a
        target's class is the most common class among its curves), so every split
        gets about ``fractions`` of each class.
    seed:
        Seed of the shuffle of targets; the same seed gives the same split.

    Returns
    -------
    list of numpy.ndarray
        Sorted curve indices, one array per split.

    Example
    -------
    >>> ids = ["TIC 1", "TIC 1", "TIC 2", "TIC 3", "TIC 4", "TIC 5"]
    >>> [part.tolist() for part in split_by_target(ids, (0.5, 0.5), seed=1)]
    [[2, 3, 5], [0, 1, 4]]
    """
    shares = check_fractions(fractions)
    ids = [str(value) for value in target_ids]
    if classes is not None and len(classes) != len(ids):
        raise ValueError(f"got {len(classes)} classes for {len(ids)} target ids")
    members: dict[str, list[int]] = {}
    for index, target in enumerate(ids):
        members.setdefault(target, []).append(index)

    strata: dict[str, list[str]] = {}
    for target, indices in members.items():
        if classes is None:
            stratum = ""
        else:
            names, counts = np.unique([str(classes[index]) for index in indices], return_counts=True)
            stratum = str(names[np.argmax(counts)])
        strata.setdefault(stratum, []).append(target)

    # Walk the targets class by class (shuffled within each class) and give each one to the split that is
    # furthest below its share of the curves walked so far. Counts then match the fractions to within one
    # target overall, and each class is spread over the splits in proportion (stratification), with no
    # rounding loss per class: a small class does not all land in the training split.
    rng = np.random.default_rng(seed)
    walk = [
        strata[stratum][position]
        for stratum in sorted(strata)
        for position in rng.permutation(len(strata[stratum]))
    ]
    parts: list[list[int]] = [[] for _ in shares]
    assigned = np.zeros(len(shares))
    done = 0
    for target in walk:
        group = members[target]
        done += len(group)
        part = int(np.argmax(shares * done - assigned))
        parts[part].extend(group)
        assigned[part] += len(group)
    return [np.array(sorted(part), dtype=np.int64) for part in parts]
