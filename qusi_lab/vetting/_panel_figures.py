"""The vetting panel's figures: computing and folding a candidate's views, and drawing the next one ahead.

:class:`_FiguresMixin` is the part of :class:`~qusi_lab.vetting.panel.VettingPanel` that turns candidates into
figures: the views (light curve, saliency, the transit or heartbeat fold) come from
:mod:`qusi_lab.vetting.views`; two :class:`_FigureSet` s, one on screen and one hidden, let the panel draw the
next candidate while the user looks at this one, so moving on is a swap of the two
(:meth:`~_FiguresMixin.prepare_next`). The Bokeh-to-page transport they use is in
:mod:`qusi_lab.vetting._transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qusi_lab.vetting._transport import batched_bokeh_model
from qusi_lab.vetting.plots import VettingFigures
from qusi_lab.vetting.queue import Candidate, CandidateQueue
from qusi_lab.vetting.views import (
    CandidateView,
    FoldedView,
    Preloader,
    TruthLookup,
    fold_heartbeat,
    fold_transit,
    is_heartbeat_table,
    prepare_view,
)

#: Seconds after a candidate change before the next candidate is drawn into the hidden figures: time
#: for the browser to show the change first (a full redraw ~0.3 s here).
STANDBY_DELAY = 0.4
#: The same after a swap, which the browser shows in ~0.1 s under load. Waiting STANDBY_DELAY there too made a
#: vetter who presses again ~0.3 s after seeing a candidate meet the next one still being drawn ahead, every
#: other press (fast, slow, fast...); 0.1 s let the next patch land on the swap's own paint in half the
#: presses (docs/benchmark-history.md, 2026-12-05).
SWAPPED_STANDBY_DELAY = 0.2


def _identity(candidate: Candidate) -> tuple[int, str]:
    """Which row a set of figures shows: its place in the table and its key (two rows may share a file)."""
    return candidate.position, candidate.key


class _FigureSet:
    """One set of the panel's figures with the two widgets that embed them.

    The panel has two: the one on screen and a hidden one (CSS class ``qv-standby``: absolutely
    positioned under the other, ``visibility: hidden``) into which the next candidate is drawn while
    the user looks at this one. BokehJS draws hidden figures like visible ones, so going to the next
    candidate swaps the two classes, which the browser shows in a frame (~20-35 ms in headless
    Chromium without a GPU, against 250-450 ms to send and draw a 20,000-point light curve).

    Each widget's class change is a message of its own, and the browser may draw between two of them,
    so a swap shows the hidden set first and then hides the other (never both hidden: no blank frame, no
    collapsed layout); while both are shown, the later one in the page sits on top of the other
    (``_panel_layout._CSS``).
    """

    def __init__(self) -> None:
        self.figures = VettingFigures(left_width=360, right_width=300, compact=True)
        self.left = batched_bokeh_model(self.figures.left)
        self.left.add_class("qv-light-curve-plot")
        self.right = batched_bokeh_model(self.figures.right)
        self.right.add_class("qv-fold-plot")
        self.drawn: tuple[int, str] | None = None  # the candidate drawn (see _identity)
        self.view: CandidateView | None = None
        self.folded: FoldedView | None = None
        self.mode = "transit"

    def show(self, visible: bool) -> None:
        for widget in (self.left, self.right):
            if visible:
                widget.remove_class("qv-standby")
            else:
                widget.add_class("qv-standby")

    @contextlib.contextmanager
    def batch(self) -> Any:
        """One patch message per figure; the light curve's sent first (the batches end last-in first-out):
        the browser applies and draws them in order, and the light curve is what a vetter looks at first."""
        with self.right.batch(), self.left.batch():
            yield


class _FiguresMixin:
    """The figures and drawing-ahead methods of :class:`~qusi_lab.vetting.panel.VettingPanel`."""

    # Set by VettingPanel.__init__ (declared here for the type checker).
    queue: CandidateQueue
    model: Any
    model_fit: Any
    view_mode: str
    draw_ahead: bool
    draw_ahead_error: str | None
    truth: TruthLookup
    saliency_options: dict[str, Any]
    preloader: Preloader
    _load: Any
    _sets: tuple[_FigureSet, _FigureSet]
    _front: int
    _standby_generation: int
    _closed: bool
    _multiplier: float
    _mode: str
    _view: CandidateView | None

    if TYPE_CHECKING:
        def _set_status(self, text: str, *, error: bool = False) -> None: ...

    # ------------------------------------------------------------------ computing views
    def _default_stride(self) -> None:
        # stride None: windows side by side (window = input_length // 64), 4x fewer forward passes.
        if self.saliency_options.get("method", "occlusion") == "occlusion" and \
                self.saliency_options.get("stride", "unset") is None:
            length = getattr(self.model, "input_length", None)  # a Model's (or its network's)
            window = self.saliency_options.get("window") or (max(4, int(length) // 64) if length else None)
            if window:
                self.saliency_options["window"] = int(window)
                self.saliency_options["stride"] = int(window)
            else:
                self.saliency_options.pop("stride")

    def _compute_view(self, candidate: Candidate) -> CandidateView:
        return prepare_view(candidate, load=self._load, model=self.model, saliency_options=self.saliency_options,
                            truth=self.truth, period_method=self.period_method)

    @property
    def period_method(self) -> str:
        """Whose periods the panel folds at: ``"heartbeat"`` for a heartbeat search's table
        (:func:`~qusi_lab.vetting.views.is_heartbeat_table`), and for a heartbeat model's table without periods
        (the panel searches them with the heartbeat search, when this qusi_lab has one); else ``"bls"``."""
        table = self.queue.table
        if is_heartbeat_table(table):
            return "heartbeat"
        if "period" in table.columns or self.view_mode == "transit":
            return "bls"
        import qusi_lab.inference

        if not hasattr(qusi_lab.inference, "search_heartbeat"):
            return "bls"
        return "heartbeat" if self.view_mode == "heartbeat" or self._classes_say_heartbeat() else "bls"

    def _classes_say_heartbeat(self) -> bool:
        attrs = self.queue.table.attrs
        classes = " ".join(str(value) for value in (attrs.get("positive_class"), attrs.get("score")) if value)
        return "heartbeat" in classes.lower()

    def _mode_for(self, candidate: Candidate) -> str:
        if self.view_mode != "auto":
            return self.view_mode
        if is_heartbeat_table(self.queue.table):
            return "heartbeat"
        for name in ("predicted", "label"):
            value = candidate.get(name)
            if value is not None and "heartbeat" in str(value).lower():
                return "heartbeat"
        return "heartbeat" if self._classes_say_heartbeat() else "transit"

    def _fold(self, view: CandidateView | None = None, *, mode: str | None = None,
              multiplier: float | None = None, candidate: Candidate | None = None,
              report: bool = True) -> FoldedView | None:
        """The folded view (of the current candidate unless given); ``report``: fit problems to the status."""
        view = self._view if view is None else view
        mode = self._mode if mode is None else mode
        multiplier = self._multiplier if multiplier is None else multiplier
        candidate = self.queue.current if candidate is None else candidate
        if view is None or view.error is not None:
            return None
        if mode == "heartbeat":
            curve = None
            if callable(self.model_fit) and candidate is not None:
                try:
                    curve = self.model_fit(view, candidate)
                except Exception as error:  # a failing fit must not take the panel down
                    if report:
                        self._set_status(f"model fit failed: {type(error).__name__}: {error}", error=True)
            # A heartbeat search's epoch is a periastron: the fold keeps it at phase 0, and the fit starts from the
            # search's orbit too (at the search's period only: at another the orbit is not that one).
            searched = view.period_method == "heartbeat"
            guess = ({"epoch_periastron": view.epoch, **view.heartbeat} if searched and multiplier == 1.0
                     else None)
            folded = fold_heartbeat(view, multiplier, model_curve=curve, model_label="model fit",
                                    fit=self.model_fit == "auto", center="epoch" if searched else "feature",
                                    guess=guess)
            if report:
                self._report_fit(folded)
            return folded
        return fold_transit(view, multiplier)

    def _report_fit(self, folded: FoldedView | None) -> None:
        if folded is not None and folded.fit_problem:
            self._set_status(f"heartbeat fit failed: {html.escape(folded.fit_problem)}", error=True)

    # ------------------------------------------------------------------ drawing ahead
    def _schedule_standby(self, *, swapped: bool = False) -> None:
        """Draw the next candidate into the hidden figures once the browser has drawn this one.

        In a kernel (a notebook, Voila) this runs on its event loop, ``STANDBY_DELAY`` seconds after
        the candidate changed (``SWAPPED_STANDBY_DELAY`` after a swap), so that the browser paints the
        change first; elsewhere (scripts, tests) call :meth:`prepare_next`.
        """
        self._standby_generation += 1
        if not self.draw_ahead:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_later(SWAPPED_STANDBY_DELAY if swapped else STANDBY_DELAY, self._prepare_next_when_ready,
                        self._standby_generation, loop)

    def _prepare_next_when_ready(self, generation: int, loop: asyncio.AbstractEventLoop) -> None:
        if generation != self._standby_generation or self._closed:
            return  # the user moved on since: a newer call is scheduled
        upcoming = self.queue.upcoming(1, previous=False)
        if upcoming and not self.preloader.is_ready(upcoming[0]):
            # Never wait for the background thread on the event loop: that would hold up key presses.
            loop.call_later(0.1, self._prepare_next_when_ready, generation, loop)
            return
        try:
            self.prepare_next()
        except Exception as error:
            # On the event loop nobody would see it: the candidate is drawn when shown instead, where any
            # error reaches the status line as usual.
            self.draw_ahead_error = f"{type(error).__name__}: {error}"

    def prepare_next(self) -> Candidate | None:
        """Draw the next candidate of the queue into the hidden set of figures (if not there already).

        Moving on to it then swaps the two sets (``timings["plots"]`` well under a millisecond) instead of
        sending its light curve to the browser and waiting for it to be drawn.
        """
        upcoming = self.queue.upcoming(1, previous=False)
        if not upcoming:
            return None
        candidate = upcoming[0]
        standby = self._sets[1 - self._front]
        if standby.drawn == _identity(candidate):
            return candidate
        view = self.preloader.get(candidate)
        mode = self._mode_for(candidate)
        folded = self._fold(view, mode=mode, multiplier=1.0, candidate=candidate, report=False)
        with standby.batch():  # update() shows a view's read error itself
            standby.figures.update(view, folded, mode=mode, title=self._plot_title(candidate))
        standby.drawn, standby.view, standby.folded, standby.mode = _identity(candidate), view, folded, mode
        return candidate

    @property
    def figures(self) -> VettingFigures:
        """The Bokeh figures on screen (:class:`~qusi_lab.vetting.plots.VettingFigures`)."""
        return self._sets[self._front].figures

    @property
    def light_curve_plot(self) -> Any:
        """The widget showing the light curve and saliency figures on screen."""
        return self._sets[self._front].left

    @property
    def fold_plot(self) -> Any:
        """The widget showing the folded figures on screen."""
        return self._sets[self._front].right

    @contextlib.contextmanager
    def _one_patch_per_figure(self) -> Any:
        with self._sets[self._front].batch():
            yield

    def _plot_title(self, candidate: Candidate | None = None) -> str:
        candidate = self.queue.current if candidate is None else candidate
        if candidate is None:
            return "Light curve"
        parts = [candidate.target_id or Path(candidate.path).name or candidate.key]
        if candidate.mission:
            parts.append(candidate.mission)
        if str(candidate.sector):
            parts.append(f"sector {candidate.sector}" if candidate.mission in ("TESS", "") else
                         f"{'quarter' if candidate.mission == 'Kepler' else 'campaign'} {candidate.sector}")
        return "Light curve · " + " · ".join(parts)

    def _refresh_plot_widgets(self) -> None:
        """Put the figures' current state into the embedded widgets' render bundles.

        Bokeh patches sent before a widget is on screen are lost (nothing applies them in the
        browser), so each time the panel is displayed the widgets start from the full current state.
        """
        for figure_set in self._sets:
            figure_set.left.update_from_model(figure_set.figures.left)
            figure_set.right.update_from_model(figure_set.figures.right)

