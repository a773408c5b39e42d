"""The verdict file's format: its columns, one record, and how a line is written and read back.

:mod:`qusi_lab.vetting.store` describes the format and its guarantees (formula-safe, valid UTF-8, one record
per line, damage reported line by line) and is where to import these names from; this module holds the
encoding, the line writer and the parser that :class:`~qusi_lab.vetting.store.VerdictStore` and
:func:`~qusi_lab.vetting.store.read_verdicts` share.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import math
import os
import re
import threading
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from qusi_lab.errors import LabelError
from qusi_lab.io.spreadsheet import FORMULA_PREFIXES, neutralize_formula

#: Columns of a verdict file, in order.
RECORD_COLUMNS: tuple[str, ...] = (
    "time", "user", "session", "action", "key", "target_id", "sector", "path", "verdict", "note", "score", "model",
)

#: The longest field a verdict file takes, in characters as written (after the escapes above). Below the
#: ``csv`` module's default field limit (131,072), so every reader of the file reads every line.
MAX_FIELD_CHARACTERS = 100_000

#: ``verdict``: a vetter's verdict; ``undo``: a verdict taken back (``verdict`` holds what it had before).
ACTIONS: tuple[str, ...] = ("verdict", "undo")


class VerdictFileWarning(UserWarning):
    """A line of a verdict file could not be read (half-written or corrupt) and was skipped."""


@dataclass(frozen=True)
class VerdictRecord:
    """One line of a verdict file.

    Attributes
    ----------
    time:
        ISO 8601 UTC time of the record (millisecond precision).
    user:
        Who gave the verdict.
    session:
        Random id of the :class:`VerdictStore` (one panel) that wrote it.
    action:
        ``"verdict"`` or ``"undo"``.
    key:
        The candidate: its file path, or ``"<target_id>/<sector>"`` when it has none (kept exactly,
        line breaks and non-UTF-8 file names included).
    target_id, sector, path:
        Which light curve it was (``sector`` is the sector/quarter/campaign, empty when unknown).
    verdict:
        The verdict; for an ``undo`` record, the verdict restored (empty: unvetted again).
    note:
        Free text (newlines become spaces: one record, one line).
    score:
        The network's score of the candidate (NaN when unknown).
    model:
        The model bundle that produced the score.
    """

    time: str
    user: str
    session: str
    action: str
    key: str
    target_id: str = ""
    sector: str = ""
    path: str = ""
    verdict: str = ""
    note: str = ""
    score: float = math.nan
    model: str = ""

    @property
    def vetted(self) -> bool:
        """Whether this record leaves the candidate with a verdict."""
        return bool(self.verdict)

    def as_row(self) -> list[str]:
        score = "" if not math.isfinite(self.score) else repr(float(self.score))
        return [str(getattr(self, name)) if name != "score" else score for name in RECORD_COLUMNS]


def _clean(text: Any) -> str:
    """A value fit for one CSV line: str, no line breaks or NULs."""
    if text is None:
        return ""
    if isinstance(text, float) and not math.isfinite(text):
        return ""
    value = str(text)
    if any(character in value for character in "\r\n\x00"):
        value = " ".join(value.replace("\x00", " ").splitlines()).strip()
    return value


def _text(value: Any) -> str:
    """An identity field (key, path, target id) as str, kept exactly: it must match the candidate table."""
    if value is None:
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return ""
    return str(value)


# Fields written as they are (a time stamp, a number); every other one goes through _encode_field.
_RAW_FIELDS = frozenset({"time", "score"})
_QUOTE = "'"
_ESCAPED = "'%"  # unambiguous: a text beginning with "'%" itself is written "''%..."
_MUST_ESCAPE = re.compile("[%\r\n\x00\ud800-\udfff]")
_MUST_ESCAPE_IN_TEXT = re.compile("[\r\n\x00\ud800-\udfff]")
_ESCAPE_CODE = re.compile("%([0-9A-F]{2})")


def _escape_character(match: re.Match[str]) -> str:
    character = match.group(0)
    code = ord(character)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for the byte code - 0xDC00
        return f"%{code - 0xDC00:02X}"
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError(f"a lone surrogate {character!r} (not text, not a file-name byte) cannot be stored")
    return f"%{code:02X}"


def _unescape_code(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code < 0x80 else chr(0xDC00 + code)


def _encode_field(value: str) -> str:
    """``value`` as written to the file: formula-safe for spreadsheets, valid UTF-8, one line; see the module doc."""
    if _MUST_ESCAPE_IN_TEXT.search(value):
        return _ESCAPED + _MUST_ESCAPE.sub(_escape_character, value)
    if value.startswith(_QUOTE) and value[1:].startswith((*FORMULA_PREFIXES, _QUOTE, "%")):
        return _QUOTE + value  # would read back as neutralised or escaped: one more quote says it is not
    return neutralize_formula(value)


def _decode_field(text: str) -> str:
    """Undo :func:`_encode_field` (text written by older versions comes back unchanged unless it begins with ``'``)."""
    if text.startswith(_ESCAPED):
        return _ESCAPE_CODE.sub(_unescape_code, text[len(_ESCAPED):])
    if text.startswith(_QUOTE) and text[1:].startswith((*FORMULA_PREFIXES, _QUOTE)):
        return text[1:]
    return text


def _encoded_row(record: VerdictRecord) -> list[str]:
    """The record's fields as written; ValueError (nothing written yet) for a field the file cannot hold."""
    row = []
    for name, value in zip(RECORD_COLUMNS, record.as_row(), strict=True):
        text = value if name in _RAW_FIELDS else _encode_field(value)
        if len(text) > MAX_FIELD_CHARACTERS:
            raise ValueError(f"the {name} is {len(text):,} characters long as written; a verdict file keeps at most "
                             f"{MAX_FIELD_CHARACTERS:,} per field (shorten it; nothing was written)")
        row.append(text)
    return row


_FIELD_LIMIT_LOCK = threading.Lock()


def _split_fields(text: str) -> list[str]:
    """The CSV fields of one line; a field over the csv module's limit (files of older versions) is read too."""
    try:
        return next(csv.reader([text]))
    except csv.Error as error:
        if "field limit" not in str(error):
            raise
    # The limit is process-wide: raise it for this line only, under a lock.
    with _FIELD_LIMIT_LOCK:
        previous = csv.field_size_limit(max(len(text), csv.field_size_limit()))
        try:
            return next(csv.reader([text]))
        finally:
            csv.field_size_limit(previous)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def _format_line(values: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


_HEADER_LINE = _format_line(list(RECORD_COLUMNS))


def _fsync_directory(directory: Path) -> None:
    """Make a newly created file's directory entry durable too (POSIX needs a separate fsync)."""
    try:
        descriptor = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


class _Parser:
    """Turns the bytes of a verdict file into records, warning about lines it cannot use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns: list[str] | None = None
        self.line_number = 0  # lines consumed so far
        # An unterminated line already reported: the next bytes up to a newline still belong to it.
        self._inside_reported_line = False

    def _warn(self, line_number: int, message: str) -> None:
        warnings.warn(f"{self.path}, line {line_number}: {message}; the line is ignored, the rest kept",
                      VerdictFileWarning, stacklevel=4)

    def parse(self, data: bytes, *, final: bool) -> tuple[list[VerdictRecord], int]:
        """Records in ``data`` and how many bytes were used.

        Without ``final`` an unterminated last line is left for later (it may still be being written
        by another process); with ``final`` (the file is locked, no writer can be in the middle) it
        is reported as half-written and consumed.
        """
        records: list[VerdictRecord] = []
        used = 0
        lines = data.split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        if self._inside_reported_line and complete:
            used += len(complete[0]) + 1
            complete = complete[1:]
            self._inside_reported_line = False
        for raw in complete:
            used += len(raw) + 1
            self.line_number += 1
            record = self._parse_line(raw, self.line_number)
            if record is not None:
                records.append(record)
        if tail and final and self.columns is None and not self._inside_reported_line:
            self._parse_line(tail, self.line_number + 1, header_only=True)  # sets the columns if it is the header
            if self.columns is not None:
                # A complete header that only lacks its end of line: the next append adds one.
                used += len(tail)
                self.line_number += 1
                self._inside_reported_line = True
                tail = b""
        if tail and not self._inside_reported_line:
            if final:
                used += len(tail)
                self.line_number += 1
                self._inside_reported_line = True
                self._warn(self.line_number, f"incomplete record ({len(tail)} bytes, no end of line: "
                                             "half-written when a process or the machine stopped?)")
        return records, used

    def _parse_line(self, raw: bytes, line_number: int, *, header_only: bool = False) -> VerdictRecord | None:
        if line_number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]  # Excel's byte-order mark would stick to the first column name
        if not raw.strip():
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if header_only:
                return None
            self._warn(line_number, "not valid UTF-8 text")
            return None
        try:
            values = _split_fields(text)
        except (csv.Error, StopIteration) as error:
            if header_only:
                return None
            self._warn(line_number, f"not a CSV record ({error})")
            return None
        if header_only:
            if values == list(RECORD_COLUMNS):
                self.columns = values
            return None
        if self.columns is None:
            if "action" not in values or "key" not in values:
                raise LabelError(
                    f"line {line_number} is not the header of a verdict file (expected columns "
                    f"{', '.join(RECORD_COLUMNS)}); is this a verdict file written by qusi_lab?", self.path)
            self.columns = values
            return None
        if values == self.columns:
            return None  # a repeated header (files concatenated by hand): harmless
        if len(values) != len(self.columns):
            self._warn(line_number, f"{len(values)} fields where the header has {len(self.columns)} (corrupt record)")
            return None
        row = {name: value if name in _RAW_FIELDS else _decode_field(value)
               for name, value in zip(self.columns, values, strict=True)}
        action = row.get("action", "")
        if action not in ACTIONS:
            self._warn(line_number, f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
            return None
        if not row.get("key"):
            self._warn(line_number, "no candidate key")
            return None
        if action == "verdict" and not row.get("verdict"):
            self._warn(line_number, "a verdict record without a verdict")
            return None
        try:
            score = float(row["score"]) if row.get("score") else math.nan
        except ValueError:
            self._warn(line_number, f"score {row.get('score')!r} is not a number")
            return None
        known = {field.name for field in fields(VerdictRecord)}
        arguments = {name: value for name, value in row.items() if name in known and name != "score"}
        for name in ("time", "user", "session"):
            arguments.setdefault(name, "")
        return VerdictRecord(score=score, **arguments)
