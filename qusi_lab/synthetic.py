"""A realistic synthetic TESS sector on disk: the data qusi_lab ships instead of downloads.

:func:`make_sector` writes one SPOC-format light-curve FITS file per star (files that
``lightkurve.read`` and :func:`qusi_lab.read_light_curve` open) and a ``truth.csv``
listing what was put into each one. A sector looks like the real thing:

* 2-minute cadence over ~27.4 days, starting at the sector's BTJD (sector 1: 1325.29),
  with the ~1-day data-downlink gap between the two orbits (rows whose TIME is NaN,
  as in early SPOC products);
* momentum dumps every ~2.5-3.1 days: the desaturation cadences carry QUALITY bit 32
  ("Desat", some also bit 4 "Coarse point") and the SAP flux jumps and relaxes after each;
* a thermal-settling ramp at the start of each orbit, scattered light towards the end of
  each orbit (bits 2048/4096, kept by the default mask), one or two Argabrightening events
  (bit 16), a few manual-exclude (bit 128) and impulsive-outlier (bit 512) cadences;
* photon + instrument white noise from the magnitude, red noise (a damped random walk)
  and stellar variability (rotation or quasi-periodic) for every star;
* SAP_FLUX with those systematics, crowding and aperture losses; PDCSAP_FLUX with the
  systematics mostly removed, both in e-/s from the TESS magnitude.

Each star is one of a labelled mix: ``planet`` (transits), ``eclipsing_binary``,
``heartbeat``, ``flare`` (a spotted flare star) or ``quiet``. Planets get at least two
transits in good data and radius ratios drawn so that their signal-to-noise ratio runs
log-uniformly from the detection threshold (7) to obvious (100); heartbeat amplitudes are
scaled to the same range. (``snr_range=(3, 100)`` adds marginal signals that nobody could
confirm; see :data:`DEFAULT_SNR_RANGE`.) The SNR is that of the whole signal in white noise,
``sqrt(sum((model - 1)^2)) / sigma`` over the usable cadences; the red noise and stellar
variability of each star make the effective SNR somewhat lower.

Noise model
-----------
The 1-hour photometric precision of a star of TESS magnitude T is the polynomial fit of
Stassun et al. (2018, AJ 156, 102, section 3.3.3; the TESS Input Catalog paper, built on
the noise simulations of Sullivan et al. 2015, ApJ 809, 77)::

    ln(sigma_1h / ppm) = 3.29685 + 0.850021 T - 0.285042 T^2 + 0.0395908 T^3
                         - 0.00223080 T^4 + 4.73508e-5 T^5

(~94 ppm at T = 8, ~200 ppm at T = 10, ~5,200 ppm at T = 15), scaled to other
cadences as ``sigma_1h * sqrt(60 min / cadence)``. Fluxes use the TESS zero point of
~15,000 e-/s at T = 10 (Vanderspek et al. 2018, TESS Instrument Handbook).

Reproducibility: every star draws from its own generator seeded by ``(seed, star index)``
(and the sector for sector-dependent noise), so the same arguments give byte-identical
files however many worker processes write them. The spacecraft timeline (gap, momentum
dumps, shared flags) depends on the sector only, as it would for real stars observed
together.

Example
-------
>>> import tempfile
>>> result = make_sector(tempfile.mkdtemp(), n_stars=4, seed=1)   # doctest: +SKIP
>>> result.truth[["tic_id", "label", "tess_mag"]]                 # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import json
import math
import multiprocessing
import os
import sys
import time as time_module
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import LightCurve

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_SNR_RANGE",
    "STAR_KINDS",
    "SIGNAL_KIND_OF_LABEL",
    "TESS_DEFAULT_QUALITY_BITMASK",
    "QualityFlags",
    "SectorResult",
    "SectorTimeline",
    "make_sector",
    "make_light_curve",
    "matched_filter_snr",
    "load_truth",
    "sector_timeline",
    "sector_start_btjd",
    "spoc_file_name",
    "tess_noise_ppm",
    "tess_flux_from_magnitude",
]

# ----------------------------------------------------------------------------- constants

#: Fraction of each kind of star in a sector unless ``mix`` says otherwise.
DEFAULT_MIX: Mapping[str, float] = {
    "planet": 0.2,
    "eclipsing_binary": 0.15,
    "heartbeat": 0.1,
    "flare": 0.1,
    "quiet": 0.45,
}
STAR_KINDS: tuple[str, ...] = tuple(DEFAULT_MIX)

#: The :mod:`qusi_lab.signals` model behind each label (``None``: no injected signal).
SIGNAL_KIND_OF_LABEL: Mapping[str, str | None] = {
    "planet": "transit",
    "eclipsing_binary": "eclipsing_binary",
    "heartbeat": "heartbeat",
    "flare": "flare",
    "quiet": None,
}


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
#: TESS zero point: e-/s collected from a T = 10 star (Vanderspek et al. 2018).
TESS_ZERO_POINT_FLUX = 15000.0
BTJD_OFFSET = 2457000.0
_UNIX_EPOCH_JD = 2440587.5

# Salts keep the generators of different purposes independent for the same seed.
_SALT_TIMELINE = 9_100
_SALT_STAR = 9_200
_SALT_SECTOR = 9_300
_SALT_ASSIGN = 9_400
_SALT_SPLIT = 9_500
_SALT_TIC = 9_600

#: Signal-to-noise ratio range (log-uniform) of transits and heartbeats: from the usual detection
#: threshold (7) to obvious (100). A labelled set of planet candidates realistically starts near
#: SNR 7 (the Kepler and TESS SPOC pipelines require 7.1 to report a candidate), and a curve whose
#: signal sits below that holds nothing anyone could see: labelled a planet, it only teaches a
#: network that featureless curves are planets. Pass ``snr_range=(3, 100)`` to :func:`make_sector`
#: to study the marginal regime.
DEFAULT_SNR_RANGE: tuple[float, float] = (7.0, 100.0)
TRUTH_FILENAME = "truth.csv"
SPLITS = ("train", "validation", "test")


# ----------------------------------------------------------------------------- noise and flux


def tess_noise_ppm(tess_mag: float | np.ndarray, cadence_minutes: float = 60.0) -> Any:
    """Expected white-noise scatter (ppm per cadence) of a star of TESS magnitude ``tess_mag``.

    The 1-hour precision of Stassun et al. (2018), scaled as 1/sqrt(cadence). Magnitudes are
    clipped to 4-16.5, where the fit holds (brighter stars saturate; fainter are sky-limited).

    Example
    -------
    >>> round(float(tess_noise_ppm(10.0)))          # 1-hour precision at T = 10
    203
    >>> round(float(tess_noise_ppm(10.0, 2.0)))     # per 2-minute cadence
    1109
    """
    magnitude = np.clip(np.asarray(tess_mag, dtype=np.float64), 4.0, 16.5)
    log_sigma = (
        3.29685004771
        + 0.850021465753 * magnitude
        - 0.285041632435 * magnitude**2
        + 0.0395908321369 * magnitude**3
        - 0.0022308015894 * magnitude**4
        + 4.73508403525e-5 * magnitude**5
    )
    result = np.exp(log_sigma) * np.sqrt(60.0 / float(cadence_minutes))
    return float(result) if result.ndim == 0 else result


def tess_flux_from_magnitude(tess_mag: float | np.ndarray) -> Any:
    """Flux in e-/s collected from a star of TESS magnitude ``tess_mag`` (15,000 e-/s at T = 10).

    Example
    -------
    >>> tess_flux_from_magnitude(10.0), tess_flux_from_magnitude(12.5)
    (15000.0, 1500.0)
    """
    result = TESS_ZERO_POINT_FLUX * 10.0 ** (-0.4 * (np.asarray(tess_mag, dtype=np.float64) - 10.0))
    return float(np.round(result, 6)) if np.ndim(result) == 0 else result


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


def _btjd_to_timestamp(btjd: float) -> str:
    """``yyyydddhhmmss`` of a BTJD, the date stamp SPOC puts in file names."""
    seconds = (btjd + BTJD_OFFSET - _UNIX_EPOCH_JD) * 86400.0
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y%j%H%M%S")


def spoc_file_name(tic_id: int, sector: int, cadence_minutes: float = 2.0) -> str:
    """A SPOC-style light-curve file name, e.g. ``tess2018206190142-s0001-0000000012345678-0120-s_lc.fits``."""
    stamp = _btjd_to_timestamp(sector_start_btjd(sector) - 2.0)
    suffix = "fast-lc" if cadence_minutes < 1.0 else "lc"
    return f"tess{stamp}-s{int(sector):04d}-{int(tic_id):016d}-{120 + int(sector):04d}-s_{suffix}.fits"


# ----------------------------------------------------------------------------- the spacecraft timeline

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


# ----------------------------------------------------------------------------- drawing stars


def _signals() -> Any:
    import qusi_lab.signals as signals

    return signals


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _tic_id(seed: int, index: int) -> int:
    """A TIC-like id, unique per (seed, index): an affine permutation of [0, P) for a prime P."""
    prime = 989_999_993
    rng = np.random.default_rng([_SALT_TIC, int(seed)])
    multiplier = int(rng.integers(1, prime - 1))
    offset = int(rng.integers(0, prime))
    return 10_000_000 + (multiplier * int(index) + offset) % prime


def _largest_remainder(total: int, fractions: Sequence[float]) -> list[int]:
    """Split ``total`` into integer counts proportional to ``fractions`` (counts sum to ``total``)."""
    weights = np.asarray(fractions, dtype=np.float64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    for position in order[: total - counts.sum()]:
        counts[position] += 1
    return counts.tolist()


def _normalise_mix(mix: Mapping[str, float] | None) -> dict[str, float]:
    mix = dict(DEFAULT_MIX if mix is None else mix)
    unknown = set(mix) - set(STAR_KINDS)
    if unknown:
        raise ValueError(f"unknown kinds in mix: {sorted(unknown)}; choose from {STAR_KINDS}")
    if any(value < 0 for value in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"mix fractions must be non-negative and not all zero, got {mix}")
    total = sum(mix.values())
    return {kind: mix[kind] / total for kind in STAR_KINDS if mix.get(kind, 0) > 0}


def _assign_labels(n_stars: int, mix: Mapping[str, float], seed: int) -> list[str]:
    """Exactly ``round(fraction * n_stars)`` stars of each kind, in a seeded random order."""
    kinds = list(mix)
    counts = _largest_remainder(n_stars, [mix[kind] for kind in kinds])
    labels = np.repeat(np.array(kinds, dtype=object), counts)
    order = np.random.default_rng([_SALT_ASSIGN, int(seed)]).permutation(n_stars)
    return [str(label) for label in labels[order]]


def _assign_splits(
    labels: Sequence[str], positive_kinds: Sequence[str], fractions: Sequence[float], seed: int
) -> list[str]:
    """Train/validation/test per star, stratified by positive/negative, from the seed."""
    rng = np.random.default_rng([_SALT_SPLIT, int(seed)])
    splits = [""] * len(labels)
    for positive in (True, False):
        members = [i for i, label in enumerate(labels) if (label in positive_kinds) == positive]
        members = [members[i] for i in rng.permutation(len(members))]
        counts = _largest_remainder(len(members), fractions)
        # Small sectors: give every split that should have stars at least one of each class.
        for position, fraction in enumerate(fractions):
            if fraction > 0 and counts[position] == 0 and max(counts) > 1:
                counts[int(np.argmax(counts))] -= 1
                counts[position] = 1
        position = 0
        for split, count in zip(SPLITS, counts, strict=True):
            for member in members[position : position + count]:
                splits[member] = split
            position += count
    return splits


@dataclass
class _Star:
    """Everything about a star that does not change from sector to sector."""

    index: int
    tic_id: int
    label: str
    tess_mag: float
    ra: float
    dec: float
    camera: int
    ccd: int
    flux_fraction: float
    crowding: float
    intrinsic: dict[str, Any] = field(default_factory=dict)
    variability: dict[str, Any] | None = None
    red_noise: dict[str, float] = field(default_factory=dict)


def _draw_star(
    seed: int,
    index: int,
    label: str,
    overrides: Mapping[str, Any] | None = None,
    snr_range: tuple[float, float] = DEFAULT_SNR_RANGE,
) -> _Star:
    rng = np.random.default_rng([_SALT_STAR, int(seed), int(index)])
    overrides = dict(overrides or {})
    # 2-minute targets are mostly T = 7-13.5 (bright, nearby dwarfs chosen for planet searches).
    tess_mag = float(overrides.pop("tess_mag", round(6.5 + 7.0 * rng.beta(2.2, 1.6), 3)))
    star = _Star(
        index=int(index),
        tic_id=int(overrides.pop("tic_id", _tic_id(seed, index))),
        label=label,
        tess_mag=tess_mag,
        ra=round(float(rng.uniform(0.0, 360.0)), 6),
        dec=round(float(np.degrees(np.arcsin(rng.uniform(-1.0, 1.0)))), 6),
        camera=int(rng.integers(1, 5)),
        ccd=int(rng.integers(1, 5)),
        flux_fraction=round(float(rng.uniform(0.75, 0.95)), 4),
        crowding=round(float(rng.uniform(0.85, 1.0)), 4),
    )
    one_hour_noise = tess_noise_ppm(tess_mag) * 1e-6
    star.red_noise = {
        "amplitude": float(rng.uniform(0.1, 0.6) * one_hour_noise),
        "timescale_days": _log_uniform(rng, 0.05, 2.0),
    }
    # Stellar variability: spotted flare stars always rotate visibly; others may be quiet.
    choice = rng.uniform()
    if label == "flare":
        star.variability = {
            "kind": "sinusoidal",
            "period": _log_uniform(rng, 0.3, 10.0),
            "amplitude": _log_uniform(rng, 1e-3, 2e-2),
            "phase": float(rng.uniform(0, 2 * np.pi)),
        }
    elif choice < 0.4:
        star.variability = {
            "kind": "sinusoidal",
            "period": _log_uniform(rng, 0.5, 30.0),
            "amplitude": _log_uniform(rng, 5e-5, 5e-3),
            "phase": float(rng.uniform(0, 2 * np.pi)),
        }
    elif choice < 0.75:
        period = _log_uniform(rng, 0.5, 30.0)
        star.variability = {
            "kind": "quasi_periodic",
            "period": period,
            "amplitude": _log_uniform(rng, 5e-5, 5e-3),
            "coherence_time": period * float(rng.uniform(1.0, 5.0)),
            "seed": int(rng.integers(0, 2**31 - 1)),
        }
    if "variability" in overrides:
        star.variability = overrides.pop("variability")

    intrinsic: dict[str, Any] = {}
    if label == "planet":
        density = _log_uniform(rng, 0.3, 5.0)  # stellar density, g/cm^3 (subgiants to M dwarfs)
        intrinsic = {
            "period": _log_uniform(rng, 0.7, 12.0),
            "phase": float(rng.uniform()),
            "impact_parameter": float(rng.uniform(0.0, 0.9)),
            "stellar_density": density,
            "limb_darkening": (round(float(rng.uniform(0.25, 0.55)), 3), round(float(rng.uniform(0.1, 0.35)), 3)),
            "target_snr": _log_uniform(rng, *snr_range),
        }
    elif label == "eclipsing_binary":
        period = _log_uniform(rng, 0.4, 12.0)
        primary = _log_uniform(rng, 0.002, 0.5)
        eccentric = rng.uniform() < 0.2
        intrinsic = {
            "period": period,
            "phase": float(rng.uniform()),
            "primary_depth": primary,
            "secondary_depth": primary * float(rng.uniform(0.02, 0.9)),
            "duration": min(0.6, period * float(rng.uniform(0.025, 0.1))),
            "eccentricity": float(rng.uniform(0.0, 0.4)) if eccentric else 0.0,
            "argument_of_periastron": float(rng.uniform(0.0, 360.0)) if eccentric else 90.0,
        }
    elif label == "heartbeat":
        intrinsic = {
            "period": _log_uniform(rng, 1.5, 12.0),
            "phase": float(rng.uniform()),
            "eccentricity": float(rng.uniform(0.3, 0.8)),
            "inclination": float(np.degrees(np.arccos(rng.uniform(0.0, 0.98)))),
            "argument_of_periastron": float(rng.uniform(0.0, 360.0)),
            "target_snr": _log_uniform(rng, *snr_range),
        }
    elif label == "flare":
        intrinsic = {
            "rate_per_day": _log_uniform(rng, 0.2, 2.0),
            "power_law_index": float(rng.uniform(1.8, 2.2)),
        }
    intrinsic.update(overrides)
    star.intrinsic = intrinsic
    return star


# ----------------------------------------------------------------------------- rendering one star


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


def _brightness_factor(tess_mag: float) -> float:
    """How much brighter the sky background is relative to a star of ``tess_mag`` than to a T = 10 star."""
    return min(30.0, 10.0 ** (0.4 * (tess_mag - 10.0)))


def _white_noise_scale(star: _Star, timeline: SectorTimeline) -> np.ndarray:
    """Per-cadence white-noise multiplier: scattered light raises the noise towards the orbit ends."""
    return 1.0 + 0.5 * timeline.scattered_light * min(3.0, _brightness_factor(star.tess_mag))


def matched_filter_snr(
    signal: np.ndarray,
    time: np.ndarray,
    white_sigma: float | np.ndarray,
    red_amplitude: float = 0.0,
    red_timescale: float = 1.0,
) -> float:
    """Signal-to-noise ratio of a known signal in white plus red (damped-random-walk) noise.

    ``sqrt(s^T C^-1 s)``: what a matched filter that knows the signal's shape achieves, with the
    noise covariance ``C = diag(white_sigma^2) + red_amplitude^2 exp(-|t_i - t_j| / red_timescale)``.
    This is the signal-to-noise ratio transit searches quote (the TESS and Kepler pipelines
    whiten the data with the noise measured on the transit's own timescale, the CDPP): red
    noise does not average down over the hours of a transit or the day of a heartbeat-star
    brightening, so it counts in full, unlike in ``sqrt(sum(s^2)) / sigma``.

    The damped random walk's precision matrix is tridiagonal, so this costs O(n) (a banded
    solve), also on an uneven time grid.

    Parameters
    ----------
    signal:
        The signal at ``time`` (relative flux minus 1).
    time:
        Increasing times (days) of the usable cadences.
    white_sigma:
        White-noise standard deviation per cadence (relative flux), a number or one per cadence.
    red_amplitude, red_timescale:
        Standard deviation (relative flux) and timescale (days) of the red noise.

    Example
    -------
    >>> time = np.arange(0.0, 27.0, 2 / 1440)
    >>> box = np.where(np.abs((time % 3.0) - 1.5) < 0.05, -1e-3, 0.0)     # 2.4-hour, 1,000 ppm transits
    >>> white = matched_filter_snr(box, time, 1e-3)
    >>> round(white, 1), round(white - float(np.sqrt(np.sum(box**2)) / 1e-3), 6)
    (25.4, 0.0)
    >>> round(matched_filter_snr(box, time, 1e-3, red_amplitude=2e-4, red_timescale=0.5), 1)
    20.0
    """
    from scipy.linalg import solve_banded

    values = np.asarray(signal, dtype=np.float64)
    times = np.asarray(time, dtype=np.float64)
    variances = np.broadcast_to(np.asarray(white_sigma, dtype=np.float64) ** 2, values.shape)
    if values.size == 0:
        return 0.0
    if red_amplitude <= 0 or values.size == 1:
        return float(np.sqrt(np.sum(values * values / variances)))
    # Correlation of the red noise between neighbouring cadences; K^-1 = T is tridiagonal:
    # T_ii = 1/(1 - rho_{i-1}^2) + rho_i^2/(1 - rho_i^2), T_{i,i+1} = -rho_i/(1 - rho_i^2).
    rho = np.exp(-np.diff(times) / float(red_timescale))
    inverse = 1.0 / (1.0 - rho * rho)
    diagonal = np.ones(values.size)
    diagonal[1:] += inverse - 1.0
    diagonal[:-1] += rho * rho * inverse
    off = -rho * inverse
    # C = D + A^2 K = K (T D + A^2 I), so C^-1 s = (T D + A^2 I)^-1 (T s): one tridiagonal solve.
    product = diagonal * values
    product[:-1] += off * values[1:]
    product[1:] += off * values[:-1]
    banded = np.zeros((3, values.size))
    banded[0, 1:] = off * variances[1:]
    banded[1] = diagonal * variances + float(red_amplitude) ** 2
    banded[2, :-1] = off * variances[:-1]
    weighted = solve_banded((1, 1), banded, product)
    return float(np.sqrt(max(0.0, float(values @ weighted))))


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


def _render_planet(
    star: _Star, timeline: SectorTimeline, rng: np.random.Generator, sigma: float
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    signals = _signals()
    values = star.intrinsic
    period = float(values["period"])
    a_over_rstar = float(values.get("a_over_rstar") or max(3.0, _a_over_rstar(period, values["stellar_density"])))
    impact = float(values.get("impact_parameter", 0.3))
    if "inclination" in values:
        inclination = float(values["inclination"])
        impact = a_over_rstar * math.cos(math.radians(inclination))
    else:
        inclination = math.degrees(math.acos(min(1.0, impact / a_over_rstar)))
    u1, u2 = values.get("limb_darkening", (0.4, 0.25))
    cadence = timeline.cadence_days
    # Size the planet for the wanted SNR: depth = snr * sigma / sqrt(cadences in transit).
    guess_ratio = float(values.get("radius_ratio", 0.05))
    duration = max(_transit_duration(period, a_over_rstar, guess_ratio, impact), 2 * cadence)
    if "epoch" in values:
        epoch = float(values["epoch"])
        centers = _event_centers(epoch, period, timeline.time[0], timeline.time[-1])
        observed = _events_observed(centers, duration / 2, timeline.time, timeline.usable, cadence)
    else:
        epoch, observed = _choose_epoch(values["phase"], period, duration / 2, timeline, rng)
    fixed_size = "radius_ratio" in values
    if fixed_size:
        radius_ratio = float(values["radius_ratio"])
    else:
        # First guess from white noise alone: depth = snr * sigma / sqrt(cadences in transit).
        in_transit = max(1.0, observed * duration / cadence)
        depth_wanted = values["target_snr"] * sigma / math.sqrt(in_transit)
        mu = math.sqrt(max(0.0, 1 - impact**2))
        limb_factor = (1 - u1 * (1 - mu) - u2 * (1 - mu) ** 2) / (1 - u1 / 3 - u2 / 6)
        radius_ratio = float(np.clip(math.sqrt(depth_wanted / max(limb_factor, 0.1)), 0.005, 0.3))
    parameters = {
        "period": period,
        "epoch": epoch,
        "radius_ratio": radius_ratio,
        "a_over_rstar": a_over_rstar,
        "inclination": inclination,
        "limb_darkening": [float(u1), float(u2)],
    }
    if cadence > 0.01:
        parameters["exposure_time"] = cadence
    model = signals.transit(timeline.time, **parameters)
    if not fixed_size:
        # Then scale to the wanted SNR in the star's white + red noise (depth ~ radius_ratio^2; the
        # ingress changes a little with the size, so twice).
        for _ in range(2):
            snr = _signal_snr(model, star, timeline, sigma)
            if not snr > 0:
                break
            scaled = float(np.clip(radius_ratio * math.sqrt(values["target_snr"] / snr), 0.005, 0.3))
            if abs(scaled - radius_ratio) < 1e-4 * radius_ratio:
                break
            radius_ratio = scaled
            parameters["radius_ratio"] = radius_ratio
            model = signals.transit(timeline.time, **parameters)
    depth = float(1.0 - signals.transit(np.array([epoch]), **parameters)[0])
    duration = _transit_duration(period, a_over_rstar, radius_ratio, impact)
    summary = {
        "period": period,
        "epoch": epoch,
        "depth": depth,
        "duration_hours": duration * 24.0,
        "radius_ratio": radius_ratio,
        "impact_parameter": impact,
        "n_events": _events_observed(
            _event_centers(epoch, period, timeline.time[0], timeline.time[-1]),
            max(duration, 2 * cadence) / 2,
            timeline.time,
            timeline.usable,
            cadence,
        ),
    }
    return model, [{"kind": "transit", **parameters}], summary


def _render_eclipsing_binary(
    star: _Star, timeline: SectorTimeline, rng: np.random.Generator, sigma: float
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    signals = _signals()
    values = star.intrinsic
    period, duration = float(values["period"]), float(values["duration"])
    if "epoch" in values:
        epoch = float(values["epoch"])
    else:
        epoch, _ = _choose_epoch(values["phase"], period, duration / 2, timeline, rng)
    parameters = {
        "period": period,
        "epoch": epoch,
        "primary_depth": float(values["primary_depth"]),
        "secondary_depth": float(values["secondary_depth"]),
        "duration": duration,
        "eccentricity": float(values.get("eccentricity", 0.0)),
        "argument_of_periastron": float(values.get("argument_of_periastron", 90.0)),
    }
    model = signals.eclipsing_binary(timeline.time, **parameters)
    centers = _event_centers(epoch, period, timeline.time[0], timeline.time[-1])
    summary = {
        "period": period,
        "epoch": epoch,
        "depth": parameters["primary_depth"],
        "duration_hours": duration * 24.0,
        "n_events": _events_observed(centers, duration / 2, timeline.time, timeline.usable, timeline.cadence_days),
    }
    return model, [{"kind": "eclipsing_binary", **parameters}], summary


def _render_heartbeat(
    star: _Star, timeline: SectorTimeline, rng: np.random.Generator, sigma: float
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    signals = _signals()
    values = star.intrinsic
    period = float(values["period"])
    if "epoch_periastron" in values:
        epoch = float(values["epoch_periastron"])
    else:
        epoch, _ = _choose_epoch(values["phase"], period, 0.05 * period, timeline, rng)
    parameters = {
        "period": period,
        "epoch_periastron": epoch,
        "eccentricity": float(values["eccentricity"]),
        "inclination": float(values["inclination"]),
        "argument_of_periastron": float(values["argument_of_periastron"]),
        "amplitude": float(values.get("amplitude", 1e-3)),
    }
    model = signals.heartbeat(timeline.time, **parameters)
    if "amplitude" not in values:
        # Scale the (linear-in-amplitude) model to the wanted SNR in the star's white + red noise.
        snr = _signal_snr(model, star, timeline, sigma)
        if snr > 0:
            amplitude = float(np.clip(parameters["amplitude"] * values["target_snr"] / snr, 5e-5, 0.05))
            parameters["amplitude"] = amplitude
            model = signals.heartbeat(timeline.time, **parameters)
    centers = _event_centers(epoch, period, timeline.time[0], timeline.time[-1])
    summary = {
        "period": period,
        "epoch": epoch,
        "depth": float(np.nanmax(np.abs(model - 1.0))),
        "n_events": _events_observed(
            centers, 0.05 * period, timeline.time, timeline.usable, timeline.cadence_days
        ),
    }
    return model, [{"kind": "heartbeat", **parameters}], summary


def _render_flares(
    star: _Star, timeline: SectorTimeline, rng: np.random.Generator, sigma: float
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    signals = _signals()
    values = star.intrinsic
    usable_index = np.flatnonzero(timeline.usable)
    count = max(2, int(rng.poisson(values["rate_per_day"] * SECTOR_DAYS)))
    if "flares" in values:
        flares = [dict(item) for item in values["flares"]]
    else:
        peak_times = np.sort(
            timeline.time[rng.choice(usable_index, size=count, replace=False)]
            + rng.uniform(-0.5, 0.5, count) * timeline.cadence_days
        )
        # Flare frequency distribution: a power law in amplitude above ~2 sigma; the biggest >= 10 sigma.
        alpha = float(values["power_law_index"])
        smallest = max(2.0 * sigma, 2e-3)
        amplitudes = np.minimum(smallest * (1 - rng.uniform(size=count)) ** (-1 / (alpha - 1)), 1.0)
        amplitudes[int(rng.integers(count))] = max(float(amplitudes.max()), 10.0 * sigma)
        fwhms = np.exp(rng.uniform(np.log(2.0), np.log(30.0), count)) / MINUTES_PER_DAY
        flares = [
            {"peak_time": float(t), "fwhm": float(w), "amplitude": float(a)}
            for t, w, a in zip(peak_times, fwhms, amplitudes, strict=True)
        ]
    model = np.ones(timeline.time.size)
    for item in flares:
        model += signals.flare(timeline.time, **item) - 1.0
    summary = {"n_events": len(flares), "depth": float(max(item["amplitude"] for item in flares))}
    return model, [{"kind": "flare", **item} for item in flares], summary


_RENDERERS = {
    "planet": _render_planet,
    "eclipsing_binary": _render_eclipsing_binary,
    "heartbeat": _render_heartbeat,
    "flare": _render_flares,
}


def _variability_model(star: _Star, time: np.ndarray) -> np.ndarray:
    if star.variability is None:
        return np.ones(time.size)
    signals = _signals()
    parameters = dict(star.variability)
    kind = parameters.pop("kind")
    if kind == "sinusoidal":
        return np.asarray(signals.sinusoidal_variability(time, **parameters), dtype=np.float64)
    return np.asarray(signals.quasi_periodic_variability(time, **parameters), dtype=np.float64)


def _damped_random_walk(rng: np.random.Generator, n: int, amplitude: float, timescale: float, step: float) -> np.ndarray:
    """An Ornstein-Uhlenbeck (damped random walk) series: red noise with a characteristic timescale."""
    from scipy.signal import lfilter

    decay = math.exp(-step / timescale)
    innovations = rng.standard_normal(n) * amplitude * math.sqrt(1 - decay**2)
    initial = rng.standard_normal() * amplitude
    series, _ = lfilter([1.0], [1.0, -decay], innovations, zi=[decay * initial])
    return np.asarray(series)


@dataclass
class _Rendered:
    """The columns of one star's file and its truth-table row."""

    time: np.ndarray
    sap_flux: np.ndarray
    sap_flux_err: np.ndarray
    pdcsap_flux: np.ndarray
    pdcsap_flux_err: np.ndarray
    quality: np.ndarray
    truth: dict[str, Any]
    meta: dict[str, Any]


