"""`CandidateQueue`: which candidate to vet next, with filters, progress and undo (no widgets).

A queue walks a candidate table (:class:`~qusi_lab.inference.CandidateTable` or any DataFrame
with a ``score`` column) highest score first. Two filters choose what it shows:

* ``min_score``: candidates scoring below it are left out (and not counted in the progress);
* ``show``: ``"unvetted"`` (default), ``"all"``, ``"vetted"`` or one verdict (``"eclipsing binary"``).

When the filters leave nothing to show, :meth:`CandidateQueue.why_empty` says why in one sentence and
what to change (a ``min_score`` above every score also warns when it is set).

Every verdict goes straight to a :class:`~qusi_lab.vetting.store.VerdictStore` file, so a queue
opened again on the same file resumes at the best-ranked candidate still unvetted there (in the
table given now: after retraining, the order may differ). A candidate vetted
while showing ``"unvetted"`` stays in the queue until a filter changes, so going back to correct
it works as expected.

Everything is a few numpy operations over per-candidate arrays, so the queue stays fast on a
table of 100,000 candidates (see ``benchmarks/bench_vetting.py``).

Example
-------
>>> import tempfile, pandas as pd
>>> table = pd.DataFrame({"path": ["a.fits", "b.fits", "c.fits"], "target_id": ["TIC 1", "TIC 2", "TIC 3"],
...                       "sector": [1, 1, 1], "score": [0.2, 0.9, 0.6]})
>>> queue = CandidateQueue(table, tempfile.mkdtemp() + "/labels.csv", min_score=0.5)
>>> queue.current.target_id, queue.progress_text
('TIC 2', '0 of 2 vetted')
>>> _ = queue.record("planet candidate")            # written to disk, then on to the next candidate
>>> queue.current.target_id, queue.progress_text
('TIC 3', '1 of 2 vetted')
>>> queue.undo().target_id                          # back to TIC 2, unvetted again
'TIC 2'
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qusi_lab.vetting.store import DEFAULT_VERDICTS, VerdictRecord, VerdictStore, _integer_text

__all__ = ["Candidate", "CandidateQueue", "SHOW_STATES", "candidate_keys", "default_labels_path"]

#: Label-state filters every queue knows, besides one per verdict.
SHOW_STATES: tuple[str, ...] = ("unvetted", "all", "vetted")

_UNVETTED = -1


@dataclass(frozen=True)
class Candidate:
    """One row of the candidate table, as the queue presents it.

    Attributes
    ----------
    position:
        Place in score order (0: the highest score).
    row:
        Row number (``iloc``) in the candidate table.
    key:
        The identity verdicts are recorded under (the file path, or ``"<target_id>/<sector>"``).
    target_id, mission, sector, path, score:
        From the table (empty/NaN when the table lacks them).
    data:
        The whole table row (period, epoch, depth_ppm, magnitude ...).
    """

    position: int
    row: int
    key: str
    target_id: str
    mission: str
    sector: Any
    path: str
    score: float
    data: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def get(self, name: str, default: Any = None) -> Any:
        """A column of the candidate's row; ``default`` when missing or NaN."""
        value = self.data.get(name, default)
        if value is None:
            return default
        try:
            if pd.isna(value):
                return default
        except (TypeError, ValueError):
            pass
        return value


def _text_column(table: pd.DataFrame, name: str) -> np.ndarray:
    if name not in table:
        return np.full(len(table), "", dtype=object)
    column = table[name]
    return np.array(["" if pd.isna(value) else str(value) for value in column], dtype=object)


def _sector_column(table: pd.DataFrame) -> np.ndarray:
    result = np.full(len(table), "", dtype=object)
    for name in ("campaign", "quarter", "sector"):  # the last present wins: sector for TESS
        if name in table:
            values = table[name].to_numpy()
            for index, value in enumerate(values):
                text = _integer_text(value) if not pd.isna(value) else ""
                if text:
                    result[index] = text
    return result


