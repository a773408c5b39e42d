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

This module also holds what the browser and :class:`~qusi_lab.widgets.tuner.AugmentationTuner`
share: the sample selector, Bokeh plot helpers and :func:`split_preprocessing`.
"""

from __future__ import annotations

import html
import math
import numbers
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np

from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms import Pipeline

__all__ = ["DatasetBrowser", "SampleSelector", "split_preprocessing"]


# ------------------------------------------------------------------ data helpers


def as_dataset(data: Any, preprocessing: Pipeline | None = None) -> Any:
    """A :class:`~qusi_lab.data.LightCurveDataset` for a dataset, one light curve or a list of them.

    Light curves whose ``meta["label"]`` holds at least two different strings (synthetic
    curves carry one) become a labelled dataset, so the class selector has classes.
    """
    if hasattr(data, "light_curve") and hasattr(data, "preprocessing"):
        if preprocessing is not None:
            raise TypeError("preprocessing= is for light curves; a dataset brings its own preprocessing")
        return data
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.errors import LabelError

    curves = [data] if (isinstance(data, LightCurve) or hasattr(data, "flux")) else list(data)
    if not curves:
        raise ValueError("no light curves to show")
    kwargs: dict[str, Any] = {"preprocessing": preprocessing, "augmentation": False}
    labels = [curve.meta.get("label") if isinstance(curve, LightCurve) else None for curve in curves]
    if all(isinstance(label, str) for label in labels) and len(set(labels)) > 1:
        try:
            return LightCurveDataset.from_light_curves(curves, labels, **kwargs)
        except LabelError:  # labels are a convenience here: fall back to an unlabelled dataset
            pass
    return LightCurveDataset.from_light_curves(curves, **kwargs)


def split_preprocessing(preprocessing: Pipeline) -> tuple[Pipeline, Pipeline]:
    """``(head, tail)``: the preprocessing split where :func:`~qusi_lab.transforms.make_pipeline` puts augmentation.

    ``make_pipeline(preprocessing, augmentation)`` runs ``head``, the augmentation, then
    ``tail`` (the final :class:`~qusi_lab.transforms.FillGaps`, when there is one).

    Example
    -------
    >>> from qusi_lab.transforms import default_preprocessing
    >>> head, tail = split_preprocessing(default_preprocessing())
    >>> [step.name for step in head], [step.name for step in tail]
    (['RemoveNonFinite', 'BinToLength', 'Detrend', 'Normalize', 'AsinhStretch'], ['FillGaps'])
    """
    cut = len(preprocessing)
    if cut and preprocessing[-1].name == "FillGaps":
        cut -= 1
    return preprocessing[:cut], preprocessing[cut:]


def run_split(
    head: Pipeline, tail: Pipeline, lc: LightCurve, rng: np.random.Generator, middle: Pipeline | None = None
) -> tuple[LightCurve, np.ndarray]:
    """``tail(middle(head(lc)))`` with one generator, and which output points ``tail`` filled (were NaN before it)."""
    before_fill = head(lc, rng) if len(head) else lc
    if middle is not None and len(middle):
        before_fill = middle(before_fill, rng)
    output = tail(before_fill, rng) if len(tail) else before_fill
    if before_fill.flux.shape == output.flux.shape:
        filled = ~np.isfinite(before_fill.flux) & np.isfinite(output.flux)
    else:
        filled = np.zeros(output.flux.shape, dtype=bool)
    return output, filled


def label_of(dataset: Any, index: int) -> str | None:
    """The label of curve ``index`` as text: class name, regression target, or None (unlabelled)."""
    labels = getattr(dataset, "labels", None)
    if labels is None:
        return None
    label = labels[index]
    return f"{label:g}" if isinstance(label, float) else str(label)


def sample_title(dataset: Any, index: int) -> str:
    """``#index target_id (label)``."""
    parts = [f"#{index}"]
    target_ids = getattr(dataset, "target_ids", None)
    if target_ids:
        parts.append(str(target_ids[index]))
    label = label_of(dataset, index)
    if label is not None:
        parts.append(f"({label})")
    return " ".join(parts)


def _class_indices(dataset: Any) -> tuple[np.ndarray, tuple[str, ...]] | None:
    """Class index of every curve and the class names, for classification datasets (else None)."""
    names = tuple(str(name) for name in (getattr(dataset, "label_names", None) or ()))
    labels = getattr(dataset, "labels", None)
    if getattr(dataset, "task", None) not in ("binary", "multiclass") or not names or labels is None:
        return None
    position = {name: number for number, name in enumerate(names)}
    return np.array([position.get(str(label), -1) for label in labels], dtype=np.int64), names


# ------------------------------------------------------------------ plotting helpers


