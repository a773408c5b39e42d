"""Metrics in qusi_lab.training.metrics against scikit-learn (test-only dependency) and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from qusi_lab.training import metrics as qm


def random_binary(seed: int, size: int = 500, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(size) < 0.3
    scores = rng.normal(0.0, 1.0, size) + labels * 0.8
    if ties:
        scores = np.round(scores, 1)  # many equal scores, across both classes
    return scores, labels.astype(int)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranking_metrics_match_scikit_learn(seed: int, ties: bool) -> None:
    scores, labels = random_binary(seed, ties=ties)
    if ties:
        assert len(np.unique(scores)) < len(scores) / 4
    assert qm.auc_roc(scores, labels) == pytest.approx(skm.roc_auc_score(labels, scores), abs=1e-12)
    assert qm.auc_pr(scores, labels) == pytest.approx(skm.average_precision_score(labels, scores), abs=1e-12)
    fpr, tpr, thresholds = qm.roc_curve(scores, labels)
    sk_fpr, sk_tpr, sk_thresholds = skm.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds[1:], sk_thresholds[1:])
    precision, recall, pr_thresholds = qm.precision_recall_curve(scores, labels)
    sk_precision, sk_recall, sk_pr_thresholds = skm.precision_recall_curve(labels, scores)
    # scikit-learn lists thresholds in increasing order and appends the (1, 0) end point.
    np.testing.assert_allclose(precision, sk_precision[:-1][::-1])
    np.testing.assert_allclose(recall, sk_recall[:-1][::-1])
    np.testing.assert_allclose(pr_thresholds, sk_pr_thresholds[::-1])


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5])
def test_threshold_metrics_match_scikit_learn(threshold: float) -> None:
    scores, labels = random_binary(3, ties=True)
    predicted = (scores >= threshold).astype(int)
    assert qm.accuracy(scores, labels, threshold) == pytest.approx(skm.accuracy_score(labels, predicted))
    assert qm.precision(scores, labels, threshold) == pytest.approx(skm.precision_score(labels, predicted))
    assert qm.recall(scores, labels, threshold) == pytest.approx(skm.recall_score(labels, predicted))
    assert qm.f1_score(scores, labels, threshold) == pytest.approx(skm.f1_score(labels, predicted))
    np.testing.assert_array_equal(
        qm.confusion_matrix(predicted, labels), skm.confusion_matrix(labels, predicted)
    )
    metrics = qm.binary_metrics(scores, labels, threshold=threshold, top_fraction=0.05)
    assert metrics["f1"] == pytest.approx(skm.f1_score(labels, predicted))
    assert metrics["auc_roc"] == pytest.approx(skm.roc_auc_score(labels, scores))
    assert "recall_at_top_5%" in metrics


def test_precision_is_zero_when_nothing_is_predicted_positive() -> None:
    scores, labels = np.array([0.1, 0.2, 0.3]), np.array([0, 1, 1])
    assert (
        qm.precision(scores, labels, 0.9)
        == skm.precision_score(labels, scores >= 0.9, zero_division=0)
        == 0.0
    )
    assert qm.f1_score(scores, labels, 0.9) == 0.0


def test_recall_at_top_fraction_hand_checked() -> None:
    # 10 curves, 4 positives. Sorted by score: 0.95(P) 0.9(N) 0.8(P) 0.7(N) 0.6(N) 0.5(P) 0.4(N) 0.3(N) 0.2(P) 0.1(N)
    scores = np.array([0.1, 0.95, 0.2, 0.3, 0.8, 0.4, 0.5, 0.6, 0.7, 0.9])
    labels = np.array([0, 1, 1, 0, 1, 0, 1, 0, 0, 0])
    assert qm.recall_at_top_fraction(scores, labels, 0.1) == 0.25  # top 1: one of four positives
    assert qm.recall_at_top_fraction(scores, labels, 0.3) == 0.5  # top 3: 0.95, 0.9, 0.8 -> two positives
    assert qm.recall_at_top_fraction(scores, labels, 0.6) == 0.75  # top 6 adds 0.5(P)
    assert qm.recall_at_top_fraction(scores, labels, 1.0) == 1.0
    # ceil: 25% of 10 curves is 2.5 -> the top 3
    assert qm.recall_at_top_fraction(scores, labels, 0.25) == 0.5
    # no float surprise: 10% of 1000 is exactly 100 curves
    many_scores = np.arange(1000.0)
    many_labels = (many_scores >= 899).astype(int)  # 101 positives, the top 101 scores
    assert qm.recall_at_top_fraction(many_scores, many_labels, 0.1) == pytest.approx(100 / 101)


def test_recall_at_top_fraction_splits_ties_at_the_cut() -> None:
    # Top 2 of 4: the 0.9 curve, then one place for three curves tied at 0.5 (one of them positive).
    scores = np.array([0.9, 0.5, 0.5, 0.5])
    labels = np.array([0, 1, 0, 0])
    assert qm.recall_at_top_fraction(scores, labels, 0.5) == pytest.approx(1 / 3)
    # Order of the input does not matter.
    assert qm.recall_at_top_fraction(scores[::-1], labels[::-1], 0.5) == pytest.approx(1 / 3)


def test_recall_at_top_fraction_matches_brute_force_on_random_data() -> None:
    scores, labels = random_binary(5, size=200)  # no ties: plain top-k counting
    order = np.argsort(-scores)
    for fraction in (0.01, 0.1, 0.37, 1.0):
        k = math.ceil(fraction * len(scores))
        expected = labels[order[:k]].sum() / labels.sum()
        assert qm.recall_at_top_fraction(scores, labels, fraction) == pytest.approx(expected)


def test_one_class_only_gives_nan_for_ranking_metrics() -> None:
    scores = np.array([0.2, 0.4, 0.9])
    assert math.isnan(qm.auc_roc(scores, [1, 1, 1]))
    assert math.isnan(qm.auc_roc(scores, [0, 0, 0]))
    assert math.isnan(qm.auc_pr(scores, [0, 0, 0]))
    assert math.isnan(qm.recall_at_top_fraction(scores, [0, 0, 0]))
    assert qm.auc_pr(scores, [1, 1, 1]) == pytest.approx(1.0)  # all positive: precision 1 everywhere
    metrics = qm.binary_metrics(scores, [0, 0, 0])
    assert math.isnan(metrics["auc_roc"]) and metrics["accuracy"] == pytest.approx(2 / 3)


def test_bad_inputs_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="0/1"):
        qm.auc_roc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="2 scores but 3 labels"):
        qm.auc_roc([0.1, 0.2], [0, 1, 1])
    with pytest.raises(ValueError, match="non-finite"):
        qm.auc_roc([np.nan, 0.2], [0, 1])
    with pytest.raises(ValueError, match="fraction"):
        qm.recall_at_top_fraction([0.1, 0.2], [0, 1], fraction=0.0)


def test_multiclass_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 3, 300)
    logits = rng.normal(0, 1, (300, 3))
    logits[np.arange(300), labels] += 1.0
    scores = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    metrics = qm.multiclass_metrics(scores, labels, ["a", "b", "c"])
    predicted = scores.argmax(axis=1)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert metrics["macro_f1"] == pytest.approx(skm.f1_score(labels, predicted, average="macro"))
    assert metrics["auc_roc"] == pytest.approx(skm.roc_auc_score(labels, scores, multi_class="ovr"))
    per_class_precision = skm.precision_score(labels, predicted, average=None)
    per_class_recall = skm.recall_score(labels, predicted, average=None)
    for klass, name in enumerate("abc"):
        assert metrics[f"precision_{name}"] == pytest.approx(per_class_precision[klass])
        assert metrics[f"recall_{name}"] == pytest.approx(per_class_recall[klass])
    np.testing.assert_array_equal(
        qm.confusion_matrix(predicted, labels, 3), skm.confusion_matrix(labels, predicted)
    )


def test_regression_metrics_match_scikit_learn_and_numpy() -> None:
    rng = np.random.default_rng(11)
    targets = rng.normal(5.0, 2.0, 400)
    predictions = targets + rng.normal(0.0, 0.7, 400)
    metrics = qm.regression_metrics(predictions, targets)
    assert metrics["mae"] == pytest.approx(skm.mean_absolute_error(targets, predictions))
    assert metrics["rmse"] == pytest.approx(math.sqrt(skm.mean_squared_error(targets, predictions)))
    assert metrics["r2"] == pytest.approx(skm.r2_score(targets, predictions))
    assert metrics["pearson"] == pytest.approx(np.corrcoef(predictions, targets)[0, 1])
    constant = qm.regression_metrics(predictions[:5], np.full(5, 3.0))
    assert math.isnan(constant["r2"]) and math.isnan(constant["pearson"])
