"""Random physically sensible signal parameters, and replaying a parameter dict by signal kind."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qusi_lab.signals.eclipsing_binary import eclipse_radius_ratio, eclipsing_binary
from qusi_lab.signals.flare import FLARE_MODELS, flare
from qusi_lab.signals.heartbeat import heartbeat
from qusi_lab.signals.orbits import (
    a_over_rstar_from_density,
    inclination_from_impact_parameter,
    transit_duration,
)
from qusi_lab.signals.transit import transit
from qusi_lab.signals.variability import quasi_periodic_variability, sinusoidal_variability

SIGNAL_KINDS: tuple[str, ...] = (
    "transit",
    "heartbeat",
    "eclipsing_binary",
    "flare",
    "sinusoidal",
    "quasi_periodic",
)

SIGNAL_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "transit": transit,
    "heartbeat": heartbeat,
    "eclipsing_binary": eclipsing_binary,
    "flare": flare,
    "sinusoidal": sinusoidal_variability,
    "quasi_periodic": quasi_periodic_variability,
}

# Span (days) assumed for epochs and flare times when random_parameters gets no time array: a TESS sector.
DEFAULT_TIME_SPAN = 27.0
MINUTES = 1.0 / 1440.0

# Names accepted as overrides by random_parameters, per kind: the signal's own parameters plus the
# auxiliary quantities they are derived from.
_OVERRIDABLE: dict[str, frozenset[str]] = {
    "transit": frozenset(
        {
            "period",
            "epoch",
            "radius_ratio",
            "a_over_rstar",
            "inclination",
            "eccentricity",
            "argument_of_periastron",
            "limb_darkening",
            "stellar_density",
            "impact_parameter",
        }
    ),
    "heartbeat": frozenset(
        {"period", "epoch_periastron", "eccentricity", "inclination", "argument_of_periastron", "amplitude"}
    ),
    "eclipsing_binary": frozenset(
        {
            "period",
            "epoch",
            "primary_depth",
            "secondary_depth",
            "duration",
            "eccentricity",
            "argument_of_periastron",
            "ellipsoidal_amplitude",
            "stellar_density",
            "mass_ratio",
        }
    ),
    "flare": frozenset({"peak_time", "fwhm", "amplitude", "model"}),
    "sinusoidal": frozenset({"period", "amplitude", "phase", "harmonics"}),
    "quasi_periodic": frozenset({"period", "amplitude", "coherence_time", "seed"}),
}


class _Draws:
    """Draws named parameters from default ranges unless the caller overrode them.

    An override is a fixed value (a number) or a ``(low, high)`` range drawn with the parameter's own
    distribution (uniform, log-uniform or isotropic).
    """

    def __init__(self, rng: np.random.Generator, overrides: Mapping[str, Any]) -> None:
        self.rng = rng
        self.overrides = overrides

    def given(self, name: str) -> bool:
        return name in self.overrides

    def _bounds(self, name: str, low: float, high: float) -> tuple[float, float] | float:
        if name not in self.overrides:
            return low, high
        value = self.overrides[name]
        if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
            return float(value)
        if len(value) != 2:
            raise ValueError(f"{name} override must be a number or a (low, high) range, got {value!r}")
        low, high = float(value[0]), float(value[1])
        if not low <= high:
            raise ValueError(f"{name} range must have low <= high, got {value!r}")
        return low, high

    def uniform(self, name: str, low: float, high: float) -> float:
        bounds = self._bounds(name, low, high)
        if isinstance(bounds, float):
            return bounds
        return float(self.rng.uniform(*bounds))

    def log_uniform(self, name: str, low: float, high: float) -> float:
        bounds = self._bounds(name, low, high)
        if isinstance(bounds, float):
            return bounds
        if bounds[0] <= 0:
            raise ValueError(f"{name} is drawn log-uniformly; its range must be positive, got {bounds}")
        return float(math.exp(self.rng.uniform(math.log(bounds[0]), math.log(bounds[1]))))

    def isotropic_inclination(self, name: str, low: float, high: float) -> float:
        """Inclination (degrees) of a randomly oriented orbit: uniform in cos(i) between the limits."""
        bounds = self._bounds(name, low, high)
        if isinstance(bounds, float):
            return bounds
        low_cosine, high_cosine = sorted(
            (math.cos(math.radians(bounds[0])), math.cos(math.radians(bounds[1])))
        )
        return float(math.degrees(math.acos(self.rng.uniform(low_cosine, high_cosine))))

    def fixed(self, name: str, default: Any) -> Any:
        return self.overrides.get(name, default)


def _time_limits(time: ArrayLike | None) -> tuple[float, float]:
    if time is None:
        return 0.0, DEFAULT_TIME_SPAN
    values = np.asarray(time, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        raise ValueError("time has no finite values to place the signal in")
    return float(finite.min()), float(finite.max())


def _transit(draws: _Draws, start: float, end: float) -> dict[str, Any]:
    period = draws.log_uniform("period", 0.5, 15.0)
    epoch = draws.uniform("epoch", start, start + period)
    radius_ratio = draws.log_uniform("radius_ratio", 0.03, 0.15)
    stellar_density = draws.log_uniform("stellar_density", 0.5, 3.0)  # g/cm^3; the Sun is 1.41
    if draws.given("a_over_rstar"):
        a_over_rstar = draws.log_uniform("a_over_rstar", 2.0, 50.0)
    else:
        a_over_rstar = a_over_rstar_from_density(period, stellar_density)
    eccentricity = draws.uniform("eccentricity", 0.0, 0.0)
    omega_default = (0.0, 360.0) if eccentricity > 0 else (90.0, 90.0)
    argument_of_periastron = draws.uniform("argument_of_periastron", *omega_default)
    impact = draws.uniform("impact_parameter", 0.0, 0.9)
    if draws.given("inclination"):
        inclination = draws.uniform("inclination", 80.0, 90.0)
    else:
        inclination = inclination_from_impact_parameter(
            impact, a_over_rstar, eccentricity, argument_of_periastron
        )
    if draws.given("limb_darkening"):
        limb_darkening = [float(value) for value in draws.fixed("limb_darkening", ())]
    else:
        limb_darkening = [float(draws.rng.uniform(0.25, 0.55)), float(draws.rng.uniform(0.15, 0.35))]
    return {
        "period": period,
        "epoch": epoch,
        "radius_ratio": radius_ratio,
        "a_over_rstar": a_over_rstar,
        "inclination": inclination,
        "eccentricity": eccentricity,
        "argument_of_periastron": argument_of_periastron,
        "limb_darkening": limb_darkening,
    }


def _heartbeat(draws: _Draws, start: float, end: float) -> dict[str, Any]:
    period = draws.log_uniform("period", 2.0, 30.0)
    return {
        "period": period,
        "epoch_periastron": draws.uniform("epoch_periastron", start, start + period),
        "eccentricity": draws.uniform("eccentricity", 0.2, 0.8),
        "inclination": draws.isotropic_inclination("inclination", 10.0, 90.0),
        "argument_of_periastron": draws.uniform("argument_of_periastron", 0.0, 360.0),
        "amplitude": draws.log_uniform("amplitude", 5e-4, 5e-3),
    }


def _eclipsing_binary(draws: _Draws, start: float, end: float) -> dict[str, Any]:
    period = draws.log_uniform("period", 0.5, 15.0)
    epoch = draws.uniform("epoch", start, start + period)
    primary_depth = draws.log_uniform("primary_depth", 0.02, 0.5)
    if draws.given("secondary_depth"):
        secondary_depth = draws.uniform("secondary_depth", 0.0, primary_depth)
    else:
        secondary_depth = primary_depth * float(draws.rng.uniform(0.0, 1.0))
    # Tides circularise the orbits of close binaries (periods of a few days and less).
    eccentricity = draws.uniform("eccentricity", 0.0, 0.3 if period > 2.0 else 0.0)
    argument_of_periastron = draws.uniform("argument_of_periastron", 0.0, 360.0)
    stellar_density = draws.log_uniform("stellar_density", 0.3, 2.0)
    mass_ratio = draws.uniform("mass_ratio", 0.3, 1.0)
    # Kepler's third law with the companion's mass: a / R1 grows by (1 + q)^(1/3).
    a_over_radius = a_over_rstar_from_density(period, stellar_density) * (1.0 + mass_ratio) ** (1.0 / 3.0)
    if draws.given("duration"):
        duration = draws.uniform("duration", 0.02 * period, 0.1 * period)
    else:
        natural = transit_duration(
            period,
            a_over_radius,
            eclipse_radius_ratio(primary_depth),
            90.0,
            eccentricity,
            argument_of_periastron,
        )
        # Keep near-contact systems within the detached model: both eclipses well under half a period
        # (the secondary is longer by (1 + e sin w) / (1 - e sin w) in an eccentric orbit).
        sine = eccentricity * math.sin(math.radians(argument_of_periastron))
        duration = min(natural, 0.2 * period, 0.4 * period * (1.0 - sine) / (1.0 + sine))
    if draws.given("ellipsoidal_amplitude"):
        ellipsoidal_amplitude = draws.uniform("ellipsoidal_amplitude", 0.0, 0.0)
    else:
        # Tidal distortion of the primary: about q (R1 / a)^3 (Morris 1985, edge-on).
        ellipsoidal_amplitude = mass_ratio / a_over_radius**3
    return {
        "period": period,
        "epoch": epoch,
        "primary_depth": primary_depth,
        "secondary_depth": secondary_depth,
        "duration": duration,
        "eccentricity": eccentricity,
        "argument_of_periastron": argument_of_periastron,
        "ellipsoidal_amplitude": ellipsoidal_amplitude,
    }


def _flare(draws: _Draws, start: float, end: float) -> dict[str, Any]:
    model = draws.fixed("model", "davenport2014")
    if not isinstance(model, str):
        choices = list(model)
        model = choices[int(draws.rng.integers(len(choices)))]
    if model not in FLARE_MODELS:
        raise ValueError(f"unknown flare model {model!r}; choose from {FLARE_MODELS}")
    return {
        "peak_time": draws.uniform("peak_time", start, end),
        "fwhm": draws.log_uniform("fwhm", 5.0 * MINUTES, 60.0 * MINUTES),
        "amplitude": draws.log_uniform("amplitude", 0.005, 0.5),
        "model": str(model),
    }


def _sinusoidal(draws: _Draws, start: float, end: float) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "period": draws.log_uniform("period", 0.5, 20.0),
        "amplitude": draws.log_uniform("amplitude", 1e-4, 1e-2),
        "phase": draws.uniform("phase", 0.0, 2.0 * math.pi),
    }
    if draws.given("harmonics"):
        harmonics = [[float(value) for value in pair] for pair in draws.fixed("harmonics", ())]
    else:
        # Two spot groups give the double-humped rotation curves seen in Kepler: a second harmonic.
        harmonics = [[float(draws.rng.uniform(0.0, 0.5)), float(draws.rng.uniform(0.0, 2.0 * math.pi))]]
    parameters["harmonics"] = harmonics
    return parameters


def _quasi_periodic(draws: _Draws, start: float, end: float) -> dict[str, Any]:
    period = draws.log_uniform("period", 0.5, 20.0)
    amplitude = draws.log_uniform("amplitude", 1e-4, 1e-2)
    if draws.given("coherence_time"):
        coherence_time = draws.log_uniform("coherence_time", period, 10.0 * period)
    else:
        # Spot groups live for one to ten rotations.
        coherence_time = period * float(math.exp(draws.rng.uniform(0.0, math.log(10.0))))
    if draws.given("seed"):
        seed = int(draws.fixed("seed", 0))
    else:
        seed = int(draws.rng.integers(0, 2**31 - 1))
    return {"period": period, "amplitude": amplitude, "coherence_time": coherence_time, "seed": seed}


_DRAWERS: dict[str, Callable[[_Draws, float, float], dict[str, Any]]] = {
    "transit": _transit,
    "heartbeat": _heartbeat,
    "eclipsing_binary": _eclipsing_binary,
    "flare": _flare,
    "sinusoidal": _sinusoidal,
    "quasi_periodic": _quasi_periodic,
}


def _check_kind(kind: str) -> None:
    if kind not in SIGNAL_KINDS:
        raise ValueError(f"unknown signal kind {kind!r}; choose one of {SIGNAL_KINDS}")


def random_parameters(
    kind: str, rng: np.random.Generator, *, time: ArrayLike | None = None, **ranges: Any
) -> dict[str, Any]:
    """Draw physically sensible parameters of a signal of ``kind``.

    Default distributions (log-uniform "log", uniform otherwise; times in days):

    * transit: period 0.5-15 (log), radius_ratio 0.03-0.15 (log), stellar_density 0.5-3 g/cm^3 (log)
      giving a_over_rstar by Kepler's law, impact_parameter 0-0.9 giving the inclination, circular orbit,
      quadratic limb darkening u1 0.25-0.55, u2 0.15-0.35, epoch within the first period.
    * heartbeat: period 2-30 (log), eccentricity 0.2-0.8, inclination 10-90 deg (isotropic),
      argument_of_periastron 0-360 deg, amplitude 5e-4-5e-3 (log), periastron within the first period.
    * eclipsing_binary: period 0.5-15 (log), primary_depth 0.02-0.5 (log), secondary_depth 0-primary,
      eccentricity 0-0.3 (0 below 2 d), duration from Kepler's law (stellar_density 0.3-2 g/cm^3 log,
      mass_ratio 0.3-1) capped at 0.2 period, ellipsoidal_amplitude ``q (R1/a)^3``.
    * flare: peak_time within the time span, fwhm 5-60 min (log), amplitude 0.005-0.5 (log), davenport2014.
    * sinusoidal: period 0.5-20 (log), amplitude 1e-4-1e-2 (log), phase 0-2 pi, one harmonic of relative
      amplitude 0-0.5.
    * quasi_periodic: period 0.5-20 (log), amplitude 1e-4-1e-2 (log), coherence_time 1-10 periods (log),
      a random seed.

    Parameters
    ----------
    kind : str
        One of :data:`SIGNAL_KINDS`.
    rng : numpy.random.Generator
        Source of randomness; the same generator state gives the same parameters.
    time : array_like, optional
        Times of the light curve the signal is meant for: epochs fall within the first period after its
        first finite time, flare peaks within its span. Default: a 27-day span starting at 0.
    **ranges
        Overrides by parameter name: a number fixes the value, a ``(low, high)`` pair replaces the range.
        Auxiliary quantities can be overridden too (transit: ``stellar_density``, ``impact_parameter``;
        eclipsing_binary: ``stellar_density``, ``mass_ratio``). ``limb_darkening`` and ``harmonics`` take
        fixed values only; flare ``model`` a name or a sequence of names to choose from.

    Returns
    -------
    dict
        ``{"kind": kind, **parameters}`` of plain Python values (floats, one int seed, str model, lists
        for limb_darkening and harmonics), JSON-serialisable; ``signal(**...)`` replays it exactly.

    Example
    -------
    >>> parameters = random_parameters("transit", np.random.default_rng(0), period=3.0)
    >>> parameters["kind"], parameters["period"]
    ('transit', 3.0)
    >>> flux = signal(parameters.pop("kind"), np.linspace(0, 27, 100), **parameters)
    """
    _check_kind(kind)
    unknown = sorted(set(ranges) - _OVERRIDABLE[kind])
    if unknown:
        raise ValueError(
            f"random_parameters({kind!r}) got unknown parameter(s) {unknown}; "
            f"it accepts {sorted(_OVERRIDABLE[kind])}"
        )
    start, end = _time_limits(time)
    parameters = _DRAWERS[kind](_Draws(rng, ranges), start, end)
    return {"kind": kind, **parameters}


def signal(kind: str, time: ArrayLike, **parameters: Any) -> np.ndarray:
    """Relative flux of the signal ``kind`` at ``time``: dispatch to the model function of that kind.

    ``kind`` is one of :data:`SIGNAL_KINDS` (``"sinusoidal"`` and ``"quasi_periodic"`` name
    :func:`sinusoidal_variability` and :func:`quasi_periodic_variability`); ``parameters`` are that
    function's keyword arguments, e.g. a :func:`random_parameters` dict without its ``"kind"``.

    Example
    -------
    >>> signal("sinusoidal", np.array([0.25]), period=1.0, amplitude=0.01)
    array([1.01])
    """
    _check_kind(kind)
    return SIGNAL_FUNCTIONS[kind](time, **parameters)
