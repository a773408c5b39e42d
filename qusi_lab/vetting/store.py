"""Verdicts on disk: an append-only CSV that survives crashes and shared use.

:class:`VerdictStore` keeps every verdict a vetter gives in a plain CSV file (one record per
line, readable by ``pandas.read_csv`` or a spreadsheet)::

    time,user,session,action,key,target_id,sector,path,verdict,note,score,model
    2026-11-22T10:03:04.512+00:00,ana,3f9c0a1e,verdict,/data/s01/tess...lc.fits,TIC 25155310,1,...,planet candidate,,0.973,runs/transits

How it stays correct:

* **Nothing is ever rewritten.** A verdict appends a ``verdict`` record; undoing it appends an
  ``undo`` record that carries the verdict the candidate had before (empty: unvetted). The
  state of a candidate is its latest record, whoever wrote it.
* **Every record is on disk before the call returns**: one ``write()`` of the whole line
  under an exclusive ``fcntl.flock``, then ``flush`` and ``os.fsync``. A process killed right
  after a verdict loses nothing; two stores (two panels, two processes) appending to one
  file at once never interleave their lines.
* **Damage is reported, not fatal.** A half-written last line (a machine crash mid-write) or
  a line that does not parse is skipped with a :class:`VerdictFileWarning` naming the file and
  the line; every other record is kept. The next append starts on a fresh line. A file that
  begins with a UTF-8 byte-order mark (Excel writes one) reads like any other.
* **What is written reads back exactly.** Text cells that a spreadsheet would run as a formula
  (beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: "CSV injection") are
  written with a leading ``'``, as OWASP recommends, and a text that itself begins with ``'``
  followed by one of those, ``'`` or ``%`` gets one more ``'``; reading removes exactly one.
  A key, path or target id that holds a line break, a NUL or bytes that are not UTF-8 (a file
  name from ``os.fsdecode(b"\\xff.fits")``) is written as ``'%`` and the text with those
  characters and ``%`` as ``%XX`` (the byte, for non-UTF-8 ones), so the file stays valid UTF-8
  text, one record per line, and the key matches the candidate table again when read back.
  A field longer than :data:`MAX_FIELD_CHARACTERS` once written (a pasted 200 kB note) is refused
  with a ``ValueError`` before anything is written: the ``csv`` module, and with it every later
  read, would otherwise skip the line.

:func:`read_verdicts` exports the file as a DataFrame (every record, or the current verdict of
each candidate) and :func:`dataset_from_verdicts` turns verdicts into a
:class:`~qusi_lab.data.LightCurveDataset` for the next training round.

Example
-------
>>> import tempfile
>>> store = VerdictStore(tempfile.mkdtemp() + "/labels.csv", user="ana")
>>> _ = store.record("TIC 1/1", "planet candidate", target_id="TIC 1", score=0.9)
>>> _ = store.record("TIC 2/1", "eclipsing binary", target_id="TIC 2", score=0.8)
>>> _ = store.undo()              # takes back the eclipsing binary
>>> {key: record.verdict for key, record in store.state.items()}
{'TIC 1/1': 'planet candidate', 'TIC 2/1': ''}
>>> store.verdict_of("TIC 2/1") is None
True
"""

from __future__ import annotations

import fcntl
import getpass
import math
import os
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from qusi_lab.errors import LabelError

# The file format (columns, record, line encoding, parser) is in _verdict_file; its public names are imported
# from here, as before the split.
from qusi_lab.vetting._verdict_file import (
    _HEADER_LINE,
    ACTIONS,
    MAX_FIELD_CHARACTERS,
    RECORD_COLUMNS,
    VerdictFileWarning,
    VerdictRecord,
    _clean,
    _encoded_row,
    _format_line,
    _fsync_directory,
    _now,
    _Parser,
    _text,
)

__all__ = [
    "ACTIONS",
    "DEFAULT_VERDICTS",
    "MAX_FIELD_CHARACTERS",
    "RECORD_COLUMNS",
    "VerdictFileWarning",
    "VerdictRecord",
    "VerdictStore",
    "dataset_from_verdicts",
    "read_verdicts",
]

#: The verdict buttons of a panel unless told otherwise (digits 1-6 in this order).
DEFAULT_VERDICTS: tuple[str, ...] = (
    "planet candidate",
    "eclipsing binary",
    "heartbeat star",
    "variable",
    "systematic",
    "unsure",
)


