"""Classification and regression metrics in plain numpy (no scikit-learn needed).

Binary metrics take ``scores`` (higher means more likely positive, e.g. sigmoid outputs) and
``labels`` (0/1 or booleans). The values match scikit-learn's ``roc_auc_score``,
``average_precision_score``, ``accuracy_score``, ``precision_score``/``recall_score``/``f1_score``
(with ``zero_division=0``) and ``confusion_matrix``, ties included.

Survey work adds one first-class metric, :func:`recall_at_top_fraction`: if you can only vet the
top 10% of the scored curves, what fraction of all the true positives will you see? It has a
ceiling below 1 whenever positives outnumber the places: with 20% of the curves positive, the top
10% can hold at most half of them, so a recall of 0.44 there is 88% of the best possible. Read it
against :func:`recall_at_top_fraction_ceiling` (``recall_at_top_10%_ceiling`` in
:func:`binary_metrics`), or use :func:`recall_at_k_positives` (R-precision: recall, and precision,
in the top ``k`` = number of positives), whose ceiling is always 1.

Undefined values are NaN, never an exception, so a validation set that happens to hold one class
does not stop a training run: AUCs and average precision need both classes (NaN otherwise),
:func:`recall_at_top_fraction` needs a positive, R² and Pearson need targets that vary.
Precision, recall and F1 with nothing predicted (or nothing to find) are 0, as in scikit-learn.

Example
-------
>>> scores = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
>>> labels = np.array([1, 0, 1, 0, 0])
>>> round(auc_roc(scores, labels), 4)
0.8333
>>> recall_at_top_fraction(scores, labels, fraction=0.2)  # top 1 of 5 curves holds 1 of 2 positives
0.5
>>> recall_at_top_fraction_ceiling(labels, fraction=0.2)  # ... and 1 place can hold at most 1 of 2
0.5
>>> recall_at_k_positives(scores, labels)                 # top 2 (= 2 positives) hold 1 of them
0.5
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from qusi_lab.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_FRACTION

__all__ = [
    "auc_roc",
    "auc_pr",
    "average_precision",
    "roc_curve",
    "precision_recall_curve",
    "accuracy",
    "precision",
    "recall",
    "f1_score",
    "confusion_matrix",
    "recall_at_top_fraction",
    "recall_at_top_fraction_ceiling",
    "recall_at_k_positives",
    "threshold_at_false_positive_rate",
    "recall_at_false_positive_rate",
    "binomial_interval",
    "top_fraction_name",
    "CEILING_SUFFIX",
    "binary_metrics",
    "multiclass_metrics",
    "regression_metrics",
    "metrics_for_task",
    "HIGHER_IS_BETTER",
    "LOWER_IS_BETTER",
]

# Which way is "better" for each metric name (used to pick the best checkpoint).
LOWER_IS_BETTER: frozenset[str] = frozenset({"loss", "mae", "rmse"})
HIGHER_IS_BETTER: frozenset[str] = frozenset(
    {"auc_roc", "auc_pr", "accuracy", "precision", "recall", "f1", "macro_f1", "r2", "pearson",
     "recall_at_k_positives"}
)

#: Appended to a metric's name for the best value it can take on the data (``recall_at_top_10%_ceiling``).
CEILING_SUFFIX = "_ceiling"


# ---------------------------------------------------------------- input checks
def _scores(scores: Any, name: str = "scores") -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 2 and 1 in array.shape:  # a (n, 1) column of single-logit scores
        array = array.reshape(-1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {np.shape(scores)}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contain {int((~np.isfinite(array)).sum())} non-finite values")
    return array


def _binary_labels(labels: Any, size: int) -> np.ndarray:
    array = np.asarray(labels)
    if array.dtype == bool:
        array = array.astype(np.int64)
    array = np.asarray(array, dtype=np.float64).reshape(-1)
    if array.size != size:
        raise ValueError(f"got {size} scores but {array.size} labels")
    if not np.isin(array, (0.0, 1.0)).all():
        bad = np.unique(array[~np.isin(array, (0.0, 1.0))])[:5].tolist()
        raise ValueError(f"binary labels must be 0/1 or booleans, found {bad}")
    return array.astype(np.int64)


def _binary_inputs(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    score_array = _scores(scores)
    return score_array, _binary_labels(labels, score_array.size)


# ---------------------------------------------------------------- ranking metrics
def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (as ``scipy.stats.rankdata``)."""
    unique, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average = ends - (counts - 1) / 2.0
    return average[inverse.reshape(-1)]