def plot_x(lc: LightCurve) -> tuple[np.ndarray, str]:
    """x values and axis label for a curve: its times when all are finite, else the point number."""
    if lc.time.size and np.isfinite(lc.time).all():
        time_format = str(lc.meta.get("time_format") or "days")
        return lc.time, f"time [{time_format.upper()}]" if time_format != "days" else "time [days]"
    return np.arange(lc.flux.size, dtype=np.float64), "input bin"


EMPTY = {"x": np.zeros(0), "y": np.zeros(0, dtype=np.float32)}


def curve_data(x: np.ndarray, flux: np.ndarray, filled: np.ndarray | None = None) -> tuple[dict, dict]:
    """ColumnDataSource data for a curve, and for its filled (orange) points."""
    # float32 flux halves what goes to the browser; times stay float64 (BTJD needs the digits)
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(flux, dtype=np.float32)
    if filled is None or filled.shape != ys.shape:
        filled = np.zeros(ys.shape, dtype=bool)
    return {"x": xs, "y": ys}, {"x": xs[filled], "y": ys[filled]}


def make_figure(title: str, *, x_range: Any = None, y_range: Any = None, height: int = 150) -> Any:
    """A Bokeh figure stretched to the cell width with x pan/zoom tools."""
    from bokeh.plotting import figure

    kwargs: dict[str, Any] = {}
    if x_range is not None:
        kwargs["x_range"] = x_range
    if y_range is not None:
        kwargs["y_range"] = y_range
    plot: Any = figure(
        title=title,
        height=height,
        sizing_mode="stretch_width",
        tools="xpan,xwheel_zoom,box_zoom,reset,save",
        active_scroll="xwheel_zoom",
        # Canvas, not WebGL: measured in headless Chromium (software GL, as on many remote desktops),
        # redraws after a change took ~0.2 s with canvas and ~0.8 s with WebGL.
        output_backend="canvas",
        **kwargs,
    )
    plot.title.text_font_size = "9pt"
    plot.min_border_left = 50
    plot.toolbar.logo = None
    return plot


_bokehjs_loaded = False


def load_bokehjs() -> None:
    """Put BokehJS into the notebook page, once per kernel, inline (no internet needed; works in Voila).

    ``BokehModel`` views draw with the page's BokehJS: without it they fail with
    "Cannot read properties of undefined (reading 'require')". Does nothing outside a kernel.
    """
    global _bokehjs_loaded
    if _bokehjs_loaded:
        return
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(resources=INLINE, hide_banner=True)
    _bokehjs_loaded = True


class BokehPanel:
    """Bokeh figures in one ipywidget (jupyter_bokeh's ``BokehModel``; no Bokeh server needed).

    Changes made inside :meth:`changing` reach the browser as one batch of patches.
    A new view (the widget displayed again) is drawn from the model's ``render_bundle``,
    which :meth:`refresh` rebuilds (~0.1 s) only when something changed since.
    """

    def __init__(self, figures: list[Any]) -> None:
        from bokeh.layouts import column

        load_bokehjs()  # now, so the page has BokehJS before the widget is first shown
        self.figures = figures
        self.layout_model = column(figures, sizing_mode="stretch_width")
        self.widget: Any = None
        self._stale = False

    def build(self) -> Any:
        """The ipywidget (made once, after the first data are in, so its first view shows them)."""
        from jupyter_bokeh import BokehModel

        if self.widget is None:
            self.widget = BokehModel(self.layout_model, layout=widgets.Layout(width="100%"))
            self._stale = False
        return self.widget

    @contextmanager
    def changing(self) -> Iterator[None]:
        document = self.layout_model.document
        if document is not None:
            document.hold("combine")
        try:
            yield
        finally:
            if document is not None:
                document.unhold()
            self._stale = True

    def refresh(self) -> None:
        """Make sure BokehJS is loaded and the ``render_bundle`` (what new views draw) is up to date."""
        load_bokehjs()
        if self.widget is not None and self._stale:
            self.widget.render_bundle = type(self.widget)._model_to_traits(self.layout_model)
            self._stale = False


# ------------------------------------------------------------------ sample selector

ALL_CLASSES = -1


