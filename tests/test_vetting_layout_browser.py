"""Issue 14's "done means" for the vetting panel's layout, in JupyterLab in a real browser.

"A browser test at 1366 × 768 in JupyterLab with the file browser open checks that the light curve, the
folded view and the verdict buttons are all in the viewport."

JupyterLab serves ``tests/notebooks/vetting_panel.ipynb`` on a small synthetic sector (as in
``test_vetting_browser.py``, whose helpers this reuses); Chromium (Playwright) opens it in a 1366 × 768
window with the file browser open, runs all cells, scrolls the panel's top to the top of the notebook
(what a user does) and, once the page has settled, checks the bounding boxes of the light curve, the fold
and every verdict button: inside the window and inside the notebook's visible area (not under the status
bar, not cut on the right). Then the same at 1366 × 680 (the page's part of a browser window filling a
1366 × 768 screen) and at 1440 × 900, with the file browser open and closed; at 800 × 768 the panel is one
column (light curve, fold, candidate card). The
1366 × 768 window goes to ``tests/artifacts/vetting_panel_jupyterlab_1366x768.png`` and the whole panel, as
wide as there, to ``tests/artifacts/vetting_panel_1366x768.png`` (copied to ``docs/images`` for the README). Last, the period box in the page: a typed period and Enter
refold, a typed word gets a message beside the box, and ×3 multiplies the period shown; a filter that
leaves nothing shows a message in place of the figures, which come back at their size.

Same requirements as ``test_vetting_browser.py``; skipped, loudly, without them.
"""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest
from test_vetting_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    VISIBLE_FOLD,
    VISIBLE_LIGHT_CURVE,
    _jupyter_url,
    _records,
    _run_all_and_give_first_verdict,
    _wait_for,
    vetting_folder,  # noqa: F401 - a fixture, used by name
)

pytestmark = pytest.mark.slow

# The boxes of what must be on screen, and of the notebook's visible area, in page pixels.
_BOXES = """([lightCurve, fold]) => {
  const box = (element) => { const r = element.getBoundingClientRect();
    return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height}; };
  const named = {"light curve": document.querySelector(lightCurve), "folded view": document.querySelector(fold)};
  document.querySelectorAll('.qv-verdict-button').forEach((button, i) => { named[`verdict button ${i + 1}`] = button; });
  const notebook = [...document.querySelectorAll('.jp-NotebookPanel-notebook')].find(n => n.offsetParent !== null);
  const browser = document.querySelector('#filebrowser');
  return {
    window: {width: window.innerWidth, height: window.innerHeight},
    notebook: box(notebook),
    fileBrowser: browser && browser.offsetParent !== null ? box(browser) : null,
    panel: box(document.querySelector('.qusi-vetting-panel')),
    elements: Object.fromEntries(Object.entries(named).map(([name, element]) => [name, box(element)])),
  };
}"""


# JupyterLab has laid its panels out for the window's size: the notebook reaches down to the status bar and
# across to the right side bar (after a resize that takes a few frames, sometimes over a second).
_LAID_OUT = """() => {
  const notebook = [...document.querySelectorAll('.jp-NotebookPanel-notebook')].find(n => n.offsetParent !== null);
  const status = document.querySelector('#jp-main-statusbar');
  const right = document.querySelector('.jp-SideBar.jp-mod-right');
  if (!notebook || !status) return false;
  const box = notebook.getBoundingClientRect();
  const edge = right && right.offsetParent !== null ? right.getBoundingClientRect().left : window.innerWidth;
  return Math.abs(box.bottom - status.getBoundingClientRect().top) < 10 && Math.abs(box.right - edge) < 10
         && Math.abs(status.getBoundingClientRect().bottom - window.innerHeight) < 2;
}"""


def _scroll_panel_to_top(page) -> None:
    page.evaluate("() => document.querySelector('.qusi-vetting-panel').scrollIntoView({block: 'start'})")


