"""The verdict file: durable, append-only, shared safely, damage reported; and verdicts -> training data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

from qusi_lab.errors import LabelError
from qusi_lab.vetting import (
    RECORD_COLUMNS,
    CandidateQueue,
    VerdictFileWarning,
    VerdictStore,
    dataset_from_verdicts,
    read_verdicts,
)

REPO = Path(__file__).resolve().parents[1]

T = TypeVar("T")


def must(value: T | None) -> T:
    """The value, asserting it is there (keeps the type checker and the reader sure of it)."""
    assert value is not None
    return value


def _no_warnings():
    return warnings.catch_warnings(record=True)


def test_a_verdict_is_on_disk_with_who_when_which_model_and_score(tmp_path):
    path = tmp_path / "vetting" / "labels.csv"  # the folder is created too
    store = VerdictStore(path, user="ana", model="runs/transits")
    record = store.record("s01/a.fits", "planet candidate", note="clear U shape", target_id="TIC 1",
                          sector=1.0, path="s01/a.fits", score=0.973)
    frame = pd.read_csv(path)  # a plain CSV any tool reads
    assert list(frame.columns) == list(RECORD_COLUMNS)
    row = frame.iloc[0]
    assert (row.user, row.action, row.key, row.target_id, row.sector, row.verdict, row.note, row.model) == (
        "ana", "verdict", "s01/a.fits", "TIC 1", 1, "planet candidate", "clear U shape", "runs/transits")
    assert row.score == pytest.approx(0.973)
    assert row.session == store.session and pd.Timestamp(row.time).tzinfo is not None
    assert record.verdict == "planet candidate"
    reopened = VerdictStore(path, user="ben")
    assert reopened.verdict_of("s01/a.fits") == "planet candidate"
    assert reopened.state["s01/a.fits"].user == "ana"


def test_undo_appends_and_restores_the_previous_verdict(tmp_path):
    path = tmp_path / "labels.csv"
    store = VerdictStore(path, user="ana")
    store.record("a", "variable")
    store.record("a", "eclipsing binary")
    store.record("b", "systematic")
    before = path.read_bytes()
    assert must(store.undo()).key == "b"
    assert store.verdict_of("b") is None
    assert must(store.undo()).verdict == "variable"  # a goes back to its first verdict
    assert store.verdict_of("a") == "variable"
    assert must(store.undo()).verdict == ""
    assert store.undo() is None and not store.can_undo
    after = path.read_bytes()
    assert after.startswith(before)  # nothing rewritten
    every = read_verdicts(path, latest=False)
    assert every.action.tolist() == ["verdict"] * 3 + ["undo"] * 3
    assert read_verdicts(path).empty  # latest record per candidate wins: all undone
    assert VerdictStore(path).vetted_keys() == set()


def test_notes_with_commas_quotes_newlines_and_unicode_round_trip(tmp_path):
    path = tmp_path / "labels.csv"
    note = 'odd/even differ, "3 sigma";\nsecondary at φ=0.5 — check TIC 2'
    VerdictStore(path).record('weird, "key".fits', "eclipsing binary", note=note)
    with _no_warnings() as caught:
        warnings.simplefilter("always")
        record = VerdictStore(path).state['weird, "key".fits']
    assert not caught
    assert record.note == note.replace("\n", " ")
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2  # header + one record line


def test_a_half_written_last_line_is_reported_and_the_rest_kept(tmp_path):
    path = tmp_path / "labels.csv"
    store = VerdictStore(path, user="ana")
    for name in "abc":
        store.record(name, "variable")
    with open(path, "ab") as handle:  # what a crash in the middle of a write leaves
        handle.write(b"2026-11-22T10:00:00.000+00:00,ana,xyz,verdict,d,TIC 4,1,d.fi")
    with pytest.warns(VerdictFileWarning, match=r"labels\.csv, line 5: incomplete record") as caught:
        reopened = VerdictStore(path, user="ana")
    assert len(caught) == 1
    assert reopened.vetted_keys() == {"a", "b", "c"}
    # The next verdict starts a fresh line: the damage stays confined to line 5.
    reopened.record("e", "systematic")
    with pytest.warns(VerdictFileWarning, match=r"line 5: 8 fields where the header has 12"):
        frame = read_verdicts(path)
    assert sorted(frame.key) == ["a", "b", "c", "e"]
    with _no_warnings() as caught:
        warnings.simplefilter("always")
        reopened.refresh()
    assert not caught  # the store reported the line once, not on every refresh


def test_a_corrupt_line_in_the_middle_is_reported_with_its_number(tmp_path):
    path = tmp_path / "labels.csv"
    store = VerdictStore(path)
    store.record("a", "variable")
    with open(path, "ab") as handle:
        handle.write(b"\x00\x00\x00 garbage, not a record\n")
        handle.write(b"2026-11-22T10:00:00.000+00:00,ana,s,explode,b,,,,variable,,,\n")
    with pytest.warns(VerdictFileWarning):  # the open store reads the damage before appending
        store.record("c", "unsure")
    with pytest.warns(VerdictFileWarning) as caught:
        frame = read_verdicts(path)
    messages = [str(warning.message) for warning in caught]
    assert any("line 3:" in message and str(path) in message for message in messages)
    assert any("line 4: unknown action 'explode'" in message for message in messages)
    assert sorted(frame.key) == ["a", "c"]


def test_a_file_that_is_not_a_verdict_file_is_refused_naming_it(tmp_path):
    path = tmp_path / "candidates.csv"
    path.write_text("rank,path,score\n1,a.fits,0.9\n")
    with pytest.raises(LabelError, match="candidates.csv.*not the header of a verdict file"):
        VerdictStore(path)


def test_two_stores_in_one_process_see_each_other(tmp_path):
    path = tmp_path / "labels.csv"
    first, second = VerdictStore(path, user="ana"), VerdictStore(path, user="ben")
    first.record("a", "planet candidate")
    assert second.verdict_of("a") is None
    assert [record.key for record in second.refresh()] == ["a"]
    assert second.verdict_of("a") == "planet candidate"
    second.record("a", "eclipsing binary")
    first.refresh()
    assert first.verdict_of("a") == "eclipsing binary"
    # first's undo restores what a had before *first's* verdict (nothing), appended after ben's record.
    first.undo()
    second.refresh()
    assert second.verdict_of("a") is None


_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from qusi_lab.vetting import VerdictStore
    path, name, count, barrier = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    (barrier / f"ready-{name}").touch()
    while not (barrier / "go").exists():  # start together, whatever the import times
        time.sleep(0.001)
    store = VerdictStore(path, user=name)
    for index in range(count):
        # Notes of very different lengths: long records are where unlocked writers interleave.
        store.record(f"{name}-{index}", "variable", note=name * (1 + (index * 7919) % 9000), score=index / count)
    print(len(store.records))
""")


