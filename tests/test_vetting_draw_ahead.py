"""The vetting panel draws the next candidate ahead in time for a vetter who keeps pressing ``j``.

Issue 14: in JupyterLab the key to the next candidate alternated fast and slow. The panel drew the next
candidate into its hidden figures 0.4 s after every change; a vetter who presses again ~0.3 s after a
candidate appears found it still being drawn after each fast swap, and not after each slow one (which gave
the drawing ahead time): fast, slow, fast, slow. Here the panel's event loop runs on a virtual clock, so the
test counts which presses found the next candidate drawn ahead (the two sets of figures swapped) without
measuring any time: a swap is on screen 0.1 s after the key, a redraw 0.5 s (as measured in headless
Chromium, see benchmarks/bench_vetting_browser.py), and the vetter presses 0.25 s after seeing it.
"""

from __future__ import annotations

import heapq
import itertools
import types
import warnings

import pytest

from qusi_lab.vetting import _panel_figures
from qusi_lab.vetting.panel import VettingPanel

SHOWN_AFTER = {True: 0.1, False: 0.5}  # seconds from the key to the candidate on screen: swapped, redrawn
REACTION = 0.25  # seconds from seeing a candidate to the next key


class VirtualLoop:
    """The ``call_later`` of an asyncio loop, on a clock that moves only when told (nothing waits)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._calls: list = []
        self._order = itertools.count()

    def call_later(self, delay, callback, *args):
        heapq.heappush(self._calls, (self.now + delay, next(self._order), callback, args))

    def advance(self, seconds: float) -> None:
        """Run, in order, every call due within ``seconds`` (and those they schedule in that time)."""
        until = self.now + seconds
        while self._calls and self._calls[0][0] <= until:
            when, _, callback, args = heapq.heappop(self._calls)
            self.now = when
            callback(*args)
        self.now = until


@pytest.fixture(scope="module")
def candidates(tmp_path_factory):
    import torch

    from qusi_lab.inference import infer, save_candidates
    from qusi_lab.models import Hadryss
    from qusi_lab.synthetic import make_sector
    from qusi_lab.training import save_bundle
    from qusi_lab.transforms import default_preprocessing

    root = tmp_path_factory.mktemp("draw_ahead")
    sector = make_sector(root / "data", n_stars=10, seed=3, num_workers=1)
    torch.manual_seed(0)
    bundle = save_bundle(Hadryss(input_length=256), root / "model", task="binary",
                         label_names=["negative", "positive"], preprocessing=default_preprocessing(256))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = infer(bundle, [str(path) for path in sector.paths], num_workers=0, progress=False)
    return save_candidates(table, root / "candidates.csv")


def presses_drawn_ahead(candidates, labels, monkeypatch, presses: int = 8) -> list[bool]:
    """Press ``j`` ``presses`` times as the vetter above; for each press, whether it swapped in figures drawn
    ahead (True) or had to draw the candidate on screen (False)."""
    loop = VirtualLoop()
    monkeypatch.setattr(_panel_figures, "asyncio", types.SimpleNamespace(get_running_loop=lambda: loop))
    panel = VettingPanel(candidates, labels=labels, preload=2)
    try:
        swapped = True  # the first candidate, shown by the constructor, with the next one drawn ahead
        result = []
        for press in range(presses):
            # The views of the next candidates are ready (computed in the background while the vetter looks):
            # only when the figures are drawn is left to the panel's loop.
            for upcoming in panel.queue.upcoming(2, previous=False):
                panel.preloader.get(upcoming)
            loop.advance(SHOWN_AFTER[swapped] + REACTION)
            front = panel._front
            panel.handle_key({"event": "keydown", "key": "j", "timeStamp": float(press), "target": {"tagName": "DIV"}})
            swapped = panel._front != front
            result.append(swapped)
        assert panel.draw_ahead_error is None
        return result
    finally:
        panel.close()


def test_every_press_finds_the_next_candidate_drawn_ahead(candidates, tmp_path, monkeypatch):
    assert presses_drawn_ahead(candidates, tmp_path / "labels.csv", monkeypatch) == [True] * 8


def test_drawing_ahead_as_late_after_a_swap_as_after_a_redraw_alternates(candidates, tmp_path, monkeypatch):
    """The control: with the old wait after a swap, the same vetter gets every other candidate drawn ahead (the
    first press finds the one the constructor drew)."""
    monkeypatch.setattr(_panel_figures, "SWAPPED_STANDBY_DELAY", _panel_figures.STANDBY_DELAY)
    assert presses_drawn_ahead(candidates, tmp_path / "labels.csv", monkeypatch) == [True, False] * 4
