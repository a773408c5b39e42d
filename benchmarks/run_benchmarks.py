"""Run every benchmark script in this folder and collect their tables into benchmarks/RESULTS.md.

Command (from the repository root)::

    make benchmark          # or: .venv/bin/python benchmarks/run_benchmarks.py

Each ``bench_*.py`` prints a markdown table; ratios are against a baseline measured in the same run.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    sections = [
        f"# Benchmark results\n\nMeasured {datetime.date.today()} on {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, by `make benchmark`.\n"
    ]
    status = 0
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name}", flush=True)
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent)
        print(run.stdout)
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            status = 1
        sections.append(f"## {script.stem}\n\n`{Path(sys.executable).name} benchmarks/{script.name}`\n\n{run.stdout}")
    (HERE / "RESULTS.md").write_text("\n".join(sections))
    print(f"wrote {HERE / 'RESULTS.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
