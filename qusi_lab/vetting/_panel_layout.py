"""The vetting panel's widgets: building the layout, and the header, candidate card and buttons it shows.

:class:`_LayoutMixin` is the part of :class:`~qusi_lab.vetting.panel.VettingPanel` that builds the ipywidgets
(controls, the two stacked figure sets, verdict buttons, note, status, keyboard areas) and renders the text
of a candidate into them; it holds no queue logic (that is :class:`~qusi_lab.vetting.queue.CandidateQueue`,
reached through the panel's actions in :mod:`qusi_lab.vetting.panel`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from qusi_lab.vetting.queue import Candidate, CandidateQueue
from qusi_lab.vetting.store import VerdictRecord, VerdictStore
from qusi_lab.vetting.views import CandidateView, FoldedView

if TYPE_CHECKING:
    from qusi_lab.vetting._panel_figures import _FigureSet

_VERDICT_COLOURS = ("#2f9e44", "#e8590c", "#ae3ec9", "#1971c2", "#868e96", "#f59f00", "#0c8599", "#c2255c",
                    "#5c940d")

_CSS = """
<style>
.qusi-vetting-panel { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #343a40; border: 1px solid #dee2e6; border-radius: 8px; padding: 6px 10px; background: #fff;
  box-sizing: border-box; }