@pytest.mark.slow
def test_two_processes_appending_at_once_produce_a_valid_file(tmp_path):
    path = tmp_path / "shared" / "labels.csv"  # neither process finds the file: both race to create it
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    count = 150
    processes = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name, str(count), str(barrier)],
                         cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("ana", "ben")
    ]
    deadline = time.monotonic() + 40
    while not all((barrier / f"ready-{name}").exists() for name in ("ana", "ben")):
        assert time.monotonic() < deadline and all(process.poll() is None for process in processes), \
            [process.stderr.read() for process in processes if process.poll() is not None and process.stderr]
        time.sleep(0.01)
    (barrier / "go").touch()
    for process in processes:
        _, errors = process.communicate(timeout=50)
        assert process.returncode == 0, errors
    text = path.read_text(encoding="utf-8")
    assert text.count("time,user,session") == 1  # one header
    with _no_warnings() as caught:
        warnings.simplefilter("always")
        every = read_verdicts(path, latest=False)
    assert not [warning for warning in caught if issubclass(warning.category, VerdictFileWarning)]
    assert len(every) == 2 * count
    for name in ("ana", "ben"):
        mine = every[every.user == name]
        assert mine.key.tolist() == [f"{name}-{index}" for index in range(count)]  # each in its own order
        lengths = mine.note.str.len().to_numpy()
        assert (lengths == np.array([len(name) * (1 + (index * 7919) % 9000) for index in range(count)])).all()
    # Both really wrote at the same time (their records interleave in the file).
    users = every.user.tolist()
    assert sum(a != b for a, b in zip(users, users[1:], strict=False)) > 2


_VETTER = textwrap.dedent("""
    import sys, time
    from qusi_lab.vetting import CandidateQueue
    queue = CandidateQueue(sys.argv[1], sys.argv[2], user="ana")
    print("at", queue.current.target_id, flush=True)
    verdict = queue.record(sys.argv[3], note="then the power went out")
    print("recorded", verdict.key, flush=True)
    time.sleep(60)
""")


