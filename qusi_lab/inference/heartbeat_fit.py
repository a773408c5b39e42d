"""A quick fit of the heartbeat model to a folded light curve: the shape estimator beside the period search.

:func:`~qusi_lab.inference.periods.search_period` finds a period; :func:`fit_heartbeat` fits, at that period,
the shape of a heartbeat star (an eccentric binary's tidal brightening). The vetting panel's heartbeat view
draws the fit; it used to live in ``qusi_lab.vetting.fit`` (that path still works, deprecated, until 0.2).

The model is the one :func:`qusi_lab.signals.heartbeat` draws (Kumar, Ao & Quataert 1995; Thompson
et al. 2012, eq. 1)::

    flux = offset + S * [1 - 3 sin^2(i) sin^2(nu - omega)] / (r / a)^3

at the candidate's period (fixed). Free: the time of periastron, the eccentricity ``e``, the
inclination ``i``, the argument of periastron ``omega``, the scale ``S >= 0`` and the offset.

Two stages, ~10-30 ms on a 400-bin fold:

1. a grid over ``(e, periastron phase)``: with these two fixed the model is *linear* in four
   coefficients (the bracket is ``(1 - 1.5 sin^2 i) + 1.5 sin^2 i cos(2 nu - 2 omega)``), so every
   grid point is one small linear least-squares problem, solved all at once;
2. :func:`scipy.optimize.least_squares` on the six physical parameters, from the best grid point
   that is physically possible, and from ``guess`` when one is given: a heartbeat search's periastron
   time and eccentricity (the candidate table's ``epoch`` and ``heartbeat_eccentricity``), whose
   linear solution starts a refinement of its own; the fit keeps whichever ends closest to the data.

``omega`` and ``omega + 180`` degrees give the same light curve (as do ``i`` and ``180 - i``): the
fit reports ``omega`` in [0, 180) and ``i`` in [0, 90].

Example
-------
>>> import numpy as np
>>> from qusi_lab.signals import heartbeat
>>> phase = np.linspace(-0.5, 0.5, 400, endpoint=False)
>>> truth = dict(period=10.0, epoch_periastron=0.3, eccentricity=0.5, inclination=60.0,
...              argument_of_periastron=40.0, amplitude=2e-3)
>>> flux = heartbeat(phase * 10.0, **truth) + np.random.default_rng(0).normal(0, 1e-4, phase.size)
>>> fit = fit_heartbeat(phase, flux, period=10.0, epoch=0.0)
>>> abs(fit.eccentricity - 0.5) < 0.05, abs(fit.epoch_periastron - 0.3) < 0.05, abs(fit.amplitude - 2e-3) < 1e-4
(True, True, True)

Seeded from a search's values (the fit then starts at the searched orbit as well as at the grid's best):

>>> seeded = fit_heartbeat(phase, flux, period=10.0, epoch=0.0, guess={"epoch_periastron": 0.31, "eccentricity": 0.48})
>>> abs(seeded.eccentricity - 0.5) < 0.05, seeded.explained >= fit.explained - 1e-3
(True, True)
"""

from __future__ import annotations

import math
import time as time_module
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

__all__ = ["HeartbeatFit", "fit_heartbeat"]

#: Eccentricities and periastron phases of the grid stage.
_GRID_ECCENTRICITIES = np.linspace(0.05, 0.9, 15)
_GRID_PHASES = np.linspace(-0.5, 0.5, 80, endpoint=False)
_LATTICE = 2048
_GRID_POINTS = 200
#: Grid points refined by least squares (the best two distinct ones: the grid's best is not always the fit's).
_REFINED = 2
_MAX_ECCENTRICITY = 0.9
#: Chi-square by which a fit started from a search's orbit (``guess``) may be worse than the best and still be
#: kept: the search saw every passage unfolded, a fold's small preference is no evidence against it.
_SEARCH_PREFERENCE = 4.0


