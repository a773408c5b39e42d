"""Keplerian orbits: Kepler's equation, anomalies, and transit geometry.

Shared by the transit, heartbeat and eclipsing-binary models and by :func:`random_parameters`.
Angles are radians inside the solvers and degrees in the public geometry helpers (as in batman).
The argument of periastron follows the exoplanet convention: the companion passes in front of the
star (transit, primary eclipse) at true anomaly ``f = 90 deg - omega`` (Winn 2010, arXiv:1001.2010).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from qusi_lab.signals._common import require, require_eccentricity, require_positive

# Newton's constant in cgs, for stellar densities in g / cm^3.
GRAVITATIONAL_CONSTANT_CGS = 6.67430e-8
SECONDS_PER_DAY = 86400.0
SOLAR_DENSITY = 1.41  # g / cm^3

TWO_PI = 2.0 * np.pi


def solve_kepler(
    mean_anomaly: ArrayLike,
    eccentricity: float,
    *,
    tolerance: float = 1e-8,
    max_iterations: int = 50,
) -> np.ndarray:
    """Eccentric anomaly ``E`` solving Kepler's equation ``M = E - e sin E`` (radians).

    Vectorised Newton iteration from Danby's (1987) starting value ``E0 = M + 0.85 e sign(sin M)``,
    which converges for every ``0 <= e < 1``. The mean anomaly may be any real number; whole turns
    are carried through, so ``E - e sin E`` reproduces the input ``M``.

    Parameters
    ----------
    mean_anomaly : array_like
        Mean anomaly ``M`` (radians).
    eccentricity : float
        Orbital eccentricity, ``0 <= e <= 0.99``.
    tolerance : float
        An element stops iterating after a Newton step smaller than this (radians). Convergence is
        quadratic, so the remaining error is of order ``tolerance**2 * e / (1 - e)``: below 1e-14 for the
        default even at ``e = 0.99``.
    max_iterations : int
        Upper bound on Newton steps (4 to 6 suffice for ``e = 0.9``).

    Returns
    -------
    numpy.ndarray
        Eccentric anomaly, same shape as ``mean_anomaly``.

    Example
    -------
    >>> E = solve_kepler([0.5, 2.0], 0.6)
    >>> bool(np.allclose(E - 0.6 * np.sin(E), [0.5, 2.0], atol=1e-14))
    True
    """
    eccentricity = require_eccentricity(eccentricity)
    mean = np.asarray(mean_anomaly, dtype=np.float64)
    if eccentricity == 0.0:
        return mean.copy()
    # Work in [-pi, pi), where Danby's start is proven, and add the whole turns back afterwards.
    turns = np.floor((mean + np.pi) / TWO_PI)
    reduced = (mean - TWO_PI * turns).ravel()
    eccentric = reduced + 0.85 * eccentricity * np.sign(reduced)
    # Iterate only the elements that have not converged yet (most converge in 3-4 steps).
    active = np.arange(reduced.size)
    for _ in range(max_iterations):
        current = eccentric[active]
        step = (current - eccentricity * np.sin(current) - reduced[active]) / (
            1.0 - eccentricity * np.cos(current)
        )
        eccentric[active] = current - step
        # NaN steps compare False, so NaN inputs drop out instead of iterating forever.
        active = active[np.abs(step) > tolerance]
        if active.size == 0:
            break
    return eccentric.reshape(mean.shape) + TWO_PI * turns


def true_anomaly_from_eccentric(eccentric_anomaly: ArrayLike, eccentricity: float) -> np.ndarray:
    """True anomaly ``f`` (radians, defined modulo ``2 pi``) from the eccentric anomaly ``E``."""
    half = 0.5 * np.asarray(eccentric_anomaly, dtype=np.float64)
    # The half-angle form keeps full precision near periastron and apastron.
    return 2.0 * np.arctan2(
        np.sqrt(1.0 + eccentricity) * np.sin(half), np.sqrt(1.0 - eccentricity) * np.cos(half)
    )


def mean_anomaly_from_true(true_anomaly: ArrayLike, eccentricity: float) -> np.ndarray:
    """Mean anomaly ``M`` (radians, in ``(-pi, pi]``) at true anomaly ``f`` (radians)."""
    true = np.asarray(true_anomaly, dtype=np.float64)
    eccentric = 2.0 * np.arctan2(
        np.sqrt(1.0 - eccentricity) * np.sin(0.5 * true), np.sqrt(1.0 + eccentricity) * np.cos(0.5 * true)
    )
    return eccentric - eccentricity * np.sin(eccentric)


def orbital_position(
    time: ArrayLike, *, period: float, epoch_periastron: float, eccentricity: float
) -> tuple[np.ndarray, np.ndarray]:
    """True anomaly (radians) and separation in units of the semi-major axis, ``r / a``, at ``time``.

    Example
    -------
    >>> f, r = orbital_position(np.array([0.0, 5.0]), period=10.0, epoch_periastron=0.0, eccentricity=0.5)
    >>> [round(float(v), 6) for v in f], [round(float(v), 6) for v in r]
    ([0.0, 3.141593], [0.5, 1.5])
    """
    period = require_positive("period", period)
    mean = TWO_PI * (np.asarray(time, dtype=np.float64) - float(epoch_periastron)) / period
    eccentric = solve_kepler(mean, eccentricity)
    true = true_anomaly_from_eccentric(eccentric, eccentricity)
    separation = 1.0 - eccentricity * np.cos(eccentric)
    return true, separation


def secondary_eclipse_phase(eccentricity: float, argument_of_periastron: float) -> float:
    """Orbital phase of the secondary eclipse after the primary one, in ``[0, 1)``.

    Exact for any eccentricity: the primary eclipse is at true anomaly ``90 deg - omega`` and the
    secondary at ``270 deg - omega``; the phase is the mean-anomaly difference over ``2 pi``.
    To first order it is ``0.5 + (2 / pi) e cos(omega)`` (Winn 2010, eq. 33, edge-on orbit).

    Example
    -------
    >>> secondary_eclipse_phase(0.0, 90.0)
    0.5
    >>> round(secondary_eclipse_phase(0.1, 0.0), 4)
    0.5636
    """
    eccentricity = require_eccentricity(eccentricity)
    omega = np.radians(float(argument_of_periastron))
    primary = mean_anomaly_from_true(0.5 * np.pi - omega, eccentricity)
    secondary = mean_anomaly_from_true(1.5 * np.pi - omega, eccentricity)
    return float(np.mod((secondary - primary) / TWO_PI, 1.0))


def a_over_rstar_from_density(period: float, stellar_density: float = SOLAR_DENSITY) -> float:
    """Scaled semi-major axis ``a / R*`` from Kepler's third law for a companion of negligible mass.

    ``a / R* = (G rho P^2 / (3 pi))^(1/3)`` with ``rho`` the mean stellar density (g / cm^3) and
    ``P`` the period (days). For a binary of mass ratio ``q`` multiply by ``(1 + q)^(1/3)``.

    Example
    -------
    >>> round(a_over_rstar_from_density(365.25, 1.41), 1)  # the Earth around the Sun
    215.0
    """
    period_seconds = require_positive("period", period) * SECONDS_PER_DAY
    density = require_positive("stellar_density", stellar_density)
    return float((GRAVITATIONAL_CONSTANT_CGS * density * period_seconds**2 / (3.0 * np.pi)) ** (1.0 / 3.0))


def stellar_density_from_a_over_rstar(period: float, a_over_rstar: float) -> float:
    """Mean stellar density (g / cm^3) implied by ``a / R*`` and the period (days); inverse of
    :func:`a_over_rstar_from_density`."""
    period_seconds = require_positive("period", period) * SECONDS_PER_DAY
    scaled = require_positive("a_over_rstar", a_over_rstar)
    return float(3.0 * np.pi * scaled**3 / (GRAVITATIONAL_CONSTANT_CGS * period_seconds**2))


def _eccentricity_factor(eccentricity: float, argument_of_periastron: float) -> float:
    """``(1 - e^2) / (1 + e sin omega)``: the star-companion separation at transit, in units of ``a``."""
    omega = np.radians(float(argument_of_periastron))
    return (1.0 - eccentricity**2) / (1.0 + eccentricity * np.sin(omega))


def impact_parameter(
    a_over_rstar: float,
    inclination: float,
    eccentricity: float = 0.0,
    argument_of_periastron: float = 90.0,
) -> float:
    """Transit impact parameter ``b = (a / R*) cos(i) (1 - e^2) / (1 + e sin omega)`` (Winn 2010, eq. 7).

    Example
    -------
    >>> round(impact_parameter(10.0, 87.0), 4)
    0.5234
    """
    eccentricity = require_eccentricity(eccentricity)
    cos_inclination = np.cos(np.radians(float(inclination)))
    return float(a_over_rstar * cos_inclination * _eccentricity_factor(eccentricity, argument_of_periastron))


def inclination_from_impact_parameter(
    impact: float,
    a_over_rstar: float,
    eccentricity: float = 0.0,
    argument_of_periastron: float = 90.0,
) -> float:
    """Orbital inclination (degrees) giving impact parameter ``impact``; inverse of :func:`impact_parameter`.

    Example
    -------
    >>> round(inclination_from_impact_parameter(0.5234, 10.0), 3)
    87.0
    """
    eccentricity = require_eccentricity(eccentricity)
    a_over_rstar = require_positive("a_over_rstar", a_over_rstar)
    cos_inclination = impact / (a_over_rstar * _eccentricity_factor(eccentricity, argument_of_periastron))
    require(abs(cos_inclination) <= 1.0, f"impact parameter {impact} is impossible for a/R* = {a_over_rstar}")
    return float(np.degrees(np.arccos(cos_inclination)))


def transit_duration(
    period: float,
    a_over_rstar: float,
    radius_ratio: float,
    inclination: float = 90.0,
    eccentricity: float = 0.0,
    argument_of_periastron: float = 90.0,
) -> float:
    """Total transit duration ``T14`` (first to fourth contact, days); 0 when the companion misses the star.

    ``T14 = P / pi * arcsin( sqrt((1 + k)^2 - b^2) / (a/R* sin i) ) * sqrt(1 - e^2) / (1 + e sin omega)``
    (Winn 2010, eqs. 14 and 16; exact for circular orbits, excellent for moderate eccentricity).

    Example
    -------
    >>> round(transit_duration(365.25, 215.0, 0.00917) * 24, 2)  # hours, the Earth seen edge-on
    13.1
    """
    period = require_positive("period", period)
    a_over_rstar = require_positive("a_over_rstar", a_over_rstar)
    eccentricity = require_eccentricity(eccentricity)
    impact = impact_parameter(a_over_rstar, inclination, eccentricity, argument_of_periastron)
    chord_squared = (1.0 + radius_ratio) ** 2 - impact**2
    if chord_squared <= 0.0:
        return 0.0
    sine = np.sqrt(chord_squared) / (a_over_rstar * np.sin(np.radians(float(inclination))))
    angle = np.arcsin(min(1.0, float(sine)))
    omega = np.radians(float(argument_of_periastron))
    return float(
        period / np.pi * angle * np.sqrt(1.0 - eccentricity**2) / (1.0 + eccentricity * np.sin(omega))
    )
