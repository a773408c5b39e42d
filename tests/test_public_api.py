"""`import qusi_lab as ql` gives every documented name, and importing it stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import qusi_lab as ql


@pytest.mark.parametrize("name", ql.__all__)
def test_every_public_name_resolves(name):
    assert getattr(ql, name) is not None


def test_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'not_a_thing'"):
        ql.not_a_thing  # noqa: B018


def test_version_matches_pyproject():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert ql.__version__ == pyproject["project"]["version"]


def test_import_does_not_load_heavy_optional_modules():
    code = "import sys, qusi_lab; print(sorted(m for m in ('lightkurve', 'bokeh', 'ipywidgets', 'batman') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