def candidate_keys(table: pd.DataFrame) -> np.ndarray:
    """The key each row's verdicts are stored under: its ``path``, else ``"<target_id>/<sector>"``, else ``"row N"``.

    Example
    -------
    >>> candidate_keys(pd.DataFrame({"path": ["a.fits", "<light curve 1>"], "target_id": ["TIC 1", "TIC 2"],
    ...                              "sector": [3, 3]})).tolist()
    ['a.fits', 'TIC 2/3']
    """
    paths = _text_column(table, "path")
    targets = _text_column(table, "target_id")
    sectors = _sector_column(table)
    keys = np.empty(len(table), dtype=object)
    for index in range(len(table)):
        path = paths[index]
        if path and not path.startswith("<"):
            keys[index] = path
        elif targets[index]:
            keys[index] = f"{targets[index]}/{sectors[index]}" if sectors[index] else targets[index]
        else:
            keys[index] = f"row {index}"
    return keys


def _normalise_target(text: str) -> str:
    return " ".join(str(text).strip().lower().split())


_DIGITS = re.compile(r"(\d+)\s*$")

_VETTING_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep

#: What a verdict file opened by default is called, beside its candidate table.
DEFAULT_LABELS_SUFFIX = "-verdicts.csv"


def default_labels_path(candidates: str | os.PathLike[str]) -> Path:
    """The verdict file used when none is given: ``<table stem>-verdicts.csv`` beside the candidate table.

    The verdict file is a CSV whatever the table's format (:class:`VerdictStore`). An existing file
    is resumed, never overwritten.

    Example
    -------
    >>> default_labels_path("runs/sector_1/candidates.parquet").as_posix()
    'runs/sector_1/candidates-verdicts.csv'
    """
    path = Path(candidates)
    return path.with_name(path.stem + DEFAULT_LABELS_SUFFIX)


def _score_text(value: float) -> str:
    """``value`` with 4 significant digits, rounded down (so "lower min_score to <= 0.9623" keeps the top score)."""
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    text = f"{value:.4g}"
    if float(text) > value:
        step = 10.0 ** (math.floor(math.log10(abs(value))) - 3)
        text = f"{math.floor(value / step) * step:.4g}"
    return text


def _candidates_word(count: int) -> str:
    return f"{count:,} candidate" + ("" if count == 1 else "s")


