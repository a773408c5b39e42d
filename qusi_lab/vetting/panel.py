"""`VettingPanel`: vet the top of a candidate table in JupyterLab, Jupyter Notebook or Voila.

::

    panel = ql.vetting.VettingPanel(candidates, labels="vetting/transit-labels.csv", min_score=0.5)
    panel

ipywidgets for the controls, Bokeh figures embedded as widgets (``jupyter_bokeh``): nothing needs
a Bokeh server or another port. The panel is a thin layer: the queue, filters, verdict file and
undo are a :class:`~qusi_lab.vetting.queue.CandidateQueue` (``panel.queue``), the figures'
contents are computed by :mod:`qusi_lab.vetting.views`, in a background thread for the next
few candidates so that each appears at once.

Keyboard (while the pointer is over the panel): digits give the verdicts, ``j``/``→``/``↓`` the
next candidate, ``k``/``←``/``↑`` the previous one, ``u`` undoes the last verdict.

Example
-------
>>> panel = VettingPanel("candidates.csv", labels="vetting/transit-labels.csv", min_score=0.5)  # doctest: +SKIP
>>> panel                                                                                   # doctest: +SKIP
>>> panel.verdicts          # a DataFrame of every verdict so far                            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pandas as pd

from qusi_lab.vetting.plots import VettingFigures
from qusi_lab.vetting.queue import Candidate, CandidateQueue
from qusi_lab.vetting.store import DEFAULT_VERDICTS, VerdictRecord, VerdictStore
from qusi_lab.vetting.views import (
    CandidateView,
    FoldedView,
    Preloader,
    TruthLookup,
    fold_heartbeat,
    fold_transit,
    prepare_view,
)

__all__ = ["VettingPanel", "KEYS_NEXT", "KEYS_PREVIOUS", "KEYS_UNDO"]

KEYS_NEXT: tuple[str, ...] = ("j", "ArrowRight", "ArrowDown")
KEYS_PREVIOUS: tuple[str, ...] = ("k", "ArrowLeft", "ArrowUp")
KEYS_UNDO: tuple[str, ...] = ("u",)

#: Saliency settings of the panel: occlusion windows side by side (4x fewer passes than the
#: overlapping default, ~0.25 s for a 4096-long input on a laptop CPU), computed ahead in the background.
DEFAULT_SALIENCY_OPTIONS: Mapping[str, Any] = {"method": "occlusion", "stride": None}

#: Seconds after a candidate change before the next candidate is drawn into the hidden figures: time
#: for the browser to show the change first (a swap takes a frame; a full redraw ~0.3 s here).
STANDBY_DELAY = 0.4

_VERDICT_COLOURS = ("#2f9e44", "#e8590c", "#ae3ec9", "#1971c2", "#868e96", "#f59f00", "#0c8599", "#c2255c",
                    "#5c940d")

_CSS = """
<style>
.qusi-vetting-panel { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #343a40; border: 1px solid #dee2e6; border-radius: 8px; padding: 10px 12px; background: #fff;
  width: fit-content; }
