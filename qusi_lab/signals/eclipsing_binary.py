"""Detached eclipsing binaries: primary and secondary eclipses, optional ellipsoidal and reflection terms.

Each eclipse is the limb-darkened occultation profile that batman computes for two discs of radius
ratio ``k`` on a central (impact parameter 0) chord, scaled to the requested depth. Scaling frees the
depth from ``k``: the surface-brightness ratio of two stars sets the depth, the geometry sets the shape.
``k`` defaults to ``sqrt(primary_depth)`` (clipped to [0.05, 0.9]), so shallow eclipses are flat-bottomed
and deep ones, of similar-sized stars, are V-shaped with long ingress and egress.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from qusi_lab.signals._common import (
    evaluate_on_finite_times,
    require,
    require_eccentricity,
    require_finite,
    require_positive,
)
from qusi_lab.signals.orbits import secondary_eclipse_phase

# Eclipse profile grid, in units of the eclipse duration (odd, so mid-eclipse is a grid point).
_PROFILE_POINTS = 2201
_PROFILE_HALF_WIDTH = 0.55


def eclipse_radius_ratio(primary_depth: float) -> float:
    """The radius ratio that sets the eclipse shape when none is given: ``sqrt(depth)`` in [0.05, 0.9].

    Example
    -------
    >>> eclipse_radius_ratio(0.25), eclipse_radius_ratio(0.0001)
    (0.5, 0.05)
    """
    return float(np.clip(np.sqrt(primary_depth), 0.05, 0.9))


def eclipse_profile(
    period: float, duration: float, radius_ratio: float, limb_darkening: Sequence[float] = (0.4, 0.25)
) -> tuple[np.ndarray, np.ndarray]:
    """Normalised eclipse profile ``(x, s)``: ``x`` is time from mid-eclipse over the duration, ``s`` is
    1 at mid-eclipse and 0 outside first to last contact (``|x| >= 0.5``).

    Computed with batman for a central chord of a circular orbit whose total duration is ``duration``.
    """
    import batman  # imported here: its C extension loads in ~0.1 s

    # A central chord lasts P / pi * arcsin((1 + k) / (a / R)); invert for a / R.
    a_over_radius = (1.0 + radius_ratio) / np.sin(np.pi * duration / period)
    params = batman.TransitParams()
    params.t0 = 0.0
    params.per = period
    params.rp = radius_ratio
    params.a = a_over_radius
    params.inc = 90.0
    params.ecc = 0.0
    params.w = 90.0
    params.limb_dark = "quadratic"
    params.u = [float(value) for value in limb_darkening]
    x = np.linspace(-_PROFILE_HALF_WIDTH, _PROFILE_HALF_WIDTH, _PROFILE_POINTS)
    dip = 1.0 - np.asarray(batman.TransitModel(params, x * duration).light_curve(params), dtype=np.float64)
    return x, dip / dip[_PROFILE_POINTS // 2]


def eclipsing_binary(
    time: ArrayLike,
    *,
    period: float,
    epoch: float,
    primary_depth: float,
    secondary_depth: float,
    duration: float,
    eccentricity: float = 0.0,
    argument_of_periastron: float = 90.0,
    secondary_phase: float | None = None,
    radius_ratio: float | None = None,
    limb_darkening: Sequence[float] = (0.4, 0.25),
    ellipsoidal_amplitude: float = 0.0,
    reflection_amplitude: float = 0.0,
) -> np.ndarray:
    """Relative flux of a detached eclipsing binary.

    Parameters
    ----------
    time : array_like
        Times (days). NaN times give NaN flux.
    period : float
        Orbital period (days).
    epoch : float
        Time of mid primary eclipse (days).
    primary_depth, secondary_depth : float
        Fractional depths of the eclipses, in [0, 1): the flux at mid-eclipse is ``1 - depth``
        (before the optional ellipsoidal and reflection terms, which add to it).
    duration : float
        Total duration of the primary eclipse, first to last contact (days), less than half the period.
    eccentricity : float
        Orbital eccentricity. Moves the secondary eclipse away from phase 0.5 and changes its duration by
        ``(1 + e sin omega) / (1 - e sin omega)`` (Winn 2010, eq. 16).
    argument_of_periastron : float
        ``omega`` (degrees), convention of :mod:`qusi_lab.signals.orbits`; with the default 90 the
        secondary stays at phase 0.5 even for an eccentric orbit.
    secondary_phase : float, optional
        Phase of the secondary eclipse after the primary, in (0, 1); by default from
        :func:`~qusi_lab.signals.orbits.secondary_eclipse_phase` (0.5 for circular orbits).
    radius_ratio : float, optional
        Radius ratio that sets the eclipse shape (ingress length); default :func:`eclipse_radius_ratio`.
    limb_darkening : sequence of float
        Quadratic limb-darkening coefficients of the eclipsed stars.
    ellipsoidal_amplitude : float
        Semi-amplitude of the ellipsoidal modulation ``-A cos(4 pi phase)`` (minima at both conjunctions).
    reflection_amplitude : float
        Semi-amplitude of the reflection term ``-A cos(2 pi phase)`` (brightest around the secondary eclipse).

    Returns
    -------
    numpy.ndarray
        Relative flux, float64, shape of ``time``.

    Example
    -------
    >>> t = np.array([0.0, 1.0, 2.5])
    >>> eclipsing_binary(t, period=2.0, epoch=0.0, primary_depth=0.3, secondary_depth=0.1, duration=0.15)
    array([0.7, 0.9, 1. ])
    """
    period = require_positive("period", period)
    epoch = require_finite("epoch", epoch)
    primary_depth = require_finite("primary_depth", primary_depth)
    secondary_depth = require_finite("secondary_depth", secondary_depth)
    require(0.0 <= primary_depth < 1.0, f"primary_depth must be in [0, 1), got {primary_depth}")
    require(0.0 <= secondary_depth < 1.0, f"secondary_depth must be in [0, 1), got {secondary_depth}")
    duration = require_positive("duration", duration)
    require(
        duration < 0.5 * period, f"duration ({duration} d) must be shorter than half the period ({period} d)"
    )
    eccentricity = require_eccentricity(eccentricity, maximum=0.95)
    omega = np.radians(require_finite("argument_of_periastron", argument_of_periastron))
    if secondary_phase is None:
        secondary_phase = secondary_eclipse_phase(eccentricity, float(argument_of_periastron))
    secondary_phase = require_finite("secondary_phase", secondary_phase)
    require(0.0 < secondary_phase < 1.0, f"secondary_phase must be in (0, 1), got {secondary_phase}")
    # The companion moves slower at the far conjunction of an eccentric orbit, so that eclipse is longer.
    secondary_duration = (
        duration * (1.0 + eccentricity * np.sin(omega)) / (1.0 - eccentricity * np.sin(omega))
    )
    require(
        secondary_duration < 0.5 * period,
        f"the secondary eclipse ({secondary_duration:.4g} d for e = {eccentricity}) must be shorter than "
        f"half the period ({period} d)",
    )
    if radius_ratio is None:
        radius_ratio = eclipse_radius_ratio(primary_depth)
    radius_ratio = require_positive("radius_ratio", radius_ratio)
    ellipsoidal_amplitude = require_finite("ellipsoidal_amplitude", ellipsoidal_amplitude)
    reflection_amplitude = require_finite("reflection_amplitude", reflection_amplitude)

    x_grid, profile = eclipse_profile(period, duration, radius_ratio, limb_darkening)

    def eclipse(finite_time: np.ndarray, center_phase: float, length: float, depth: float) -> np.ndarray:
        # Time from the nearest mid-eclipse, in units of the eclipse duration.
        offset = np.mod(finite_time - epoch - center_phase * period + 0.5 * period, period) - 0.5 * period
        return depth * np.interp(offset / length, x_grid, profile, left=0.0, right=0.0)

    def model(finite_time: np.ndarray) -> np.ndarray:
        flux = 1.0 - eclipse(finite_time, 0.0, duration, primary_depth)
        if secondary_depth > 0.0:
            flux -= eclipse(finite_time, float(secondary_phase), float(secondary_duration), secondary_depth)
        if ellipsoidal_amplitude != 0.0 or reflection_amplitude != 0.0:
            angle = 2.0 * np.pi * (finite_time - epoch) / period
            flux -= ellipsoidal_amplitude * np.cos(2.0 * angle) + reflection_amplitude * np.cos(angle)
        return flux

    return evaluate_on_finite_times(time, model)