class CandidateQueue:
    """Candidates highest score first, filtered, with verdicts written to a :class:`VerdictStore`.

    Parameters
    ----------
    candidates:
        A candidate table (DataFrame with ``score``; ``path``, ``target_id``, ``mission``,
        ``sector`` ... when known) or the ``.csv``/``.parquet`` file :func:`save_candidates` wrote.
    labels:
        The verdict file, or a :class:`VerdictStore` already open on it. Default (a table given as a
        file): ``<table stem>-verdicts.csv`` beside it (:func:`default_labels_path`), resumed if it
        exists; a table in memory needs ``labels``.
    verdicts:
        The verdicts offered, in button/digit order.
    min_score:
        Leave out candidates scoring below this (default: none left out). Above every score, a
        ``UserWarning`` names the top score (and :meth:`why_empty` says what to change).
    show:
        ``"unvetted"``, ``"all"``, ``"vetted"`` or one of ``verdicts``.
    user, model:
        Written into every record (default: the login name, and ``attrs["model"]`` of the table).
    score_column:
        The column to rank by.

    Example
    -------
    >>> queue = CandidateQueue("candidates.csv", "vetting/transit-labels.csv", min_score=0.5)  # doctest: +SKIP
    >>> queue.record("eclipsing binary", note="secondary at phase 0.5")                       # doctest: +SKIP
    >>> CandidateQueue("candidates.csv").store.path.name       # verdicts beside the table   # doctest: +SKIP
    'candidates-verdicts.csv'
    """

    def __init__(
        self,
        candidates: pd.DataFrame | str | os.PathLike[str],
        labels: VerdictStore | str | os.PathLike[str] | None = None,
        *,
        verdicts: Sequence[str] = DEFAULT_VERDICTS,
        min_score: float | None = None,
        show: str = "unvetted",
        user: str | None = None,
        model: str | os.PathLike[str] | None = None,
        score_column: str = "score",
    ) -> None:
        default = labels is None
        if isinstance(candidates, (str, os.PathLike)):
            from qusi_lab.inference import read_candidates

            if labels is None:
                labels = default_labels_path(candidates)
            candidates = read_candidates(candidates)
        elif labels is None:
            raise TypeError(
                "labels= is needed when the candidate table is given in memory (there is no table file to put "
                "the verdict file beside): pass labels='vetting/verdicts.csv' (created when missing, resumed when "
                "it exists), or give the table's file (candidates.save('candidates.csv'), then "
                "VettingPanel('candidates.csv')) to keep the verdicts beside it")
        if not isinstance(candidates, pd.DataFrame):
            raise TypeError(f"candidates must be a DataFrame or a table file, got {type(candidates).__name__}")
        if score_column not in candidates:
            raise ValueError(f"the candidate table has no {score_column!r} column; its columns are "
                             f"{', '.join(map(str, candidates.columns))}")
        self.verdicts: tuple[str, ...] = tuple(str(verdict) for verdict in verdicts)
        if not self.verdicts or len(set(self.verdicts)) != len(self.verdicts) or "" in self.verdicts:
            raise ValueError(f"verdicts must be distinct non-empty names, got {list(verdicts)}")
        clash = set(self.verdicts) & set(SHOW_STATES)
        if clash:
            raise ValueError(f"{sorted(clash)} cannot be verdict names (they are filter states)")
        self.table = candidates
        if model is None:
            model = candidates.attrs.get("model") or None
        if isinstance(labels, VerdictStore):
            self.store = labels
        elif default:
            try:
                self.store = VerdictStore(labels, user=user, model=model)
            except OSError as error:  # a read-only folder, a folder of that name ...
                raise type(error)(
                    error.errno, f"{labels}: cannot open the default verdict file beside the candidate table "
                    f"({error.strerror or error}); pass labels= a verdict file you can write") from error
        else:
            self.store = VerdictStore(labels, user=user, model=model)

        scores = pd.to_numeric(candidates[score_column], errors="coerce").to_numpy(dtype=np.float64)
        ranks = (pd.to_numeric(candidates["rank"], errors="coerce").to_numpy(dtype=np.float64)
                 if "rank" in candidates else np.arange(len(candidates), dtype=np.float64))
        sortable = np.where(np.isfinite(scores), -scores, np.inf)  # NaN scores last
        ranks = np.where(np.isfinite(ranks), ranks, np.inf)
        # Highest score first; ties by rank, then by row.
        self._order = np.lexsort((np.arange(len(candidates)), ranks, sortable))
        self._scores = scores[self._order]
        self._keys = candidate_keys(candidates)[self._order]
        self._target_ids = _text_column(candidates, "target_id")[self._order]
        self._missions = _text_column(candidates, "mission")[self._order]
        self._paths = _text_column(candidates, "path")[self._order]
        self._sectors = _sector_column(candidates)[self._order]
        self._position_of_key: dict[str, int] = {}
        for position, key in enumerate(self._keys):
            self._position_of_key.setdefault(key, position)  # duplicates: the best-scored row holds the key
        # Keys listed more than once (one file in two rows) share their verdict.
        self._duplicated_keys = set(pd.Series(self._keys).loc[lambda keys: keys.duplicated()])
        self._target_index: dict[str, list[int]] | None = None
        self._state = np.full(len(candidates), _UNVETTED, dtype=np.int16)
        for key, record in self.store.state.items():
            self._set_state(key, record.verdict)
        self.store.on_change(self._on_store_change)

        finite = self._scores[np.isfinite(self._scores)]
        self.score_range: tuple[float, float] = (float(finite.min()), float(finite.max())) if finite.size \
            else (0.0, 1.0)
        self._min_score = None if min_score is None else float(min_score)
        self._show = self._check_show(show)
        self._visible = np.empty(0, dtype=np.int64)
        self._cursor = -1
        self._recompute_visible(keep=None)
        self._cursor = self._resume_cursor()
        self._warn_if_above_scores()

    # ------------------------------------------------------------------ state per candidate
    def _state_code(self, verdict: str) -> int:
        if not verdict:
            return _UNVETTED
        try:
            return self.verdicts.index(verdict)
        except ValueError:
            return len(self.verdicts)  # a verdict not offered here (another panel's labels)

    def _set_state(self, key: str, verdict: str) -> None:
        position = self._position_of_key.get(key)
        if position is None:
            return
        code = self._state_code(verdict)
        self._state[position] = code
        if key in self._duplicated_keys:
            self._state[np.flatnonzero(self._keys == key)] = code

    def _on_store_change(self, records: list[VerdictRecord]) -> None:
        for record in records:
            self._set_state(record.key, record.verdict)

    # ------------------------------------------------------------------ filters
    def _check_show(self, show: str) -> str:
        allowed = (*SHOW_STATES, *self.verdicts)
        if show not in allowed:
            raise ValueError(f"show must be one of {list(allowed)}, got {show!r}")
        return show

    def _score_mask(self) -> np.ndarray:
        if self._min_score is None:
            return np.ones(self._scores.size, dtype=bool)
        with np.errstate(invalid="ignore"):
            return self._scores >= self._min_score

    def _recompute_visible(self, keep: int | None) -> None:
        mask = self._score_mask()
        if self._show == "unvetted":
            mask &= self._state == _UNVETTED
        elif self._show == "vetted":
            mask &= self._state != _UNVETTED
        elif self._show != "all":
            mask &= self._state == self.verdicts.index(self._show)
        self._visible = np.flatnonzero(mask)
        if self._visible.size == 0:
            self._cursor = -1
        elif keep is None:
            self._cursor = 0
        else:
            # Stay on the candidate shown if it still passes, else the next one in score order.
            self._cursor = min(int(np.searchsorted(self._visible, keep)), self._visible.size - 1)

    @property
    def min_score(self) -> float | None:
        """Candidates scoring below this are left out (None: none are)."""
        return self._min_score

    @min_score.setter
    def min_score(self, value: float | None) -> None:
        self._min_score = None if value is None else float(value)
        self._recompute_visible(keep=self._current_position())
        self._warn_if_above_scores()

    def _above_every_score(self) -> bool:
        """Whether ``min_score`` hides every candidate of a non-empty table (NaN scores never pass it)."""
        return self._min_score is not None and self.total > 0 and not self._score_mask().any()

    def _top_score_advice(self) -> tuple[str, int]:
        """``(the top score as text, rounded down; how many candidates score at least that)``."""
        finite = self._scores[np.isfinite(self._scores)]
        top = _score_text(float(finite.max()))
        return top, int(np.count_nonzero(finite >= float(top)))

    def _warn_if_above_scores(self) -> None:
        if not self._above_every_score():
            return
        # Point the warning at the user's line, past the panel and queue frames in between.
        stacklevel, frame = 1, sys._getframe(0)
        while frame.f_back is not None and frame.f_code.co_filename.startswith(_VETTING_FOLDER):
            frame, stacklevel = frame.f_back, stacklevel + 1
        finite = int(np.count_nonzero(np.isfinite(self._scores)))
        if finite == 0:
            message = (f"min_score={self._min_score:g} hides all {_candidates_word(self.total)}: none has a finite "
                       "score; use min_score=None")
        else:
            top, at_top = self._top_score_advice()
            message = (f"min_score={self._min_score:g} is above all {finite:,} scores (the top score is {top}), "
                       f"so no candidate is shown; at min_score={top}, {_candidates_word(at_top)} would show")
        warnings.warn(message, UserWarning, stacklevel=stacklevel)

    def why_empty(self) -> str | None:
        """Why no candidate is shown, and what to change, in one sentence; None when there are candidates to show.

        Example
        -------
        >>> import tempfile, warnings
        >>> table = pd.DataFrame({"target_id": ["TIC 1", "TIC 2"], "score": [0.9, 0.4]})
        >>> queue = CandidateQueue(table, tempfile.mkdtemp() + "/labels.csv")
        >>> queue.why_empty() is None
        True
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     queue.min_score = 0.95
        >>> queue.why_empty()
        'min_score=0.95 is above all 2 scores (the top score is 0.9): lower min_score to 0.9 or less.'
        """
        if self._visible.size:
            return None
        if self.total == 0:
            return ("The candidate table is empty: there is nothing to vet (for a table from ql.infer, its .problems "
                    "list the light curves that could not be scored).")
        threshold = f"at score ≥ {self._min_score:g}" if self._min_score is not None else "in the table"
        if self._above_every_score():
            finite = int(np.count_nonzero(np.isfinite(self._scores)))
            if finite == 0:
                return (f"min_score={self._min_score:g} hides all {_candidates_word(self.total)}: none has a "
                        "finite score; use min_score=None.")
            top, _ = self._top_score_advice()
            return (f"min_score={self._min_score:g} is above all {finite:,} scores (the top score is {top}): "
                    f"lower min_score to {top} or less.")
        passing = self._score_mask()
        count = int(np.count_nonzero(passing))
        hidden_below = int(np.count_nonzero(~passing & (self._state == _UNVETTED)))
        lower = (f", or lower min_score ({_candidates_word(hidden_below)} below {self._min_score:g} "
                 f"{'is' if hidden_below == 1 else 'are'} unvetted)") if self._min_score is not None and hidden_below else ""
        if self._show == "unvetted":
            every = "The only candidate" if count == 1 else f"All {count:,} candidates"
            return (f"{every} {threshold} {'is' if count == 1 else 'are'} vetted already: set show to 'all' or "
                    f"'vetted' to revisit them{lower}.")
        if self._show == "vetted":
            return (f"None of the {_candidates_word(count)} {threshold} has a verdict yet: set show to 'unvetted' "
                    "to vet them.")
        return (f"None of the {_candidates_word(count)} {threshold} has the verdict {self._show!r}: set show to "
                f"'all' to see every candidate{lower}.")

    @property
    def show(self) -> str:
        """The label-state filter: ``"unvetted"``, ``"all"``, ``"vetted"`` or a verdict."""
        return self._show

    @show.setter
    def show(self, value: str) -> None:
        self._show = self._check_show(value)
        self._recompute_visible(keep=self._current_position())

    @property
    def show_options(self) -> tuple[str, ...]:
        """Every value :attr:`show` accepts."""
        return (*SHOW_STATES, *self.verdicts)

    # ------------------------------------------------------------------ where we are
    def _current_position(self) -> int | None:
        return int(self._visible[self._cursor]) if 0 <= self._cursor < self._visible.size else None

    def _resume_cursor(self) -> int:
        """The best-ranked unvetted candidate shown, in the table as it is now.

        Not "just after the last verdict": a retrained network ranks differently, and unvetted
        candidates ranked above the one vetted last would sit behind the cursor where ``next``
        never reaches them. When every candidate shown is vetted, the first one shown.
        """
        if self._visible.size == 0:
            return -1
        unvetted = np.flatnonzero(self._state[self._visible] == _UNVETTED)
        return int(unvetted[0]) if unvetted.size else 0

    def candidate_at(self, position: int) -> Candidate:
        """The candidate at ``position`` in score order (0: the highest score)."""
        if not 0 <= position < self._order.size:
            raise IndexError(f"position {position} outside the queue of {self._order.size} candidates")
        row = int(self._order[position])
        data = self.table.iloc[row].to_dict()
        return Candidate(
            position=int(position), row=row, key=str(self._keys[position]),
            target_id=str(self._target_ids[position]), mission=str(self._missions[position]),
            sector=self._sectors[position], path=str(self._paths[position]),
            score=float(self._scores[position]), data=data,
        )

    @property
    def current(self) -> Candidate | None:
        """The candidate being vetted (None when no candidate passes the filters)."""
        position = self._current_position()
        return None if position is None else self.candidate_at(position)

    @property
    def index(self) -> int:
        """0-based place of the current candidate among those shown (-1 when none is)."""
        return self._cursor

    def __len__(self) -> int:
        """Candidates shown (passing both filters)."""
        return int(self._visible.size)

    @property
    def total(self) -> int:
        """Every candidate in the table."""
        return int(self._order.size)

    def verdict_of(self, candidate: Candidate | str) -> str | None:
        """The current verdict of a candidate (or key); None when unvetted."""
        key = candidate.key if isinstance(candidate, Candidate) else str(candidate)
        return self.store.verdict_of(key)

    def record_of(self, candidate: Candidate | str) -> VerdictRecord | None:
        """The latest record of a candidate (or key), with its note, user and time."""
        key = candidate.key if isinstance(candidate, Candidate) else str(candidate)
        return self.store.state.get(key)

    @property
    def progress(self) -> tuple[int, int]:
        """``(vetted, total)`` over the candidates at or above ``min_score``."""
        mask = self._score_mask()
        return int(np.count_nonzero(self._state[mask] != _UNVETTED)), int(np.count_nonzero(mask))

    @property
    def progress_text(self) -> str:
        """``"12 of 340 vetted"``; when nothing is counted, why (never a bare "0 of 0 vetted").

        Example
        -------
        >>> import tempfile, warnings
        >>> queue = CandidateQueue(pd.DataFrame({"score": [0.9, 0.4]}), tempfile.mkdtemp() + "/labels.csv")
        >>> queue.progress_text
        '0 of 2 vetted'
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     queue.min_score = 0.95
        >>> queue.progress_text
        'none at score ≥ 0.95 (top score 0.9)'
        """
        vetted, total = self.progress
        if total == 0:
            if self.total == 0:
                return "empty candidate table"
            if self._min_score is not None and np.isfinite(self._scores).any():
                return f"none at score ≥ {self._min_score:g} (top score {self._top_score_advice()[0]})"
            return "no candidate with a score"
        return f"{vetted:,} of {total:,} vetted"

    # ------------------------------------------------------------------ moving
    def next(self) -> Candidate | None:
        """Move to the next candidate shown; None (and no move) at the end of the queue."""
        self.refresh()
        if self._cursor + 1 >= self._visible.size:
            return None
        self._cursor += 1
        return self.current

    def previous(self) -> Candidate | None:
        """Move to the previous candidate shown; None (and no move) at the start."""
        self.refresh()
        if self._cursor <= 0:
            return None
        self._cursor -= 1
        return self.current

    def next_unvetted(self) -> Candidate | None:
        """Move to the next unvetted candidate shown (any filter); None (and no move) if there is none after."""
        self.refresh()
        after = self._visible[self._cursor + 1:]
        unvetted = np.flatnonzero(self._state[after] == _UNVETTED)
        if unvetted.size == 0:
            return None
        self._cursor += 1 + int(unvetted[0])
        return self.current

    def _show_position(self, position: int) -> None:
        """Put the cursor on ``position``, adding it to the shown candidates if the filters hid it."""
        where = int(np.searchsorted(self._visible, position))
        if where >= self._visible.size or self._visible[where] != position:
            self._visible = np.insert(self._visible, where, position)
        self._cursor = where

    def go_to(self, target: str) -> Candidate | None:
        """Move to a target id (``"TIC 25155310"``, ``"25155310"``) or key; None when no candidate matches.

        A target with several rows (sectors) goes to the next of them after the current one.
        The candidate is shown even if the filters would hide it.
        """
        self.refresh()
        text = _normalise_target(target)
        if not text:
            return None
        if self._target_index is None:
            index: dict[str, list[int]] = {}
            for position, target_id in enumerate(self._target_ids):
                normalised = _normalise_target(target_id)
                if normalised:
                    index.setdefault(normalised, []).append(position)
                    digits = _DIGITS.search(normalised)
                    if digits and digits.group(1) != normalised:
                        index.setdefault(digits.group(1).lstrip("0") or "0", []).append(position)
            self._target_index = index
        positions = self._target_index.get(text)
        if positions is None:
            digits = _DIGITS.search(text)
            if digits:
                positions = self._target_index.get(digits.group(1).lstrip("0") or "0")
        if positions is None and str(target) in self._position_of_key:
            positions = [self._position_of_key[str(target)]]
        if not positions:
            return None
        current = self._current_position()
        later = [position for position in positions if current is not None and position > current]
        chosen = later[0] if later and current in positions else positions[0]
        self._show_position(chosen)
        return self.current

    def upcoming(self, count: int = 3, *, previous: bool = True) -> list[Candidate]:
        """The candidates a user most likely sees next (to preload): the next ``count`` unvetted ones when
        showing ``"unvetted"``, else the next ``count``; then (``previous=True``) the previous one."""
        if self._cursor < 0:
            return []
        after = self._visible[self._cursor + 1:]
        if self._show == "unvetted":
            after = after[self._state[after] == _UNVETTED]
        positions = [int(position) for position in after[:count]]
        if previous and self._cursor > 0:
            positions.append(int(self._visible[self._cursor - 1]))
        return [self.candidate_at(position) for position in positions]

    # ------------------------------------------------------------------ verdicts
    def refresh(self) -> None:
        """Take in verdicts other panels appended to the file since the last look."""
        self.store.refresh()

    def record(self, verdict: str | int, *, note: str = "", advance: bool = True) -> VerdictRecord:
        """Record a verdict for the current candidate (on disk when this returns), then move on.

        Parameters
        ----------
        verdict:
            One of :attr:`verdicts`, or its 0-based index.
        note:
            Free text kept with the verdict.
        advance:
            Move to the next unvetted candidate shown (or the next one, when every later one is
            vetted already).
        """
        if isinstance(verdict, (int, np.integer)) and not isinstance(verdict, bool):
            if not 0 <= int(verdict) < len(self.verdicts):
                raise IndexError(f"verdict number {verdict} outside 0..{len(self.verdicts) - 1}")
            verdict = self.verdicts[int(verdict)]
        verdict = str(verdict)
        if verdict not in self.verdicts:
            raise ValueError(f"unknown verdict {verdict!r}; this queue offers {list(self.verdicts)}")
        candidate = self.current
        if candidate is None:
            raise LookupError("no candidate to give a verdict to: no candidate passes the filters")
        record = self.store.record(
            candidate.key, verdict, note=note, target_id=candidate.target_id, sector=candidate.sector,
            path=candidate.path, score=candidate.score,
        )
        self._set_state(candidate.key, record.verdict)
        if advance:
            if self.next_unvetted() is None:
                self.next()
        return record

    @property
    def can_undo(self) -> bool:
        """Whether a verdict of this session can be taken back."""
        return self.store.can_undo

    def undo(self) -> Candidate | None:
        """Take back the latest verdict of this session and go back to its candidate; None if none is left."""
        record = self.store.undo()
        if record is None:
            return None
        self._set_state(record.key, record.verdict)
        position = self._position_of_key.get(record.key)
        if position is None:
            return self.current
        self._show_position(position)
        return self.current

    def verdicts_frame(self, *, latest: bool = True) -> pd.DataFrame:
        """The verdicts recorded in the file, as a DataFrame (see :meth:`VerdictStore.to_frame`)."""
        return self.store.to_frame(latest=latest)

    def labelled_table(self) -> pd.DataFrame:
        """The candidate table, highest score first, with ``verdict`` and ``note`` columns (empty when unvetted)."""
        ordered = self.table.iloc[self._order].reset_index(drop=True)
        records = [self.store.state.get(key) for key in self._keys]
        ordered["verdict"] = [record.verdict if record is not None else "" for record in records]
        ordered["note"] = [record.note if record is not None and record.verdict else "" for record in records]
        return ordered

    def __repr__(self) -> str:
        current = self.current
        where = f"at {current.target_id or current.key}" if current is not None else "empty"
        return (f"CandidateQueue({len(self):,} shown of {self.total:,}, {self.progress_text}, show={self._show!r}, "
                f"min_score={self._min_score}, {where}; labels {str(Path(self.store.path))!r})")
