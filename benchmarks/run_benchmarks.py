"""Run the product benchmarks offline, print their tables and collect them in benchmarks/results/ (ignored by git).

Commands (from the repository root)::

    make benchmark                  # or: .venv/bin/python benchmarks/run_benchmarks.py
    .venv/bin/python benchmarks/run_benchmarks.py --quick            # every script at a small size (~5 min)
    .venv/bin/python benchmarks/run_benchmarks.py --only read,stream # a subset
    .venv/bin/python benchmarks/run_benchmarks.py --qusi --browser   # also the opt-in ones

By default it runs the scripts that need nothing beyond this environment and no network: reading,
the synthetic sector, the training stream, inference, the networks, vetting and the interactive
operations. Opt-in, as they download or drive more than the package:

* ``--qusi`` (``make benchmark-qusi``): ``bench_vs_qusi.py``, qusi itself side by side; the first run
  installs PyPI ``qusi`` into its own virtual environment (~20 minutes);
* ``--browser`` (``make benchmark-browser``): ``bench_vetting_browser.py``, Voila and JupyterLab in headless Chromium.

``quality.py`` (what the defaults find; ~13 minutes of training) runs on its own: ``make benchmark-quality``;
so does ``imaging_quality.py`` (the imaging network against ADI-PCA; ~4-10 minutes).
Each script prints a markdown table whose speeds are set against a baseline measured in the same run;
the collected file is ``benchmarks/results/RESULTS-<date and time>.md``. Nothing tracked is written.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from _common import RESULTS_DIR, load_average

HERE = Path(__file__).resolve().parent
#: name -> (script, arguments of a full run, arguments of a --quick run)
OFFLINE: dict[str, tuple[str, list[str], list[str]]] = {
    "read": ("bench_read.py", [], ["--files", "20"]),
    "synthetic": ("bench_synthetic.py", [], ["--stars", "20"]),
    "stream": ("bench_stream.py", [], ["--files", "40", "--batches", "5"]),
    "inference": ("bench_inference.py", [], ["--files", "60"]),
    "stages": ("bench_stages.py", [], ["--files", "60", "--rounds", "1"]),
    "models": ("bench_models.py", [], ["--quick", "--seconds", "2"]),
    "vetting": ("bench_vetting.py", [], ["--candidates", "2000", "--files", "4", "--steps", "3", "--think", "0.5"]),
    "interactive": ("bench_interactive.py", [], ["--repeats", "3"]),
    "imaging": ("bench_imaging.py", [], ["--repeats", "1"]),
    "distributed": ("bench_distributed.py", [], ["--steps", "10", "--input-length", "512", "--curves", "32", "--repeats", "1"]),
}
OPT_IN: dict[str, tuple[str, list[str], list[str]]] = {
    "qusi": ("bench_vs_qusi.py", [], ["--quick"]),
    "browser": ("bench_vetting_browser.py", [], ["--presses", "2", "--candidates", "100"]),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: checks every script runs")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(OFFLINE)}")
    parser.add_argument("--qusi", action="store_true", help="also bench_vs_qusi.py (installs PyPI qusi once)")
    parser.add_argument("--browser", action="store_true", help="also bench_vetting_browser.py (Voila and JupyterLab + Chromium)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="folder for the collected tables")
    arguments = parser.parse_args()

    chosen = [name.strip() for name in arguments.only.split(",") if name.strip()] or list(OFFLINE)
    unknown = set(chosen) - set(OFFLINE) - set(OPT_IN)
    if unknown:
        parser.error(f"unknown benchmarks {sorted(unknown)}; choose from {', '.join([*OFFLINE, *OPT_IN])}")
    chosen += [name for name, wanted in (("qusi", arguments.qusi), ("browser", arguments.browser))
               if wanted and name not in chosen]
    scripts = {**OFFLINE, **OPT_IN}
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M")
    sections = [f"# Benchmark results\n\nMeasured {stamp} on {platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}{', quick sizes' if arguments.quick else ''}; "
                f"{load_average()} at the start.\n"]
    failed = []
    for name in chosen:
        script, full, quick = scripts[name]
        command = [sys.executable, str(HERE / script), *(quick if arguments.quick else full)]
        shown = " ".join(["python", f"benchmarks/{script}", *command[2:]])
        print(f"== {shown}", flush=True)
        started = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True, cwd=HERE.parent, check=False)
        print(run.stdout, flush=True)
        if run.returncode != 0:
            print(run.stderr[-5000:], file=sys.stderr)
            failed.append(script)
        sections.append(f"## {script}\n\n`{shown}` ({time.perf_counter() - started:.0f} s"
                        f"{', FAILED' if run.returncode else ''})\n\n{run.stdout}")
    arguments.out.mkdir(parents=True, exist_ok=True)
    results = arguments.out / f"RESULTS-{stamp}.md"
    results.write_text("\n".join(sections))
    print(f"wrote {results}" + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
