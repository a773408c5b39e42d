"""`VettingPanel`: vet the top of a candidate table in JupyterLab, Jupyter Notebook or Voila.

::

    panel = ql.vetting.VettingPanel(candidates, labels="vetting/transit-labels.csv", min_score=0.5)
    panel

ipywidgets for the controls, Bokeh figures embedded as widgets (``jupyter_bokeh``): nothing needs
a Bokeh server or another port. The panel is a thin layer: the queue, filters, verdict file and
undo are a :class:`~qusi_lab.vetting.queue.CandidateQueue` (``panel.queue``), the figures'
contents are computed by :mod:`qusi_lab.vetting.views`, in a background thread for the next
few candidates so that each appears at once.

The class is put together from parts, one job each: this module holds the queue navigation (verdicts,
next/previous, undo, go to, keys, the filters' observers) and showing a candidate;
:mod:`qusi_lab.vetting._panel_layout` builds the widgets and renders the candidate card;
:mod:`qusi_lab.vetting._panel_figures` computes and folds the views and draws the next candidate ahead;
:mod:`qusi_lab.vetting._transport` is the patch of jupyter_bokeh's protocol that carries the figures.

Keyboard (while the pointer is over the panel): digits give the verdicts, ``j``/``→``/``↓`` the
next candidate, ``k``/``←``/``↑`` the previous one, ``u`` undoes the last verdict.

A heartbeat search's table (``infer(..., period_search="heartbeat")``) opens in the heartbeat view, folded at
the table's period with the predicted periastra at its ``epoch``; a transit table at its box-least-squares
period, as before.

The fold: ÷N and ×N (N = 2..5: the harmonics a heartbeat star's or an eclipsing binary's period search
often lands on) fold at N times or 1/N of the period shown, ↺ goes back to the table's period, and a
period typed into the box (days, then Enter) folds at that; the label says ``P = 7.5 d (3 × table period)``.
The verdict file records verdicts only, not the period folded at (say it in the note when it matters).

Example
-------
>>> panel = VettingPanel("candidates.csv", labels="vetting/transit-labels.csv", min_score=0.5)  # doctest: +SKIP
>>> panel                                                                                   # doctest: +SKIP
>>> panel.verdicts          # a DataFrame of every verdict so far                            # doctest: +SKIP
"""

from __future__ import annotations

import html
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

# STANDBY_DELAY and batched_bokeh_model stay importable from here, where they were before the split.
from qusi_lab.vetting._panel_figures import STANDBY_DELAY as STANDBY_DELAY
from qusi_lab.vetting._panel_figures import _FigureSet, _FiguresMixin, _identity
from qusi_lab.vetting._panel_layout import _LayoutMixin
from qusi_lab.vetting._transport import _close_tree
from qusi_lab.vetting._transport import batched_bokeh_model as batched_bokeh_model
from qusi_lab.vetting.queue import Candidate, CandidateQueue
from qusi_lab.vetting.store import DEFAULT_VERDICTS, VerdictRecord, VerdictStore
from qusi_lab.vetting.views import CandidateView, FoldedView, Preloader, TruthLookup

__all__ = ["VettingPanel", "KEYS_NEXT", "KEYS_PREVIOUS", "KEYS_UNDO"]

KEYS_NEXT: tuple[str, ...] = ("j", "ArrowRight", "ArrowDown")
KEYS_PREVIOUS: tuple[str, ...] = ("k", "ArrowLeft", "ArrowUp")
KEYS_UNDO: tuple[str, ...] = ("u",)

#: Saliency settings of the panel: occlusion windows side by side (4x fewer passes than the
#: overlapping default, ~0.25 s for a 4096-long input on a laptop CPU), computed ahead in the background.
DEFAULT_SALIENCY_OPTIONS: Mapping[str, Any] = {"method": "occlusion", "stride": None}


def _load_bokehjs() -> None:
    """Put BokehJS into the page (inline: works offline, in Voila too).

    Once per page (:mod:`qusi_lab._notebook`), not once per kernel: a reloaded notebook page keeps its kernel
    but has lost BokehJS.
    """
    from qusi_lab._notebook import load_bokehjs

    load_bokehjs()


