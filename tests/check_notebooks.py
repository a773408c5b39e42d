"""Lint the committed notebooks' format: valid nbformat, no outputs, explanations between the code.

Command (from the repository root; ``make lint`` runs it)::

    .venv/bin/python tests/check_notebooks.py                 # tutorials/*.ipynb and tests/notebooks/*.ipynb
    .venv/bin/python tests/check_notebooks.py path/to/a.ipynb # only these

Formatting is the lint step's job, not the test suite's: whether a notebook runs is nbval's
(``make tutorials``), whether it uses public names is ``tests/test_tutorials.py``'s. Every problem found is
printed as ``path: cell N: what is wrong; what to do``, and the exit status is 1 if there is any.

Checks, for every notebook:

* valid nbformat 4 with a ``python3`` kernel;
* committed clean: no outputs, no execution counts, no saved widget state in the metadata.

And for the numbered tutorials (``tutorials/NN_*.ipynb``), which are read as documents:

* a ``# `` title in a first markdown cell;
* explanations between the code: at most 3 code cells per markdown cell overall and 3 code cells in a row;
* no markdown cell starting indented (it would render as a code block);
* code cells of at most 30 non-blank lines;
* every measured figure (``<!-- fig:01.full.seconds -->4.5 min<!-- /fig -->``) shows what
  ``tutorials/figures.json`` says, and the first markdown cell says the time and disk at full size and in
  quick mode. README.md's figures are checked too when no path is given. ``tutorials/measure.py`` writes
  figures.json from a run (``run``) and the figures from it (``render``).
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import nbformat

ROOT = Path(__file__).resolve().parents[1]
FIRST_CELL_FIGURES = ("full.seconds", "full.disk", "quick.seconds", "quick.disk")
MAX_CODE_PER_MARKDOWN = 3
MAX_CODE_CELLS_IN_A_ROW = 3
MAX_CODE_LINES = 30


def default_paths() -> list[Path]:
    return sorted((ROOT / "tutorials").glob("*.ipynb")) + sorted((ROOT / "tests" / "notebooks").glob("*.ipynb"))


def is_tutorial(path: Path) -> bool:
    return path.parent.name == "tutorials" and path.name[:2].isdigit() and path.name[2] == "_"


def check_clean(notebook: nbformat.NotebookNode) -> list[str]:
    """Problems of a notebook committed after running (outputs, counts, widget state)."""
    problems = []
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"cell {number} has outputs; clear them before committing")
        if cell.get("execution_count") is not None:
            problems.append(f"cell {number} has an execution count; clear outputs before committing")
    # Jupyter saves widget state here when a notebook with widgets is saved after running.
    if "widgets" in notebook.metadata:
        problems.append("widget state saved in the metadata; clear it (Widgets > Clear Notebook Widget State)")
    return problems


def check_layout(notebook: nbformat.NotebookNode) -> list[str]:
    """Problems of a tutorial read as a document: a title, explanations between short code cells."""
    problems = []
    cells = notebook.cells
    kinds = [cell.cell_type for cell in cells]
    if not cells or kinds[0] != "markdown" or not cells[0].source.startswith("# "):
        problems.append("cell 0: start with a markdown cell whose first line is a '# ' title")
    n_code, n_markdown = kinds.count("code"), kinds.count("markdown")
    if n_code > MAX_CODE_PER_MARKDOWN * n_markdown:
        problems.append(f"{n_code} code cells for {n_markdown} markdown cells (at most {MAX_CODE_PER_MARKDOWN} "
                        "per markdown cell); explain between the code")
    run = 0
    for number, kind in enumerate(kinds):
        run = run + 1 if kind == "code" else 0
        if run == MAX_CODE_CELLS_IN_A_ROW + 1:
            problems.append(f"cell {number}: more than {MAX_CODE_CELLS_IN_A_ROW} code cells in a row without "
                            "a markdown cell between them")
    for number, cell in enumerate(cells):
        if cell.cell_type == "markdown" and cell.source.startswith((" ", "\t")):
            problems.append(f"cell {number}: markdown starts indented (renders as a code block)")
        if cell.cell_type == "code":
            lines = [line for line in cell.source.splitlines() if line.strip()]
            if len(lines) > MAX_CODE_LINES:
                problems.append(f"cell {number}: {len(lines)} lines of code (at most {MAX_CODE_LINES}); split it "
                                "and explain the parts")
    return problems


@cache
def measure() -> ModuleType:
    """``tutorials/measure.py`` (a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("tutorials_measure", ROOT / "tutorials" / "measure.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_figures(path: Path, notebook: nbformat.NotebookNode) -> list[str]:
    """Figures that disagree with tutorials/figures.json, and a first cell without time and disk."""
    tool = measure()
    figures = tool.load_figures()
    problems = [problem for cell in notebook.cells if cell.cell_type == "markdown"
                for problem in tool.span_problems(cell.source, figures)]
    first = notebook.cells[0].source if notebook.cells else ""
    number = path.name[:2]
    missing = [key for key in FIRST_CELL_FIGURES if f"<!-- fig:{number}.{key} -->" not in first]
    if missing:
        problems.append(f"cell 0: say the time and disk use at the top: add the figures {', '.join(missing)} "
                        f"(<!-- fig:{number}.full.seconds --><!-- /fig -->, then measure.py render)")
    return problems


def check(path: Path) -> list[str]:
    """Every format problem of the notebook at ``path``, each a readable sentence."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # noqa: BLE001 - any reading or schema error is the finding
        return [f"not a valid nbformat 4 notebook: {str(error).splitlines()[0]}"]
    problems = []
    kernel = notebook.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec name is {kernel!r}, expected 'python3'")
    problems += check_clean(notebook)
    if is_tutorial(path):
        problems += check_layout(notebook)
        problems += check_figures(path, notebook)
    return problems


def main(arguments: list[str]) -> int:
    paths = [Path(argument) for argument in arguments] or default_paths()
    failures = 0
    if not arguments:  # the README quotes the tutorials' figures too
        tool = measure()
        for problem in tool.span_problems(tool.README.read_text(), tool.load_figures()):
            print(f"README.md: {problem}")
            failures += 1
    for path in paths:
        for problem in check(path):
            shown = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
            print(f"{shown}: {problem}")
            failures += 1
    if failures:
        print(f"check_notebooks: {failures} problem(s) in {len(paths)} notebook(s)", file=sys.stderr)
        return 1
    print(f"check_notebooks: {len(paths)} notebooks OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
