"""Issue 4's "done means", in a real browser, on the real tutorial notebook.

"A user who opens the vetting tutorial vets 20 candidates with the keyboard alone, closes the
notebook, reopens it, and finds all 20 verdicts and the queue at the 21st."

``tutorials/01_basic_transit_identification.ipynb`` (the tutorial that ends in the vetting panel)
is copied into a temporary folder and served by Voila with ``QUSI_LAB_QUICK=1``: the whole notebook
runs (synthetic sector, training, ranking a new 40-star sector) and shows ``ql.VettingPanel`` on
its candidate table. (Tutorial 07 cannot be used for this: it deletes its data folder, verdicts
included, every time it runs, and a stand-in vetter writes into the same verdict file.)

In Chromium (Playwright): the pointer over the panel, 20 digit keys, no click; after each, the
verdict is in the file and the panel shows the next candidate. Then the page is closed and the
Voila server stopped (kernel and all), a new server started and the page opened again: the notebook
runs again from the top in a fresh kernel, and the panel must show the 21st candidate with
"20 of N vetted", the file still holding exactly the 20 verdicts.

Same requirements as ``test_vetting_browser.py`` (Debian's ``/usr/bin/chromium``, ``playwright``,
``voila``, ``ipyevents``); skipped, loudly, without them. Takes ~1.5 minutes (the notebook runs twice).
"""

from __future__ import annotations

import os
import shutil
import statistics
import time

import pytest
from test_vetting_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    _free_port,
    _records,
    _require_browser_tools,
    _server,
    _wait_for,
    hover_light_curve,
)

pytestmark = pytest.mark.slow

TUTORIAL = REPO / "tutorials" / "01_basic_transit_identification.ipynb"
DATA = "_data/01_basic_transit_identification"
N_VETTED = 20

# Every keydown from now on: its time, and the time the panel's title shows another name. Kept in
# window._qvKeys as [key, milliseconds to the new title or null].
_TITLE_PROBE = """() => {
  window._qvKeys = [];
  const box = document.querySelector('.qv-title-box');
  const name = () => { const title = box.querySelector('.qv-title'); return title ? title.textContent : ''; };
  let pending = null;
  window.addEventListener('keydown', (event) => {
    pending = {t0: performance.now(), before: name(), entry: [event.key, null]};
    window._qvKeys.push(pending.entry);
  }, {capture: true});
  new MutationObserver(() => {
    if (pending && name() !== pending.before) { pending.entry[1] = performance.now() - pending.t0; pending = null; }
  }).observe(box, {subtree: true, childList: true, characterData: true});
}"""


def _voila(folder, notebook):
    voila = _require_browser_tools()
    port = _free_port()
    command = [voila, str(notebook), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
               "--ServerApp.port_retries=0", "--VoilaConfiguration.show_tracebacks=True"]
    environment = dict(os.environ, QUSI_LAB_QUICK="1", JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
                       PYTHONWARNINGS="ignore", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return _server(command, folder, port, environment), f"http://127.0.0.1:{port}/"


def _open_panel(browser, url, errors):
    """A new page on the Voila URL (a fresh kernel runs the whole notebook), once the panel is drawn."""
    page = browser.new_page(viewport={"width": 1240, "height": 1000})
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="commit", timeout=60_000)
    page.wait_for_selector(".qusi-vetting-panel", timeout=240_000)  # after every cell above it has run
    page.wait_for_selector(".qv-light-curve-plot:not(.qv-standby) canvas", timeout=60_000)
    page.wait_for_selector(".qv-fold-plot:not(.qv-standby) canvas", timeout=60_000)
    return page


def _queue_order(candidates, empty_labels) -> list[str]:
    """Target ids in the panel's queue order (CandidateQueue's own sort, on an empty verdict file)."""
    from qusi_lab.vetting import CandidateQueue

    queue = CandidateQueue(candidates, empty_labels)
    return [queue.candidate_at(position).target_id for position in range(queue.total)]