def auc_roc(scores: Any, labels: Any) -> float:
    """Area under the ROC curve: the probability that a random positive outscores a random negative.

    Ties count one half (the Mann-Whitney U statistic). NaN when ``labels`` hold one class only.

    Example
    -------
    >>> auc_roc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    >>> auc_roc([0.5, 0.5], [0, 1])   # a tie is worth one half
    0.5
    """
    score_array, label_array = _binary_inputs(scores, labels)
    positives = int(label_array.sum())
    negatives = label_array.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = _average_ranks(score_array)
    u_statistic = ranks[label_array == 1].sum() - positives * (positives + 1) / 2.0
    return float(u_statistic / (positives * negatives))


def _threshold_counts(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true positives, false positives, threshold) at each distinct score, highest threshold first."""
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores = scores[order]
    sorted_labels = labels[order]
    # The last position of each run of equal scores: predicting "positive" at that score takes the whole run.
    last_of_run = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    true_positives = np.cumsum(sorted_labels)[last_of_run]
    false_positives = (last_of_run + 1) - true_positives
    return true_positives.astype(np.float64), false_positives.astype(np.float64), sorted_scores[last_of_run]


def roc_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(false_positive_rate, true_positive_rate, thresholds)``, starting at (0, 0) with threshold ``inf``.

    A curve is called positive when its score is ``>= threshold``.

    Example
    -------
    >>> fpr, tpr, thresholds = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    score_array, label_array = _binary_inputs(scores, labels)
    true_positives, false_positives, thresholds = _threshold_counts(score_array, label_array)
    positives = true_positives[-1] if true_positives.size else 0.0
    negatives = false_positives[-1] if false_positives.size else 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = (
            np.r_[0.0, true_positives / positives] if positives else np.full(true_positives.size + 1, np.nan)
        )
        fpr = (
            np.r_[0.0, false_positives / negatives]
            if negatives
            else np.full(false_positives.size + 1, np.nan)
        )
    return fpr, tpr, np.r_[np.inf, thresholds]


def precision_recall_curve(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(precision, recall, thresholds)`` at each distinct score, highest threshold first.

    Unlike scikit-learn no (precision 1, recall 0) end point is appended; recall rises along the arrays.

    Example
    -------
    >>> precision, recall, thresholds = precision_recall_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> precision.tolist(), recall.tolist()
    ([1.0, 0.5, 0.6666666666666666, 0.5], [0.5, 0.5, 1.0, 1.0])
    """
    score_array, label_array = _binary_inputs(scores, labels)
    true_positives, false_positives, thresholds = _threshold_counts(score_array, label_array)
    positives = true_positives[-1] if true_positives.size else 0.0
    precision_values = true_positives / (true_positives + false_positives)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall_values = true_positives / positives if positives else np.full(true_positives.size, np.nan)
    return precision_values, recall_values, thresholds


def average_precision(scores: Any, labels: Any) -> float:
    """Average precision, the usual estimate of the area under the precision-recall curve.

    ``sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds (scikit-learn's
    ``average_precision_score``, no interpolation). NaN when there is no positive.

    Example
    -------
    >>> round(average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 4)
    0.8333
    """
    precision_values, recall_values, _ = precision_recall_curve(scores, labels)
    if recall_values.size == 0 or np.isnan(recall_values).any():
        return math.nan
    return float(np.sum(np.diff(np.r_[0.0, recall_values]) * precision_values))


auc_pr = average_precision


def top_fraction_name(fraction: float) -> str:
    """The metric name used for :func:`recall_at_top_fraction`: ``recall_at_top_10%`` for 0.1."""
    return f"recall_at_top_{fraction * 100:g}%"


def _top_count(size: int, fraction: float) -> int:
    """``k = ceil(fraction * n)`` (at least 1): the curves "vetted" in the top ``fraction``."""
    if not 0.0 < float(fraction) <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    # The small tolerance keeps 0.1 * 1000 from becoming 101 through float rounding.
    return min(size, max(1, math.ceil(float(fraction) * size - 1e-9)))


