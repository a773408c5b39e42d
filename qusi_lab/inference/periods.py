"""Box least squares (BLS) period search for transit candidates.

:func:`search_period` estimates the period, mid-transit epoch, duration and depth of
the strongest box-shaped dip train in a light curve with astropy's
:class:`~astropy.timeseries.BoxLeastSquares`. It is built to run on the top of a
ranked candidate table, so it trades a little resolution for speed:

1. the curve is made relative (divided by its median), binned to ``bin_minutes``
   (20-minute bins: ~2,000 points for a TESS sector, 10x fewer than 2-minute data) and
   flattened by subtracting a running median ``detrend_window`` days wide, which
   removes stellar rotation and red noise while keeping dips of up to a few hours;
2. a coarse search over a log-spaced period grid (:func:`period_grid`: neighbouring
   trial periods shift the last transit by at most one shortest trial duration), with 2
   phase bins per shortest duration: ~10 times fewer periods than astropy's
   ``autoperiod`` would use for the same resolution at long periods;
3. a fine search (10x finer grid, 3x finer phase bins) around the coarse peak.

That costs some tens of milliseconds per 27-day TESS sector (``benchmarks/bench_inference.py``).

Example
-------
>>> import numpy as np
>>> from qusi_lab import LightCurve
>>> time = np.arange(0.0, 27.0, 2 / 1440)
>>> flux = 1 + np.random.default_rng(0).normal(0, 1e-3, time.size)
>>> flux[np.abs((time - 1.3 + 1.6) % 3.2 - 1.6) < 0.06] -= 4e-3        # a 3.2-day, 2.9-hour, 4,000 ppm transit
>>> result = search_period(LightCurve(time, flux))
>>> round(result.period, 2), round(result.duration * 24, 1) > 2
(3.2, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qusi_lab.core.binning import bin_means
from qusi_lab.core.folding import fold_time
from qusi_lab.core.robust import robust_scale
from qusi_lab.core.running_median import running_median_over_time
from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import LightCurve

__all__ = [
    "DEFAULT_DURATIONS_HOURS",
    "PERIOD_COLUMNS",
    "PeriodSearchResult",
    "period_grid",
    "prepare_for_period_search",
    "search_period",
]

#: Trial transit durations: 1 to 7.5 hours (the transits the default whole-sector input resolves).
DEFAULT_DURATIONS_HOURS: tuple[float, ...] = (1.0, 1.5, 2.25, 3.3, 5.0, 7.5)

#: Columns :meth:`PeriodSearchResult.as_row` fills in a candidate table (TOI-catalogue units).
PERIOD_COLUMNS: tuple[str, ...] = ("period", "epoch", "duration_hours", "depth_ppm", "bls_snr", "bls_power",
                                   "transit_count")


@dataclass(frozen=True)
class PeriodSearchResult:
    """The strongest box-shaped periodic dip found by :func:`search_period`.

    Attributes
    ----------
    period:
        Days.
    epoch:
        Mid-time of the first transit inside the light curve, in the curve's own time
        system (BTJD for TESS, BKJD for Kepler/K2).
    duration:
        Days.
    depth:
        Fractional depth of the box (relative flux; 0.001 = 1,000 ppm).
    depth_snr:
        Depth over its uncertainty.
    power:
        BLS power (log-likelihood gain of the box model) at the peak.
    transit_count:
        Number of transit windows that contain data.
    periods, powers:
        The coarse periodogram (for plots); not written to tables.
    """

    period: float
    epoch: float
    duration: float
    depth: float
    depth_snr: float
    power: float
    transit_count: int
    periods: np.ndarray | None = None
    powers: np.ndarray | None = None

    def as_row(self) -> dict[str, float]:
        """The values of :data:`PERIOD_COLUMNS` (``duration_hours``, ``depth_ppm`` ...)."""
        return {
            "period": self.period,
            "epoch": self.epoch,
            "duration_hours": self.duration * 24.0,
            "depth_ppm": self.depth * 1e6,
            "bls_snr": self.depth_snr,
            "bls_power": self.power,
            "transit_count": float(self.transit_count),
        }

    def __repr__(self) -> str:
        values = {key: value for key, value in asdict(self).items() if key not in ("periods", "powers")}
        inside = ", ".join(f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}"
                           for key, value in values.items())
        return f"PeriodSearchResult({inside})"


def prepare_for_period_search(
    light_curve: LightCurve, *, bin_minutes: float = 20.0, detrend_window: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(time, flux)`` ready for BLS: finite, relative (median 0), binned and flattened.

    Parameters
    ----------
    light_curve:
        The raw light curve (any flux units).
    bin_minutes:
        Bin width; curves already coarser than this are not binned. 0 disables binning.
    detrend_window:
        Width in days of the running median subtracted to remove variability (0 disables it).
        Keep it at least ~3 times the longest transit you look for.

    Raises
    ------
    LightCurveError
        When fewer than 10 finite cadences remain (names the file).
    """
    time = np.asarray(light_curve.time, dtype=np.float64)
    flux = np.asarray(light_curve.flux, dtype=np.float64)
    keep = np.isfinite(time) & np.isfinite(flux)
    time, flux = time[keep], flux[keep]
    if time.size < 10:
        raise LightCurveError(f"period search needs at least 10 finite cadences, got {time.size}",
                              light_curve.path)
    order = np.argsort(time, kind="stable")
    time, flux = time[order], flux[order]
    median = float(np.median(flux))
    if median != 0 and np.isfinite(median):
        flux = flux / median - 1.0  # relative flux: depths come out as fractions
    else:
        flux = flux - median
    width = bin_minutes / 1440.0
    if width > 0 and time.size > 1 and width > float(np.median(np.diff(time))) * 1.5:
        binned = bin_means(time, flux, width=width)
        time, flux = binned.centers, binned.means
    if detrend_window > 0 and time.size > 3:
        flux = flux - running_median_over_time(time, flux, detrend_window)
    return time, flux


