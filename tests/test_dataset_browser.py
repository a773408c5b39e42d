"""DatasetBrowser: flipping through classes with its buttons, checked through the tables and the plot data."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qusi_lab.data import LightCurveDataset
from qusi_lab.data.injection import make_injected_dataset
from qusi_lab.io import write_spoc_fits
from qusi_lab.lightcurve import LightCurve
from qusi_lab.synthetic import synthetic_light_curve
from qusi_lab.transforms import BinToLength, Normalize, Pipeline, RemoveNonFinite
from qusi_lab.widgets.browser import DatasetBrowser, format_value, injected_html


@pytest.fixture(scope="module")
def injected() -> LightCurveDataset:
    hosts = [synthetic_light_curve("quiet", seed=seed) for seed in (11, 12, 13)]
    # Each host once with a transit (positive) and once without (negative).
    return make_injected_dataset(hosts, positive="transit", n_per_host=2, seed=3, input_length=1024)


def plotted(browser: DatasetBrowser, name: str) -> np.ndarray:
    """The y column of a named ColumnDataSource, read from the Bokeh document the widget shows."""
    source: Any = browser.panel.layout_model.select_one({"name": name})
    assert source is not None, name
    return np.array(source.data["y"], dtype=np.float64)


def test_flips_through_one_class_with_the_buttons(injected):
    browser = DatasetBrowser(injected)
    labels = injected.labels
    positives = [i for i, label in enumerate(labels) if label == "positive"]
    assert len(positives) == 3
    dropdown = browser.selector.class_dropdown
    assert [label for label, _ in dropdown.options] == ["all (6)", "negative (3)", "positive (3)"]
    dropdown.value = injected.label_names.index("positive")  # the user picks "positive (3)"
    seen = [browser.index]
    for _ in range(3):
        browser.selector.next_button.click()
        seen.append(browser.index)
    assert seen == [*positives, positives[0]]  # every positive once, then around again
    assert browser.info["label"] == "positive" and "positive" in browser.details.value
    browser.selector.previous_button.click()
    assert browser.index == positives[-1]
    assert "3 of 3" in browser.selector.position.value
    browser.select_class("negative")
    assert labels[browser.index] == "negative"
    browser.selector.class_dropdown.value = -1  # "all (6)"
    browser.selector.slider.value = 4
    assert browser.index == 4 and browser.info["label"] == labels[4]


def test_shows_injected_parameters_and_the_network_input(injected):
    browser = DatasetBrowser(injected)
    browser.select_class("positive")
    position = browser.index
    lc = injected.light_curve(position)
    parameters = lc.meta["injected"]
    assert parameters["kind"] == "transit"
    assert browser.info["injected"] == parameters
    table = browser.injected.value
    for key in ("period", "epoch", "radius_ratio"):
        assert key in table and format_value(parameters[key]) in table
    assert browser.info["target id"] == injected.target_ids[position]
    # The plots are the raw curve and exactly the network input dataset[i].
    np.testing.assert_allclose(plotted(browser, "raw"), lc.flux, rtol=1e-6)
    np.testing.assert_allclose(plotted(browser, "input"), injected[position][0].numpy(), rtol=1e-6)
    assert f"dataset[{position}]" in browser.input_figure.title.text

    browser.select_class("negative")
    assert "no injected signal" in browser.injected.value
    assert browser.info["label"] == "negative"
    np.testing.assert_allclose(plotted(browser, "input"), injected[browser.index][0].numpy(), rtol=1e-6)


def test_a_bad_file_is_reported_and_browsing_goes_on(tmp_path):
    paths = []
    for number, kind in enumerate(["quiet", "heartbeat"]):
        lc = synthetic_light_curve(kind, seed=number)
        paths.append(
            write_spoc_fits(
                LightCurve(lc.time, lc.flux), tmp_path / f"tic_{number + 1}_s01.fits", tic_id=number + 1, sector=1
            )
        )
    broken = tmp_path / "tic_9_s01.fits"
    broken.write_bytes(b"SIMPLE but truncated")
    dataset = LightCurveDataset([paths[0], broken, paths[1]], ["negative", "positive", "positive"])
    browser = DatasetBrowser(dataset)
    assert browser.error is None and browser.info["path"] == str(paths[0])
    assert browser.info["star"] == "TIC 1" and browser.info["mission"] == "TESS"

    browser.select_class("positive")  # its first curve is the broken file
    assert browser.index == 1
    assert "tic_9_s01.fits" in browser.message.value and "could not load" in browser.message.value
    assert browser.info["label"] == "positive" and browser.info["path"] == str(broken)
    assert plotted(browser, "raw").size == 0 and plotted(browser, "input").size == 0
    assert browser.problems == [
        {"index": 1, "path": str(broken), "stage": "load", "error": browser.problems[0]["error"]}
    ]

    browser.selector.next_button.click()
    assert browser.index == 2 and browser.error is None and browser.message.value == ""
    assert plotted(browser, "input").size == 2048
    browser.selector.next_button.click()  # back to the broken file: reported again, listed once
    assert browser.error is not None and len(browser.problems) == 1


def test_a_preprocessing_failure_is_reported(tmp_path):
    curve = synthetic_light_curve("quiet", seed=4)  # its mid-sector downlink gap leaves empty bins
    no_fill = Pipeline([RemoveNonFinite(), BinToLength(length=2048), Normalize()])
    browser = DatasetBrowser([curve], preprocessing=no_fill)
    assert (
        browser.error is not None
        and "could not preprocess" in browser.error
        and "non-finite" in browser.error
    )
    assert browser.problems[0]["stage"] == "preprocess"
    assert plotted(browser, "raw").size == len(curve)  # the raw curve is still shown


def test_unlabelled_curves_and_display():
    curves = [synthetic_light_curve("quiet", seed=21), synthetic_light_curve("quiet", seed=22)]
    browser = DatasetBrowser(curves, index=1)
    assert browser.index == 1 and browser.info["label"] is None
    assert browser.selector.class_dropdown.layout.display == "none"
    browser.next()
    assert browser.index == 0
    bundle = browser._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("DatasetBrowser(curve 0 of 2")


def test_injected_table_for_several_signals():
    flares = [{"kind": "flare", "peak_time": 1.5, "amplitude": 0.01}, {"kind": "flare", "peak_time": 2.25}]
    table = injected_html(flares)
    assert table.count("<tr>") == 3 and "1.5" in table and "2.25" in table and "amplitude" in table
    assert "no injected signal" in injected_html([])
    assert format_value(0.123456789) == "0.123457" and format_value([1, 2.5]) == "[1, 2.5]"