def _found_in_top(scores: np.ndarray, labels: np.ndarray, top: int) -> float:
    """Positives among the ``top`` highest scores, a tie at the cut counted in proportion to the places left."""
    cut = np.sort(scores)[::-1][top - 1]
    above = scores > cut
    tied = scores == cut
    places_left = top - int(above.sum())
    return float(labels[above].sum() + labels[tied].sum() * places_left / int(tied.sum()))


def recall_at_top_fraction(scores: Any, labels: Any, fraction: float = 0.1) -> float:
    """Of all true positives, the fraction found among the ``fraction`` highest-scored curves.

    The top ``k = ceil(fraction * n)`` curves are "vetted". When several curves share the score at
    the cut, they count in proportion to the places left (the expected recall if the tie were
    broken at random), so the result never depends on the input order. NaN when there is no positive.

    It cannot exceed ``min(1, k / n_positives)`` (:func:`recall_at_top_fraction_ceiling`): with more
    positives than places, even a perfect ranking leaves some out. Report the two together.

    Example
    -------
    >>> recall_at_top_fraction([0.9, 0.8, 0.7, 0.1], [1, 0, 1, 1], fraction=0.5)   # top 2 hold 1 of 3
    0.3333333333333333
    >>> recall_at_top_fraction([0.9, 0.5, 0.5, 0.1], [0, 1, 0, 0], fraction=0.5)   # half a tie
    0.5
    """
    score_array, label_array = _binary_inputs(scores, labels)
    top = _top_count(score_array.size, fraction)
    positives = int(label_array.sum())
    if positives == 0:
        return math.nan
    return _found_in_top(score_array, label_array, top) / positives


def recall_at_top_fraction_ceiling(labels: Any, fraction: float = 0.1) -> float:
    """The best :func:`recall_at_top_fraction` any ranking can reach: ``min(1, k / n_positives)``.

    ``k = ceil(fraction * n)`` curves fit in the top ``fraction``; with more positives than that,
    a perfect ranking still finds only ``k`` of them. It depends on the labels alone (how many
    curves, how many positive), not on the scores. NaN when there is no positive.

    Example
    -------
    >>> recall_at_top_fraction_ceiling([1] * 20 + [0] * 80, fraction=0.1)   # 10 places, 20 positives
    0.5
    >>> recall_at_top_fraction_ceiling([1] * 5 + [0] * 95, fraction=0.1)    # 10 places, 5 positives
    1.0
    """
    label_array = _binary_labels(labels, int(np.size(labels)))
    top = _top_count(label_array.size, fraction)
    positives = int(label_array.sum())
    if positives == 0:
        return math.nan
    return min(1.0, top / positives)


def recall_at_k_positives(scores: Any, labels: Any) -> float:
    """R-precision: the fraction of positives among the ``k`` best-scored curves, ``k`` = number of positives.

    With ``k`` equal to the number of positives, recall and precision in the top ``k`` are the same
    number, and a perfect ranking reaches 1 whatever the share of positives: a survey metric with no
    ceiling to remember. A tie at the cut counts as in :func:`recall_at_top_fraction`. NaN when there
    is no positive.

    Example
    -------
    >>> recall_at_k_positives([0.9, 0.8, 0.7, 0.6, 0.1], [1, 0, 1, 0, 1])   # top 3 hold 2 of 3 positives
    0.6666666666666666
    """
    score_array, label_array = _binary_inputs(scores, labels)
    positives = int(label_array.sum())
    if positives == 0:
        return math.nan
    return _found_in_top(score_array, label_array, positives) / positives


def threshold_at_false_positive_rate(scores: Any, labels: Any, rate: float = 0.01) -> float:
    """The lowest score cut whose false-positive rate is at most ``rate``: call "positive" every score >= it.

    A cut takes whole runs of tied scores (a tie cannot be split by a threshold), so the realised rate
    may be below ``rate``. ``inf`` when even the highest score lets through more negatives than allowed;
    NaN when there is no negative.

    Example
    -------
    >>> threshold_at_false_positive_rate([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 0, 0], rate=0.34)
    0.7
    """
    score_array, label_array = _binary_inputs(scores, labels)
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate!r}")
    negatives = label_array.size - int(label_array.sum())
    if negatives == 0:
        return math.nan
    _, false_positives, thresholds = _threshold_counts(score_array, label_array)
    # The tolerance keeps 0.01 * 300 from allowing only 2 through float rounding.
    within = false_positives <= math.floor(float(rate) * negatives + 1e-9)
    if not within.any():
        return math.inf
    return float(thresholds[np.flatnonzero(within)[-1]])