def _resolve_model(model: Any, candidates: pd.DataFrame) -> tuple[Any, str | None]:
    """``(network or None, problem)`` from ``model`` ("auto": the table's bundle when it exists)."""
    if model is None:
        return None, None
    if isinstance(model, str) and model == "auto":
        folder = candidates.attrs.get("model")
        if not folder or not Path(str(folder)).is_dir():
            return None, None
        model = folder
    if isinstance(model, (str, os.PathLike)):
        try:
            from qusi_lab.training import load

            return load(model), None
        except Exception as error:  # the panel still works without saliency
            return None, f"could not load the model {os.fspath(model)!r} ({type(error).__name__}: {error})"
    return model, None


class VettingPanel(_LayoutMixin, _FiguresMixin):
    """The vetting panel (see the module docstring); display it by leaving it last in a cell.

    Parameters
    ----------
    candidates:
        A candidate table (:func:`qusi_lab.inference.infer`) or its ``.csv``/``.parquet`` file.
    labels:
        The verdict file (created when missing; reopening it resumes at the best-ranked candidate still unvetted).
        Default: ``<table stem>-verdicts.csv`` beside a candidate table given as a file (a table in memory
        needs ``labels``); the header names the file in use.
    min_score:
        Start with candidates scoring below this hidden (the slider changes it).
    show:
        ``"unvetted"`` (default), ``"all"``, ``"vetted"`` or a verdict.
    verdicts:
        The verdict buttons, in digit order.
    model:
        For the saliency: a network (with ``.bundle``), a bundle folder, ``"auto"`` (the table's
        ``attrs["model"]`` when that folder exists) or None (no saliency).
    load:
        ``load(path) -> LightCurve`` (default :func:`qusi_lab.read_light_curve`).
    truth:
        Injected truth of synthetic data: ``"auto"`` (a ``truth.csv`` near the files), a
        DataFrame or ``truth.csv`` path, or None.
    view:
        ``"auto"`` (heartbeat view for a heartbeat search's table, or when the table's classes say heartbeat;
        else transit), ``"transit"`` or ``"heartbeat"``. A heartbeat search's table
        (``infer(..., period_search="heartbeat")``: ``attrs["period_method"] == "heartbeat"`` or
        ``heartbeat_*`` columns) is folded at its period with its ``epoch``, a periastron, at phase 0; the
        card shows the search's period, periastron, amplitude, significance, eccentricity and passages (no
        transit duration, depth or odd/even checks), and the heartbeat fit starts from its orbit.
    model_fit:
        The model drawn (dashed) over the heartbeat fold: ``"auto"`` (default) fits the heartbeat
        model of :func:`qusi_lab.signals.heartbeat` to the fold (:func:`qusi_lab.inference.heartbeat_fit.fit_heartbeat`,
        period fixed, ~10-30 ms; its parameters go into the candidate card), a function
        ``model_fit(light_curve_view, candidate) -> (time, relative_flux)`` of your own, or None (no
        fit). The injected model of synthetic data is drawn too, in red, whatever this is.
    saliency_options:
        Keywords for :func:`qusi_lab.inference.saliency`.
    preload:
        Candidates prepared ahead in the background.
    user:
        Written into every verdict (default: the login name).
    auto_advance:
        Go to the next unvetted candidate after each verdict.
    draw_ahead:
        Draw the next candidate into a hidden second set of figures while the user looks at this one,
        so that moving on is a swap (see :meth:`prepare_next`). False: every candidate is drawn when
        shown (in headless Chromium here the next light curve then appears ~0.3 s later).

    Attributes
    ----------
    queue:
        The :class:`~qusi_lab.vetting.queue.CandidateQueue` behind the panel.
    widget:
        The ipywidgets box that is displayed.
    timings:
        Seconds spent on the last candidate change (``view``, ``plots``, ``widgets``, ``total``).
    """

    def __init__(
        self,
        candidates: pd.DataFrame | str | os.PathLike[str],
        labels: VerdictStore | str | os.PathLike[str] | None = None,
        *,
        min_score: float | None = None,
        show: str = "unvetted",
        verdicts: Sequence[str] = DEFAULT_VERDICTS,
        model: Any = "auto",
        load: Callable[[Any], Any] | None = None,
        truth: Any = "auto",
        view: str = "auto",
        model_fit: Callable[[CandidateView, Candidate], Any] | str | None = "auto",
        saliency_options: Mapping[str, Any] | None = None,
        preload: int = 3,
        user: str | None = None,
        auto_advance: bool = True,
        draw_ahead: bool = True,
    ) -> None:
        if view not in ("auto", "transit", "heartbeat"):
            raise ValueError(f"view must be 'auto', 'transit' or 'heartbeat', got {view!r}")
        if isinstance(model_fit, str) and model_fit != "auto":
            raise ValueError(f"model_fit must be 'auto', a function or None, got {model_fit!r}")
        if len(verdicts) > 9:
            raise ValueError("at most 9 verdicts (one digit key each)")
        self.queue = CandidateQueue(candidates, labels, verdicts=verdicts, min_score=min_score, show=show,
                                    user=user)
        self.store = self.queue.store
        self.auto_advance = auto_advance
        self.draw_ahead = draw_ahead
        self.draw_ahead_error: str | None = None  # the last failure to draw the next candidate ahead
        self.view_mode = view
        self.model_fit = model_fit
        self.model, model_problem = _resolve_model(model, self.queue.table)
        self.truth = TruthLookup(truth)
        self.saliency_options = dict(DEFAULT_SALIENCY_OPTIONS if saliency_options is None else saliency_options)
        self._default_stride()
        self.preload = max(0, int(preload))
        self._load = load
        self.preloader = Preloader(self._compute_view, capacity=max(8, 2 * self.preload + 4))
        # Two sets of figures: one on screen, one hidden that draws the next candidate ahead (see
        # _FigureSet); moving on is then a swap of the two, not a redraw.
        self._sets = (_FigureSet(), _FigureSet())
        self._front = 0
        self._standby_generation = 0
        self._closed = False
        self.timings: dict[str, float] = {}
        self._multiplier = 1.0
        self._mode = "transit"
        self._view: CandidateView | None = None
        self._folded: FoldedView | None = None
        self._shown_key: str | None = None
        self._updating = False
        self._last_key: tuple[Any, Any] = (None, None)
        self._status_text = model_problem or ""
        self._status_error = model_problem is not None
        _load_bokehjs()
        self._build_widgets()
        self._show_current()
        # The hidden figures are filled now, not later on the event loop: patches sent before the browser has
        # made its views are lost (Voila makes them only after the whole notebook has run), and the figures
        # in the browser would then lag behind their Python side.
        if draw_ahead:
            self.prepare_next()
        self._refresh_plot_widgets()

    # ------------------------------------------------------------------ actions
    def record(self, verdict: str | int) -> VerdictRecord | None:
        """Give the current candidate a verdict (with the note typed), save it, and move on."""
        candidate = self.queue.current
        if candidate is None:
            self._set_status("No candidate to give a verdict to: none passes the filters.", error=True)
            return None
        try:
            record = self.queue.record(verdict, note=self.note.value, advance=self.auto_advance)
        except (OSError, ValueError, IndexError) as error:
            self._set_status(f"Not saved: {error}", error=True)
            return None
        name = html.escape(candidate.target_id or candidate.key)
        self._set_status(f"Saved <b>{html.escape(record.verdict)}</b> for {name} at {record.time[11:19]} UTC.")
        self.note.value = ""
        self._show_current(force=True)
        return record

    def next(self) -> Candidate | None:
        """Show the next candidate."""
        moved = self.queue.next()
        if moved is None:
            self._set_status("End of the queue: no candidate after this one with these filters.")
        self._show_current()
        return moved

    def previous(self) -> Candidate | None:
        """Show the previous candidate."""
        moved = self.queue.previous()
        if moved is None:
            self._set_status("Start of the queue.")
        self._show_current()
        return moved

    def undo(self) -> Candidate | None:
        """Take back the last verdict given in this panel and show its candidate again."""
        candidate = self.queue.undo()
        if candidate is None:
            self._set_status("Nothing to undo in this session.")
        else:
            record = self.queue.record_of(candidate)
            restored = record.verdict if record is not None and record.verdict else "unvetted"
            self._set_status(f"Undone: {html.escape(candidate.target_id or candidate.key)} is "
                             f"<b>{html.escape(restored)}</b> again.")
        self._show_current(force=True)
        return candidate

    def go_to(self, target: str) -> Candidate | None:
        """Show the candidate of a target id (``"TIC 25155310"`` or just the digits) or file."""
        if not str(target).strip():
            return None
        found = self.queue.go_to(str(target))
        if found is None:
            self._set_status(f"No candidate {html.escape(str(target))!s} in this table.", error=True)
        else:
            self._set_status("")
        self._show_current()
        return found

    def fold_at(self, multiplier: float) -> bool:
        """Fold at ``multiplier`` x the candidate's period (the ÷N / ×N buttons, N = 2..5, and ↺ for 1).

        False, with a message beside the period box, when there is no period or ``multiplier`` is outside
        1/64 to 64.
        """
        if self._view is None or not self._view.has_period:
            self._period_problem("no period to fold at: the table has none and the period search found none")
            return False
        if not 1 / 64 - 1e-12 <= multiplier <= 64 + 1e-12:
            self._period_problem(f"{multiplier:.4g} × the table period is outside 1/64 to 64 ×: not folded")
            return False
        self._multiplier = multiplier
        self._folded = self._fold()
        if self._view is not None:
            with self._one_patch_per_figure():
                self.figures.update_fold(self._view, self._folded, mode=self._mode)
        self._update_period_label()
        self._refresh_metadata()
        return True

    def fold_at_period(self, period: float | str) -> bool:
        """Fold at ``period`` days (what is typed into the period box); False, with a message beside the box,
        when it is not a period within 1/64 to 64 × the candidate's."""
        text = str(period).strip()
        try:
            number = text.lower().removesuffix("days").removesuffix("d").strip()
            if "," in number and "." not in number:  # a decimal comma: 2,5
                number = number.replace(",", ".")
            days = float(number) if isinstance(period, str) else float(period)
        except ValueError:
            self._period_problem(f"“{html.escape(text[:30])}” is not a period: type days, e.g. 2.5")
            return False
        if not math.isfinite(days) or days <= 0:
            self._period_problem(f"the period must be a positive number of days, not {html.escape(text[:30])}")
            return False
        if self._view is None or not self._view.has_period:
            self._period_problem("no period to fold at: the table has none and the period search found none")
            return False
        return self.fold_at(days / self._view.period)

    def handle_key(self, event: Mapping[str, Any]) -> None:
        """The ipyevents keydown handler (also callable with the same dict in tests)."""
        if event.get("event", "keydown") != "keydown" or event.get("repeat"):
            return
        # One key press arrives twice when ipyevents has attached its document listener twice (a widget
        # view re-rendered while the pointer was over it): the browser's timeStamp identifies the press.
        stamp = (event.get("timeStamp"), event.get("key"))
        if stamp[0] is not None and stamp == self._last_key:
            return
        self._last_key = stamp
        if event.get("ctrlKey") or event.get("altKey") or event.get("metaKey"):
            return  # browser and notebook shortcuts
        target = event.get("target") or {}
        if str(target.get("tagName", "")).upper() in ("INPUT", "TEXTAREA", "SELECT"):
            return  # typing a note or a target id
        key = str(event.get("key", ""))
        if key.isdigit() and 1 <= int(key) <= len(self.queue.verdicts):
            self.record(int(key) - 1)
        elif key in KEYS_NEXT:
            self.next()
        elif key in KEYS_PREVIOUS:
            self.previous()
        elif key in KEYS_UNDO:
            self.undo()

    # ------------------------------------------------------------------ observers
    def _on_score(self, change: Mapping[str, Any]) -> None:
        if self._updating:
            return
        self.queue.min_score = float(change["new"])
        self._show_current()

    def _on_show(self, change: Mapping[str, Any]) -> None:
        if self._updating:
            return
        self.queue.show = str(change["new"])
        self._show_current()

    def _on_jump_text(self, change: Mapping[str, Any]) -> None:
        if self._updating or not str(change["new"]).strip():
            return
        self.go_to(str(change["new"]))

    def _on_mode(self, change: Mapping[str, Any]) -> None:
        if self._updating:
            return
        self._mode = str(change["new"])
        self._multiplier = 1.0
        self._folded = self._fold()
        if self._view is not None:
            self.figures.update(self._view, self._folded, mode=self._mode, title=self._plot_title())
        self._update_period_label()
        self._refresh_metadata()

    def _on_period_text(self, change: Mapping[str, Any]) -> None:
        if self._updating or not str(change["new"]).strip():
            return
        self.fold_at_period(str(change["new"]))

    # ------------------------------------------------------------------ showing
    def _show_current(self, *, force: bool = False) -> None:
        started = time.perf_counter()
        candidate = self.queue.current
        timings = {"view": 0.0, "plots": 0.0, "widgets": 0.0}
        redraw = swap = False
        if candidate is None:
            redraw = self._shown_key is not None or force or self._view is None
            self._view, self._folded, self._shown_key = None, None, None
        elif candidate.key != self._shown_key or force:
            standby = self._sets[1 - self._front]
            swap = candidate.key != self._shown_key and standby.drawn == _identity(candidate)
            if swap:  # drawn ahead in the hidden figures: take its view, fold and mode from there
                self._view, self._folded, self._mode = standby.view, standby.folded, standby.mode
                self._multiplier = 1.0
                self._report_fit(self._folded)
            else:
                if candidate.key != self._shown_key:
                    self._multiplier = 1.0
                    self._mode = self._mode_for(candidate)
                self._view = self.preloader.get(candidate)
                timings["view"] = time.perf_counter() - started
                self._folded = self._fold()
                redraw = True
            self._shown_key = candidate.key
        # Text first, figures second: messages reach the browser in order, and the figures' patch is the
        # slow one to apply, so the name and numbers of the new candidate show at once.
        before_widgets = time.perf_counter()
        self._update_widgets(candidate)
        timings["widgets"] = time.perf_counter() - before_widgets
        if swap:
            before_plots = time.perf_counter()
            # The hidden set is shown before the shown one is hidden: each class change is a message of its own
            # and the browser may draw between two, so the other order left both hidden in the page between them
            # (no light curve if a frame was drawn then). CSS keeps the later one on top while both are shown.
            self._sets[1 - self._front].show(True)
            self._sets[self._front].show(False)
            self._front = 1 - self._front
            timings["plots"] = time.perf_counter() - before_plots
        elif redraw:
            before_plots = time.perf_counter()
            front = self._sets[self._front]
            with front.batch():
                if self._view is None:
                    front.figures.clear("No candidate passes the filters: lower the score or show all.")
                else:
                    front.figures.update(self._view, self._folded, mode=self._mode, title=self._plot_title())
            front.drawn = _identity(candidate) if candidate is not None else None
            timings["plots"] = time.perf_counter() - before_plots
        if candidate is not None and self.preload:
            self.preloader.request(self.queue.upcoming(self.preload))
        timings["total"] = time.perf_counter() - started
        self.timings = timings
        self._schedule_standby(swapped=swap)

    # ------------------------------------------------------------------ display and export
    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self._refresh_plot_widgets()
        return self.widget._repr_mimebundle_(**kwargs)

    @property
    def verdicts(self) -> pd.DataFrame:
        """Every candidate's current verdict, as a DataFrame (the file's latest record per candidate)."""
        self.queue.refresh()
        return self.queue.verdicts_frame()

    def close(self) -> None:
        """Stop the background preloading and close the widgets."""
        self._closed = True
        self.preloader.close()
        for events in self.key_events:
            events.close()
        _close_tree(self.widget)

    def __repr__(self) -> str:
        return f"VettingPanel({self.queue!r})"
