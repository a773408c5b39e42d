"""`CandidateTable`: the ranked output of :func:`~qusi_lab.inference.infer`, and reading/writing it.

A :class:`CandidateTable` *is* a :class:`pandas.DataFrame` (a subclass: every DataFrame
method works and returns a CandidateTable) with one row per light curve, highest score
first, and metadata in :attr:`~pandas.DataFrame.attrs` (model bundle, qusi_lab version,
task, preprocessing, files that could not be used ...). Columns:

=====================  ==================================================================
``rank``               1 for the highest score
``path``               the file (or ``<light curve i>`` for curves given in memory)
``target_id``          ``"TIC 25155310"``, ``"KIC 1234567"`` ...
``mission``            ``TESS``, ``Kepler``, ``K2`` (empty when unknown)
``sector``             TESS sector (``quarter``/``campaign`` columns appear for Kepler/K2)
``label``              the known label, when the input was a labelled dataset
``score``              binary: probability of the positive class; multiclass: probability of
                       the ranked class (``attrs["score"]`` says which); regression: the prediction
``score_<class>``      multiclass: the probability of each class, and ``predicted`` (the most
                       probable class); the names :func:`qusi_lab.training.evaluate` uses
``prediction``         regression: the predicted value
``period`` ...         transit estimate from box least squares for the top candidates
                       (``period`` and ``epoch`` in days, ``duration_hours``, ``depth_ppm``,
                       ``bls_snr``, ``bls_power``, ``transit_count``); NaN where not searched
``period`` ...         heartbeat models instead (``attrs["period_method"] == "heartbeat"``):
                       the heartbeat search's ``period``, ``epoch`` (a periastron),
                       ``heartbeat_amplitude_ppm``, ``heartbeat_snr``,
                       ``heartbeat_eccentricity``, ``heartbeat_passages``; no transit columns
=====================  ==================================================================

Example
-------
>>> table = infer(model, "data/sector_01")                       # doctest: +SKIP
>>> table.head(20)                                               # doctest: +SKIP
>>> table.save("candidates.parquet")                             # doctest: +SKIP
>>> CandidateTable.load("candidates.parquet").attrs["model"]     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from qusi_lab.core.jsonable import dumps, to_jsonable
from qusi_lab.errors import QusiLabError
from qusi_lab.io.spreadsheet import neutralize_cell, restore_cell

__all__ = [
    "CandidateTable",
    "PROBLEM_COLUMNS",
    "TableWriteError",
    "save_candidates",
    "read_candidates",
    "metadata_path",
]


class TableWriteError(QusiLabError, OSError):
    """A table could not be written (disk full, no permission ...); the previous file, if any, is unchanged."""

PROBLEM_COLUMNS: tuple[str, str, str] = ("path", "error", "stage")


class CandidateTable(pd.DataFrame):
    """A ranked table of light curves: a pandas DataFrame with :attr:`problems`, :meth:`top` and :meth:`save`.

    Metadata lives in ``attrs`` (plain JSON values, so Parquet keeps it):
    ``model`` (bundle folder), ``qusi_lab_version``, ``task``, ``label_names``,
    ``positive_class``, ``score`` (what the score column means), ``input_length``,
    ``preprocessing``, ``created``, ``light_curves``, ``scored``, ``not_scored`` (curves that
    could not be read, preprocessed or given a finite score), ``period_search_failed`` (scored
    curves whose period search failed: they keep their score), ``unlisted_folders``,
    ``problems``, ``period_search``, ``period_method`` (``"bls"``, ``"heartbeat"`` or None).

    Example
    -------
    >>> table = CandidateTable({"rank": [1, 2], "path": ["a.fits", "b.fits"], "score": [0.9, 0.2]})
    >>> table.attrs["problems"] = [{"path": "c.fits", "error": "LightCurveReadError: truncated", "stage": "load"}]
    >>> type(table.head(1)).__name__, len(table.problems)
    ('CandidateTable', 1)
    """

    _metadata: list[str] = []

    @property
    def _constructor(self) -> type[CandidateTable]:
        return CandidateTable

    @property
    def problems(self) -> pd.DataFrame:
        """What went wrong, one row each: a DataFrame with columns path, error, stage.

        Stages: ``discover`` (a folder that could not be listed), ``load``, ``preprocess``,
        ``score`` (a non-finite score; these curves are not ranked) and ``period_search``
        (the curve was scored and ranked, only its period estimate is missing).
        """
        records = self.attrs.get("problems") or []
        return pd.DataFrame(list(records), columns=list(PROBLEM_COLUMNS))

    @property
    def frame(self) -> pd.DataFrame:
        """A plain :class:`pandas.DataFrame` copy (metadata kept in ``attrs``)."""
        plain = pd.DataFrame(self)
        plain.attrs = dict(self.attrs)
        return plain

    def top(self, n: int = 10) -> CandidateTable:
        """The ``n`` best-ranked rows."""
        return self.sort_values("rank").head(n) if "rank" in self else self.head(n)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the table to ``.csv`` (+ ``.meta.json``) or ``.parquet`` (by suffix); returns the path.

        The same as :func:`save_candidates` (object first, path second, as everywhere in qusi_lab).

        Example
        -------
        >>> import tempfile
        >>> table = CandidateTable({"rank": [1], "path": ["a.fits"], "score": [0.5]})
        >>> CandidateTable.load(table.save(tempfile.mkdtemp() + "/candidates.parquet")).score.tolist()
        [0.5]
        """
        return save_candidates(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CandidateTable:
        """A table written by :meth:`save` (metadata back in ``attrs``); the same as :func:`read_candidates`.

        ``save`` and ``load`` pair up as for :class:`~qusi_lab.models.Model` (``model.save(path)``, ``ql.load(path)``).
        """
        return read_candidates(path)


def metadata_path(path: str | os.PathLike[str]) -> Path:
    """Where :func:`save_candidates` puts the metadata of a CSV table: ``candidates.csv`` -> ``candidates.meta.json``."""
    path = Path(path)
    return path.with_name(path.name[: -len(".csv")] + ".meta.json") if path.name.lower().endswith(".csv") \
        else path.with_name(path.name + ".meta.json")



def _temporary_beside(path: Path) -> Path:
    """An empty temporary file in ``path``'s folder (same file system, so :func:`os.replace` is atomic)."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    return Path(name)


def _write_error(path: Path, error: OSError) -> TableWriteError:
    cause = error.strerror or str(error) or type(error).__name__
    return TableWriteError(
        f"{path}: cannot write the table ({cause.lower()}); the previous file, if any, is unchanged")


def _write_atomically(writes: list[tuple[Path, Callable[[Path], object]]]) -> None:
    """Run each ``write(temporary)``, then move every temporary file onto its path.

    Nothing is replaced until every file is written, so a full disk or a failing writer
    leaves the previous table *and* its metadata as they were (never a 0-byte table).
    Raises :class:`TableWriteError` naming the path and the cause.
    """
    temporaries: list[Path] = []
    try:
        for path, write in writes:
            try:
                temporary = _temporary_beside(path)
            except OSError as error:
                raise _write_error(path, error) from error
            temporaries.append(temporary)
            try:
                write(temporary)
            except OSError as error:
                raise _write_error(path, error) from error
        for (path, _), temporary in zip(writes, temporaries, strict=True):
            try:
                os.replace(temporary, path)
            except OSError as error:
                raise _write_error(path, error) from error
    finally:
        for temporary in temporaries:
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)


def _neutralized(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells starting with a formula character get a leading ``'`` (numbers are left alone)."""
    text_columns = [column for column in frame.columns
                    if pd.api.types.is_object_dtype(frame[column]) or pd.api.types.is_string_dtype(frame[column])]
    if not text_columns:
        return frame
    frame = frame.copy()
    for column in text_columns:
        frame[column] = frame[column].map(neutralize_cell)
    return frame


def save_candidates(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a candidate table to ``.csv`` or ``.parquet`` (by suffix); returns the path.

    CSV is a plain table any program reads (``pandas.read_csv`` included), with the
    metadata (``attrs``) beside it in ``<name>.meta.json``. Parquet keeps the metadata in
    the file itself.

    In CSV, text cells that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, tab or carriage return, e.g. a ``target_id`` taken from a user's
    file) are prefixed with ``'`` (:func:`qusi_lab.io.spreadsheet.neutralize_formula`);
    numbers, negative ones included, are written as numbers. :func:`read_candidates`
    removes the quote again. Lines end in CRLF as RFC 4180 says, which also makes the
    writer quote any cell holding a carriage return (with ``\n`` line ends it does not,
    and the row would split in two).

    Files are written to a temporary file in the same folder and then renamed over
    ``path``: a full disk raises :class:`TableWriteError` (naming the path and the cause)
    and leaves the previous table and its metadata intact.

    Example
    -------
    >>> import tempfile
    >>> table = CandidateTable({"rank": [1], "path": ["a.fits"], "score": [0.5]})
    >>> table.attrs["task"] = "binary"
    >>> saved = save_candidates(table, tempfile.mkdtemp() + "/candidates.csv")
    >>> read_candidates(saved).attrs["task"]
    'binary'
    """
    path = Path(path)
    suffix = path.name.lower()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(path, error) from error
    attrs = to_jsonable(dict(table.attrs))
    plain = pd.DataFrame(table)
    if suffix.endswith(".csv"):
        plain = _neutralized(plain)
        plain.attrs = {}
        meta = metadata_path(path)
        writes: list[tuple[Path, Callable[[Path], object]]] = [
            (path, lambda temporary: plain.to_csv(temporary, index=False, lineterminator="\r\n"))]
        if attrs:
            text = dumps(attrs, indent=1) + "\n"
            writes.append((meta, lambda temporary: temporary.write_text(text, encoding="utf-8")))
        _write_atomically(writes)
        if not attrs and meta.exists():
            meta.unlink()  # a stale description of an earlier table
    elif suffix.endswith((".parquet", ".pq")):
        plain.attrs = attrs  # pandas stores attrs as JSON in the Parquet schema metadata
        _write_atomically([(path, lambda temporary: plain.to_parquet(temporary, index=False))])
    else:
        raise ValueError(f"{path}: unknown table format; use a .csv or .parquet file name")
    return path


def read_candidates(path: str | os.PathLike[str]) -> CandidateTable:
    """Read a table written by :func:`save_candidates` (metadata back in ``attrs``), or a survey folder.

    A folder written by survey inference (``ql.infer(..., scheduler=..., out=folder)``) gives its
    ranked table: ``candidates.parquet`` when the run finished, else its Parquet parts merged
    (:func:`qusi_lab.inference.survey.read_survey`).

    CSV text cells that :func:`save_candidates` guarded against formula injection
    (``'=...``) come back as written (``=...``).

    Raises ``FileNotFoundError`` when the file does not exist, ``ValueError`` for an
    unknown suffix.
    """
    path = Path(path)
    if path.is_dir():  # a survey folder (infer with a scheduler): its merged table, or its parts merged
        from qusi_lab.inference.survey import read_survey

        return read_survey(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such candidate table")
    suffix = path.name.lower()
    if suffix.endswith(".csv"):
        frame = pd.read_csv(path)
        for column in frame.columns:  # undo save_candidates' formula guard ('=x -> =x)
            if pd.api.types.is_object_dtype(frame[column]):
                frame[column] = frame[column].map(restore_cell)
        attrs: dict[str, Any] = {}
        meta = metadata_path(path)
        if meta.is_file():
            try:
                attrs = json.loads(meta.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                attrs = {}
    elif suffix.endswith((".parquet", ".pq")):
        frame = pd.read_parquet(path)
        attrs = dict(frame.attrs)
    else:
        raise ValueError(f"{path}: unknown table format; use a .csv or .parquet file name")
    table = CandidateTable(frame)
    table.attrs = attrs
    return table
