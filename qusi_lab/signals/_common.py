"""Helpers shared by the signal models: time handling and parameter checks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike


def evaluate_on_finite_times(time: ArrayLike, model: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Evaluate ``model`` on the finite entries of ``time``; NaN (or inf) times give NaN.

    ``model`` receives a 1-d float64 array of finite times and returns relative fluxes of the same
    length. The result has the shape of ``time`` and dtype float64.
    """
    times = np.asarray(time, dtype=np.float64)
    flat = times.ravel()
    finite = np.isfinite(flat)
    if finite.all():
        return np.asarray(model(flat), dtype=np.float64).reshape(times.shape)
    flux = np.full(flat.shape, np.nan)
    if finite.any():
        flux[finite] = model(flat[finite])
    return flux.reshape(times.shape)


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition`` holds (parameter checks of the models)."""
    if not condition:
        raise ValueError(message)


def require_positive(name: str, value: float) -> float:
    """``value`` as a float, which must be finite and > 0."""
    value = float(value)
    require(np.isfinite(value) and value > 0, f"{name} must be a finite positive number, got {value!r}")
    return value


def require_finite(name: str, value: float) -> float:
    """``value`` as a float, which must be finite."""
    value = float(value)
    require(bool(np.isfinite(value)), f"{name} must be finite, got {value!r}")
    return value


def require_eccentricity(value: float, maximum: float = 0.99) -> float:
    """An eccentricity in ``[0, maximum]``."""
    value = float(value)
    require(0.0 <= value <= maximum, f"eccentricity must be in [0, {maximum}], got {value!r}")
    return value