class VerdictStore:
    """An append-only verdict file, safe against crashes and against other writers.

    Parameters
    ----------
    path:
        The CSV file (created with its header, and its folder, when missing).
    user:
        Written into every record (default: the login name).
    model:
        The model bundle whose scores are being vetted (written into every record).
    session:
        Id of this store's records (default: random); :meth:`undo` only takes back verdicts
        of its own session.

    Attributes
    ----------
    path:
        The file.
    state:
        The latest record of every candidate (key -> :class:`VerdictRecord`), refreshed with
        what other writers appended by :meth:`refresh`.
    records:
        Every valid record read or written, in file order.

    Example
    -------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/labels.csv"
    >>> _ = VerdictStore(path, user="ana").record("a.fits", "variable", note="spots, P~3 d")
    >>> VerdictStore(path).verdict_of("a.fits")        # a second store (another panel) sees it
    'variable'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        user: str | None = None,
        model: str | os.PathLike[str] | None = None,
        session: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.user = _clean(user) if user is not None else _default_user()
        self.model = "" if model is None else _clean(os.fspath(model))
        self.session = _clean(session) if session is not None else uuid.uuid4().hex[:12]
        self.state: dict[str, VerdictRecord] = {}
        self.records: list[VerdictRecord] = []
        self._parser = _Parser(self.path)
        self._offset = 0
        # Verdicts of this session that undo() may take back: (record, the state it replaced).
        self._undo_stack: list[tuple[VerdictRecord, VerdictRecord | None]] = []
        self._listeners: list[Any] = []
        self._create()
        self.refresh(final=True)
        if self._parser.columns is None:
            # Truncated inside its header (or not text): appending would leave rows nobody can read.
            raise LabelError("no complete header line (a truncated or damaged verdict file?); move it aside "
                             "and open a new file", self.path)

    # ------------------------------------------------------------------ file handling
    def _open_for_append(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)

    def _create(self) -> None:
        """Create the file with its header if it is missing or empty (under the lock: two creators are fine)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        descriptor = self._open_for_append()
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                if os.fstat(descriptor).st_size == 0:
                    os.write(descriptor, _HEADER_LINE)
                    os.fsync(descriptor)
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)
        if not existed:
            _fsync_directory(self.path.parent)

    def refresh(self, *, final: bool = False) -> list[VerdictRecord]:
        """Read what was appended since the last read (other panels' verdicts); returns those records.

        Cheap when nothing changed (one ``stat``). ``final=True`` takes the lock and reports an
        unterminated last line as half-written (done when the store opens).
        """
        try:
            size = self.path.stat().st_size
        except FileNotFoundError as error:
            raise LabelError("the verdict file disappeared while in use", self.path) from error
        if size == self._offset and not final:
            return []
        with open(self.path, "rb") as handle:
            if final:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            try:
                handle.seek(self._offset)
                data = handle.read()
            finally:
                if final:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        records, used = self._parser.parse(data, final=final)
        self._offset += used
        for record in records:
            self._apply(record)
        if records:
            for listener in list(self._listeners):
                listener(records)
        return records

    def _apply(self, record: VerdictRecord) -> None:
        self.records.append(record)
        self.state[record.key] = record

    def on_change(self, callback: Any) -> None:
        """Call ``callback(records)`` whenever :meth:`refresh` reads records written by someone else."""
        self._listeners.append(callback)

    def _append(self, record: VerdictRecord) -> None:
        """Write one record durably: a single write() of the whole line under the lock, then fsync.

        Raises ValueError before writing anything when a field cannot be stored (see :func:`_encoded_row`).
        """
        line = _format_line(_encoded_row(record))
        descriptor = self._open_for_append()
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                size = os.fstat(descriptor).st_size
                if size == 0:
                    line = _HEADER_LINE + line  # the file was emptied behind our back: keep it readable
                else:
                    # A half-written last line (crash mid-write) must not swallow this record.
                    if os.pread(descriptor, 1, size - 1) != b"\n":
                        line = b"\n" + line
                written = os.write(descriptor, line)
                if written != len(line):  # a full disk: say so rather than leave a silent half record
                    raise OSError(f"{self.path}: only {written} of {len(line)} bytes written (disk full?)")
                os.fsync(descriptor)
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            os.close(descriptor)

    # ------------------------------------------------------------------ public API
    def record(
        self,
        key: str,
        verdict: str,
        *,
        note: str = "",
        target_id: Any = "",
        sector: Any = "",
        path: Any = "",
        score: float | None = None,
        model: str | os.PathLike[str] | None = None,
    ) -> VerdictRecord:
        """Append a verdict for candidate ``key`` and return its record (on disk when this returns).

        ``key``, ``target_id`` and ``path`` are kept exactly; in ``verdict`` and ``note`` line breaks
        become spaces (one record, one line). Reopening the file gives back this record, field for field.

        Raises
        ------
        ValueError
            An empty verdict or key, or a field longer than :data:`MAX_FIELD_CHARACTERS` as written
            (a very long note): nothing is written.

        Example
        -------
        >>> import tempfile
        >>> store = VerdictStore(tempfile.mkdtemp() + "/labels.csv", user="ana")
        >>> store.record("b.fits", "systematic", score=0.71).verdict
        'systematic'
        """
        verdict = _clean(verdict)
        if not verdict:
            raise ValueError("a verdict cannot be empty")
        key = _text(key)
        if not key:
            raise ValueError("a candidate key cannot be empty")
        self.refresh()  # so the state undo() restores is the latest, whoever wrote it
        previous = self.state.get(key)
        record = VerdictRecord(
            time=_now(), user=self.user, session=self.session, action="verdict", key=key,
            target_id=_text(target_id), sector=_text(_integer_text(sector)), path=_text(path),
            verdict=verdict, note=_clean(note), score=_as_float(score),
            model=self.model if model is None else _clean(os.fspath(model)),
        )
        self._append(record)
        self._sync_after_write(record)
        self._undo_stack.append((record, previous))
        return record

    def _sync_after_write(self, record: VerdictRecord) -> None:
        # Read our own line back through the normal path so records/state/offset stay in file order
        # (another writer may have appended between our last read and our write).
        before = len(self.records)
        self.refresh()
        if len(self.records) == before or self.records[-1].as_row() != record.as_row():
            # Not found at the end (cannot normally happen): keep memory consistent anyway.
            self._apply(record)

    @property
    def can_undo(self) -> bool:
        """Whether this session has a verdict left to take back."""
        return bool(self._undo_stack)

    def undo(self) -> VerdictRecord | None:
        """Take back this session's latest verdict (appends an ``undo`` record); None when nothing is left.

        The candidate gets back the verdict it had before (or none). Undo again to go further back.
        """
        if not self._undo_stack:
            return None
        undone, previous = self._undo_stack[-1]  # popped once written: a failed write leaves it to retry
        self.refresh()
        record = VerdictRecord(
            time=_now(), user=self.user, session=self.session, action="undo", key=undone.key,
            target_id=undone.target_id, sector=undone.sector, path=undone.path,
            verdict="" if previous is None else previous.verdict,
            note="" if previous is None else previous.note,
            score=undone.score, model=undone.model,
        )
        self._append(record)
        self._undo_stack.pop()
        self._sync_after_write(record)
        return record

    def verdict_of(self, key: str) -> str | None:
        """The current verdict of candidate ``key`` (None when unvetted or undone)."""
        record = self.state.get(key)
        return record.verdict if record is not None and record.verdict else None

    def latest(self) -> VerdictRecord | None:
        """The most recent record in the file (any writer), or None."""
        return self.records[-1] if self.records else None

    def vetted_keys(self) -> set[str]:
        """Keys of every candidate that currently has a verdict."""
        return {key for key, record in self.state.items() if record.verdict}

    def to_frame(self, *, latest: bool = True) -> pd.DataFrame:
        """The verdicts as a DataFrame: the current verdict of each vetted candidate, or every record.

        Columns are :data:`RECORD_COLUMNS`, ``time`` as UTC timestamps, ``score`` float.
        """
        return _frame(self.records, latest=latest)

    def to_dataset(self, *, label_map: Mapping[str, Any] | None = None, **dataset_kwargs: Any) -> Any:
        """The vetted light curves as a :class:`~qusi_lab.data.LightCurveDataset` for the next training round.

        The file as it is now (other writers' verdicts included); ``label_map`` and ``dataset_kwargs`` as in
        :func:`dataset_from_verdicts`.

        Example
        -------
        >>> store = VerdictStore("vetting/transit-labels.csv")                       # doctest: +SKIP
        >>> retrain = store.to_dataset(label_map={"planet candidate": "positive",    # doctest: +SKIP
        ...                                       "eclipsing binary": "negative"})
        """
        return dataset_from_verdicts(self.path, label_map=label_map, **dataset_kwargs)

    def __len__(self) -> int:
        return len(self.vetted_keys())

    def __repr__(self) -> str:
        return (f"VerdictStore({str(self.path)!r}: {len(self)} candidates vetted, {len(self.records)} records, "
                f"user {self.user!r})")


