"""AugmentationTuner: driven through its widgets as a user would, checked through the pipeline and the plot data."""

from __future__ import annotations

import html
import json
from pathlib import Path
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


# ---------------------------------------------------------------- issue 14: what the plots show


def shaded(tuner: AugmentationTuner, column: str) -> list[tuple[float, float]]:
    """The shaded (known transit) intervals of one plot, from the Bokeh source the page draws."""
    source: Any = tuner.panel.layout_model.select_one({"name": f"transits_{column}"})
    assert source is not None, column
    return list(zip(source.data["x0"], source.data["x1"], strict=True))


def deepest_x(tuner: AugmentationTuner, column: str) -> float:
    x, flux = plotted(tuner, "x"), plotted(tuner, column)
    return float(x[np.nanargmin(flux)])


def covers(intervals: list[tuple[float, float]], x: float) -> bool:
    return any(start <= x <= end for start, end in intervals)


def test_axes_are_labelled_and_titles_fit(dataset):
    tuner = AugmentationTuner(dataset, index=0, n_examples=3)
    assert len(tuner.figures) == 4
    for plot in tuner.figures:
        assert plot.xaxis[0].axis_label == "time [BTJD]"
        assert plot.yaxis[0].axis_label == "network input (normalised flux)"
    # Switch everything on with certainty: the longest titles. Each line stays short (Bokeh does not wrap or
    # cut titles: a long line runs out of the plot); the full records are in descriptions().
    for name in STEP_NAMES:
        tuner.controls(name)["probability"].value = 1.0
    for plot in tuner.figures:
        assert all(len(line) <= 44 for line in plot.title.text.split("\n")), plot.title.text
        assert plot.title.text.count("\n") <= 1
    assert tuner.figures[0].title.text == "original #0 · TIC 739967931 · positive"
    assert all(description.startswith("TimeStretch(factor=") for description in tuner.descriptions())
    assert "RandomGaps(" in tuner.descriptions()[0] and "gaps 2" in tuner.figures[1].title.text


def test_opens_on_the_strongest_known_signal_with_its_transits_shaded(dataset):
    tuner = AugmentationTuner(dataset, n_examples=2)
    # Of the two positives (an eclipsing binary with SNR ~300, a heartbeat with ~30) the binary.
    assert tuner.index == 0 and tuner.signal is not None and tuner.signal.kind == "eclipsing_binary"
    intervals = shaded(tuner, "original")
    assert 5 <= len(intervals) <= 8  # a 4.2-day binary over a 27-day sector
    assert covers(intervals, deepest_x(tuner, "original"))  # the shading is where the flux dips deepest
    key = html.unescape(tuner.key.value)
    assert "eclipse (P = 4.25 d" in key and "meta['injected']" in key
    # The heartbeat: its periastra are marked; a quiet star: nothing is, and the key says so.
    tuner.go_to(2)
    assert tuner.signal.label == "periastron" and shaded(tuner, "original")
    tuner.go_to(1)
    assert tuner.signal is None and shaded(tuner, "original") == [] and shaded(tuner, "augmented_1") == []
    assert "no known transit" in tuner.key.value


def test_the_shading_follows_roll_flip_and_stretch(dataset):
    tuner = AugmentationTuner(dataset, index=0, n_examples=3, seed=2)
    switch_all_off(tuner)
    for name, parameters in {"RandomRoll": {}, "Flip": {}, "TimeStretch": {"low": 0.8, "high": 1.2}}.items():
        tuner.set_params(name, probability=1.0, **parameters)
    original = shaded(tuner, "original")
    for number, description in enumerate(tuner.descriptions(), start=1):
        assert "RandomRoll(" in description and "Flip()" in description and "TimeStretch(" in description
        moved = shaded(tuner, f"augmented_{number}")
        assert moved and moved != original  # moved with the flux...
        assert covers(moved, deepest_x(tuner, f"augmented_{number}"))  # ...to where the example dips deepest
    # A transform the tuner cannot follow (it may move points): no shading rather than a wrong one.
    custom = AugmentationTuner(dataset, Pipeline([TunerTestTrim(keep=1.0)]), index=0, n_examples=1)
    assert shaded(custom, "original") and shaded(custom, "augmented_1") == []
    assert "examples not shaded: TunerTestTrim" in custom.key.value
    custom.set_params("TunerTestTrim", probability=0)  # switched off, it moves nothing
    assert shaded(custom, "augmented_1") == shaded(custom, "original")


