"""What the spacecraft did during a sector: the cadence grid, the downlink gap, quality flags, systematics.

The timeline depends on the sector (and cadence) only, as it would for real stars observed together:
every star of a sector shares its gap, its momentum dumps and its flags, and mixes the same systematic
trends in its own proportions (see :mod:`qusi_lab.synthetic.rendering`).

Example
-------
>>> timeline = sector_timeline(1)
>>> timeline.momentum_dumps.size > 0, int(timeline.quality[timeline.in_gap].sum())
(True, 0)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qusi_lab.synthetic._seeds import _SALT_TIMELINE

__all__ = [
    "BTJD_OFFSET",
    "MINUTES_PER_DAY",
    "SECTOR_DAYS",
    "SECTOR_ONE_START_BTJD",
    "SECTOR_STEP_DAYS",
    "TESS_DEFAULT_QUALITY_BITMASK",
    "QualityFlags",
    "SectorTimeline",
    "sector_start_btjd",
    "sector_timeline",
]


class QualityFlags:
    """TESS SPOC QUALITY bits (TESS Science Data Products Description, EXP-TESS-ARC-ICD-0014)."""

    ATTITUDE_TWEAK = 1
    SAFE_MODE = 2
    COARSE_POINT = 4
    EARTH_POINT = 8
    ARGABRIGHTENING = 16
    DESAT = 32
    APERTURE_COSMIC = 64
    MANUAL_EXCLUDE = 128
    DISCONTINUITY = 256
    IMPULSIVE_OUTLIER = 512
    COLLATERAL_COSMIC = 1024
    STRAYLIGHT = 2048
    STRAYLIGHT2 = 4096


#: lightkurve's "default" TESS bitmask (the cadences every reader drops by default).
TESS_DEFAULT_QUALITY_BITMASK = 17087

MINUTES_PER_DAY = 1440.0
#: Length of a synthetic sector in days (real sectors run 26-28 days).
SECTOR_DAYS = 27.4
#: First 2-minute cadence of sector 1 (BTJD); later sectors start ~27.35 days apart.
SECTOR_ONE_START_BTJD = 1325.293
SECTOR_STEP_DAYS = 27.35
BTJD_OFFSET = 2457000.0


def sector_start_btjd(sector: int) -> float:
    """Approximate BTJD of the first cadence of ``sector`` (exact to ~0.01 d for sector 1, ~3 d later).

    Example
    -------
    >>> sector_start_btjd(1)
    1325.293
    """
    if int(sector) < 1:
        raise ValueError(f"sector must be >= 1, got {sector}")
    return round(SECTOR_ONE_START_BTJD + (int(sector) - 1) * SECTOR_STEP_DAYS, 6)


# Kinds of systematic basis vectors and the scale (relative flux) of a star's coefficient on each.
_BASIS_THERMAL, _BASIS_DRIFT, _BASIS_CURVE, _BASIS_SCATTER, _BASIS_STEP, _BASIS_RELAX, _BASIS_ARGA = range(7)
_BASIS_SCALES = np.array([3.0e-3, 1.0e-3, 5.0e-4, 1.0e-3, 6.0e-4, 1.5e-3, 1.5e-3])
# Scattered light and Argabrightening are background: larger relative to fainter stars, and positive.
_BACKGROUND_KINDS = (_BASIS_SCATTER, _BASIS_ARGA)


@dataclass(frozen=True, eq=False)
class SectorTimeline:
    """What the spacecraft did during a sector: shared by every star observed in it.

    Attributes
    ----------
    sector, cadence_days:
        The sector and the cadence (days).
    time:
        The full cadence grid in BTJD, gap cadences included (finite).
    in_gap:
        True on the data-downlink gap cadences (written with TIME = NaN).
    quality:
        QUALITY bits every target gets (desaturations, Argabrightening, manual excludes, stray light).
    orbits:
        ``(start, stop)`` BTJD of each orbit.
    momentum_dumps:
        BTJD of the reaction-wheel desaturations.
    basis, basis_kinds:
        Systematic trends (rows) that the SAP flux of every star mixes in its own proportions.
    scattered_light:
        0-1 profile of the scattered-light background (noise rises with it).
    """

    sector: int
    cadence_days: float
    time: np.ndarray
    in_gap: np.ndarray
    quality: np.ndarray
    orbits: tuple[tuple[float, float], ...]
    momentum_dumps: np.ndarray
    basis: np.ndarray
    basis_kinds: np.ndarray
    scattered_light: np.ndarray

    @property
    def usable(self) -> np.ndarray:
        """Cadences outside the gap that the default quality bitmask keeps."""
        return ~self.in_gap & ((self.quality & TESS_DEFAULT_QUALITY_BITMASK) == 0)

    def __repr__(self) -> str:
        return (
            f"SectorTimeline(sector {self.sector}, {self.time.size} cadences of "
            f"{self.cadence_days * MINUTES_PER_DAY:g} min, BTJD {self.time[0]:.3f}..{self.time[-1]:.3f}, "
            f"gap {self.time[self.in_gap][0]:.2f}..{self.time[self.in_gap][-1]:.2f}, "
            f"{self.momentum_dumps.size} momentum dumps)"
        )


@lru_cache(maxsize=8)
def sector_timeline(sector: int = 1, cadence_minutes: float = 2.0) -> SectorTimeline:
    """The (cached) spacecraft timeline of ``sector``: time grid, gap, momentum dumps, shared flags.

    Example
    -------
    >>> timeline = sector_timeline(1)
    >>> round(float(timeline.time[0]), 3), timeline.time.size, bool(timeline.in_gap.any())
    (1325.293, 19728, True)
    """
    if cadence_minutes <= 0:
        raise ValueError(f"cadence_minutes must be positive, got {cadence_minutes}")
    rng = np.random.default_rng([_SALT_TIMELINE, int(sector), int(round(cadence_minutes * 600))])
    cadence = cadence_minutes / MINUTES_PER_DAY
    start = sector_start_btjd(sector)
    n_cadences = int(round(SECTOR_DAYS / cadence))
    time = start + np.arange(n_cadences) * cadence
    stop = start + n_cadences * cadence

    gap_length = rng.uniform(0.9, 1.2)
    gap_center = start + SECTOR_DAYS / 2 + rng.uniform(-0.3, 0.3)
    gap_start, gap_stop = gap_center - gap_length / 2, gap_center + gap_length / 2
    in_gap = (time >= gap_start) & (time < gap_stop)
    orbits = ((start, float(gap_start)), (float(gap_stop), stop))

    quality = np.zeros(n_cadences, dtype=np.int32)
    rows: list[np.ndarray] = []
    kinds: list[int] = []
    scattered = np.zeros(n_cadences)
    thermal_timescale = rng.uniform(0.3, 0.9)
    dump_interval = rng.uniform(2.5, 3.1)
    dumps: list[float] = []
    for orbit_start, orbit_stop in orbits:
        inside = (time >= orbit_start) & (time < orbit_stop)
        since_start = time - orbit_start
        # Thermal settling after the downlink: an exponential ramp from each orbit start.
        rows.append(np.where(inside, np.exp(-np.clip(since_start, 0, None) / thermal_timescale), 0.0))
        kinds.append(_BASIS_THERMAL)
        # Slow pointing/focus drift: a line and a parabola across the orbit.
        half = (orbit_stop - orbit_start) / 2
        x = (time - orbit_start - half) / half
        rows.append(np.where(inside, x, 0.0))
        kinds.append(_BASIS_DRIFT)
        rows.append(np.where(inside, x**2 - 1 / 3, 0.0))
        kinds.append(_BASIS_CURVE)
        # Scattered light from the Earth/Moon as perigee approaches: a rising background at the orbit's end.
        length = rng.uniform(0.8, 2.0)
        profile = np.where(inside, np.clip((time - (orbit_stop - length)) / length, 0.0, 1.0) ** 2, 0.0)
        rows.append(profile)
        kinds.append(_BASIS_SCATTER)
        scattered = np.maximum(scattered, profile)
        # Manual exclude: the first ~20-40 minutes of each orbit.
        quality[inside & (since_start < rng.uniform(0.014, 0.028))] |= QualityFlags.MANUAL_EXCLUDE
        # Reaction-wheel momentum dumps at a fixed interval within the orbit.
        moment = orbit_start + rng.uniform(0.4, dump_interval)
        while moment < orbit_stop - 0.2:
            dumps.append(float(moment))
            index = int(np.searchsorted(time, moment))
            quality[index : index + 2] |= QualityFlags.DESAT
            quality[index + 2 : index + 2 + int(rng.integers(0, 3))] |= QualityFlags.COARSE_POINT
            after = inside & (time >= moment)
            # The pointing settles somewhere new (a step) after a transient (an exponential relaxation).
            rows.append(np.where(after, 1.0, 0.0))
            kinds.append(_BASIS_STEP)
            rows.append(np.where(after, np.exp(-np.clip(time - moment, 0, None) / 0.15), 0.0))
            kinds.append(_BASIS_RELAX)
            moment += dump_interval
    quality[scattered > 0.1] |= QualityFlags.STRAYLIGHT
    quality[scattered > 0.5] |= QualityFlags.STRAYLIGHT2

    # One or two Argabrightening events (diffuse glints across the camera).
    candidates = np.flatnonzero(~in_gap & (scattered < 0.1))
    bump = np.zeros(n_cadences)
    for _ in range(int(rng.integers(1, 3))):
        center = time[int(rng.choice(candidates))]
        width = rng.uniform(0.01, 0.03)
        bump += np.exp(-0.5 * ((time - center) / width) ** 2)
        quality[np.abs(time - center) < 2.5 * width] |= QualityFlags.ARGABRIGHTENING
    rows.append(bump)
    kinds.append(_BASIS_ARGA)
    # A short manual exclusion somewhere in the sector (an operations anomaly).
    anomaly = int(rng.choice(candidates))
    quality[anomaly : anomaly + int(rng.integers(5, 30))] |= QualityFlags.MANUAL_EXCLUDE
    quality[in_gap] = 0

    basis = np.vstack(rows)
    basis[:, in_gap] = 0.0
    for array in (time, in_gap, quality, basis, scattered):
        array.setflags(write=False)
    dump_array = np.array(dumps)
    dump_array.setflags(write=False)
    kind_array = np.array(kinds)
    kind_array.setflags(write=False)
    return SectorTimeline(
        sector=int(sector),
        cadence_days=cadence,
        time=time,
        in_gap=in_gap,
        quality=quality,
        orbits=orbits,
        momentum_dumps=dump_array,
        basis=basis,
        basis_kinds=kind_array,
        scattered_light=scattered,
    )