def _default_user() -> str:
    try:
        return _clean(getpass.getuser())
    except (KeyError, OSError):  # no login name in some containers
        return "unknown"


def _as_float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _integer_text(value: Any) -> str:
    """``1.0`` -> ``'1'`` (pandas reads integer columns with gaps as floats)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else (str(int(value)) if value.is_integer() else repr(value))
    try:
        import numpy as np

        if isinstance(value, np.integer):
            return str(int(value))
        if isinstance(value, np.floating):
            return _integer_text(float(value))
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def _frame(records: list[VerdictRecord], *, latest: bool) -> pd.DataFrame:
    if latest:
        state: dict[str, VerdictRecord] = {}
        for record in records:
            state[record.key] = record
        records = [record for record in state.values() if record.verdict]
    frame = pd.DataFrame([record.as_row() for record in records], columns=list(RECORD_COLUMNS))
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce")
    frame["time"] = pd.to_datetime(frame["time"], utc=True, errors="coerce", format="ISO8601")
    return frame


def read_verdicts(path: str | os.PathLike[str], *, latest: bool = True) -> pd.DataFrame:
    """A verdict file as a DataFrame: the current verdict of each vetted candidate (default) or every record.

    Damaged lines are skipped with a :class:`VerdictFileWarning` naming the file and line; a file
    without a complete header line raises :class:`~qusi_lab.errors.LabelError` naming it.

    Example
    -------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/labels.csv"
    >>> store = VerdictStore(path, user="ana")
    >>> _ = store.record("a.fits", "variable"); _ = store.record("a.fits", "systematic")
    >>> read_verdicts(path)[["key", "verdict"]].values.tolist()
    [['a.fits', 'systematic']]
    >>> len(read_verdicts(path, latest=False))
    2
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such verdict file")
    parser = _Parser(path)
    with open(path, "rb") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
        try:
            data = handle.read()
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    records, _ = parser.parse(data, final=True)
    if parser.columns is None:
        raise LabelError("no complete header line: empty, truncated, or not a verdict file", path)
    return _frame(records, latest=latest)


