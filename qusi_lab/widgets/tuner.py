"""`AugmentationTuner`: see what each augmentation does to your light curves, and tune it with sliders.

::

    tuner = ql.AugmentationTuner(train)     # controls in a column at the left, plots in a grid beside them
    tuner                                   # the original curve and augmented versions, redrawn live
    tuner.pipeline                          # the tuned augmentation Pipeline (a copy)

Each augmentation step gets its controls: an enable toggle (off means probability 0), a
probability ("chance") slider and a control per parameter (sliders with sensible ranges for
the built-in augmentations, number/text boxes for transforms you registered
yourself). Any change rebuilds the pipeline and redraws, beside the original
(preprocessed) curve, ``n_examples`` augmented versions drawn deterministically
from ``(seed, sample index, example number)``; "reseed" moves to the next seed.
At the default three examples the whole tuner is ~1010 x 670 px: controls and every plot fit a
laptop screen in JupyterLab (a narrow notebook puts the plots under the controls).

* Points that an augmentation blanked (gaps, dropped cadences, stretched ends) and
  the final :class:`~qusi_lab.transforms.FillGaps` filled are drawn in orange.
* Where a curve's signal is known (a ``truth.csv`` of :func:`qusi_lab.synthetic.make_sector` near
  the files, ``meta["injected"]`` of synthetic or injected curves, or ``meta["period"]``,
  ``meta["epoch"]``, ``meta["duration"]``), its transits (eclipses, periastra) are shaded, in
  the examples too: they follow the roll, flip and stretch the augmentations drew.
* Each example's title says briefly what was drawn (``roll -812, noise 0.41``); the full
  records (``RandomRoll(shift=-812)``...) are in :meth:`AugmentationTuner.descriptions`.
  After a change, the line under the controls says which examples the changed step was
  applied to (or that it was applied to none: raise its chance or reseed).
* Without ``index=``, the tuner opens on the curve with the strongest known signal (highest
  SNR, else deepest) of the positive class, so the transits are there to see.

Give your own transforms sliders by adding their ranges to :data:`PARAMETER_SPECS`, e.g.
``PARAMETER_SPECS["Clip"] = (ParameterSpec("float", ("limit",), 1.0, 10.0, 0.5),)``.

The logic (building the pipeline from the controls, generating examples) is in
plain methods (:meth:`AugmentationTuner.examples`, :meth:`~AugmentationTuner.set_params`,
:meth:`~AugmentationTuner.reseed`, :meth:`~AugmentationTuner.save`,
:meth:`~AugmentationTuner.reset`) that work without a browser; the widgets only
call them. Train with the result by giving it to the dataset::

    train = ql.LightCurveDataset.from_directory("data/train", augmentation=tuner.pipeline)
"""

from __future__ import annotations

import html
import textwrap
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np

from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms import Pipeline, Transform, default_augmentation, make_pipeline
from qusi_lab.widgets._controls import PARAMETER_SPECS, ParameterSpec, _StepControls
from qusi_lab.widgets._shared import (
    BokehPanel,
    RefreshedRepr,
    SampleSelector,
    as_dataset,
    label_of,
    make_figure,
    plot_x,
    run_split,
    split_preprocessing,
)
from qusi_lab.widgets._signals import (
    FOLLOWED_STEPS,
    KnownSignal,
    follow_augmentations,
    known_signal,
    mask_intervals,
    signal_mask,
)

__all__ = ["AugmentationTuner", "ParameterSpec", "PARAMETER_SPECS"]


# ------------------------------------------------------------------ the tuner


