"""The vetting panel in a real browser: Voila on loopback, Debian's Chromium driven by Playwright.

The test writes a small synthetic sector, a model bundle and its candidate table to a temporary
folder, starts Voila on ``tests/notebooks/vetting_panel.ipynb`` (which reads that folder from
``QUSI_VETTING_DIR``), then, in the rendered page: clicks a verdict button, hovers the panel and
presses shortcut keys (ipyevents only listens while the pointer is over the panel), and checks the
verdict file on disk after each. A screenshot goes to ``tests/artifacts/vetting_panel.png``.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``), and ``playwright`` and ``voila`` from
PyPI; never ``playwright install`` (it downloads another browser, and fails offline).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from qusi_lab.vetting import read_verdicts

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "tests" / "notebooks" / "vetting_panel.ipynb"
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]

pytestmark = pytest.mark.slow


def _voila_executable() -> str | None:
    beside = Path(sys.executable).with_name("voila")
    return str(beside) if beside.exists() else shutil.which("voila")


def _require_browser_tools() -> str:
    if not CHROMIUM.exists():
        pytest.skip("BROWSER TEST SKIPPED: /usr/bin/chromium not found (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("BROWSER TEST SKIPPED: playwright (Python) is not installed (pip install playwright; "
                    "never `playwright install`)")
    voila = _voila_executable()
    if voila is None:
        pytest.skip("BROWSER TEST SKIPPED: voila is not installed (pip install voila)")
    try:
        import ipyevents  # noqa: F401
    except ImportError:
        pytest.skip("BROWSER TEST SKIPPED: ipyevents is not installed (pip install ipyevents)")
    return voila


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"voila exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"voila did not listen on port {port} within {timeout} s")


def _wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# Times, in the page, from the next keydown to (a) the panel title's DOM changing and (b) the light curve on
# screen (the visible one of the panel's two sets of figures) being the expected candidate's (its Bokeh
# title names the target), plus two animation frames: drawn and composited. The panel draws the next
# candidate ahead in hidden figures and swaps; when it could not (no time to draw ahead), the figures on
# screen are redrawn, and this times that instead.
_LATENCY_PROBE = """(expected) => {
  window._qvTitle = null; window._qvPlot = null;
  const shown = () => {
    for (const element of document.querySelectorAll('.qv-light-curve-plot'))
      if (getComputedStyle(element).visibility === 'visible')
        for (const view of Bokeh.index.roots)
          if (element.contains(view.el)) return view.model.children[0].title.text;
    return null; };
  window.addEventListener('keydown', () => {
    const t0 = performance.now();
    const observer = new MutationObserver(() => {
      if (window._qvTitle === null) { window._qvTitle = performance.now() - t0; observer.disconnect(); } });
    observer.observe(document.querySelector('.qv-title-box'), {subtree: true, childList: true, characterData: true});
    const poll = () => {
      if ((shown() || '').includes(expected)) requestAnimationFrame(() => requestAnimationFrame(
          () => { window._qvPlot = performance.now() - t0; }));
      else if (performance.now() - t0 < 15000) requestAnimationFrame(poll); };
    requestAnimationFrame(poll);
  }, {capture: true, once: true});
}"""

VISIBLE_LIGHT_CURVE = ".qv-light-curve-plot:not(.qv-standby)"
VISIBLE_FOLD = ".qv-fold-plot:not(.qv-standby)"

# True once the light curve a user sees is the expected candidate's: one of the panel's two sets of figures is
# visible (computed style), not marked standby, has a non-zero size, and holds a BokehJS root that is laid out
# (non-zero size) with the candidate's name as a part of its title ("Light curve · TIC 1 · TESS · sector 1").
_LIGHT_CURVE_SHOWN = """(expected) => {
  const shown = [...document.querySelectorAll('.qv-light-curve-plot')].filter((element) => {
    const box = element.getBoundingClientRect();
    return getComputedStyle(element).visibility === 'visible' && box.width > 0 && box.height > 0; });
  if (shown.length !== 1 || shown[0].classList.contains('qv-standby') || typeof Bokeh === 'undefined') return false;
  for (const view of Bokeh.index.roots)
    if (shown[0].contains(view.el)) {
      const box = view.el.getBoundingClientRect();
      return box.width > 0 && box.height > 0 && view.model.children[0].title.text.split(' · ').includes(expected); }
  return false;
}"""

# Counts, from now on, the DOM states in which no light curve is visible (both sets of figures hidden) after a
# change of a figure widget's classes: what a user would see as a blank light curve and a collapsed layout if
# the browser drew then. Kept in window._qvNoLightCurve.
_NO_LIGHT_CURVE_PROBE = """() => {
  window._qvNoLightCurve = 0;
  const plots = () => [...document.querySelectorAll('.qv-light-curve-plot')];
  new MutationObserver(() => {
    if (plots().length === 2 && plots().every((element) => getComputedStyle(element).visibility !== 'visible'))
      window._qvNoLightCurve += 1;
  }).observe(document.querySelector('.qusi-vetting-panel'), {subtree: true, attributes: true,
                                                            attributeFilter: ['class']});
}"""


def hover_light_curve(page, candidate: str, timeout: float = 60_000) -> None:
    """Put the pointer over the light curve on screen (ipyevents listens to keys only then), once it shows
    ``candidate``'s light curve.

    The wait matters: the panel sends a new candidate's title before it swaps its two sets of figures, and
    ``Locator.hover`` keeps retrying the element it found first. Found before the swap, that is the set the
    swap hides, and the hover waited for it to become visible until it timed out (seen in loaded runs).
    """
    page.wait_for_function(_LIGHT_CURVE_SHOWN, arg=candidate, timeout=timeout)
    page.locator(VISIBLE_LIGHT_CURVE).hover()


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a damaged line would be a failure here
        return read_verdicts(path, latest=False).to_dict("records")


@pytest.fixture(scope="module")
def vetting_folder(tmp_path_factory):
    from qusi_lab.inference import infer, save_candidates
    from qusi_lab.models import Hadryss
    from qusi_lab.synthetic import make_sector
    from qusi_lab.training import save_bundle
    from qusi_lab.transforms import default_preprocessing

    folder = tmp_path_factory.mktemp("vetting_browser")
    sector = make_sector(folder / "data", n_stars=5, seed=2, num_workers=1)
    bundle = save_bundle(Hadryss(input_length=256), folder / "model", task="binary",
                         label_names=["negative", "positive"], preprocessing=default_preprocessing(256))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = infer(bundle, [str(path) for path in sector.paths], num_workers=0, progress=False)
    save_candidates(table, folder / "candidates.csv")
    return folder, table.sort_values("score", ascending=False).reset_index(drop=True)


@contextlib.contextmanager
def _server(command: list[str], folder: Path, port: int, environment: dict[str, str]):
    """Run a Jupyter server (Voila or JupyterLab) in its own process group; stop it and its kernels after."""
    log = open(folder / "server.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(command, cwd=folder, env=environment, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        _wait_for_port(port, process, timeout=40)
        yield process
    finally:
        # The server's own process group (started above); its kernels run in sessions of their own and
        # exit when their parent does (JPY_PARENT_PID).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _vetting_environment(folder: Path) -> dict[str, str]:
    return dict(os.environ, QUSI_VETTING_DIR=str(folder), JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
                JUPYTERLAB_WORKSPACES_DIR=str(folder / "workspaces"), PYTHONWARNINGS="ignore")


def _server_folder(vetting_folder, name: str) -> Path:
    """A folder of its own (its own labels.csv) holding a copy of the candidate table."""
    source, _ = vetting_folder
    folder = source / name
    folder.mkdir()
    for file_name in ("candidates.csv", "candidates.meta.json"):
        shutil.copy(source / file_name, folder / file_name)
    return folder


@pytest.fixture(scope="module")
def voila_url(vetting_folder):
    voila = _require_browser_tools()
    folder = _server_folder(vetting_folder, "voila")
    port = _free_port()
    command = [voila, str(NOTEBOOK), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
               "--ServerApp.port_retries=0", "--VoilaConfiguration.show_tracebacks=True"]
    with _server(command, folder, port, _vetting_environment(folder)):
        yield f"http://127.0.0.1:{port}/", folder


@contextlib.contextmanager
def _jupyter_url(vetting_folder, executable: str, what: str, page: str, *options: str):
    """A JupyterLab-like server (``jupyter-lab``, ``jupyter-notebook``) on loopback with a token, serving a copy of
    the notebook in a folder of its own; yields the page's URL and the folder."""
    _require_browser_tools()
    program = Path(sys.executable).with_name(executable)
    if not program.exists():
        pytest.skip(f"BROWSER TEST SKIPPED: {what} is not installed in this environment")
    folder = _server_folder(vetting_folder, executable)
    shutil.copy(NOTEBOOK, folder / NOTEBOOK.name)
    port = _free_port()
    token = "qusi-vetting-test"
    command = [str(program), "--allow-root", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
               *options]
    with _server(command, folder, port, _vetting_environment(folder)):
        yield f"http://127.0.0.1:{port}/{page}/{NOTEBOOK.name}?token={token}", folder


