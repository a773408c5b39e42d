"""Which stars a synthetic sector holds and which signals they carry: every draw made from the seed.

A sector is a labelled mix (:data:`DEFAULT_MIX`) of ``planet`` (transits), ``eclipsing_binary``,
``heartbeat``, ``flare`` (a spotted flare star) and ``quiet`` stars, in exact proportions
(largest-remainder rounding) and a seeded order. Each star draws from its own generator seeded by
``(seed, star index)``, so its id, magnitude, position, noise and orbit do not depend on the sector,
on the other stars, or on the worker process that renders it:

* TESS magnitudes of 2-minute targets, mostly T = 7-13.5 (bright, nearby dwarfs chosen for planet
  searches), positions uniform on the sky;
* red noise of 10-60% of the 1-hour white noise on 0.05-2 day timescales; stellar variability
  (rotation or quasi-periodic) for most stars, always for flare stars;
* planets: periods 0.7-12 days, stellar densities 0.3-5 g/cm^3 (subgiants to M dwarfs, giving a/R* by
  Kepler's third law), impact parameters 0-0.9, quadratic limb darkening, and a target signal-to-noise
  ratio drawn log-uniformly in :data:`DEFAULT_SNR_RANGE` that sets the radius ratio when rendered;
* eclipsing binaries (20% eccentric), heartbeat stars (eccentricity 0.3-0.8, random inclination and
  argument of periastron, amplitude set by the target SNR) and flare stars (0.2-2 flares a day, a
  power-law flare frequency distribution of index ~2).

Example
-------
>>> _assign_labels(5, {"planet": 0.4, "quiet": 0.6}, seed=0).count("planet")
2
>>> _draw_star(0, 0, "planet").intrinsic["period"] == _draw_star(0, 0, "planet").intrinsic["period"]
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qusi_lab.synthetic._seeds import _SALT_ASSIGN, _SALT_PHYSICAL, _SALT_SPLIT, _SALT_STAR, _SALT_TIC
from qusi_lab.synthetic.noise import tess_noise_ppm
from qusi_lab.synthetic.physical import check_population, draw_red_noise, draw_rotation

__all__ = ["DEFAULT_MIX", "DEFAULT_SNR_RANGE", "SIGNAL_KIND_OF_LABEL", "SPLITS", "STAR_KINDS"]

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

#: Signal-to-noise ratio range (log-uniform) of transits and heartbeats: from the usual detection
#: threshold (7) to obvious (100). A labelled set of planet candidates realistically starts near
#: SNR 7 (the Kepler and TESS SPOC pipelines require 7.1 to report a candidate), and a curve whose
#: signal sits below that holds nothing anyone could see: labelled a planet, it only teaches a
#: network that featureless curves are planets. Pass ``snr_range=(3, 100)`` to :func:`make_sector`
#: to study the marginal regime.
DEFAULT_SNR_RANGE: tuple[float, float] = (7.0, 100.0)
SPLITS = ("train", "validation", "test")


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
    population: str = "stress",
) -> _Star:
    """Star ``index`` of the sector made with ``seed``, from ``population`` (see :mod:`~qusi_lab.synthetic.physical`)."""
    if check_population(population) == "physical":
        return _draw_physical_star(seed, index, label, overrides, snr_range)
    return _draw_stress_star(seed, index, label, overrides, snr_range)


def _draw_physical_star(
    seed: int,
    index: int,
    label: str,
    overrides: Mapping[str, Any] | None,
    snr_range: tuple[float, float],
) -> _Star:
    """The stress star's identity, sky position and (planet, binary, flare) signal, with physical variability,
    red noise and heartbeat orbit. A heartbeat star's orbit and magnitude are settled when it is rendered
    (:func:`qusi_lab.synthetic._heartbeats._settle_heartbeat`): both depend on the sector's data."""
    overrides = dict(overrides or {})
    identity: dict[str, Any] = {key: overrides.pop(key) for key in ("tess_mag", "tic_id") if key in overrides}
    star = _draw_stress_star(seed, index, label, identity, snr_range)
    rng = np.random.default_rng([_SALT_PHYSICAL, int(seed), int(index)])
    star.red_noise = draw_red_noise(rng, tess_noise_ppm(star.tess_mag) * 1e-6)
    star.variability = draw_rotation(rng, label)
    if "variability" in overrides:
        star.variability = overrides.pop("variability")
    if label == "heartbeat":
        star.intrinsic = {
            "physical": True,
            "target_snr": _log_uniform(rng, *snr_range),
            "snr_bounds": tuple(float(value) for value in snr_range),
            "magnitude_fixed": "tess_mag" in identity,
            "seed": int(seed),
        }
    star.intrinsic.update(overrides)
    return star


def _draw_stress_star(
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


def _snr_bounds(snr_range: Sequence[float]) -> tuple[float, float]:
    bounds = tuple(float(value) for value in snr_range)
    if len(bounds) != 2 or not (0 < bounds[0] <= bounds[1] < math.inf):
        raise ValueError(f"snr_range must be (low, high) with 0 < low <= high, got {snr_range!r}")
    return bounds[0], bounds[1]

