"""benchmarks/quality.py runs end to end on a tiny sector and its survey table is what it says it is."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _quality_module():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import quality
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return quality


def test_recall_by_bins_counts_only_positives_and_leaves_empty_bins_nan() -> None:
    quality = _quality_module()
    positive = np.array([1, 1, 1, 0, 0, 1])
    found = np.array([True, False, True, True, False, False])
    period = np.array([1.0, 2.0, 5.0, 1.5, 9.0, np.nan])  # a positive without a period is in no bin
    result = quality._recall_by(positive, found, period, ((0, 3), (3, 8), (8, 1000)))
    assert result["0-3"] == (2, 0.5)
    assert result["3-8"] == (1, 1.0)
    count, recall = result["8-"]
    assert count == 0 and np.isnan(recall)


def test_period_agreement_counts_harmonics_apart() -> None:
    quality = _quality_module()
    found = np.array([10.0, 20.1, 5.0, 3.34, 7.0])
    true = np.array([10.05, 10.0, 10.0, 10.0, 10.0])
    assert quality._period_agreement(found, true) == {"stars": 5, "within_1%": 1, "harmonic": 3, "wrong": 1}


def test_survey_cuts_hold_the_false_positive_rate_and_the_top_fraction() -> None:
    quality = _quality_module()
    rng = np.random.default_rng(0)
    positive = np.r_[np.ones(100, bool), np.zeros(900, bool)]
    scores = rng.normal(positive * 2.0, 1.0)
    scores[3] = np.nan  # a positive the detector could not score is not found
    found = quality._found(scores, positive)
    assert int((found["fpr"] & ~positive).sum()) <= 9  # 1 % of 900
    assert not found["fpr"][3] and not found["top"][3]
    assert found["top"].sum() == 100
    hits, total, recall, low, high = quality._recall(found["fpr"], positive)
    assert total == 100 and recall == hits / 100 and low <= recall <= high


@pytest.mark.slow
def test_quality_script_scores_the_survey_with_network_and_bank(tmp_path: Path) -> None:
    scores_dir = tmp_path / "scores"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--tasks", "heartbeat", "--stars", "200",
         "--survey-stars", "100", "--survey-chunk", "50", "--max-steps", "4", "--max-time", "60",
         "--workers", "1", "--workdir", str(tmp_path / "work"), "--scores-dir", str(scores_dir)],
        capture_output=True, text=True, timeout=900, cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Bars of issue 15" in run.stdout
    # the survey chunks were deleted once scored (no --keep); their scores are in the table
    assert not list((tmp_path / "work").glob("*_survey_*"))
    table = pd.read_csv(scores_dir / "survey_scores_heartbeat.csv")
    assert len(table) == 100 and table["absolute_path"].is_unique
    assert table["bank_snr"].notna().mean() > 0.9  # the classical search scored (nearly) every star
    heartbeat = table["label"] == "heartbeat"
    # The printed survey line of each detector is the table's: positives, and the recall at 1 % false positives.
    line = next(text for text in run.stdout.splitlines() if text.startswith("| network |"))
    recall = re.search(r"\| ([0-9.]+) \[[0-9.]+, [0-9.]+\] \((\d+)/(\d+)\)", line)
    assert recall is not None, line
    assert int(recall.group(3)) == heartbeat.sum()
    assert int(recall.group(2)) == int(table.loc[heartbeat, "found_at_1pct"].sum())
    # At most 1 % of the negatives pass the cut; the top 10 % is exactly 10 of 100, highest scores first.
    assert int(table.loc[~heartbeat, "found_at_1pct"].sum()) <= int(0.01 * (~heartbeat).sum())
    assert table["score"].is_monotonic_decreasing
    assert table["in_top_10"].sum() == 10 and table["in_top_10"].iloc[:10].all()
    line = next(text for text in run.stdout.splitlines() if text.startswith("heartbeat: "))
    printed = dict(item.rsplit(" ", 1) for item in line.removeprefix("heartbeat: ").split(", "))
    assert {kind: int(count) for kind, count in printed.items()} == (
        table.loc[table["in_top_10"], "label"].value_counts().to_dict())


def test_each_task_is_labelled_with_its_own_preprocessing() -> None:
    quality = _quality_module()
    truth = pd.DataFrame({"absolute_path": ["a.fits", "b.fits", "c.fits"], "label": ["heartbeat", "planet", "quiet"]})
    heartbeat, transit = quality.labelled(truth, "heartbeat"), quality.labelled(truth, "transit")
    assert heartbeat.labels == ["positive", "negative", "negative"]
    assert transit.labels == ["negative", "positive", "negative"]
    # Heartbeat passages last days: no 2-day running median for them; transits keep it.
    assert "Detrend" not in repr(heartbeat.preprocessing) and "Detrend" in repr(transit.preprocessing)