def _render_star(star: _Star, timeline: SectorTimeline, seed: int) -> _Rendered:
    rng = np.random.default_rng([_SALT_SECTOR, int(seed), int(star.index), int(timeline.sector)])
    n = timeline.time.size
    cadence_minutes = timeline.cadence_days * MINUTES_PER_DAY
    sigma = tess_noise_ppm(star.tess_mag, cadence_minutes) * 1e-6
    summary: dict[str, Any] = {}
    injected: list[dict[str, Any]] = []
    signal_model = np.ones(n)
    renderer = _RENDERERS.get(star.label)
    if renderer is not None:
        signal_model, injected, summary = renderer(star, timeline, rng, sigma)
    usable = timeline.usable
    if injected and star.label in ("planet", "heartbeat", "eclipsing_binary"):
        summary["snr"] = _signal_snr(signal_model, star, timeline, sigma)

    variability = _variability_model(star, timeline.time)
    red = _damped_random_walk(
        rng, n, star.red_noise["amplitude"], star.red_noise["timescale_days"], timeline.cadence_days
    )
    astrophysical = signal_model * variability * (1.0 + red)

    # Systematics: this star's own mix of the sector's shared trends.
    brightness_factor = _brightness_factor(star.tess_mag)
    scales = _BASIS_SCALES[timeline.basis_kinds].copy()
    coefficients = rng.standard_normal(scales.size) * scales
    background = np.isin(timeline.basis_kinds, _BACKGROUND_KINDS)
    coefficients[background] = np.abs(coefficients[background]) * brightness_factor
    systematics = coefficients @ timeline.basis
    pdc_residual = float(rng.uniform(0.02, 0.1))

    noise_scale = _white_noise_scale(star, timeline)
    noise = rng.standard_normal(n) * sigma * noise_scale
    flux = tess_flux_from_magnitude(star.tess_mag)
    contamination = (1.0 - star.crowding) / star.crowding
    pdcsap = flux * (astrophysical * (1.0 + pdc_residual * systematics) + noise)
    sap = flux * star.flux_fraction * ((astrophysical + contamination) * (1.0 + systematics) + noise)
    pdcsap_err = flux * sigma * noise_scale
    sap_err = pdcsap_err * star.flux_fraction

    # Per-target flags: impulsive outliers (flagged, so the default mask drops them) and cosmic rays.
    quality = timeline.quality.copy()
    candidates = np.flatnonzero(usable)
    outliers = rng.choice(candidates, size=int(rng.poisson(2.0)), replace=False)
    jumps = rng.choice([-1.0, 1.0], outliers.size) * rng.uniform(5.0, 15.0, outliers.size) * sigma
    pdcsap[outliers] += flux * jumps
    sap[outliers] += flux * star.flux_fraction * jumps
    quality[outliers] |= QualityFlags.IMPULSIVE_OUTLIER
    cosmic = rng.choice(candidates, size=int(rng.poisson(4.0)), replace=False)
    quality[cosmic] |= QualityFlags.APERTURE_COSMIC

    # PDC leaves the worst cadences empty; nothing at all was recorded in the downlink gap.
    pdc_blank = (quality & (QualityFlags.DESAT | QualityFlags.MANUAL_EXCLUDE | QualityFlags.ARGABRIGHTENING)) != 0
    pdcsap[pdc_blank] = np.nan
    pdcsap_err[pdc_blank] = np.nan
    time = timeline.time.copy()
    for array in (time, sap, sap_err, pdcsap, pdcsap_err):
        array[timeline.in_gap] = np.nan

    signal_kind = SIGNAL_KIND_OF_LABEL[star.label]
    variability_record = None if star.variability is None else dict(star.variability)
    parameters = {
        "signals": injected,
        "variability": variability_record,
        "noise": {
            "white_ppm_per_cadence": sigma * 1e6,
            "red_ppm": star.red_noise["amplitude"] * 1e6,
            "red_timescale_days": star.red_noise["timescale_days"],
        },
        "flux_e_per_s": flux,
        "flux_fraction": star.flux_fraction,
        "crowding": star.crowding,
    }
    truth: dict[str, Any] = {
        "tic_id": star.tic_id,
        "target_id": f"TIC {star.tic_id}",
        "sector": timeline.sector,
        "tess_mag": star.tess_mag,
        "label": star.label,
        "kind": signal_kind or "none",
        "period": summary.get("period", np.nan),
        "epoch": summary.get("epoch", np.nan),
        "depth": summary.get("depth", np.nan),
        "duration_hours": summary.get("duration_hours", np.nan),
        "radius_ratio": summary.get("radius_ratio", np.nan),
        "snr": summary.get("snr", np.nan),
        "n_events": summary.get("n_events", 0),
        "noise_ppm": sigma * 1e6,
        "parameters": json.dumps(parameters, sort_keys=True),
    }
    meta = {
        "target_id": f"TIC {star.tic_id}",
        "mission": "TESS",
        "sector": timeline.sector,
        "cadence": timeline.cadence_days,
        "magnitude": star.tess_mag,
        "time_format": "btjd",
        "label": star.label,
        "injected": injected[0] if len(injected) == 1 else injected,
    }
    return _Rendered(time, sap, sap_err, pdcsap, pdcsap_err, quality, truth, meta)


