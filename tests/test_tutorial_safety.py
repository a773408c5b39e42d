"""Issue 12, item 7: no tutorial keeps a verdict file inside a folder that one of its cells deletes.

Tutorial 07's first cell removed its data folder, and the verdict file lived inside it: Run All
deleted 20 verdicts given by keyboard. Its stand-in vetter also recorded into the panel's file, so
the first key press overwrote one of its verdicts. This reads every notebook's code (no notebook is
run), works out the paths it builds from ``Path(...)``, ``/`` and string constants, and checks:

* no verdict file (of a ``VettingPanel``, ``CandidateQueue``, ``VerdictStore``, ``read_verdicts`` or
  ``dataset_from_verdicts``) is, or lies under, a folder removed by ``shutil.rmtree``, including a
  commented-out ``# shutil.rmtree(...)`` the notebook invites the reader to uncomment;
* a panel's verdict file (a person's verdicts) is not also written by code recording verdicts itself.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
import pytest

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
# Callables whose argument is a verdict file: name -> (position of the file argument, keyword).
VERDICT_FILE_ARGUMENTS = {
    "VettingPanel": (1, "labels"),
    "CandidateQueue": (1, "labels"),
    "VerdictStore": (0, "path"),
    "read_verdicts": (0, "path"),
    "dataset_from_verdicts": (0, "verdicts_path_or_frame"),
}
WRITERS = ("VettingPanel", "CandidateQueue", "VerdictStore")
# "# shutil.rmtree(DATA)": a deletion the reader is told to uncomment counts as one.
COMMENTED_RMTREE = re.compile(r"^\s*#\s*((?:shutil\.)?rmtree\(.*\))\s*$")


@dataclass
class NotebookPaths:
    """What a notebook's code does with paths (relative ones are relative to the notebook's folder)."""

    removed: list[PurePosixPath] = field(default_factory=list)
    verdict_files: dict[str, list[PurePosixPath]] = field(default_factory=dict)  # callable name -> files
    unresolved: list[str] = field(default_factory=list)  # calls whose path this test cannot work out


def _called_name(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def _resolve(node: ast.expr, names: dict[str, PurePosixPath]) -> PurePosixPath | None:
    """The path an expression builds from string constants, ``Path(...)``, ``/`` and names bound to paths."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return PurePosixPath(node.value)
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Call) and _called_name(node) in ("Path", "PurePath", "PurePosixPath") \
            and len(node.args) == 1 and not node.keywords:
        return _resolve(node.args[0], names)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _resolve(node.left, names), _resolve(node.right, names)
        return None if left is None or right is None else left / right
    return None


def _python(source: str) -> str:
    """The cell without IPython magics and shell escapes, with commented-out rmtree calls made code."""
    lines = []
    for line in source.splitlines():
        commented = COMMENTED_RMTREE.match(line)
        if commented:
            line = commented.group(1)
        lines.append("" if line.lstrip().startswith(("%", "!")) else line)
    return "\n".join(lines)


def notebook_paths(sources: list[str]) -> NotebookPaths:
    """Paths removed and verdict files used by the code cells ``sources``, in order."""
    found = NotebookPaths()
    names: dict[str, PurePosixPath] = {}
    for source in sources:
        for node in ast.walk(ast.parse(_python(source))):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                value = _resolve(node.value, names)
                if value is None:
                    names.pop(node.targets[0].id, None)  # rebound to something else
                else:
                    names[node.targets[0].id] = value
            if not isinstance(node, ast.Call):
                continue
            name = _called_name(node)
            if name == "rmtree":
                removed = _resolve(node.args[0], names) if node.args else None
                if removed is None:
                    found.unresolved.append(ast.unparse(node))
                else:
                    found.removed.append(removed)
            elif name in VERDICT_FILE_ARGUMENTS:
                position, keyword = VERDICT_FILE_ARGUMENTS[name]
                argument = next((item.value for item in node.keywords if item.arg == keyword), None)
                if argument is None and len(node.args) > position:
                    argument = node.args[position]
                path = None if argument is None else _resolve(argument, names)
                if path is not None:
                    found.verdict_files.setdefault(name, []).append(path)
                elif name in WRITERS:  # a reader may be given a DataFrame; a writer needs a file
                    found.unresolved.append(ast.unparse(node))
    return found


def problems(found: NotebookPaths) -> list[str]:
    """Every way the notebook could lose or mix up verdicts."""
    messages = [f"cannot tell which path {call} uses: build it from Path(...), '/' and strings"
                for call in found.unresolved]
    for name, files in found.verdict_files.items():
        for file in files:
            for folder in dict.fromkeys(found.removed):  # a folder removed twice is one problem
                if file == folder or folder in file.parents:
                    messages.append(f"{name} uses verdict file {file}, inside {folder}, which rmtree removes")
    panel_files = set(found.verdict_files.get("VettingPanel", []))
    for name in ("CandidateQueue", "VerdictStore"):
        for file in set(found.verdict_files.get(name, [])) & panel_files:
            messages.append(f"{name} records into {file}, the file a VettingPanel writes a person's verdicts to")
    return messages


def code_cells(path: Path) -> list[str]:
    return [cell.source for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "code"]


@pytest.mark.parametrize("notebook", sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb")), ids=lambda path: path.stem)
def test_no_tutorial_deletes_or_shares_a_verdict_file(notebook: Path) -> None:
    assert problems(notebook_paths(code_cells(notebook))) == []


def test_the_tutorials_with_a_panel_are_checked() -> None:
    """The check above sees the panels' verdict files (it cannot pass by finding nothing)."""
    with_panel = [path.stem[:2] for path in sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))
                  if notebook_paths(code_cells(path)).verdict_files.get("VettingPanel")]
    assert {"01", "04", "07"} <= set(with_panel)


def test_the_check_catches_the_patterns_of_issue_12() -> None:
    setup = 'import shutil\nfrom pathlib import Path\nDATA = Path("_data") / "07"\nshutil.rmtree(DATA, ignore_errors=True)'
    inside = [setup, 'ql.VettingPanel(DATA / "candidates.csv", labels=DATA / "verdicts.csv")']
    assert problems(notebook_paths(inside)) == [
        "VettingPanel uses verdict file _data/07/verdicts.csv, inside _data/07, which rmtree removes"]
    shared = ['LABELS = Path("verdicts") / "07.csv"', "ql.VettingPanel(table, labels=LABELS)",
              'queue = ql.vetting.CandidateQueue(table, LABELS, user="stand-in vetter")']
    assert problems(notebook_paths(shared)) == [
        "CandidateQueue records into verdicts/07.csv, the file a VettingPanel writes a person's verdicts to"]
    commented = ['DATA = Path("_data")', 'ql.VerdictStore(DATA / "v.csv")', "size = 1\n# shutil.rmtree(DATA)"]
    assert len(problems(notebook_paths(commented))) == 1
    assert problems(notebook_paths(["ql.VettingPanel(table, labels=somewhere())"])) == [
        "cannot tell which path ql.VettingPanel(table, labels=somewhere()) uses: build it from Path(...), '/' "
        "and strings"]
    apart = [setup, 'ql.VettingPanel(DATA / "c.csv", labels=Path("verdicts") / "07.csv")']
    assert problems(notebook_paths(apart)) == []