.qusi-vetting-panel .widget-html-content { line-height: 1.35; }
.qusi-vetting-panel .qv-header { border-bottom: 1px solid #e9ecef; padding-bottom: 3px; margin-bottom: 2px; }
.qusi-vetting-panel .qv-title { font-size: 15px; font-weight: 600; line-height: 1.3; }
.qusi-vetting-panel .qv-subtitle { font-size: 12px; color: #6c757d; }
.qusi-vetting-panel .qv-progress { font-size: 13px; font-weight: 600; text-align: right; }
.qusi-vetting-panel .qv-controls { background: #f8f9fa; border-radius: 6px; padding: 2px 6px; margin: 2px 0; }
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
.qusi-vetting-panel .qv-status { font-size: 12px; color: #495057; min-height: 16px; line-height: 16px; }
.qusi-vetting-panel .qv-status-box, .qusi-vetting-panel .qv-status-box .widget-html-content { min-height: 16px;
  height: auto; line-height: 16px; }
.qusi-vetting-panel .qv-empty-text { font-size: 14px; color: #495057; background: #fff9db; border-radius: 6px;
  padding: 16px 14px; margin: 6px 0; white-space: normal; }
.qusi-vetting-panel .qv-status.qv-error { color: #c92a2a; }
.qusi-vetting-panel .qv-help { font-size: 11px; color: #868e96; }
.qusi-vetting-panel .qv-help kbd { background: #f1f3f5; border: 1px solid #dee2e6; border-radius: 3px;
  padding: 0 4px; font-size: 11px; }
.qusi-vetting-panel .qv-verdict-button button, .qusi-vetting-panel button.qv-verdict-button {
  border-radius: 5px; }
.qusi-vetting-panel .qv-fold-tools { align-items: center; }
.qusi-vetting-panel .qv-fold-tools .widget-toggle-buttons { margin-right: 4px; }
.qusi-vetting-panel .qv-period-button, .qusi-vetting-panel .qv-period-reset { margin: 1px 1px; font-size: 12px; }
.qusi-vetting-panel .qv-verdict-button { padding: 0 6px; font-size: 12px; }
.qusi-vetting-panel .qv-period-problem { color: #c92a2a; font-size: 12px; }
.qusi-vetting-panel .qv-keys-left:focus, .qusi-vetting-panel .qv-keys-right:focus { outline: none; }
.qusi-vetting-panel { container-type: inline-size; }
.qusi-vetting-panel .qv-body { grid-template-columns: minmax(360px, 3fr) minmax(300px, 2fr);
  grid-template-areas: "lc fold" "card fold"; grid-template-rows: auto 1fr; column-gap: 8px; align-items: start; }
@container (max-width: 700px) {
  .qusi-vetting-panel .qv-body { grid-template-columns: minmax(0, 1fr); grid-template-areas: "lc" "fold" "card";
    grid-template-rows: auto; } }
.qusi-vetting-panel .qv-area-light-curve { grid-area: lc; min-width: 0; }
.qusi-vetting-panel .qv-area-fold { grid-area: fold; min-width: 0; }
.qusi-vetting-panel .qv-area-card { grid-area: card; min-width: 0; }
.qusi-vetting-panel .qv-plot-stack { position: relative; width: 100%; }
.qusi-vetting-panel .qv-plot-stack > * { width: 100%; min-width: 0; background: #fff; }
.qusi-vetting-panel .qv-plot-stack > .qv-standby,
.qusi-vetting-panel .qv-plot-stack > :not(.qv-standby) ~ :not(.qv-standby) { position: absolute !important; top: 0;
  left: 0; right: 0; }
.qusi-vetting-panel .qv-plot-stack > .qv-standby { visibility: hidden; pointer-events: none; }
.qusi-vetting-panel .ipyevents-watched { outline: 1px solid #a5d8ff; outline-offset: 3px; border-radius: 4px; }
</style>
"""

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


def _factor_text(multiplier: float) -> str:
    """``3``, ``1/4``, ``2/3`` or ``1.37``: a fold's period over the table's, as a person would write it.

    >>> _factor_text(3.0), _factor_text(0.25), _factor_text(3 / 5 * 5 / 4), _factor_text(2.37)
    ('3', '1/4', '3/4', '2.37')
    """
    from fractions import Fraction

    fraction = Fraction(multiplier).limit_denominator(25)  # ÷N and ×N with N = 2..5, a few times over
    if fraction.numerator <= 125 and abs(float(fraction) - multiplier) < 1e-4 * multiplier:  # typed: rounded
        return str(fraction)
    return f"{multiplier:.4g}"


class _LayoutMixin:
    """The widget-building and rendering methods of :class:`~qusi_lab.vetting.panel.VettingPanel`."""

    # Set by VettingPanel.__init__ (declared here for the type checker).
    queue: CandidateQueue
    store: VerdictStore
    _sets: tuple[_FigureSet, _FigureSet]
    _multiplier: float
    _mode: str
    _view: CandidateView | None
    _folded: FoldedView | None
    _updating: bool
    _status_text: str
    _status_error: bool

    if TYPE_CHECKING:
        def record(self, verdict: str | int) -> VerdictRecord | None: ...
        def next(self) -> Candidate | None: ...
        def previous(self) -> Candidate | None: ...
        def undo(self) -> Candidate | None: ...
        def go_to(self, target: str) -> Candidate | None: ...
        def fold_at(self, multiplier: float) -> bool: ...
        def handle_key(self, event: Mapping[str, Any]) -> None: ...
        def _on_score(self, change: Mapping[str, Any]) -> None: ...
        def _on_show(self, change: Mapping[str, Any]) -> None: ...
        def _on_jump_text(self, change: Mapping[str, Any]) -> None: ...
        def _on_mode(self, change: Mapping[str, Any]) -> None: ...
        def _on_period_text(self, change: Mapping[str, Any]) -> None: ...

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self) -> None:
        """The layout, top to bottom: header; filters and navigation; verdict buttons, note, undo and keys; the
        status line; the light curve (left) beside the fold with its period tools (right), the candidate card
        under the light curve. The two columns share the width (3:2, each with a least width), so that the
        light curve, the fold and the verdict buttons are on screen together in JupyterLab at 1366 × 768 with
        its file browser open; in a panel narrower than ~700 px they are one column: light curve, fold, card."""
        queue = self.queue
        low, high = queue.score_range
        if queue.min_score is not None:  # the slider shows the min_score asked for, even beyond the scores
            low, high = min(low, queue.min_score), max(high, queue.min_score)
        if not high > low:
            high = low + 1.0
        self.title = widgets.HTML()
        self.title.add_class("qv-title-box")
        self.progress_label = widgets.HTML()
        self.progress_bar = widgets.IntProgress(min=0, max=1, value=0, layout=widgets.Layout(width="180px",
                                                                                             height="12px"))
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
            layout=widgets.Layout(width="250px"))
        self.score_slider.add_class("qv-score-slider")
        labels = {"unvetted": "unvetted", "all": "all", "vetted": "vetted (any verdict)"}
        self.show_dropdown = widgets.Dropdown(
            options=[(labels.get(option, option), option) for option in queue.show_options], value=queue.show,
            description="show", style={"description_width": "38px"}, layout=widgets.Layout(width="190px"))
        self.show_dropdown.add_class("qv-show")
        self.jump_text = widgets.Text(placeholder="TIC 25155310", description="go to", continuous_update=False,
                                      style={"description_width": "42px"}, layout=widgets.Layout(width="170px"))
        self.jump_text.add_class("qv-jump")
        self.jump_button = widgets.Button(description="Go", layout=widgets.Layout(width="40px"))
        self.previous_button = widgets.Button(description="◀ prev", tooltip="previous candidate (k, ←)",
                                              layout=widgets.Layout(width="68px"))
        self.next_button = widgets.Button(description="next ▶", tooltip="next candidate (j, →)",
                                          layout=widgets.Layout(width="68px"))
        self.previous_button.add_class("qv-previous")
        self.next_button.add_class("qv-next")
        self.position_label = widgets.HTML(layout=widgets.Layout(margin="0 0 0 6px"))
        controls = widgets.HBox(
            [self.score_slider, self.show_dropdown, self.jump_text, self.jump_button, self.previous_button,
             self.next_button, self.position_label],
            layout=widgets.Layout(align_items="center", flex_flow="row wrap"))
        controls.add_class("qv-controls")

        # Verdicts, note, undo and keys in one row near the top (it wraps in a narrow notebook).
        self.verdict_buttons: list[widgets.Button] = []
        for number, verdict in enumerate(queue.verdicts, start=1):
            button = widgets.Button(description=f"{number}  {verdict}", tooltip=f"{verdict} (key {number})",
                                    layout=widgets.Layout(width="auto", height="28px", margin="1px 3px 1px 0"))
            button.add_class("qv-verdict-button")
            button.add_class(f"qv-verdict-{number}")
            button.on_click(lambda _, chosen=verdict: self.record(chosen))
            self.verdict_buttons.append(button)
        verdict_buttons = widgets.HBox(self.verdict_buttons, layout=widgets.Layout(flex_flow="row wrap",
                                                                                   align_items="center"))
        verdict_buttons.add_class("qv-verdicts")
        self.note = widgets.Text(placeholder="note (saved with the verdict)",
                                 layout=widgets.Layout(width="170px", margin="1px 4px 1px 2px"))
        self.note.add_class("qv-note")
        self.undo_button = widgets.Button(description="↶ undo", tooltip="take back the last verdict (u)",
                                          layout=widgets.Layout(width="64px", height="28px", padding="0"))
        self.undo_button.add_class("qv-undo")
        self.help_button = widgets.ToggleButton(value=False, description="?", tooltip="the keyboard keys",
                                                layout=widgets.Layout(width="30px", height="28px",
                                                                      margin="1px 0 1px 4px", padding="0"))
        self.help_button.add_class("qv-help-button")
        actions = widgets.HBox([verdict_buttons, self.note, self.undo_button, self.help_button],
                               layout=widgets.Layout(flex_flow="row wrap", align_items="center", margin="2px 0"))
        actions.add_class("qv-actions")
        keys = " · ".join(f"<kbd>{n}</kbd> {html.escape(v)}" for n, v in enumerate(queue.verdicts, start=1))
        self.help = widgets.HTML(
            f'<div class="qv-help">Keys, with the pointer over the figures or the verdict buttons: {keys} · '
            '<kbd>j</kbd>/<kbd>→</kbd> next · <kbd>k</kbd>/<kbd>←</kbd> previous · <kbd>u</kbd> undo. Each verdict '
            f'is saved at once to <code>{html.escape(str(self.store.path))}</code>.</div>',
            layout=widgets.Layout(display="none"))
        self.help.add_class("qv-help-box")
        self.status = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.status.add_class("qv-status-box")
        # Shown instead of the figures when no candidate passes the filters: why, and what to change.
        self.empty_message = widgets.HTML(layout=widgets.Layout(display="none"))
        self.empty_message.add_class("qv-empty")

        self._sets[1].show(False)
        light_curve_stack = widgets.Box([figure_set.left for figure_set in self._sets])
        light_curve_stack.add_class("qv-plot-stack")
        fold_stack = widgets.Box([figure_set.right for figure_set in self._sets])
        fold_stack.add_class("qv-plot-stack")
        self.mode_buttons = widgets.ToggleButtons(options=[("transit", "transit"), ("heartbeat", "heartbeat")],
                                                  value="transit", style={"button_width": "88px"},
                                                  tooltips=["odd/even transits, dips away from the transit",
                                                            "periastron feature, model"])
        self.mode_buttons.add_class("qv-mode")
        # Fold at N x or 1/N x the period shown (N = 2..5: harmonics of heartbeat stars and eclipsing binaries).
        self.period_buttons: dict[str, widgets.Button] = {}
        for name, factor in [(f"÷{n}", 1 / n) for n in (5, 4, 3, 2)] + [(f"×{n}", float(n)) for n in (2, 3, 4, 5)]:
            what = f"{name[1:]} times" if name.startswith("×") else f"1/{name[1:]} of"
            button = widgets.Button(description=name, tooltip=f"fold at {what} the period shown",
                                    layout=widgets.Layout(width="34px", height="26px", padding="0"))
            button.add_class("qv-period-button")
            button.on_click(lambda _, by=factor: self.fold_at(self._multiplier * by))
            self.period_buttons[name] = button
        self.half_button, self.double_button = self.period_buttons["÷2"], self.period_buttons["×2"]
        self.half_button.add_class("qv-half")
        self.double_button.add_class("qv-double")
        self.table_period_button = widgets.Button(description="↺", tooltip="back to the table's period",
                                                  layout=widgets.Layout(width="30px", height="26px", padding="0"))
        self.table_period_button.add_class("qv-period-reset")
        self.table_period_button.on_click(lambda _: self.fold_at(1.0))
        self.period_label = widgets.HTML()
        self.period_label.add_class("qv-period-label")
        fold_tools = widgets.VBox([
            widgets.HBox([self.mode_buttons, self.period_label],
                         layout=widgets.Layout(align_items="center", flex_flow="row wrap")),
            widgets.HBox([*self.period_buttons.values(), self.table_period_button],
                         layout=widgets.Layout(align_items="center", flex_flow="row wrap"))])
        fold_tools.add_class("qv-fold-tools")
        self.period_text = widgets.Text(placeholder="a period in days, then Enter", description="fold at",
                                        continuous_update=False, style={"description_width": "44px"},
                                        layout=widgets.Layout(width="250px"))
        self.period_text.add_class("qv-period-text")
        period_row = widgets.HBox([self.period_text], layout=widgets.Layout(align_items="center"))
        self.metadata = widgets.HTML(layout=widgets.Layout(width="100%", margin="4px 0 0 0"))
        self.metadata.add_class("qv-metadata")
        # Keyboard shortcuts listen over the figures, the candidate card and the verdict and fold buttons, not
        # over the note, the period box and the controls: ipyevents takes every key while the pointer is over
        # what it watches (it prevents the keys' default action), so text could not be typed there.
        left = widgets.VBox([light_curve_stack])
        left.add_class("qv-keys-left")
        left.add_class("qv-area-light-curve")
        right_keys = widgets.VBox([fold_stack, fold_tools])
        right_keys.add_class("qv-keys-right")
        right = widgets.VBox([right_keys, period_row])
        right.add_class("qv-area-fold")
        card = widgets.VBox([self.metadata])
        card.add_class("qv-keys-card")
        card.add_class("qv-area-card")
        self._key_areas = (left, right_keys, card, verdict_buttons)
        # A grid (see _CSS): the light curve beside the fold, the card under the light curve; in a panel
        # narrower than ~700 px one column, in the order light curve, fold, card.
        self._body = widgets.GridBox([left, right, card], layout=widgets.Layout(width="100%"))
        self._body.add_class("qv-body")
        self.widget = widgets.VBox([widgets.HTML(_CSS), header, controls, actions, self.help, self.status,
                                    self.empty_message, self._body],
                                   layout=widgets.Layout(width="100%", max_width="1500px"))
        self.widget.add_class("qusi-vetting-panel")

        self.score_slider.observe(self._on_score, names="value")
        self.show_dropdown.observe(self._on_show, names="value")
        self.jump_text.observe(self._on_jump_text, names="value")
        self.jump_button.on_click(lambda _: self.go_to(self.jump_text.value))
        self.previous_button.on_click(lambda _: self.previous())
        self.next_button.on_click(lambda _: self.next())
        self.mode_buttons.observe(self._on_mode, names="value")
        self.period_text.observe(self._on_period_text, names="value")
        self.undo_button.on_click(lambda _: self.undo())
        self.help_button.observe(self._on_help, names="value")
        self.key_events = self._make_key_events()
        self.events = self.key_events[0] if self.key_events else None

    def _on_help(self, change: Mapping[str, Any]) -> None:
        self.help.layout.display = "" if change["new"] else "none"

    def _show_empty(self, candidate: Candidate | None) -> None:
        """No candidate: say why in place of the figures (the queue's reason when it has one)."""
        if candidate is None:
            reason = getattr(self.queue, "why_empty", lambda: None)()
            text = html.escape(str(reason)) if reason else (
                "No candidate passes the filters: lower the score threshold or show all.")
            self.empty_message.value = f'<div class="qv-empty-text">{text}</div>'
            self.empty_message.layout.display = ""
            self._body.layout.display = "none"
        elif self.empty_message.layout.display != "none":
            self.empty_message.layout.display = "none"
            self._body.layout.display = ""

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

    def _refresh_metadata(self) -> None:
        """The candidate card again (after a refold: the heartbeat fit's parameters change)."""
        candidate = self.queue.current
        if candidate is not None:
            self.metadata.value = self._metadata_html(candidate, self.queue.record_of(candidate))

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self._status_text = text
        self._status_error = error
        if hasattr(self, "status"):
            css = "qv-status qv-error" if error else "qv-status"
            self.status.value = f'<div class="{css}">{text}</div>'


    def _update_widgets(self, candidate: Candidate | None) -> None:
        self._updating = True
        try:
            queue = self.queue
            vetted, total = queue.progress
            self.progress_label.value = f'<div class="qv-progress">{html.escape(queue.progress_text)}</div>'
            self.progress_bar.max = max(total, 1)
            self.progress_bar.value = min(vetted, max(total, 1))
            if queue.min_score is not None and self.score_slider.value != queue.min_score:
                # Widen the slider to a min_score set beyond the scores, rather than showing another value.
                self.score_slider.max = max(self.score_slider.max, queue.min_score)
                self.score_slider.min = min(self.score_slider.min, queue.min_score)
                self.score_slider.value = queue.min_score
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
            self._show_empty(candidate)
            css = "qv-status qv-error" if self._status_error else "qv-status"
            self.status.value = f'<div class="{css}">{self._status_text}</div>'
        finally:
            self._updating = False

    def _title_html(self, candidate: Candidate | None, verdict: str | None) -> str:
        if candidate is None:
            return ('<div class="qv-title">Vetting</div><div class="qv-subtitle">No candidate passes the filters · '
                    f'verdicts in {html.escape(self.store.path.name)}</div>')
        name = html.escape(candidate.target_id or Path(candidate.path).name or candidate.key)
        tag = ""
        if verdict:
            number = self.queue.verdicts.index(verdict) if verdict in self.queue.verdicts else -1
            colour = _VERDICT_COLOURS[number % len(_VERDICT_COLOURS)] if number >= 0 else "#495057"
            tag = f' <span class="qv-verdict-tag" style="background:{colour}">{html.escape(verdict)}</span>'
        rank = candidate.get("rank")
        rank_text = f"rank {int(rank):,} · " if rank is not None else ""
        return (f'<div class="qv-title">{name}{tag}</div><div class="qv-subtitle">{rank_text}score '
                f'{_number(candidate.score)} · verdicts in {html.escape(self.store.path.name)} · user '
                f'{html.escape(self.store.user)}</div>')

    def _period_problem(self, text: str) -> None:
        """Why the period box or a ÷N/×N button did not refold, beside the box (the fold stays as it was)."""
        self._update_period_label()
        self.period_label.value = (f'<span class="qv-period-problem">{text}</span><br>' + self.period_label.value)

    def _update_period_label(self) -> None:
        if self._multiplier == 1.0 and self.period_text.value:
            updating, self._updating = self._updating, True
            try:  # the table's period again (a new candidate, the ↺ button): the typed period is done with
                self.period_text.value = ""
            finally:
                self._updating = updating
        folded = self._folded
        if folded is None:
            self.period_label.value = '<span class="qv-subtitle">no period</span>'
            return
        source = self._view.period_source if self._view is not None else ""
        factor = "" if self._multiplier == 1 else f" ({_factor_text(self._multiplier)} × {source or 'table'} period)"
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
        if view is not None and view.has_period and view.period_method == "heartbeat":
            rows.extend(_heartbeat_rows(view))
        elif view is not None and view.has_period:
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
        if folded is not None and self._mode == "transit" and (view is None or view.period_method != "heartbeat"):
            odd_even = (f"odd/even differ by {folded.odd_even_sigma:.1f}σ"
                        if math.isfinite(folded.odd_even_sigma) else "odd/even: n/a")
            depth, error = folded.secondary_depth_ppm, folded.secondary_depth_error_ppm
            sigma = f", {depth / error:.1f}σ" if math.isfinite(depth) and math.isfinite(error) and error > 0 else ""
            secondary = (f"deepest dip away from transit {depth:,.0f} ± {error:,.0f} ppm{sigma} at φ "
                         f"{folded.secondary_phase:.2f}" if math.isfinite(depth) else "dip away from transit: n/a")
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
        wide = {"checks", "file", "verdict", "note", "error", "period", "transit", "heartbeat", "classes", "fit"}
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


def _heartbeat_rows(view: CandidateView) -> list[tuple[str, str]]:
    """The card's rows for a heartbeat search's candidate: its orbit and detection, no transit fields."""
    period = f"P {_number(view.period, 6)} d · periastron {_number(view.epoch, 8)}"
    source = view.period_source if view.period_source not in ("", "table") else "heartbeat search"
    period += f' <span class="qv-subtitle">({html.escape(source)})</span>'
    values = view.heartbeat
    details = []
    if "amplitude" in values:
        details.append(f"amplitude {values['amplitude'] * 1e6:,.0f} ppm")
    if "snr" in values:
        details.append(f"significance {values['snr']:.1f}σ")
    if "eccentricity" in values:
        details.append(f"e {values['eccentricity']:.2f}")
    if "passages" in values:
        passages = int(round(values["passages"]))
        details.append(f"{passages} periastron passage{'s' if passages != 1 else ''}"
                       + (": the period is only guessed from the pulse's shape" if passages == 1 else ""))
    rows = [("period", period)]
    if details:
        rows.append(("heartbeat", " · ".join(details)))
    return rows
