"""Benchmark: the next candidate of the vetting panel in a real browser, drawn ahead vs drawn when shown.

Command (from the repository root; needs ``/usr/bin/chromium``, ``playwright`` and ``voila``)::

    .venv/bin/python benchmarks/bench_vetting_browser.py            # 100,000 candidates, 6 presses per mode
    .venv/bin/python benchmarks/bench_vetting_browser.py --presses 10 --think 2 --candidates 1000

Writes a small synthetic TESS sector (8 real-size SPOC files, ~18,800 two-minute cadences each), a
model bundle and a table of 100,000 candidates (``--candidates``; each row its own target id, random
score and path, a symbolic link to one of the 8 files), then opens ``tests/notebooks/vetting_panel.ipynb`` in Voila on
loopback, twice in the same run: with the panel's defaults (``draw_ahead=True``: the next candidate is
drawn into hidden figures while the user looks at this one) and, as the baseline, with
``draw_ahead=False`` (every candidate drawn when shown, the panel's only mode before draw-ahead). In headless Chromium
(Debian's, no GPU) it hovers the light curve, waits ``--think`` seconds on each candidate, presses
``j`` and times inside the page, from the keydown:

* **title**: the panel's title showing the next target (a DOM change);
* **light curve**: the light-curve figure on screen being the next target's (its Bokeh title names
  it), plus two animation frames (drawn and composited).

Prints a markdown table with medians, maxima and the ratio of the two modes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

from _common import ROOT, make_bundle

sys.path.insert(0, str(ROOT / "tests"))  # the browser helpers of tests/test_vetting_browser.py


def make_folder(folder: Path, n_stars: int, n_candidates: int) -> list[str]:
    """A synthetic sector, an (untrained) bundle and a candidate table of ``n_candidates`` rows; the targets
    in queue order. Beyond ``n_stars`` rows, each row gets its own target id, a random score and its own
    path: a symbolic link to one of the sector's files (so every row is a distinct candidate to the panel)."""
    import numpy as np

    from qusi_lab.inference import infer, save_candidates
    from qusi_lab.synthetic import make_sector

    sector = make_sector(folder / "data", n_stars=n_stars, seed=2, n_workers=1)
    bundle = make_bundle(folder, 256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = infer(bundle, [str(path) for path in sector.paths], num_workers=0, progress=False)
    if n_candidates > len(table):
        rng = np.random.default_rng(0)
        links = folder / "links"
        links.mkdir()
        rows = np.arange(n_candidates) % len(table)
        paths = []
        for index, row in enumerate(rows):
            link = links / f"{index:06d}_{Path(table.path.iloc[row]).name}"
            link.symlink_to(table.path.iloc[row])
            paths.append(str(link))
        attrs = dict(table.attrs)
        table = table.iloc[rows].reset_index(drop=True)
        table.attrs = attrs
        table["path"] = paths
        table["target_id"] = [f"TIC {300_000_000 + index}" for index in range(n_candidates)]
        table["score"] = rng.uniform(0.0, 1.0, n_candidates)
    save_candidates(table, folder / "candidates.csv")
    return [str(target) for target in table.sort_values("score", ascending=False).target_id]


def measure(folder: Path, targets: list[str], *, draw_ahead: bool, presses: int, think: float) -> list[list[float]]:
    """[title ms, light curve ms] for each ``j`` press, in a fresh Voila server and page."""
    import test_vetting_browser as helpers
    from playwright.sync_api import sync_playwright

    run = folder / ("ahead" if draw_ahead else "baseline")
    run.mkdir()
    for name in ("candidates.csv", "candidates.meta.json"):
        (run / name).write_bytes((folder / name).read_bytes())
    port = helpers._free_port()
    command = [helpers._voila_executable() or "voila", str(helpers.NOTEBOOK), "--no-browser", f"--port={port}",
               "--Voila.ip=127.0.0.1", "--ServerApp.port_retries=0"]
    environment = dict(helpers._vetting_environment(run), QUSI_VETTING_DRAW_AHEAD="1" if draw_ahead else "0")
    times = []
    with helpers._server(command, run, port, environment), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(helpers.CHROMIUM), headless=True,
                                             args=helpers.CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1240, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            page.wait_for_selector(f"{helpers.VISIBLE_LIGHT_CURVE} canvas", timeout=60_000)
            page.locator(helpers.VISIBLE_LIGHT_CURVE).hover()
            for index in range(presses):
                page.wait_for_timeout(think * 1000)
                page.evaluate(helpers._LATENCY_PROBE, targets[index + 1])
                page.keyboard.press("j")
                times.append(helpers._wait_for(lambda: page.evaluate(
                    "() => window._qvPlot && window._qvTitle ? [window._qvTitle, window._qvPlot] : null"), 30,
                    f"candidate {index + 2} on screen"))
        finally:
            browser.close()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=6, help="j presses timed per mode")
    parser.add_argument("--think", type=float, default=1.5, help="seconds spent on each candidate before j")
    parser.add_argument("--candidates", type=int, default=100_000, help="rows in the candidate table")
    arguments = parser.parse_args()
    if not os.path.exists("/usr/bin/chromium"):
        print("bench_vetting_browser: needs /usr/bin/chromium (apt-get install chromium)")
        return 1
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        targets = make_folder(folder, n_stars=8, n_candidates=arguments.candidates)
        results = {mode: measure(folder, targets, draw_ahead=mode == "ahead", presses=arguments.presses,
                                 think=arguments.think)
                   for mode in ("baseline", "ahead")}
    print(f"Voila, headless Chromium without GPU, {os.cpu_count()} cores; a queue of {arguments.candidates:,} "
          f"candidates over 8 real-size SPOC files; {arguments.presses} presses of `j` per "
          f"mode, {arguments.think:g} s on each candidate; load average {os.getloadavg()[0]:.1f} at the end.\n")
    print("| panel | title median ms | light curve median ms | light curve max ms |")
    print("|---|---:|---:|---:|")
    labels = {"baseline": "`draw_ahead=False` (drawn when shown; baseline)", "ahead": "default (drawn ahead, swapped)"}
    medians = {}
    for mode, times in results.items():
        titles, plots = [t for t, _ in times], [p for _, p in times]
        medians[mode] = statistics.median(plots)
        print(f"| {labels[mode]} | {statistics.median(titles):.0f} | {medians[mode]:.0f} | {max(plots):.0f} |")
    print(f"\nLight curve on screen {medians['baseline'] / medians['ahead']:.1f}x sooner when drawn ahead; "
          f"median {medians['ahead']:.0f} ms against the 150 ms budget.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
