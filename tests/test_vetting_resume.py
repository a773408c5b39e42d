"""Issue 12, item 8: reopening after retraining resumes at the best-ranked UNVETTED candidate of the new table.

Tutorial 01, 20 verdicts, browser closed, Run All: the retrained network ranked the candidates
differently, the panel reopened after the candidate vetted last, and two unvetted candidates now
ranked above it sat behind the cursor where ``next`` never reached them.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

from qusi_lab.vetting import CandidateQueue

T = TypeVar("T")


def must(value: T | None) -> T:
    assert value is not None
    return value


def table_with_scores(scores: list[float]) -> pd.DataFrame:
    """One row per star (star i always has the same path); rank follows the score, as infer() writes it."""
    frame = pd.DataFrame({
        "path": [f"/data/s01/star{index:03d}.fits" for index in range(len(scores))],
        "target_id": [f"TIC {1000 + index}" for index in range(len(scores))],
        "sector": 1,
        "score": scores,
    })
    frame["rank"] = frame["score"].rank(ascending=False, method="first").astype(int)
    return frame.sort_values("rank").reset_index(drop=True)


def walk(queue: CandidateQueue) -> list[str]:
    """Target ids from the current candidate to the end, pressing `next` as a user would."""
    seen = [must(queue.current).target_id]
    while queue.next() is not None:
        seen.append(must(queue.current).target_id)
    return seen


def test_reopened_on_a_retrained_table_the_queue_starts_at_the_best_unvetted(tmp_path) -> None:
    labels = tmp_path / "verdicts.csv"
    rng = np.random.default_rng(3)
    first = table_with_scores(list(rng.random(30)))
    queue = CandidateQueue(first, labels, user="ana")
    vetted = set()
    for _ in range(10):  # the top 10 of the first ranking
        vetted.add(must(queue.current).target_id)
        queue.record("variable")
    # Retrained: new scores, so the unvetted stars interleave with the vetted ones, some now ranked above
    # the star vetted last.
    second = table_with_scores(list(rng.random(30)))
    order = second["target_id"].tolist()
    last_vetted = must(CandidateQueue(first, labels, user="ana").store.latest()).target_id
    assert any(order.index(star) < order.index(last_vetted) for star in set(order) - vetted)

    reopened = CandidateQueue(second, labels, user="ana")
    unvetted_in_order = [star for star in order if star not in vetted]
    assert must(reopened.current).target_id == unvetted_in_order[0]
    assert walk(reopened) == unvetted_in_order  # `next` reaches every unvetted candidate

    # Showing every candidate, it opens on the same one, and `next` still reaches each unvetted one after it.
    every = CandidateQueue(second, labels, user="ana", show="all")
    assert must(every.current).target_id == unvetted_in_order[0]
    assert [star for star in walk(every) if star not in vetted] == unvetted_in_order


@pytest.mark.slow
def test_the_panel_reopened_after_retraining_shows_the_best_unvetted_and_next_reaches_every_one(tmp_path) -> None:
    """The same through the panel's buttons: what a user does in tutorial 01 (vet, Run All, go on)."""
    from qusi_lab.synthetic import make_sector
    from qusi_lab.vetting.panel import VettingPanel

    sector = make_sector(tmp_path / "data", n_stars=8, seed=4, n_workers=1)
    paths = [str(path) for path in sector.paths]
    labels = tmp_path / "verdicts.csv"

    def ranked(scores: list[float]) -> pd.DataFrame:
        frame = pd.DataFrame({"path": paths, "target_id": [f"TIC {index}" for index in range(len(paths))],
                              "score": scores})
        return frame.sort_values("score", ascending=False, ignore_index=True)

    first = VettingPanel(ranked([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2]), labels, model=None, preload=0)
    for _ in range(4):  # TIC 0-3
        first.verdict_buttons[1].click()
    first.close()
    retrained = ranked([0.1, 0.95, 0.2, 0.85, 0.9, 0.3, 0.92, 0.4])  # TIC 1, 6, 4, 3, 7, 5, 2, 0
    panel = VettingPanel(retrained, labels, model=None, preload=0)
    try:
        assert must(panel.queue.current).target_id == "TIC 6"  # ranked above TIC 3, the last vetted
        seen = [must(panel.queue.current).target_id]
        for _ in range(5):
            panel.next_button.click()
            seen.append(must(panel.queue.current).target_id)
        assert seen[:3] == ["TIC 6", "TIC 4", "TIC 7"] and set(seen) == {"TIC 4", "TIC 5", "TIC 6", "TIC 7"}
        assert "4 of 8 vetted" in panel.progress_label.value
    finally:
        panel.close()