class AugmentationTuner(RefreshedRepr, widgets.VBox):
    """Sliders and toggles for every step of an augmentation pipeline, with live plots of their effect.

    Parameters
    ----------
    data:
        A :class:`~qusi_lab.data.LightCurveDataset` (its preprocessing and augmentation are used), a
        :class:`~qusi_lab.lightcurve.LightCurve` or a list of them (qusi_lab or lightkurve; a
        ``meta["label"]`` on each enables the class selector).
    pipeline:
        The augmentation to start from; default the dataset's augmentation, else
        :func:`~qusi_lab.transforms.default_augmentation`. Not modified.
    index:
        Dataset index of the curve shown first. Default: the curve whose known signal is strongest
        (highest SNR, else deepest; of the positive class when there is one), else the first curve.
    n_examples:
        Augmented versions drawn beside the original (3: a 2 x 2 grid).
    seed:
        Seed of the examples: example ``k`` of curve ``i`` uses ``numpy.random.default_rng([seed, i, k])``.
    preprocessing:
        For light curves only: the preprocessing (default
        :func:`~qusi_lab.transforms.default_preprocessing`).
    truth:
        Where the curves' signals are known from, to shade their transits: ``"auto"`` (a ``truth.csv``
        in a file's folder or up to three above it, and each curve's ``meta``), a DataFrame or CSV path
        with ``path`` or ``target_id`` and ``period``, ``epoch``, ``duration_hours`` columns (a candidate
        table works), or None (``meta`` only).

    Attributes
    ----------
    pipeline
        The tuned augmentation (a copy): give it to a dataset (``augmentation=tuner.pipeline``), save it.
    seconds
        How long the last redraw took (generating the examples and updating the plots).
    signal
        The known signal of the curve shown (:class:`~qusi_lab.widgets._signals.KnownSignal`), or None.

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve
    >>> tuner = AugmentationTuner([synthetic_light_curve("planet", seed=1)], n_examples=2)
    >>> _ = tuner.set_params("AddNoise", std=1.0, probability=1.0)
    >>> tuner.pipeline[4]
    AddNoise(std=1.0, units='mad', probability=1.0)
    >>> tuner.set_params("Flip", probability=0).pipeline[2]
    Flip(probability=0.0)
    >>> tuner.signal.kind, len(tuner.transits("original")[0]) > 0   # the planet's transits are shaded
    ('transit', True)
    """

    #: Height in pixels of the plot grid at up to 3 examples (two rows); more examples add rows.
    PLOT_HEIGHT = 600
    #: Plots per row.
    COLUMNS = 2
    #: Label of the y axes: what the network sees.
    Y_LABEL = "network input (normalised flux)"

    def __init__(
        self,
        data: Any,
        pipeline: Pipeline | Sequence[Transform] | None = None,
        *,
        index: int | None = None,
        n_examples: int = 3,
        seed: int = 0,
        preprocessing: Pipeline | None = None,
        truth: Any = "auto",
    ) -> None:
        super().__init__()
        if int(n_examples) < 1:
            raise ValueError(f"n_examples must be at least 1, got {n_examples}")
        self.dataset = as_dataset(data, preprocessing)
        if pipeline is None:
            pipeline = getattr(self.dataset, "augmentation", None) or default_augmentation()
        self._initial = Pipeline(pipeline)
        self._pipeline = self._initial.copy()
        self.preprocessing: Pipeline = self.dataset.preprocessing
        self._head, self._tail = split_preprocessing(self.preprocessing)
        self.n_examples = int(n_examples)
        self._cache: OrderedDict[int, LightCurve] = OrderedDict()
        self._suspended = False
        self.seconds = float("nan")
        self.error: str | None = None
        self._message_kind: str | None = None  # "curve" / "controls" errors clear themselves once fixed
        self._shown: tuple[int, np.ndarray] | None = None  # (index, x) of the curve in the plots
        self._truth = _truth_lookup(truth)
        self._signals: dict[int, KnownSignal | None] = {}
        self.signal: KnownSignal | None = None
        self.plotted_x = np.zeros(0)  # x values of the curve shown
        self._records: list[list[str]] = []  # what each example drew, as recorded in its meta
        self._changed_step: str | None = None  # the step whose control moved last (for the note)
        if index is None:
            index = self.strongest_signal()

        # --- controls: a column 390 px wide
        self._rows: list[_StepControls] = []
        self.steps_box = widgets.VBox()
        self.seed_text = widgets.BoundedIntText(
            value=int(seed),
            min=0,
            max=2**31 - 1,
            description="seed",
            style={"description_width": "40px"},
            layout=widgets.Layout(width="130px"),
        )
        self.reseed_button = widgets.Button(
            description="reseed", icon="refresh", tooltip="next seed: new examples",
            layout=widgets.Layout(width="90px"),
        )
        self.reset_button = widgets.Button(
            description="reset",
            icon="undo",
            tooltip="back to the pipeline the tuner started with",
            layout=widgets.Layout(width="90px"),
        )
        self.path_text = widgets.Text(
            value="augmentation.json",
            description="path",
            style={"description_width": "40px"},
            layout=widgets.Layout(width="210px"),
        )
        self.save_button = widgets.Button(
            description="save", icon="save", tooltip="save the tuned pipeline as JSON at the path",
            layout=widgets.Layout(width="80px"),
        )
        self.load_button = widgets.Button(
            description="load", icon="folder-open", tooltip="load a pipeline saved at the path",
            layout=widgets.Layout(width="80px"),
        )
        self.message = widgets.HTML(layout=widgets.Layout(width="390px"))
        self.timing = widgets.HTML()
        self.note = widgets.HTML(layout=widgets.Layout(width="390px", min_height="20px"))
        self.key = widgets.HTML(layout=widgets.Layout(width="390px"))  # what the colours mean, the signal's source
        self.selector = SampleSelector(self.dataset, index)
        # The selector's widgets, rearranged for the narrow column: class and position; < curve >.
        self.selector.class_dropdown.layout.width = "220px"
        self.selector.slider.layout.width = "290px"
        for button, tip in ((self.selector.previous_button, "previous curve"),
                            (self.selector.next_button, "next curve")):
            button.description, button.tooltip = "", tip
            button.layout.width = "40px"
        selector_box = widgets.VBox([
            widgets.HBox([self.selector.class_dropdown, self.selector.position],
                         layout=widgets.Layout(align_items="center")),
            widgets.HBox([self.selector.previous_button, self.selector.slider, self.selector.next_button],
                         layout=widgets.Layout(align_items="center")),
        ])

        # --- plots: the original and the examples in a grid, sharing their axes so scales compare directly
        from bokeh.models import ColumnDataSource
        from bokeh.models.annotations import LabelSet

        # One data source for every curve: a change reaches the browser as a single patch.
        self.columns = ["original"] + [f"augmented_{number}" for number in range(1, self.n_examples + 1)]
        self.source = ColumnDataSource(self._empty_data(), name="curves")
        # One source per plot for the shaded transits (VStrip glyphs: they span the plot's height).
        self.transit_sources = {
            column: ColumnDataSource(_NO_TRANSITS, name=f"transits_{column}") for column in self.columns
        }
        rows = -(-len(self.columns) // self.COLUMNS)
        height = max(180, (self.PLOT_HEIGHT if rows <= 2 else 300 * rows) // rows)
        self.figures: list[Any] = []
        for number, column in enumerate(self.columns):
            first = self.figures[0] if self.figures else None
            plot = make_figure(
                "original" if number == 0 else f"example {number}",
                x_range=None if first is None else first.x_range,
                y_range=None if first is None else first.y_range,
                height=height,
            )
            plot.min_width = 240
            strips = plot.vstrip(
                "x0", "x1", source=self.transit_sources[column], fill_color=TRANSIT_COLOR, fill_alpha=0.3,
                line_alpha=0,
            )
            strips.name = f"transit_strips_{column}"
            # A tick under each event: a transit of a few hours is a hair's width in a sector.
            plot.add_layout(LabelSet(
                x="xc", y=1, y_units="screen", text="mark", source=self.transit_sources[column],
                text_align="center", text_baseline="bottom", text_color=TRANSIT_COLOR, text_font_size="11pt",
            ))
            curve = plot.line(
                "x", column, source=self.source, color="black" if number == 0 else "#1f77b4", line_width=1
            )
            # The "_filled" columns hold the filled points and NaN elsewhere (NaN points are not drawn).
            filled = plot.scatter("x", f"{column}_filled", source=self.source, color=FILLED_COLOR, size=3)
            plot.y_range.renderers = [curve, filled]  # the shading does not stretch the y axis
            plot.yaxis.axis_label = self.Y_LABEL
            plot.xaxis.axis_label = "time"
            for axis in (plot.xaxis, plot.yaxis):
                axis.axis_label_text_font_size = "8pt"
                axis.axis_label_standoff = 4
            self.figures.append(plot)
        self.panel = BokehPanel(self.figures, ncols=self.COLUMNS)

        self._build_rows()
        self.regenerate()
        self.plot = self.panel.build()
        self.seed_text.observe(lambda _: self.regenerate(), names="value")
        self.reseed_button.on_click(lambda _: self.reseed())
        self.reset_button.on_click(lambda _: self.reset())
        self.save_button.on_click(lambda _: self._save_clicked())
        self.load_button.on_click(lambda _: self._load_clicked())
        self.selector.on_change = lambda _: self.regenerate()
        self.add_class("qusi-augmentation-tuner")
        self.plot.add_class("qt-plots")
        self.plot.layout = widgets.Layout(flex="1 1 520px", min_width="480px")
        self.controls_box = widgets.VBox(
            [
                selector_box,
                self.steps_box,
                widgets.HBox(
                    [self.seed_text, self.reseed_button, self.reset_button, self.timing],
                    layout=widgets.Layout(align_items="center"),
                ),
                widgets.HBox(
                    [self.path_text, self.save_button, self.load_button],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.key,
                self.note,
                self.message,
            ],
            layout=widgets.Layout(flex="0 0 auto", width="390px"),
        )
        self.controls_box.add_class("qt-controls")
        # Controls at the left, plots beside them; when the cell is too narrow the plots wrap below.
        self.children = [
            widgets.HBox(
                [self.controls_box, self.plot],
                layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start", width="100%"),
            )
        ]

    # ------------------------------------------------------------ controls <-> pipeline
    def _build_rows(self) -> None:
        for row in self._rows:
            for widget in row.all_widgets():
                widget.unobserve_all()
        self._rows = [_StepControls(step) for step in self._pipeline]
        for row in self._rows:
            for widget in row.all_widgets():
                widget.observe(lambda change, name=row.name: self._control_changed(change, name), names="value")
        self.steps_box.children = [row.box for row in self._rows] or [
            widgets.HTML("<i>the augmentation pipeline is empty</i>")
        ]

    @contextmanager
    def _hold(self) -> Iterator[None]:
        """Change many controls, then rebuild and redraw once."""
        previous, self._suspended = self._suspended, True
        try:
            yield
        finally:
            self._suspended = previous
        if not previous:
            self._apply_controls()

    def _control_changed(self, change: dict[str, Any], step: str | None = None) -> None:
        self._changed_step = step
        if not self._suspended:
            self._apply_controls()

    def _apply_controls(self) -> None:
        """Rebuild the pipeline from the controls (a step keeps its last valid version on errors) and redraw."""
        problems = []
        steps = list(self._pipeline)
        for position, row in enumerate(self._rows):
            try:
                steps[position] = row.step.replace(**row.values())
            except (TypeError, ValueError) as error:
                problems.append(f"{row.name}: {error}")
        self._pipeline = Pipeline(steps)
        self.regenerate()
        if problems:
            self._say("; ".join(problems) + " — kept the last valid value", error=True, kind="controls")
        elif self._message_kind == "controls":
            self._say("")

    def controls(self, step: int | str) -> dict[str, widgets.Widget]:
        """The widgets of one step (by position or name): ``"enabled"``, ``"probability"`` and one per parameter.

        A ``low``/``high`` pair shares one range slider, found under ``"low"``.
        """
        row = self._rows[self._pipeline.index(step)]
        found: dict[str, widgets.Widget] = {}
        if row.enabled is not None and row.probability is not None:
            found["enabled"] = row.enabled
            found["probability"] = row.probability
        found.update(row.widgets)
        return found

    @property
    def pipeline(self) -> Pipeline:
        """The tuned augmentation pipeline (a copy; editing it does not change the tuner)."""
        return self._pipeline.copy()

    @property
    def training_pipeline(self) -> Pipeline:
        """The preprocessing with the tuned augmentation inserted: what a training stream runs."""
        return make_pipeline(self.preprocessing, self._pipeline)

    def set_params(self, step: int | str, **params: Any) -> AugmentationTuner:
        """Change one step's parameters through its controls (``probability=0`` switches it off); returns the tuner.

        Raises ``ValueError``/``TypeError`` (and changes nothing) for values the step rejects.
        """
        position = self._pipeline.index(step)
        changed = self._pipeline[position].replace(**params)  # validate before touching the controls
        with self._hold():
            self._rows[position].show(changed)
        return self

    def set_pipeline(self, pipeline: Pipeline | Sequence[Transform]) -> AugmentationTuner:
        """Show ``pipeline`` in the controls (rebuilt when its steps differ from the current ones); returns the tuner."""
        pipeline = Pipeline(pipeline)
        if [type(step) for step in pipeline] == [type(step) for step in self._pipeline]:
            with self._hold():
                for row, step in zip(self._rows, pipeline, strict=True):
                    row.show(step)
        else:
            self._pipeline = pipeline.copy()
            self._build_rows()
            self._apply_controls()
        return self

    def reset(self) -> AugmentationTuner:
        """Back to the pipeline the tuner started with; returns the tuner."""
        self.set_pipeline(self._initial)
        self._say("reset to the starting pipeline")
        return self

    # ------------------------------------------------------------ seed, curve, files
    @property
    def seed(self) -> int:
        """Seed of the examples (``reseed`` moves to the next one)."""
        return int(self.seed_text.value)

    @seed.setter
    def seed(self, value: int) -> None:
        self.seed_text.value = int(value)

    def reseed(self, seed: int | None = None) -> AugmentationTuner:
        """New examples: the next seed, or ``seed``; returns the tuner."""
        self.seed = self.seed + 1 if seed is None else int(seed)
        return self

    @property
    def index(self) -> int:
        """Dataset index of the curve shown."""
        return self.selector.index

    def go_to(self, index: int) -> AugmentationTuner:
        """Show dataset curve ``index``; returns the tuner."""
        self.selector.select(index)
        return self

    def save(self, path: str | Path | None = None) -> Path:
        """Write the tuned pipeline as JSON (default: the path box) for ``Pipeline.load``; returns the path."""
        target = Path(self.path_text.value if path is None else path).expanduser()
        written = self._pipeline.save(target)
        self._say(f"saved {len(self._pipeline)} steps to {written.resolve()}")
        return written

    def load(self, path: str | Path | None = None) -> AugmentationTuner:
        """Show the pipeline saved at ``path`` (default: the path box); returns the tuner."""
        source = Path(self.path_text.value if path is None else path).expanduser()
        self.set_pipeline(Pipeline.load(source))
        self._say(f"loaded {source}")
        return self

    def _save_clicked(self) -> None:
        try:
            self.save()
        except (OSError, ValueError) as error:
            self._say(f"could not save: {error}", error=True)

    def _load_clicked(self) -> None:
        try:
            self.load()
        except (OSError, ValueError, TypeError) as error:
            self._say(f"could not load: {error}", error=True)

    def _say(self, text: str, *, error: bool = False, kind: str | None = None) -> None:
        """Show ``text`` in the message area (red for errors, which also go to :attr:`error`)."""
        self.error = text if error else None
        self._message_kind = kind
        color = "#b00020" if error else "#2e7d32"
        self.message.value = f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""

    # ------------------------------------------------------------ examples
    def _base(self, index: int) -> LightCurve:
        """Curve ``index`` after the deterministic part of the preprocessing (cached: loading and binning cost)."""
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            return cached
        lc = self.dataset.light_curve(index)
        if self._head.deterministic:
            lc = self._head(lc, np.random.default_rng(index))
        self._cache[index] = lc
        while len(self._cache) > 16:
            self._cache.popitem(last=False)
        return lc

    def _run(
        self, index: int, augmentation: Pipeline, rng: np.random.Generator
    ) -> tuple[LightCurve, np.ndarray]:
        """The output for curve ``index`` and which of its points the final steps filled."""
        head = Pipeline() if self._head.deterministic else self._head  # a deterministic head is cached
        return run_split(head, self._tail, self._base(index), rng, augmentation)

    def original(self, index: int | None = None) -> LightCurve:
        """Curve ``index`` (default: the one shown) preprocessed: ``dataset[index]`` as a light curve."""
        position = self.index if index is None else int(index)
        return self._run(position, Pipeline(), np.random.default_rng(position))[0]

    def examples(
        self, index: int | None = None, seed: int | None = None, n: int | None = None
    ) -> list[LightCurve]:
        """``n`` augmented versions of curve ``index`` (defaults: what the tuner shows).

        Example ``k`` is ``tuner.training_pipeline(dataset.light_curve(index),
        numpy.random.default_rng([seed, index, k]))``: the same seed gives the same examples.
        """
        position = self.index if index is None else int(index)
        chosen_seed = self.seed if seed is None else int(seed)
        count = self.n_examples if n is None else int(n)
        return [
            self._run(position, self._pipeline, np.random.default_rng([chosen_seed, position, k]))[0]
            for k in range(count)
        ]

    def regenerate(self) -> float:
        """Redraw the original and the examples from the current controls; returns the seconds it took.

        A curve that fails to load or preprocess is reported in the message area (plots are cleared).
        """
        if self._suspended:
            return 0.0
        started = time.perf_counter()
        position = self.index
        try:
            original = self._run(position, Pipeline(), np.random.default_rng(position))
            results = [
                self._run(position, self._pipeline, np.random.default_rng([self.seed, position, k]))
                for k in range(self.n_examples)
            ]
        except Exception as error:  # a bad file or a transform that fails must not break the widget
            self._cache.pop(position, None)
            self._shown = None
            self.signal = None
            self._records = []
            with self.panel.changing():
                self.source.data = self._empty_data()
                for strips in self.transit_sources.values():
                    strips.data = dict(_NO_TRANSITS)
                self.figures[0].title.text = f"curve {position} could not be shown"
            self._say(f"cannot show curve {position}: {error}", error=True, kind="curve")
        else:
            warnings = self._draw(position, original, results)
            if warnings:
                self._say("; ".join(warnings), error=True, kind="curve")
            elif self._message_kind == "curve":
                self._say("")
        self._changed_step = None
        self.seconds = time.perf_counter() - started
        self.timing.value = f'<small title="the last redraw took">{1000 * self.seconds:.0f} ms</small>'
        return self.seconds

    def _empty_data(self) -> dict[str, np.ndarray]:
        data: dict[str, np.ndarray] = {"x": np.zeros(0)}
        for column in self.columns:
            data[column] = np.zeros(0, dtype=np.float32)
            data[f"{column}_filled"] = np.zeros(0, dtype=np.float32)
        return data

    def _draw(
        self,
        position: int,
        original: tuple[LightCurve, np.ndarray],
        results: list[tuple[LightCurve, np.ndarray]],
    ) -> list[str]:
        """Put the curves into the plots' data source; returns warnings (curves of another length).

        Only what changed goes to the browser: for the curve already shown, the x values and
        the original are left alone and only the examples' columns are sent.
        """
        x, x_label = plot_x(original[0])
        same_curve = (
            self._shown is not None and self._shown[0] == position and np.array_equal(self._shown[1], x)
        )
        data: dict[str, np.ndarray] = {} if same_curve else {"x": np.asarray(x, dtype=np.float64)}
        warnings: list[str] = []
        for number, (lc, filled) in enumerate([original, *results]):
            if number == 0 and same_curve:
                continue
            flux = np.asarray(lc.flux, dtype=np.float32)
            if flux.size != x.size:  # a step changed the length: fit it to the plot's x, and say so
                warnings.append(f"{self.columns[number]} has {flux.size} points, the original {x.size}")
                padded = np.full(x.size, np.nan, dtype=np.float32)
                padded[: min(flux.size, x.size)] = flux[: x.size]
                flux, filled = padded, np.zeros(x.size, dtype=bool)
            data[self.columns[number]] = flux
            data[f"{self.columns[number]}_filled"] = np.where(filled, flux, np.float32(np.nan))
        self._records = [[str(entry) for entry in (lc.meta.get("augmentations") or [])] for lc, _ in results]
        transits = self._transit_intervals(position, x, x_label, results)
        with self.panel.changing():
            if same_curve:
                self.source.data.update(data)
            else:
                self.source.data = data
            for column, (starts, ends) in transits.items():
                source = self.transit_sources[column]
                if list(source.data["x0"]) != starts or list(source.data["x1"]) != ends:
                    source.data = {
                        "x0": starts, "x1": ends, "xc": [(a + b) / 2 for a, b in zip(starts, ends, strict=True)],
                        "mark": ["▲"] * len(starts),
                    }
            self.figures[0].title.text = self._original_title(position)
            for number, records in enumerate(self._records, start=1):
                self.figures[number].title.text = _short_title(number, records)
            for plot in self.figures:
                plot.xaxis.axis_label = x_label
        self._shown = (position, x)
        self.note.value = self._note()
        self.plotted_x = x
        self.key.value = self._key(x_label)
        return warnings

    # ------------------------------------------------------------ what the plots show
    def _original_title(self, position: int) -> str:
        """``original #12 · TIC 1234 · positive`` (a long target id is shortened; the plot is narrow)."""
        parts = [f"original #{position}"]
        target_ids = getattr(self.dataset, "target_ids", None)
        if target_ids:
            parts.append(_shorten(str(target_ids[position]), 18))
        label = label_of(self.dataset, position)
        if label is not None:
            parts.append(_shorten(label, 14))
        return " · ".join(parts)

    def _key(self, x_label: str) -> str:
        """The plots' legend, with where the shaded signal comes from (a legend inside a plot hides data)."""
        filled = f'<span style="color:{FILLED_COLOR}">●</span> filled gap'
        signal = self.signal
        if signal is None:
            known = "no known transit for this curve"
        elif not x_label.startswith("time"):
            known = "known signal not shown: the curve has no times"
        elif not self._same_time_system(self.plotted_x):
            known = (f"known signal not shown: its epoch {signal.epoch:.1f} is centuries from the curve's "
                     "times (another time system?)")
        else:
            known = (f'<span style="color:{TRANSIT_COLOR}">▮▲</span> {signal.label} '
                     f"(P = {signal.period:.3g} d, {24 * signal.duration:.2g} h; {html.escape(signal.source)})")
            unknown = self._unfollowed_steps()
            if unknown:
                known += f"; examples not shaded: {html.escape(', '.join(unknown))} may move the points"
        return f"<small>{known} · {filled}</small>"

    def descriptions(self) -> list[str]:
        """What each example shown drew, in full (``"RandomRoll(shift=-812), AddNoise(sigma=0.41)"``)."""
        return [", ".join(records) if records else "no augmentation applied" for records in self._records]

    def applied_in(self, step: str) -> list[int]:
        """The examples shown (numbered from 1) that ``step`` (a step name) was applied to."""
        return [
            number for number, records in enumerate(self._records, start=1)
            if any(record.startswith(f"{step}(") for record in records)
        ]

    def _note(self) -> str:
        """After a control moved: which examples its step changed, so the user knows where to look."""
        step = self._changed_step
        if step is None or not self._records:
            return ""
        rows = [row for row in self._rows if row.name == step and row.is_augmentation]
        if not rows:
            return ""
        if rows[0].enabled is not None and not rows[0].enabled.value:
            return f'<small style="color:#555">{html.escape(step)}: off (applied to no example)</small>'
        applied = self.applied_in(step)
        if applied:
            where = ", ".join(str(number) for number in applied)
            text = f"{step}: applied in example{'s' if len(applied) > 1 else ''} {where}"
            return f'<small style="color:#1f77b4">{html.escape(text)}</small>'
        text = f"{step}: applied in none of the {len(self._records)} examples: raise its chance or reseed"
        return f'<small style="color:#b26a00">{html.escape(text)}</small>'

    def transits(self, column: str = "original") -> tuple[list[float], list[float]]:
        """``(starts, ends)`` of the shaded transits in plot ``column`` (``"original"``, ``"augmented_1"``...)."""
        data = self.transit_sources[column].data
        return [float(v) for v in data["x0"]], [float(v) for v in data["x1"]]

    def signal_of(self, index: int) -> KnownSignal | None:
        """The known signal of curve ``index`` (truth table, then the curve's ``meta``), or None."""
        if index not in self._signals:
            self._signals[index] = self._find_signal(index, load=True)
        return self._signals[index]

    def _find_signal(self, index: int, *, load: bool) -> KnownSignal | None:
        row: dict[str, Any] = {}
        sources = getattr(self.dataset, "sources", None)
        source = sources[index] if sources is not None and index < len(sources) else None
        target_ids = getattr(self.dataset, "target_ids", None) or ()
        target = str(target_ids[index]) if index < len(target_ids) else ""
        path = str(source) if isinstance(source, (str, Path)) else ""
        if self._truth is not None and (path or target):
            row = self._truth.find(path, target)
        if row:
            found = known_signal({}, row)
            if found is not None or not load:
                return found
        if isinstance(source, LightCurve) and not load:
            return known_signal(source.meta)
        if not load:
            return None
        try:
            meta = self._base(index).meta
        except Exception:  # an unreadable curve has no known signal; the plot reports the error
            return None
        if not row and self._truth is not None and target and meta.get("sector") is not None:
            row = self._truth.find(path, target, meta.get("sector"))  # tables keyed by target and sector
        return known_signal(meta, row or None)

    def strongest_signal(self, limit: int = 5000) -> int:
        """The index of the curve with the strongest known signal: highest SNR, else deepest, else first found.

        Curves of the positive class come first (any class when none has a known signal); without any
        known signal, the first curve (of the positive class when there is one). Looks at the first
        ``limit`` curves, without reading files (truth tables and in-memory curves only).
        """
        positive = getattr(self.dataset, "positive_class", None)
        labels = getattr(self.dataset, "labels", None)
        indices = range(min(len(self.dataset), int(limit)))
        groups: list[list[int]] = []
        if positive is not None and labels is not None:
            groups.append([i for i in indices if str(labels[i]) == str(positive)])
        groups.append(list(indices))
        for group in groups:
            best, best_score = None, (-np.inf, -np.inf)
            for index in group:
                found = self._find_signal(index, load=False)
                if found is None:
                    continue
                self._signals.setdefault(index, found)
                score = (
                    found.snr if np.isfinite(found.snr) else -np.inf,
                    found.depth if np.isfinite(found.depth) else -np.inf,
                )
                if best is None or score > best_score:
                    best, best_score = index, score
            if best is not None:
                return best
        return groups[0][0] if groups[0] else 0

    def _transit_intervals(
        self, position: int, x: np.ndarray, x_label: str, results: list[tuple[LightCurve, np.ndarray]]
    ) -> dict[str, tuple[list[float], list[float]]]:
        """Shaded intervals per plot: the known signal's events, moved as each example's augmentations moved it."""
        self.signal = self.signal_of(position)
        empty: tuple[list[float], list[float]] = ([], [])
        if self.signal is None or x.size == 0:
            return dict.fromkeys(self.columns, empty)
        if not x_label.startswith("time") or not self._same_time_system(x):
            return dict.fromkeys(self.columns, empty)
        mask = signal_mask(x, self.signal)
        intervals = {"original": mask_intervals(x, mask)}
        unknown = self._unfollowed_steps()
        for number, (lc, _) in enumerate(results, start=1):
            moved = None if unknown else follow_augmentations(
                mask, x, [str(r) for r in (lc.meta.get("augmentations") or [])]
            )
            intervals[f"augmented_{number}"] = empty if moved is None else mask_intervals(x, moved)
        return intervals

    def _same_time_system(self, x: np.ndarray) -> bool:
        """False when the epoch is centuries from the curve (a BJD epoch for BTJD times): shading would be wrong."""
        return self.signal is not None and bool(abs(self.signal.epoch - float(np.median(x))) < 36500.0)

    def _unfollowed_steps(self) -> list[str]:
        """Steps switched on whose effect on the times the shading cannot follow (not built-in augmentations)."""
        return [
            step.name for step in self._pipeline
            if step.name not in FOLLOWED_STEPS and float(getattr(step, "probability", 1.0)) > 0
        ]

    def __repr__(self) -> str:
        steps = "".join(f"    {step!r},\n" for step in self._pipeline)
        return (
            f"AugmentationTuner(curve {self.index} of {len(self.dataset)}, seed={self.seed}, "
            f"n_examples={self.n_examples}, pipeline=[\n{steps}])"
        )


TRANSIT_COLOR = "#2ca02c"
FILLED_COLOR = "#ff7f0e"
_NO_TRANSITS: dict[str, list[Any]] = {"x0": [], "x1": [], "xc": [], "mark": []}


def _truth_lookup(truth: Any) -> Any:
    """A :class:`~qusi_lab.vetting.views.TruthLookup` for ``truth`` (None for None)."""
    if truth is None:
        return None
    from qusi_lab.vetting.views import TruthLookup

    return TruthLookup(truth)


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# How each built-in augmentation's record reads in a plot title: a short name and its drawn value.
_SHORT = {
    "TimeStretch": "stretch", "RandomRoll": "roll", "Flip": "flip", "ScaleFlux": "scale", "AddNoise": "noise",
    "CadenceDropout": "dropout", "RandomGaps": "gaps",
}


def _short_record(record: str) -> str:
    """``RandomRoll(shift=-812)`` -> ``roll -812``; ``RandomGaps(5:20, 90:99)`` -> ``gaps 2``; others their name."""
    name, _, rest = record.partition("(")
    rest = rest.rstrip(")")
    short = _SHORT.get(name, name)
    if name == "RandomGaps":
        return f"{short} {len([part for part in rest.split(',') if part.strip()])}"
    if name == "Flip" or "=" not in rest:
        return short
    value = rest.split("=", 1)[1].split(",")[0]
    if "." in value:  # drawn factors: three digits are plenty in a title
        try:
            value = f"{float(value):.3g}"
        except ValueError:
            pass
    return f"{short} {value}"


def _short_title(number: int, records: Sequence[str], width: int = 44) -> str:
    """``example 1: roll -812, noise 0.41`` wrapped onto a second line when long (Bokeh titles do not wrap)."""
    text = f"example {number}: " + (", ".join(_short_record(r) for r in records) if records else "no augmentation")
    if len(text) <= width:
        return text
    lines = textwrap.wrap(text, width=width, max_lines=2, placeholder=" …")
    return "\n".join(lines)