# ----------------------------------------------------------------------------- writing files


def _write_star(path: Path, star: _Star, rendered: _Rendered, timeline: SectorTimeline) -> None:
    from qusi_lab.io import write_spoc_fits

    path.parent.mkdir(parents=True, exist_ok=True)
    extra_header = {
        "OBJECT": f"TIC {star.tic_id}",
        "RA_OBJ": star.ra,
        "DEC_OBJ": star.dec,
        "CROWDSAP": star.crowding,
        "FLFRCSAP": star.flux_fraction,
        "TIMEDEL": timeline.cadence_days,
        "EXPOSURE": float(np.sum(~timeline.in_gap) * timeline.cadence_days),
        "TSTART": float(timeline.time[0]),
        "TSTOP": float(timeline.time[-1]),
    }
    write_spoc_fits(
        path,
        rendered.time,
        rendered.pdcsap_flux.astype(np.float32),
        flux_err=rendered.pdcsap_flux_err.astype(np.float32),
        sap_flux=rendered.sap_flux.astype(np.float32),
        sap_flux_err=rendered.sap_flux_err.astype(np.float32),
        quality=rendered.quality,
        tic_id=star.tic_id,
        sector=timeline.sector,
        camera=star.camera,
        ccd=star.ccd,
        tess_mag=star.tess_mag,
        extra_header=extra_header,
    )


