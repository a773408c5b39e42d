"""Events in a sector's data, shared by the renderers: where they fall, how many are seen, their SNR."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qusi_lab.synthetic.noise import _brightness_factor, matched_filter_snr
from qusi_lab.synthetic.population import _Star
from qusi_lab.synthetic.timeline import SECTOR_ONE_START_BTJD, SectorTimeline


def _signals() -> Any:
    import qusi_lab.signals as signals

    return signals


def _events_observed(
    centers: np.ndarray, half_width: float, time: np.ndarray, usable: np.ndarray, cadence: float
) -> int:
    """How many events (transits, eclipses) have at least half of their cadences in usable data."""
    count = 0
    for center in centers:
        low, high = np.searchsorted(time, [center - half_width, center + half_width])
        expected = max(1, int(round(2 * half_width / cadence)))
        if high > low and usable[low:high].sum() >= max(1, expected // 2):
            count += 1
    return count


def _event_centers(epoch: float, period: float, start: float, stop: float) -> np.ndarray:
    first = epoch + math.ceil((start - epoch) / period) * period
    return np.arange(first, stop, period)


def _choose_epoch(
    phase: float,
    period: float,
    half_width: float,
    timeline: SectorTimeline,
    rng: np.random.Generator,
    minimum: int = 2,
) -> tuple[float, int]:
    """An epoch (first event in the sector) with at least ``minimum`` events in usable data."""
    start, stop = float(timeline.time[0]), float(timeline.time[-1])
    usable = timeline.usable
    best = (start + phase * period, -1)
    for attempt in range(40):
        # The star's own ephemeris first (so sectors agree), then other phases if the gaps hide it.
        reference = SECTOR_ONE_START_BTJD + phase * period if attempt == 0 else start + rng.uniform() * period
        centers = _event_centers(reference, period, start, stop)
        if centers.size == 0:
            continue
        observed = _events_observed(centers, half_width, timeline.time, usable, timeline.cadence_days)
        if observed > best[1]:
            best = (float(centers[0]), observed)
        if observed >= minimum:
            break
    return best


def _transit_duration(period: float, a_over_rstar: float, radius_ratio: float, impact: float) -> float:
    """Total transit duration T14 in days (circular orbit; Winn 2010, eq. 14)."""
    inclination = math.acos(min(1.0, impact / a_over_rstar))
    chord = (1 + radius_ratio) ** 2 - impact**2
    if chord <= 0:
        return 0.0
    argument = min(1.0, math.sqrt(chord) / (a_over_rstar * math.sin(inclination)))
    return period / math.pi * math.asin(argument)


def _a_over_rstar(period: float, density: float) -> float:
    """Scaled semi-major axis from Kepler's third law and the stellar density (g/cm^3)."""
    gravitational_constant = 6.674e-8  # cgs
    seconds = period * 86400.0
    return float((gravitational_constant * density * seconds**2 / (3 * math.pi)) ** (1 / 3))


def _white_noise_scale(star: _Star, timeline: SectorTimeline) -> np.ndarray:
    """Per-cadence white-noise multiplier: scattered light raises the noise towards the orbit ends."""
    return 1.0 + 0.5 * timeline.scattered_light * min(3.0, _brightness_factor(star.tess_mag))


def _signal_snr(model: np.ndarray, star: _Star, timeline: SectorTimeline, sigma: float) -> float:
    """Matched-filter SNR of ``model`` (relative flux) in this star's white and red noise, usable cadences only."""
    usable = timeline.usable
    return matched_filter_snr(
        model[usable] - 1.0,
        timeline.time[usable],
        sigma * _white_noise_scale(star, timeline)[usable],
        star.red_noise.get("amplitude", 0.0),
        star.red_noise.get("timescale_days", 1.0),
    )
