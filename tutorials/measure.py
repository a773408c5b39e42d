"""Measure the tutorials and write the figures their text quotes, so the text cannot drift from a run.

Commands (from the repository root)::

    .venv/bin/python tutorials/measure.py run --mode quick              # all of them, QUSI_LAB_QUICK=1
    .venv/bin/python tutorials/measure.py run --mode full 01 04 07      # full size, these three
    .venv/bin/python tutorials/measure.py render                        # figures.json -> notebooks, README
    .venv/bin/python tutorials/measure.py check                         # what `make lint` checks

``run`` executes each notebook with nbclient in a scratch folder (``--workdir``, default
``$TMPDIR/qusi_lab_measure``: its ``_data/`` and ``verdicts/`` never touch yours), with synthetic data
(``QUSI_LAB_OFFLINE=1``, so runs compare), and records for each notebook: wall time, the peak disk use of
its data folder (sampled every second), the size of the executed ``.ipynb`` and the values the text quotes
(:data:`VALUES`, read from the kernel after the last cell). It merges them into ``tutorials/figures.json``
with the date, machine, CPU count and load, then runs ``render``.

``render`` rewrites every marked span in the notebooks' markdown cells and in README.md from figures.json::

    <!-- fig:01.full.seconds -->4.5 min<!-- /fig -->

Keys are ``<notebook>.<mode>.<field>`` (``01.quick.disk``), ``all.<mode>.seconds`` (the seven together)
and ``<mode>.<date|machine|load>`` (the run of all; a notebook measured on its own later has its own
``<notebook>.<mode>.<date|machine|load>``). ``check`` (run by ``tests/check_notebooks.py``) reports every span whose
text is not what ``render`` would write, and every span naming a figure that figures.json does not have.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TUTORIALS = Path(__file__).resolve().parent
ROOT = TUTORIALS.parent
FIGURES = TUTORIALS / "figures.json"
README = ROOT / "README.md"
MODES = ("quick", "full")

#: Values the notebooks' text quotes, as expressions evaluated in the kernel after the last cell.
VALUES: dict[str, dict[str, str]] = {
    "01": {
        "validation_auc": "float(result.best_metrics['auc_roc'])",
        "test_auc": "float(evaluation.metrics['auc_roc'])",
    },
    "08": {
        "network_tpr": "float(network_tpr)",
        "pca_tpr": "float(pca_tpr)",
        "validation_auc": "float(result.best_metrics['auc_roc'])",
    },
}

SPAN = re.compile(r"<!-- fig:(?P<key>[A-Za-z0-9_.]+) -->(?P<text>.*?)<!-- /fig -->", re.DOTALL)
MARKER = "QUSI_LAB_MEASURED "


# ------------------------------------------------------------------ figures.json and the spans


def load_figures(path: Path = FIGURES) -> dict[str, Any]:
    if not path.is_file():
        return {"runs": {}}
    try:
        figures = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SystemExit(f"{path}: not valid JSON ({error}); run `tutorials/measure.py run` again") from error
    if not isinstance(figures.get("runs"), dict):
        raise SystemExit(f"{path}: no 'runs' object; run `tutorials/measure.py run` again")
    return figures


def format_seconds(seconds: float) -> str:
    """``42 s`` under two minutes, ``4.5 min`` above.

    >>> format_seconds(41.6), format_seconds(270)
    ('42 s', '4.5 min')
    """
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def format_bytes(size: float) -> str:
    """Disk sizes as a person reads them.

    >>> format_bytes(2.6e9), format_bytes(35e6), format_bytes(1.94e6), format_bytes(0)
    ('2.6 GB', '35 MB', '1.9 MB', '0.0 MB')
    """
    if size >= 1e9:
        return f"{size / 1e9:.1f} GB"
    return f"{size / 1e6:.0f} MB" if size >= 10e6 else f"{size / 1e6:.1f} MB"


def figure_value(figures: dict[str, Any], key: str) -> Any:
    """The raw value behind ``key`` (``01.full.seconds``, ``all.quick.seconds``, ``quick.date``)."""
    parts = key.split(".")
    runs = figures["runs"]
    if len(parts) == 2 and parts[0] in MODES:
        mode, field = parts
        return runs.get(mode, {}).get(field)
    if len(parts) != 3 or parts[1] not in MODES:
        raise KeyError(f"{key!r} is not <notebook>.<quick|full>.<field> nor <quick|full>.<field>")
    notebook, mode, field = parts
    run = runs.get(mode, {})
    if notebook == "all":
        notebooks = run.get("notebooks", {})
        values = [entry.get(field) for entry in notebooks.values()]
        if len(notebooks) < 7 or any(value is None for value in values):
            return None
        return sum(values)
    return run.get("notebooks", {}).get(notebook, {}).get(field)


def format_figure(figures: dict[str, Any], key: str) -> str:
    """The text a span for ``key`` shows; ``KeyError`` naming the key when figures.json lacks it."""
    value = figure_value(figures, key)
    if value is None:
        raise KeyError(f"figures.json has no value for {key!r}; measure it (tutorials/measure.py run)")
    field = key.rsplit(".", 1)[-1]
    if field == "seconds":
        return format_seconds(float(value))
    if field in ("disk", "ipynb_bytes"):
        return format_bytes(float(value))
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def render(text: str, figures: dict[str, Any]) -> str:
    """``text`` with every marked span's contents replaced by its figure.

    >>> figures = {"runs": {"full": {"notebooks": {"01": {"seconds": 270.0}}}}}
    >>> render("takes <!-- fig:01.full.seconds -->a minute<!-- /fig -->", figures)
    'takes <!-- fig:01.full.seconds -->4.5 min<!-- /fig -->'
    """
    def replace(match: re.Match[str]) -> str:
        try:
            return f"<!-- fig:{match['key']} -->{format_figure(figures, match['key'])}<!-- /fig -->"
        except KeyError:  # not measured yet: left as it is, and `check` says so
            return match[0]

    return SPAN.sub(replace, text)


def span_problems(text: str, figures: dict[str, Any]) -> list[str]:
    """Every span of ``text`` that does not show what figures.json says, as a readable sentence."""
    problems = []
    for match in SPAN.finditer(text):
        try:
            expected = format_figure(figures, match["key"])
        except KeyError as error:
            problems.append(str(error.args[0]))
            continue
        if match["text"] != expected:
            problems.append(f"fig:{match['key']} says {match['text']!r}, figures.json says {expected!r}; "
                            "run `python tutorials/measure.py render`")
    return problems


def notebook_files() -> list[Path]:
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))


def documents() -> list[Path]:
    return [*notebook_files(), README]


def _markdown_cells(notebook: Any) -> Iterable[Any]:
    return (cell for cell in notebook.cells if cell.cell_type == "markdown")


def render_all(figures: dict[str, Any]) -> list[Path]:
    """Rewrite the spans of every notebook and README.md; the files changed."""
    import nbformat

    changed = []
    for path in documents():
        if path.suffix == ".ipynb":
            notebook = nbformat.read(path, as_version=4)
            touched = False
            for cell in _markdown_cells(notebook):
                new = render(cell.source, figures)
                if new != cell.source:
                    cell.source, touched = new, True
            if touched:
                nbformat.write(notebook, path)
                changed.append(path)
        elif path.is_file():
            text = path.read_text()
            new = render(text, figures)
            if new != text:
                path.write_text(new)
                changed.append(path)
    return changed


def check_all(figures: dict[str, Any] | None = None) -> list[str]:
    """``path: problem`` for every span in the notebooks and README.md that disagrees with figures.json."""
    import nbformat

    figures = load_figures() if figures is None else figures
    problems = []
    for path in documents():
        if not path.is_file():
            continue
        if path.suffix == ".ipynb":
            texts = [cell.source for cell in _markdown_cells(nbformat.read(path, as_version=4))]
        else:
            texts = [path.read_text()]
        shown = path.relative_to(ROOT)
        problems += [f"{shown}: {problem}" for text in texts for problem in span_problems(text, figures)]
    return problems


# ------------------------------------------------------------------ running the notebooks


def folder_bytes(folder: Path) -> int:
    total = 0
    for directory, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:  # deleted while we looked
                pass
    return total


class PeakDisk:
    """The largest size a folder reaches while the ``with`` block runs (sampled every ``interval`` seconds)."""

    def __init__(self, folder: Path, interval: float = 1.0) -> None:
        self.folder, self.interval, self.peak = folder, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, folder_bytes(self.folder))

    def __enter__(self) -> PeakDisk:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, folder_bytes(self.folder))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()}"


def _load() -> str:
    try:
        return "{:.1f} / {:.1f} / {:.1f}".format(*os.getloadavg())
    except OSError:  # not on Windows
        return "unknown"


def measure_notebook(path: Path, mode: str, workdir: Path, timeout: int) -> dict[str, Any]:
    """Execute ``path`` in ``workdir`` and return what was measured."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    number = path.name[:2]
    expressions = VALUES.get(number, {})
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json as _json\n_measured = {}\n"
        f"for _name, _expression in {expressions!r}.items():\n"
        "    try:\n        _measured[_name] = eval(_expression)\n"
        "    except Exception as _error:\n        _measured[_name] = None\n"
        f"print({MARKER!r} + _json.dumps(_measured))"))
    data = workdir / "_data" / path.stem
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(workdir / "verdicts", ignore_errors=True)  # a fresh reader: no verdicts from an earlier run
    os.environ["QUSI_LAB_QUICK"] = "1" if mode == "quick" else "0"
    os.environ.setdefault("QUSI_LAB_OFFLINE", "1")
    load_before = _load()
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    start = time.perf_counter()
    with PeakDisk(data) as disk:
        client.execute()
    seconds = time.perf_counter() - start
    last = notebook.cells.pop()
    printed = "".join(output.get("text", "") for output in last.outputs if output.get("name") == "stdout")
    values = json.loads(printed.split(MARKER, 1)[1]) if MARKER in printed else {}
    executed = workdir / "executed" / mode / path.name
    executed.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, executed)
    return {"seconds": round(seconds, 1), "disk": disk.peak, "ipynb_bytes": executed.stat().st_size,
            "date": dt.date.today().isoformat(), "load": f"{load_before} before, {_load()} after", **values}


