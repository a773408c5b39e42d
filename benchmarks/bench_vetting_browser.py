"""Benchmark: the next candidate of the vetting panel in a real browser (Voila and JupyterLab), drawn ahead or not.

Command (from the repository root; needs ``/usr/bin/chromium``, ``playwright``, ``voila`` and ``jupyterlab``)::

    .venv/bin/python benchmarks/bench_vetting_browser.py            # 100,000 candidates, 10 presses per mode
    .venv/bin/python benchmarks/bench_vetting_browser.py --candidates 1000 --think 0.3 --details
    .venv/bin/python benchmarks/bench_vetting_browser.py --servers lab --modes before,ahead --chrome-trace

Writes a small synthetic TESS sector (8 real-size SPOC files, ~18,800 two-minute cadences each), a
model bundle and a table of 100,000 candidates (``--candidates``; each row its own target id, random
score and path, a symbolic link to one of the 8 files), then opens ``tests/notebooks/vetting_panel.ipynb``
(plus a cell that logs the kernel's side of each candidate change) on loopback in Voila and in JupyterLab
(``--servers``; JupyterLab headless with a token, the notebook run from its Run menu), each in three modes
(``--modes``): ``baseline`` (``draw_ahead=False``: every candidate drawn when shown), ``before`` (drawn ahead,
but 0.4 s after a swap as after a redraw: the panel before 2026-12-05) and ``ahead`` (the panel's default).
In headless Chromium (Debian's, no GPU, 1440 x 900) it hovers the light curve, waits ``--think`` seconds on
each candidate, presses ``j`` (``--key``) and times inside the page, from the key's time stamp:

* **title**: the panel's title showing the next target (a DOM change);
* **light curve**: the light-curve figure on screen being the next target's (its Bokeh title names
  it), plus two animation frames (drawn and composited).

Prints a markdown table per server and mode: medians, p90, maxima, odd and even presses apart, how many
presses swapped in the figures drawn ahead, the bytes received and the page's long tasks between key and
screen; ``--details``: a row per press with the kernel's side; ``--chrome-trace``: the page's main-thread
work by kind (Chrome tracing).
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


def make_folder(folder: Path, n_stars: int, n_candidates: int, input_length: int = 256) -> list[str]:
    """A synthetic sector, an (untrained) bundle and a candidate table of ``n_candidates`` rows; the targets
    in queue order. Beyond ``n_stars`` rows, each row gets its own target id, a random score and its own
    path: a symbolic link to one of the sector's files (so every row is a distinct candidate to the panel)."""
    import numpy as np

    from qusi_lab.inference import infer, save_candidates
    from qusi_lab.synthetic import make_sector

    sector = make_sector(folder / "data", n_stars=n_stars, seed=2, num_workers=1)
    bundle = make_bundle(folder, input_length)
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


# Times one key press inside the page (as tests/test_vetting_browser.py's _LATENCY_PROBE), and says how the next
# candidate got on screen: which of the panel's two light-curve widgets was visible before the key and after
# (another one: the figures drawn ahead were swapped in; the same one: redrawn on screen), and the main
# thread's long tasks (> 50 ms) between the keydown and the light curve on screen.
_PROBE = """(expected) => {
  window._qvResult = null;
  const plots = () => [...document.querySelectorAll('.qv-light-curve-plot')];
  const visible = () => plots().findIndex(e => getComputedStyle(e).visibility === 'visible');
  const shown = () => {
    for (const element of plots())
      if (getComputedStyle(element).visibility === 'visible')
        for (const view of Bokeh.index.roots)
          if (element.contains(view.el)) return view.model.children[0].title.text;
    return null; };
  const before = visible();
  window.addEventListener('keydown', (event) => {
    // From the key's own time stamp: a page busy drawing when the key comes delays the listener too.
    const t0 = event.timeStamp;
    const result = {title: null, plot: null, before: before, after: null, long_tasks: 0,
                    dispatch: performance.now() - t0, epoch: performance.timeOrigin + t0};
    let tasks = null;
    try {
      tasks = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) if (entry.startTime + entry.duration >= t0) result.long_tasks += entry.duration; });
      tasks.observe({type: 'longtask'});
    } catch (error) { tasks = null; }
    const observer = new MutationObserver(() => {
      if (result.title === null) { result.title = performance.now() - t0; observer.disconnect(); } });
    observer.observe(document.querySelector('.qv-title-box'), {subtree: true, childList: true, characterData: true});
    const poll = () => {
      if ((shown() || '').includes(expected)) {
        result.after = visible();
        requestAnimationFrame(() => requestAnimationFrame(() => {
          result.plot = performance.now() - t0;
          if (tasks) { for (const entry of tasks.takeRecords()) if (entry.startTime + entry.duration >= t0) result.long_tasks += entry.duration;
                       tasks.disconnect(); }
          console.timeStamp('qv-shown');  // the end of the press in a Chrome trace (--chrome-trace)
          window._qvResult = result; }));
      } else if (performance.now() - t0 < 15000) requestAnimationFrame(poll); };
    requestAnimationFrame(poll);
  }, {capture: true, once: true});
}"""


