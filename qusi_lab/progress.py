"""One progress bar for every long loop (training steps, scoring, period search): ``tqdm.auto`` or nothing.

A leaf module (it imports only ``tqdm``, and only when a bar is shown), so every layer can use it.

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
    """

    def __init__(self, total: int, initial: int = 0, enabled: bool = True, description: str = "training",
                 unit: str = "step", **options: Any) -> None:
        self.bar: Any = None
        self.postfix: dict[str, str] = {}
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=initial, desc=description, unit=unit, dynamic_ncols=True,
                            **options)

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
        if self.bar is not None:
            self.bar.close()