def run(mode: str, numbers: list[str], workdir: Path, timeout: int) -> dict[str, Any]:
    figures = load_figures()
    paths = [path for path in notebook_files() if not numbers or path.name[:2] in numbers]
    missing = set(numbers) - {path.name[:2] for path in paths}
    if missing:
        raise SystemExit(f"no tutorial numbered {', '.join(sorted(missing))} in {TUTORIALS}")
    workdir.mkdir(parents=True, exist_ok=True)
    entry = dict(figures["runs"].get(mode, {}))
    here = machine()
    entry.update({"data": "synthetic (QUSI_LAB_OFFLINE=1)", "source": "tutorials/measure.py"})
    if not numbers or "load" not in entry:  # a run of some notebooks keeps the load of the run of all
        entry["load"] = _load()
    if not numbers or "machine" not in entry:  # ... and its machine: each notebook records its own too
        entry["machine"] = here
    for path in paths:
        print(f"{mode}: {path.name} ...", flush=True)
        measured = {**measure_notebook(path, mode, workdir, timeout), "machine": here}
        entry.setdefault("notebooks", {})[path.name[:2]] = measured
        # The run's date covers every notebook's own: "2026-12-05 to 2026-12-06" after a partial re-run.
        dates = sorted({notebook["date"] for notebook in entry["notebooks"].values() if "date" in notebook})
        entry["date"] = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        print(f"  {format_seconds(measured['seconds'])}, data {format_bytes(measured['disk'])}, "
              f"executed notebook {format_bytes(measured['ipynb_bytes'])}", flush=True)
        # Written after each notebook (a long run that stops keeps what it measured), into the file as it is
        # now: a run of the other mode may have written its part meanwhile.
        figures = load_figures()
        figures["runs"][mode] = entry
        write_figures(figures)
    return figures


def write_figures(figures: dict[str, Any], path: Path = FIGURES) -> None:
    path.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")


def main(arguments: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run_parser = commands.add_parser("run", help="execute the notebooks, write figures.json, render")
    run_parser.add_argument("numbers", nargs="*", help="tutorial numbers (01 04 07); default: all")
    run_parser.add_argument("--mode", choices=MODES, default="quick")
    run_parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "qusi_lab_measure")
    run_parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    run_parser.add_argument("--no-render", action="store_true", help="only write figures.json")
    commands.add_parser("render", help="rewrite the marked spans from figures.json")
    commands.add_parser("check", help="list the spans that disagree with figures.json")
    options = parser.parse_args(arguments)
    if options.command == "run":
        figures = run(options.mode, options.numbers, options.workdir, options.timeout)
    else:
        figures = load_figures()
    if options.command == "check":
        problems = check_all(figures)
        print("\n".join(problems) if problems else "measure check: every figure agrees with figures.json")
        return 1 if problems else 0
    if options.command == "run" and options.no_render:
        return 0
    for path in render_all(figures):
        print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