# Appended to the benchmark's copy of the notebook: the kernel's side of each candidate change and of each
# drawing ahead, one JSON line each (epoch seconds, comparable with the page's clock on the same machine).
_TRACE_CELL = """import functools, json, time

_trace = open(directory / "kernel-trace.jsonl", "a", buffering=1)


def _traced(name, method):
    @functools.wraps(method)
    def traced(*args, **kwargs):
        started = time.time()
        try:
            return method(*args, **kwargs)
        finally:
            _trace.write(json.dumps({"what": name, "start": started, "end": time.time(), "front": panel._front,
                                     "timings": dict(panel.timings) if name == "show" else {}}) + "\\n")
    return traced


panel._show_current = _traced("show", panel._show_current)
panel.prepare_next = _traced("prepare_next", panel.prepare_next)

# The "before" mode: the drawing ahead waits as long after a swap as after a redraw (the panel before 2026-12-05).
if os.environ.get("QUSI_BENCH_SWAPPED_STANDBY_DELAY"):
    import qusi_lab.vetting._panel_figures as _figures

    _figures.SWAPPED_STANDBY_DELAY = float(os.environ["QUSI_BENCH_SWAPPED_STANDBY_DELAY"])
"""


def _write_notebook(helpers, run: Path) -> Path:
    """The browser test's notebook with :data:`_TRACE_CELL` appended, in ``run``."""
    import json

    notebook = json.loads(helpers.NOTEBOOK.read_text())
    notebook["cells"].append({"cell_type": "code", "execution_count": None, "id": "qusi-bench-trace", "metadata": {},
                              "outputs": [], "source": _TRACE_CELL.splitlines(keepends=True)})
    path = run / helpers.NOTEBOOK.name
    path.write_text(json.dumps(notebook, indent=1))
    return path


def _start_lab(helpers, run: Path, port: int, environment: dict[str, str]):
    """JupyterLab on loopback with a token, serving ``run`` (the notebook copied in); (server context, URL)."""
    program = Path(sys.executable).with_name("jupyter-lab")
    token = "qusi-vetting-bench"
    command = [str(program), "--allow-root", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={run}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None"]
    url = f"http://127.0.0.1:{port}/lab/tree/{helpers.NOTEBOOK.name}?token={token}"
    return helpers._server(command, run, port, environment), url


def _run_all_in_lab(page) -> None:
    """Run > Run All Cells in JupyterLab (retried: a click before the menu is wired is lost)."""
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=90_000)
    started = ("() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]"
               ".some(p => /[*0-9]/.test(p.textContent))")
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