def recall_at_false_positive_rate(scores: Any, labels: Any, rate: float = 0.01) -> float:
    """Recall at the cut of :func:`threshold_at_false_positive_rate`: what a survey finds at a fixed false-alarm rate.

    Unlike :func:`recall_at_top_fraction` it has no ceiling from the share of positives, and it reads the
    same whatever that share is, which makes it the measure to compare detectors across skies. NaN when
    there is no positive or no negative.

    Example
    -------
    >>> recall_at_false_positive_rate([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 0, 0], rate=0.34)  # one negative allowed
    1.0
    >>> recall_at_false_positive_rate([0.9, 0.8, 0.7, 0.6, 0.5], [1, 0, 1, 0, 0], rate=0.0)
    0.5
    """
    score_array, label_array = _binary_inputs(scores, labels)
    positives = int(label_array.sum())
    threshold = threshold_at_false_positive_rate(score_array, label_array, rate)
    if positives == 0 or math.isnan(threshold):
        return math.nan
    return float(label_array[score_array >= threshold].sum() / positives)


def binomial_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact) confidence interval of a proportion ``successes / trials``.

    Conservative: it covers the true proportion at least ``confidence`` of the time. ``(nan, nan)``
    when ``trials`` is 0.

    Example
    -------
    >>> low, high = binomial_interval(19, 29)
    >>> round(low, 3), round(high, 3)
    (0.457, 0.821)
    >>> binomial_interval(10, 10)[1]
    1.0
    """
    from scipy.stats import beta

    successes, trials = int(successes), int(trials)
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return math.nan, math.nan
    tail = (1.0 - float(confidence)) / 2.0
    low = 0.0 if successes == 0 else float(beta.ppf(tail, successes, trials - successes + 1))
    high = 1.0 if successes == trials else float(beta.ppf(1.0 - tail, successes + 1, trials - successes))
    return low, high


# ---------------------------------------------------------------- threshold metrics
def confusion_matrix(predicted: Any, labels: Any, n_classes: int | None = None) -> np.ndarray:
    """Counts ``matrix[true class, predicted class]`` (rows: truth, as scikit-learn).

    Example
    -------
    >>> confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0]).tolist()
    [[2, 1], [0, 1]]
    """
    predicted_array = np.asarray(predicted, dtype=np.int64).reshape(-1)
    label_array = np.asarray(labels, dtype=np.int64).reshape(-1)
    if predicted_array.size != label_array.size:
        raise ValueError(f"got {predicted_array.size} predictions but {label_array.size} labels")
    if predicted_array.size and min(predicted_array.min(), label_array.min()) < 0:
        raise ValueError("class indices must be non-negative")
    largest = int(max(predicted_array.max(initial=-1), label_array.max(initial=-1))) + 1
    classes = largest if n_classes is None else int(n_classes)
    if classes < largest:
        raise ValueError(f"n_classes={classes} but class index {largest - 1} occurs")
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (label_array, predicted_array), 1)
    return matrix


def _binary_counts(scores: Any, labels: Any, threshold: float) -> tuple[int, int, int, int]:
    score_array, label_array = _binary_inputs(scores, labels)
    predicted = score_array >= threshold
    truth = label_array == 1
    return (
        int((predicted & truth).sum()),
        int((predicted & ~truth).sum()),
        int((~predicted & ~truth).sum()),
        int((~predicted & truth).sum()),
    )


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def accuracy(scores: Any, labels: Any, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Fraction of curves on the right side of ``threshold`` (``score >= threshold`` means positive).

    Example
    -------
    >>> accuracy([0.9, 0.2, 0.6], [1, 0, 0])
    0.6666666666666666
    """
    tp, fp, tn, fn = _binary_counts(scores, labels, threshold)
    return _ratio(tp + tn, tp + fp + tn + fn) if tp + fp + tn + fn else math.nan


