"""Heartbeat stars: tidal distortion at periastron of an eccentric binary.

The shape is the model of Kumar, Ao & Quataert (1995, ApJ 449, 294) as written by Thompson et al.
(2012, ApJ 753, 86, eq. 1)::

    dF/F = S * [1 - 3 sin^2(i) sin^2(phi(t) - omega)] / (R(t) / a)^3 + C

with ``phi`` the true anomaly, ``R / a`` the separation in units of the semi-major axis, ``i`` the
inclination and ``omega`` the argument of periastron. ``S`` and ``C`` are fixed here so that
``amplitude`` is the peak-to-peak variation over an orbit and the median flux over an orbit is 1.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from qusi_lab.signals._common import (
    evaluate_on_finite_times,
    require,
    require_eccentricity,
    require_finite,
    require_positive,
)
from qusi_lab.signals.orbits import orbital_position, solve_kepler, true_anomaly_from_eccentric

# Grid sizes for the per-orbit normalisation; the extremes are found on a grid uniform in true anomaly
# (dense where the periastron spike is narrow in time), the median on one uniform in time.
_EXTREMA_GRID = 8192
_MEDIAN_GRID = 4096


def _tidal_shape(
    true_anomaly: np.ndarray, separation: np.ndarray, inclination: float, argument_of_periastron: float
) -> np.ndarray:
    """The bracket of Thompson et al. (2012) eq. 1 over ``(R/a)^3``, before scaling."""
    sin_squared_inclination = np.sin(np.radians(inclination)) ** 2
    angle = true_anomaly - np.radians(argument_of_periastron)
    return (1.0 - 3.0 * sin_squared_inclination * np.sin(angle) ** 2) / separation**3


def heartbeat_normalization(
    eccentricity: float, inclination: float, argument_of_periastron: float
) -> tuple[float, float]:
    """``(median, peak_to_peak)`` over one orbit of the unscaled Thompson et al. (2012) shape.

    :func:`heartbeat` returns ``1 + amplitude * (shape - median) / peak_to_peak``.

    Example
    -------
    >>> median, peak_to_peak = heartbeat_normalization(0.0, 90.0, 0.0)  # circular: 1 - 3 sin^2(M)
    >>> round(median, 6), round(peak_to_peak, 6)
    (-0.5, 3.0)
    """
    true = np.linspace(-np.pi, np.pi, _EXTREMA_GRID, endpoint=False)
    separation = (1.0 - eccentricity**2) / (1.0 + eccentricity * np.cos(true))
    shape = _tidal_shape(true, separation, inclination, argument_of_periastron)
    peak_to_peak = float(shape.max() - shape.min())

    mean = np.linspace(-np.pi, np.pi, _MEDIAN_GRID, endpoint=False)
    eccentric = solve_kepler(mean, eccentricity)
    shape_in_time = _tidal_shape(
        true_anomaly_from_eccentric(eccentric, eccentricity),
        1.0 - eccentricity * np.cos(eccentric),
        inclination,
        argument_of_periastron,
    )
    return float(np.median(shape_in_time)), peak_to_peak


def heartbeat(
    time: ArrayLike,
    *,
    period: float,
    epoch_periastron: float,
    eccentricity: float,
    inclination: float,
    argument_of_periastron: float,
    amplitude: float,
) -> np.ndarray:
    """Relative flux of a heartbeat star (Kumar, Ao & Quataert 1995; Thompson et al. 2012, eq. 1).

    Parameters
    ----------
    time : array_like
        Times (days). NaN times give NaN flux.
    period : float
        Orbital period (days).
    epoch_periastron : float
        A time of periastron passage (days).
    eccentricity : float
        Orbital eccentricity, ``0 <= e <= 0.95``. As ``e -> 0`` the signal becomes an ellipsoidal
        sinusoid at twice the orbital frequency.
    inclination : float
        Orbital inclination (degrees). Face-on orbits (``i = 0``) brighten at periastron; edge-on
        orbits (``i = 90``) dim there when ``omega`` is near 90 degrees.
    argument_of_periastron : float
        Argument of periastron ``omega`` (degrees).
    amplitude : float
        Peak-to-peak relative amplitude over one orbit (>= 0). The median flux over an orbit is 1, so
        away from periastron the flux stays close to 1.

    Returns
    -------
    numpy.ndarray
        Relative flux, float64, shape of ``time``.

    Example
    -------
    >>> t = np.linspace(0.0, 10.0, 2001)
    >>> flux = heartbeat(t, period=10.0, epoch_periastron=5.0, eccentricity=0.5, inclination=0.0,
    ...                  argument_of_periastron=90.0, amplitude=0.002)
    >>> round(float(flux.max() - flux.min()), 6), int(np.argmax(flux))  # brightest at periastron
    (0.002, 1000)
    """
    period = require_positive("period", period)
    epoch_periastron = require_finite("epoch_periastron", epoch_periastron)
    eccentricity = require_eccentricity(eccentricity, maximum=0.95)
    inclination = require_finite("inclination", inclination)
    argument_of_periastron = require_finite("argument_of_periastron", argument_of_periastron)
    amplitude = require_finite("amplitude", amplitude)
    require(amplitude >= 0.0, f"amplitude is a peak-to-peak size and must be >= 0, got {amplitude}")

    median, peak_to_peak = heartbeat_normalization(eccentricity, inclination, argument_of_periastron)

    def model(finite_time: np.ndarray) -> np.ndarray:
        # A face-on circular orbit has no tidal modulation at all: nothing to scale.
        if amplitude == 0.0 or peak_to_peak <= 1e-12:
            return np.ones(finite_time.size)
        true, separation = orbital_position(
            finite_time, period=period, epoch_periastron=epoch_periastron, eccentricity=eccentricity
        )
        shape = _tidal_shape(true, separation, inclination, argument_of_periastron)
        return 1.0 + amplitude * (shape - median) / peak_to_peak

    return evaluate_on_finite_times(time, model)