@dataclass(frozen=True)
class HeartbeatFit:
    """The best-fitting heartbeat model of a folded curve.

    ``period``, ``epoch_periastron``, ``eccentricity``, ``inclination``, ``argument_of_periastron``
    and ``amplitude`` are the arguments of :func:`qusi_lab.signals.heartbeat`; ``level`` is the
    model's median flux over an orbit (the data's, not 1: the folded curve is relative to its own
    baseline). ``rms`` is the residual scatter of the fitted points, ``explained`` the share of their
    variance the model explains (R^2), ``seconds`` the time the fit took.
    """

    period: float
    epoch_periastron: float
    eccentricity: float
    inclination: float
    argument_of_periastron: float
    amplitude: float
    level: float
    rms: float
    explained: float
    seconds: float

    @property
    def parameters(self) -> dict[str, float]:
        """The keywords of :func:`qusi_lab.signals.heartbeat` (without ``level``)."""
        values = asdict(self)
        return {name: float(values[name]) for name in ("period", "epoch_periastron", "eccentricity",
                                                       "inclination", "argument_of_periastron", "amplitude")}

    def __call__(self, time: Any) -> np.ndarray:
        """The fitted model's relative flux at ``time`` (days)."""
        from qusi_lab.signals import heartbeat

        return heartbeat(time, **self.parameters) - 1.0 + self.level

    def describe(self) -> str:
        """One line for people: ``e 0.52 · i 61° · ω 40° · amplitude 2,000 ppm · R² 0.93``."""
        return (f"e {self.eccentricity:.2f} · i {self.inclination:.0f}° · ω {self.argument_of_periastron:.0f}° · "
                f"amplitude {self.amplitude * 1e6:,.0f} ppm · R² {self.explained:.2f}")


def _orbit(phase: np.ndarray, eccentricity: float) -> tuple[np.ndarray, np.ndarray]:
    """True anomaly and ``(a / r)^3`` at orbital ``phase`` (0 at periastron)."""
    from qusi_lab.signals.orbits import solve_kepler, true_anomaly_from_eccentric

    eccentric = solve_kepler(2.0 * np.pi * phase, eccentricity)
    true = true_anomaly_from_eccentric(eccentric, eccentricity)
    return true, (1.0 - eccentricity * np.cos(eccentric)) ** -3


def _model(values: np.ndarray, phase: np.ndarray) -> np.ndarray:
    periastron, eccentricity, inclination, omega, scale, offset = values
    true, inverse_cube = _orbit(phase - periastron, float(np.clip(eccentricity, 0.0, 0.99)))
    sin_squared = math.sin(math.radians(inclination)) ** 2
    bracket = 1.0 - 3.0 * sin_squared * np.sin(true - math.radians(omega)) ** 2
    return offset + scale * bracket * inverse_cube


