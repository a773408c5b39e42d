"""What qusi_lab puts into a notebook page besides its widgets: BokehJS, once per page.

``jupyter_bokeh``'s ``BokehModel`` views draw with the page's BokehJS (its JupyterLab extension does not
bundle it; its maintainers' answer is "run ``bokeh.io.output_notebook()``", bokeh/jupyter_bokeh#150), and
without it they fail with "Cannot read properties of undefined (reading 'require')". ``output_notebook``
publishes the whole of BokehJS *twice* in one output (as ``application/javascript`` for the classic notebook
and as ``application/vnd.bokehjs_load.v0+json`` for JupyterLab's bokeh extension) and with every component,
the 1.8 MB of MathJax included: 8 MB in every saved notebook with a figure (issue 14, item 7).
:func:`load_bokehjs` publishes it once, as ``application/javascript`` only (JupyterLab, Notebook 7, Voila
and the classic notebook all run it), only the components qusi_lab's figures use (core and widgets, 1.65 MB), and
compressed: raw DEFLATE in base64 (610 kB), inflated in the page by a small synchronous decoder
(:data:`INFLATE_JS`; ~0.2 s, once) before it runs, so the page has BokehJS when the first view asks for it.

Once per *page*, not once per kernel: a reloaded page keeps its kernel but has lost BokehJS. Every page
(every browser tab, every nbclient run) talks to the kernel under its own session id, so the loader
remembers the sessions it has served. Outside a kernel (scripts, tests) nothing is published.

Example
-------
>>> load_bokehjs()          # not in a kernel: publishes nothing
False
>>> len(bokehjs_loader()) > 1_000_000   # the loader with BokehJS inline (works offline and in Voila)
True
>>> len(compressed_loader()) < 700_000   # what is published: the same, compressed
True
"""

from __future__ import annotations

import base64
import zlib
from typing import Any

__all__ = ["BOKEH_COMPONENTS", "BOKEHJS_MARK", "INFLATE_JS", "bokehjs_loader", "compressed_loader", "load_bokehjs", "page_session"]

#: The first line of the published loader: how a test counts the copies of BokehJS in a saved notebook.
BOKEHJS_MARK = "/* qusi_lab: BokehJS, compressed */"

#: A synchronous raw-DEFLATE (RFC 1951) decoder: ``qusiInflate(bytes, size)`` returns the ``size`` bytes.
#: Synchronous on purpose: the browser's ``DecompressionStream`` is asynchronous, and jupyter_bokeh's views
#: call ``window.Bokeh`` as soon as they are made.
INFLATE_JS = """function qusiInflate(src, size) {
  var out = new Uint8Array(size), n = 0, pos = 0, buf = 0, cnt = 0;
  function bits(need) {
    while (cnt < need) { buf |= src[pos++] << cnt; cnt += 8; }
    var value = buf & ((1 << need) - 1);
    buf >>>= need; cnt -= need;
    return value;
  }
  function build(lengths, start, count) {
    var counts = new Uint16Array(16), offsets = new Uint16Array(16), symbols = new Uint16Array(count), i;
    for (i = 0; i < count; i++) counts[lengths[start + i]]++;
    counts[0] = 0;
    for (i = 1; i < 16; i++) offsets[i] = offsets[i - 1] + counts[i - 1];
    for (i = 0; i < count; i++) if (lengths[start + i]) symbols[offsets[lengths[start + i]]++] = i;
    return [counts, symbols];
  }
  function decode(table) {
    var code = 0, first = 0, index = 0, len, count, counts = table[0];
    for (len = 1; len < 16; len++) {
      if (cnt === 0) { buf = src[pos++]; cnt = 8; }
      code |= buf & 1; buf >>>= 1; cnt--;
      count = counts[len];
      if (code - count < first) return table[1][index + code - first];
      index += count; first = (first + count) << 1; code <<= 1;
    }
    throw new Error("qusi_lab: corrupt BokehJS data");
  }
  var LBASE = [3,4,5,6,7,8,9,10,11,13,15,17,19,23,27,31,35,43,51,59,67,83,99,115,131,163,195,227,258];
  var LEXT = [0,0,0,0,0,0,0,0,1,1,1,1,2,2,2,2,3,3,3,3,4,4,4,4,5,5,5,5,0];
  var DBASE = [1,2,3,4,5,7,9,13,17,25,33,49,65,97,129,193,257,385,513,769,1025,1537,2049,3073,4097,6145,
               8193,12289,16385,24577];
  var DEXT = [0,0,0,0,1,1,2,2,3,3,4,4,5,5,6,6,7,7,8,8,9,9,10,10,11,11,12,12,13,13];
  var ORDER = [16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1,15];
  var last, type, lengths, lencode, distcode, i, sym, len, dist;
  do {
    last = bits(1); type = bits(2);
    if (type === 0) {
      buf = 0; cnt = 0;
      len = src[pos] | (src[pos + 1] << 8); pos += 4;
      out.set(src.subarray(pos, pos + len), n); pos += len; n += len;
      continue;
    }
    if (type === 1) {
      lengths = new Uint8Array(320);
      for (i = 0; i < 288; i++) lengths[i] = i < 144 ? 8 : i < 256 ? 9 : i < 280 ? 7 : 8;
      for (i = 288; i < 318; i++) lengths[i] = 5;
      lencode = build(lengths, 0, 288); distcode = build(lengths, 288, 30);
    } else if (type === 2) {
      var nlen = bits(5) + 257, ndist = bits(5) + 1, ncode = bits(4) + 4;
      lengths = new Uint8Array(320);
      for (i = 0; i < ncode; i++) lengths[ORDER[i]] = bits(3);
      var codecode = build(lengths, 0, 19);
      lengths = new Uint8Array(320);
      i = 0;
      while (i < nlen + ndist) {
        sym = decode(codecode);
        if (sym < 16) { lengths[i++] = sym; continue; }
        len = 0;
        if (sym === 16) { len = lengths[i - 1]; sym = 3 + bits(2); }
        else if (sym === 17) sym = 3 + bits(3);
        else sym = 11 + bits(7);
        while (sym--) lengths[i++] = len;
      }
      lencode = build(lengths, 0, nlen); distcode = build(lengths, nlen, ndist);
    } else {
      throw new Error("qusi_lab: corrupt BokehJS data");
    }
    for (;;) {
      sym = decode(lencode);
      if (sym < 256) { out[n++] = sym; continue; }
      if (sym === 256) break;
      sym -= 257;
      len = LBASE[sym] + bits(LEXT[sym]);
      sym = decode(distcode);
      dist = DBASE[sym] + bits(DEXT[sym]);
      while (len--) { out[n] = out[n - dist]; n++; }
    }
  } while (!last);
  return out;
}
"""