def test_vet_20_by_keyboard_close_reopen_and_resume(tmp_path):
    from playwright.sync_api import sync_playwright

    from qusi_lab.vetting import DEFAULT_VERDICTS

    _require_browser_tools()
    started = time.monotonic()
    folder = tmp_path / "tutorial"
    folder.mkdir()
    notebook = shutil.copy(TUTORIAL, folder / TUTORIAL.name)
    data = folder / DATA
    labels = folder / "verdicts" / "01_basic_transit_identification.csv"  # kept apart from DATA (issue 12)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    keys = [str(number % 6 + 1) for number in range(N_VETTED)]  # 1..6: every verdict button's key
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = None
        try:
            # ---- session 1: open the tutorial, vet 20 candidates with the keyboard
            server, url = _voila(folder, notebook)
            with server:
                page = _open_panel(browser, url, errors)
                first_load = time.monotonic() - started
                order = _queue_order(data / "candidates.csv", tmp_path / "order-1.csv")
                ranking_before = (data / "candidates.csv").read_bytes()
                assert len(order) >= N_VETTED + 1, f"the tutorial's panel has only {len(order)} candidates"
                assert not labels.exists() or not _records(labels)
                title = page.locator(".qv-title")
                progress = page.locator(".qv-progress")
                _wait_for(lambda: title.inner_text().startswith(order[0]), 30, "the best candidate first")
                assert progress.inner_text().strip() == f"0 of {len(order)} vetted"
                page.evaluate(_TITLE_PROBE)
                hover_light_curve(page, order[0])  # ipyevents listens while the pointer is here
                round_trips = []
                for number, key in enumerate(keys):
                    pressed = time.monotonic()
                    page.keyboard.press(key)
                    records = _wait_for(lambda n=number: len(_records(labels)) == n + 1 and _records(labels), 20,
                                        f"verdict {number + 1} (key {key}) in the labels file")
                    assert (records[-1]["target_id"], records[-1]["verdict"], records[-1]["action"]) == (
                        order[number], DEFAULT_VERDICTS[int(key) - 1], "verdict")
                    _wait_for(lambda n=number: title.inner_text().startswith(order[n + 1]), 20,
                              f"the panel moving on to candidate {number + 2}")
                    round_trips.append(time.monotonic() - pressed)
                _wait_for(lambda: progress.inner_text().strip() == f"{N_VETTED} of {len(order)} vetted", 10,
                          "the progress text")
                in_page = page.evaluate("() => window._qvKeys")
                page.locator(".qusi-vetting-panel").screenshot(
                    path=str(ARTIFACTS / "vetting_tutorial_before_closing.png"))
                page.close()
                page = None
            vetting_done = time.monotonic() - started

            # ---- closed: server and kernel gone. What is on disk?
            records = _records(labels)
            assert len(records) == N_VETTED
            assert [record["action"] for record in records] == ["verdict"] * N_VETTED
            assert [record["target_id"] for record in records] == order[:N_VETTED]
            assert len({record["target_id"] for record in records}) == N_VETTED
            assert [record["verdict"] for record in records] == [DEFAULT_VERDICTS[int(key) - 1] for key in keys]

            # ---- session 2: a new server, a new page, a fresh kernel running the notebook from the top
            server, url = _voila(folder, notebook)
            with server:
                page = _open_panel(browser, url, errors)
                # The rerun rebuilt the data, the model and the ranking from the same seeds: the same queue
                # (training with the same seed must give the same weights, however fast the machine is).
                again = _queue_order(data / "candidates.csv", tmp_path / "order-2.csv")
                assert (data / "candidates.csv").read_bytes() == ranking_before or again == order, (
                    "rerunning the tutorial ranked the candidates differently (the training is not "
                    f"reproducible): first {order[:N_VETTED + 1]}, then {again[:N_VETTED + 1]}")
                title = page.locator(".qv-title")
                _wait_for(lambda: title.inner_text().startswith(order[N_VETTED]), 30,
                          f"the reopened panel at candidate {N_VETTED + 1} ({order[N_VETTED]})")
                progress_text = page.locator(".qv-progress").inner_text().strip()
                assert progress_text == f"{N_VETTED} of {len(order)} vetted", progress_text
                page.wait_for_timeout(500)
                page.locator(".qusi-vetting-panel").screenshot(path=str(ARTIFACTS / "vetting_tutorial_reopened.png"))
                records = _records(labels)  # the rerun wrote nothing, lost nothing
                assert len(records) == N_VETTED and {r["target_id"] for r in records} == set(order[:N_VETTED])
                page.close()
                page = None
        except BaseException:
            if page is not None:
                page.screenshot(path=str(ARTIFACTS / "vetting_tutorial_failure.png"), full_page=True)
            raise
        finally:
            browser.close()

    latencies = [entry[1] for entry in in_page if entry[1] is not None]
    assert len(in_page) == N_VETTED and len(latencies) == N_VETTED, in_page
    bokeh_errors = [error for error in errors if "bokeh" in error.lower() or "require" in error]
    assert not bokeh_errors, bokeh_errors
    print(f"\ntutorial 01 in Voila: first page with the panel after {first_load:.0f} s; {N_VETTED} keys in "
          f"{sum(round_trips):.1f} s; key -> next candidate's title in the page: median "
          f"{statistics.median(latencies):.0f} ms (max {max(latencies):.0f} ms); key -> verdict on disk and new "
          f"title seen by the test: median {1000 * statistics.median(round_trips):.0f} ms; closed and reopened: "
          f"{time.monotonic() - started - vetting_done:.0f} s; whole test {time.monotonic() - started:.0f} s "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