@pytest.fixture(scope="module")
def lab_url(vetting_folder):
    with _jupyter_url(vetting_folder, "jupyter-lab", "jupyterlab", "lab/tree",
                      "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                      "--LabApp.news_url=None") as served:
        yield served


@pytest.fixture(scope="module")
def notebook_url(vetting_folder):
    with _jupyter_url(vetting_folder, "jupyter-notebook", "notebook (Jupyter Notebook 7)", "notebooks",
                      "--JupyterNotebookApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate") as served:
        yield served


def test_vetting_in_voila(voila_url, vetting_folder):
    from playwright.sync_api import sync_playwright

    url, folder = voila_url
    _, ranked = vetting_folder
    labels = folder / "labels.csv"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1240, "height": 1000})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            sent: list[str] = []  # what the page sends to the kernel
            page.on("websocket", lambda socket: socket.on(
                "framesent", lambda payload: sent.append(payload if isinstance(payload, str) else
                                                         payload.decode("latin-1"))))
            page.goto(url, timeout=60_000)
            # Rendered: the widgets and BokehJS's canvas inside the embedded figures.
            page.wait_for_selector(".qusi-vetting-panel", timeout=60_000)
            page.wait_for_selector(f"{VISIBLE_LIGHT_CURVE} canvas", timeout=30_000)
            page.wait_for_selector(f"{VISIBLE_FOLD} canvas", timeout=30_000)
            title = page.locator(".qv-title")
            first, second, third = ranked.target_id.iloc[:3]
            assert title.inner_text().startswith(first)
            page.wait_for_timeout(500)  # let Bokeh finish its first paint before the screenshot

            # 1. Type a note (digits in it must not count as verdicts), click a verdict button: both reach
            # Python and are written to disk.
            page.locator(".qv-note input").click()
            page.keyboard.type("2 transits, U-shaped")
            page.wait_for_timeout(300)
            page.evaluate(_NO_LIGHT_CURVE_PROBE)
            page.locator(".qv-verdict-1").click()
            records = _wait_for(lambda: _records(labels), 20, "the clicked verdict in the labels file")
            assert [(r["target_id"], r["verdict"], r["action"], r["note"]) for r in records] == [
                (first, "planet candidate", "verdict", "2 transits, U-shaped")]
            _wait_for(lambda: title.inner_text().startswith(second), 20, "auto-advance to the second candidate")

            # 2. Keys, with the pointer over the panel (ipyevents listens only then): over the light curve,
            # whose place does not move when the text below changes length.
            hover_light_curve(page, second)
            page.keyboard.press("2")
            records = _wait_for(lambda: len(_records(labels)) == 2 and _records(labels), 10,
                                "the verdict given with key 2")
            assert (records[1]["target_id"], records[1]["verdict"]) == (second, "eclipsing binary")
            _wait_for(lambda: title.inner_text().startswith(third), 20, "auto-advance to the third candidate")
            page.keyboard.press("u")
            records = _wait_for(lambda: len(_records(labels)) == 3 and _records(labels), 20, "the undo record")
            assert (records[2]["target_id"], records[2]["action"], records[2]["verdict"]) == (second, "undo", "")
            _wait_for(lambda: title.inner_text().startswith(second), 20, "undo going back to its candidate")

            # 3. Next candidate by key, timed inside the page: key press -> new title in the DOM, and -> the
            # light curve's data replaced in BokehJS and two frames drawn.
            page.wait_for_timeout(1500)  # the next candidate preloaded, as when a person looks at this one
            page.evaluate(_LATENCY_PROBE, third)
            sent.clear()
            page.keyboard.press("j")
            _wait_for(lambda: title.inner_text().startswith(third), 20, "j moving to the next candidate")
            latency = _wait_for(lambda: page.evaluate("() => window._qvPlot && window._qvTitle ? "
                                                      "[window._qvTitle, window._qvPlot] : null"), 20,
                                "the light curve redrawn")
            # The page does not send the candidate's data back to the kernel (jupyter_bokeh echoes every
            # change it applies; the panel's figures send only changes made in the page).
            echoed = [frame for frame in sent if '"attr":"data"' in frame]
            assert sent and not echoed, f"{len(echoed)} of {len(sent)} messages echo figure data"
            page.keyboard.press("k")
            _wait_for(lambda: title.inner_text().startswith(second), 20, "k moving back")
            page.wait_for_timeout(400)
            page.screenshot(path=str(ARTIFACTS / "vetting_panel.png"), full_page=True)
            # Five candidate changes, most of them swaps of the two sets of figures: never both hidden between
            # two of a swap's messages.
            assert page.evaluate("() => window._qvNoLightCurve") == 0
            print(f"\nbrowser: key 'j' -> next title in {latency[0]:.0f} ms, light curve redrawn in {latency[1]:.0f} ms "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            assert "1 of 5 vetted" in page.locator(".qv-progress").inner_text()
            bokeh_errors = [error for error in errors if "bokeh" in error.lower() or "require" in error]
            assert not bokeh_errors, bokeh_errors
        except BaseException:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / "vetting_panel_failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def _active_cell(page) -> int:
    return int(page.evaluate(
        "() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].findIndex(c => c.classList.contains('jp-mod-active'))"))


def run_all_cells(page) -> None:
    """Run > Run All Cells in JupyterLab or Notebook 7, clicked again when the page lost the click (a click that
    came before the page wired its menu is lost, seen in Notebook 7)."""
    started = "() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].some(p => /[*0-9]/.test(p.textContent))"
    for attempt in range(3):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        try:
            page.wait_for_function(started, timeout=15_000)
            return
        except Exception:
            if attempt == 2:
                raise
            page.keyboard.press("Escape")


def _run_all_and_give_first_verdict(page, ranked, labels: Path, button: str, verdict: str):
    """In JupyterLab or Notebook 7: Run > Run All Cells, wait for the panel at the first candidate, click verdict
    button ``button`` and check it reached the labels file and the panel moved on. Returns the title locator."""
    run_all_cells(page)
    page.wait_for_selector(".qusi-vetting-panel", timeout=90_000)
    page.wait_for_selector(f"{VISIBLE_LIGHT_CURVE} canvas", timeout=30_000)
    title = page.locator(".qv-title")
    first, second = ranked.target_id.iloc[:2]
    _wait_for(lambda: title.inner_text().startswith(first), 20, "the first candidate")
    page.locator(f".qv-verdict-{button}").click()
    records = _wait_for(lambda: _records(labels), 20, "the clicked verdict in the labels file")
    assert [(r["target_id"], r["verdict"]) for r in records] == [(first, verdict)]
    _wait_for(lambda: title.inner_text().startswith(second), 20, "auto-advance")
    return title


def test_vetting_in_jupyterlab(lab_url, vetting_folder):
    """The same panel in JupyterLab; its keys must not also act on the notebook (j/k move the active cell there)."""
    from playwright.sync_api import sync_playwright

    url, folder = lab_url
    _, ranked = vetting_folder
    labels = folder / "labels.csv"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1150})
            page.goto(url, timeout=60_000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
            title = _run_all_and_give_first_verdict(page, ranked, labels, "2", "eclipsing binary")
            first, second, third = ranked.target_id.iloc[:3]

            # The panel's top at the notebook's top, as a user scrolls to it.
            page.evaluate("() => document.querySelector('.qusi-vetting-panel').scrollIntoView({block: 'start'})")
            hover_light_curve(page, second)
            active = _active_cell(page)
            page.keyboard.press("u")
            records = _wait_for(lambda: len(_records(labels)) == 2 and _records(labels), 20, "the undo record")
            assert (records[1]["target_id"], records[1]["action"]) == (first, "undo")
            _wait_for(lambda: title.inner_text().startswith(first), 20, "undo going back")
            page.keyboard.press("3")
            records = _wait_for(lambda: len(_records(labels)) == 3 and _records(labels), 20, "key 3")
            assert (records[2]["target_id"], records[2]["verdict"]) == (first, "heartbeat star")
            _wait_for(lambda: title.inner_text().startswith(second), 20, "auto-advance after key 3")
            page.keyboard.press("j")
            _wait_for(lambda: title.inner_text().startswith(third), 20, "j moving to the next candidate")
            page.wait_for_timeout(300)
            assert _active_cell(page) == active  # the notebook did not also move its cursor

            for button in page.get_by_role("button", name="No").all():  # the "Jupyter news?" toast
                with contextlib.suppress(Exception):
                    button.click(timeout=1000)
            page.locator(".qusi-vetting-panel").scroll_into_view_if_needed()
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "vetting_panel_jupyterlab.png"))
            # Control: with the pointer off the panel and a cell focused, j reaches the notebook (its cursor
            # moves) and not the panel: so the check above could have failed.
            page.locator(".jp-Notebook .jp-CodeCell .jp-InputArea-editor").first.click()
            page.keyboard.press("Escape")
            before = _active_cell(page)
            page.keyboard.press("j")
            _wait_for(lambda: _active_cell(page) == before + 1, 20, "j moving the notebook's cursor")
            page.wait_for_timeout(500)
            assert title.inner_text().startswith(third) and len(_records(labels)) == 3
        except BaseException:
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(ARTIFACTS / "vetting_panel_jupyterlab_failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def test_vetting_in_jupyter_notebook_7(notebook_url, vetting_folder):
    """The same panel in Jupyter Notebook 7: run the notebook from its menu, then a click and keys reach the
    verdict file, and the figure swapped in on `j` is the next candidate's."""
    from playwright.sync_api import sync_playwright

    url, folder = notebook_url
    _, ranked = vetting_folder
    labels = folder / "labels.csv"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1150})
            page.goto(url, timeout=60_000)
            page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
            # Run All only once the kernel is up: on a loaded machine a click before that was lost.
            page.wait_for_selector('.jp-Notebook-ExecutionIndicator[data-status="idle"]', timeout=90_000)
            title = _run_all_and_give_first_verdict(page, ranked, labels, "4", "variable")
            _, second, third = ranked.target_id.iloc[:3]

            # After Run All, Notebook 7 focuses its footer ("Click to add a cell") and scrolls it into view at the
            # next key press: from the end of the notebook, so that the light curve stays under the pointer (the
            # compact panel is short; a tall one used to leave another part of it under the pointer).
            page.evaluate("() => { for (const outer of document.querySelectorAll('.jp-WindowedPanel-outer')) "
                          "outer.scrollTop = outer.scrollHeight; }")
            page.wait_for_timeout(300)
            hover_light_curve(page, second)
            active = _active_cell(page)
            page.wait_for_timeout(1500)  # time to draw the next candidate ahead
            page.evaluate(_LATENCY_PROBE, third)
            page.keyboard.press("j")
            _wait_for(lambda: title.inner_text().startswith(third), 20, "j moving to the next candidate")
            _wait_for(lambda: page.evaluate("() => window._qvPlot"), 20, "the next light curve on screen")
            page.keyboard.press("5")
            records = _wait_for(lambda: len(_records(labels)) == 2 and _records(labels), 20, "key 5")
            assert (records[1]["target_id"], records[1]["verdict"]) == (third, "systematic")
            page.wait_for_timeout(300)
            assert _active_cell(page) == active  # the notebook did not also move its cursor
            page.locator(".qusi-vetting-panel").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "vetting_panel_notebook7.png"))
        except BaseException:
            if page is not None:
                with contextlib.suppress(Exception):
                    page.screenshot(path=str(ARTIFACTS / "vetting_panel_notebook7_failure.png"), full_page=True)
            raise
        finally:
            browser.close()