@pytest.mark.slow
def test_a_process_killed_right_after_a_verdict_loses_nothing(tmp_path):
    table = pd.DataFrame({"path": [f"s01/star{index}.fits" for index in range(5)],
                          "target_id": [f"TIC {index}" for index in range(5)], "sector": 1,
                          "score": [0.5, 0.9, 0.7, 0.8, 0.6]})
    candidates, labels = tmp_path / "candidates.csv", tmp_path / "labels.csv"
    table.to_csv(candidates, index=False)
    seen = []
    for verdict in ("planet candidate", "eclipsing binary", "unsure"):
        process = subprocess.Popen([sys.executable, "-c", _VETTER, str(candidates), str(labels), verdict],
                                   cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        at = process.stdout.readline().split()
        recorded = process.stdout.readline().split()
        process.send_signal(signal.SIGKILL)  # kill -9: no clean-up, no flush at exit
        process.wait(timeout=10)
        assert recorded and recorded[0] == "recorded", process.stderr.read() if process.stderr else ""
        seen.append(" ".join(at[1:]))
    assert seen == ["TIC 1", "TIC 3", "TIC 2"]  # each reopening resumed after the previous verdict
    with _no_warnings() as caught:
        warnings.simplefilter("always")
        frame = read_verdicts(labels)
    assert not caught
    assert dict(zip(frame.target_id, frame.verdict, strict=True)) == {
        "TIC 1": "planet candidate", "TIC 3": "eclipsing binary", "TIC 2": "unsure"}
    assert (frame.note == "then the power went out").all()
    assert must(CandidateQueue(candidates, labels).current).target_id == "TIC 4"


@pytest.fixture
def vetted_files(tmp_path):
    from qusi_lab import LightCurve, write_npz

    rng = np.random.default_rng(0)
    paths = []
    for index in range(6):
        time_values = np.linspace(0.0, 10.0, 300)
        lc = LightCurve(time_values, 1 + rng.normal(0, 1e-3, time_values.size), target_id=f"TIC {index}",
                        mission="TESS", sector=1)
        paths.append(str(write_npz(lc, tmp_path / f"star{index}.npz")))
    store = VerdictStore(tmp_path / "labels.csv", user="ana")
    verdicts = ["planet candidate", "eclipsing binary", "planet candidate", "unsure", "variable", "systematic"]
    for index, (path, verdict) in enumerate(zip(paths, verdicts, strict=True)):
        store.record(path, verdict, path=path, target_id=f"TIC {index}", sector=1)
    store.undo()  # star5 (systematic) taken back: not a label any more
    return store.path, paths


def test_dataset_from_verdicts_default_labels(vetted_files):
    labels_path, paths = vetted_files
    dataset = dataset_from_verdicts(labels_path, input_length=64)
    assert list(dataset.sources) == [paths[0], paths[1], paths[2], paths[4]]  # unsure and undone left out
    assert set(dataset.label_names) == {"planet candidate", "eclipsing binary", "variable"}
    assert list(dataset.target_ids) == ["TIC 0", "TIC 1", "TIC 2", "TIC 4"]
    x, y = dataset[0]
    assert x.shape == (64,)
    assert dataset.label_names[int(y)] == "planet candidate"


def test_dataset_from_verdicts_with_a_label_map_and_a_frame(vetted_files):
    labels_path, paths = vetted_files
    label_map = {"planet candidate": "positive", "eclipsing binary": "negative", "variable": "negative"}
    frame = read_verdicts(labels_path, latest=False)  # every record: the latest per candidate counts
    dataset = dataset_from_verdicts(frame, label_map=label_map, input_length=64,
                                    label_names=["negative", "positive"])
    assert dataset.task == "binary"
    assert dataset.class_counts().tolist() == [2, 2]
    with pytest.raises(LabelError, match="no verdict left"):
        dataset_from_verdicts(labels_path, label_map={"heartbeat star": "positive"})


def test_read_verdicts_of_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.csv"):
        read_verdicts(tmp_path / "nothing.csv")


def test_a_record_is_fsynced(tmp_path, monkeypatch):
    """Each verdict calls os.fsync on the file before returning (durability, not just a flush)."""
    store = VerdictStore(tmp_path / "labels.csv")
    calls: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(descriptor: int) -> None:
        calls.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    store.record("a", "variable")
    assert len(calls) == 1


def test_light_curve_dataset_from_verdicts_is_the_public_path(vetted_files):
    from qusi_lab.data import LightCurveDataset

    labels_path, paths = vetted_files
    dataset = LightCurveDataset.from_verdicts(
        labels_path, label_map={"planet candidate": "positive", "eclipsing binary": "negative"}, input_length=64
    )
    assert isinstance(dataset, LightCurveDataset)
    assert list(dataset.sources) == [paths[0], paths[1], paths[2]]
    assert dataset.task == "binary" and dataset.class_counts().tolist() == [1, 2]