def test_moving_a_slider_says_which_examples_it_changed(dataset):
    tuner = AugmentationTuner(dataset, index=0, n_examples=3, seed=0)
    assert tuner.note.value == ""
    noise = tuner.controls("AddNoise")
    before = augmented_plots(tuner)
    noise["std"].value = 2.0
    applied = tuner.applied_in("AddNoise")
    after = augmented_plots(tuner)
    changed = [number for number in range(1, 4) if not np.array_equal(before[number - 1], after[number - 1])]
    assert applied and changed == applied  # exactly the examples the note names changed
    assert f"AddNoise: applied in example{'s' if len(applied) > 1 else ''} " in tuner.note.value
    assert ", ".join(map(str, applied)) in tuner.note.value
    noise["probability"].value = 0.01
    assert tuner.applied_in("AddNoise") == [] and "applied in none of the 3 examples" in tuner.note.value
    noise["enabled"].value = False
    assert "AddNoise: off" in tuner.note.value
    tuner.reseed()
    assert tuner.note.value == ""  # the note is about the last control moved


def test_files_with_a_truth_table_and_an_explicit_truth(tmp_path):
    import pandas as pd

    from qusi_lab.synthetic import make_sector
    from qusi_lab.transforms import default_preprocessing

    sector = make_sector(tmp_path, n_stars=12, seed=3, experiment=True, split_fractions=(0.5, 0.25, 0.25),
                         num_workers=1)
    train = LightCurveDataset.from_experiment(sector.experiment_directory,
                                              preprocessing=default_preprocessing(1024))["train"]
    names = [str(Path(source).name) for source in train.sources]
    truth = sector.truth.assign(name=sector.truth["path"].map(lambda path: Path(path).name)).set_index("name")
    positives = [i for i, label in enumerate(train.labels) if label == "positive"]
    assert positives
    strongest = max(positives, key=lambda i: truth.loc[names[i], "snr"])
    tuner = AugmentationTuner(train, n_examples=1)  # truth.csv found beside the experiment
    assert tuner.index == strongest and tuner.signal.source == "truth table"
    assert tuner.signal.period == pytest.approx(truth.loc[names[strongest], "period"])
    assert covers(shaded(tuner, "original"), deepest_x(tuner, "original"))
    # truth=None: the files carry no signal of their own, nothing is shaded.
    blind = AugmentationTuner(train, index=strongest, n_examples=1, truth=None)
    assert blind.signal is None and shaded(blind, "original") == []
    # A table of your own (a candidate table has these columns), matched by target id.
    row = truth.loc[names[strongest]]
    table = pd.DataFrame({"target_id": [train.target_ids[strongest]], "sector": [1], "period": [row["period"]],
                          "epoch": [row["epoch"]], "duration_hours": [row["duration_hours"]]})
    own = AugmentationTuner(train, index=strongest, n_examples=1, truth=table)
    assert shaded(own, "original") == shaded(tuner, "original")


def test_your_own_curves_meta_period_and_an_epoch_in_another_time_system():
    quiet = synthetic_light_curve("quiet", seed=4)
    mine = quiet.replace(meta={**quiet.meta, "injected": [], "period": 3.0, "epoch": 1330.0, "duration": 0.2})
    tuner = AugmentationTuner([mine], n_examples=1, truth=None)
    assert tuner.signal is not None and tuner.signal.source == "meta"
    intervals = shaded(tuner, "original")
    assert len(intervals) == 9  # every 3 days over the 27-day sector
    step = float(np.median(np.diff(plotted(tuner, "x"))))
    assert all(abs((end - start) - 0.2) <= 1.01 * step for start, end in intervals)  # 0.2 d, to a bin
    # A BJD epoch on BTJD times: the phase would be wrong, so nothing is shaded and the key says why.
    bjd = quiet.replace(meta={**mine.meta, "epoch": 2457000.0 + 1330.0})
    other = AugmentationTuner([bjd], n_examples=1, truth=None)
    assert shaded(other, "original") == [] and "another time system" in other.key.value