def _work_chunk(
    task: tuple[str, int, int, float, tuple[float, float], list[tuple[int, str, str]]],
) -> list[dict[str, Any]]:
    """Worker: render and write the stars ``(index, label, relative path)`` of one chunk."""
    directory, sector, seed, cadence_minutes, snr_range, items = task
    timeline = sector_timeline(sector, cadence_minutes)
    rows = []
    for index, label, relative in items:
        star = _draw_star(seed, index, label, snr_range=snr_range)
        rendered = _render_star(star, timeline, seed)
        _write_star(Path(directory) / relative, star, rendered, timeline)
        row = {"path": relative, **rendered.truth}
        rows.append(row)
    return rows


def _run_tasks(tasks: list[Any], workers: int) -> list[dict[str, Any]]:
    """Run the chunk tasks in order, in ``workers`` processes when there is more than one chunk."""
    rows: list[dict[str, Any]] = []
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            rows.extend(_work_chunk(task))
        return rows
    # fork where it exists: workers start in milliseconds and a script needs no
    # ``if __name__ == "__main__"`` guard. The workers use only numpy and file I/O, never torch
    # or OpenMP, so the parent's threads do not matter. Elsewhere, spawn.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as executor:
            for chunk_rows in executor.map(_work_chunk, tasks):
                rows.extend(chunk_rows)
    except BrokenProcessPool:
        # Typically spawn re-running an unguarded script; writing the files again is harmless.
        warnings.warn(
            "make_sector: the worker processes died (with the 'spawn' start method, put the call under "
            "`if __name__ == \"__main__\":`); writing the sector in this process instead",
            RuntimeWarning,
            stacklevel=3,
        )
        rows = []
        for task in tasks:
            rows.extend(_work_chunk(task))
    return rows


