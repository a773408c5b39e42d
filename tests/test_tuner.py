"""AugmentationTuner: driven through its widgets as a user would, checked through the pipeline and the plot data."""

from __future__ import annotations

import json
from typing import Any

import ipywidgets as widgets
import numpy as np
import pytest

from qusi_lab.data import LightCurveDataset
from qusi_lab.errors import LightCurveError
from qusi_lab.io import write_spoc_fits
from qusi_lab.lightcurve import LightCurve
from qusi_lab.synthetic import synthetic_light_curve
from qusi_lab.transforms import (
    AddNoise,
    Augmentation,
    Flip,
    Normalize,
    Pipeline,
    default_augmentation,
    make_pipeline,
    register_transform,
)
from qusi_lab.transforms.base import with_flux
from qusi_lab.widgets.tuner import AugmentationTuner

STEP_NAMES = [step.name for step in default_augmentation()]


@register_transform
class TunerTestDim(Augmentation):
    """A user-registered augmentation the tuner has no slider ranges for: scales the flux by ``factor``."""

    def __init__(self, factor: float = 0.5, note: str = "dim", probability: float = 1.0) -> None:
        if not factor > 0:
            raise ValueError(f"factor must be > 0, got {factor!r}")
        self.factor = float(factor)
        self.note = note
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        return with_flux(lc, lc.flux * self.factor)


@register_transform
class TunerTestTrim(Augmentation):
    """Keeps the first ``keep`` share of the curve (changes the length); ``tags`` is a list: not editable."""

    def __init__(self, keep: float = 0.5, tags: list | None = None, probability: float = 1.0) -> None:
        self.keep = float(keep)
        self.tags = tags
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        return lc[: int(len(lc) * self.keep)]


@pytest.fixture(scope="module")
def dataset() -> LightCurveDataset:
    curves = [
        synthetic_light_curve("eclipsing_binary", seed=1),
        synthetic_light_curve("quiet", seed=1),
        synthetic_light_curve("heartbeat", seed=2),
        synthetic_light_curve("quiet", seed=3),
    ]
    return LightCurveDataset.from_light_curves(curves, ["positive", "negative", "positive", "negative"])


def plotted(tuner: AugmentationTuner, column: str) -> np.ndarray:
    """A curve's column of the ColumnDataSource the widget's Bokeh document shows."""
    source: Any = tuner.panel.layout_model.select_one({"name": "curves"})
    assert source is not None and column in source.data, column
    return np.array(source.data[column], dtype=np.float64)


def step(pipeline: Pipeline, name: str) -> Any:
    return pipeline[pipeline.index(name)]


def augmented_plots(tuner: AugmentationTuner) -> list[np.ndarray]:
    return [plotted(tuner, f"augmented_{number}") for number in range(1, tuner.n_examples + 1)]


def switch_all_off(tuner: AugmentationTuner) -> None:
    for name in STEP_NAMES:
        tuner.controls(name)["enabled"].value = False


def test_a_row_of_controls_for_every_step(dataset):
    tuner = AugmentationTuner(dataset)
    assert tuner.pipeline == default_augmentation()  # the dataset's augmentation (the default)
    assert len(tuner.steps_box.children) == len(STEP_NAMES)
    for name in STEP_NAMES:
        controls = tuner.controls(name)
        assert isinstance(controls["enabled"], widgets.Checkbox) and controls["enabled"].value
        assert isinstance(controls["probability"], widgets.FloatSlider)
        assert controls["probability"].value == step(tuner.pipeline, name).probability
    assert isinstance(tuner.controls("TimeStretch")["low"], widgets.FloatRangeSlider)
    assert tuner.controls("TimeStretch")["low"].value == (0.9, 1.1)
    assert isinstance(tuner.controls("RandomGaps")["count"], widgets.IntSlider)
    assert isinstance(tuner.controls("AddNoise")["units"], widgets.Dropdown)
    assert tuner.controls("AddNoise")["std"].value == 0.5
    # The tuner displays itself: a widget view plus a text summary listing the steps.
    bundle = tuner._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "AddNoise(std=0.5" in bundle["text/plain"]
    assert tuner.plot in tuner.children[0].children and tuner.controls_box in tuner.children[0].children