def precision(scores: Any, labels: Any, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Of the curves scored ``>= threshold``, the fraction that are positive (0 if none is)."""
    tp, fp, _, _ = _binary_counts(scores, labels, threshold)
    return _ratio(tp, tp + fp)


def recall(scores: Any, labels: Any, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Of the positives, the fraction scored ``>= threshold`` (0 if there is no positive)."""
    tp, _, _, fn = _binary_counts(scores, labels, threshold)
    return _ratio(tp, tp + fn)


def f1_score(scores: Any, labels: Any, threshold: float = DEFAULT_THRESHOLD) -> float:
    """Harmonic mean of :func:`precision` and :func:`recall` at ``threshold`` (0 when both are 0).

    Example
    -------
    >>> f1_score([0.9, 0.2, 0.6, 0.7], [1, 0, 0, 1])
    0.8
    """
    tp, fp, _, fn = _binary_counts(scores, labels, threshold)
    return _ratio(2 * tp, 2 * tp + fp + fn)


# ---------------------------------------------------------------- metric sets per task
def binary_metrics(
    scores: Any, labels: Any, threshold: float = DEFAULT_THRESHOLD, top_fraction: float = DEFAULT_TOP_FRACTION
) -> dict[str, float]:
    """Every binary metric at once: ``auc_roc``, ``auc_pr``, ``accuracy``, ``precision``, ``recall``,
    ``f1`` (at ``threshold``), ``recall_at_top_<k>%`` (:func:`recall_at_top_fraction`) with its ceiling
    ``recall_at_top_<k>%_ceiling`` (:func:`recall_at_top_fraction_ceiling`, the best value any ranking
    reaches on these labels) and ``recall_at_k_positives`` (:func:`recall_at_k_positives`).

    Example
    -------
    >>> metrics = binary_metrics([0.9, 0.8, 0.3, 0.2], [1, 0, 1, 0])
    >>> sorted(metrics)  # doctest: +NORMALIZE_WHITESPACE
    ['accuracy', 'auc_pr', 'auc_roc', 'f1', 'precision', 'recall', 'recall_at_k_positives', 'recall_at_top_10%',
     'recall_at_top_10%_ceiling']
    >>> metrics["auc_roc"], metrics["recall_at_top_10%"], metrics["recall_at_top_10%_ceiling"]
    (0.75, 0.5, 0.5)
    """
    score_array, label_array = _binary_inputs(scores, labels)
    tp, fp, tn, fn = _binary_counts(score_array, label_array, threshold)
    return {
        "auc_roc": auc_roc(score_array, label_array),
        "auc_pr": average_precision(score_array, label_array),
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn) if score_array.size else math.nan,
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        top_fraction_name(top_fraction): recall_at_top_fraction(score_array, label_array, top_fraction),
        top_fraction_name(top_fraction) + CEILING_SUFFIX: recall_at_top_fraction_ceiling(label_array, top_fraction),
        "recall_at_k_positives": recall_at_k_positives(score_array, label_array),
    }


def _class_names(label_names: Sequence[str] | None, count: int) -> list[str]:
    if label_names is None:
        return [str(index) for index in range(count)]
    names = [str(name) for name in label_names]
    if len(names) != count:
        raise ValueError(f"{len(names)} label names for {count} classes")
    return names


