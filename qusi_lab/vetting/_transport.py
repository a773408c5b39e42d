"""The transport between the kernel's Bokeh figures and the page: a patch of ``jupyter_bokeh``'s widget protocol.

What it patches, and why
------------------------
The vetting panel embeds its Bokeh figures as ``jupyter_bokeh`` ``BokehModel`` widgets (no Bokeh server, no
extra port). Out of the box that transport is slow for a panel that replaces a 20,000-point light curve per
key press, in two ways, and :func:`batched_bokeh_model` changes both:

1. **One message per change.** ``BokehModel._document_patched`` sends one ``PATCH-DOC`` message per Bokeh
   document event, and showing a candidate changes ~30 properties; BokehJS applies each message on its own.
   The returned widget's ``_document_patched`` is replaced by one that, inside ``widget.batch()``, collects
   the events and sends them as one ``PATCH-DOC`` message (the same framing as jupyter_bokeh's).
2. **The page echoes every patch back.** jupyter_bokeh's view (4.1) sends each change of its BokehJS document
   back to the kernel, including those it has just applied from the kernel (BokehJS marks them
   ``sync: false``; Bokeh's own server connection drops them). :data:`_NO_ECHO_JS` runs once in the page when
   the document is ready and wraps the document's change listeners so that only changes made in the page
   (zoom, pan, reset) are sent. If BokehJS's internals differ it changes nothing.

Outside ``batch()`` the widget behaves as a plain ``BokehModel``. :func:`_close_tree` closes a widget tree
around a jupyter_bokeh ``close()`` that fails when called twice. Measured in headless Chromium without a GPU:
see benchmarks/README.md and :func:`batched_bokeh_model`.
"""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["batched_bokeh_model"]


def _close_tree(widget: Any) -> None:
    """Close a widget and everything inside it (not Widget.close_all: that closes every widget of the kernel)."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    if type(widget).__name__ == "BokehModel":
        # jupyter_bokeh's close() fails when called twice (here, then by __del__): leave it to __del__.
        return
    widget.close()


# jupyter_bokeh's view sends every change of its BokehJS document back to the kernel, including the changes
# it has just applied from the kernel's own patch (BokehJS marks those ``sync: false``; Bokeh's server
# connection drops them, jupyter_bokeh 4.1 does not). For a candidate that is the whole light curve again,
# base64-encoded on the page's main thread: ~45 ms before the light curve could be drawn, measured in
# headless Chromium. When the document is ready, this wraps its change listeners so that only changes made
# in the page (zoom, pan, reset) are sent. If BokehJS's internals differ, it changes nothing.
_NO_ECHO_JS = """
const doc = cb_obj;
const listeners = doc._callbacks;
if (listeners instanceof Map && typeof doc.remove_on_change === "function") {
  for (const [listener, batches] of [...listeners]) {
    if (listener.qusi_page_changes_only) continue;
    const page_changes_only = (event) => { if (event.sync !== false) listener(event); };
    page_changes_only.qusi_page_changes_only = true;
    doc.remove_on_change(listener);
    doc.on_change(page_changes_only, batches);
  }
}
"""


def batched_bokeh_model(model: Any) -> Any:
    """A ``jupyter_bokeh`` ``BokehModel`` of ``model`` that can send one update as one patch message.

    ``BokehModel`` sends one ``PATCH-DOC`` message per document event; showing a candidate changes
    some 30 properties (sources, ranges, titles, spans), and BokehJS applies each message on its own.
    Inside the widget's ``batch()`` the events are collected and sent as one message when it ends, so
    the browser applies a candidate in one go; outside it the widget behaves as ``BokehModel``. Its
    document also gets ``_NO_ECHO_JS``, so the page does not send the patches back. (In
    headless Chromium without a GPU the key-to-redrawn-light-curve time went from 405-554 ms to
    280-422 ms, a gain within the spread of those runs; most of the time is BokehJS drawing, see
    benchmarks/README.md.)
    """
    import json

    from bokeh.document import Document
    from bokeh.models import CustomJS
    from bokeh.protocol import Protocol
    from jupyter_bokeh.widgets import BokehModel

    if model.document is None:
        Document().add_root(model)
    model.document.js_on_event("document_ready", CustomJS(code=_NO_ECHO_JS))
    widget = BokehModel(model)
    pending: list[list[Any]] = []  # the events of the batch under way (none: not batching)

    def send_events(events: list[Any]) -> None:
        # The message framing of BokehModel._document_patched, with several events in it.
        message = Protocol().create("PATCH-DOC", events)
        widget.send({"msg": "patch", "payload": message.header_json})
        widget.send({"msg": "patch", "payload": message.metadata_json})
        widget.send({"msg": "patch", "payload": message.content_json})
        for buffer in message.buffers:
            widget.send({"msg": "patch", "payload": json.dumps(buffer.ref)})
            widget.send({"msg": "patch"}, [buffer.to_bytes()])

    def document_patched(event: Any) -> None:
        # Bokeh dispatches document events to ``receiver._document_patched``: this instance attribute.
        if event.setter is widget:
            return
        if pending:
            pending[-1].append(event)
        else:
            send_events([event])

    @contextlib.contextmanager
    def batch() -> Any:
        if pending:  # nested: the outer batch sends
            yield
            return
        pending.append([])
        try:
            yield
        finally:
            events = pending.pop()
            if events:
                send_events(events)

    widget._document_patched = document_patched
    widget.batch = batch
    return widget