def period_grid(minimum_period: float, maximum_period: float, baseline: float, shortest_duration: float,
                drift: float = 0.5) -> np.ndarray:
    """Trial periods, log-spaced so a transit train drifts at most ``drift`` durations between neighbours.

    Between neighbouring trial periods ``P`` and ``P + dP`` the last of ``baseline / P`` transits
    moves by ``baseline * dP / P``; keeping that below ``drift * shortest_duration`` everywhere
    gives a constant ``dP / P``: a log-uniform grid, ~8 times smaller than astropy's
    ``autoperiod`` (uniform in frequency, fine enough for the longest period everywhere).

    Example
    -------
    >>> grid = period_grid(0.5, 13.7, baseline=27.4, shortest_duration=1 / 24)
    >>> len(grid), round(float(grid[1] / grid[0] - 1), 5)
    (4357, 0.00076)
    """
    ratio = drift * shortest_duration / baseline
    count = int(math.ceil(math.log(maximum_period / minimum_period) / math.log1p(ratio))) + 1
    return np.geomspace(minimum_period, maximum_period, count)


def search_period(
    light_curve: LightCurve | tuple[np.ndarray, np.ndarray],
    *,
    minimum_period: float = 0.5,
    maximum_period: float | None = None,
    durations_hours: tuple[float, ...] | np.ndarray = DEFAULT_DURATIONS_HOURS,
    drift: float = 1.0,
    oversample: int = 2,
    refine: bool = True,
    bin_minutes: float = 20.0,
    detrend_window: float = 1.0,
    keep_periodogram: bool = False,
) -> PeriodSearchResult:
    """The period, epoch, duration and depth of the strongest transit-like signal (BLS).

    Parameters
    ----------
    light_curve:
        A :class:`~qusi_lab.LightCurve` (prepared with :func:`prepare_for_period_search`),
        or ``(time, flux)`` arrays already prepared (relative flux, median ~0).
    minimum_period, maximum_period:
        Search range in days. The default maximum is half the time span, so that at
        least two transits are seen.
    durations_hours:
        Trial durations (hours); those not shorter than ``minimum_period`` are dropped.
    drift:
        Coarse-grid spacing: how far (in shortest trial durations) the last transit moves
        between neighbouring trial periods (see :func:`period_grid`).
    oversample:
        Phase bins per shortest duration in the coarse search.
    refine:
        Search again around the coarse peak on a 10x finer grid (61 periods over +-3 coarse steps).
    bin_minutes, detrend_window:
        See :func:`prepare_for_period_search`.
    keep_periodogram:
        Keep the coarse ``periods`` and ``powers`` on the result (for plotting).

    Raises
    ------
    LightCurveError
        When the curve is too short for the period range (names the file).

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve                              # doctest: +SKIP
    >>> lc = synthetic_light_curve("planet", seed=2, parameters={"period": 4.1, "radius_ratio": 0.08})  # doctest: +SKIP
    >>> search_period(lc).period                                                       # doctest: +SKIP
    4.10...
    """
    from astropy.timeseries import BoxLeastSquares

    path = None
    if isinstance(light_curve, LightCurve):
        path = light_curve.path
        time, flux = prepare_for_period_search(light_curve, bin_minutes=bin_minutes,
                                               detrend_window=detrend_window)
    else:
        time = np.asarray(light_curve[0], dtype=np.float64)
        flux = np.asarray(light_curve[1], dtype=np.float64)
        keep = np.isfinite(time) & np.isfinite(flux)
        time, flux = time[keep], flux[keep]
    if time.size < 10:
        raise LightCurveError(f"period search needs at least 10 finite cadences, got {time.size}", path)
    baseline = float(time[-1] - time[0])
    maximum = baseline / 2.0 if maximum_period is None else float(maximum_period)
    minimum = float(minimum_period)
    durations = np.asarray(durations_hours, dtype=np.float64) / 24.0
    durations = durations[durations < minimum]
    if durations.size == 0:
        raise ValueError(f"every trial duration is at least minimum_period={minimum} days")
    if not maximum > minimum:
        raise LightCurveError(
            f"a {baseline:.2f}-day light curve cannot show two transits of a period above "
            f"minimum_period={minimum} days", path)

    periods = period_grid(minimum, maximum, baseline, float(durations.min()), drift)
    # A robust scale keeps the likelihood power comparable between stars of any brightness.
    scatter = robust_scale(flux)
    dy = np.full_like(flux, scatter if scatter > 0 else 1.0)
    model = BoxLeastSquares(time, flux, dy=dy)
    coarse = model.power(periods, durations, method="fast", objective="likelihood", oversample=oversample)
    best = int(np.nanargmax(coarse.power))
    result = coarse
    index = best
    if refine:
        period = float(coarse.period[best])
        step = period * (periods[1] / periods[0] - 1.0) if periods.size > 1 else 0.01 * period
        fine_periods = np.linspace(max(minimum, period - 3 * step), min(maximum, period + 3 * step), 61)
        fine = model.power(fine_periods, durations, method="fast", objective="likelihood", oversample=6)
        fine_best = int(np.nanargmax(fine.power))
        if fine.power[fine_best] >= coarse.power[best]:
            result, index = fine, fine_best
    period = float(result.period[index])
    duration = float(result.duration[index])
    transit_time = float(result.transit_time[index])
    # The first transit inside the data, whatever reference astropy picked.
    epoch = transit_time + math.ceil((float(time[0]) - transit_time - duration / 2) / period) * period
    phase = np.abs(fold_time(time, period, epoch))
    in_transit = phase < duration / 2
    transit_numbers = np.round((time[in_transit] - epoch) / period)
    return PeriodSearchResult(
        period=period,
        epoch=float(epoch),
        duration=duration,
        depth=float(result.depth[index]),
        depth_snr=float(result.depth_snr[index]),
        power=float(result.power[index]),
        transit_count=int(np.unique(transit_numbers).size),
        periods=np.asarray(coarse.period) if keep_periodogram else None,
        powers=np.asarray(coarse.power) if keep_periodogram else None,
    )


def empty_period_row() -> dict[str, Any]:
    """A row of :data:`PERIOD_COLUMNS` with NaN everywhere (curves not searched)."""
    return dict.fromkeys(PERIOD_COLUMNS, float("nan"))