def _grid(phase: np.ndarray, flux: np.ndarray) -> list[np.ndarray]:
    """Physical starting values ``(periastron phase, e, i, omega, S, offset)`` from the linear grid stage.

    The best grid point of each eccentricity, best first (physically possible ones before the others),
    leaving out those close to a better one.
    The orbit is computed once per eccentricity on a fine lattice of phases and looked up for every
    shift (nearest lattice point: ~1/4000 of a cycle), so the whole grid costs a few milliseconds.
    """
    if phase.size > _GRID_POINTS:  # coarser for the grid (the refinement uses every point)
        bins = np.minimum((np.mod(phase, 1.0) * _GRID_POINTS).astype(np.int64), _GRID_POINTS - 1)
        counts = np.bincount(bins, minlength=_GRID_POINTS)
        filled = counts > 0
        phase = ((np.arange(_GRID_POINTS) + 0.5) / _GRID_POINTS)[filled]
        flux = (np.bincount(bins, weights=flux, minlength=_GRID_POINTS) / np.maximum(counts, 1))[filled]
    lattice = np.arange(_LATTICE) / _LATTICE
    shifted = np.mod(phase[None, :] - _GRID_PHASES[:, None], 1.0)
    index = np.rint(shifted * _LATTICE).astype(np.int64) % _LATTICE          # (phases, points)
    starts: list[tuple[bool, float, np.ndarray]] = []
    for eccentricity in _GRID_ECCENTRICITIES:
        true_lattice, inverse_cube_lattice = _orbit(lattice, float(eccentricity))
        true, inverse_cube = true_lattice[index], inverse_cube_lattice[index]
        basis = np.stack([np.ones_like(true), inverse_cube, inverse_cube * np.cos(2 * true),
                          inverse_cube * np.sin(2 * true)], axis=-1)            # (phases, points, 4)
        transposed = basis.transpose(0, 2, 1)
        normal = transposed @ basis                                                 # (phases, 4, 4)
        normal += np.eye(4) * (1e-10 * np.trace(normal, axis1=1, axis2=2))[:, None, None]
        right = transposed @ flux                                                   # (phases, 4)
        coefficients = np.linalg.solve(normal, right[..., None])[..., 0]
        cost = float(flux @ flux) - np.einsum("mi,mi->m", coefficients, right)  # least-squares residual
        a0, a1, a2 = coefficients[:, 1], coefficients[:, 2], coefficients[:, 3]
        b = np.hypot(a1, a2)
        possible = (a0 + b > 0) & (a0 >= -b / 3 - 1e-12)   # S > 0 and sin^2(i) <= 1
        for physical in (True, False):
            mask = possible if physical else ~possible
            if not mask.any():
                continue
            best = int(np.flatnonzero(mask)[np.argmin(cost[mask])])
            scale = max(float(a0[best] + b[best]), 1e-12)
            sin_squared = float(np.clip(b[best] / (1.5 * scale), 0.0, 1.0))
            start = np.array([_GRID_PHASES[best], eccentricity, math.degrees(math.asin(math.sqrt(sin_squared))),
                              math.degrees(0.5 * math.atan2(a2[best], a1[best])), scale, coefficients[best, 0]])
            starts.append((physical, float(cost[best]), start))
    starts.sort(key=lambda entry: (not entry[0], entry[1]))
    # Distinct starts only: the best grid point's neighbours in eccentricity lead to the same minimum.
    distinct: list[np.ndarray] = []
    for _, _, start in starts:
        if all(abs(start[0] - other[0]) > 0.05 or abs(start[1] - other[1]) > 0.2 for other in distinct):
            distinct.append(start)
    return distinct