# ----------------------------------------------------------------------------- results


@dataclass
class SectorResult:
    """What :func:`make_sector` wrote: the truth table of this sector and where the files are.

    Attributes
    ----------
    directory:
        The directory given to :func:`make_sector` (``truth.csv`` lives there).
    truth:
        One row per file: ``path`` (relative to ``directory``), ``tic_id``, ``label`` ...
    seconds:
        Wall time taken.
    n_workers:
        Processes used.
    experiment_directory:
        ``directory / experiment_name`` when ``experiment=True``, else None.
    """

    directory: Path
    truth: pd.DataFrame
    seconds: float
    n_workers: int
    experiment_directory: Path | None = None

    @property
    def paths(self) -> list[Path]:
        """Absolute paths of the files written."""
        return [self.directory / relative for relative in self.truth["path"]]

    def split_directory(self, split: str) -> Path:
        """``experiment_directory / split`` (``train``, ``validation`` or ``test``)."""
        if self.experiment_directory is None:
            raise ValueError("this sector was not laid out as an experiment (experiment=False)")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return self.experiment_directory / split

    def __len__(self) -> int:
        return len(self.truth)

    def __repr__(self) -> str:
        sectors = sorted(set(int(s) for s in self.truth["sector"]))
        rate = len(self) / self.seconds if self.seconds > 0 else float("inf")
        lines = [
            f"SectorResult(sector {', '.join(map(str, sectors))}: {len(self)} stars written in "
            f"{self.seconds:.1f} s ({rate:.0f} files/s, {self.n_workers} worker(s)) to {str(self.directory)!r})"
        ]
        counts = self.truth["label"].value_counts()
        lines.append("  " + ", ".join(f"{label} {int(counts.get(label, 0))}" for label in STAR_KINDS if label in counts))
        if self.experiment_directory is not None and "split" in self.truth:
            table = self.truth.groupby(["split", "class"]).size()
            parts = []
            for split in SPLITS:
                positive = int(table.get((split, "positive"), 0))
                negative = int(table.get((split, "negative"), 0))
                parts.append(f"{split} {positive}+/{negative}-")
            lines.append(f"  experiment {self.experiment_directory.name}: " + ", ".join(parts))
        return "\n".join(lines)


