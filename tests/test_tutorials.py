"""Structure checks of the tutorial notebooks and the Binder environment (no notebook is run here).

Running them is nbval's job: ``QUSI_LAB_QUICK=1 pytest --nbval-lax tutorials/`` (see the Makefile).
These tests catch what nbval cannot, or only slowly: a ``ql.`` name that left the public API, an import
that no longer resolves, a Binder file that would install the wrong torch. The notebooks' format
(committed without outputs, explanations between short code cells) is the lint step's:
``tests/check_notebooks.py``, run by ``make lint``.
"""

from __future__ import annotations

import ast
import importlib
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

import qusi_lab as ql

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
BINDER = ROOT / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

EXPECTED_NOTEBOOKS = (
    "01_basic_transit_identification.ipynb",
    "02_your_own_data.ipynb",
    "03_injected_datasets.ipynb",
    "04_heartbeat_stars.ipynb",
    "05_tuning_augmentations.ipynb",
    "06_multiclass_and_regression.ipynb",
    "07_vetting_at_scale.ipynb",
    "08_direct_imaging.ipynb",
)


def notebook_paths() -> list[Path]:
    return sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def code_sources(notebook: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def python_source(cell_source: str) -> str:
    """The cell without IPython magics and shell escapes (``%matplotlib inline``, ``!ls``), so ast can parse it."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell_source.splitlines())


def parsed_cells(notebook: nbformat.NotebookNode) -> list[ast.Module]:
    return [ast.parse(python_source(source)) for source in code_sources(notebook)]


def ql_names(tree: ast.AST) -> set[str]:
    """Every ``ql.<name>`` in the code (for ``ql.a.b.c`` that is ``a``)."""
    return {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ql"
    }


def _guarded_by_import_error(handlers: list[ast.ExceptHandler]) -> bool:
    for handler in handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(name, ast.Name) and name.id in ("ImportError", "ModuleNotFoundError") for name in names):
            return True
    return False


def required_imports(tree: ast.Module) -> list[ast.ImportFrom]:
    """``from qusi_lab... import ...`` statements that are not inside ``try: ... except ImportError``.

    Optional parts (the vetting panel, the augmentation tuner) are imported inside such a ``try``; every
    other import must work.
    """
    optional: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and _guarded_by_import_error(node.handlers):
            for statement in node.body:
                optional.update(id(inner) for inner in ast.walk(statement))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").split(".")[0] == "qusi_lab"
        and id(node) not in optional
    ]


@pytest.fixture(params=EXPECTED_NOTEBOOKS, ids=lambda name: name[:2])
def notebook(request: pytest.FixtureRequest) -> tuple[str, nbformat.NotebookNode]:
    path = TUTORIALS / request.param
    assert path.is_file(), f"{path} is missing"
    return request.param, read(path)


# ------------------------------------------------------------------ the set of notebooks


def test_the_numbered_notebooks_01_to_08_are_all_there() -> None:
    names = [path.name for path in notebook_paths()]
    assert names == list(EXPECTED_NOTEBOOKS)


# ------------------------------------------------------------------ the public API


def test_every_ql_name_a_notebook_uses_is_public(notebook: tuple[str, nbformat.NotebookNode]) -> None:
    name, content = notebook
    used = set().union(*(ql_names(tree) for tree in parsed_cells(content)))
    assert used, f"{name} does not use qusi_lab as ql"
    missing = sorted(attribute for attribute in used if not hasattr(ql, attribute))
    private = sorted(attribute for attribute in used if attribute not in ql.__all__)
    assert not missing, f"{name} uses ql.{', ql.'.join(missing)}, which qusi_lab does not have"
    assert not private, f"{name} uses ql.{', ql.'.join(private)}, which is not in qusi_lab.__all__"


def test_qusi_lab_imports_outside_optional_blocks_resolve(notebook: tuple[str, nbformat.NotebookNode]) -> None:
    name, content = notebook
    for tree in parsed_cells(content):
        for statement in required_imports(tree):
            module = importlib.import_module(str(statement.module))
            for alias in statement.names:
                assert hasattr(module, alias.name), f"{name}: from {statement.module} import {alias.name} fails"


def test_every_notebook_imports_qusi_lab_as_ql(notebook: tuple[str, nbformat.NotebookNode]) -> None:
    name, content = notebook
    first = code_sources(content)[0]
    assert re.search(r"^import qusi_lab as ql$", first, re.MULTILINE), f"{name}: first code cell lacks the import"


# ------------------------------------------------------------------ quick mode and data folders


def test_the_first_code_cell_reads_the_quick_switch_and_plots_inline(
    notebook: tuple[str, nbformat.NotebookNode],
) -> None:
    name, content = notebook
    first = code_sources(content)[0]
    assert 'os.environ.get("QUSI_LAB_QUICK") == "1"' in first, f"{name}: no QUSI_LAB_QUICK switch at the top"
    assert first.startswith("%matplotlib inline"), f"{name}: start the first code cell with %matplotlib inline"


def test_notebooks_write_their_data_under_their_own_ignored_folder(
    notebook: tuple[str, nbformat.NotebookNode],
) -> None:
    name, content = notebook
    expected = f'DATA = Path("_data") / "{Path(name).stem}"'
    assert expected in code_sources(content)[0], f"{name}: the data folder must be {expected}"


# ------------------------------------------------------------------ Binder


def binder_requirement_lines() -> list[str]:
    lines = (BINDER / "requirements.txt").read_text().splitlines()
    return [line.split("#", 1)[0].strip() for line in lines if line.split("#", 1)[0].strip()]


def test_binder_runs_python_3_11() -> None:
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"


def test_binder_requirements_parse_and_pin_the_cpu_torch_of_pyproject() -> None:
    lines = binder_requirement_lines()
    options = [line for line in lines if line.startswith("-")]
    requirements = [Requirement(line) for line in lines if not line.startswith("-")]

    assert f"--extra-index-url {CPU_INDEX}" in options
    torch_pins = [requirement for requirement in requirements if requirement.name == "torch"]
    assert len(torch_pins) == 1 and str(torch_pins[0].specifier) == "==2.13.0"

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project_torch = [Requirement(line) for line in pyproject["project"]["dependencies"]
                     if Requirement(line).name == "torch"]
    assert len(project_torch) == 1
    assert torch_pins[0].specifier == project_torch[0].specifier, "binder and pyproject pin different torch"


def test_binder_installs_the_project_itself() -> None:
    # repo2docker runs pip from the repository root, so "." is the project (pyproject.toml lives there).
    installs = [line for line in binder_requirement_lines() if line in ("-e .", ".")]
    assert installs, "binder/requirements.txt must install the project ('-e .')"
    assert (ROOT / "pyproject.toml").is_file()


# ------------------------------------------------------------------ measured figures (tutorials/measure.py)


def measure_tool():
    """``tutorials/measure.py``, loaded as check_notebooks.py does (it is a script, not a package module)."""
    import check_notebooks

    return check_notebooks.measure()


FIGURES = {"runs": {
    "full": {"machine": "2 shared cores", "date": "2026-12-05",
             "notebooks": {"01": {"seconds": 270.4, "disk": 2.6e9, "validation_auc": 0.9581}}},
    "quick": {"notebooks": {f"{number:02d}": {"seconds": 20.0, "disk": 5e6} for number in range(1, 8)}},
}}


def test_rendered_figures_round_trip_and_check_clean() -> None:
    tool = measure_tool()
    text = ("01 takes <!-- fig:01.full.seconds -->a minute<!-- /fig --> and <!-- fig:01.full.disk --><!-- /fig -->"
            " (AUC <!-- fig:01.full.validation_auc -->0.7<!-- /fig -->); the seven in quick mode "
            "<!-- fig:all.quick.seconds -->?<!-- /fig -->, on <!-- fig:full.machine -->?<!-- /fig -->.")
    rendered = tool.render(text, FIGURES)
    assert rendered == ("01 takes <!-- fig:01.full.seconds -->4.5 min<!-- /fig --> and "
                        "<!-- fig:01.full.disk -->2.6 GB<!-- /fig --> (AUC <!-- fig:01.full.validation_auc -->0.958"
                        "<!-- /fig -->); the seven in quick mode <!-- fig:all.quick.seconds -->2.3 min<!-- /fig -->, "
                        "on <!-- fig:full.machine -->2 shared cores<!-- /fig -->.")
    assert tool.render(rendered, FIGURES) == rendered
    assert tool.span_problems(rendered, FIGURES) == []
    assert len(tool.span_problems(text, FIGURES)) == 5  # every stale span is found, the text kept apart


def test_a_figure_that_drifted_or_was_never_measured_is_reported() -> None:
    tool = measure_tool()
    drifted = "<!-- fig:01.full.seconds -->67 s<!-- /fig -->"
    assert tool.span_problems(drifted, FIGURES) == [
        "fig:01.full.seconds says '67 s', figures.json says '4.5 min'; run `python tutorials/measure.py render`"]
    unmeasured = "<!-- fig:04.full.seconds -->9 min<!-- /fig -->"
    assert tool.span_problems(unmeasured, FIGURES) == [
        "figures.json has no value for '04.full.seconds'; measure it (tutorials/measure.py run)"]
    assert tool.render(unmeasured, FIGURES) == unmeasured  # left alone until measured
    with_six = {"runs": {"quick": {"notebooks": {f"0{n}": {"seconds": 1.0} for n in range(1, 7)}}}}
    assert tool.figure_value(with_six, "all.quick.seconds") is None  # a total of six is not "the seven"


def test_the_committed_text_agrees_with_figures_json() -> None:
    """What `make lint` checks, on the committed notebooks and README (it fails if a figure drifted)."""
    assert measure_tool().check_all() == []


def test_every_tutorial_says_time_and_disk_at_the_top(notebook: tuple[str, nbformat.NotebookNode]) -> None:
    import check_notebooks

    name, content = notebook
    assert check_notebooks.check_figures(TUTORIALS / name, content) == []
    content.cells[0].source = content.cells[0].source.replace("fig:", "figure:")
    problems = check_notebooks.check_figures(TUTORIALS / name, content)
    assert problems and "say the time and disk use at the top" in problems[-1]


def test_peak_disk_sees_files_that_are_gone_at_the_end(tmp_path: Path) -> None:
    tool = measure_tool()
    folder = tmp_path / "data"
    folder.mkdir()
    with tool.PeakDisk(folder, interval=0.01) as disk:
        (folder / "a.bin").write_bytes(b"x" * 300_000)
        tool.time.sleep(0.2)  # several samples while the file exists
        (folder / "a.bin").unlink()
        (folder / "b.bin").write_bytes(b"x" * 1000)
    assert disk.peak >= 300_000 and tool.folder_bytes(folder) == 1000
