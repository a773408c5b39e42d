"""What qusi_lab puts into a notebook page besides its widgets (``qusi_lab._notebook``, issue 14 item 7).

BokehJS is published once per page (kernel-client session), as one ``application/javascript`` output,
compressed; the page's decoder (run here in Node.js, as the browser runs it) gives back bokeh's own loader
byte for byte. The slow ``test_notebook_weight.py`` checks the same on an executed tutorial, and
``test_vetting_browser.py`` that the figures draw in JupyterLab, Notebook 7 and Voila.
"""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import zlib
from pathlib import Path
from typing import Any

import pytest

from qusi_lab import _notebook
from qusi_lab._notebook import BOKEHJS_MARK, INFLATE_JS, bokehjs_loader, compressed_loader, load_bokehjs


class FakeKernel:
    """The one thing load_bokehjs asks a kernel: the session of the request it is handling."""

    def __init__(self) -> None:
        self.session = "page-1"

    def get_parent(self) -> dict[str, Any]:
        return {"header": {"session": self.session}}


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch) -> tuple[FakeKernel, list[dict[str, str]]]:
    kernel, published = FakeKernel(), []
    monkeypatch.setattr(_notebook, "_kernel", lambda: kernel)
    monkeypatch.setattr(_notebook, "_served_sessions", set())
    monkeypatch.setattr("IPython.display.publish_display_data", published.append)
    return kernel, published


def test_bokehjs_is_published_once_per_page(page: tuple[FakeKernel, list[dict[str, str]]]) -> None:
    kernel, published = page
    assert load_bokehjs() is True
    assert load_bokehjs() is False  # the same page: a second panel, a tuner, a re-run cell
    assert len(published) == 1
    assert list(published[0]) == ["application/javascript"]  # not also bokeh's application/vnd.bokehjs_load
    assert published[0]["application/javascript"].startswith(BOKEHJS_MARK)
    kernel.session = "page-2"  # the page reloaded (same kernel): it has lost BokehJS
    assert load_bokehjs() is True and len(published) == 2
    assert load_bokehjs(force=True) is True and len(published) == 3


def test_outside_a_kernel_nothing_is_published(monkeypatch: pytest.MonkeyPatch) -> None:
    published: list[dict[str, str]] = []
    monkeypatch.setattr("IPython.display.publish_display_data", published.append)
    assert load_bokehjs() is False and published == []


def test_only_the_components_the_figures_use_are_loaded() -> None:
    loader = bokehjs_loader()
    assert "bokeh-mathjax" not in loader and "bokeh-tables" not in loader and "bokeh-gl" not in loader
    assert "bokeh-widgets" in loader
    assert 1_000_000 < len(loader) < 2_000_000  # bokeh + bokeh-widgets (1.65 MB), not the 3.9 MB of every component
    assert len(compressed_loader()) < len(loader) / 2.5


def _packed(loader: str) -> tuple[bytes, int]:
    match = re.search(r'atob\("([A-Za-z0-9+/=]+)"\)', loader)
    size = re.search(r"qusiInflate\(bytes, (\d+)\)", loader)
    assert match and size
    return base64.b64decode(match[1]), int(size[1])


def test_the_packed_bytes_are_bokehs_loader() -> None:
    raw, size = _packed(compressed_loader())
    assert zlib.decompress(raw, -15) == bokehjs_loader().encode() and size == len(bokehjs_loader().encode())


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the page's decoder; not installed")
@pytest.mark.parametrize("level", [0, 1, 9])  # stored, fixed and dynamic Huffman blocks
def test_the_pages_decoder_inflates_what_zlib_deflates(tmp_path: Path, level: int) -> None:
    source = bokehjs_loader().encode()[:400_000] + bytes(range(256)) * 40  # text, then every byte value
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    (tmp_path / "in.bin").write_bytes(packer.compress(source) + packer.flush())
    script = tmp_path / "inflate.js"
    script.write_text(INFLATE_JS + f"""
const fs = require("fs");
fs.writeFileSync({str(tmp_path / "out.bin")!r},
                 qusiInflate(new Uint8Array(fs.readFileSync({str(tmp_path / "in.bin")!r})), {len(source)}));
""")
    subprocess.run(["node", str(script)], check=True, timeout=120)
    assert (tmp_path / "out.bin").read_bytes() == source


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js runs the page's loader; not installed")
def test_the_published_script_runs_bokehs_loader(tmp_path: Path) -> None:
    """The whole published script, with eval replaced by a recorder: it hands bokeh's loader over intact."""
    script = tmp_path / "loader.js"
    script.write_text(compressed_loader().replace(
        "(0, eval)(", f"require('fs').writeFileSync({str(tmp_path / 'ran.js')!r}, "))
    subprocess.run(["node", str(script)], check=True, timeout=120)
    assert (tmp_path / "ran.js").read_text() == bokehjs_loader()


@pytest.mark.parametrize("compact", [False, True])
def test_every_bokeh_model_of_the_panel_is_in_a_loaded_component(compact: bool) -> None:
    """A Bokeh widget model (``Div``) in the figures with only the core component loaded left the fold column
    blank ("Click to show javascript error") in every browser; the browser tests caught it, this names it."""
    from bokeh.models import Model

    from qusi_lab._notebook import BOKEH_COMPONENTS
    from qusi_lab.vetting.plots import VettingFigures

    figures = VettingFigures(compact=compact)
    models: set[Model] = set()
    for root in (figures.left, figures.right):
        models |= root.references()
    needs = {"bokeh"}
    for model in models:
        module = type(model).__module__
        if module.startswith("bokeh.models.widgets.tables"):
            needs.add("bokeh-tables")
        elif module.startswith("bokeh.models.widgets"):
            needs.add("bokeh-widgets")
    assert needs <= set(BOKEH_COMPONENTS), f"the figures use {sorted(needs)}; loaded: {BOKEH_COMPONENTS}"