# ----------------------------------------------------------------------------- public entry points


def _snr_bounds(snr_range: Sequence[float]) -> tuple[float, float]:
    bounds = tuple(float(value) for value in snr_range)
    if len(bounds) != 2 or not (0 < bounds[0] <= bounds[1] < math.inf):
        raise ValueError(f"snr_range must be (low, high) with 0 < low <= high, got {snr_range!r}")
    return bounds[0], bounds[1]


def _experiment_name(positive_kinds: Sequence[str]) -> str:
    if tuple(positive_kinds) == ("planet",):
        return "spoc_transit_experiment"
    return "spoc_" + "_".join(positive_kinds) + "_experiment"


def make_sector(
    directory: str | os.PathLike[str],
    *,
    n_stars: int = 1000,
    sector: int = 1,
    seed: int = 0,
    mix: Mapping[str, float] | None = None,
    experiment: bool = False,
    positive_kinds: Sequence[str] = ("planet",),
    experiment_name: str | None = None,
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
    n_workers: int | None = None,
    cadence_minutes: float = 2.0,
    chunk_size: int = 25,
    snr_range: Sequence[float] = DEFAULT_SNR_RANGE,
) -> SectorResult:
    """Write a synthetic TESS sector of ``n_stars`` SPOC light-curve files and its ``truth.csv``.

    Parameters
    ----------
    directory:
        Where to write. Files go to ``directory/sector_NN/`` or, with ``experiment=True``, to
        ``directory/<experiment_name>/{train,validation,test}/{positive,negative}/``.
        ``truth.csv`` (all sectors written there so far) is kept in ``directory``.
    n_stars:
        Number of stars (one file each).
    sector:
        TESS sector number: sets the start time and the spacecraft timeline.
    seed:
        Everything random follows from it; the same arguments give byte-identical files.
        Stars (ids, magnitudes, kinds, orbits) depend on ``(seed, n_stars, mix)``, not on
        the sector, so several sectors made with one seed observe the same stars.
    mix:
        Fraction of each kind in :data:`STAR_KINDS` (default :data:`DEFAULT_MIX`); counts are
        rounded so that they add up to ``n_stars``.
    experiment:
        Lay the files out for training as in qusi's tutorial: split *by star* into
        train/validation/test (``split_fractions``, stratified by class) with ``positive``
        (the ``positive_kinds``) and ``negative`` (everything else) folders, ready for
        ``LightCurveDataset.from_directory(result.split_directory("train"))``.
    positive_kinds:
        The labels that count as positive, e.g. ``("heartbeat",)``.
    experiment_name:
        Folder name; default ``spoc_transit_experiment`` for planets, ``spoc_<kinds>_experiment``
        otherwise.
    split_fractions:
        Train, validation and test fractions.
    n_workers:
        Worker processes (default ``min(2, cpu count)``; 1 writes in this process).
    cadence_minutes:
        Cadence (2 for SPOC 2-minute data, 1/3 for 20-second data).
    chunk_size:
        Stars per task handed to a worker.
    snr_range:
        ``(low, high)``: transit and heartbeat signal-to-noise ratios are drawn log-uniformly
        between them (default :data:`DEFAULT_SNR_RANGE`, 7 to 100). The same seed gives the same
        stars, orbits and noise whatever the range: only the depths and amplitudes change.

    Returns
    -------
    SectorResult
        Its ``truth`` DataFrame has ``path`` (relative to ``directory``), ``tic_id``, ``target_id``,
        ``sector``, ``tess_mag``, ``label``, ``kind`` (the signal model), ``period``, ``epoch``,
        ``depth``, ``duration_hours``, ``radius_ratio``, ``snr``, ``n_events``, ``noise_ppm``,
        ``parameters`` (JSON: every injected parameter) and, for experiments, ``split`` and ``class``.

    Example
    -------
    >>> import tempfile
    >>> result = make_sector(tempfile.mkdtemp(), n_stars=10, seed=3, n_workers=1)  # doctest: +SKIP
    >>> result.truth.label.value_counts().to_dict()                               # doctest: +SKIP
    {'quiet': 4, 'planet': 2, 'eclipsing_binary': 2, 'heartbeat': 1, 'flare': 1}
    """
    import pandas as pd

    started = time_module.perf_counter()
    if n_stars < 1:
        raise ValueError(f"n_stars must be at least 1, got {n_stars}")
    mixture = _normalise_mix(mix)
    positive_kinds = tuple(positive_kinds)
    unknown = set(positive_kinds) - set(STAR_KINDS)
    if experiment and (unknown or not positive_kinds):
        raise ValueError(f"positive_kinds must be labels from {STAR_KINDS}, got {positive_kinds}")
    snr_bounds = _snr_bounds(snr_range)
    fractions = tuple(float(value) for value in split_fractions)
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) <= 0:
        raise ValueError(f"split_fractions must be three non-negative numbers, got {split_fractions}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    labels = _assign_labels(n_stars, mixture, seed)
    splits = _assign_splits(labels, positive_kinds, fractions, seed) if experiment else None
    name = experiment_name or _experiment_name(positive_kinds)
    items: list[tuple[int, str, str]] = []
    for index, label in enumerate(labels):
        file_name = spoc_file_name(_tic_id(seed, index), sector, cadence_minutes)
        if splits is not None:
            category = "positive" if label in positive_kinds else "negative"
            relative = f"{name}/{splits[index]}/{category}/{file_name}"
        else:
            relative = f"sector_{int(sector):02d}/{file_name}"
        items.append((index, label, relative))

    # Regenerating a sector replaces it: remove the files the truth table says it wrote before.
    truth_path = directory / TRUTH_FILENAME
    previous = None
    if truth_path.exists():
        previous = pd.read_csv(truth_path)
        stale = previous[previous["sector"] == int(sector)]
        for relative in stale["path"]:
            (directory / relative).unlink(missing_ok=True)
        previous = previous[previous["sector"] != int(sector)]

    workers = min(2, os.cpu_count() or 1) if n_workers is None else max(1, int(n_workers))
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    tasks = [
        (str(directory), int(sector), int(seed), float(cadence_minutes), snr_bounds, chunk) for chunk in chunks
    ]
    rows = _run_tasks(tasks, workers)

    truth = pd.DataFrame(rows)
    if splits is not None:
        truth["split"] = splits
        truth["class"] = ["positive" if label in positive_kinds else "negative" for label in labels]
    combined = truth if previous is None or previous.empty else pd.concat([previous, truth], ignore_index=True)
    combined.to_csv(truth_path, index=False)
    return SectorResult(
        directory=directory,
        truth=truth,
        seconds=time_module.perf_counter() - started,
        n_workers=1 if workers == 1 or len(chunks) == 1 else min(workers, len(chunks)),
        experiment_directory=(directory / name) if experiment else None,
    )


def make_light_curve(
    kind: str = "planet",
    *,
    seed: int = 0,
    sector: int = 1,
    tess_mag: float | None = None,
    parameters: Mapping[str, Any] | None = None,
    flux_column: str = "pdcsap_flux",
    quality_bitmask: str | int = "default",
    cadence_minutes: float = 2.0,
    snr_range: Sequence[float] = DEFAULT_SNR_RANGE,
) -> LightCurve:
    """One synthetic star in memory, as :func:`qusi_lab.read_light_curve` would return its file.

    Parameters
    ----------
    kind:
        One of :data:`STAR_KINDS` (``planet``, ``eclipsing_binary``, ``heartbeat``, ``flare``, ``quiet``).
    seed, sector, cadence_minutes, snr_range:
        As for :func:`make_sector`.
    tess_mag:
        The star's TESS magnitude (default: drawn).
    parameters:
        Override drawn values, e.g. ``{"period": 3.0, "radius_ratio": 0.1, "epoch": 1326.0}`` for
        a planet, ``{"primary_depth": 0.2}`` for an eclipsing binary, ``{"variability": None}``
        for no stellar variability.
    flux_column:
        ``"pdcsap_flux"`` (default) or ``"sap_flux"``.
    quality_bitmask:
        ``"default"`` drops flagged cadences and the gap (as readers do); ``"none"`` keeps every
        row, gap included (NaN times and fluxes).

    Returns
    -------
    LightCurve
        Flux in e-/s; ``meta`` has ``target_id``, ``mission``, ``sector``, ``cadence``,
        ``magnitude``, ``label`` and ``injected`` (the signal parameters) and ``truth``.

    Example
    -------
    >>> lc = make_light_curve("planet", seed=1, parameters={"period": 3.0, "radius_ratio": 0.1})  # doctest: +SKIP
    >>> lc.meta["injected"]["period"]                                                          # doctest: +SKIP
    3.0
    """
    if kind not in STAR_KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {STAR_KINDS}")
    if flux_column not in ("pdcsap_flux", "sap_flux"):
        raise ValueError(f"flux_column must be 'pdcsap_flux' or 'sap_flux', got {flux_column!r}")
    overrides = dict(parameters or {})
    if tess_mag is not None:
        overrides["tess_mag"] = float(tess_mag)
    timeline = sector_timeline(sector, cadence_minutes)
    # A different star (index) per kind, so that two kinds made with one seed do not share their noise.
    star = _draw_star(seed, STAR_KINDS.index(kind), kind, overrides, snr_range=_snr_bounds(snr_range))
    rendered = _render_star(star, timeline, seed)
    if flux_column == "pdcsap_flux":
        flux, flux_err = rendered.pdcsap_flux, rendered.pdcsap_flux_err
    else:
        flux, flux_err = rendered.sap_flux, rendered.sap_flux_err
    meta = dict(rendered.meta)
    meta.update(flux_column=flux_column, truth=rendered.truth, tic_id=star.tic_id)
    lc = LightCurve(rendered.time, flux, flux_err, meta, validate=False)
    if quality_bitmask != "none":
        bitmask = TESS_DEFAULT_QUALITY_BITMASK if quality_bitmask == "default" else int(quality_bitmask)
        keep = np.isfinite(rendered.time) & ((rendered.quality & bitmask) == 0)
        lc = lc[keep]
    return lc


def load_truth(directory: str | os.PathLike[str], *, parse_parameters: bool = True) -> pd.DataFrame:
    """The truth table of a directory written by :func:`make_sector` (``parameters`` decoded to dicts).

    Adds an ``absolute_path`` column.

    Example
    -------
    >>> truth = load_truth("data/synthetic")                # doctest: +SKIP
    >>> truth[truth.label == "planet"][["path", "period", "depth", "snr"]]  # doctest: +SKIP
    """
    import pandas as pd

    directory = Path(directory)
    path = directory / TRUTH_FILENAME
    if not path.exists():
        raise LightCurveError("no truth table here; was this directory written by make_sector?", path)
    truth = pd.read_csv(path)
    if parse_parameters and "parameters" in truth:
        truth["parameters"] = [json.loads(value) for value in truth["parameters"]]
    truth["absolute_path"] = [str(directory / relative) for relative in truth["path"]]
    return truth
