"""The Bokeh figures of the vetting panel, built once and refilled for each candidate.

:class:`VettingFigures` holds two Bokeh layouts that the panel embeds as widgets
(``jupyter_bokeh.BokehModel``: no Bokeh server, no extra port):

* ``left``: the full light curve (raw points and 30-minute bins, ticks at the predicted
  transits; pan, wheel zoom, box zoom, reset) above the network's saliency on the same time axis;
* ``right``: the folded curve (transit view: odd and even transits in two colours, the phase of the
  deepest dip away from the transit marked; heartbeat view: the periastron feature at phase 0 with the
  injected model of synthetic data and a fitted heartbeat model, dashed) and, for transits, three zooms:
  odd transits, even transits and the deepest dip away from the transit (a secondary eclipse only if it
  is significant), on a shared flux axis, with a caption giving their depths, errors and significance.

``compact=True`` (the panel's): every figure stretches to the width of its column (``min_width`` the
given width's floor) at heights chosen so that both columns and the verdict buttons fit a 1366 × 768
window in JupyterLab with its file browser open.

Updating replaces the data of existing ``ColumnDataSource`` objects under one document hold,
so the browser receives a single patch per candidate.

Example
-------
>>> from qusi_lab.vetting.views import view_from_light_curve, fold_transit
>>> import numpy as np
>>> from qusi_lab import LightCurve
>>> time = np.arange(0.0, 27.0, 10 / 1440)
>>> view = view_from_light_curve(LightCurve(time, 1 + 0 * time), period=3.0, epoch=1.0, duration=0.1)
>>> figures = VettingFigures()
>>> figures.update(view, fold_transit(view), mode="transit")
>>> len(figures.sources["raw"].data["x"]) == time.size
True
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any

import numpy as np
from bokeh.document import Document
from bokeh.layouts import column, row
from bokeh.models import ColumnDataSource, FixedTicker, Range1d
from bokeh.models.annotations import Span
from bokeh.models.widgets import Div
from bokeh.plotting import figure

from qusi_lab.vetting.views import CandidateView, FoldedView

__all__ = ["VettingFigures", "PALETTE", "describe_checks"]

PALETTE = {
    "raw": "#c3cad3",
    "binned": "#1f3b73",
    "marker": "#d9480f",
    "saliency": "#e8590c",
    "odd": "#1c7ed6",
    "even": "#f08c00",
    "fold": "#212529",
    "secondary": "#7048e8",
    "model": "#e03131",
    "fit": "#0ca678",
    "grid": "#e9ecef",
    "outline": "#dee2e6",
    "text": "#343a40",
}

_EMPTY: dict[str, Any] = {"x": np.empty(0), "y": np.empty(0)}


def _style(fig: Any, *, x_label: str = "", y_label: str = "") -> Any:
    fig.toolbar.logo = None
    fig.toolbar.autohide = True
    fig.title.text_font_size = "12px"
    fig.title.text_font_style = "bold"
    fig.title.text_color = PALETTE["text"]
    fig.outline_line_color = PALETTE["outline"]
    fig.background_fill_color = "#ffffff"
    fig.border_fill_color = "#ffffff"
    fig.min_border_left = 52
    fig.min_border_right = 12
    for grid in (fig.xgrid, fig.ygrid):
        grid.grid_line_color = PALETTE["grid"]
    for axis, label in ((fig.xaxis, x_label), (fig.yaxis, y_label)):
        axis.axis_label = label
        axis.axis_label_text_font_size = "11px"
        axis.axis_label_text_font_style = "normal"
        axis.major_label_text_font_size = "10px"
        axis.axis_line_color = PALETTE["outline"]
        axis.major_tick_line_color = PALETTE["outline"]
        axis.minor_tick_line_color = None
    return fig


def _legend_above(fig: Any) -> Any:
    """Move the figure's legend above the plot area: inside it would hide data."""
    legend = fig.legend[0]
    fig.center = [item for item in fig.center if item is not legend]
    legend.orientation = "horizontal"
    legend.location = "top_right"
    legend.label_text_font_size = "10px"
    legend.glyph_width = 14
    legend.label_standoff = 3
    legend.spacing = 8
    legend.padding = 0
    legend.margin = 2
    legend.border_line_color = None
    legend.background_fill_alpha = 0.0
    fig.add_layout(legend, "above")
    return legend


