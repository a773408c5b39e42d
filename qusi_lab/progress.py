"""One progress bar for every long loop (training steps, scoring, period search): ``tqdm.auto`` or nothing.

A leaf module (it imports only ``tqdm``, and IPython in a notebook, only when a bar is shown), so every layer
can use it.

In a notebook the bar is an ipywidget, and a saved notebook keeps, besides the widget, the plain-text form
of the output as it was when the bar was first shown: "0/1500", which is what a static render (GitHub,
nbviewer without widget state, ``nbconvert --to html``) shows. So the bar is displayed with a display id and,
when it closes, that output is replaced by the final state ("1500/1500 [04:10, 6.0 step/s]").

Example
-------
>>> bar = ProgressBar(10, enabled=False)   # disabled: every call does nothing
>>> bar.update(3, loss=0.25)
>>> bar.close()
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["ProgressBar"]


def _short(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


class ProgressBar:
    """A ``tqdm.auto`` bar (a widget in Jupyter, text in a terminal) with optional live values; does nothing when
    disabled.

    ``unit`` names what is counted (``"step"``, ``"curve"``); other keywords go to tqdm (``smoothing=0.1``).
    ``total`` None: a count without an end (a streamed input of unknown length).
    """

    def __init__(self, total: int | None, initial: int = 0, enabled: bool = True, description: str = "training",
                 unit: str = "step", **options: Any) -> None:
        self.bar: Any = None
        self.postfix: dict[str, str] = {}
        self._display: Any = None  # the notebook output showing the bar, updated to its final state on close
        if enabled:
            from tqdm import auto

            tqdm = auto.tqdm
            # tqdm.auto chose the notebook (widget) bar; a delayed bar displays itself later, so leave it be.
            notebook = auto.notebook_tqdm is not auto.std_tqdm and not options.get("delay")
            if notebook:
                options["display"] = False  # shown below, with a display id
            self.bar = tqdm(total=total, initial=initial, desc=description, unit=unit, dynamic_ncols=True,
                            **options)
            container = getattr(self.bar, "container", None)  # None when tqdm was disabled (TQDM_DISABLE=1)
            if notebook and container is not None:
                from IPython.display import display

                self._display = display(container, display_id=True)

    def update(self, steps: int = 1, **postfix: Any) -> None:
        if self.bar is None:
            return
        if postfix:
            self.postfix.update({key: _short(value) for key, value in postfix.items()})
            self.bar.set_postfix(self.postfix, refresh=False)
        self.bar.update(steps)

    def set(self, **postfix: Any) -> None:
        if self.bar is None:
            return
        self.postfix.update({key: _short(value) for key, value in postfix.items()})
        self.bar.set_postfix(self.postfix)

    def close(self) -> None:
        if self.bar is None:
            return
        self.bar.close()
        if self._display is not None:
            # The same widget again, now with the final text as its plain-text form.
            self._display.update(self.bar.container)
            self._display = None
