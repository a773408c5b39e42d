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


# ---------------------------------------------------------------- the ceiling of recall in the top fraction
def perfect_ranking(positives: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Positives first, each scored above every negative."""
    labels = np.r_[np.ones(positives, dtype=int), np.zeros(size - positives, dtype=int)]
    return np.linspace(1.0, 0.0, size), labels


def test_recall_in_the_top_10_percent_is_capped_at_half_when_a_fifth_is_positive() -> None:
    # Issue 14: 100 curves, 20 positive, top 10% = 10 places: even a perfect ranking finds 10 of 20.
    scores, labels = perfect_ranking(20, 100)
    assert qm.recall_at_top_fraction(scores, labels, 0.1) == 0.5
    assert qm.recall_at_top_fraction_ceiling(labels, 0.1) == 0.5
    assert qm.recall_at_k_positives(scores, labels) == 1.0  # top 20 hold all 20: no ceiling to remember
    metrics = qm.binary_metrics(scores, labels)
    assert metrics["recall_at_top_10%"] == metrics["recall_at_top_10%_ceiling"] == 0.5
    assert metrics["recall_at_k_positives"] == 1.0


def test_ceiling_is_one_when_the_places_outnumber_the_positives() -> None:
    labels = np.r_[np.ones(5, dtype=int), np.zeros(95, dtype=int)]
    assert qm.recall_at_top_fraction_ceiling(labels, 0.1) == 1.0  # 10 places, 5 positives
    assert qm.recall_at_top_fraction_ceiling(labels, 0.05) == 1.0  # 5 places, 5 positives
    assert qm.recall_at_top_fraction_ceiling(labels, 0.03) == 0.6  # 3 places, 5 positives
    assert qm.recall_at_top_fraction_ceiling(np.ones(7, dtype=int), 0.5) == 4 / 7  # ceil(3.5) = 4 places
    assert qm.recall_at_top_fraction_ceiling([True, False, False], 1.0) == 1.0


def test_the_ceiling_bounds_recall_for_any_ranking() -> None:
    for seed in range(5):
        scores, labels = random_binary(seed, size=203, ties=seed % 2 == 1)
        for fraction in (0.01, 0.1, 0.25):
            assert qm.recall_at_top_fraction(scores, labels, fraction) <= qm.recall_at_top_fraction_ceiling(
                labels, fraction) + 1e-12


def test_recall_at_k_positives_hand_checked_and_equals_precision_at_k() -> None:
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 0, 1, 0, 0, 1])
    assert qm.recall_at_k_positives(scores, labels) == pytest.approx(2 / 3)  # top 3: 0.9(P) 0.8 0.7(P)
    _, _, thresholds = qm.precision_recall_curve(scores, labels)
    precision_at_3 = qm.precision(scores, labels, threshold=0.7)
    assert precision_at_3 == pytest.approx(2 / 3) and 0.7 in thresholds
    # A tie across the cut counts in proportion to the places left: top 2 of [P 0.9, P 0.5, N 0.5, N 0.1].
    assert qm.recall_at_k_positives([0.9, 0.5, 0.5, 0.1], [1, 1, 0, 0]) == 0.75
    assert qm.recall_at_k_positives([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0]) == 0.75  # order does not matter
    # Matches a brute-force count without ties.
    for seed in range(3):
        scores, labels = random_binary(seed)
        k = int(labels.sum())
        assert qm.recall_at_k_positives(scores, labels) == pytest.approx(labels[np.argsort(-scores)[:k]].sum() / k)


def test_ceiling_and_r_precision_are_nan_without_positives_and_check_the_fraction() -> None:
    assert math.isnan(qm.recall_at_top_fraction_ceiling([0, 0, 0]))
    assert math.isnan(qm.recall_at_k_positives([0.1, 0.2, 0.3], [0, 0, 0]))
    with pytest.raises(ValueError, match="fraction must be in"):
        qm.recall_at_top_fraction_ceiling([0, 1], fraction=1.5)
    with pytest.raises(ValueError, match="binary labels"):
        qm.recall_at_top_fraction_ceiling([0, 2])


def evaluation_of(scores, labels, top_fraction=0.1):
    import pandas as pd

    from qusi_lab.training.evaluate import EvaluationResult

    names = np.where(np.asarray(labels) == 1, "positive", "negative")
    frame = pd.DataFrame({"index": np.arange(len(scores)), "path": [f"c{i}.fits" for i in range(len(scores))],
                          "target_id": "", "label": names, "score": scores})
    return EvaluationResult(
        metrics=qm.binary_metrics(scores, labels, top_fraction=top_fraction), scores=frame, confusion_matrix=None,
        problems=pd.DataFrame(columns=["path", "error", "stage"]), task="binary",
        label_names=("negative", "positive"), top_fraction=top_fraction, positive_class="positive")


def test_evaluation_result_shows_recall_next_to_its_ceiling() -> None:
    # 100 curves, 20 positive; the top 10 hold 8 of them (two negatives scored above two positives).
    scores = np.linspace(1.0, 0.0, 100)
    labels = np.zeros(100, dtype=int)
    labels[[0, 1, 2, 3, 4, 5, 6, 7, 10, 11, *range(12, 22)]] = 1
    result = evaluation_of(scores, labels)
    assert result.metrics["recall_at_top_10%"] == 0.4 and result.metrics["recall_at_top_10%_ceiling"] == 0.5
    assert result.metrics["recall_at_k_positives"] == 0.9  # top 20 hold 18 of the 20
    text = repr(result)
    assert "recall_at_top_10%      0.4000  (ceiling 0.5000: 10 places in the top 10% for 20 positives)" in text
    assert "recall_at_k_positives  0.9000  (recall = precision in the top 20, the number of positives)" in text
    assert "recall_at_top_10%_ceiling" not in text  # shown beside the recall, not as a metric of its own
    frame = result.to_frame()
    assert frame.loc["recall_at_top_10%", "value"] == 0.4 and frame.loc["recall_at_top_10%", "ceiling"] == 0.5
    assert "recall_at_top_10%_ceiling" not in frame.index and math.isnan(frame.loc["auc_roc", "ceiling"])
    page = result._repr_html_()
    assert "<th>ceiling</th>" in page and "0.5000" in page and "10 places in the top 10% for 20 positives" in page


def test_demo_summary_sentence_reads_the_recall_against_its_ceiling() -> None:
    from qusi_lab.demo import _recall_ceiling_text

    scores = np.linspace(1.0, 0.0, 100)
    labels = np.r_[np.ones(20, dtype=int), np.zeros(80, dtype=int)]
    labels[[9, 25]] = labels[[25, 9]]  # one negative in the top 10: 9 of the 20 positives found
    text = _recall_ceiling_text(evaluation_of(scores, labels))
    assert text.startswith("Recall in the top 10%: 0.45 of a possible 0.50 (the top 10% holds fewer places than "
                           "there are positives), 90% of the best any ranking could do")
    assert text.endswith("recall at k = number of positives (= precision there): 0.95.")


# ---------------------------------------------------------------- fixed false-positive rate
def test_recall_at_false_positive_rate_matches_the_roc_curve_of_scikit_learn() -> None:
    """At every rate the recall is the ROC's highest TPR whose FPR stays within the rate (scikit-learn's curve)."""
    rng = np.random.default_rng(4)
    for ties in (False, True):
        labels = rng.integers(0, 2, 500)
        scores = rng.normal(labels * 1.2, 1.0)
        if ties:
            scores = np.round(scores, 1)
        fpr, tpr, _ = skm.roc_curve(labels, scores, drop_intermediate=False)
        for rate in (0.0, 0.01, 0.05, 0.2, 1.0):
            expected = tpr[fpr <= rate + 1e-12].max()
            assert qm.recall_at_false_positive_rate(scores, labels, rate) == pytest.approx(expected)


def test_threshold_at_false_positive_rate_never_lets_more_negatives_through_than_allowed() -> None:
    rng = np.random.default_rng(5)
    labels = np.r_[np.ones(50, int), np.zeros(1000, int)]
    scores = np.round(rng.normal(labels * 2.0, 1.0), 2)  # many ties
    threshold = qm.threshold_at_false_positive_rate(scores, labels, 0.01)
    assert int(((scores >= threshold) & (labels == 0)).sum()) <= 10
    # and one run of scores lower would break the rate: the cut is the lowest allowed
    lower = scores[scores < threshold].max()
    assert int(((scores >= lower) & (labels == 0)).sum()) > 10


def test_fixed_rate_edge_cases() -> None:
    # a negative on top: no cut keeps the rate at 0, nothing is found
    assert qm.threshold_at_false_positive_rate([0.9, 0.5], [0, 1], 0.0) == np.inf
    assert qm.recall_at_false_positive_rate([0.9, 0.5], [0, 1], 0.0) == 0.0
    assert np.isnan(qm.recall_at_false_positive_rate([0.9, 0.5], [1, 1], 0.01))  # no negative
    assert np.isnan(qm.recall_at_false_positive_rate([0.9, 0.5], [0, 0], 0.01))  # no positive
    with pytest.raises(ValueError, match="rate"):
        qm.threshold_at_false_positive_rate([0.9, 0.5], [0, 1], 1.5)


def test_binomial_interval_is_clopper_pearson_and_covers() -> None:
    from scipy.stats import binomtest

    for successes, trials in ((0, 10), (3, 10), (19, 29), (29, 29), (97, 100)):
        low, high = qm.binomial_interval(successes, trials)
        expected = binomtest(successes, trials).proportion_ci(0.95, method="exact")
        assert (low, high) == pytest.approx((expected.low, expected.high))
        assert low <= successes / trials <= high
    assert all(np.isnan(qm.binomial_interval(0, 0)))
    with pytest.raises(ValueError, match="successes"):
        qm.binomial_interval(5, 3)