class SampleSelector:
    """Class dropdown, previous/next buttons and an index slider over the members of the chosen class.

    ``on_change(index)`` is called with the dataset index whenever the selection changes.
    """

    def __init__(
        self, dataset: Any, index: int = 0, on_change: Callable[[int], object] | None = None
    ) -> None:
        self.dataset = dataset
        # called with the dataset index on every change (set at the end: not while building)
        self.on_change: Callable[[int], object] | None = None
        size = len(dataset)
        if size == 0:
            raise ValueError("the dataset is empty")
        # -1 stands for "all": a Dropdown shows no selection for the value None
        options: list[tuple[str, int]] = [(f"all ({size})", ALL_CLASSES)]
        self.class_names: tuple[str, ...] = ()
        self._classes: np.ndarray | None = None
        classes = _class_indices(dataset)
        if classes is not None:
            self._classes, self.class_names = classes
            for klass, name in enumerate(self.class_names):
                options.append((f"{name} ({int((self._classes == klass).sum())})", klass))
        self.class_dropdown = widgets.Dropdown(
            options=options,
            value=ALL_CLASSES,
            description="class",
            style={"description_width": "40px"},
            layout=widgets.Layout(width="220px"),
        )
        if len(options) == 1:
            self.class_dropdown.layout.display = "none"
        self.members = np.arange(size)
        self.slider = widgets.IntSlider(
            value=0,
            min=0,
            max=size - 1,
            description="curve",
            continuous_update=False,
            style={"description_width": "40px"},
            layout=widgets.Layout(width="320px"),
        )
        self.previous_button = widgets.Button(
            description="previous", icon="chevron-left", layout=widgets.Layout(width="110px")
        )
        self.next_button = widgets.Button(
            description="next", icon="chevron-right", layout=widgets.Layout(width="110px")
        )
        self.position = widgets.HTML()
        self._quiet = False
        self.class_dropdown.observe(self._class_changed, names="value")
        self.slider.observe(self._slider_changed, names="value")
        self.previous_button.on_click(lambda _: self.step(-1))
        self.next_button.on_click(lambda _: self.step(+1))
        self.box = widgets.HBox(
            [self.class_dropdown, self.previous_button, self.slider, self.next_button, self.position],
            layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.select(index)
        self.on_change = on_change

    @property
    def index(self) -> int:
        """The dataset index selected."""
        return int(self.members[min(self.slider.value, self.members.size - 1)]) if self.members.size else 0

    @contextmanager
    def _silently(self) -> Iterator[None]:
        previous, self._quiet = self._quiet, True
        try:
            yield
        finally:
            self._quiet = previous

    def _set_members(self, klass: int) -> None:
        if klass == ALL_CLASSES or self._classes is None:
            self.members = np.arange(len(self.dataset))
        else:
            self.members = np.flatnonzero(self._classes == klass)
        with self._silently():
            self.slider.max = max(int(self.members.size) - 1, 0)
            self.slider.disabled = self.members.size <= 1

    def _class_changed(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        self._set_members(change["new"])
        with self._silently():
            self.slider.value = 0
        self._changed()

    def _slider_changed(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._changed()

    def _changed(self) -> None:
        count = int(self.members.size)
        if count == 0:
            self.position.value = "<i>no curves in this class</i>"
            return
        self.position.value = f"{self.slider.value + 1} of {count} · index {self.index}"
        if self.on_change is not None:
            self.on_change(self.index)

    def step(self, offset: int) -> None:
        """Move ``offset`` curves within the chosen class, wrapping around at the ends."""
        count = int(self.members.size)
        if count:
            self.slider.value = (self.slider.value + offset) % count

    def select_class(self, name: str | None) -> None:
        """Flip through class ``name`` only (None: all curves), starting at its first curve."""
        if name is None:
            self.class_dropdown.value = ALL_CLASSES
            return
        if str(name) not in self.class_names:
            raise KeyError(f"no class {name!r}; the classes are {list(self.class_names)}")
        self.class_dropdown.value = self.class_names.index(str(name))

    def select(self, index: int) -> None:
        """Select dataset curve ``index`` (the class filter switches to "all" if the curve is not in it)."""
        size = len(self.dataset)
        if not -size <= int(index) < size:
            raise IndexError(f"index {index} out of range for a dataset of {size} light curves")
        index = int(index) % size
        if index not in self.members:
            with self._silently():
                self.class_dropdown.value = ALL_CLASSES
            self._set_members(ALL_CLASSES)
        position = int(np.flatnonzero(self.members == index)[0])
        if self.slider.value == position:
            self._changed()
        else:
            self.slider.value = position


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


class DatasetBrowser(widgets.VBox):
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
    >>> from qusi_lab.synthetic import make_light_curve
    >>> browser = DatasetBrowser([make_light_curve("planet", seed=1), make_light_curve("quiet", seed=1)])
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

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.panel.refresh()  # a new view draws from the render_bundle: bring it up to date first
        bundle = super()._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = repr(self)  # ipywidgets cuts it at 110 characters
        return bundle

    def __repr__(self) -> str:
        return f"DatasetBrowser(curve {self.index} of {len(self.dataset)}: {sample_title(self.dataset, self.index)})"