def _settled_boxes(page) -> dict:
    """The boxes once JupyterLab fills the window and three measurements 300 ms apart agree (its panels laid
    out after a resize, figures drawn, fonts loaded, scrolling done)."""
    size = page.viewport_size
    page.wait_for_function("([width, height]) => window.innerWidth === width && window.innerHeight === height",
                           arg=[size["width"], size["height"]], timeout=20_000)
    previous: list[dict] = []

    def stable():
        laid_out = page.evaluate(_LAID_OUT)
        boxes = page.evaluate(_BOXES, [VISIBLE_LIGHT_CURVE, VISIBLE_FOLD])
        page.wait_for_timeout(300)
        same = laid_out and len(previous) >= 2 and previous[-1] == boxes and previous[-2] == boxes
        previous.append(boxes)
        return boxes if same else None

    return _wait_for(stable, 30, "JupyterLab laid out for the window and the page settled")


def _outside(boxes: dict) -> list[str]:
    """What is not wholly inside both the window and the notebook's visible area (1 px tolerance)."""
    window, notebook = boxes["window"], boxes["notebook"]
    right = min(window["width"], notebook["right"]) + 1
    bottom = min(window["height"], notebook["bottom"]) + 1
    left, top = max(0, notebook["left"]) - 1, max(0, notebook["top"]) - 1
    return [f"{name} {box}" for name, box in boxes["elements"].items()
            if not (box["width"] > 0 and box["left"] >= left and box["top"] >= top and box["right"] <= right
                    and box["bottom"] <= bottom)]


def _file_browser(page, open_: bool) -> None:
    """Open or close JupyterLab's file browser (the folder tab of the left side bar)."""
    shown = page.locator("#filebrowser").is_visible()
    if shown != open_:
        page.locator('.jp-SideBar.jp-mod-left [data-id="filebrowser"]').click()
        _wait_for(lambda: page.locator("#filebrowser").is_visible() == open_, 10,
                  f"the file browser {'open' if open_ else 'closed'}")


