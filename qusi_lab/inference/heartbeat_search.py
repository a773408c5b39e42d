"""A blind search for heartbeat stars: a whitened matched filter over a bank of Kumar et al. (1995) shapes.

:func:`search_heartbeat` is the heartbeat counterpart of :func:`~qusi_lab.inference.periods.search_period`
(box least squares, for transits). It finds the period, a time of periastron and the shape (eccentricity,
inclination, argument of periastron, amplitude) of the strongest heartbeat-like signal in a light curve, and
its significance ``snr``, a number comparable across curves. It is the classical baseline of the heartbeat
experiments (``docs/experiments/heartbeat_bank.py``, ``docs/benchmark-history.md``) made a product:

1. the flux is made relative (divided by its median), averaged in 30-minute bins, high-passed (minus a
   Gaussian smooth of ``detrend_days``, a normalised convolution so gaps do not pull it) and clipped at
   +-5 robust sigma (flares);
2. **whitened**: divided, in the Fourier domain, by the square root of the curve's own noise spectrum (the
   periodogram of the binned residual, running median over 0.33 / day, relative to its level above
   4 / day, never below 1). Red noise on day time scales (granulation, spots) imitates a heartbeat once its
   shape, period and phase are unknown; weighting each frequency by the inverse of the noise there is the
   matched filter for red noise, and what tells faint heartbeats from quiet stars (without it the search
   scored quiet stars as high as heartbeats of SNR 7-20);
3. folded at each trial period and correlated, at every phase, with the bank's shapes, each passed through
   the same high-pass and whitening at its harmonics ``k / P``. The statistic of a (period, shape, phase)
   is the whitened correlation over its expected standard deviation, computed with the curve's actual
   phase coverage, so it is ~N(0, 1) on pure noise for every trial, and comparable across curves;
4. a coarse stage (18 shapes, 64 phase bins; 128-512 for periods above 12.8 days, so a phase bin stays
   <= 0.2 day) over the whole period range, then a fine stage (192 shapes, twice the phase bins, 10 times
   finer periods) around the three best coarse periods.

Long periods: above about half the data span only one or two periastron passages are in the data. The
same statistic then becomes a single- or double-event search: the template is one orbit of the model, its
periastron spike ``~ P (1 - e)^1.5`` wide, and phase coherence is only asked across the passages the data
hold. With one passage the period is constrained by the spike's width alone (degenerate with the
eccentricity): ``period_uncertainty`` is then large and ``period_lower_bound`` says how long the period must
at least be for the other passages to fall outside the data.

The bank: eccentricities 0.2-0.9, inclinations with cos i 0.1-0.95, arguments of periastron every 30 degrees
in [0, 180) (``omega`` and ``omega + 180`` give the same light curve, as do ``i`` and ``180 - i``).

False alarms: the search's best ``snr`` on pure noise is the maximum of ~10^6 correlated ~N(0, 1) trials,
not N(0, 1) itself. Measured on 300 noise-only 27.4-day 2-minute curves with the mid-sector gap (1,000 ppm
white noise, half of them plus a damped random walk of 0-300 ppm, 0.2-3 days): median 5.1, 90th
percentile 6.1, 99th percentile 7.5 (:data:`NOISE_SNR_99`; white noise alone 6.0, with red noise 7.7),
maximum 8.5. ``snr >= 8`` is a false alarm for fewer than 1 % of noise-only curves.

Speed: ~60 ms per 27-day 2-minute curve on one (shared) core, two passes of coarse + fine included.

Example
-------
>>> import numpy as np
>>> from qusi_lab.signals import heartbeat
>>> time = np.arange(0.0, 27.0, 2 / 1440)
>>> flux = heartbeat(time, period=6.3, epoch_periastron=2.0, eccentricity=0.6, inclination=50.0,
...                  argument_of_periastron=80.0, amplitude=2e-3)
>>> flux = flux + np.random.default_rng(1).normal(0, 1e-3, time.size)
>>> result = search_heartbeat((time, flux))
>>> round(result.period, 1), round(result.epoch % 6.3, 1), result.passages, result.snr > NOISE_SNR_99
(6.3, 2.0, 4, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from qusi_lab.core.robust import robust_scale
from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import LightCurve

__all__ = [
    "HEARTBEAT_COLUMNS",
    "HEARTBEAT_FEATURES",
    "NOISE_SNR_99",
    "HeartbeatSearchResult",
    "heartbeat_features",
    "search_heartbeat",
]

#: Columns :meth:`HeartbeatSearchResult.as_row` fills in a candidate table.
HEARTBEAT_COLUMNS: tuple[str, ...] = ("period", "epoch", "heartbeat_amplitude_ppm", "heartbeat_snr",
                                      "heartbeat_eccentricity", "heartbeat_passages")

#: The entries of :func:`heartbeat_features`, in order.
HEARTBEAT_FEATURES: tuple[str, ...] = ("snr", "log10_period", "relative_period_uncertainty", "eccentricity",
                                       "cos_inclination", "sin_2_omega", "cos_2_omega", "log10_amplitude_ppm",
                                       "log2_passages")

#: The 99th percentile of ``snr`` on noise-only 27-day TESS 2-minute curves (white + red noise), measured.
NOISE_SNR_99 = 7.5

BIN_DAYS = 30.0 / 1440.0
_CLIP_SIGMA = 5.0
_SPECTRUM_SMOOTH_PER_DAY = 0.33  # running-median width of the noise spectrum (9 bins of a 27-day sector)
_WHITE_ABOVE_PER_DAY = 4.0
_BASE_PHASE_BINS = 64
_LONG_BIN_DAYS = 0.2  # phase bins for long periods are at most this wide
_MAX_PHASE_BINS = 4096
_SHAPE_TOLERANCE = 0.05  # relative period step above the data span (only the spike's width changes)
_MIN_COVERAGE = 0.3  # a trial needs this share of its template's whitened energy inside the data
_FINE_PEAKS = 4
_FINE_STEPS = 2  # fine periods per coarse step, over +-1 coarse step

_COARSE_BANK = ((0.3, 0.55, 0.8), (0.2, 0.7), (0.0, 60.0, 120.0))
_FINE_BANK = ((0.2, 0.35, 0.5, 0.65, 0.8, 0.9), (0.1, 0.5, 0.9), (0.0, 30.0, 60.0, 90.0, 120.0, 150.0))


@dataclass(frozen=True)
class HeartbeatSearchResult:
    """The strongest heartbeat-like signal found by :func:`search_heartbeat`.

    Attributes
    ----------
    period:
        Orbital period (days) of the best template. With ``passages >= 3`` it is measured by the
        passages' timing (good to ``period_uncertainty``); with 2 it is their separation; with 1 it comes
        from the width of the periastron spike only (see ``period_uncertainty`` and ``period_lower_bound``).
    epoch:
        A time of periastron passage (the first at or after the data's start), in the input's time system.
    eccentricity, inclination, argument_of_periastron:
        Of the best template (inclination and argument of periastron in degrees; ``omega`` in [0, 180)).
    amplitude:
        Peak-to-peak relative flux of the fitted model (0.001 = 1,000 ppm), as in
        :func:`qusi_lab.signals.heartbeat`.
    snr:
        The whitened matched-filter significance: the correlation with the best template over its standard
        deviation on noise. ~N(0, 1) per trial on pure noise; the best of a whole search on pure noise is
        mostly below :data:`NOISE_SNR_99`.
    passages:
        Periastron passages of the best solution inside the data.
    period_uncertainty:
        Half the width (days) of the period interval where ``snr^2`` stays within 1 of its maximum (a
        1-sigma interval of the likelihood profile). With one passage the period is not measured: half the
        range from ``period_lower_bound`` to the search's ``maximum_period``.
    period_lower_bound:
        The shortest period for which the other passages would fall outside the data (gaps ignored):
        ``max(epoch - start, end - epoch)`` for one passage; ``period`` otherwise.
    periods, snrs:
        The coarse periodogram (best ``snr`` per trial period), when ``keep_periodogram``; not in tables.
    """

    period: float
    epoch: float
    eccentricity: float
    inclination: float
    argument_of_periastron: float
    amplitude: float
    snr: float
    passages: int
    period_uncertainty: float
    period_lower_bound: float
    periods: np.ndarray | None = None
    snrs: np.ndarray | None = None

    def as_row(self) -> dict[str, float]:
        """The values of :data:`HEARTBEAT_COLUMNS` (``period``, ``epoch``, ``heartbeat_snr`` ...)."""
        return {
            "period": self.period,
            "epoch": self.epoch,
            "heartbeat_amplitude_ppm": self.amplitude * 1e6,
            "heartbeat_snr": self.snr,
            "heartbeat_eccentricity": self.eccentricity,
            "heartbeat_passages": float(self.passages),
        }

    def features(self) -> np.ndarray:
        """The vector :func:`heartbeat_features` returns (names in :data:`HEARTBEAT_FEATURES`)."""
        omega = math.radians(self.argument_of_periastron)
        return np.array([
            self.snr,
            math.log10(self.period),
            self.period_uncertainty / self.period,
            self.eccentricity,
            math.cos(math.radians(self.inclination)),
            math.sin(2 * omega),
            math.cos(2 * omega),
            math.log10(max(self.amplitude * 1e6, 1e-3)),
            math.log2(max(self.passages, 1)),
        ], dtype=np.float32)

    def __repr__(self) -> str:
        values = {key: value for key, value in asdict(self).items() if key not in ("periods", "snrs")}
        inside = ", ".join(f"{key}={value:.6g}" if isinstance(value, float) else f"{key}={value}"
                           for key, value in values.items())
        return f"HeartbeatSearchResult({inside})"


# ----------------------------------------------------------------------------- the bank


@lru_cache(maxsize=16)
def _shape_bank(bank: tuple[tuple[float, ...], ...], phase_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``(parameters (S, 3), spectra (S, phase_bins // 2 + 1))`` of zero-mean, unit peak-to-peak shapes.

    Shape ``s`` averaged over phase bin ``m`` (centred on phase ``m / phase_bins``; periastron at phase 0).
    """
    from qusi_lab.signals import heartbeat

    oversample = max(4, 8192 // phase_bins)
    fine = phase_bins * oversample
    phase = (np.arange(fine) + 0.5) / fine - 0.5 / phase_bins
    parameters, shapes = [], []
    for eccentricity in bank[0]:
        for cos_inclination in bank[1]:
            inclination = float(np.degrees(np.arccos(cos_inclination)))
            for omega in bank[2]:
                shape = heartbeat(phase, period=1.0, epoch_periastron=0.0, eccentricity=eccentricity,
                                  inclination=inclination, argument_of_periastron=omega, amplitude=1.0) - 1.0
                shape = shape.reshape(phase_bins, oversample).mean(axis=1)
                shapes.append(shape - shape.mean())
                parameters.append((eccentricity, inclination, omega))
    return np.array(parameters), np.fft.rfft(np.array(shapes), axis=1)


def _phase_bins(period: float, base: int) -> int:
    """Phase bins at ``period``: ``base``, doubled until a bin is at most ``_LONG_BIN_DAYS`` wide."""
    bins = base
    while period / bins > _LONG_BIN_DAYS * base / _BASE_PHASE_BINS and bins < _MAX_PHASE_BINS:
        bins *= 2
    return bins


def _period_grid(minimum: float, maximum: float, span: float, base: int, drift: float) -> np.ndarray:
    """Trial periods: the last passage moves by at most ``drift`` phase bins between neighbours.

    Below the data span, ``dP = drift * P^2 / (span * bins)``; above it (one passage) ``dP / P`` is
    ``_SHAPE_TOLERANCE`` (only the spike's width changes with the period).
    """
    periods = [minimum]
    while periods[-1] < maximum:
        period = periods[-1]
        if period < span:
            step = drift * period * period / (span * _phase_bins(period, base))
            step = min(step, _SHAPE_TOLERANCE * period)
        else:
            step = _SHAPE_TOLERANCE * period * drift
        periods.append(period + step)
    periods[-1] = maximum
    return np.array(periods)


# ----------------------------------------------------------------------------- the data


def _time_and_flux(light_curve: Any) -> tuple[np.ndarray, np.ndarray, str | None]:
    """Finite, time-sorted ``(time, flux, path)`` of a LightCurve, a lightkurve curve or ``(time, flux)``."""
    if isinstance(light_curve, LightCurve):
        curve = light_curve
    elif isinstance(light_curve, (tuple, list)):
        if len(light_curve) != 2:
            raise TypeError(f"give (time, flux): a pair of arrays, got a sequence of {len(light_curve)}")
        curve = LightCurve(light_curve[0], light_curve[1], validate=False)
    elif hasattr(light_curve, "time") and hasattr(light_curve, "flux"):
        curve = LightCurve.from_lightkurve(light_curve)
    else:
        raise TypeError("light_curve must be a qusi_lab LightCurve, a lightkurve LightCurve or (time, flux) arrays, "
                        f"got {type(light_curve).__name__}")
    path = curve.path
    time, flux = np.asarray(curve.time, dtype=np.float64), np.asarray(curve.flux, dtype=np.float64)
    if time.ndim != 1 or time.shape != flux.shape:
        raise LightCurveError(f"time and flux must be 1-D of one length, got shapes {time.shape} and {flux.shape}",
                              path)
    keep = np.isfinite(time) & np.isfinite(flux)
    time, flux = time[keep], flux[keep]
    order = np.argsort(time, kind="stable")
    return time[order], flux[order], path


def _relative(flux: np.ndarray) -> np.ndarray:
    """Flux relative to its median (``flux / median - 1``); already-relative flux (median ~0) minus its median."""
    median = float(np.median(flux))
    if median > 0 and robust_scale(flux) < median:
        return flux / median - 1.0
    return flux - median


@dataclass
class _Prepared:
    start: float
    span: float
    times: np.ndarray  # centres of the bins with data
    whitened: np.ndarray  # whitened relative flux there
    sigma: float  # robust scatter of ``whitened``
    mask: np.ndarray  # bins with data, over the whole grid
    frequencies: np.ndarray
    weights: np.ndarray  # high-pass transfer / sqrt(noise spectrum) at ``frequencies``
    detrend_days: float
    residual: np.ndarray  # high-passed, clipped relative flux on the 30-minute grid (0 in gaps)


def _prepare(time: np.ndarray, flux: np.ndarray, path: str | None, detrend_days: float) -> _Prepared:
    """Binned, high-passed, clipped and whitened relative flux (see the module's steps 1 and 2)."""
    from scipy.ndimage import gaussian_filter1d

    if time.size < 48:
        raise LightCurveError(f"the heartbeat search needs at least 48 finite cadences, got {time.size}", path)
    start = float(time[0])
    span = float(time[-1] - start)
    if span < 1.0:
        raise LightCurveError(f"the heartbeat search needs at least 1 day of data, got {span:.3g} days", path)
    if span / BIN_DAYS > 2e6:
        raise LightCurveError(f"the light curve spans {span:.3g} days: too long for 30-minute bins (check the time "
                              "unit: days are expected)", path)
    flux = _relative(flux)
    index = np.floor((time - start) / BIN_DAYS).astype(np.int64)
    size = int(index[-1]) + 1
    counts = np.bincount(index, minlength=size).astype(np.float64)
    mask = counts > 0
    if int(mask.sum()) < 24:
        raise LightCurveError(f"the heartbeat search needs at least 24 half-hour bins with data, got {int(mask.sum())}",
                              path)
    binned = np.zeros(size)
    binned[mask] = np.bincount(index, weights=flux, minlength=size)[mask] / counts[mask]
    width = detrend_days / BIN_DAYS
    smooth = gaussian_filter1d(binned * mask, width, mode="constant") / np.maximum(
        gaussian_filter1d(mask.astype(np.float64), width, mode="constant"), 1e-9)
    residual = np.where(mask, binned - smooth, 0.0)
    scale = robust_scale(residual[mask])
    if not scale > 0:
        raise LightCurveError("the flux is constant after detrending: nothing to search", path)
    residual = np.clip(residual, -_CLIP_SIGMA * scale, _CLIP_SIGMA * scale)

    prepared = _Prepared(start=start, span=span, times=start + (np.flatnonzero(mask) + 0.5) * BIN_DAYS,
                         whitened=np.zeros(0), sigma=1.0, mask=mask, frequencies=np.zeros(0), weights=np.zeros(0),
                         detrend_days=detrend_days, residual=residual)
    return _whiten(prepared, residual, path)


def _whiten(prepared: _Prepared, noise: np.ndarray, path: str | None = None) -> _Prepared:
    """``prepared`` whitened by the noise spectrum of ``noise`` (its residual, or that minus a fitted model).

    The spectrum: the periodogram of ``noise`` on the 30-minute grid (gaps as zeros), a running median over
    0.33 / day, relative to its median level above 4 / day, never below 1 (what the high-pass removed is
    not amplified back).
    """
    from scipy.fft import irfft, next_fast_len, rfft
    from scipy.ndimage import median_filter

    size = prepared.residual.size
    padded = next_fast_len(size + int(math.ceil(2 * prepared.detrend_days / BIN_DAYS)), real=True)
    frequencies = np.fft.rfftfreq(padded, BIN_DAYS)
    power = np.abs(rfft(noise, n=padded)) ** 2
    window = max(3, int(round(_SPECTRUM_SMOOTH_PER_DAY * padded * BIN_DAYS)) | 1)
    smooth_power = median_filter(power, size=window, mode="nearest")
    high = frequencies > min(_WHITE_ABOVE_PER_DAY, 0.5 * frequencies[-1])
    white = float(np.median(smooth_power[high]))
    if not white > 0:
        raise LightCurveError("no noise level could be measured (the binned flux has no scatter)", path)
    spectrum = np.maximum(smooth_power / white, 1.0)
    whitened = irfft(rfft(prepared.residual, n=padded) / np.sqrt(spectrum), n=padded)[:size]
    values = whitened[prepared.mask]
    transfer = 1.0 - np.exp(-2.0 * np.pi**2 * (frequencies * prepared.detrend_days) ** 2)
    return replace(prepared, whitened=values, sigma=float(robust_scale(values)), frequencies=frequencies,
                   weights=transfer / np.sqrt(spectrum))


def _high_passed_model(prepared: _Prepared, best: _Best, parameters: np.ndarray, epoch: float) -> np.ndarray:
    """The best solution's heartbeat on the 30-minute grid, through the same high-pass as the data."""
    from scipy.ndimage import gaussian_filter1d

    from qusi_lab.signals import heartbeat

    eccentricity, inclination, omega = (float(value) for value in parameters)
    model = np.zeros(prepared.mask.size)
    model[prepared.mask] = heartbeat(prepared.times, period=best.period, epoch_periastron=epoch,
                                     eccentricity=eccentricity, inclination=inclination,
                                     argument_of_periastron=omega, amplitude=max(best.amplitude, 0.0)) - 1.0
    width = prepared.detrend_days / BIN_DAYS
    smooth = gaussian_filter1d(model, width, mode="constant") / np.maximum(
        gaussian_filter1d(prepared.mask.astype(np.float64), width, mode="constant"), 1e-9)
    return np.where(prepared.mask, model - smooth, 0.0)


# ----------------------------------------------------------------------------- the statistic


@dataclass
class _Best:
    snr: float
    period: float
    shape: int
    shift: float  # periastron phase, in phase bins (fractional)
    amplitude: float
    phase_bins: int


def _evaluate(prepared: _Prepared, periods: np.ndarray, bank: tuple[tuple[float, ...], ...], phase_bins: int,
              ) -> tuple[np.ndarray, _Best]:
    """The best ``snr`` at each of ``periods`` (all shapes and phases), and the best trial overall."""
    from scipy.fft import irfft, rfft

    best = _Best(-np.inf, float(periods[0]), 0, 0.0, 0.0, phase_bins)
    out = np.full(periods.size, -np.inf)
    bins_of = np.array([_phase_bins(float(period), phase_bins) for period in periods])
    for bins in np.unique(bins_of):
        bins = int(bins)
        _, spectra = _shape_bank(bank, bins)
        harmonics = np.arange(spectra.shape[1])
        chunk = max(1, int(2e6 // (spectra.shape[0] * bins)))
        selected = np.flatnonzero(bins_of == bins)
        terms = np.where((harmonics == 0) | (harmonics == bins // 2), 1.0, 2.0)  # Parseval weights of rfft
        for first in range(0, selected.size, chunk):
            which = selected[first:first + chunk]
            trial = periods[which]
            # floor(phase * bins + 0.5) mod bins, in integers (bins is a power of two; times are >= start).
            position_in_orbit = (prepared.times[None, :] - prepared.start) * (bins / trial[:, None]) + 0.5
            index = (position_in_orbit.astype(np.int64) & (bins - 1)) + (np.arange(trial.size) * bins)[:, None]
            total = trial.size * bins
            sums = np.bincount(index.ravel(), weights=np.broadcast_to(prepared.whitened, index.shape).ravel(),
                               minlength=total).reshape(trial.size, bins)
            counts = np.bincount(index.ravel(), minlength=total).reshape(trial.size, bins).astype(np.float64)
            weight = np.interp(harmonics[None, :] / trial[:, None], prepared.frequencies, prepared.weights)
            templates = (spectra[None, :, :] * weight[:, None, :]).astype(np.complex64)  # (periods, shapes, harm.)
            correlation = irfft(rfft(sums.astype(np.float32), axis=1)[:, None, :] * np.conj(templates), n=bins,
                                axis=2)
            # Expected variance of the correlation: sum over phase of counts * template^2. With even phase
            # coverage (short periods) that is mean(counts) * sum(template^2) (Parseval); else computed.
            norm = (np.abs(templates) ** 2 * terms).sum(axis=2) / bins
            energy = np.broadcast_to((counts.mean(axis=1)[:, None] * norm)[:, :, None], correlation.shape).copy()
            uneven = np.flatnonzero(counts.min(axis=1) < 0.5 * counts.mean(axis=1))
            if uneven.size:
                shapes = irfft(templates[uneven], n=bins, axis=2)
                energy[uneven] = irfft(rfft(counts[uneven].astype(np.float32), axis=1)[:, None, :]
                                       * np.conj(rfft(shapes * shapes, axis=2)), n=bins, axis=2)
            # Trials whose template lies mostly outside the data (long periods, gaps) are not counted.
            enough = energy >= _MIN_COVERAGE * energy.max(axis=2, keepdims=True)
            enough &= energy > 0
            snr = np.where(enough, correlation / (prepared.sigma * np.sqrt(np.where(enough, energy, 1.0))), -np.inf)
            flat = snr.reshape(trial.size, -1)
            out[which] = flat.max(axis=1)
            position = int(np.argmax(flat.max(axis=1)))
            value = float(flat[position].max())
            if value > best.snr:
                shape, shift = np.unravel_index(int(np.argmax(flat[position])), snr.shape[1:])
                row = snr[position, shape]
                # A parabola through the peak and its neighbours: the periastron to a fraction of a bin.
                left, right = row[(shift - 1) % bins], row[(shift + 1) % bins]
                offset = 0.0
                curvature = left - 2 * value + right
                if np.isfinite(left) and np.isfinite(right) and curvature < 0:
                    offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
                amplitude = float(correlation[position, shape, shift] / energy[position, shape, shift])
                best = _Best(value, float(trial[position]), int(shape), float(shift) + offset, amplitude, bins)
    return out, best


def _profile_interval(periods: np.ndarray, snrs: np.ndarray, period: float) -> tuple[float, float]:
    """The contiguous interval of the coarse periodogram around ``period`` where ``snr^2 >= peak^2 - 1``.

    ``peak`` is the periodogram's best within 2 % of ``period``; the interval is at least one grid step.
    """
    at = int(np.clip(np.searchsorted(periods, period), 1, periods.size - 1))
    near = np.flatnonzero(np.abs(periods / period - 1.0) <= 0.02)
    if near.size:
        at = int(near[np.argmax(snrs[near])])
    peak = float(snrs[at])
    inside = snrs * np.abs(snrs) >= peak * peak - 1.0
    low = high = at
    while low > 0 and inside[low - 1]:
        low -= 1
    while high < periods.size - 1 and inside[high + 1]:
        high += 1
    low, high = max(low - 1, 0), min(high + 1, periods.size - 1)  # to the neighbours outside: a half-step margin
    return float(min(0.5 * (periods[low] + periods[at]), period)), float(max(0.5 * (periods[high] + periods[at]),
                                                                                  period))


def _passages(prepared: _Prepared, period: float, epoch: float) -> int:
    """Periastra with at least half the bins within +-5 % of the period (at least +-1 bin) holding data."""
    half = max(0.05 * period, BIN_DAYS)
    stop = prepared.start + prepared.span
    first = epoch + math.ceil((prepared.start - half - epoch) / period) * period
    count = 0
    for center in np.arange(first, stop + half, period):
        low, high = np.searchsorted(prepared.times, [center - half, center + half])
        expected = 2 * half / BIN_DAYS
        if high - low >= max(1.0, 0.5 * expected):
            count += 1
    return count


def search_heartbeat(
    light_curve: Any,
    *,
    minimum_period: float = 2.5,
    maximum_period: float = 100.0,
    detrend_days: float = 1.0,
    drift: float = 1.0,
    refine: bool = True,
    keep_periodogram: bool = False,
) -> HeartbeatSearchResult:
    """The period, periastron epoch, shape and significance of the strongest heartbeat-like signal.

    Parameters
    ----------
    light_curve:
        A :class:`~qusi_lab.LightCurve`, a ``lightkurve.LightCurve`` or ``(time, flux)`` arrays (astropy
        ``Time`` and ``Quantity`` accepted), raw (any flux unit) or normalised; NaNs, gaps and unsorted
        times are handled. Times in days.
    minimum_period, maximum_period:
        Search range in days (default 2.5-100, where heartbeat stars are found). Periods above the data
        span are searched as single passages (see the module's notes).
    detrend_days:
        Width (sigma, days) of the Gaussian smooth subtracted before the search; the templates go through
        the same filter, so a wide periastron spike is attenuated in both, not mismatched.
    drift:
        Coarse-grid spacing: how far, in phase bins, the last passage moves between neighbouring trials.
    refine:
        Search again around the three best coarse periods with the full bank (192 shapes), twice the phase
        bins and a 10 times finer period grid.
    keep_periodogram:
        Keep the coarse ``periods`` and ``snrs`` on the result (for plots).

    Raises
    ------
    LightCurveError
        When the curve has fewer than 48 finite cadences, spans less than a day, or has constant flux
        (the message names the file).
    ValueError
        For an impossible period range.

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve                                 # doctest: +SKIP
    >>> lc = synthetic_light_curve("heartbeat", seed=3, parameters={"period": 8.0})          # doctest: +SKIP
    >>> search_heartbeat(lc).period                                                        # doctest: +SKIP
    8.00...
    """
    minimum, maximum = float(minimum_period), float(maximum_period)
    if not (minimum > 0 and math.isfinite(maximum) and maximum > minimum):
        raise ValueError(f"need 0 < minimum_period < maximum_period, got {minimum_period} and {maximum_period}")
    if not detrend_days > 0:
        raise ValueError(f"detrend_days must be positive, got {detrend_days}")
    if not drift > 0:
        raise ValueError(f"drift must be positive, got {drift}")
    time, flux, path = _time_and_flux(light_curve)
    prepared = _prepare(time, flux, path, float(detrend_days))
    span = max(prepared.span, BIN_DAYS)

    coarse_periods = _period_grid(minimum, maximum, span, _BASE_PHASE_BINS, float(drift))
    # Pass 1 whitens with the spectrum of the data; a strong or long-period heartbeat (dense harmonics)
    # raises that spectrum and whitens itself away. Pass 2 whitens with the spectrum of the data minus
    # pass 1's best model, so a real signal is no longer counted as noise.
    coarse_snrs, best, bank = _search_pass(prepared, coarse_periods, refine)
    parameters, _ = _shape_bank(bank, best.phase_bins)
    epoch = prepared.start + best.period * best.shift / best.phase_bins
    prepared = _whiten(prepared, prepared.residual - _high_passed_model(prepared, best, parameters[best.shape], epoch),
                       path)
    coarse_snrs, best, bank = _search_pass(prepared, coarse_periods, refine)
    parameters, _ = _shape_bank(bank, best.phase_bins)
    eccentricity, inclination, omega = (float(value) for value in parameters[best.shape])
    period = best.period
    epoch = prepared.start + period * best.shift / best.phase_bins
    epoch += math.ceil((prepared.start - epoch) / period - 1e-9) * period  # the first at or after the start
    low, high = _profile_interval(coarse_periods, coarse_snrs, period)
    passages = _passages(prepared, period, epoch)
    lower_bound = period
    uncertainty = max(0.5 * (high - low), 0.0)
    if passages <= 1:
        # One passage does not measure the period: only that the others fall outside the data.
        seen = epoch if epoch <= prepared.start + prepared.span else epoch - period
        lower_bound = max(seen - prepared.start, prepared.start + prepared.span - seen)
        uncertainty = max(0.5 * (maximum - lower_bound), uncertainty)
    return HeartbeatSearchResult(
        period=period,
        epoch=float(epoch),
        eccentricity=eccentricity,
        inclination=inclination,
        argument_of_periastron=omega,
        amplitude=max(best.amplitude, 0.0),
        snr=float(best.snr),
        passages=passages,
        period_uncertainty=uncertainty,
        period_lower_bound=float(lower_bound),
        periods=coarse_periods if keep_periodogram else None,
        snrs=coarse_snrs if keep_periodogram else None,
    )


def _search_pass(prepared: _Prepared, coarse_periods: np.ndarray, refine: bool,
                 ) -> tuple[np.ndarray, _Best, tuple[tuple[float, ...], ...]]:
    """The coarse periodogram, the best trial (refined around the best coarse peaks) and its bank."""
    coarse_snrs, best = _evaluate(prepared, coarse_periods, _COARSE_BANK, _BASE_PHASE_BINS)
    if not refine:
        return coarse_snrs, best, _COARSE_BANK
    fine_best: _Best | None = None
    for center in _peak_periods(coarse_periods, coarse_snrs, _FINE_PEAKS):
        position = int(np.searchsorted(coarse_periods, center))
        low = coarse_periods[max(0, position - 1)]
        high = coarse_periods[min(coarse_periods.size - 1, position + 1)]
        periods = np.linspace(low, high, 2 * _FINE_STEPS + 1)
        _, candidate = _evaluate(prepared, periods, _FINE_BANK, 2 * _BASE_PHASE_BINS)
        if fine_best is None or candidate.snr > fine_best.snr:
            fine_best = candidate
    assert fine_best is not None
    return coarse_snrs, fine_best, _FINE_BANK


def _peak_periods(periods: np.ndarray, snrs: np.ndarray, count: int) -> list[float]:
    """The ``count`` best local maxima of the periodogram, at least 2 % apart in period."""
    order = np.argsort(-snrs, kind="stable")
    chosen: list[float] = []
    for index in order:
        if not np.isfinite(snrs[index]):
            break
        period = float(periods[index])
        if all(abs(period / other - 1.0) > 0.02 for other in chosen):
            chosen.append(period)
        if len(chosen) == count:
            break
    return chosen or [float(periods[0])]


def heartbeat_features(light_curve: Any, **options: Any) -> np.ndarray:
    """A fixed-length float32 vector of the heartbeat search's result, for a network's extra input.

    The entries, named in :data:`HEARTBEAT_FEATURES`: ``snr``, ``log10(period)``, the relative period
    uncertainty, ``eccentricity``, ``cos(inclination)``, ``sin(2 omega)`` and ``cos(2 omega)`` (``omega``
    has period 180 degrees in the model), ``log10(amplitude in ppm)`` and ``log2(passages)``.
    ``options`` go to :func:`search_heartbeat`.

    Example
    -------
    >>> import numpy as np
    >>> time = np.arange(0.0, 27.0, 2 / 1440)
    >>> flux = 1 + np.random.default_rng(0).normal(0, 1e-3, time.size)
    >>> vector = heartbeat_features((time, flux))
    >>> vector.shape, vector.dtype, bool(vector[0] < 8)        # pure noise: a low snr
    ((9,), dtype('float32'), True)
    """
    return search_heartbeat(light_curve, **options).features()