def dataset_from_verdicts(
    verdicts_path_or_frame: str | os.PathLike[str] | pd.DataFrame,
    *,
    label_map: Mapping[str, Any] | None = None,
    **dataset_kwargs: Any,
) -> Any:
    """A :class:`~qusi_lab.data.LightCurveDataset` of the vetted light curves, labelled by their verdicts.

    Parameters
    ----------
    verdicts_path_or_frame:
        A verdict file, or a DataFrame from :func:`read_verdicts` / :meth:`VerdictStore.to_frame`
        (with columns ``path`` and ``verdict``; when it has every record, the latest per ``key`` counts).
    label_map:
        Verdict -> label, e.g. ``{"planet candidate": "positive", "eclipsing binary": "negative"}``;
        verdicts it maps to None, or leaves out, are dropped. Default: each verdict is its own
        class, except ``"unsure"`` (dropped).
    dataset_kwargs:
        Passed to :class:`~qusi_lab.data.LightCurveDataset` (``preprocessing``, ``label_names``,
        ``task``, ``load`` ...). Target ids come from the verdicts unless given.

    Raises
    ------
    LabelError
        When no verdict is left to train on, or vetted candidates have no file path.

    Example
    -------
    >>> dataset = dataset_from_verdicts("vetting/transit-labels.csv",                  # doctest: +SKIP
    ...     label_map={"planet candidate": "positive", "eclipsing binary": "negative",
    ...                "variable": "negative", "systematic": "negative"})
    >>> dataset.class_counts()                                                       # doctest: +SKIP
    """
    from qusi_lab.data import LightCurveDataset

    source_name: str | None = None
    if isinstance(verdicts_path_or_frame, pd.DataFrame):
        frame = verdicts_path_or_frame.copy()
        if "action" in frame and "key" in frame:
            # Every record: the latest per candidate counts (undo records included).
            frame = frame.groupby("key", sort=False).tail(1)
    else:
        source_name = os.fspath(verdicts_path_or_frame)
        frame = read_verdicts(verdicts_path_or_frame, latest=True)
    missing = {"path", "verdict"} - set(frame.columns)
    if missing:
        raise LabelError(f"the verdicts have no {', '.join(sorted(missing))} column", source_name)
    frame = frame[frame["verdict"].fillna("").astype(str) != ""]
    verdicts = frame["verdict"].astype(str)
    if label_map is None:
        labels = verdicts.where(verdicts != "unsure", None)
    else:
        mapping = dict(label_map)
        labels = verdicts.map(lambda verdict: mapping.get(verdict))
    keep = labels.notna().to_numpy()
    frame, labels = frame[keep], labels[keep]
    paths = frame["path"].fillna("").astype(str)
    without_path = paths == ""
    if without_path.any():
        keys = ", ".join(frame.loc[without_path, "key"].astype(str).head(5)) if "key" in frame else ""
        raise LabelError(f"{int(without_path.sum())} vetted candidate(s) have no file path to train on ({keys})",
                         source_name)
    if frame.empty:
        raise LabelError("no verdict left to train on (all unvetted, undone, 'unsure' or unmapped)", source_name)
    if "target_ids" not in dataset_kwargs and "target_id" in frame:
        target_ids = frame["target_id"].fillna("").astype(str)
        if (target_ids != "").all():
            dataset_kwargs["target_ids"] = target_ids.tolist()
    return LightCurveDataset(paths.tolist(), labels.tolist(), **dataset_kwargs)
