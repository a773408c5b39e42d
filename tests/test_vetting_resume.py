"""Issue 12, item 8: reopening after retraining resumes at the best-ranked UNVETTED candidate of the new table.

Tutorial 01, 20 verdicts, browser closed, Run All: the retrained network ranked the candidates
differently, the panel reopened after the candidate vetted last, and two unvetted candidates now
ranked above it sat behind the cursor where ``next`` never reached them.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd

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
