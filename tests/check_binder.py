"""Build the Binder environment in a fresh virtual environment and run the first tutorial in it.

``make binder`` (part of ``make test``) runs this script. It does what repo2docker does with
``binder/`` (a Python of ``runtime.txt``'s version, then ``pip install -r binder/requirements.txt``
from the repository root), then checks that the result is the environment the tests use:

* torch is the pinned CPU build (no CUDA libraries: Binder has no GPU and a CUDA build is GBs);
* ``qusi_lab`` and everything the notebooks import (widgets, bokeh, ipyevents, JupyterLab) load;
* ``tutorials/01_basic_transit_identification.ipynb`` runs top to bottom there, offline, in quick
  mode (``QUSI_LAB_QUICK=1``), with the Jupyter of that environment.

It prints how long the install took (the bulk of a Binder build) and exits non-zero on any failure.
Here the PyTorch CPU index of ``requirements.txt`` cannot be reached, so pip takes the same
``torch==2.13.0`` CPU wheel from the local wheel folder; on Binder it comes from that index.

    python3.11 tests/check_binder.py [--keep]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "tutorials" / "01_basic_transit_identification.ipynb"
NEEDED_GB = 3.0
IMPORTS = "import qusi_lab, torch, ipywidgets, ipyevents, jupyter_bokeh, bokeh, jupyterlab, lightkurve, batman"


def run(command: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    completed = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        noise = re.compile(r"^WARNING: Location .* is ignored")
        detail = "\n".join(line for line in (completed.stdout + completed.stderr).splitlines() if not noise.match(line))
        raise SystemExit(f"check_binder: `{' '.join(command)}` failed ({completed.returncode}):\n{detail[-4000:]}")
    return completed.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the virtual environment")
    arguments = parser.parse_args()

    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    wanted = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    if not wanted:
        raise SystemExit(f"check_binder: binder/runtime.txt should read python-X.Y, not {runtime!r}")
    if sys.version_info[:2] != (int(wanted[1]), int(wanted[2])):
        raise SystemExit(f"check_binder: run me with Python {wanted[1]}.{wanted[2]} (binder/runtime.txt), "
                         f"not {sys.version.split()[0]}")
    pin = re.search(r'"torch==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin, "pyproject.toml pins torch"

    # The venv takes ~1.8 GB and pip unpacks torch beside it: say so plainly rather than let pip die
    # half-way with ENOSPC (a full disk once failed CI here with nothing but pip's errno).
    free_gb = shutil.disk_usage(tempfile.gettempdir()).free / 1e9
    if free_gb < NEEDED_GB:
        raise SystemExit(f"check_binder: {tempfile.gettempdir()} has {free_gb:.1f} GB free; building the Binder "
                         f"environment needs about {NEEDED_GB:.0f} GB. Free some space (or set TMPDIR) and rerun.")
    work = Path(tempfile.mkdtemp(prefix="qusi_lab_binder_"))
    venv = work / "venv"
    python = venv / "bin" / "python"
    try:
        started = time.perf_counter()
        run([sys.executable, "-m", "venv", str(venv)])
        # PIP_RETRIES=0: where the PyTorch index is unreachable (this machine), fail over at once.
        env = {**os.environ, "PIP_RETRIES": "0", "PIP_DEFAULT_TIMEOUT": "15"}
        run([str(python), "-m", "pip", "install", "--quiet", "--no-cache-dir", "-r", "binder/requirements.txt"], env=env)
        install_seconds = time.perf_counter() - started
        size = subprocess.run(["du", "-sm", str(venv)], capture_output=True, text=True).stdout.split()[0]
        print(f"check_binder: binder/requirements.txt installed into a fresh {runtime} venv in "
              f"{install_seconds:.0f} s ({size} MB)", flush=True)

        report = run([str(python), "-c", f"{IMPORTS}; print(torch.__version__, torch.version.cuda, qusi_lab.__version__)"])
        torch_version, cuda, version = report.split()
        if not torch_version.startswith(pin[1]) or cuda != "None":
            raise SystemExit(f"check_binder: Binder would get torch {torch_version} (CUDA {cuda}); "
                             f"the project pins the CPU build of {pin[1]}")
        print(f"check_binder: torch {torch_version} (no CUDA), qusi_lab {version}; notebook imports load", flush=True)

        started = time.perf_counter()
        notebook_env = {**os.environ, "QUSI_LAB_QUICK": "1", "PATH": f"{venv / 'bin'}:{os.environ['PATH']}"}
        notebook_env.pop("VIRTUAL_ENV", None)
        # A copy in the scratch folder: the notebook writes its data beside itself (_data/).
        copy = Path(shutil.copy(NOTEBOOK, work / NOTEBOOK.name))
        run([str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute", "--inplace",
             "--ExecutePreprocessor.timeout=600", str(copy)], env=notebook_env, cwd=work)
        print(f"check_binder: {NOTEBOOK.name} ran top to bottom in the Binder environment in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    finally:
        if arguments.keep:
            print(f"check_binder: kept {venv}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