def _main_thread_breakdown(trace: bytes) -> dict[str, float]:
    """Self time (ms) of each kind of the page's main-thread work in a Chrome trace, summed over the presses
    (each from the keydown's dispatch to the probe's ``qv-shown``)."""
    import json

    events = json.loads(trace)
    events = events["traceEvents"] if isinstance(events, dict) else events
    main = {(e["pid"], e["tid"]) for e in events if e.get("ph") == "M" and e.get("name") == "thread_name"
            and e.get("args", {}).get("name") == "CrRendererMain"}
    starts = sorted(e["ts"] for e in events if e.get("name") == "EventDispatch"
                    and e.get("args", {}).get("data", {}).get("type") == "keydown")
    ends = sorted(e["ts"] for e in events if e.get("name") == "TimeStamp"
                  and e.get("args", {}).get("data", {}).get("message") == "qv-shown")
    windows = [(start, min((end for end in ends if end > start), default=start)) for start in starts]
    totals: dict[str, float] = {}

    def close(stack: list[list], until: float) -> None:
        while stack and stack[-1][0] <= until:
            _, name, own, begin = stack.pop()
            if any(start <= begin < stop for start, stop in windows):
                totals[name] = totals.get(name, 0.0) + own / 1000

    for thread in main:
        spans = sorted((e for e in events if (e.get("pid"), e.get("tid")) == thread and e.get("ph") == "X"
                        and "dur" in e), key=lambda e: (e["ts"], -e["dur"]))
        stack: list[list] = []  # [end, name, self µs, start] of the events open at this point
        for event in spans:
            close(stack, event["ts"])
            if stack:
                stack[-1][2] -= event["dur"]
            stack.append([event["ts"] + event["dur"], event["name"], event["dur"], event["ts"]])
        close(stack, float("inf"))
    return totals


def measure(folder: Path, targets: list[str], *, server: str, mode: str, presses: int, think: float,
            key: str = "j", chrome_trace: bool = False) -> list[dict]:
    """One dict per ``j`` press (title ms, light curve ms, swapped or redrawn, bytes received and sent, long tasks
    ms, the kernel's side), in a fresh server (``"voila"`` or ``"lab"``: JupyterLab) and page. ``mode``:
    ``"baseline"`` (``draw_ahead=False``), ``"before"`` (drawn ahead, but 0.4 s after a swap as after a redraw)
    or ``"ahead"`` (the default panel)."""
    import time

    import test_vetting_browser as helpers
    from playwright.sync_api import sync_playwright

    run = folder / f"{server}-{mode}"
    run.mkdir()
    for name in ("candidates.csv", "candidates.meta.json"):
        (run / name).write_bytes((folder / name).read_bytes())
    port = helpers._free_port()
    environment = dict(helpers._vetting_environment(run), QUSI_VETTING_DRAW_AHEAD="0" if mode == "baseline" else "1")
    if mode == "before":
        environment["QUSI_BENCH_SWAPPED_STANDBY_DELAY"] = "0.4"
    elif mode.startswith("ahead@"):  # another wait after a swap, in seconds: "ahead@0.2"
        environment["QUSI_BENCH_SWAPPED_STANDBY_DELAY"] = str(float(mode.split("@")[1]))
    notebook = _write_notebook(helpers, run)
    if server == "voila":
        command = [helpers._voila_executable() or "voila", str(notebook), "--no-browser", f"--port={port}",
                   "--Voila.ip=127.0.0.1", "--ServerApp.port_retries=0"]
        context, url = helpers._server(command, run, port, environment), f"http://127.0.0.1:{port}/"
    else:
        context, url = _start_lab(helpers, run, port, environment)
    results = []
    received: list[tuple[float, int]] = []  # (monotonic time, bytes) of every frame the page receives
    sent: list[tuple[float, int]] = []  # and sends
    with context, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(helpers.CHROMIUM), headless=True,
                                             args=helpers.CHROMIUM_ARGS)
        try:
            # 1440 x 900: the screen of issue 14's JupyterLab measurements.
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.on("websocket", lambda socket: (
                socket.on("framereceived", lambda payload: received.append((time.monotonic(), len(payload)))),
                socket.on("framesent", lambda payload: sent.append((time.monotonic(), len(payload))))))
            page.goto(url, timeout=60_000)
            if server == "lab":
                _run_all_in_lab(page)
            page.wait_for_selector(f"{helpers.VISIBLE_LIGHT_CURVE} canvas", timeout=90_000)
            page.locator(helpers.VISIBLE_LIGHT_CURVE).hover()
            if chrome_trace:
                browser.start_tracing(page=page, categories=["devtools.timeline", "v8",
                                                             "disabled-by-default-devtools.timeline"])
            for index in range(presses):
                page.wait_for_timeout(think * 1000)
                page.evaluate(_PROBE, targets[index + 1])
                pressed = time.monotonic()
                page.keyboard.press(key)
                result = helpers._wait_for(lambda: page.evaluate("() => window._qvResult"), 30,
                                           f"candidate {index + 2} on screen")
                done = time.monotonic()
                result["swapped"] = result["before"] != result["after"]
                result["received"] = sum(size for stamp, size in list(received) if pressed <= stamp <= done)
                result["sent"] = sum(size for stamp, size in list(sent) if pressed <= stamp <= done)
                results.append(result)
            if chrome_trace:
                results[0]["breakdown"] = _main_thread_breakdown(browser.stop_tracing())
        finally:
            browser.close()
    _attach_kernel_trace(results, run / "kernel-trace.jsonl")
    return results


