"""The augmentation tuner in a real browser: Voila on loopback, Debian's Chromium driven by Playwright.

The test writes a small synthetic experiment, starts Voila on ``tests/notebooks/tuner.ipynb``
(which opens ``ql.AugmentationTuner`` on its training set), and in the rendered page: checks the
rows of controls and the original and augmented plots, then drags the ``AddNoise`` noise slider
with the mouse. The curves BokehJS holds in the page must then be exactly the examples that the
tuned pipeline (the slider's new value) gives, computed again here in the test process from the
same files, seed and curve. A screenshot goes to ``tests/artifacts/augmentation_tuner.png``
(copied to ``docs/images`` for the README).

Same requirements as ``test_vetting_browser.py``; skipped, loudly, without them. Takes ~15 s.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from test_vetting_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    _free_port,
    _require_browser_tools,
    _server,
    _wait_for,
)

pytestmark = pytest.mark.slow

NOTEBOOK = REPO / "tests" / "notebooks" / "tuner.ipynb"
N_EXAMPLES = 2

# The tuner's plot data (one ColumnDataSource named "curves") and the figures' titles, from BokehJS.
_BOKEH_STATE = """() => {
  for (const document of Bokeh.documents) {
    let curves = null; const titles = [];
    for (const model of document.all_models) {
      if (model.name === 'curves') curves = model;
      if (typeof model.text === 'string' && model.text) titles.push(model.text);  // the figures' titles
    }
    if (curves === null) continue;
    const data = {};
    const columns = curves.data instanceof Map ? [...curves.data.entries()] : Object.entries(curves.data);
    for (const [column, values] of columns) data[column] = Array.from(values);
    return {data: data, titles: titles};
  }
  return null;
}"""


def _dataset(folder):
    import qusi_lab as ql

    experiment = folder / "spoc_transit_experiment"
    return ql.LightCurveDataset.from_experiment(experiment, preprocessing=ql.default_preprocessing(1024))["train"]


@pytest.fixture(scope="module")
def tuner_folder(tmp_path_factory):
    """A 12-star experiment; the planet of the training set with the highest SNR; a seed whose examples add noise."""
    from pathlib import Path

    import qusi_lab as ql

    folder = tmp_path_factory.mktemp("tuner_browser")
    sector = ql.synthetic.make_sector(folder, n_stars=12, seed=3, experiment=True,
                                      split_fractions=(0.5, 0.25, 0.25), num_workers=1)
    train = _dataset(folder)
    snr = dict(zip(sector.truth["path"].map(lambda path: Path(path).name), sector.truth["snr"], strict=True))
    planets = [index for index, label in enumerate(train.labels) if label == "positive"]
    assert planets, "the experiment has no planet in its training set"
    index = max(planets, key=lambda position: snr[Path(train.sources[position]).name])
    tuner = ql.AugmentationTuner(train, index=index, n_examples=N_EXAMPLES)
    seed = next(seed for seed in range(50) if all(
        "AddNoise" in str(example.meta.get("augmentations")) for example in tuner.examples(seed=seed)))
    return folder, index, seed


def _expected(folder, index, seed, std=None):
    """The tuner's original and examples, computed in this process (the widget's own code, no browser)."""
    import qusi_lab as ql

    tuner = ql.AugmentationTuner(_dataset(folder), index=index, n_examples=N_EXAMPLES, seed=seed)
    if std is not None:
        tuner.set_params("AddNoise", std=std)
    curves = {"original": tuner.original().flux}
    for number, example in enumerate(tuner.examples(), start=1):
        curves[f"augmented_{number}"] = example.flux
    return {name: np.asarray(flux, dtype=np.float32) for name, flux in curves.items()}


def _matches(state, expected) -> bool:
    if state is None:
        return False
    for column, values in expected.items():
        shown = np.asarray(state["data"].get(column, []), dtype=np.float64)
        if shown.shape != values.shape or not np.allclose(shown, values, rtol=1e-6, atol=1e-6, equal_nan=True):
            return False
    return True


def test_tuner_in_voila(tuner_folder):
    from playwright.sync_api import sync_playwright

    voila = _require_browser_tools()
    folder, index, seed = tuner_folder
    before = _expected(folder, index, seed)
    port = _free_port()
    command = [voila, str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
               "--ServerApp.port_retries=0", "--VoilaConfiguration.show_tracebacks=True"]
    environment = dict(os.environ, QUSI_TUNER_DIR=str(folder), QUSI_TUNER_INDEX=str(index),
                       QUSI_TUNER_SEED=str(seed), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
                       PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with _server(command, folder, port, environment), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1240, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"http://127.0.0.1:{port}/", wait_until="commit", timeout=60_000)
            page.wait_for_selector(".qusi-augmentation-tuner", timeout=120_000)
            page.wait_for_selector(".qt-plots canvas", timeout=60_000)
            loaded = time.monotonic() - started

            # Rendered: a row per augmentation step with its sliders, and the plots of the original and
            # the examples, holding exactly the tuner's curves.
            steps = ["TimeStretch", "RandomRoll", "Flip", "ScaleFlux", "AddNoise", "CadenceDropout", "RandomGaps"]
            for name in steps:
                assert page.locator(f".qt-step-{name}").count() == 1, name
                assert page.locator(f".qt-{name}-probability .noUi-handle").count() == 1, name
            sliders = page.locator(".qusi-augmentation-tuner .widget-slider").count()
            assert sliders >= 13, sliders  # 7 probabilities, 6 parameters (Flip has none)
            state = _wait_for(lambda: page.evaluate(_BOKEH_STATE), 30, "the tuner's plot data in BokehJS")
            assert _matches(state, before), "the page does not show the tuner's original and examples"
            assert any(title.startswith("original (preprocessed)") for title in state["titles"])
            for number in range(1, N_EXAMPLES + 1):
                assert any(title.startswith(f"augmented {number}:") and "AddNoise" in title
                           for title in state["titles"]), state["titles"]
            readout = page.locator(".qt-AddNoise-std .widget-readout")
            assert readout.inner_text().strip() == "0.50"
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "augmentation_tuner_defaults.png"), full_page=True)

            # Drag the noise slider (0 to 3) to about 2 with the mouse.
            handle = page.locator(".qt-AddNoise-std .noUi-handle")
            track = page.locator(".qt-AddNoise-std .noUi-target").bounding_box()
            box = handle.bounding_box()
            assert track is not None and box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            target = track["x"] + track["width"] * 2.0 / 3.0
            page.mouse.move(target, box["y"] + box["height"] / 2, steps=8)
            page.mouse.up()
            released = time.monotonic()
            value = float(_wait_for(lambda: readout.inner_text().strip() != "0.50" and readout.inner_text(), 10,
                                    "the slider's readout to change"))
            assert 1.5 <= value <= 2.5, value
            after = _expected(folder, index, seed, std=value)
            assert not any(np.allclose(after[column], before[column], equal_nan=True)
                           for column in after if column != "original")
            state = _wait_for(lambda: (lambda shown: shown if _matches(shown, after) else None)(
                page.evaluate(_BOKEH_STATE)), 20, f"the plots redrawn with AddNoise(std={value})")
            redraw = time.monotonic() - released
            assert all("AddNoise(sigma=" in title for title in state["titles"] if title.startswith("augmented"))
            page.wait_for_timeout(400)
            page.screenshot(path=str(ARTIFACTS / "augmentation_tuner.png"), full_page=True)
            bokeh_errors = [error for error in errors if "bokeh" in error.lower() or "require" in error]
            assert not bokeh_errors, bokeh_errors
            print(f"\ntuner in Voila: page with plots after {loaded:.1f} s; slider dragged to std={value}; page "
                  f"showing the new examples {1000 * redraw:.0f} ms after the mouse was released "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        except BaseException:
            if page is not None:
                page.screenshot(path=str(ARTIFACTS / "augmentation_tuner_failure.png"), full_page=True)
            raise
        finally:
            browser.close()
