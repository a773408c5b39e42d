"""Skipped files, collected where the user can read them: ``dataset.problems``.

A stream skips a light curve it cannot load or preprocess and records a
*problem* (path, error, stage). Recording must work from DataLoader worker
processes too, and the records must reach the main process without touching
the stream's output (batches stay ``(x, y)``) and without anything that can
block a worker.

The design: each :class:`ProblemLog` keeps records made in its own process in
memory. Before a stream is handed to a DataLoader, the main process calls
:meth:`ProblemLog.prepare_for_workers`, which creates a private temporary
*spool directory* (under the system temp dir, never the working directory,
removed when the log is garbage collected or the program exits). A worker
process, holding a copy of the log (inherited by fork or unpickled under
spawn/forkserver), appends each new problem as one JSON line to its own file
``<pid>.jsonl`` there. Reading :attr:`ProblemLog.frame` in the main process
merges memory and spool files. No queue, no lock, no feeder thread: a worker
never waits on the main process, whatever the start method.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qusi_lab.errors import QusiLabError

__all__ = [
    "PROBLEM_COLUMNS",
    "ProblemLog",
    "DatasetLayoutError",
    "NoUsableLightCurvesError",
    "describe_error",
]

PROBLEM_COLUMNS: tuple[str, str, str] = ("path", "error", "stage")


class DatasetLayoutError(QusiLabError, ValueError):
    """A dataset directory is empty or not laid out as one sub-folder per class."""


class NoUsableLightCurvesError(QusiLabError, RuntimeError):
    """A stream found no light curve it could use (every file failed, or too many failed in a row)."""


def describe_error(error: BaseException) -> str:
    """``"TypeName: message"``, the form stored in the problems table.

    Example
    -------
    >>> describe_error(ValueError("bad flux column"))
    'ValueError: bad flux column'
    """
    return f"{type(error).__name__}: {error}"


def _remove_spool(directory: str, owner_pid: int) -> None:
    # Forked workers inherit the finalizer: only the process that made the directory removes it.
    if os.getpid() == owner_pid:
        shutil.rmtree(directory, ignore_errors=True)


class ProblemLog:
    """Problems (path, error, stage) recorded by a dataset and its streams, in any process.

    Example
    -------
    >>> log = ProblemLog()
    >>> log.record("bad.fits", "LightCurveReadError: truncated file", "load")
    True
    >>> log.record("bad.fits", "LightCurveReadError: truncated file", "load")  # recorded once
    False
    >>> log.frame()
           path                                error stage
    0  bad.fits  LightCurveReadError: truncated file  load
    """

    def __init__(self) -> None:
        self._owner_pid = os.getpid()
        self._records: list[tuple[str, str, str]] = []
        self._seen: set[tuple[str, str, str]] = set()
        self._spool: str | None = None
        self._finalizer: weakref.finalize | None = None

    # ------------------------------------------------------------ pickling (spawn/forkserver workers)
    def __getstate__(self) -> dict[str, Any]:
        return {"owner_pid": self._owner_pid, "records": list(self._records), "spool": self._spool}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._owner_pid = state["owner_pid"]
        self._records = list(state["records"])
        self._seen = set(self._records)
        self._spool = state["spool"]
        self._finalizer = None  # a copy never deletes the owner's spool directory

    # ------------------------------------------------------------ writing
    def prepare_for_workers(self) -> None:
        """Create the spool directory workers write to (call in the main process; idempotent)."""
        if self._spool is not None or os.getpid() != self._owner_pid:
            return
        self._spool = tempfile.mkdtemp(prefix="qusi_lab_problems_")
        self._finalizer = weakref.finalize(self, _remove_spool, self._spool, self._owner_pid)

    def record(self, path: Any, error: str | BaseException, stage: str) -> bool:
        """Record one problem; returns False if the same (path, error, stage) was already recorded here."""
        message = describe_error(error) if isinstance(error, BaseException) else str(error)
        key = (str(path), message, str(stage))
        if key in self._seen:
            return False
        self._seen.add(key)
        self._records.append(key)
        if os.getpid() != self._owner_pid and self._spool is not None:
            line = json.dumps(dict(zip(PROBLEM_COLUMNS, key, strict=True))) + "\n"
            try:
                # One write of one line in append mode: lines from different workers never interleave
                # (each worker has its own file anyway).
                with open(Path(self._spool) / f"{os.getpid()}.jsonl", "a", encoding="utf-8") as handle:
                    handle.write(line)
            except OSError:
                pass  # the spool went away (main process finished): nobody is left to read it
        return True

    def clear(self) -> None:
        """Forget every recorded problem (memory and spool files)."""
        self._records.clear()
        self._seen.clear()
        if self._spool is not None and os.getpid() == self._owner_pid:
            for file in Path(self._spool).glob("*.jsonl"):
                file.unlink(missing_ok=True)

    # ------------------------------------------------------------ reading
    def records(self) -> list[tuple[str, str, str]]:
        """Every distinct problem recorded in this process or by its workers, in order of discovery."""
        merged = list(self._records)
        if self._spool is not None and os.path.isdir(self._spool):
            for file in sorted(Path(self._spool).glob("*.jsonl"), key=lambda item: item.stat().st_mtime):
                merged.extend(_read_spool_file(file))
        unique: dict[tuple[str, str, str], None] = dict.fromkeys(merged)
        return list(unique)

    def frame(self) -> Any:
        """The problems as a pandas DataFrame with columns ``path``, ``error``, ``stage``."""
        import pandas as pd

        return pd.DataFrame(self.records(), columns=list(PROBLEM_COLUMNS))

    def __len__(self) -> int:
        return len(self.records())

    def __repr__(self) -> str:
        return f"ProblemLog({len(self)} problems)"


def _read_spool_file(file: Path) -> Iterable[tuple[str, str, str]]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written right now; it will be complete at the next read
        rows.append((str(item["path"]), str(item["error"]), str(item["stage"])))
    return rows