def multiclass_metrics(
    scores: Any, labels: Any, label_names: Sequence[str] | None = None
) -> dict[str, float]:
    """Metrics for ``scores`` of shape ``(n, n_classes)`` (probabilities) and class indices ``labels``.

    ``accuracy``, ``macro_f1``, ``auc_roc`` (one-vs-rest, macro average over the classes where it is
    defined, as scikit-learn's ``roc_auc_score(multi_class="ovr")``), and per class
    ``precision_<name>``, ``recall_<name>``, ``f1_<name>``, ``auc_roc_<name>``. The predicted class
    is the highest score.

    Example
    -------
    >>> scores = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4], [0.5, 0.4, 0.1]])
    >>> metrics = multiclass_metrics(scores, [0, 1, 2, 1], ["a", "b", "c"])
    >>> metrics["accuracy"], round(metrics["macro_f1"], 4), metrics["recall_b"]
    (0.75, 0.7778, 0.5)
    """
    score_array = np.asarray(scores, dtype=np.float64)
    if score_array.ndim != 2:
        raise ValueError(f"multiclass scores must have shape (n, n_classes), got {score_array.shape}")
    if not np.isfinite(score_array).all():
        raise ValueError("scores contain non-finite values")
    count = score_array.shape[1]
    label_array = np.asarray(labels, dtype=np.int64).reshape(-1)
    if label_array.size != score_array.shape[0]:
        raise ValueError(f"got {score_array.shape[0]} score rows but {label_array.size} labels")
    if label_array.size and (label_array.min() < 0 or label_array.max() >= count):
        raise ValueError(f"labels must be class indices 0..{count - 1}")
    names = _class_names(label_names, count)
    predicted = score_array.argmax(axis=1)
    matrix = confusion_matrix(predicted, label_array, count)
    metrics: dict[str, float] = {
        "accuracy": float(np.trace(matrix) / label_array.size) if label_array.size else math.nan,
    }
    f1_values, aucs = [], []
    for klass, name in enumerate(names):
        tp = matrix[klass, klass]
        fp = matrix[:, klass].sum() - tp
        fn = matrix[klass, :].sum() - tp
        metrics[f"precision_{name}"] = _ratio(tp, tp + fp)
        metrics[f"recall_{name}"] = _ratio(tp, tp + fn)
        metrics[f"f1_{name}"] = _ratio(2 * tp, 2 * tp + fp + fn)
        f1_values.append(metrics[f"f1_{name}"])
        metrics[f"auc_roc_{name}"] = auc_roc(score_array[:, klass], label_array == klass)
        aucs.append(metrics[f"auc_roc_{name}"])
    metrics["macro_f1"] = float(np.mean(f1_values))
    defined = [value for value in aucs if not math.isnan(value)]
    metrics["auc_roc"] = float(np.mean(defined)) if defined else math.nan
    return metrics


def regression_metrics(predictions: Any, targets: Any) -> dict[str, float]:
    """``mae``, ``rmse``, ``r2`` (coefficient of determination) and ``pearson`` correlation.

    ``r2`` and ``pearson`` are NaN when the targets (or, for ``pearson``, the predictions) are constant.

    Example
    -------
    >>> metrics = regression_metrics([1.0, 2.0, 3.5], [1.0, 2.0, 3.0])
    >>> round(metrics["mae"], 4), round(metrics["r2"], 4)
    (0.1667, 0.875)
    """
    prediction_array = _scores(predictions, "predictions")
    target_array = _scores(targets, "targets")
    if prediction_array.size != target_array.size:
        raise ValueError(f"got {prediction_array.size} predictions but {target_array.size} targets")
    if prediction_array.size == 0:
        return {"mae": math.nan, "rmse": math.nan, "r2": math.nan, "pearson": math.nan}
    errors = prediction_array - target_array
    total = float(np.sum((target_array - target_array.mean()) ** 2))
    prediction_spread = float(np.sum((prediction_array - prediction_array.mean()) ** 2))
    pearson = math.nan
    if total > 0 and prediction_spread > 0:
        covariance = float(
            np.sum((prediction_array - prediction_array.mean()) * (target_array - target_array.mean()))
        )
        pearson = covariance / math.sqrt(total * prediction_spread)
    return {
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(math.sqrt(np.mean(errors**2))),
        "r2": 1.0 - float(np.sum(errors**2)) / total if total > 0 else math.nan,
        "pearson": pearson,
    }


def metrics_for_task(
    task: str,
    scores: Any,
    labels: Any,
    *,
    label_names: Sequence[str] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
    top_fraction: float = DEFAULT_TOP_FRACTION,
) -> dict[str, float]:
    """:func:`binary_metrics`, :func:`multiclass_metrics` or :func:`regression_metrics` by ``task``."""
    if task == "binary":
        return binary_metrics(scores, labels, threshold=threshold, top_fraction=top_fraction)
    if task == "multiclass":
        return multiclass_metrics(scores, labels, label_names)
    if task == "regression":
        return regression_metrics(scores, labels)
    raise ValueError(f"unknown task {task!r}; use 'binary', 'multiclass' or 'regression'")