def test_slider_edits_change_the_pipeline_and_the_plots(dataset):
    tuner = AugmentationTuner(dataset, n_examples=2, seed=4)
    sent: list[dict] = []
    original_send = tuner.plot.send

    def spy(content: dict, buffers: Any = None) -> None:
        sent.append(content)
        original_send(content, buffers)

    tuner.plot.send = spy
    original = plotted(tuner, "original")
    np.testing.assert_allclose(original, dataset[0][0].numpy(), rtol=1e-6)  # the original is dataset[0]

    switch_all_off(tuner)
    assert all(step(tuner.pipeline, name).probability == 0.0 for name in STEP_NAMES)
    for curve in augmented_plots(tuner):
        np.testing.assert_array_equal(curve, original)  # nothing enabled: the examples are the original

    noise = tuner.controls("AddNoise")
    noise["units"].value = "flux"
    noise["std"].value = 2.0
    noise["enabled"].value = True
    noise["probability"].value = 1.0
    assert step(tuner.pipeline, "AddNoise") == AddNoise(std=2.0, units="flux", probability=1.0)
    for curve in augmented_plots(tuner):
        residual = curve - original
        assert 1.8 < residual.std() < 2.2  # the plotted examples carry exactly the noise the sliders ask for
    assert sent, "plot changes must be sent to the browser"
    assert "noise 2" in tuner.figures[1].title.text and "AddNoise(sigma=2" in tuner.descriptions()[0]

    before = augmented_plots(tuner)
    noise["std"].value = 0.5
    after = augmented_plots(tuner)
    assert all(0.4 < (curve - original).std() < 0.6 for curve in after)
    assert not any(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_toggle_sets_probability_zero_and_restores_it(dataset):
    tuner = AugmentationTuner(dataset, n_examples=1)
    flip = tuner.controls("Flip")
    flip["enabled"].value = False
    assert step(tuner.pipeline, "Flip") == Flip(probability=0.0)
    assert flip["probability"].disabled
    flip["enabled"].value = True
    assert step(tuner.pipeline, "Flip") == Flip(probability=0.5)
    assert not flip["probability"].disabled
    # A step that starts switched off offers its class's default chance when switched on.
    off = AugmentationTuner(dataset, Pipeline([Flip(probability=0.0)]), n_examples=1)
    assert not off.controls("Flip")["enabled"].value and step(off.pipeline, "Flip").probability == 0.0
    off.controls("Flip")["enabled"].value = True
    assert step(off.pipeline, "Flip").probability == 0.5


def test_range_slider_and_clean_values(dataset):
    tuner = AugmentationTuner(dataset, n_examples=1)
    tuner.controls("TimeStretch")["low"].value = (0.7, 1.3)
    tuner.controls("ScaleFlux")["probability"].value = 0.1 + 0.2  # 0.30000000000000004, as a browser may send
    tuner.controls("RandomGaps")["count"].value = 5
    pipeline = tuner.pipeline
    assert (step(pipeline, "TimeStretch").low, step(pipeline, "TimeStretch").high) == (0.7, 1.3)
    assert step(pipeline, "ScaleFlux").probability == 0.3
    assert step(pipeline, "RandomGaps").count == 5
    # A copy: editing it leaves the tuner alone.
    pipeline.set_params("RandomGaps", count=1)
    assert step(tuner.pipeline, "RandomGaps").count == 5


def test_reseed_changes_examples_and_a_seed_reproduces_them(dataset):
    tuner = AugmentationTuner(dataset, n_examples=3, seed=0)
    first = augmented_plots(tuner)
    tuner.reseed_button.click()
    assert tuner.seed == 1
    second = augmented_plots(tuner)
    assert not any(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    tuner.seed_text.value = 0
    for a, b in zip(first, augmented_plots(tuner), strict=True):
        np.testing.assert_array_equal(a, b)
    # Another tuner with the same seed draws the same examples, and they are what training would draw.
    again = AugmentationTuner(dataset, n_examples=3, seed=0)
    for a, b in zip(first, augmented_plots(again), strict=True):
        np.testing.assert_array_equal(a, b)
    pipeline = make_pipeline(dataset.preprocessing, tuner.pipeline)
    for k, example in enumerate(tuner.examples()):
        expected = pipeline.to_array(dataset.light_curve(0), np.random.default_rng([0, 0, k]))
        np.testing.assert_array_equal(example.flux.astype(np.float32), expected)
        np.testing.assert_array_equal(first[k], expected)


def test_save_load_and_reset(dataset, tmp_path):
    tuner = AugmentationTuner(dataset, n_examples=1)
    tuner.controls("AddNoise")["std"].value = 1.25
    tuner.controls("CadenceDropout")["fraction"].value = 0.1
    tuner.controls("Flip")["enabled"].value = False
    path = tmp_path / "augmentation.json"
    tuner.path_text.value = str(path)
    tuner.save_button.click()
    assert path.exists() and str(path.name) in tuner.message.value
    loaded = Pipeline.load(path)
    assert loaded == tuner.pipeline
    assert step(loaded, "AddNoise").std == 1.25 and step(loaded, "Flip").probability == 0.0
    assert json.loads(path.read_text())["steps"][4] == {
        "name": "AddNoise",
        "std": 1.25,
        "units": "mad",
        "probability": 0.5,
    }

    shown = augmented_plots(tuner)
    tuner.reset_button.click()
    assert tuner.pipeline == default_augmentation()
    assert tuner.controls("AddNoise")["std"].value == 0.5
    assert tuner.controls("Flip")["enabled"].value
    assert not np.array_equal(shown[0], augmented_plots(tuner)[0])

    tuner.load_button.click()  # reads the path box back in
    assert tuner.pipeline == loaded
    assert tuner.controls("CadenceDropout")["fraction"].value == 0.1

    other = tmp_path / "flip_only.json"
    Pipeline([Flip(probability=1.0), TunerTestDim(factor=3.0)]).save(other)
    tuner.path_text.value = str(other)
    tuner.load_button.click()  # different steps: the rows are rebuilt
    assert tuner.pipeline == Pipeline([Flip(probability=1.0), TunerTestDim(factor=3.0)])
    assert len(tuner.steps_box.children) == 2
    np.testing.assert_allclose(augmented_plots(tuner)[0], 3.0 * plotted(tuner, "original")[::-1], rtol=1e-5)

    tuner.path_text.value = str(tmp_path / "no" / "such" / "folder" / "augmentation.json")
    tuner.save_button.click()  # reported, not raised
    assert "could not save" in tuner.message.value and tuner.error


def test_user_transforms_get_generic_controls(dataset):
    tuner = AugmentationTuner(dataset, Pipeline([Normalize(), TunerTestDim(factor=0.5)]), n_examples=1)
    original = plotted(tuner, "original")
    controls = tuner.controls("TunerTestDim")
    assert isinstance(controls["factor"], widgets.FloatText)
    assert isinstance(controls["note"], widgets.Text)
    assert "enabled" not in tuner.controls("Normalize")  # a plain transform: no toggle, no probability
    assert isinstance(tuner.controls("Normalize")["method"], widgets.Text)

    controls["factor"].value = 0.25
    assert step(tuner.pipeline, "TunerTestDim").factor == 0.25
    curve = augmented_plots(tuner)[0]
    # rel=1e-2: the tuner's Normalize re-normalises the (asinh-stretched) preprocessed curve, a ~0.3% change.
    assert np.std(curve) == pytest.approx(0.25 * np.std(original), rel=1e-2)

    controls["factor"].value = -1.0  # rejected by the transform: reported, last valid value kept
    assert (
        tuner.error is not None
        and "factor must be > 0" in tuner.error
        and "factor must be &gt; 0" in tuner.message.value
    )
    assert step(tuner.pipeline, "TunerTestDim").factor == 0.25
    controls["factor"].value = 2.0
    assert tuner.error is None and tuner.message.value == ""
    assert step(tuner.pipeline, "TunerTestDim").factor == 2.0
    with pytest.raises(ValueError, match="factor"):
        tuner.set_params("TunerTestDim", factor=0)
    tuner.set_params("TunerTestDim", probability=0)
    assert not controls["enabled"].value and step(tuner.pipeline, "TunerTestDim").probability == 0.0


def test_class_selector_and_buttons_move_between_curves(dataset):
    tuner = AugmentationTuner(dataset, n_examples=1)
    selector = tuner.selector
    labels = dataset.labels
    selector.select_class("negative")
    assert labels[tuner.index] == "negative" and tuner.index == 1
    np.testing.assert_allclose(plotted(tuner, "original"), dataset[1][0].numpy(), rtol=1e-6)
    selector.next_button.click()
    assert tuner.index == 3
    np.testing.assert_allclose(plotted(tuner, "original"), dataset[3][0].numpy(), rtol=1e-6)
    assert "negative" in tuner.figures[0].title.text
    selector.next_button.click()  # wraps around within the class
    assert tuner.index == 1
    selector.class_dropdown.value = -1  # "all (4)"
    selector.slider.value = 2
    assert tuner.index == 2
    np.testing.assert_allclose(plotted(tuner, "original"), dataset[2][0].numpy(), rtol=1e-6)


def test_a_curve_that_fails_is_reported_not_raised(tmp_path):
    good = synthetic_light_curve("quiet", seed=5)
    path = write_spoc_fits(LightCurve(good.time, good.flux), tmp_path / "tic_5_s01.fits", tic_id=5, sector=1)
    broken = tmp_path / "tic_6_s01.fits"
    broken.write_bytes(b"this is not a FITS file")
    dataset = LightCurveDataset([path, broken], ["a", "b"])
    tuner = AugmentationTuner(dataset, index=0, n_examples=1)
    assert tuner.error is None and plotted(tuner, "original").size == 2048
    tuner.selector.next_button.click()
    assert tuner.index == 1
    assert tuner.error is not None and "cannot show curve 1" in tuner.error
    assert "tic_6_s01.fits" in tuner.message.value
    assert plotted(tuner, "original").size == 0
    tuner.selector.previous_button.click()
    assert tuner.error is None and plotted(tuner, "original").size == 2048
    with pytest.raises(LightCurveError, match="tic_6_s01.fits"):
        tuner.examples(index=1)  # the plain method raises; only the widget reports


def test_regeneration_at_the_default_input_length_2048(dataset):
    # How fast: benchmarks/bench_interactive.py (wall-clock limits are not unit tests).
    tuner = AugmentationTuner(dataset, n_examples=3)
    assert plotted(tuner, "augmented_3").size == 2048
    std = tuner.controls("AddNoise")["std"]
    before = augmented_plots(tuner)
    std.value = 2.0  # the full path: observer, pipeline rebuild, 3 examples, plot update
    assert "ms" in tuner.timing.value
    assert all(plot.size == 2048 for plot in augmented_plots(tuner))
    assert not all(np.array_equal(old, new) for old, new in zip(before, augmented_plots(tuner), strict=True))


def test_light_curves_and_display_bundle():
    curves = [synthetic_light_curve("quiet", seed=7), synthetic_light_curve("heartbeat", seed=7)]
    tuner = AugmentationTuner(curves, n_examples=1)  # labels come from meta["label"]
    assert tuner.dataset.label_names == ("heartbeat", "quiet")
    bundle_before = tuner.plot.render_bundle
    tuner.reseed()
    assert tuner.plot.render_bundle == bundle_before  # not rebuilt on every change (slow)...
    tuner._repr_mimebundle_()
    assert tuner.plot.render_bundle != bundle_before  # ...but before a new view is drawn
    assert "AugmentationTuner(curve 1 of 2" in repr(tuner)  # opens on the heartbeat: its signal is known


def test_length_changes_and_read_only_parameters(dataset):
    tuner = AugmentationTuner(dataset, Pipeline([TunerTestTrim(keep=0.5)]), n_examples=1)
    curve = plotted(tuner, "augmented_1")
    assert curve.size == 2048 and np.isfinite(curve[:1024]).all() and np.isnan(curve[1024:]).all()
    assert tuner.error == "augmented_1 has 1024 points, the original 2048"
    tags = tuner.controls("TunerTestTrim")["tags"]
    assert tags.disabled and tags.value == "None"  # shown, not edited in the widget
    tuner.set_params("TunerTestTrim", tags=["a", "b"])
    assert tags.value == "['a', 'b']"
    tuner.controls("TunerTestTrim")["keep"].value = 1.0
    assert step(tuner.pipeline, "TunerTestTrim").tags == ["a", "b"]  # kept through later edits
    assert tuner.error is None and np.isfinite(plotted(tuner, "augmented_1")).all()
