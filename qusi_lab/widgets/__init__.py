"""Notebook widgets that are not vetting: look at a dataset and tune its augmentation before training.

=================================  ====================================================================
:class:`AugmentationTuner`         sliders for every augmentation, original vs augmented curves live
:class:`DatasetBrowser`            flip through a dataset's samples per class with their labels
=================================  ====================================================================

Both are also ``ql.AugmentationTuner`` and ``ql.DatasetBrowser``. They import ipywidgets and Bokeh, so they
load on first use. (Until 0.2 they are also importable, deprecated, from ``qusi_lab.vetting``.)

Example
-------
>>> import qusi_lab as ql                                                  # doctest: +SKIP
>>> ql.widgets.DatasetBrowser(train)                                       # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["AugmentationTuner", "DatasetBrowser"]

_WIDGETS = {
    "AugmentationTuner": "qusi_lab.widgets.tuner",
    "DatasetBrowser": "qusi_lab.widgets.browser",
}


def __getattr__(name: str) -> Any:
    # The widgets import ipywidgets and Bokeh: load them only when asked for.
    if name in _WIDGETS:
        return getattr(importlib.import_module(_WIDGETS[name]), name)
    raise AttributeError(f"module 'qusi_lab.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
