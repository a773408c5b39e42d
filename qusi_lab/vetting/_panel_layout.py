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
        def fold_at(self, multiplier: float) -> None: ...
        def handle_key(self, event: Mapping[str, Any]) -> None: ...
        def _on_score(self, change: Mapping[str, Any]) -> None: ...
        def _on_show(self, change: Mapping[str, Any]) -> None: ...
        def _on_jump_text(self, change: Mapping[str, Any]) -> None: ...
        def _on_mode(self, change: Mapping[str, Any]) -> None: ...

    # ------------------------------------------------------------------ widgets
    def _build_widgets(self) -> None:

        queue = self.queue
        low, high = queue.score_range
        if queue.min_score is not None:  # the slider shows the min_score asked for, even beyond the scores
            low, high = min(low, queue.min_score), max(high, queue.min_score)
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
