"""`DatasetBrowser`: flip through a dataset's light curves, class by class, before training on them.

::

    browser = ql.DatasetBrowser(train)
    browser                       # class dropdown, previous/next, index slider; raw curve and network input

For each curve it shows the raw light curve as loaded, the preprocessed network
input (``dataset[i]``; orange points are gaps the preprocessing filled), and a
table of its label, target id, file, mission details and the parameters of any
injected signal (``lc.meta["injected"]``). A file that fails to load or
preprocess is reported in the message area, naming the file, and listed in
:attr:`DatasetBrowser.problems`; the browser keeps working.

What the browser shares with :class:`~qusi_lab.widgets.tuner.AugmentationTuner` (the sample selector, Bokeh
plot helpers, :func:`split_preprocessing`) is in :mod:`qusi_lab.widgets._shared`, imported here too.
"""

from __future__ import annotations

import html
import math
import numbers
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np

from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms import Pipeline
from qusi_lab.widgets._shared import (
    EMPTY,
    BokehPanel,
    RefreshedRepr,
    SampleSelector,
    as_dataset,
    curve_data,
    label_of,
    make_figure,
    plot_x,
    run_split,
    sample_title,
    split_preprocessing,
)

__all__ = ["DatasetBrowser", "SampleSelector", "split_preprocessing"]


# ------------------------------------------------------------------ the browser


