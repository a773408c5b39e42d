"""An empty queue says why (and what to change); a min_score above every score warns; labels= is optional.

Issue 14, items 8 and 10: real tables written to disk, real verdict files, the real panel widgets.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from qusi_lab.inference import save_candidates
from qusi_lab.vetting import CandidateQueue, read_verdicts
from qusi_lab.vetting.panel import VettingPanel
from qusi_lab.vetting.queue import default_labels_path


def make_table(scores):
    count = len(scores)
    return pd.DataFrame({
        "rank": np.arange(1, count + 1),
        "path": [f"/data/s01/star{index:03d}.fits" for index in range(count)],
        "target_id": [f"TIC {1000 + index}" for index in range(count)],
        "mission": "TESS",
        "sector": 1,
        "score": scores,
    })


def quiet_queue(*args, **kwargs) -> CandidateQueue:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return CandidateQueue(*args, **kwargs)


# ---------------------------------------------------------------- item 8: min_score above every score
def test_min_score_above_every_score_warns_with_the_top_score_and_what_would_show(tmp_path):
    table = make_table([0.962, 0.962, 0.5, 0.1])
    with pytest.warns(UserWarning, match=r"min_score=0\.99 is above all 4 scores \(the top score is 0\.962\), so no "
                                         r"candidate is shown; at min_score=0\.962, 2 candidates would show"):
        queue = CandidateQueue(table, tmp_path / "labels.csv", min_score=0.99)
    assert len(queue) == 0 and queue.current is None
    assert queue.why_empty() == ("min_score=0.99 is above all 4 scores (the top score is 0.962): lower min_score to "
                                 "0.962 or less.")
    assert queue.progress_text == "none at score ≥ 0.99 (top score 0.962)"
    queue.min_score = 0.962  # the advice works: both top candidates show, and nothing warns
    assert len(queue) == 2 and queue.why_empty() is None and queue.progress_text == "0 of 2 vetted"


def test_the_top_score_is_rounded_down_so_the_advice_shows_it(tmp_path):
    with pytest.warns(UserWarning, match=r"the top score is 0\.9623\b.*at min_score=0\.9623, 1 candidate would"):
        queue = CandidateQueue(make_table([0.96239, 0.3]), tmp_path / "labels.csv", min_score=0.97)
    queue.min_score = 0.9623
    assert len(queue) == 1


def test_setting_min_score_above_every_score_warns_and_below_does_not(tmp_path):
    queue = CandidateQueue(make_table([0.8, 0.4]), tmp_path / "labels.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        queue.min_score = 0.8  # equal to the top score: shown, no warning
        queue.min_score = None
    with pytest.warns(UserWarning, match="the top score is 0.8"):
        queue.min_score = 2.0


def test_nan_scores_only(tmp_path):
    with pytest.warns(UserWarning, match="none has a finite score"):
        queue = CandidateQueue(make_table([np.nan, np.nan]), tmp_path / "labels.csv", min_score=0.5)
    assert queue.why_empty() == "min_score=0.5 hides all 2 candidates: none has a finite score; use min_score=None."
    queue.min_score = None
    assert len(queue) == 2 and queue.why_empty() is None


# ---------------------------------------------------------------- item 8: why_empty for each cause
def test_why_empty_when_every_candidate_is_vetted(tmp_path):
    queue = CandidateQueue(make_table([0.9, 0.7, 0.3]), tmp_path / "labels.csv", min_score=0.5)
    assert queue.why_empty() is None
    queue.record("planet candidate")
    queue.record("eclipsing binary")
    assert queue.current is not None  # the last one vetted stays shown until a filter changes
    queue.show = "unvetted"
    assert queue.current is None
    assert queue.why_empty() == ("All 2 candidates at score ≥ 0.5 are vetted already: set show to 'all' or 'vetted' "
                                 "to revisit them, or lower min_score (1 candidate below 0.5 is unvetted).")
    assert queue.progress_text == "2 of 2 vetted"
    queue.show = "all"
    assert queue.why_empty() is None and len(queue) == 2


def test_why_empty_when_everything_is_vetted_without_min_score(tmp_path):
    queue = CandidateQueue(make_table([0.9]), tmp_path / "labels.csv")
    queue.record("unsure")
    queue.show = "unvetted"
    assert queue.why_empty() == ("The only candidate in the table is vetted already: set show to 'all' or 'vetted' "
                                 "to revisit them.")


def test_why_empty_for_the_show_filters(tmp_path):
    queue = CandidateQueue(make_table([0.9, 0.7]), tmp_path / "labels.csv", show="vetted")
    assert queue.why_empty() == ("None of the 2 candidates in the table has a verdict yet: set show to 'unvetted' to "
                                 "vet them.")
    queue.show = "unvetted"
    queue.record("variable")
    queue.show = "eclipsing binary"
    assert queue.why_empty() == ("None of the 2 candidates in the table has the verdict 'eclipsing binary': set show "
                                 "to 'all' to see every candidate.")


def test_why_empty_for_an_empty_table_read_from_disk(tmp_path):
    path = save_candidates(make_table([]), tmp_path / "candidates.csv")
    queue = CandidateQueue(path)
    assert len(queue) == 0 and queue.total == 0
    assert str(queue.why_empty()).startswith("The candidate table is empty: there is nothing to vet")
    assert queue.progress_text == "empty candidate table"


# ---------------------------------------------------------------- item 10: labels= optional
def test_default_verdict_file_sits_beside_the_table_and_is_resumed_not_overwritten(tmp_path):
    path = save_candidates(make_table([0.9, 0.7, 0.3]), tmp_path / "run" / "candidates.csv")
    queue = CandidateQueue(path)
    assert queue.store.path == tmp_path / "run" / "candidates-verdicts.csv" == default_labels_path(path)
    queue.record("planet candidate", note="first")
    before = queue.store.path.read_bytes()

    reopened = CandidateQueue(path, user="ben")  # a new session: resumes the same file
    assert reopened.store.path == queue.store.path
    assert reopened.current is not None and reopened.current.target_id == "TIC 1001"
    assert reopened.progress_text == "1 of 3 vetted"
    reopened.record("eclipsing binary")
    after = queue.store.path.read_bytes()
    assert after.startswith(before)  # appended to, never rewritten
    assert read_verdicts(queue.store.path)["verdict"].tolist() == ["planet candidate", "eclipsing binary"]


def test_parquet_table_gets_a_csv_verdict_file(tmp_path):
    pytest.importorskip("pyarrow")
    path = save_candidates(make_table([0.9]), tmp_path / "sector.parquet")
    assert CandidateQueue(path).store.path == tmp_path / "sector-verdicts.csv"


def test_a_table_in_memory_needs_labels(tmp_path):
    with pytest.raises(TypeError, match=r"labels= is needed when the candidate table is given in memory"):
        CandidateQueue(make_table([0.9]))
    with pytest.raises(TypeError, match=r"labels="):
        VettingPanel(make_table([0.9]), model=None)


# ---------------------------------------------------------------- the panel
def test_panel_without_labels_names_its_verdict_file_in_the_header(tmp_path):
    path = save_candidates(make_table([0.9, 0.7]), tmp_path / "candidates.csv")
    panel = VettingPanel(path, model=None, preload=0, draw_ahead=False)
    try:
        assert panel.store.path == tmp_path / "candidates-verdicts.csv" and panel.store.path.is_file()
        assert "verdicts in candidates-verdicts.csv" in panel.title.value
        panel.verdict_buttons[0].click()
        assert read_verdicts(panel.store.path)["target_id"].tolist() == ["TIC 1000"]
    finally:
        panel.close()


def test_panel_with_min_score_above_every_score(tmp_path):
    path = save_candidates(make_table([0.8, 0.4]), tmp_path / "candidates.csv")
    with pytest.warns(UserWarning, match="the top score is 0.8"):
        panel = VettingPanel(path, min_score=0.95, model=None, preload=0, draw_ahead=False)
    try:
        # The slider shows the min_score asked for (not the top score, clamped), the header says why nothing shows.
        assert panel.score_slider.value == pytest.approx(0.95) and panel.score_slider.max >= 0.95
        assert "0 of 0" not in panel.progress_label.value
        assert "none at score ≥ 0.95 (top score 0.8)" in panel.progress_label.value
        assert "verdicts in candidates-verdicts.csv" in panel.title.value
        panel.score_slider.value = 0.8  # the user follows the advice
        assert panel.queue.current is not None and "0 of 1 vetted" in panel.progress_label.value
        with pytest.warns(UserWarning, match="above all 2 scores"):
            panel.queue.min_score = 1.5  # set from code: the slider follows, widened
        panel._show_current()
        assert panel.score_slider.value == pytest.approx(1.5)
    finally:
        panel.close()


def test_the_warning_points_at_the_users_line(tmp_path):
    path = save_candidates(make_table([0.8, 0.4]), tmp_path / "candidates.csv")
    with pytest.warns(UserWarning, match="above all 2 scores") as queue_warnings:
        queue = CandidateQueue(path, min_score=0.9)
    with pytest.warns(UserWarning, match="above all 2 scores") as setter_warnings:
        queue.min_score = 0.95
    with pytest.warns(UserWarning, match="above all 2 scores") as panel_warnings:
        panel = VettingPanel(path, min_score=0.9, model=None, preload=0, draw_ahead=False)
    panel.close()
    for caught in (queue_warnings, setter_warnings, panel_warnings):
        assert [record.filename for record in caught] == [__file__]


def test_a_default_verdict_file_that_cannot_be_opened_says_to_pass_labels(tmp_path):
    path = save_candidates(make_table([0.9]), tmp_path / "candidates.csv")
    (tmp_path / "candidates-verdicts.csv").mkdir()  # in the way (as a read-only folder would be)
    with pytest.raises(OSError, match=r"candidates-verdicts\.csv: cannot open the default verdict file beside the "
                                      r"candidate table \(Is a directory\); pass labels="):
        CandidateQueue(path)
    assert CandidateQueue(path, tmp_path / "elsewhere.csv").store.path.is_file()
