"""Flux units on reading: magnitudes become relative flux; other units are recorded.

Magnitudes (a ``mag`` column, or ``flux_unit="mag"``) are converted to relative flux
about the light curve's median magnitude ``m0``::

    flux = 10 ** (-0.4 * (m - m0))          # 1 at the median, > 1 when brighter
    flux_err = 0.4 * ln(10) * flux * mag_err

so a transit (fainter: larger magnitude) is a dip, as in a flux light curve. A
non-finite magnitude (NaN, ``inf``) is a missing measurement: its flux is NaN.

Example
-------
>>> import numpy as np
>>> flux, err, m0 = magnitudes_to_relative_flux(np.array([10.0, 10.0, 11.0, np.nan]), np.array([0.01] * 4))
>>> np.round(flux, 4).tolist(), round(m0, 2)
([1.0, 1.0, 0.3981, nan], 10.0)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["FLUX_UNITS", "flux_unit_kind", "magnitudes_to_relative_flux"]

_MAGNITUDE_WORDS = frozenset({"mag", "mags", "magnitude", "magnitudes"})
_AS_STORED_WORDS = frozenset({"flux", "as stored", "stored"})
_RELATIVE_WORDS = frozenset({"relative", "normalized", "normalised", "relative flux", "ppt", "ppm", ""})
#: Plain words ``read_light_curve(flux_unit=...)`` accepts besides astropy units.
FLUX_UNITS: tuple[str, ...] = ("mag", "flux", "relative")


def flux_unit_kind(flux_unit: Any) -> tuple[str, str | None]:
    """``("mag", None)`` for magnitudes, ``("flux", unit_name_or_None)`` for anything else.

    Accepts ``"mag"``/``"magnitude"``, astropy magnitude units (``u.mag``,
    ``u.ABmag``), ``"flux"`` (as stored, unit unknown), ``"relative"``, and any
    astropy flux unit or unit string (``"electron/s"``, ``u.electron / u.s``,
    ``"Jy"``). An unknown word raises :class:`ValueError` listing the choices.

    Example
    -------
    >>> flux_unit_kind("mag"), flux_unit_kind("flux"), flux_unit_kind("electron/s")
    (('mag', None), ('flux', None), ('flux', 'electron / s'))
    >>> import astropy.units as u
    >>> flux_unit_kind(u.mag), flux_unit_kind(u.electron / u.s)
    (('mag', None), ('flux', 'electron / s'))
    """
    if isinstance(flux_unit, str):
        word = flux_unit.strip().lower()
        if word in _MAGNITUDE_WORDS or word.startswith("mag("):
            return "mag", None
        if word in _AS_STORED_WORDS:
            return "flux", None
        if word in _RELATIVE_WORDS:
            return "flux", "relative" if word in ("", "relative flux", "normalized", "normalised") else word
    import astropy.units as u

    try:
        unit = u.Unit(flux_unit)
    except (ValueError, TypeError):
        raise ValueError(
            f"unknown flux_unit {flux_unit!r}: use 'mag' (magnitudes, converted to relative flux), 'flux' (as "
            "stored), 'relative', or an astropy unit such as 'electron/s' or u.Jy"
        ) from None
    physical = getattr(unit, "physical_unit", None)  # magnitude units (u.mag, u.ABmag) are logarithmic
    if str(unit).startswith("mag") or (physical is not None and getattr(unit, "function_unit", None) == u.mag):
        return "mag", None
    return "flux", str(unit)


def magnitudes_to_relative_flux(
    magnitudes: np.ndarray, errors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """``(flux, flux_err, m0)``: relative flux ``10**(-0.4 (m - m0))`` about the median magnitude ``m0``.

    Errors propagate to first order: ``flux_err = 0.4 ln(10) flux mag_err``.
    Non-finite magnitudes, and magnitudes so far from ``m0`` that the flux
    overflows, give NaN flux. ``m0`` is NaN when no magnitude is finite.

    Example
    -------
    >>> flux, err, m0 = magnitudes_to_relative_flux(np.array([12.0, 11.0]), np.array([0.1, 0.1]))
    >>> m0, np.round(flux, 3).tolist(), np.round(err, 4).tolist()
    (11.5, [0.631, 1.585], [0.0581, 0.146])
    """
    magnitudes = np.asarray(magnitudes, dtype=np.float64)
    finite = np.isfinite(magnitudes)
    if not finite.any():
        nan = np.full(magnitudes.shape, np.nan)
        return nan, None if errors is None else nan.copy(), math.nan
    reference = float(np.median(magnitudes[finite]))
    with np.errstate(over="ignore", invalid="ignore"):
        flux = np.power(10.0, -0.4 * (magnitudes - reference))
    flux[~finite | ~np.isfinite(flux)] = np.nan
    flux_err = None
    if errors is not None:
        with np.errstate(over="ignore", invalid="ignore"):
            flux_err = 0.4 * math.log(10.0) * flux * np.asarray(errors, dtype=np.float64)
    return flux, flux_err, reference
