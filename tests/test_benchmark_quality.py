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


@pytest.mark.slow
def test_quality_script_writes_survey_scores_beside_the_truth(tmp_path: Path) -> None:
    scores_dir = tmp_path / "scores"
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--tasks", "heartbeat", "--stars", "200",
         "--survey-stars", "100", "--max-steps", "4", "--max-time", "60", "--workdir", str(tmp_path / "work"),
         "--scores-dir", str(scores_dir)],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "by period in days" in run.stdout
    assert "Who fills the survey's top 10 %" in run.stdout

    table = pd.read_csv(scores_dir / "survey_scores_heartbeat.csv")
    truth = pd.read_csv(tmp_path / "work" / "survey_100" / "truth.csv")
    assert len(table) == len(truth) == 100
    assert set(table["path"]) == set(truth["path"])
    # The recall printed from the dataset's own labels is the one the CSV's truth rows give: the scores
    # were joined to their stars by path, not by position.
    heartbeat = table["label"] == "heartbeat"
    printed_recall = re.search(r"\*\*([0-9.]+)\*\* \((\d+) of 100\)", run.stdout)
    assert printed_recall is not None, run.stdout[-2000:]
    assert int(printed_recall.group(2)) == heartbeat.sum()
    assert float(printed_recall.group(1)) == pytest.approx(table.loc[heartbeat, "in_top_10"].mean(), abs=5e-4)
    # So are the positives counted in each period bin (their periods come from the truth rows).
    after_header = run.stdout.split("by period in days")[1]
    by_period = next(line for line in after_header.splitlines() if line.startswith("| heartbeat | "))
    printed_counts = [int(count) for count in re.findall(r"\((\d+)\)", by_period)]
    periods = table.loc[heartbeat, "period"]
    assert printed_counts == [int(((periods >= low) & (periods < high)).sum()) for low, high in ((0, 3), (3, 8), (8, 1e9))]
    # Highest score first, and "in the top 10 %" marks exactly the 10 best of 100.
    assert table["score"].is_monotonic_decreasing
    assert table["in_top_10"].sum() == 10
    assert table["in_top_10"].iloc[:10].all()
    # The printed composition of the top 10 % is the table's.
    counts = table.loc[table["in_top_10"], "label"].value_counts().to_dict()
    line = next(text for text in run.stdout.splitlines() if text.startswith("heartbeat: ") and "validation" not in text)
    printed = dict(item.rsplit(" ", 1) for item in line.removeprefix("heartbeat: ").split(", "))
    assert {kind: int(count) for kind, count in printed.items()} == counts