@pytest.fixture(scope="module")
def lab(vetting_folder):  # noqa: F811 - the imported fixture
    with _jupyter_url(vetting_folder, "jupyter-lab", "jupyterlab", "lab/tree",
                      "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                      "--LabApp.news_url=None") as served:
        yield served


def test_light_curve_fold_and_verdicts_fit_1366x768_in_jupyterlab_with_the_file_browser_open(
        lab, vetting_folder):  # noqa: F811
    from playwright.sync_api import sync_playwright

    url, folder = lab
    _, ranked = vetting_folder
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.goto(url, timeout=60_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
            _file_browser(page, open_=True)
            # Runs the notebook, clicks verdict 1: the panel works at this size (the click reached the file).
            _run_all_and_give_first_verdict(page, ranked, folder / "labels.csv", "1", "planet candidate")
            page.wait_for_selector(f"{VISIBLE_FOLD} canvas", timeout=30_000)
            for button in page.get_by_role("button", name="No").all():  # the "Jupyter news?" toast
                with contextlib.suppress(Exception):
                    button.click(timeout=1000)

            results = {}
            # 1366 × 680: the viewport of a browser window filling a 1366 × 768 screen (tabs, address bar).
            for width, height, browser_open in ((1366, 768, True), (1366, 680, True), (1440, 900, True),
                                                (1440, 900, False)):
                page.set_viewport_size({"width": width, "height": height})
                _file_browser(page, open_=browser_open)
                _scroll_panel_to_top(page)
                boxes = _settled_boxes(page)
                where = f"{width} × {height}, file browser {'open' if browser_open else 'closed'}"
                results[where] = boxes
                if browser_open:
                    assert boxes["fileBrowser"] is not None and boxes["fileBrowser"]["width"] > 150, where
                    assert boxes["notebook"]["left"] >= boxes["fileBrowser"]["right"] - 1, where
                outside = _outside(boxes)
                assert not outside, f"{where}: not on screen: {outside} (notebook area {boxes['notebook']})"
                # Side by side (the fold beside the light curve, not under it) and not squeezed to nothing.
                light_curve, fold = boxes["elements"]["light curve"], boxes["elements"]["folded view"]
                assert fold["left"] >= light_curve["right"] - 1, where
                assert light_curve["width"] >= 340 and fold["width"] >= 280, where
                assert light_curve["height"] >= 200 and fold["height"] >= 200, where
                if (width, height) == (1366, 768):
                    page.screenshot(path=str(ARTIFACTS / "vetting_panel_jupyterlab_1366x768.png"))
            # Narrow (800 × 768, file browser open: a panel under 700 px): one column, the fold right under the
            # light curve and the candidate card after it.
            page.set_viewport_size({"width": 800, "height": 768})
            _scroll_panel_to_top(page)
            _settled_boxes(page)
            order = page.evaluate("""(selectors) => selectors.map(s => document.querySelector(s).getBoundingClientRect())
                                     .map(r => [r.top, r.bottom, r.width])""",
                                  [VISIBLE_LIGHT_CURVE, VISIBLE_FOLD, ".qv-area-card"])
            (_, light_curve_bottom, light_curve_width), (fold_top, fold_bottom, _), (card_top, _, _) = order
            assert light_curve_bottom - 1 <= fold_top < light_curve_bottom + 60 and card_top >= fold_bottom - 1, order
            assert light_curve_width >= 300, order
            page.screenshot(path=str(ARTIFACTS / "vetting_panel_jupyterlab_800x768.png"))

            # The panel alone, whole, as wide as at 1366 × 768 with the file browser open (for the README), on
            # the injected planet, reached by typing its id into "go to".
            page.set_viewport_size({"width": 1366, "height": 1100})
            _file_browser(page, open_=True)
            truth = pd.read_csv(vetting_folder[0] / "data" / "truth.csv")
            planet = str(truth[truth.label == "planet"].target_id.iloc[0])
            page.locator(".qv-jump input").fill(planet)
            page.locator(".qv-jump input").press("Enter")
            _wait_for(lambda: page.locator(".qv-title").inner_text().startswith(planet), 20, "go to the planet")
            _scroll_panel_to_top(page)
            _settled_boxes(page)
            page.locator(".qusi-vetting-panel").screenshot(path=str(ARTIFACTS / "vetting_panel_1366x768.png"))

            # The period box: typed and Enter refolds; what is not a period is said beside the box; digits typed
            # there are not verdict keys; ×3 then multiplies what is shown.
            verdicts = len(_records(folder / "labels.csv"))
            box, label = page.locator(".qv-period-text input"), page.locator(".qv-period-label")
            box.fill("2.5")
            box.press("Enter")
            _wait_for(lambda: "P = 2.5 d" in label.inner_text(), 20, "the fold at the typed period")
            box.fill("two days")
            box.press("Enter")
            _wait_for(lambda: "is not a period" in label.inner_text(), 20, "the message about the typed text")
            assert "P = 2.5 d" in label.inner_text()  # the fold stays as it was
            page.locator(".qv-period-button", has_text="×3").click()
            _wait_for(lambda: "P = 7.5 d" in label.inner_text(), 20, "×3 of the typed period")
            assert len(_records(folder / "labels.csv")) == verdicts

            # Nothing passes the filters: a message in place of the figures; back to a full queue, the figures
            # come back at their size (drawn again after being hidden).
            page.locator(".qv-show select").select_option("systematic")
            empty = page.locator(".qv-empty")
            _wait_for(lambda: empty.is_visible() and len(empty.inner_text()) > 20, 20, "the empty-queue message")
            assert not page.locator(VISIBLE_LIGHT_CURVE).is_visible()
            page.locator(".qv-show select").select_option("unvetted")
            _wait_for(lambda: not empty.is_visible() and page.locator(VISIBLE_LIGHT_CURVE).is_visible(), 20,
                      "the figures back")
            boxes = _settled_boxes(page)
            assert boxes["elements"]["light curve"]["width"] >= 340 and boxes["elements"]["folded view"]["height"] >= 200
            assert boxes["elements"]["folded view"]["left"] >= boxes["elements"]["light curve"]["right"] - 1
            for where, boxes in results.items():
                panel, notebook = boxes["panel"], boxes["notebook"]
                print(f"\n{where}: window {boxes['window']['width']} × {boxes['window']['height']}, notebook area {notebook['width']:.0f} × {notebook['height']:.0f} px, panel "
                      f"{panel['width']:.0f} × {panel['height']:.0f} px, lowest of light curve/fold/verdicts at "
                      f"{max(box['bottom'] for box in boxes['elements'].values()) - panel['top']:.0f} px "
                      "below the panel's top")
        except BaseException:
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(ARTIFACTS / "vetting_panel_layout_failure.png"))
            raise
        finally:
            browser.close()