.qusi-vetting-panel .qv-header { border-bottom: 1px solid #e9ecef; padding-bottom: 6px; margin-bottom: 4px; }
.qusi-vetting-panel .qv-title { font-size: 16px; font-weight: 600; }
.qusi-vetting-panel .qv-subtitle { font-size: 12px; color: #6c757d; }
.qusi-vetting-panel .qv-progress { font-size: 13px; font-weight: 600; text-align: right; }
.qusi-vetting-panel .qv-controls { background: #f8f9fa; border-radius: 6px; padding: 4px 6px; margin: 4px 0; }
.qusi-vetting-panel .qv-card { background: #f8f9fa; border-radius: 6px; padding: 6px 10px; }
.qusi-vetting-panel table.qv-meta { border-collapse: collapse; font-size: 12px; width: 100%; }
.qusi-vetting-panel table.qv-meta th { text-align: left; color: #6c757d; font-weight: 500; padding: 1px 10px 1px 0;
  white-space: nowrap; vertical-align: top; }
.qusi-vetting-panel table.qv-meta td { padding: 1px 0; }
.qusi-vetting-panel .qv-section { font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: #868e96;
  margin: 4px 0 2px 0; }
.qusi-vetting-panel .qv-truth { background: #fff9db; border-radius: 4px; padding: 2px 6px; }
.qusi-vetting-panel .qv-verdict-tag { display: inline-block; border-radius: 10px; padding: 0 8px; color: #fff;
  font-size: 12px; }
.qusi-vetting-panel .qv-status { font-size: 12px; color: #495057; min-height: 18px; }
.qusi-vetting-panel .qv-status.qv-error { color: #c92a2a; }
.qusi-vetting-panel .qv-help { font-size: 11px; color: #868e96; }
.qusi-vetting-panel .qv-help kbd { background: #f1f3f5; border: 1px solid #dee2e6; border-radius: 3px;
  padding: 0 4px; font-size: 11px; }
.qusi-vetting-panel .qv-verdict-button button, .qusi-vetting-panel button.qv-verdict-button {
  border-radius: 5px; }
.qusi-vetting-panel .qv-fold-tools { align-items: center; }
.qusi-vetting-panel .qv-keys-left:focus, .qusi-vetting-panel .qv-keys-right:focus { outline: none; }
.qusi-vetting-panel .qv-plot-stack { position: relative; }
.qusi-vetting-panel .qv-plot-stack > .qv-standby { position: absolute !important; top: 0; left: 0;
  visibility: hidden; pointer-events: none; }
.qusi-vetting-panel .ipyevents-watched { outline: 1px solid #a5d8ff; outline-offset: 3px; border-radius: 4px; }
</style>
"""

def _load_bokehjs() -> None:
    """Put BokehJS into the page (inline: works offline, in Voila too).

    Once per panel, not once per kernel: a reloaded notebook page keeps its kernel but has lost BokehJS.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return  # not in a kernel (tests, scripts): nothing to load into
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(resources=INLINE, hide_banner=True)


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


def _number(value: Any, digits: int = 4) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    if not math.isfinite(number):
        return "–"
    if number != 0 and (abs(number) >= 1e5 or abs(number) < 1e-3):
        return f"{number:.{digits - 1}e}"
    return f"{number:,.{digits}g}" if abs(number) >= 1000 else f"{number:.{digits}g}"


class VettingPanel:
    """The vetting panel (see the module docstring); display it by leaving it last in a cell.

    Parameters
    ----------
    candidates:
        A candidate table (:func:`qusi_lab.inference.infer`) or its ``.csv``/``.parquet`` file.
    labels:
        The verdict file (created when missing; reopening it resumes at the best-ranked candidate still unvetted).
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
        ``"auto"`` (heartbeat view when the table's classes say heartbeat, else transit),
        ``"transit"`` or ``"heartbeat"``.
    model_fit:
        The model drawn (dashed) over the heartbeat fold: ``"auto"`` (default) fits the heartbeat
        model of :func:`qusi_lab.signals.heartbeat` to the fold (:func:`qusi_lab.vetting.fit.fit_heartbeat`,
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
        labels: VerdictStore | str | os.PathLike[str],
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

    # ------------------------------------------------------------------ computing views
    def _default_stride(self) -> None:
        # stride None: windows side by side (window = input_length // 64), 4x fewer forward passes.
        if self.saliency_options.get("method", "occlusion") == "occlusion" and \
                self.saliency_options.get("stride", "unset") is None:
            length = getattr(self.model, "input_length", None)  # a Model's (or its network's)
            window = self.saliency_options.get("window") or (max(4, int(length) // 64) if length else None)
            if window:
                self.saliency_options["window"] = int(window)
                self.saliency_options["stride"] = int(window)
            else:
                self.saliency_options.pop("stride")

    def _compute_view(self, candidate: Candidate) -> CandidateView:
        return prepare_view(candidate, load=self._load, model=self.model, saliency_options=self.saliency_options,
                            truth=self.truth)

    def _mode_for(self, candidate: Candidate) -> str:
        if self.view_mode != "auto":
            return self.view_mode
        for name in ("predicted", "label"):
            value = candidate.get(name)
            if value is not None and "heartbeat" in str(value).lower():
                return "heartbeat"
        attrs = self.queue.table.attrs
        classes = " ".join(str(value) for value in (attrs.get("positive_class"), attrs.get("score")) if value)
        return "heartbeat" if "heartbeat" in classes.lower() else "transit"

    def _fold(self, view: CandidateView | None = None, *, mode: str | None = None,
              multiplier: float | None = None, candidate: Candidate | None = None,
              report: bool = True) -> FoldedView | None:
        """The folded view (of the current candidate unless given); ``report``: fit problems to the status."""
        view = self._view if view is None else view
        mode = self._mode if mode is None else mode
        multiplier = self._multiplier if multiplier is None else multiplier
        candidate = self.queue.current if candidate is None else candidate
        if view is None or view.error is not None:
            return None
        if mode == "heartbeat":
            curve = None
            if callable(self.model_fit) and candidate is not None:
                try:
                    curve = self.model_fit(view, candidate)
                except Exception as error:  # a failing fit must not take the panel down
                    if report:
                        self._set_status(f"model fit failed: {type(error).__name__}: {error}", error=True)
            folded = fold_heartbeat(view, multiplier, model_curve=curve, model_label="model fit",
                                    fit=self.model_fit == "auto")
            if report:
                self._report_fit(folded)
            return folded
        return fold_transit(view, multiplier)

    def _report_fit(self, folded: FoldedView | None) -> None:
        if folded is not None and folded.fit_problem:
            self._set_status(f"heartbeat fit failed: {html.escape(folded.fit_problem)}", error=True)

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self) -> None:

        queue = self.queue
        low, high = queue.score_range
        if not high > low:
            high = low + 1.0
        self.title = widgets.HTML()
        self.title.add_class("qv-title-box")
        self.progress_label = widgets.HTML()
        self.progress_bar = widgets.IntProgress(min=0, max=1, value=0, layout=widgets.Layout(width="220px",
                                                                                             height="14px"))
        self.progress_bar.style.bar_color = "#2f9e44"
        header = widgets.HBox(
            [self.title, widgets.VBox([self.progress_label, self.progress_bar],
                                      layout=widgets.Layout(align_items="flex-end"))],
            layout=widgets.Layout(justify_content="space-between", align_items="center"))
        header.add_class("qv-header")

        start = queue.min_score if queue.min_score is not None else low
        self.score_slider = widgets.FloatSlider(
            value=min(max(start, low), high), min=low, max=high, step=(high - low) / 200, description="score ≥",
            continuous_update=False, readout_format=".3f", style={"description_width": "52px"},
            layout=widgets.Layout(width="270px"))
        self.score_slider.add_class("qv-score-slider")
        labels = {"unvetted": "unvetted", "all": "all", "vetted": "vetted (any verdict)"}
        self.show_dropdown = widgets.Dropdown(
            options=[(labels.get(option, option), option) for option in queue.show_options], value=queue.show,
            description="show", style={"description_width": "38px"}, layout=widgets.Layout(width="200px"))
        self.show_dropdown.add_class("qv-show")
        self.jump_text = widgets.Text(placeholder="TIC 25155310", description="go to", continuous_update=False,
                                      style={"description_width": "42px"}, layout=widgets.Layout(width="180px"))
        self.jump_text.add_class("qv-jump")
        self.jump_button = widgets.Button(description="Go", layout=widgets.Layout(width="42px"))
        self.previous_button = widgets.Button(description="◀ prev", tooltip="previous candidate (k, ←)",
                                              layout=widgets.Layout(width="74px"))
        self.next_button = widgets.Button(description="next ▶", tooltip="next candidate (j, →)",
                                          layout=widgets.Layout(width="74px"))
        self.previous_button.add_class("qv-previous")
        self.next_button.add_class("qv-next")
        self.position_label = widgets.HTML(layout=widgets.Layout(margin="0 0 0 6px"))
        controls = widgets.HBox(
            [self.score_slider, self.show_dropdown, self.jump_text, self.jump_button, self.previous_button,
             self.next_button, self.position_label],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        controls.add_class("qv-controls")

        self._sets[1].show(False)
        light_curve_stack = widgets.Box([figure_set.left for figure_set in self._sets])
        light_curve_stack.add_class("qv-plot-stack")
        fold_stack = widgets.Box([figure_set.right for figure_set in self._sets])
        fold_stack.add_class("qv-plot-stack")
        self.half_button = widgets.Button(description="÷2", tooltip="fold at half the period",
                                          layout=widgets.Layout(width="46px"))
        self.double_button = widgets.Button(description="×2", tooltip="fold at twice the period",
                                            layout=widgets.Layout(width="46px"))
        self.half_button.add_class("qv-half")
        self.double_button.add_class("qv-double")
        self.mode_buttons = widgets.ToggleButtons(options=[("transit", "transit"), ("heartbeat", "heartbeat")],
                                                  value="transit", style={"button_width": "84px"},
                                                  tooltips=["odd/even transits, secondary eclipse",
                                                            "periastron feature, model"])
        self.mode_buttons.add_class("qv-mode")
        self.period_label = widgets.HTML()
        fold_tools = widgets.HBox([self.mode_buttons, self.half_button, self.double_button, self.period_label],
                                  layout=widgets.Layout(align_items="center"))
        fold_tools.add_class("qv-fold-tools")
        self.metadata = widgets.HTML(layout=widgets.Layout(width="556px", margin="6px 0 0 4px"))
        self.metadata.add_class("qv-metadata")
        self.verdict_buttons: list[widgets.Button] = []
        for number, verdict in enumerate(queue.verdicts, start=1):
            button = widgets.Button(description=f"{number}  {verdict}", tooltip=f"{verdict} (key {number})",
                                    layout=widgets.Layout(width="195px", height="32px"))
            button.add_class("qv-verdict-button")
            button.add_class(f"qv-verdict-{number}")
            button.on_click(lambda _, chosen=verdict: self.record(chosen))
            self.verdict_buttons.append(button)
        self.note = widgets.Text(placeholder="note, saved with the verdict (optional)",
                                 layout=widgets.Layout(width="262px"))
        self.note.add_class("qv-note")
        self.undo_button = widgets.Button(description="↶ undo", tooltip="take back the last verdict (u)",
                                          layout=widgets.Layout(width="128px", height="30px"))
        self.undo_button.add_class("qv-undo")
        self.status = widgets.HTML(layout=widgets.Layout(width="396px"))
        grid = widgets.GridBox(self.verdict_buttons,
                               layout=widgets.Layout(grid_template_columns="repeat(2, 197px)", grid_gap="4px"))
        # Keyboard shortcuts listen over the figures, the candidate card and the verdict buttons, not over
        # the note and the controls: ipyevents takes every key while the pointer is over what it watches
        # (it prevents the keys' default action), so a note could not be typed there.
        verdict_buttons = widgets.VBox([widgets.HTML('<div class="qv-section">Verdict</div>'), grid],
                                       layout=widgets.Layout(margin="6px 0 0 0"))
        verdict_buttons.add_class("qv-verdicts")
        note_row = widgets.HBox([self.note, self.undo_button], layout=widgets.Layout(align_items="center",
                                                                                   margin="4px 0 0 0"))
        keys = " · ".join(f"<kbd>{n}</kbd> {html.escape(v)}" for n, v in enumerate(queue.verdicts, start=1))
        self.help = widgets.HTML(
            f'<div class="qv-help">Keys, with the pointer over the figures or buttons: {keys} · <kbd>j</kbd>/'
            '<kbd>→</kbd> next · <kbd>k</kbd>/<kbd>←</kbd> previous · <kbd>u</kbd> undo. Each verdict is saved at '
            f'once to <code>{html.escape(str(self.store.path))}</code>.</div>')
        left = widgets.VBox([light_curve_stack, self.metadata])
        left.add_class("qv-keys-left")
        right_keys = widgets.VBox([fold_stack, fold_tools, verdict_buttons])
        right_keys.add_class("qv-keys-right")
        right = widgets.VBox([right_keys, note_row, self.status], layout=widgets.Layout(margin="0 0 0 8px"))
        self._key_areas = (left, right_keys)
        # Side by side when there is room (~980 px), one above the other in a narrow notebook.
        body = widgets.HBox([left, right], layout=widgets.Layout(align_items="flex-start", flex_flow="row wrap"))
        self.widget = widgets.VBox([widgets.HTML(_CSS), header, controls, body, self.help])
        self.widget.add_class("qusi-vetting-panel")

        self.score_slider.observe(self._on_score, names="value")
        self.show_dropdown.observe(self._on_show, names="value")
        self.jump_text.observe(self._on_jump_text, names="value")
        self.jump_button.on_click(lambda _: self.go_to(self.jump_text.value))
        self.previous_button.on_click(lambda _: self.previous())
        self.next_button.on_click(lambda _: self.next())
        self.half_button.on_click(lambda _: self.fold_at(self._multiplier / 2))
        self.double_button.on_click(lambda _: self.fold_at(self._multiplier * 2))
        self.mode_buttons.observe(self._on_mode, names="value")
        self.undo_button.on_click(lambda _: self.undo())
        self.key_events = self._make_key_events()
        self.events = self.key_events[0] if self.key_events else None

    def _make_key_events(self) -> list[Any]:
        try:
            from ipyevents import Event
        except ImportError:
            self._set_status("keyboard shortcuts need the ipyevents package (pip install ipyevents)", error=True)
            return []
        watchers = []
        for area in self._key_areas:
            events = Event(source=area, watched_events=["keydown"])
            events.on_dom_event(self.handle_key)
            watchers.append(events)
        return watchers

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

    def fold_at(self, multiplier: float) -> None:
        """Fold at ``multiplier`` x the candidate's period (the ×2 / ÷2 buttons)."""
        if not 1 / 64 <= multiplier <= 64:
            return
        self._multiplier = multiplier
        self._folded = self._fold()
        if self._view is not None:
            with self._one_patch_per_figure():
                self.figures.update_fold(self._view, self._folded, mode=self._mode)
        self._update_period_label()
        self._refresh_metadata()

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

    def _refresh_metadata(self) -> None:
        """The candidate card again (after a refold: the heartbeat fit's parameters change)."""
        candidate = self.queue.current
        if candidate is not None:
            self.metadata.value = self._metadata_html(candidate, self.queue.record_of(candidate))

    # ------------------------------------------------------------------ showing
    def _set_status(self, text: str, *, error: bool = False) -> None:
        self._status_text = text
        self._status_error = error
        if hasattr(self, "status"):
            css = "qv-status qv-error" if error else "qv-status"
            self.status.value = f'<div class="{css}">{text}</div>'

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
            self._sets[self._front].show(False)
            self._front = 1 - self._front
            self._sets[self._front].show(True)
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
        self._schedule_standby()

    # ------------------------------------------------------------------ drawing ahead
    def _schedule_standby(self) -> None:
        """Draw the next candidate into the hidden figures once the browser has drawn this one.

        In a kernel (a notebook, Voila) this runs on its event loop, ``STANDBY_DELAY`` seconds after
        the candidate changed, so that the browser paints the swap first; elsewhere (scripts, tests) call
        :meth:`prepare_next`.
        """
        self._standby_generation += 1
        if not self.draw_ahead:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(STANDBY_DELAY, self._prepare_next_when_ready, self._standby_generation, loop)

    def _prepare_next_when_ready(self, generation: int, loop: asyncio.AbstractEventLoop) -> None:
        if generation != self._standby_generation or self._closed:
            return  # the user moved on since: a newer call is scheduled
        upcoming = self.queue.upcoming(1, previous=False)
        if upcoming and not self.preloader.is_ready(upcoming[0]):
            # Never wait for the background thread on the event loop: that would hold up key presses.
            loop.call_later(0.1, self._prepare_next_when_ready, generation, loop)
            return
        try:
            self.prepare_next()
        except Exception as error:
            # On the event loop nobody would see it: the candidate is drawn when shown instead, where any
            # error reaches the status line as usual.
            self.draw_ahead_error = f"{type(error).__name__}: {error}"

    def prepare_next(self) -> Candidate | None:
        """Draw the next candidate of the queue into the hidden set of figures (if not there already).

        Moving on to it then swaps the two sets (``timings["plots"]`` well under a millisecond) instead of
        sending its light curve to the browser and waiting for it to be drawn.
        """
        upcoming = self.queue.upcoming(1, previous=False)
        if not upcoming:
            return None
        candidate = upcoming[0]
        standby = self._sets[1 - self._front]
        if standby.drawn == _identity(candidate):
            return candidate
        view = self.preloader.get(candidate)
        mode = self._mode_for(candidate)
        folded = self._fold(view, mode=mode, multiplier=1.0, candidate=candidate, report=False)
        with standby.batch():  # update() shows a view's read error itself
            standby.figures.update(view, folded, mode=mode, title=self._plot_title(candidate))
        standby.drawn, standby.view, standby.folded, standby.mode = _identity(candidate), view, folded, mode
        return candidate

    @property
    def figures(self) -> VettingFigures:
        """The Bokeh figures on screen (:class:`~qusi_lab.vetting.plots.VettingFigures`)."""
        return self._sets[self._front].figures

    @property
    def light_curve_plot(self) -> Any:
        """The widget showing the light curve and saliency figures on screen."""
        return self._sets[self._front].left

    @property
    def fold_plot(self) -> Any:
        """The widget showing the folded figures on screen."""
        return self._sets[self._front].right

    @contextlib.contextmanager
    def _one_patch_per_figure(self) -> Any:
        with self._sets[self._front].batch():
            yield

    def _plot_title(self, candidate: Candidate | None = None) -> str:
        candidate = self.queue.current if candidate is None else candidate
        if candidate is None:
            return "Light curve"
        parts = [candidate.target_id or Path(candidate.path).name or candidate.key]
        if candidate.mission:
            parts.append(candidate.mission)
        if str(candidate.sector):
            parts.append(f"sector {candidate.sector}" if candidate.mission in ("TESS", "") else
                         f"{'quarter' if candidate.mission == 'Kepler' else 'campaign'} {candidate.sector}")
        return "Light curve · " + " · ".join(parts)

    def _update_widgets(self, candidate: Candidate | None) -> None:
        self._updating = True
        try:
            queue = self.queue
            vetted, total = queue.progress
            self.progress_label.value = f'<div class="qv-progress">{vetted:,} of {total:,} vetted</div>'
            self.progress_bar.max = max(total, 1)
            self.progress_bar.value = min(vetted, max(total, 1))
            if queue.min_score is not None and self.score_slider.value != queue.min_score:
                self.score_slider.value = min(max(queue.min_score, self.score_slider.min), self.score_slider.max)
            if self.show_dropdown.value != queue.show:
                self.show_dropdown.value = queue.show
            if self.mode_buttons.value != self._mode:
                self.mode_buttons.value = self._mode
            shown = len(queue)
            self.position_label.value = (f'<span class="qv-subtitle">{queue.index + 1:,} / {shown:,} shown</span>'
                                         if candidate is not None else
                                         '<span class="qv-subtitle">none shown</span>')
            record = queue.record_of(candidate) if candidate is not None else None
            current_verdict = record.verdict if record is not None and record.verdict else None
            for number, (button, verdict) in enumerate(zip(self.verdict_buttons, queue.verdicts, strict=True)):
                colour = _VERDICT_COLOURS[number % len(_VERDICT_COLOURS)]
                chosen = verdict == current_verdict
                button.style.button_color = colour if chosen else "#f1f3f5"
                button.style.text_color = "#ffffff" if chosen else "#212529"
                button.style.font_weight = "bold" if chosen else "normal"
                button.disabled = candidate is None
            self.undo_button.disabled = not queue.can_undo
            self.previous_button.disabled = candidate is None or queue.index <= 0
            self.next_button.disabled = candidate is None or queue.index >= shown - 1
            if candidate is not None and record is not None and record.verdict and not self.note.value:
                self.note.value = record.note
            self.title.value = self._title_html(candidate, current_verdict)
            self.metadata.value = self._metadata_html(candidate, record)
            self._update_period_label()
            css = "qv-status qv-error" if self._status_error else "qv-status"
            self.status.value = f'<div class="{css}">{self._status_text}</div>'
        finally:
            self._updating = False

    def _title_html(self, candidate: Candidate | None, verdict: str | None) -> str:
        if candidate is None:
            return ('<div class="qv-title">Vetting</div><div class="qv-subtitle">No candidate passes the filters.'
                    '</div>')
        name = html.escape(candidate.target_id or Path(candidate.path).name or candidate.key)
        tag = ""
        if verdict:
            number = self.queue.verdicts.index(verdict) if verdict in self.queue.verdicts else -1
            colour = _VERDICT_COLOURS[number % len(_VERDICT_COLOURS)] if number >= 0 else "#495057"
            tag = f' <span class="qv-verdict-tag" style="background:{colour}">{html.escape(verdict)}</span>'
        rank = candidate.get("rank")
        rank_text = f"rank {int(rank):,} · " if rank is not None else ""
        return (f'<div class="qv-title">{name}{tag}</div><div class="qv-subtitle">{rank_text}score '
                f'{_number(candidate.score)} · {html.escape(self.store.path.name)} · user '
                f'{html.escape(self.store.user)}</div>')

    def _update_period_label(self) -> None:
        folded = self._folded
        if folded is None:
            self.period_label.value = '<span class="qv-subtitle">no period</span>'
            return
        source = self._view.period_source if self._view is not None else ""
        factor = "" if self._multiplier == 1 else f" ({self._multiplier:g} × {source or 'table'} period)"
        self.period_label.value = (f'<span class="qv-subtitle">&nbsp;P = <b>{folded.period:.6g} d</b>{factor}'
                                   "</span>")

    def _metadata_html(self, candidate: Candidate | None, record: VerdictRecord | None) -> str:
        if candidate is None:
            return ""
        view = self._view
        meta = view.meta if view is not None else {}
        rows: list[tuple[str, str]] = []
        mission = candidate.mission or str(meta.get("mission") or "")
        rows.append(("target", html.escape(candidate.target_id or str(meta.get("target_id") or "–"))))
        where = " ".join(part for part in (mission, f"sector {candidate.sector}" if str(candidate.sector) else "")
                         if part)
        if where:
            rows.append(("observed", html.escape(where)))
        magnitude = next((candidate.get(name) for name in ("magnitude", "tess_mag", "kepmag")
                          if candidate.get(name) is not None), meta.get("magnitude"))
        if magnitude is not None and math.isfinite(float(magnitude)):
            band = "Tmag" if mission == "TESS" else "Kp" if mission in ("Kepler", "K2") else "mag"
            rows.append(("magnitude", f"{band} {float(magnitude):.2f}"))
        meaning = str(self.queue.table.attrs.get("score") or "the network's score")
        rows.append(("score", f'<span title="{html.escape(meaning)}">{_number(candidate.score)}</span>'))
        class_scores = [(name[len("score_"):], candidate.get(name)) for name in candidate.data
                        if str(name).startswith("score_") and candidate.get(name) is not None]
        if class_scores:
            class_scores.sort(key=lambda item: -float(item[1]))
            rows.append(("classes", ", ".join(f"{html.escape(str(name))} {float(value):.2f}"
                                              for name, value in class_scores[:4])))
        if view is not None and view.has_period:
            source = view.period_source
            transit = f"P {_number(view.period, 6)} d · epoch {_number(view.epoch, 8)}"
            if source and source != "table":
                transit += f' <span class="qv-subtitle">({html.escape(source)})</span>'
            rows.append(("period", transit))
            depth, snr = candidate.get("depth_ppm"), candidate.get("bls_snr")
            details = [f"duration {view.duration * 24:.2f} h"]
            if depth is not None:
                details.append(f"depth {float(depth):,.0f} ppm")
            if snr is not None:
                details.append(f"SNR {float(snr):.1f}")
            rows.append(("transit", " · ".join(details)))
        folded = self._folded
        if folded is not None and folded.fit is not None:
            fit = folded.fit
            rows.append(("fit", f"heartbeat model: {html.escape(fit.describe())} "
                                f'<span class="qv-subtitle">({fit.seconds * 1000:.0f} ms)</span>'))
        if folded is not None and self._mode == "transit":
            odd_even = (f"odd/even differ by {folded.odd_even_sigma:.1f}σ"
                        if math.isfinite(folded.odd_even_sigma) else "odd/even: n/a")
            secondary = (f"secondary {folded.secondary_depth_ppm:,.0f} ± {folded.secondary_depth_error_ppm:,.0f} "
                         f"ppm at φ {folded.secondary_phase:.2f}"
                         if math.isfinite(folded.secondary_depth_ppm) else "secondary: n/a")
            rows.append(("checks", f"{odd_even} · {secondary}"))
        if view is not None and view.problems:
            rows.append(("note", '<span class="qv-subtitle">' + html.escape("; ".join(view.problems))[:200]
                         + "</span>"))
        if view is not None and view.error:
            rows.append(("error", f'<span style="color:#c92a2a">{html.escape(view.error)[:300]}</span>'))
        path = candidate.path or candidate.key
        rows.append(("file", f'<span title="{html.escape(path)}">{html.escape(Path(path).name)[:70]}</span>'))
        if record is not None and record.verdict:
            note = f" — “{html.escape(record.note)}”" if record.note else ""
            rows.append(("verdict", f"<b>{html.escape(record.verdict)}</b> by {html.escape(record.user)} "
                                    f"{html.escape(record.time[:16].replace('T', ' '))}{note}"))
        # Two pairs per line; long values (file, checks, verdict) get a line of their own.
        wide = {"checks", "file", "verdict", "note", "error", "period", "transit", "classes", "fit"}
        cells: list[str] = []
        pending: list[str] = []
        for name, value in sorted(rows, key=lambda row: row[0] in wide):
            if name in wide:
                cells.append(f'<tr><th>{name}</th><td colspan="3">{value}</td></tr>')
                continue
            pending.append(f"<th>{name}</th><td>{value}</td>")
            if len(pending) == 2:
                cells.append(f"<tr>{''.join(pending)}</tr>")
                pending = []
        if pending:
            cells.append(f"<tr>{pending[0]}<th></th><td></td></tr>")
        table = "".join(cells)
        truth_html = self._truth_html(view)
        return (f'<div class="qv-card"><div class="qv-section">Candidate</div><table class="qv-meta">{table}'
                f"</table>{truth_html}</div>")

    @staticmethod
    def _truth_html(view: CandidateView | None) -> str:
        if view is None or not view.truth:
            return ""
        truth = view.truth
        parts = []
        label = truth.get("label") or truth.get("kind")
        if label:
            parts.append(f"<b>{html.escape(str(label))}</b>")
        for name, unit, scale in (("period", " d", 1.0), ("depth", " ppm", 1e6), ("duration_hours", " h", 1.0),
                                  ("radius_ratio", "", 1.0), ("snr", "", 1.0)):
            value = truth.get(name)
            if value is None:
                continue
            try:
                number = float(value) * scale
            except (TypeError, ValueError):
                continue
            if math.isfinite(number):
                shown = f"{number:,.0f}" if scale != 1.0 else _number(number, 4)
                parts.append(f"{name.replace('_hours', '')} {shown}{unit}")
        if not parts:
            from qusi_lab.vetting.views import injected_signals

            kinds = sorted({str(signal.get("kind")) for signal in injected_signals(truth)})
            parts = [html.escape(", ".join(kinds))] if kinds else []
        if not parts:
            return ""
        return ('<div class="qv-section">Injected truth (synthetic data)</div>'
                f'<div class="qv-truth">{" · ".join(parts)}</div>')

    # ------------------------------------------------------------------ display and export
    def _refresh_plot_widgets(self) -> None:
        """Put the figures' current state into the embedded widgets' render bundles.

        Bokeh patches sent before a widget is on screen are lost (nothing applies them in the
        browser), so each time the panel is displayed the widgets start from the full current state.
        """
        for figure_set in self._sets:
            figure_set.left.update_from_model(figure_set.figures.left)
            figure_set.right.update_from_model(figure_set.figures.right)

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


def _identity(candidate: Candidate) -> tuple[int, str]:
    """Which row a set of figures shows: its place in the table and its key (two rows may share a file)."""
    return candidate.position, candidate.key


class _FigureSet:
    """One set of the panel's figures with the two widgets that embed them.

    The panel has two: the one on screen and a hidden one (CSS class ``qv-standby``: absolutely
    positioned under the other, ``visibility: hidden``) into which the next candidate is drawn while
    the user looks at this one. BokehJS draws hidden figures like visible ones, so going to the next
    candidate swaps the two classes, which the browser shows in a frame (~20-35 ms in headless
    Chromium without a GPU, against 250-450 ms to send and draw a 20,000-point light curve).
    """

    def __init__(self) -> None:
        self.figures = VettingFigures(left_width=560, right_width=400)
        self.left = batched_bokeh_model(self.figures.left)
        self.left.add_class("qv-light-curve-plot")
        self.right = batched_bokeh_model(self.figures.right)
        self.right.add_class("qv-fold-plot")
        self.drawn: tuple[int, str] | None = None  # the candidate drawn (see _identity)
        self.view: CandidateView | None = None
        self.folded: FoldedView | None = None
        self.mode = "transit"

    def show(self, visible: bool) -> None:
        for widget in (self.left, self.right):
            if visible:
                widget.remove_class("qv-standby")
            else:
                widget.add_class("qv-standby")

    @contextlib.contextmanager
    def batch(self) -> Any:
        """One patch message per figure; the light curve's sent first (the batches end last-in first-out):
        the browser applies and draws them in order, and the light curve is what a vetter looks at first."""
        with self.right.batch(), self.left.batch():
            yield


def _close_tree(widget: Any) -> None:
    """Close a widget and everything inside it (not Widget.close_all: that closes every widget of the kernel)."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    if type(widget).__name__ == "BokehModel":
        # jupyter_bokeh's close() fails when called twice (here, then by __del__): leave it to __del__.
        return
    widget.close()


# jupyter_bokeh's view sends every change of its BokehJS document back to the kernel, including the changes
# it has just applied from the kernel's own patch (BokehJS marks those ``sync: false``; Bokeh's server
# connection drops them, jupyter_bokeh 4.1 does not). For a candidate that is the whole light curve again,
# base64-encoded on the page's main thread: ~45 ms before the light curve could be drawn, measured in
# headless Chromium. When the document is ready, this wraps its change listeners so that only changes made
# in the page (zoom, pan, reset) are sent. If BokehJS's internals differ, it changes nothing.
_NO_ECHO_JS = """
const doc = cb_obj;
const listeners = doc._callbacks;
if (listeners instanceof Map && typeof doc.remove_on_change === "function") {
  for (const [listener, batches] of [...listeners]) {
    if (listener.qusi_page_changes_only) continue;
    const page_changes_only = (event) => { if (event.sync !== false) listener(event); };
    page_changes_only.qusi_page_changes_only = true;
    doc.remove_on_change(listener);
    doc.on_change(page_changes_only, batches);
  }
}
"""


def batched_bokeh_model(model: Any) -> Any:
    """A ``jupyter_bokeh`` ``BokehModel`` of ``model`` that can send one update as one patch message.

    ``BokehModel`` sends one ``PATCH-DOC`` message per document event; showing a candidate changes
    some 30 properties (sources, ranges, titles, spans), and BokehJS applies each message on its own.
    Inside the widget's ``batch()`` the events are collected and sent as one message when it ends, so
    the browser applies a candidate in one go; outside it the widget behaves as ``BokehModel``. Its
    document also gets ``_NO_ECHO_JS``, so the page does not send the patches back. (In
    headless Chromium without a GPU the key-to-redrawn-light-curve time went from 405-554 ms to
    280-422 ms, a gain within the spread of those runs; most of the time is BokehJS drawing, see
    benchmarks/README.md.)
    """
    import json

    from bokeh.document import Document
    from bokeh.models import CustomJS
    from bokeh.protocol import Protocol
    from jupyter_bokeh.widgets import BokehModel

    if model.document is None:
        Document().add_root(model)
    model.document.js_on_event("document_ready", CustomJS(code=_NO_ECHO_JS))
    widget = BokehModel(model)
    pending: list[list[Any]] = []  # the events of the batch under way (none: not batching)

    def send_events(events: list[Any]) -> None:
        # The message framing of BokehModel._document_patched, with several events in it.
        message = Protocol().create("PATCH-DOC", events)
        widget.send({"msg": "patch", "payload": message.header_json})
        widget.send({"msg": "patch", "payload": message.metadata_json})
        widget.send({"msg": "patch", "payload": message.content_json})
        for buffer in message.buffers:
            widget.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
            widget.send({"msg": "patch"}, [buffer.to_bytes()])

    def document_patched(event: Any) -> None:
        # Bokeh dispatches document events to ``receiver._document_patched``: this instance attribute.
        if event.setter is widget:
            return
        if pending:
            pending[-1].append(event)
        else:
            send_events([event])

    @contextlib.contextmanager
    def batch() -> Any:
        if pending:  # nested: the outer batch sends
            yield
            return
        pending.append([])
        try:
            yield
        finally:
            events = pending.pop()
            if events:
                send_events(events)

    widget._document_patched = document_patched
    widget.batch = batch
    return widget
