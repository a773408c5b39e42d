"""The augmentation tuner in a real browser: Voila on loopback, Debian's Chromium driven by Playwright.

The test writes a small synthetic experiment, starts Voila on ``tests/notebooks/tuner.ipynb``
(which opens ``ql.AugmentationTuner`` on its training set), and in the rendered page: checks the
rows of controls and the original and augmented plots, then drags the ``AddNoise`` noise slider
with the mouse. The curves BokehJS holds in the page must then be exactly the examples that the
tuned pipeline (the slider's new value) gives, computed again here in the test process from the
same files, seed and curve. A screenshot goes to ``tests/artifacts/augmentation_tuner_voila.png``.

In JupyterLab at 1440 x 900 (issue 14), on the tuner's default curve: the controls and every plot are on screen
together, the axes are labelled, no title or label is cut, the shaded transits cover the deepest dip, and after
the noise slider is dragged its note names the examples it changed. The tuner's screenshot there,
``tests/artifacts/augmentation_tuner.png``, is the README's ``docs/images/augmentation_tuner.png``.

Same requirements as ``test_vetting_browser.py`` (and jupyterlab); skipped, loudly, without them. ~1.5 min.
"""

from __future__ import annotations

import contextlib
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
    run_all_cells,
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
                       QUSI_TUNER_SEED=str(seed), QUSI_TUNER_EXAMPLES=str(N_EXAMPLES),
                       JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
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
            assert any(title.startswith(f"original #{index}") for title in state["titles"])
            for number in range(1, N_EXAMPLES + 1):
                assert any(title.startswith(f"example {number}:") and "noise" in title
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
            assert all("noise " in title.replace("\n", " ") for title in state["titles"] if title.startswith("example"))
            page.wait_for_timeout(400)
            page.screenshot(path=str(ARTIFACTS / "augmentation_tuner_voila.png"), full_page=True)
            # A narrow window: the plots go under the controls instead of off the side.
            page.set_viewport_size({"width": 820, "height": 1000})

            def reflowed() -> dict | None:  # the page reflows when it can: poll, as a person would look again
                shown = page.evaluate(_LAYOUT_PROBE)
                return shown if shown["plots"] and all(
                    plot["rect"]["top"] >= shown["controls"]["bottom"] - 1 and plot["rect"]["right"] <= 820 + 1
                    for plot in shown["plots"]) else None

            try:
                _wait_for(reflowed, 20, "the plots to go under the controls in a narrow window")
            except AssertionError as error:
                raise AssertionError(f"{error}: {page.evaluate(_LAYOUT_PROBE)}") from None
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


# ---------------------------------------------------------------- JupyterLab at 1440 x 900

# Where the tuner's parts are on screen, and which of its texts do not fit their boxes. Bokeh draws each
# figure in a shadow root: the figures are found through BokehJS's views, their titles measured on a canvas.
_LAYOUT_PROBE = """() => {
  const rect = (element) => { const r = element.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom}; };
  const tuner = document.querySelector('.qusi-augmentation-tuner');
  const plots = [];
  const walk = (view) => {
    if (view.model.type === 'Figure' || view.model.constructor.__name__ === 'Figure' ||
        (view.model.title !== undefined && view.model.x_range !== undefined)) {
      const title = view.model.title;
      const text = title && typeof title.text === 'string' ? title.text : String(title && title.text);
      const context = document.createElement('canvas').getContext('2d');
      context.font = `${title.text_font_style} ${title.text_font_size} ${title.text_font}`;
      const widest = Math.max(...text.split('\\n').map((line) => context.measureText(line).width));
      plots.push({title: text, title_width: widest, width: view.el.getBoundingClientRect().width,
                  rect: rect(view.el), x_label: view.model.below[0].axis_label,
                  y_label: view.model.left[0].axis_label});
    }
    for (const child of (view.child_views || [])) walk(child);
  };
  for (const root of Bokeh.index.roots) if (tuner.contains(root.el) || tuner.contains(root.el.getRootNode().host)) walk(root);
  const cut = [];
  for (const element of tuner.querySelectorAll('label, label span, .widget-label, .widget-label-basic, .widget-readout, button, .widget-dropdown select'))
    if (element.offsetParent !== null && element.scrollWidth > element.clientWidth + 1)
      cut.push(element.textContent.trim() || element.outerHTML.slice(0, 80));
  const notebook = document.querySelector('.jp-NotebookPanel-notebook');
  return {tuner: rect(tuner), controls: rect(tuner.querySelector('.qt-controls')), plots: plots, cut: cut,
          notebook: notebook ? rect(notebook) : null,
          viewport: {width: window.innerWidth, height: window.innerHeight}};
}"""


@pytest.fixture()
def lab_server(tuner_folder):
    """JupyterLab on loopback serving a copy of the tuner notebook (the tuner chooses its curve)."""
    import shutil
    import sys
    from pathlib import Path

    _require_browser_tools()
    program = Path(sys.executable).with_name("jupyter-lab")
    if not program.exists():
        pytest.skip("BROWSER TEST SKIPPED: jupyterlab is not installed in this environment")
    folder, _, _ = tuner_folder
    served = folder / "lab"
    served.mkdir(exist_ok=True)
    shutil.copy(NOTEBOOK, served / NOTEBOOK.name)
    port = _free_port()
    token = "qusi-tuner-test"
    command = [str(program), "--allow-root", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={served}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"]
    environment = dict(os.environ, QUSI_TUNER_DIR=str(folder), JUPYTER_RUNTIME_DIR=str(served / "runtime"),
                       JUPYTERLAB_WORKSPACES_DIR=str(served / "workspaces"), PYTHONWARNINGS="ignore",
                       OMP_NUM_THREADS="1")
    environment.pop("QUSI_TUNER_INDEX", None)
    with _server(command, served, port, environment):
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK.name}?token={token}"


def test_tuner_fits_jupyterlab_at_1440x900(lab_server, tuner_folder):
    """Issue 14: at 1440 x 900 the controls and every plot are on screen together, axes labelled, no text cut,
    and the tuner opens on a curve whose transits are shaded where its flux dips deepest."""
    from playwright.sync_api import sync_playwright

    folder, strongest, _ = tuner_folder
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(lab_server, timeout=60_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
            for button in page.get_by_role("button", name="No").all():  # the "Jupyter news?" toast
                with contextlib.suppress(Exception):
                    button.click(timeout=1000)
            run_all_cells(page)
            page.wait_for_selector(".qusi-augmentation-tuner", timeout=120_000)
            page.wait_for_selector(".qt-plots canvas", timeout=60_000)
            state = _wait_for(lambda: page.evaluate(_BOKEH_STATE), 30, "the tuner's plot data in BokehJS")
            # The tuner chose the planet with the highest SNR (the fixture found it from truth.csv).
            assert any(title.startswith(f"original #{strongest} ") for title in state["titles"]), state["titles"]
            # Scroll the notebook so that the tuner's top is at the top of the notebook area, as a user would.
            page.evaluate("() => document.querySelector('.qusi-augmentation-tuner').scrollIntoView({block: 'start'})")
            page.wait_for_timeout(800)
            layout = page.evaluate(_LAYOUT_PROBE)
            page.screenshot(path=str(ARTIFACTS / "augmentation_tuner_jupyterlab.png"))

            screen = {"left": 0, "top": 0, "right": 1440, "bottom": 900}
            notebook = layout["notebook"]

            def inside(box, frame) -> bool:
                return (box["left"] >= frame["left"] - 1 and box["top"] >= frame["top"] - 1
                        and box["right"] <= frame["right"] + 1 and box["bottom"] <= frame["bottom"] + 1)

            assert len(layout["plots"]) == 4, layout["plots"]  # the original and 3 examples
            for part in [layout["controls"], *[plot["rect"] for plot in layout["plots"]]]:
                assert inside(part, screen) and inside(part, notebook), (part, notebook, layout)
            assert inside(layout["tuner"], notebook), layout
            height = layout["tuner"]["bottom"] - layout["tuner"]["top"]
            assert height <= 720, f"the tuner is {height:.0f} px tall"
            # Plots beside the controls, not under them.
            assert all(plot["rect"]["left"] >= layout["controls"]["right"] - 1 for plot in layout["plots"])
            for plot in layout["plots"]:
                assert plot["x_label"].startswith("time [") and plot["y_label"] == "network input (normalised flux)"
                assert plot["title_width"] <= plot["width"] - 40, plot  # the title fits its plot
            assert not layout["cut"], f"texts cut by their boxes: {layout['cut']}"

            # The shaded transits are where the original dips deepest.
            shown = page.evaluate("""() => { for (const d of Bokeh.documents) for (const m of d.all_models)
                if (m.name === 'transits_original') return {x0: Array.from(m.data.get ? m.data.get('x0') : m.data.x0),
                                                            x1: Array.from(m.data.get ? m.data.get('x1') : m.data.x1)};
                return null; }""")
            assert shown and shown["x0"], "no transit is shaded in the original"
            x = np.asarray(state["data"]["x"], dtype=np.float64)
            flux = np.asarray(state["data"]["original"], dtype=np.float64)
            deepest = x[np.nanargmin(flux)]
            assert any(a <= deepest <= b for a, b in zip(shown["x0"], shown["x1"], strict=True)), (deepest, shown)

            # Move the noise slider with the mouse: the note names the examples it changed, and they (like every
            # plot) are on screen without scrolling.
            handle = page.locator(".qt-AddNoise-std .noUi-handle")
            track = page.locator(".qt-AddNoise-std .noUi-target").bounding_box()
            box = handle.bounding_box()
            assert track is not None and box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(track["x"] + track["width"] * 0.5, box["y"] + box["height"] / 2, steps=6)
            page.mouse.up()
            note = page.locator(".qusi-augmentation-tuner").get_by_text("AddNoise:")
            note.wait_for(timeout=20_000)
            assert note.inner_text().startswith(("AddNoise: applied in example", "AddNoise: applied in none")), (
                note.inner_text())
            page.wait_for_timeout(800)
            after = page.evaluate(_LAYOUT_PROBE)
            for part in [after["controls"], *[plot["rect"] for plot in after["plots"]]]:
                assert inside(part, screen) and inside(part, notebook), (part, after)
            assert not after["cut"], after["cut"]
            page.locator(".qusi-augmentation-tuner").screenshot(path=str(ARTIFACTS / "augmentation_tuner.png"))
            print(f"\ntuner in JupyterLab 1440x900: {layout['tuner']['right'] - layout['tuner']['left']:.0f} x "
                  f"{height:.0f} px; notebook area {notebook['top']:.0f}-{notebook['bottom']:.0f} px")
        except BaseException:
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(ARTIFACTS / "augmentation_tuner_jupyterlab_failure.png"))
            raise
        finally:
            browser.close()