def _attach_kernel_trace(results: list[dict], trace: Path) -> None:
    """Per press: the kernel's candidate change that followed the key (ms from the key to its start, its
    length) and whether a drawing ahead was still under way in the kernel when the key came."""
    import json

    entries = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    for result in results:
        key = result["epoch"] / 1000
        shows = [entry for entry in entries if entry["what"] == "show" and entry["start"] >= key]
        show = min(shows, key=lambda entry: entry["start"]) if shows else None
        result["kernel_start"] = (show["start"] - key) * 1000 if show else float("nan")
        result["kernel_ms"] = (show["end"] - show["start"]) * 1000 if show else float("nan")
        result["ahead_at_key"] = [round((entry["end"] - key) * 1000) for entry in entries
                                  if entry["what"] == "prepare_next" and entry["end"] > key and entry["start"] < key]
        last = [entry for entry in entries if entry["what"] == "prepare_next" and entry["end"] <= key]
        result["ahead_done_before"] = round((key - max(entry["end"] for entry in last)) * 1000) if last else None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presses", type=int, default=10, help="j presses timed per server and mode")
    parser.add_argument("--think", type=float, default=1.5, help="seconds spent on each candidate before j")
    parser.add_argument("--candidates", type=int, default=100_000, help="rows in the candidate table")
    parser.add_argument("--servers", default="voila,lab", help="voila, lab (JupyterLab) or both, comma-separated")
    parser.add_argument("--key", default="j", help="the key pressed: j (next) or a verdict's digit (saved, next)")
    parser.add_argument("--input-length", type=int, default=256,
                        help="the bundle's input length (2048: the tutorials' default; saliency then costs more)")
    parser.add_argument("--chrome-trace", action="store_true",
                        help="trace the page (Chrome tracing) and print its main thread's work per press, by kind")
    parser.add_argument("--details", action="store_true", help="a row per press, with the kernel's side")
    parser.add_argument("--modes", default="baseline,before,ahead",
                        help="baseline (draw_ahead=False), before (drawn ahead 0.4 s after a swap too), ahead (the "
                             "default panel), comma-separated")
    arguments = parser.parse_args()
    if not os.path.exists("/usr/bin/chromium"):
        print("bench_vetting_browser: needs /usr/bin/chromium (apt-get install chromium)")
        return 1
    servers = [name.strip() for name in arguments.servers.split(",") if name.strip()]
    modes = [name.strip() for name in arguments.modes.split(",") if name.strip()]
    if not set(servers) <= {"voila", "lab"} or not {mode.split("@")[0] for mode in modes} <= {"baseline", "before", "ahead"} or not servers or not modes:
        parser.error(f"--servers takes voila and/or lab, --modes baseline, before and/or ahead; got {servers}, {modes}")
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        targets = make_folder(folder, n_stars=8, n_candidates=arguments.candidates,
                              input_length=arguments.input_length)
        results = {}
        for server in servers:
            for mode in modes:
                results[server, mode] = measure(folder, targets, server=server, mode=mode,
                                                presses=arguments.presses, think=arguments.think,
                                                key=arguments.key, chrome_trace=arguments.chrome_trace)
                loads.append(os.getloadavg()[0])
    print(f"Headless Chromium without GPU at 1440 x 900, {os.cpu_count()} cores; a queue of "
          f"{arguments.candidates:,} candidates over 8 real-size SPOC files; {arguments.presses} presses of `j` per "
          f"server and mode, {arguments.think:g} s on each candidate; load average (1 min) "
          f"{min(loads):.1f}-{max(loads):.1f} during the run.\n")
    print("| server | panel | title median ms | light curve median ms | p90 ms | max ms | odd presses median ms "
          "| even presses median ms | swapped in | median kB received | median long tasks ms |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    labels = {"baseline": "`draw_ahead=False` (baseline)", "before": "drawn ahead 0.4 s after a swap (before)",
              "ahead": "default (drawn ahead 0.2 s after a swap)"}
    servers_label = {"voila": "Voila", "lab": "JupyterLab"}
    medians = {}
    for mode in modes:
        if mode.startswith("ahead@"):
            labels[mode] = f"drawn ahead {float(mode.split('@')[1]):g} s after a swap"
    for (server, mode), times in results.items():
        plots = [result["plot"] for result in times]
        medians[server, mode] = statistics.median(plots)
        odd, even = plots[0::2], plots[1::2]  # presses 1, 3, 5... and 2, 4, 6...
        print(f"| {servers_label[server]} | {labels[mode]} | {statistics.median(r['title'] or 0 for r in times):.0f} "
              f"| {medians[server, mode]:.0f} | {_percentile(plots, 0.9):.0f} | {max(plots):.0f} "
              f"| {statistics.median(odd):.0f} | {statistics.median(even) if even else float('nan'):.0f} "
              f"| {sum(r['swapped'] for r in times)}/{len(times)} "
              f"| {statistics.median(r['received'] for r in times) / 1000:.0f} "
              f"| {statistics.median(r['long_tasks'] for r in times):.0f} |")
    print()
    for server in servers:
        print(f"{servers_label[server]}, every press (ms; key to listener in brackets): " + "; ".join(
            f"{mode}: " + ", ".join(f"{r['plot']:.0f}{'' if r['swapped'] else '*'} ({r['dispatch']:.0f})"
                                    for r in results[server, mode])
            for mode in modes if (server, mode) in results) + " (* redrawn on screen, not swapped)")
        if {"baseline", "ahead"} <= set(modes):
            print(f"{servers_label[server]}: light curve on screen "
                  f"{medians[server, 'baseline'] / medians[server, 'ahead']:.1f}x sooner when drawn ahead; median "
                  f"{medians[server, 'ahead']:.0f} ms against the 150 ms budget.")
    if arguments.chrome_trace:
        print("\nThe page's main thread from each keydown to the light curve on screen, self time per press (ms):\n")
        for (server, mode), times in results.items():
            breakdown = times[0].get("breakdown", {})
            top = sorted(breakdown.items(), key=lambda item: -item[1])[:10]
            print(f"- {servers_label[server]}, {labels[mode]}: total {sum(breakdown.values()) / len(times):.0f}; "
                  + ", ".join(f"{name} {value / len(times):.0f}" for name, value in top))
    if arguments.details:
        print("\n| server | panel | press | light curve ms | swapped | key to listener ms | key to kernel ms "
              "| kernel ms | kB received | kB sent | long tasks ms | drawing ahead (kernel) ended ms before the key |")
        print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        for (server, mode), times in results.items():
            for index, r in enumerate(times):
                during = f"under way (ends {r['ahead_at_key'][0]} ms after)" if r["ahead_at_key"] else \
                    r["ahead_done_before"]
                print(f"| {servers_label[server]} | {mode} | {index + 1} | {r['plot']:.0f} | {r['swapped']} "
                      f"| {r['dispatch']:.0f} | {r['kernel_start']:.0f} | {r['kernel_ms']:.0f} "
                      f"| {r['received'] / 1000:.0f} | {r['sent'] / 1000:.1f} | {r['long_tasks']:.0f} | {during} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
