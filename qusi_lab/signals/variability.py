"""Rotational and quasi-periodic stellar variability (starspots, semi-regular pulsation)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from qusi_lab.signals._common import evaluate_on_finite_times, require, require_finite, require_positive

# Envelope grid of the quasi-periodic model: steps of coherence_time / 20, at most this many points.
_ENVELOPE_STEPS_PER_COHERENCE_TIME = 20
_MAX_ENVELOPE_POINTS = 400_000


def sinusoidal_variability(
    time: ArrayLike,
    *,
    period: float,
    amplitude: float,
    phase: float = 0.0,
    harmonics: Sequence[Sequence[float]] = (),
) -> np.ndarray:
    """Strictly periodic variability: a sinusoid and optional harmonics (spotted star, rotation period).

    ``flux = 1 + amplitude * [sin(2 pi t / P + phase) + sum_n r_n sin(2 pi n t / P + phase_n)]``,
    with ``(r_n, phase_n)`` the entries of ``harmonics`` for ``n = 2, 3, ...``.

    Parameters
    ----------
    time : array_like
        Times (days); phases refer to ``t = 0``. NaN times give NaN flux.
    period : float
        Period of the fundamental (days).
    amplitude : float
        Semi-amplitude of the fundamental (relative flux).
    phase : float
        Phase of the fundamental (radians).
    harmonics : sequence of (relative_amplitude, phase) pairs
        The 2nd, 3rd, ... harmonics, amplitudes relative to the fundamental, phases in radians.
        Default: the fundamental only.

    Returns
    -------
    numpy.ndarray
        Relative flux, float64, shape of ``time``.

    Example
    -------
    >>> sinusoidal_variability(np.array([0.0, 0.25, 0.5]), period=1.0, amplitude=0.01).round(6)
    array([1.  , 1.01, 1.  ])
    """
    period = require_positive("period", period)
    amplitude = require_finite("amplitude", amplitude)
    phase = require_finite("phase", phase)
    terms = [(1.0, 1.0, phase)]
    for order, pair in enumerate(harmonics, start=2):
        require(len(pair) == 2, f"each harmonic is a (relative_amplitude, phase) pair, got {pair!r}")
        terms.append(
            (
                float(order),
                require_finite("harmonic amplitude", pair[0]),
                require_finite("harmonic phase", pair[1]),
            )
        )

    def model(finite_time: np.ndarray) -> np.ndarray:
        angle = 2.0 * np.pi * finite_time / period
        flux = np.zeros(finite_time.size)
        for order, relative_amplitude, term_phase in terms:
            flux += relative_amplitude * np.sin(order * angle + term_phase)
        return 1.0 + amplitude * flux

    return evaluate_on_finite_times(time, model)


def quasi_periodic_variability(
    time: ArrayLike,
    *,
    period: float,
    amplitude: float,
    coherence_time: float,
    seed: int | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Quasi-periodic variability: a sinusoid whose amplitude and phase wander (evolving starspots).

    ``flux = 1 + amplitude * Re[z(t) exp(2 pi i t / P)]`` where ``z`` is a complex Ornstein-Uhlenbeck
    (damped random walk) process with correlation time ``coherence_time`` and ``E|z|^2 = 1``. The flux
    covariance is ``amplitude^2 / 2 * exp(-|dt| / coherence_time) * cos(2 pi dt / P)``, the
    quasi-periodic kernel used for rotation in Gaussian-process fits; its power spectrum is a Lorentzian
    at ``1 / P`` of half width ``1 / (2 pi coherence_time)``.

    Parameters
    ----------
    time : array_like
        Times (days). NaN times give NaN flux.
    period : float
        Mean period (days).
    amplitude : float
        Root-mean-square semi-amplitude: the flux variance equals that of a sinusoid of this semi-amplitude.
    coherence_time : float
        Time over which amplitude and phase decorrelate (days); long times approach a pure sinusoid.
    seed : int, optional
        Seed of the realisation: the same seed and time span give the same signal.
    rng : numpy.random.Generator, optional
        Generator to draw from instead of ``seed``. Exactly one of ``seed`` and ``rng`` is required.

    Returns
    -------
    numpy.ndarray
        Relative flux, float64, shape of ``time``. The realisation depends on the seed and on the first and
        last finite times (the span of the envelope grid), not on the sampling in between.

    Example
    -------
    >>> t = np.linspace(0.0, 27.0, 1000)
    >>> a = quasi_periodic_variability(t, period=3.0, amplitude=0.01, coherence_time=10.0, seed=1)
    >>> b = quasi_periodic_variability(t, period=3.0, amplitude=0.01, coherence_time=10.0, seed=1)
    >>> bool(np.array_equal(a, b))
    True
    """
    period = require_positive("period", period)
    amplitude = require_finite("amplitude", amplitude)
    coherence_time = require_positive("coherence_time", coherence_time)
    require((seed is None) != (rng is None), "pass exactly one of seed (reproducible) and rng")
    generator = np.random.default_rng(seed) if rng is None else rng

    def model(finite_time: np.ndarray) -> np.ndarray:
        from scipy import signal as scipy_signal

        start, end = float(finite_time.min()), float(finite_time.max())
        span = end - start
        step = coherence_time / _ENVELOPE_STEPS_PER_COHERENCE_TIME
        points = min(_MAX_ENVELOPE_POINTS, max(2, math.ceil(span / step) + 1))
        grid = np.linspace(start, end, points)
        decay = math.exp(-(grid[1] - grid[0]) / coherence_time) if points > 1 and span > 0 else 1.0
        # Complex white noise of unit variance (half in each of the real and imaginary parts).
        noise = (generator.standard_normal(points) + 1j * generator.standard_normal(points)) / math.sqrt(2.0)
        # Exact AR(1) discretisation of the OU process, started from its stationary distribution.
        noise[1:] *= math.sqrt(1.0 - decay**2)
        envelope = scipy_signal.lfilter([1.0], [1.0, -decay], noise)
        real = np.interp(finite_time, grid, envelope.real)
        imaginary = np.interp(finite_time, grid, envelope.imag)
        angle = 2.0 * np.pi * finite_time / period
        return 1.0 + amplitude * (real * np.cos(angle) - imaginary * np.sin(angle))

    return evaluate_on_finite_times(time, model)