def format_value(value: Any) -> str:
    """A short text for a table cell: 6 significant digits for floats, lists item by item."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        return f"{number:.6g}" if math.isfinite(number) else str(number)
    if isinstance(value, (list, tuple, np.ndarray)):
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key}: {format_value(item)}" for key, item in value.items()) + "}"
    return str(value)


def _table(rows: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f'<tr><th style="text-align:left;padding:1px 8px">{html.escape(str(name))}</th>'
        f'<td style="text-align:left;padding:1px 8px">{html.escape(format_value(value))}</td></tr>'
        for name, value in rows
    )
    return f'<table style="font-size:90%;border-collapse:collapse">{cells}</table>'


def injected_html(injected: Any) -> str:
    """An HTML table of injected signal parameters (one dict, or a list of them as rows)."""
    if injected is None or (isinstance(injected, (list, tuple)) and not injected):
        return "<i>no injected signal</i>"
    if isinstance(injected, Mapping):
        return _table(list(injected.items()))
    entries = [entry for entry in injected if isinstance(entry, Mapping)]
    if len(entries) != len(injected):
        return _table([("injected", injected)])
    columns: list[str] = []
    for entry in entries:
        columns.extend(key for key in entry if key not in columns)
    head = "".join(f'<th style="padding:1px 6px">{html.escape(str(key))}</th>' for key in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td style="padding:1px 6px">{html.escape(format_value(entry[key])) if key in entry else ""}</td>'
            for key in columns
        )
        + "</tr>"
        for entry in entries
    )
    return f'<table style="font-size:90%;border-collapse:collapse"><tr>{head}</tr>{body}</table>'


class DatasetBrowser(RefreshedRepr, widgets.VBox):
    """Flip through a dataset per class: raw light curve, network input, label, file and injected parameters.

    Parameters
    ----------
    data:
        A :class:`~qusi_lab.data.LightCurveDataset`, a light curve or a list of them.
    index:
        Dataset index of the curve shown first.
    preprocessing:
        For light curves only: the preprocessing (default
        :func:`~qusi_lab.transforms.default_preprocessing`).

    Attributes
    ----------
    info
        What the table shows for the current curve (a dict).
    problems
        ``{"index", "path", "stage", "error"}`` for each curve that failed to load or preprocess so far.

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve
    >>> browser = DatasetBrowser([synthetic_light_curve("planet", seed=1), synthetic_light_curve("quiet", seed=1)])
    >>> browser.select_class("quiet").info["label"]
    'quiet'
    """

    def __init__(self, data: Any, *, index: int = 0, preprocessing: Pipeline | None = None) -> None:
        super().__init__()
        self.dataset = as_dataset(data, preprocessing)
        self.preprocessing: Pipeline = self.dataset.preprocessing
        self._head, self._tail = split_preprocessing(self.preprocessing)
        self.info: dict[str, Any] = {}
        self.problems: list[dict[str, Any]] = []
        self.error: str | None = None
        self.seconds = float("nan")
        self.message = widgets.HTML()
        self.details = widgets.HTML()
        self.injected = widgets.HTML()

        from bokeh.models import ColumnDataSource

        self.raw_figure = make_figure("raw light curve", height=220)
        self.raw_figure.yaxis.axis_label = "flux"
        self.input_figure = make_figure("network input", x_range=self.raw_figure.x_range, height=220)
        self.input_figure.yaxis.axis_label = "normalised flux"
        self.raw_source = ColumnDataSource(dict(EMPTY), name="raw")
        self.input_source = ColumnDataSource(dict(EMPTY), name="input")
        self.filled_source = ColumnDataSource(dict(EMPTY), name="input_filled")
        self.raw_figure.scatter("x", "y", source=self.raw_source, size=2, color="black", alpha=0.6)
        self.input_figure.line("x", "y", source=self.input_source, color="#1f77b4")
        self.input_figure.scatter(
            "x", "y", source=self.filled_source, size=3, color="#ff7f0e", legend_label="filled gap"
        )
        self.input_figure.legend.location = "bottom_left"
        self.input_figure.legend.label_text_font_size = "8pt"
        self.input_figure.legend.background_fill_alpha = 0.5
        self.panel = BokehPanel([self.raw_figure, self.input_figure])

        self.selector = SampleSelector(self.dataset, index)
        self._show(self.selector.index)
        self.selector.on_change = self._show
        self.plot = self.panel.build()
        self.children = [
            self.selector.box,
            self.message,
            widgets.HBox(
                [
                    widgets.VBox(
                        [widgets.HTML("<b>curve</b>"), self.details],
                        layout=widgets.Layout(margin="0 24px 0 0"),
                    ),
                    widgets.VBox([widgets.HTML("<b>injected signal</b>"), self.injected]),
                ],
                layout=widgets.Layout(flex_flow="row wrap"),
            ),
            self.plot,
        ]

    # ------------------------------------------------------------ navigation
    @property
    def index(self) -> int:
        """Dataset index of the curve shown."""
        return self.selector.index

    def next(self) -> DatasetBrowser:
        """The next curve of the chosen class (wraps around); returns the browser."""
        self.selector.step(+1)
        return self

    def previous(self) -> DatasetBrowser:
        """The previous curve of the chosen class (wraps around); returns the browser."""
        self.selector.step(-1)
        return self

    def select_class(self, name: str | None) -> DatasetBrowser:
        """Flip through class ``name`` only (None: all curves); returns the browser."""
        self.selector.select_class(name)
        return self

    def go_to(self, index: int) -> DatasetBrowser:
        """Show dataset curve ``index``; returns the browser."""
        self.selector.select(index)
        return self

    # ------------------------------------------------------------ drawing
    def _problem(self, position: int, stage: str, error: BaseException) -> None:
        name = self.dataset.source_name(position) if hasattr(self.dataset, "source_name") else str(position)
        reason = getattr(error, "reason", None) or str(error)
        verb = "load" if stage == "load" else "preprocess"
        record = {"index": position, "path": name, "stage": stage, "error": reason}
        if record not in self.problems:  # flipping back to a bad file does not list it twice
            self.problems.append(record)
        self.error = f"could not {verb} {name}: {reason}"
        self.message.value = f'<span style="color:#b00020">⚠ {html.escape(self.error)}</span>'

    def _show(self, index: int) -> float:
        """Draw curve ``index`` (the selector calls this); returns the seconds it took. Never raises for bad files."""
        started = time.perf_counter()
        position = int(index)
        self.error = None
        self.message.value = ""
        name = self.dataset.source_name(position) if hasattr(self.dataset, "source_name") else str(position)
        info: dict[str, Any] = {"index": position, "label": label_of(self.dataset, position)}
        target_ids = getattr(self.dataset, "target_ids", None)
        info["target id"] = target_ids[position] if target_ids else None
        info["path"] = name
        lc: LightCurve | None = None
        output: LightCurve | None = None
        filled: np.ndarray | None = None
        from qusi_lab.errors import LightCurveError

        try:
            lc = self.dataset.light_curve(position)
        except Exception as error:  # a bad file must not break the widget: report it instead
            self._problem(position, "load", error)
        if lc is not None:
            try:
                # The generator dataset[i] uses, so the plot is exactly the network input.
                output, filled = run_split(self._head, self._tail, lc, np.random.default_rng(position))
                array = output.flux.astype(np.float32)
                expected = getattr(self.dataset, "input_length", None)
                if not np.isfinite(array).all():
                    raise LightCurveError(
                        f"network input has {int((~np.isfinite(array)).sum())} non-finite values"
                    )
                if expected is not None and array.size != expected:
                    raise LightCurveError(f"network input has {array.size} values, expected {expected}")
            except Exception as error:
                self._problem(position, "preprocess", error)
            info.update(self._light_curve_info(lc))
        self.info = info
        self.details.value = _table([(key, value) for key, value in info.items() if key != "injected"])
        self.injected.value = injected_html(lc.meta.get("injected") if lc is not None else None)
        with self.panel.changing():
            if lc is None:
                self.raw_source.data = dict(EMPTY)
            else:
                raw, _ = curve_data(lc.time, lc.flux)
                self.raw_source.data = raw
                time_format = str(lc.meta.get("time_format") or "days")
                self.raw_figure.xaxis.axis_label = f"time [{time_format.upper()}]"
                self.raw_figure.yaxis.axis_label = str(lc.meta.get("flux_column") or "flux")
            if output is None:
                self.input_source.data = dict(EMPTY)
                self.filled_source.data = dict(EMPTY)
            else:
                x, _ = plot_x(output)
                data, filled_data = curve_data(x, output.flux, filled)
                self.input_source.data = data
                self.filled_source.data = filled_data
            title = sample_title(self.dataset, position)
            self.raw_figure.title.text = f"raw light curve: {title} — {Path(name).name}"
            self.input_figure.title.text = f"network input: dataset[{position}]"
        self.seconds = time.perf_counter() - started
        return self.seconds

    @staticmethod
    def _light_curve_info(lc: LightCurve) -> dict[str, Any]:
        meta = lc.meta
        info: dict[str, Any] = {}
        if lc.target_id is not None:
            info["star"] = lc.target_id
        for key in ("mission", "sector", "quarter", "campaign", "magnitude", "flux_column"):
            if meta.get(key) is not None:
                info[key] = meta[key]
        info["cadences"] = len(lc)
        cadence = lc.cadence
        if math.isfinite(cadence):
            info["cadence [min]"] = round(cadence * 24 * 60, 3)
        info["span [days]"] = round(lc.duration, 3)
        info["injected"] = meta.get("injected")
        return info

    def __repr__(self) -> str:
        return f"DatasetBrowser(curve {self.index} of {len(self.dataset)}: {sample_title(self.dataset, self.index)})"