#: The BokehJS components qusi_lab's figures need: plots, glyphs, tools and ``CustomJS`` are in the core; the
#: vetting panel's caption under the zooms is a ``Div``, a Bokeh widget model, so ``bokeh-widgets`` too (without
#: it the whole fold column fails to render: "Click to show javascript error"). No tables, WebGL or MathJax:
#: 2.3 MB the page does not need.
BOKEH_COMPONENTS: tuple[str, ...] = ("bokeh", "bokeh-widgets")

# Page sessions (kernel-client session ids) that have been sent BokehJS.
_served_sessions: set[str] = set()
_loader_cache: dict[tuple[str, ...], str] = {}


def _kernel() -> Any:
    """The running ipykernel, or ``None`` outside one."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None) if shell is not None else None


def page_session() -> str | None:
    """The session id of the page (browser tab, nbclient run) whose request the kernel is handling, if any."""
    kernel = _kernel()
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent()
    except Exception:  # noqa: BLE001 - an older or different kernel: treat it as one page
        return "kernel"
    header = parent.get("header", {}) if isinstance(parent, dict) else {}
    return str(header.get("session") or "kernel")


def bokehjs_loader(components: tuple[str, ...] = BOKEH_COMPONENTS) -> str:
    """The JavaScript that loads BokehJS ``components`` inline into a notebook page (what ``output_notebook``
    publishes, without its banner)."""
    if components not in _loader_cache:
        from bokeh.embed.bundle import bundle_for_objs_and_resources
        from bokeh.io.notebook import _loading_js
        from bokeh.resources import Resources

        resources = Resources(mode="inline", components=list(components))  # type: ignore[arg-type]
        bundle = bundle_for_objs_and_resources(None, resources)
        _loader_cache[components] = _loading_js(bundle, None, load_timeout=5000, register_mime=True)
    return _loader_cache[components]


def compressed_loader(components: tuple[str, ...] = BOKEH_COMPONENTS) -> str:
    """:func:`bokehjs_loader` compressed, as the JavaScript that inflates and runs it (what is published)."""
    key = ("compressed", *components)
    if key not in _loader_cache:
        source = bokehjs_loader(components).encode()
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw DEFLATE: no zlib header for the decoder to skip
        packed = base64.b64encode(packer.compress(source) + packer.flush()).decode("ascii")
        _loader_cache[key] = (
            f"{BOKEHJS_MARK}\n(function () {{\n{INFLATE_JS}\n"
            f'  var packed = atob("{packed}");\n'
            "  var bytes = new Uint8Array(packed.length);\n"
            "  for (var i = 0; i < packed.length; i++) bytes[i] = packed.charCodeAt(i);\n"
            f"  (0, eval)(new TextDecoder().decode(qusiInflate(bytes, {len(source)})));\n"
            "})();\n")
    return _loader_cache[key]


def load_bokehjs(force: bool = False) -> bool:
    """Put BokehJS into the notebook page, once per page; ``True`` when it was published now.

    ``force=True`` publishes it again (a page that lost it some other way). Does nothing outside a kernel.
    """
    session = page_session()
    if session is None:
        return False
    if session in _served_sessions and not force:
        return False
    from IPython.display import publish_display_data

    publish_display_data({"application/javascript": compressed_loader()})
    _bokeh_state_loaded()
    _served_sessions.add(session)
    return True


def _bokeh_state_loaded() -> None:
    """Switch bokeh.io to notebook output, as ``output_notebook`` does, so ``bokeh.io.show`` draws inline."""
    from bokeh.io.state import curstate

    curstate().output_notebook()
