"""Moved names keep working from their old place, with a ``DeprecationWarning``, until 0.2.

A module whose names moved ends with::

    __getattr__ = moved_names(__name__, {"AugmentationTuner": "qusi_lab.widgets.tuner"})

and ``from qusi_lab.vetting.tuner import AugmentationTuner`` then warns once per access and returns the object
from its new home. A renamed callable keeps its old name with :func:`renamed`.

Example
-------
>>> import warnings
>>> getter = moved_names("qusi_lab.old_place", {"LightCurve": "qusi_lab.lightcurve"})
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     cls = getter("LightCurve")
>>> cls.__name__, caught[0].category.__name__
('LightCurve', 'DeprecationWarning')
>>> print(caught[0].message)
qusi_lab.old_place.LightCurve moved to qusi_lab.lightcurve.LightCurve; the old name will be removed in 0.2
"""

from __future__ import annotations

import functools
import importlib
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["REMOVAL_VERSION", "moved_names", "renamed", "warn_deprecated"]

REMOVAL_VERSION = "0.2"

F = TypeVar("F", bound=Callable[..., Any])


def warn_deprecated(message: str, *, stacklevel: int = 3) -> None:
    """Emit a ``DeprecationWarning`` saying the old spelling goes in :data:`REMOVAL_VERSION`."""
    warnings.warn(f"{message}; the old name will be removed in {REMOVAL_VERSION}", DeprecationWarning,
                  stacklevel=stacklevel)


def moved_names(old_module: str, moves: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that serves ``moves`` (old name -> new module, or ``"module:new_name"``)."""

    def __getattr__(name: str) -> Any:
        target = moves.get(name)
        if target is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        module_name, _, new_name = target.partition(":")
        new_name = new_name or name
        warn_deprecated(f"{old_module}.{name} moved to {module_name}.{new_name}")
        return getattr(importlib.import_module(module_name), new_name)

    return __getattr__


def renamed(new: F, old_name: str, *, note: str = "") -> F:
    """``new`` under ``old_name``: calling it warns that the name changed (and ``note``, e.g. argument order)."""

    @functools.wraps(new)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warn_deprecated(f"{old_name} is now {new.__module__}.{new.__qualname__}" + (f" ({note})" if note else ""))
        return new(*args, **kwargs)

    wrapper.__name__ = old_name.rsplit(".", 1)[-1]
    return wrapper  # type: ignore[return-value]
