"""`AugmentationTuner`: see what each augmentation does to your light curves, and tune it with sliders.

::

    tuner = ql.AugmentationTuner(train)     # a row of controls per augmentation step
    tuner                                   # the original curve and augmented versions, redrawn live
    tuner.pipeline                          # the tuned augmentation Pipeline (a copy)

Each augmentation step gets a row: an enable toggle (off means probability 0), a
probability slider and a control per parameter (sliders with sensible ranges for
the built-in augmentations, number/text boxes for transforms you registered
yourself). Any change rebuilds the pipeline and redraws, below the original
(preprocessed) curve, ``n_examples`` augmented versions drawn deterministically
from ``(seed, sample index, example number)``; "reseed" moves to the next seed.
Points that an augmentation blanked (gaps, dropped cadences, stretched ends) and
the final :class:`~qusi_lab.transforms.FillGaps` filled are drawn in orange, and
each plot's title lists what the augmentations drew (``RandomRoll(shift=-812)``...).

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
    make_figure,
    plot_x,
    run_split,
    sample_title,
    split_preprocessing,
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
        Dataset index of the curve shown first.
    n_examples:
        Augmented versions drawn under the original.
    seed:
        Seed of the examples: example ``k`` of curve ``i`` uses ``numpy.random.default_rng([seed, i, k])``.
    preprocessing:
        For light curves only: the preprocessing (default
        :func:`~qusi_lab.transforms.default_preprocessing`).

    Attributes
    ----------
    pipeline
        The tuned augmentation (a copy): give it to a dataset (``augmentation=tuner.pipeline``), save it.
    seconds
        How long the last redraw took (generating the examples and updating the plots).

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve
    >>> tuner = AugmentationTuner([synthetic_light_curve("planet", seed=1)], n_examples=2)
    >>> _ = tuner.set_params("AddNoise", std=1.0, probability=1.0)
    >>> tuner.pipeline[4]
    AddNoise(std=1.0, units='mad', probability=1.0)
    >>> tuner.set_params("Flip", probability=0).pipeline[2]
    Flip(probability=0.0)
    """

    def __init__(
        self,
        data: Any,
        pipeline: Pipeline | Sequence[Transform] | None = None,
        *,
        index: int = 0,
        n_examples: int = 3,
        seed: int = 0,
        preprocessing: Pipeline | None = None,
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

        # --- controls
        self._rows: list[_StepControls] = []
        self.steps_box = widgets.VBox()
        self.seed_text = widgets.BoundedIntText(
            value=int(seed),
            min=0,
            max=2**31 - 1,
            description="seed",
            style={"description_width": "40px"},
            layout=widgets.Layout(width="150px"),
        )
        self.reseed_button = widgets.Button(
            description="reseed", icon="refresh", tooltip="next seed: new examples"
        )
        self.reset_button = widgets.Button(
            description="reset to defaults",
            icon="undo",
            tooltip="back to the pipeline the tuner started with",
        )
        self.path_text = widgets.Text(
            value="augmentation.json",
            description="path",
            style={"description_width": "40px"},
            layout=widgets.Layout(width="280px"),
        )
        self.save_button = widgets.Button(description="save pipeline", icon="save")
        self.load_button = widgets.Button(description="load", icon="folder-open")
        self.message = widgets.HTML()
        self.timing = widgets.HTML()
        self.selector = SampleSelector(self.dataset, index)

        # --- plots: the original and the examples share their axes, so scales compare directly
        from bokeh.models import ColumnDataSource

        # One data source for every curve: a change reaches the browser as a single patch.
        self.columns = ["original"] + [f"augmented_{number}" for number in range(1, self.n_examples + 1)]
        self.source = ColumnDataSource(self._empty_data(), name="curves")
        self.figures: list[Any] = []
        for number, column in enumerate(self.columns):
            first = self.figures[0] if self.figures else None
            plot = make_figure(
                column.replace("_", " "),
                x_range=None if first is None else first.x_range,
                y_range=None if first is None else first.y_range,
            )
            plot.line(
                "x", column, source=self.source, color="black" if number == 0 else "#1f77b4", line_width=1
            )
            # The "_filled" columns hold the filled points and NaN elsewhere (NaN points are not drawn).
            filled_style: dict[str, Any] = {"color": "#ff7f0e", "size": 3}
            if number == 0:
                filled_style["legend_label"] = "filled gap"
            plot.scatter("x", f"{column}_filled", source=self.source, **filled_style)
            if number == 0:
                plot.legend.location = "bottom_left"
                plot.legend.label_text_font_size = "8pt"
                plot.legend.background_fill_alpha = 0.5
            self.figures.append(plot)
        self.panel = BokehPanel(self.figures)

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
        self.children = [
            self.selector.box,
            self.steps_box,
            widgets.HBox(
                [self.seed_text, self.reseed_button, self.reset_button, self.timing],
                layout=widgets.Layout(align_items="center"),
            ),
            widgets.HBox(
                [self.path_text, self.save_button, self.load_button],
                layout=widgets.Layout(align_items="center"),
            ),
            self.message,
            self.plot,
        ]

    # ------------------------------------------------------------ controls <-> pipeline
    def _build_rows(self) -> None:
        for row in self._rows:
            for widget in row.all_widgets():
                widget.unobserve_all()
        self._rows = [_StepControls(step) for step in self._pipeline]
        for row in self._rows:
            for widget in row.all_widgets():
                widget.observe(self._control_changed, names="value")
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

    def _control_changed(self, change: dict[str, Any]) -> None:
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
            with self.panel.changing():
                self.source.data = self._empty_data()
                self.figures[0].title.text = f"original: curve {position} could not be shown"
            self._say(f"cannot show curve {position}: {error}", error=True, kind="curve")
        else:
            warnings = self._draw(position, original, results)
            if warnings:
                self._say("; ".join(warnings), error=True, kind="curve")
            elif self._message_kind == "curve":
                self._say("")
        self.seconds = time.perf_counter() - started
        self.timing.value = f"<small>redrawn in {1000 * self.seconds:.0f} ms</small>"
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
        with self.panel.changing():
            if same_curve:
                self.source.data.update(data)
            else:
                self.source.data = data
            self.figures[0].title.text = f"original (preprocessed): {sample_title(self.dataset, position)}"
            for number, (lc, _) in enumerate(results, start=1):
                self.figures[number].title.text = f"augmented {number}: {_describe(lc)}"
            self.figures[-1].xaxis.axis_label = x_label
        self._shown = (position, x)
        return warnings

    def __repr__(self) -> str:
        steps = "".join(f"    {step!r},\n" for step in self._pipeline)
        return (
            f"AugmentationTuner(curve {self.index} of {len(self.dataset)}, seed={self.seed}, "
            f"n_examples={self.n_examples}, pipeline=[\n{steps}])"
        )


def _describe(lc: LightCurve) -> str:
    """What the augmentations drew for ``lc`` (from ``meta["augmentations"]``)."""
    applied = lc.meta.get("augmentations") or []
    return ", ".join(str(entry) for entry in applied) if applied else "no augmentation applied"
