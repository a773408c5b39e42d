"""CandidateQueue: order, score and label filters, progress, jumps, undo, resuming, sharing a file."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

from qusi_lab.vetting import CandidateQueue, VerdictStore, read_verdicts

T = TypeVar("T")


def must(value: T | None) -> T:
    """The value, asserting it is there (keeps the type checker and the reader sure of it)."""
    assert value is not None
    return value


def make_table(scores, *, sectors=None, target_ids=None):
    count = len(scores)
    return pd.DataFrame({
        "rank": np.arange(1, count + 1),
        "path": [f"/data/s01/star{index:03d}.fits" for index in range(count)],
        "target_id": target_ids or [f"TIC {1000 + index}" for index in range(count)],
        "mission": "TESS",
        "sector": sectors or [1] * count,
        "score": scores,
    })


def targets(queue, count=None):
    """Target ids of the candidates shown, walking from the current one (the queue is left at the end)."""
    seen = [must(queue.current).target_id]
    while queue.next() is not None and (count is None or len(seen) < count):
        seen.append(must(queue.current).target_id)
    return seen


def test_highest_score_first_nan_last_ties_by_rank(tmp_path):
    table = make_table([0.3, np.nan, 0.9, 0.5, 0.9])
    table["rank"] = [3, 5, 2, 4, 1]
    queue = CandidateQueue(table, tmp_path / "labels.csv", show="all")
    assert targets(queue) == ["TIC 1004", "TIC 1002", "TIC 1003", "TIC 1000", "TIC 1001"]
    assert queue.next() is None and must(queue.current).target_id == "TIC 1001"  # stays at the end
    assert queue.score_range == (0.3, 0.9)


def test_min_score_filters_and_sets_the_progress(tmp_path):
    queue = CandidateQueue(make_table([0.95, 0.2, 0.7, 0.55, 0.1]), tmp_path / "labels.csv", min_score=0.5)
    assert len(queue) == 3 and queue.progress_text == "0 of 3 vetted"
    queue.record("planet candidate")
    assert queue.progress == (1, 3)
    queue.min_score = 0.0
    assert queue.progress_text == "1 of 5 vetted"
    queue.min_score = 0.8  # the one vetted (0.95) still counts; the current (0.7) is filtered out
    assert queue.progress_text == "1 of 1 vetted" and len(queue) == 0 and queue.current is None
    with pytest.raises(LookupError, match="no candidate"):
        queue.record("unsure")


def test_label_filters(tmp_path):
    queue = CandidateQueue(make_table([0.9, 0.8, 0.7, 0.6, 0.5]), tmp_path / "labels.csv")
    queue.record("eclipsing binary")  # TIC 1000
    queue.record("planet candidate")  # TIC 1001
    queue.record("eclipsing binary")  # TIC 1002
    queue.show = "eclipsing binary"
    assert must(queue.current).target_id == "TIC 1002"  # the candidate shown stays when it passes
    queue.previous()
    assert targets(queue) == ["TIC 1000", "TIC 1002"]
    queue.show = "vetted"
    assert len(queue) == 3
    queue.show = "unvetted"
    assert len(queue) == 2 and must(queue.current).target_id == "TIC 1003"
    queue.show = "all"
    assert len(queue) == 5
    assert queue.show_options[:3] == ("unvetted", "all", "vetted")
    with pytest.raises(ValueError, match="show must be one of"):
        queue.show = "maybe"


def test_a_verdict_advances_to_the_next_unvetted_and_vetted_ones_stay_reachable(tmp_path):
    queue = CandidateQueue(make_table([0.9, 0.8, 0.7, 0.6]), tmp_path / "labels.csv", show="all")
    queue.go_to("TIC 1002")
    queue.record("variable")  # -> TIC 1003
    queue.go_to("TIC 1000")
    queue.record("variable")  # -> TIC 1001 (unvetted)
    assert must(queue.current).target_id == "TIC 1001"
    queue.record("variable")  # TIC 1002 is vetted: skipped -> TIC 1003
    assert must(queue.current).target_id == "TIC 1003"
    queue.record("systematic")  # nothing unvetted after: stays at the end
    assert must(queue.current).target_id == "TIC 1003" and queue.progress_text == "4 of 4 vetted"
    # Showing "unvetted", a candidate just vetted stays in the queue, so going back to fix it works.
    fresh = CandidateQueue(make_table([0.9, 0.8, 0.7]), tmp_path / "other.csv")
    fresh.record("unsure")
    assert must(fresh.previous()).target_id == "TIC 1000" and fresh.verdict_of(must(fresh.current)) == "unsure"
    fresh.record("planet candidate")
    assert fresh.verdict_of("/data/s01/star000.fits") == "planet candidate"
    assert must(fresh.current).target_id == "TIC 1001"


def test_go_to_a_target_id(tmp_path):
    table = make_table([0.9, 0.8, 0.7, 0.6], sectors=[1, 1, 2, 1],
                       target_ids=["TIC 25155310", "TIC 7", "TIC 25155310", "KIC 11446443"])
    queue = CandidateQueue(table, tmp_path / "labels.csv", min_score=0.75)
    found = must(queue.go_to("kic   11446443"))  # case and spaces do not matter; filtered out but shown anyway
    assert (found.target_id, found.score) == ("KIC 11446443", 0.6)
    assert must(queue.go_to("25155310")).sector == "1"  # digits alone work
    assert must(queue.go_to("TIC 25155310")).sector == "2"  # again: the target's next sector
    assert must(queue.go_to("tic 25155310")).sector == "1"  # and round again
    assert must(queue.go_to("/data/s01/star001.fits")).target_id == "TIC 7"  # a key (path) works too
    assert queue.go_to("TIC 999") is None and must(queue.current).target_id == "TIC 7"
    assert queue.go_to("  ") is None


def test_undo_goes_back_and_restores(tmp_path):
    queue = CandidateQueue(make_table([0.9, 0.8, 0.7]), tmp_path / "labels.csv")
    queue.record("planet candidate", note="first look")
    queue.record("eclipsing binary")
    assert must(queue.current).target_id == "TIC 1002"
    assert must(queue.undo()).target_id == "TIC 1001"
    assert queue.verdict_of(must(queue.current)) is None and queue.progress_text == "1 of 3 vetted"
    assert must(queue.undo()).target_id == "TIC 1000"
    assert queue.undo() is None and not queue.can_undo
    every = read_verdicts(tmp_path / "labels.csv", latest=False)
    assert every.action.tolist() == ["verdict", "verdict", "undo", "undo"]


def test_reopening_resumes_at_the_best_ranked_unvetted(tmp_path):
    labels = tmp_path / "labels.csv"
    table = make_table([0.9, 0.8, 0.7, 0.6, 0.5])
    queue = CandidateQueue(table, labels, show="all", user="ana")
    queue.record("variable")
    queue.next()  # skipped TIC 1001 without a verdict
    queue.record("variable")  # TIC 1002
    # Issue 12: not after the last verdict (TIC 1002), where `next` would never reach TIC 1001 again.
    assert must(CandidateQueue(table, labels, show="all", user="ana").current).target_id == "TIC 1001"
    again = CandidateQueue(table, labels, user="ana")
    assert must(again.current).target_id == "TIC 1001" and len(again) == 3
    again.record("variable")
    assert must(again.current).target_id == "TIC 1003"
    again.record("variable")
    again.record("variable")
    # Everything vetted: showing "all", a new queue opens on the first candidate.
    assert must(CandidateQueue(table, labels, show="all", user="ana").current).target_id == "TIC 1000"


def test_two_queues_on_one_file(tmp_path):
    labels = tmp_path / "labels.csv"
    table = make_table([0.9, 0.8, 0.7, 0.6])
    ana = CandidateQueue(table, labels, user="ana")
    ben = CandidateQueue(table, labels, user="ben")
    ana.record("planet candidate")  # TIC 1000
    ana.record("planet candidate")  # TIC 1001
    ben.record("systematic")  # ben was on TIC 1000: re-vets it, then skips TIC 1001 (ana's)
    assert must(ben.current).target_id == "TIC 1002"
    assert ben.progress_text == "2 of 4 vetted"
    ana.refresh()
    assert ana.verdict_of("/data/s01/star000.fits") == "systematic"
    frame = read_verdicts(labels)
    assert dict(zip(frame.target_id, frame.user, strict=True)) == {"TIC 1000": "ben", "TIC 1001": "ana"}


def test_reads_a_saved_candidate_table_and_records_model_and_score(tmp_path):
    from qusi_lab.inference import CandidateTable, save_candidates

    table = CandidateTable(make_table([0.4, 0.8]))
    table.attrs["model"] = "runs/transits"
    saved = save_candidates(table, tmp_path / "candidates.csv")
    queue = CandidateQueue(saved, tmp_path / "labels.csv")
    record = queue.record(0)  # by number: the first verdict
    assert (record.verdict, record.model, record.score, record.sector) == ("planet candidate", "runs/transits",
                                                                          0.8, "1")
    labelled = queue.labelled_table()
    assert labelled.target_id.tolist() == ["TIC 1001", "TIC 1000"]
    assert labelled.verdict.tolist() == ["planet candidate", ""]


def test_custom_verdicts_and_bad_input(tmp_path):
    queue = CandidateQueue(make_table([0.5, 0.4]), tmp_path / "labels.csv", verdicts=("transit", "not transit"))
    with pytest.raises(ValueError, match="unknown verdict 'planet candidate'"):
        queue.record("planet candidate")
    with pytest.raises(IndexError, match="outside 0..1"):
        queue.record(2)
    assert must(queue.record(1)).verdict == "not transit"
    with pytest.raises(ValueError, match="cannot be verdict names"):
        CandidateQueue(make_table([0.5]), tmp_path / "labels.csv", verdicts=("all", "x"))
    with pytest.raises(ValueError, match="no 'score' column"):
        CandidateQueue(pd.DataFrame({"path": ["a"]}), tmp_path / "labels.csv")
    # Verdicts of another panel that offered other labels are kept and count as vetted.
    other = CandidateQueue(make_table([0.5, 0.4]), tmp_path / "labels.csv")
    assert other.progress_text == "1 of 2 vetted" and must(other.current).target_id == "TIC 1001"
    other.show = "vetted"
    assert must(other.current).target_id == "TIC 1000" and other.verdict_of(must(other.current)) == "not transit"


def test_upcoming_lists_what_comes_next(tmp_path):
    queue = CandidateQueue(make_table([0.9, 0.8, 0.7, 0.6, 0.5]), tmp_path / "labels.csv", show="all")
    queue.go_to("TIC 1002")
    VerdictStore(tmp_path / "labels.csv").record("/data/s01/star003.fits", "variable")  # another panel
    queue.refresh()
    assert [c.target_id for c in queue.upcoming(2)] == ["TIC 1003", "TIC 1004", "TIC 1001"]
    queue.show = "unvetted"
    assert [c.target_id for c in queue.upcoming(2)] == ["TIC 1004", "TIC 1001"]


def test_a_large_queue_records_and_moves_on(tmp_path):
    # How fast: benchmarks/bench_interactive.py (wall-clock limits are not unit tests).
    count = 100_000
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"path": [f"/s/{index}.fits" for index in range(count)],
                          "target_id": [f"TIC {index}" for index in range(count)],
                          "sector": 1, "score": rng.random(count)})
    queue = CandidateQueue(table, tmp_path / "labels.csv", min_score=0.5)
    for _ in range(20):
        queue.record("variable")
    for _ in range(50):
        queue.next()
    assert queue.progress_text == f"20 of {int((table.score >= 0.5).sum()):,} vetted"
    assert queue.go_to("TIC 77") is not None