def _limits(values: np.ndarray, low: float = 0.5, high: float = 99.5, pad: float = 0.08,
            default: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return default
    bottom, top = (float(value) for value in np.percentile(finite, [low, high]))
    if not top > bottom:
        bottom, top = bottom - 0.5 * abs(bottom or 1) * 1e-3, top + 0.5 * abs(top or 1) * 1e-3
    margin = (top - bottom) * pad
    return bottom - margin, top + margin


def _xy(x: Any, y: Any) -> dict[str, np.ndarray]:
    """Column data as float32 where that is ample for a screen: half the bytes sent to the browser.

    BTJD/BKJD times (below ~65,000 d) keep ~10 s resolution in float32; full Julian dates would not,
    so large times stay float64.
    """
    x = np.asarray(x)
    large = x.size > 0 and float(np.nanmax(np.abs(x))) > 65_536 if np.isfinite(x).any() else False
    return {"x": x.astype(np.float64 if large else np.float32), "y": np.asarray(y, dtype=np.float32)}


def _set_range(range_: Range1d, start: float, end: float) -> None:
    range_.start, range_.end = start, end
    range_.reset_start, range_.reset_end = start, end


def _format_ppm(value: float, error: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if math.isfinite(error):
        return f"{value:,.0f} ± {error:,.0f} ppm"
    return f"{value:,.0f} ppm"


def _sigma(value: float, error: float) -> float:
    """How many errors ``value`` is from zero (NaN when either is unknown)."""
    return value / error if math.isfinite(value) and math.isfinite(error) and error > 0 else math.nan


def describe_checks(folded: FoldedView) -> str:
    """The transit checks of a fold in words (HTML): odd and even depths, and the deepest dip away from the transit.

    The dip is the deepest one at any phase at least three durations from the transit: a secondary eclipse
    when it is significant (a few σ) and where an orbit allows one (phase 0.5 for a circular orbit), else noise.

    >>> import numpy as np
    >>> from qusi_lab import LightCurve
    >>> from qusi_lab.vetting.views import view_from_light_curve, fold_transit
    >>> time = np.arange(0.0, 27.0, 10 / 1440)
    >>> flux = 1 + np.random.default_rng(1).normal(0, 5e-4, time.size)
    >>> view = view_from_light_curve(LightCurve(time, flux), period=3.0, epoch=1.0, duration=0.1)
    >>> "deepest dip away from transit" in describe_checks(fold_transit(view))
    True
    """
    odd = _format_ppm(folded.odd_depth_ppm, folded.odd_depth_error_ppm)
    even = _format_ppm(folded.even_depth_ppm, folded.even_depth_error_ppm)
    differ = (f" (differ by {folded.odd_even_sigma:.1f}σ)" if math.isfinite(folded.odd_even_sigma) else "")
    lines = [f'<span style="color:{PALETTE["odd"]}">odd</span> {odd} · '
             f'<span style="color:{PALETTE["even"]}">even</span> {even}{differ}']
    if math.isfinite(folded.secondary_depth_ppm):
        sigma = _sigma(folded.secondary_depth_ppm, folded.secondary_depth_error_ppm)
        significance = f", {sigma:.1f}σ" if math.isfinite(sigma) else ""
        explain = ("the deepest dip at any phase away from the transit: a secondary eclipse only if it is "
                   "significant (a few σ) and at a phase an orbit allows (0.5 if circular); otherwise noise")
        lines.append(f'<span title="{explain}"><span style="color:{PALETTE["secondary"]}">deepest dip away from '
                     f"transit</span> (dashed): φ {folded.secondary_phase:.2f}, "
                     f"{_format_ppm(folded.secondary_depth_ppm, folded.secondary_depth_error_ppm)}{significance}"
                     "</span>")
    else:
        lines.append("deepest dip away from transit: n/a (too few points away from the transit)")
    return "<br>".join(lines)


class VettingFigures:
    """The panel's Bokeh figures (see the module docstring); :meth:`update` refills them.

    Parameters
    ----------
    left_width, right_width:
        Pixel widths of the two columns (with ``compact``: their least widths).
    compact:
        Figures that stretch to their column's width, at the panel's compact heights.
    """

    def __init__(self, *, left_width: int = 640, right_width: int = 450, compact: bool = False) -> None:
        self.compact = compact
        heights = ({"light_curve": 200, "saliency": 100, "fold": 178, "zoom": 124} if compact else
                   {"light_curve": 250, "saliency": 130, "fold": 250, "zoom": 175})
        stretch: dict[str, Any] = {"sizing_mode": "stretch_width"} if compact else {}
        self.sources: dict[str, ColumnDataSource] = {
            name: ColumnDataSource(data=dict(_EMPTY))
            for name in ("raw", "binned", "markers", "saliency", "fold_odd", "fold_even", "fold_binned",
                         "model", "fit", "zoom_odd", "zoom_even", "zoom_secondary")
        }
        tools = "xpan,xwheel_zoom,box_zoom,reset"
        self.time_range = Range1d(start=0, end=1)
        self._flux_limits = (0.0, 2.0)
        self.flux_range = Range1d(start=0, end=2)
        self.light_curve = _style(figure(
            width=left_width, height=heights["light_curve"], x_range=self.time_range, y_range=self.flux_range,
            tools=tools, active_drag="xpan", active_scroll="xwheel_zoom", toolbar_location="above",
            title="Light curve", output_backend="canvas", **stretch), y_label="relative flux")
        # Opaque squares without outlines: several times quicker for the browser to draw than translucent
        # circles, which matters with ~20,000 points per candidate.
        self.light_curve.scatter("x", "y", source=self.sources["raw"], size=2, marker="square", line_color=None,
                                 fill_color=PALETTE["raw"], legend_label="2-min")
        self.light_curve.line("x", "y", source=self.sources["binned"], color=PALETTE["binned"], line_width=1.5,
                              legend_label="30-min bins")
        self.light_curve.scatter("x", "y", source=self.sources["markers"], marker="triangle", size=7,
                                 color=PALETTE["marker"], legend_label="predicted events")
        self.light_curve_legend = _legend_above(self.light_curve)

        self.saliency_range = Range1d(start=-1, end=1)
        self.saliency = _style(figure(
            width=left_width, height=heights["saliency"], x_range=self.time_range, y_range=self.saliency_range,
            tools=tools, active_drag="xpan", active_scroll="xwheel_zoom", toolbar_location=None, title="Saliency",
            **stretch),
            x_label="time [BTJD]", y_label="relative")
        self.saliency.yaxis.ticker = FixedTicker(ticks=[-1, 0, 1])  # readable in a short figure
        self.saliency.varea("x", y1=0.0, y2="y", source=self.sources["saliency"], color=PALETTE["saliency"],
                            alpha=0.3)
        self.saliency.line("x", "y", source=self.sources["saliency"], color=PALETTE["saliency"], line_width=1.2)
        self.saliency.add_layout(Span(location=0, dimension="width", line_color=PALETTE["outline"], line_width=1))

        self.phase_range = Range1d(start=-0.25, end=0.75)
        self.fold_flux_range = Range1d(start=0, end=2)
        self.fold = _style(figure(
            width=right_width, height=heights["fold"], x_range=self.phase_range, y_range=self.fold_flux_range,
            tools="pan,wheel_zoom,box_zoom,reset", active_drag="pan", toolbar_location="above",
            title="Folded", **stretch), x_label="phase", y_label="relative flux")
        self.fold.scatter("x", "y", source=self.sources["fold_odd"], size=2.5, marker="square", line_color=None,
                          fill_color=PALETTE["odd"], fill_alpha=0.45, legend_label="odd")
        self.fold.scatter("x", "y", source=self.sources["fold_even"], size=2.5, marker="square", line_color=None,
                          fill_color=PALETTE["even"], fill_alpha=0.45, legend_label="even")
        self.fold.line("x", "y", source=self.sources["fold_binned"], color=PALETTE["fold"], line_width=1.6,
                       legend_label="binned")
        self.model_renderer = self.fold.line("x", "y", source=self.sources["model"], color=PALETTE["model"],
                                             line_width=2, legend_label="model")
        self.fit_renderer = self.fold.line("x", "y", source=self.sources["fit"], color=PALETTE["fit"],
                                           line_width=2, line_dash="dashed", legend_label="fit")
        self.primary_span = Span(location=0, dimension="height", line_color=PALETTE["fold"], line_dash="dotted",
                                 line_alpha=0.6)
        self.secondary_span = Span(location=0.5, dimension="height", line_color=PALETTE["secondary"],
                                   line_dash="dashed", line_width=1.5)
        self.fold.add_layout(self.primary_span)
        self.fold.add_layout(self.secondary_span)
        self.fold_legend = _legend_above(self.fold)

        # Equal plot areas: the first zoom also carries the flux axis (44 px), the others only a margin.
        area = max(60, (right_width - 44 - 8 - 8 - 3 * 12) // 3)
        zoom_widths = {"odd": area + 44 + 12, "even": area + 8 + 12, "secondary": area + 8 + 12}
        self.zoom_flux_range = Range1d(start=0, end=2)
        self.zoom_hours_range = Range1d(start=-6, end=6)
        self.zooms: dict[str, Any] = {}
        self.depth_spans: dict[str, Span] = {}
        # Short titles (the numbers are in the caption below, where they can wrap): "Odd", "Even", and the
        # deepest dip at any phase away from the transit, which is a secondary eclipse only if significant.
        for name, colour, title in (("odd", PALETTE["odd"], "Odd"), ("even", PALETTE["even"], "Even"),
                                    ("secondary", PALETTE["secondary"], "Dip off transit")):
            zoom = _style(figure(width=zoom_widths[name], height=heights["zoom"], x_range=self.zoom_hours_range,
                                 y_range=self.zoom_flux_range, tools="reset", toolbar_location=None, title=title,
                                 **stretch),
                          x_label="hours from centre")
            zoom.min_border_left = 44 if name == "odd" else 8
            zoom.yaxis.ticker.desired_num_ticks = 4  # labels that do not overlap in a short figure
            zoom.title.text_font_size = "11px"
            zoom.scatter("x", "y", source=self.sources[f"zoom_{name}"], size=2.5, marker="square", line_color=None,
                         fill_color=colour, fill_alpha=0.55)
            span = Span(location=1.0, dimension="width", line_color=PALETTE["fold"], line_dash="dashed",
                        line_width=1.2)
            zoom.add_layout(span)
            if name != "odd":
                zoom.yaxis.major_label_text_font_size = "0px"
            self.zooms[name] = zoom
            self.depth_spans[name] = span
        self.zoom_row = row(self.zooms["odd"], self.zooms["even"], self.zooms["secondary"], **stretch)
        # The checks in words, under the zooms: depths with errors, and what the third zoom is.
        self.checks = Div(text="", styles={"font-size": "11px", "color": PALETTE["text"], "line-height": "1.35"},
                          width=right_width, **stretch)
        self.left = column(self.light_curve, self.saliency, **stretch)
        self.right = column(self.fold, self.zoom_row, self.checks, **stretch)
        self.left.css_classes = ["qusi-vetting-light-curve"]
        self.right.css_classes = ["qusi-vetting-fold"]

    # ------------------------------------------------------------------ updating
    @contextmanager
    def _hold(self) -> Any:
        """One combined patch per update instead of one message per property."""
        documents = {model.document for model in (self.left, self.right) if model.document is not None}
        for document in documents:
            document.hold("combine")
        try:
            yield
        finally:
            for document in documents:
                document.unhold()

    def clear(self, message: str = "") -> None:
        """Empty every figure (no candidate, or the light curve could not be read)."""
        with self._hold():
            for source in self.sources.values():
                source.data = dict(_EMPTY)
            self.light_curve.title.text = message or "Light curve"
            self.saliency.title.text = "Saliency"
            self.fold.title.text = "Folded"
            self.checks.text = ""
            self.secondary_span.visible = False

    def update(self, view: CandidateView, folded: FoldedView | None, *, mode: str = "transit",
               title: str = "") -> None:
        """Show ``view`` (and its folded curve) of one candidate."""
        if view.error is not None:
            self.clear(f"Could not read the light curve: {view.error}")
            return
        with self._hold():
            self._update_light_curve(view, folded, mode, title)
            self._update_saliency(view)
            self._update_fold(view, folded, mode)

    def update_fold(self, view: CandidateView, folded: FoldedView | None, *, mode: str = "transit") -> None:
        """Refold only (the ×2 / ÷2 buttons), with the event markers of the new period."""
        with self._hold():
            self._update_fold(view, folded, mode)
            self._update_markers(view, folded)

    def _update_light_curve(self, view: CandidateView, folded: FoldedView | None, mode: str, title: str) -> None:
        self.sources["raw"].data = _xy(view.time, view.flux)
        self.sources["binned"].data = _xy(view.binned_time, view.binned_flux)
        start, end = (float(view.time[0]), float(view.time[-1])) if view.time.size else (0.0, 1.0)
        margin = 0.01 * (end - start or 1.0)
        _set_range(self.time_range, start - margin, end + margin)
        bottom, top = _limits(np.concatenate([view.flux, view.binned_flux]), 0.2, 99.8, 0.1)
        _set_range(self.flux_range, bottom, top)
        self._flux_limits = (bottom, top)
        cadence = (float(np.median(np.diff(view.time))) * 1440.0) if view.time.size > 1 else math.nan
        raw_label = f"{cadence:.0f}-min" if math.isfinite(cadence) and cadence >= 1 else "raw"
        items = self.light_curve_legend.items
        if items:
            items[0].label = {"value": raw_label}
            items[2].label = {"value": "predicted periastra" if mode == "heartbeat" else "predicted transits"}
        self.light_curve.title.text = title or "Light curve"
        time_format = str(view.meta.get("time_format") or "").upper()
        self.saliency.xaxis.axis_label = f"time [{time_format}]" if time_format else "time [days]"
        self._update_markers(view, folded)

    def _update_markers(self, view: CandidateView, folded: FoldedView | None) -> None:
        if folded is None or not view.time.size or not math.isfinite(folded.period) or folded.period <= 0:
            self.sources["markers"].data = dict(_EMPTY)
            return
        start, end = float(view.time[0]), float(view.time[-1])
        first = math.ceil((start - folded.epoch) / folded.period)
        last = math.floor((end - folded.epoch) / folded.period)
        times = folded.epoch + folded.period * np.arange(first, last + 1) if last >= first else np.empty(0)
        bottom, top = self._flux_limits
        level = bottom + 0.05 * (top - bottom)
        self.sources["markers"].data = _xy(times, np.full(times.size, level))

    def _update_saliency(self, view: CandidateView) -> None:
        if view.saliency is None or view.saliency_time is None:
            self.sources["saliency"].data = dict(_EMPTY)
            reason = next((problem for problem in view.problems if problem.startswith("saliency")), "")
            self.saliency.title.text = (f"Saliency unavailable ({reason[len('saliency: '):][:90]})" if reason
                                        else "Saliency unavailable: no model given to the panel")
            return
        values = np.asarray(view.saliency, dtype=np.float64)
        extent = float(np.nanmax(np.abs(values))) if values.size and np.isfinite(values).any() else 0.0
        # Relative units: the raw numbers (logit changes) mean little to a vetter, their shape does.
        relative = values / extent if extent > 0 else np.zeros_like(values)
        self.sources["saliency"].data = _xy(np.asarray(view.saliency_time), relative.astype(np.float32))
        _set_range(self.saliency_range, -1.1, 1.1)
        self.saliency.title.text = "Saliency: where the network's score came from (up: raised it)"

    def _update_fold(self, view: CandidateView, folded: FoldedView | None, mode: str) -> None:
        heartbeat = mode == "heartbeat"
        self.zoom_row.visible = not heartbeat
        self.checks.visible = not heartbeat
        self.checks.text = ""
        if folded is None:
            for name in ("fold_odd", "fold_even", "fold_binned", "model", "fit", "zoom_odd", "zoom_even",
                         "zoom_secondary"):
                self.sources[name].data = dict(_EMPTY)
            self.secondary_span.visible = False
            self.fold.title.text = "Folded: no period known (the table has none and the search failed)"
            return
        if heartbeat:  # one colour: odd and even cycles mean nothing for a heartbeat
            self.sources["fold_odd"].data = _xy(folded.phase, folded.flux)
            self.sources["fold_even"].data = dict(_EMPTY)
        else:
            self.sources["fold_odd"].data = _xy(folded.phase[folded.odd], folded.flux[folded.odd])
            self.sources["fold_even"].data = _xy(folded.phase[~folded.odd], folded.flux[~folded.odd])
        self.sources["fold_binned"].data = _xy(folded.binned_phase, folded.binned_flux)
        for name in ("model", "fit"):
            phase, flux = getattr(folded, f"{name}_phase"), getattr(folded, f"{name}_flux")
            self.sources[name].data = _xy(phase, flux) if phase is not None and flux is not None else dict(_EMPTY)
        items = self.fold_legend.items
        if len(items) >= 5:
            items[0].label = {"value": "data" if heartbeat else "odd"}
            items[1].visible = not heartbeat
            items[3].label = {"value": folded.model_label or "model"}
            items[3].visible = folded.model_phase is not None
            items[4].label = {"value": folded.fit_label or "fit"}
            items[4].visible = folded.fit_phase is not None
        period_text = f"P = {folded.period:.5g} d"
        if heartbeat:
            _set_range(self.phase_range, -0.5, 0.5)
            drawn = [folded.flux, folded.binned_flux] + [curve for curve in (folded.model_flux, folded.fit_flux)
                                                         if curve is not None]
            bottom, top = _limits(np.concatenate(drawn), 0.5, 99.5, 0.1)
            _set_range(self.fold_flux_range, bottom, top)
            self.secondary_span.visible = False
            self.primary_span.location = 0.0
            centre = "periastron" if folded.centre == "periastron" else "periastron feature"
            self.fold.title.text = f"Folded · {period_text} · {centre} at phase 0"
            return
        _set_range(self.phase_range, -0.25, 0.75)
        # Flux axis from the binned fold and the points near the transit: the dip decides the scale.
        near = np.abs(folded.phase) < 3 * folded.duration / folded.period
        bottom, top = _limits(np.concatenate([folded.binned_flux, folded.flux[near]]), 1.0, 99.0, 0.15)
        _set_range(self.fold_flux_range, bottom, top)
        self.primary_span.location = 0.0
        if math.isfinite(folded.secondary_phase):
            self.secondary_span.location = folded.secondary_phase
            self.secondary_span.visible = True
        else:
            self.secondary_span.visible = False
        self.fold.title.text = f"Folded · {period_text}"
        hours = folded.duration * 24.0
        _set_range(self.zoom_hours_range, -3 * hours, 3 * hours)
        self.sources["zoom_odd"].data = _xy(folded.odd_hours, folded.odd_flux)
        self.sources["zoom_even"].data = _xy(folded.even_hours, folded.even_flux)
        self.sources["zoom_secondary"].data = _xy(folded.secondary_hours, folded.secondary_flux)
        zoom_values = np.concatenate([folded.odd_flux, folded.even_flux, folded.secondary_flux])
        bottom, top = _limits(zoom_values, 1.0, 99.0, 0.12)
        _set_range(self.zoom_flux_range, bottom, top)
        for name, depth in (("odd", folded.odd_depth_ppm), ("even", folded.even_depth_ppm),
                            ("secondary", folded.secondary_depth_ppm)):
            span = self.depth_spans[name]
            span.visible = math.isfinite(depth)
            if math.isfinite(depth):
                span.location = 1.0 - depth * 1e-6
        sigma = _sigma(folded.secondary_depth_ppm, folded.secondary_depth_error_ppm)
        self.zooms["secondary"].title.text = (f"Dip off transit, {sigma:.1f}σ" if math.isfinite(sigma)
                                              else "Dip off transit")
        self.checks.text = describe_checks(folded)
        phase = folded.secondary_phase
        self.zooms["secondary"].xaxis.axis_label = (f"hours from φ {phase:.2f}" if math.isfinite(phase)
                                                    else "hours from centre")

    def attach(self) -> None:
        """Give each layout a document (BokehModel does this too; handy outside widgets)."""
        for layout in (self.left, self.right):
            if layout.document is None:
                Document().add_root(layout)