def _start_from_guess(phase: np.ndarray, flux: np.ndarray, guess: Mapping[str, Any], *, period: float,
                      epoch: float) -> np.ndarray | None:
    """Starting values ``(periastron phase, e, i, omega, S, offset)`` from a search's orbit.

    The periastron phase and eccentricity come from ``guess`` (its ``epoch_periastron``, ``eccentricity``);
    the rest from the model's linear solution at those two (or ``guess``'s ``inclination`` and
    ``argument_of_periastron`` when it has them). None when ``guess`` gives neither a periastron nor an
    eccentricity, or they are not numbers.
    """
    def number(name: str) -> float | None:
        try:
            value = float(guess[name]) if guess.get(name) is not None else math.nan
        except (TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None

    periastron_time, eccentricity = number("epoch_periastron"), number("eccentricity")
    if periastron_time is None and eccentricity is None:
        return None
    periastron = 0.0 if periastron_time is None else ((periastron_time - epoch) / period + 0.5) % 1.0 - 0.5
    eccentricity = float(np.clip(0.5 if eccentricity is None else eccentricity, 0.0, _MAX_ECCENTRICITY))
    true, inverse_cube = _orbit(phase - periastron, eccentricity)
    basis = np.stack([np.ones_like(true), inverse_cube, inverse_cube * np.cos(2 * true),
                      inverse_cube * np.sin(2 * true)], axis=-1)
    coefficients, *_ = np.linalg.lstsq(basis, flux, rcond=None)
    offset, a0, a1, a2 = (float(value) for value in coefficients)
    b = math.hypot(a1, a2)
    scale = max(a0 + b, 1e-12)
    inclination = math.degrees(math.asin(math.sqrt(float(np.clip(b / (1.5 * scale), 0.0, 1.0)))))
    omega = math.degrees(0.5 * math.atan2(a2, a1))
    given_inclination, given_omega = number("inclination"), number("argument_of_periastron")
    inclination = inclination if given_inclination is None else given_inclination
    omega = omega if given_omega is None else given_omega
    return np.array([periastron, eccentricity, inclination, omega, scale, offset])


def fit_heartbeat(phase: Any, flux: Any, *, period: float, epoch: float,
                  guess: Mapping[str, Any] | None = None) -> HeartbeatFit:
    """Fit the heartbeat model to a folded curve: ``flux`` at ``phase`` (cycles from ``epoch``).

    ``phase`` may be any real numbers (whole cycles do not matter); for speed give a binned fold
    (a few hundred points). Raises ``ValueError`` with fewer than 12 finite points.

    ``guess``: a search's orbit to start from as well (keys of :attr:`HeartbeatFit.parameters`, any of
    them; ``epoch_periastron`` and ``eccentricity`` matter most), e.g. a heartbeat candidate table's
    ``{"epoch_periastron": row.epoch, "eccentricity": row.heartbeat_eccentricity}``. The fit refines it
    beside the grid's best starts and keeps the closest to the data, so a wrong guess costs a few
    milliseconds, not the fit.
    """
    from scipy.optimize import least_squares

    started = time_module.perf_counter()
    phase = np.asarray(phase, dtype=np.float64).ravel()
    flux = np.asarray(flux, dtype=np.float64).ravel()
    finite = np.isfinite(phase) & np.isfinite(flux)
    phase, flux = phase[finite], flux[finite]
    if phase.size < 12:
        raise ValueError(f"a heartbeat fit needs at least 12 points, got {phase.size}")
    if not (math.isfinite(period) and period > 0):
        raise ValueError(f"period must be positive, got {period}")
    spread = float(np.std(flux)) or 1e-6
    result = None
    starts = _grid(phase, flux)[:_REFINED]
    seeded = _start_from_guess(phase, flux, guess, period=float(period), epoch=float(epoch)) if guess else None
    if seeded is not None:
        starts.insert(0, seeded)
    refinements = []
    for start in starts:
        start[1] = min(start[1], _MAX_ECCENTRICITY)
        start[2] = float(np.clip(start[2], 1e-3, 90.0 - 1e-3))
        start[4] = max(start[4], 1e-9)
        lower = [start[0] - 0.1, 0.0, 0.0, -np.inf, 0.0, -np.inf]
        upper = [start[0] + 0.1, _MAX_ECCENTRICITY, 90.0, np.inf, np.inf, np.inf]
        refined = least_squares(lambda values: (_model(values, phase) - flux) / spread, start,
                                bounds=(lower, upper), x_scale=[0.01, 0.05, 5.0, 5.0, max(start[4], 1e-6), spread],
                                ftol=1e-6, xtol=1e-6, gtol=1e-6, max_nfev=100)
        refinements.append(refined)
    result = min(refinements, key=lambda refined: refined.cost)
    if seeded is not None and result is not refinements[0] and result.cost > 0:
        # The search's orbit stays unless the data reject it: chi-square worse by less than
        # _SEARCH_PREFERENCE (noise from the best fit's residuals) is no evidence against it.
        worse = (refinements[0].cost - result.cost) * phase.size / result.cost
        if worse < _SEARCH_PREFERENCE:
            result = refinements[0]
    periastron, eccentricity, inclination, omega, scale, offset = (float(value) for value in result.x)
    residual = flux - _model(result.x, phase)
    variance = float(np.var(flux))
    explained = 1.0 - float(np.var(residual)) / variance if variance > 0 else 0.0
    omega = omega % 180.0
    from qusi_lab.signals.heartbeat import heartbeat_normalization

    median, peak_to_peak = heartbeat_normalization(eccentricity, inclination, omega)
    periastron = (periastron + 0.5) % 1.0 - 0.5
    return HeartbeatFit(
        period=float(period), epoch_periastron=float(epoch) + periastron * float(period), eccentricity=eccentricity,
        inclination=inclination, argument_of_periastron=omega, amplitude=scale * peak_to_peak,
        level=offset + scale * median, rms=float(np.sqrt(np.mean(residual**2))), explained=explained,
        seconds=time_module.perf_counter() - started)