def _complex_envelope(
    start: float, end: float, coherence_time: float, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A complex Ornstein-Uhlenbeck envelope ``z`` (``E|z|^2 = 1``) on a grid over ``[start, end]``."""
    from scipy import signal as scipy_signal

    span = end - start
    step = coherence_time / _ENVELOPE_STEPS_PER_COHERENCE_TIME
    points = min(_MAX_ENVELOPE_POINTS, max(2, math.ceil(span / step) + 1))
    grid = np.linspace(start, end, points)
    decay = math.exp(-(grid[1] - grid[0]) / coherence_time) if span > 0 else 1.0
    noise = (generator.standard_normal(points) + 1j * generator.standard_normal(points)) / math.sqrt(2.0)
    noise[1:] *= math.sqrt(1.0 - decay**2)
    return grid, np.asarray(scipy_signal.lfilter([1.0], [1.0, -decay], noise))


def starspot_variability(
    time: ArrayLike,
    *,
    period: float,
    amplitude: float,
    harmonics: Sequence[Sequence[float]] = (),
    spot_lifetime: float | None = None,
    shear: float = 0.0,
    second_group_amplitude: float = 0.0,
    seed: int | None = None,
) -> np.ndarray:
    """Rotational modulation by evolving, differentially rotating spot groups, with harmonics.

    Each spot group ``g`` rotates with its own period (``period`` for the first, ``period * (1 + shear)``
    for the second: differential rotation puts spots at different latitudes on slightly different
    periods, ``shear = dP / P`` ~ 0.5-10 % for Kepler stars, Reinhold et al. 2013, A&A 560, A4) and
    contributes ``A_g |z_g(t)| [cos(theta) + sum_n r_n cos(n theta + psi_n)]`` with
    ``theta = 2 pi t / P_g + arg z_g(t)``. ``z_g`` is a complex damped random walk of correlation
    time ``spot_lifetime`` (``E|z|^2 = 1``): the group grows, decays and drifts in longitude, as spots
    do over their lifetimes of a few rotations (Giles et al. 2017, MNRAS 472, 1618). The harmonics make
    the non-sinusoidal shape of a spot crossing the disc (``(r_n, psi_n)`` for ``n = 2, 3, ...``);
    they follow the group's amplitude and longitude. ``spot_lifetime=None`` freezes the spots
    (strictly periodic modulation, phase from the seed).

    Parameters
    ----------
    time : array_like
        Times (days). NaN times give NaN flux.
    period : float
        Rotation period of the first spot group (days).
    amplitude : float
        Root-mean-square semi-amplitude of the first group's fundamental (relative flux).
    harmonics : sequence of (relative_amplitude, phase) pairs
        2nd, 3rd, ... harmonics of every group, amplitudes relative to its fundamental, phases in radians.
    spot_lifetime : float, optional
        Correlation time of each group's amplitude and longitude (days); ``None``: stable spots.
    shear : float
        Fractional period difference of the second group (``dP / P``).
    second_group_amplitude : float
        RMS semi-amplitude of the second group (0: one group only).
    seed : int, optional
        Seed of the realisation (spot phases and evolution); the same seed gives the same signal.

    Returns
    -------
    numpy.ndarray
        Relative flux, float64, shape of ``time``.

    Example
    -------
    >>> t = np.linspace(0.0, 27.0, 4000)
    >>> flux = starspot_variability(t, period=2.0, amplitude=0.01, harmonics=[(0.3, 0.5)],
    ...                             spot_lifetime=20.0, shear=0.05, second_group_amplitude=0.005, seed=3)
    >>> bool(np.array_equal(flux, starspot_variability(t, period=2.0, amplitude=0.01, harmonics=[(0.3, 0.5)],
    ...      spot_lifetime=20.0, shear=0.05, second_group_amplitude=0.005, seed=3)))
    True
    >>> 0.003 < float(np.std(flux)) < 0.03
    True
    """
    period = require_positive("period", period)
    amplitude = require_finite("amplitude", amplitude)
    shear = require_finite("shear", shear)
    require(shear > -1.0, f"shear must be > -1 (a positive second period), got {shear}")
    second_group_amplitude = require_finite("second_group_amplitude", second_group_amplitude)
    if spot_lifetime is not None:
        spot_lifetime = require_positive("spot_lifetime", spot_lifetime)
    terms: list[tuple[int, float, float]] = []
    for order, pair in enumerate(harmonics, start=2):
        require(len(pair) == 2, f"each harmonic is a (relative_amplitude, phase) pair, got {pair!r}")
        terms.append(
            (order, require_finite("harmonic amplitude", pair[0]), require_finite("harmonic phase", pair[1]))
        )
    groups = [(period, amplitude)]
    if second_group_amplitude != 0.0:
        groups.append((period * (1.0 + shear), second_group_amplitude))

    def model(finite_time: np.ndarray) -> np.ndarray:
        generator = np.random.default_rng(seed)
        start, end = float(finite_time.min()), float(finite_time.max())
        flux = np.zeros(finite_time.size)
        for group_period, group_amplitude in groups:
            if spot_lifetime is None:
                modulus = np.ones(finite_time.size)
                longitude = np.full(finite_time.size, generator.uniform(0.0, 2.0 * np.pi))
            else:
                grid, envelope = _complex_envelope(start, end, spot_lifetime, generator)
                real = np.interp(finite_time, grid, envelope.real)
                imaginary = np.interp(finite_time, grid, envelope.imag)
                modulus, longitude = np.hypot(real, imaginary), np.arctan2(imaginary, real)
            theta = 2.0 * np.pi * finite_time / group_period + longitude
            shape = np.cos(theta)
            for order, relative_amplitude, term_phase in terms:
                shape += relative_amplitude * np.cos(order * theta + term_phase)
            flux += group_amplitude * modulus * shape
        return 1.0 + flux

    return evaluate_on_finite_times(time, model)
