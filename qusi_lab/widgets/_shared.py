"""What the dataset browser and the augmentation tuner share: picking a sample, and drawing curves with Bokeh.

Data helpers (:func:`as_dataset`, :func:`split_preprocessing`, :func:`run_split`, labels and titles), Bokeh
helpers (:func:`make_figure`, :func:`curve_data`, :class:`BokehPanel`, :func:`load_bokehjs`) and the
:class:`SampleSelector` (class dropdown, previous/next, index slider). Used by
:mod:`qusi_lab.widgets.browser` and :mod:`qusi_lab.widgets.tuner`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
import numpy as np

from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms import Pipeline

__all__ = ["SampleSelector", "split_preprocessing"]


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


def load_bokehjs() -> None:
    """Put BokehJS into the notebook page, once per page, inline (no internet needed; works in Voila).

    ``BokehModel`` views draw with the page's BokehJS: without it they fail with
    "Cannot read properties of undefined (reading 'require')". Does nothing outside a kernel.
    See :mod:`qusi_lab._notebook` (one copy, core component only: 1.3 MB, not 8 MB, per saved notebook).
    """
    from qusi_lab._notebook import load_bokehjs as load_once_per_page

    load_once_per_page()


class RefreshedRepr:
    """Mixin for a widget holding a :class:`BokehPanel` as ``self.panel``: a notebook cell showing the widget
    draws the panel's current figures, and its plain-text form is the widget's whole ``repr``."""

    panel: BokehPanel

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.panel.refresh()  # a new view draws from the render_bundle: bring it up to date first
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if isinstance(bundle, dict):
            bundle["text/plain"] = repr(self)  # ipywidgets cuts it at 110 characters
        return bundle


class BokehPanel:
    """Bokeh figures in one ipywidget (jupyter_bokeh's ``BokehModel``; no Bokeh server needed).

    The figures are stacked, or laid out in a grid of ``ncols`` columns. Changes made inside
    :meth:`changing` reach the browser as one batch of patches.
    A new view (the widget displayed again) is drawn from the model's ``render_bundle``,
    which :meth:`refresh` rebuilds (~0.1 s) only when something changed since.
    """

    def __init__(self, figures: list[Any], *, ncols: int | None = None) -> None:
        from bokeh.layouts import column, gridplot

        load_bokehjs()  # now, so the page has BokehJS before the widget is first shown
        self.figures = figures
        self.layout_model: Any
        if ncols is None:
            self.layout_model = column(figures, sizing_mode="stretch_width")
        else:  # a grid with one toolbar at its right (a toolbar above would take a row's height)
            self.layout_model = gridplot(
                figures, ncols=ncols, sizing_mode="stretch_width", toolbar_location="right"
            )
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
