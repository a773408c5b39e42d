"""Planetary transits, computed with batman (Kreidberg 2015, PASP 127, 1161)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from qusi_lab.core.folding import fold_time
from qusi_lab.signals._common import (
    evaluate_on_finite_times,
    require,
    require_eccentricity,
    require_finite,
    require_positive,
)
from qusi_lab.signals.orbits import transit_duration

# Number of limb-darkening coefficients of each law batman implements.
LIMB_DARKENING_LAWS: dict[str, int] = {
    "uniform": 0,
    "linear": 1,
    "quadratic": 2,
    "squareroot": 2,
    "logarithmic": 2,
    "exponential": 2,
    "power2": 2,
    "nonlinear": 4,
}

# Exposures longer than this (days; 14.4 min) are integrated: TESS 30-min FFIs, Kepler/K2 long cadence.
SUPERSAMPLE_THRESHOLD = 0.01
# Default sub-exposure length (days, 2 min): 15 samples for Kepler's 29.4-min and TESS's 30-min cadence.
SUPERSAMPLE_STEP = 2.0 / 1440.0


def default_supersample_factor(exposure_time: float | None) -> int:
    """Sub-exposures per cadence used by :func:`transit` when none is given.

    1 (no integration) up to :data:`SUPERSAMPLE_THRESHOLD`; otherwise one sample per 2 minutes of exposure.

    Example
    -------
    >>> [default_supersample_factor(exposure) for exposure in (None, 2 / 1440, 0.0204)]
    [1, 1, 15]
    """
    if exposure_time is None or exposure_time <= SUPERSAMPLE_THRESHOLD:
        return 1
    return max(3, math.ceil(exposure_time / SUPERSAMPLE_STEP - 1e-9))


def transit(
    time: ArrayLike,
    *,
    period: float,
    epoch: float,
    radius_ratio: float,
    a_over_rstar: float,
    inclination: float = 90.0,
    eccentricity: float = 0.0,
    argument_of_periastron: float = 90.0,
    limb_darkening: Sequence[float] = (0.4, 0.25),
    limb_darkening_law: str = "quadratic",
    exposure_time: float | None = None,
    supersample_factor: int | None = None,
) -> np.ndarray:
    """Relative flux of a star transited by a dark companion (Mandel & Agol 2002 via batman).

    Parameters
    ----------
    time : array_like
        Times (days). NaN times give NaN flux; gaps are simply not evaluated.
    period : float
        Orbital period (days).
    epoch : float
        Mid-transit time (days, same system as ``time``).
    radius_ratio : float
        Companion radius over stellar radius, ``Rp / R*``. The depth is about ``radius_ratio**2``
        (deeper at the centre of a limb-darkened disc).
    a_over_rstar : float
        Semi-major axis over stellar radius (see :func:`a_over_rstar_from_density`).
    inclination : float
        Orbital inclination (degrees); 90 is edge-on.
    eccentricity, argument_of_periastron : float
        Orbit shape; ``argument_of_periastron`` in degrees (batman's ``w``).
    limb_darkening : sequence of float
        Coefficients of ``limb_darkening_law`` (two for the default quadratic law).
    limb_darkening_law : str
        One of :data:`LIMB_DARKENING_LAWS`.
    exposure_time : float, optional
        Exposure (integration) time of each cadence (days). Above 0.01 d the model is averaged over the
        exposure (Kipping 2010), which matters for Kepler and TESS 30-min long cadence.
    supersample_factor : int, optional
        Sub-exposures per cadence; default from :func:`default_supersample_factor`.

    Returns
    -------
    numpy.ndarray
        Relative flux (1 out of transit), float64, shape of ``time``.

    Example
    -------
    >>> flux = transit(np.array([0.0, 0.5]), period=3.0, epoch=0.0, radius_ratio=0.1, a_over_rstar=10.0)
    >>> round(float(flux[0]), 4), float(flux[1])  # 1.2 x radius_ratio**2 deep: limb darkening
    (0.9879, 1.0)
    """
    import batman  # imported here: its C extension loads in ~0.1 s and only transits need it

    period = require_positive("period", period)
    epoch = require_finite("epoch", epoch)
    radius_ratio = require_positive("radius_ratio", radius_ratio)
    a_over_rstar = require_positive("a_over_rstar", a_over_rstar)
    require(
        a_over_rstar > 1.0,
        f"a_over_rstar must exceed 1 (the orbit would be inside the star), got {a_over_rstar}",
    )
    inclination = require_finite("inclination", inclination)
    eccentricity = require_eccentricity(eccentricity, maximum=0.95)
    require(
        limb_darkening_law in LIMB_DARKENING_LAWS,
        f"unknown limb_darkening_law {limb_darkening_law!r}; batman supports {sorted(LIMB_DARKENING_LAWS)}",
    )
    coefficients = [float(value) for value in limb_darkening]
    require(
        len(coefficients) == LIMB_DARKENING_LAWS[limb_darkening_law],
        f"the {limb_darkening_law} law takes {LIMB_DARKENING_LAWS[limb_darkening_law]} limb-darkening "
        f"coefficients, got {len(coefficients)}",
    )
    if supersample_factor is None:
        supersample_factor = default_supersample_factor(exposure_time)
    supersample_factor = int(supersample_factor)
    require(supersample_factor >= 1, f"supersample_factor must be >= 1, got {supersample_factor}")
    if supersample_factor > 1:
        require(exposure_time is not None, "supersample_factor > 1 needs exposure_time")
        exposure = require_positive("exposure_time", exposure_time)  # type: ignore[arg-type]
    else:
        exposure = 0.0

    params = batman.TransitParams()
    params.t0 = epoch
    params.per = period
    params.rp = radius_ratio
    params.a = a_over_rstar
    params.inc = inclination
    params.ecc = eccentricity
    params.w = float(argument_of_periastron)
    params.limb_dark = limb_darkening_law
    params.u = coefficients

    # Midpoint offsets: their mean is the exposure average to O(1/n^2) (batman's own supersampling
    # includes both exposure edges, which biases the average).
    offsets = ((np.arange(supersample_factor) + 0.5) / supersample_factor - 0.5) * exposure

    # batman costs time for every sample, so only cadences near a transit are computed; the window
    # is twice the analytic duration (Winn 2010, approximate for eccentric orbits) plus the exposure.
    duration = transit_duration(
        period, a_over_rstar, radius_ratio, inclination, eccentricity, float(argument_of_periastron)
    )
    half_window = duration + exposure

    def model(finite_time: np.ndarray) -> np.ndarray:
        flux = np.ones(finite_time.size)
        if duration <= 0.0:
            return flux
        offset_from_transit = np.abs(fold_time(finite_time, period, epoch))
        near = offset_from_transit < half_window
        if not near.any():
            return flux
        sample_times = (finite_time[near, np.newaxis] + offsets).ravel()
        # One TransitModel per light curve: its set-up (separations for every time) is the slow part.
        transit_model = batman.TransitModel(params, np.ascontiguousarray(sample_times))
        samples = np.asarray(transit_model.light_curve(params), dtype=np.float64)
        flux[near] = samples.reshape(-1, supersample_factor).mean(axis=1)
        return flux

    return evaluate_on_finite_times(time, model)
