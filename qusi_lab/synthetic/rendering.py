"""A light curve from a star and its signals: the signal models, noise, systematics and flags of one star.

:func:`synthetic_light_curve` renders one star in memory; :mod:`qusi_lab.synthetic.writing` renders
many and writes them to disk. The same star, sector and seed give the same arrays either way: the
rendering of a star draws from its own generator seeded by ``(seed, star index, sector)``.

Example
-------
>>> lc = synthetic_light_curve("planet", seed=1, parameters={"period": 3.0, "radius_ratio": 0.1})
>>> lc.meta["injected"]["kind"], lc.meta["injected"]["period"]
('transit', 3.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qusi_lab.lightcurve import LightCurve
from qusi_lab.synthetic._events import (
    _a_over_rstar,
    _choose_epoch,
    _event_centers,
    _events_observed,
    _signal_snr,
    _signals,
    _transit_duration,
    _white_noise_scale,
)
from qusi_lab.synthetic._heartbeats import _render_heartbeat, _render_physical_heartbeat, _settle_heartbeat
from qusi_lab.synthetic._seeds import _SALT_SECTOR
from qusi_lab.synthetic.noise import (
    _brightness_factor,
    _damped_random_walk,
    tess_flux_from_magnitude,
    tess_noise_ppm,
)
from qusi_lab.synthetic.physical import DEFAULT_POPULATION, coloured_noise
from qusi_lab.synthetic.population import (
    DEFAULT_SNR_RANGE,
    SIGNAL_KIND_OF_LABEL,
    STAR_KINDS,
    _draw_star,
    _snr_bounds,
    _Star,
)
from qusi_lab.synthetic.timeline import (
    _BACKGROUND_KINDS,
    _BASIS_SCALES,
    MINUTES_PER_DAY,
    SECTOR_DAYS,
    TESS_DEFAULT_QUALITY_BITMASK,
    QualityFlags,
    SectorTimeline,
    sector_timeline,
)

__all__ = ["synthetic_light_curve"]



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
    if kind == "starspots":
        return np.asarray(signals.starspot_variability(time, **parameters), dtype=np.float64)
    return np.asarray(signals.quasi_periodic_variability(time, **parameters), dtype=np.float64)


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
    if star.intrinsic.get("physical") and not star.intrinsic.get("settled"):
        _settle_heartbeat(star, timeline)
    rng = np.random.default_rng([_SALT_SECTOR, int(seed), int(star.index), int(timeline.sector)])
    n = timeline.time.size
    cadence_minutes = timeline.cadence_days * MINUTES_PER_DAY
    sigma = tess_noise_ppm(star.tess_mag, cadence_minutes) * 1e-6
    summary: dict[str, Any] = {}
    injected: list[dict[str, Any]] = []
    signal_model = np.ones(n)
    renderer = _RENDERERS.get(star.label)
    if star.intrinsic.get("physical"):
        renderer = _render_physical_heartbeat
    if renderer is not None:
        signal_model, injected, summary = renderer(star, timeline, rng, sigma)
    usable = timeline.usable
    if injected and star.label in ("planet", "heartbeat", "eclipsing_binary"):
        summary["snr"] = _signal_snr(signal_model, star, timeline, sigma)

    variability = _variability_model(star, timeline.time)
    if "slope" in star.red_noise:
        red = coloured_noise(
            rng, n, star.red_noise["amplitude"], star.red_noise["timescale_days"], star.red_noise["slope"],
            timeline.cadence_days,
        )
    else:
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
    if "slope" in star.red_noise:
        parameters["noise"]["red_slope"] = star.red_noise["slope"]
    if "system" in summary:
        parameters["system"] = summary["system"]
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


def synthetic_light_curve(
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
    population: str = DEFAULT_POPULATION,
) -> LightCurve:
    """One synthetic star rendered in memory, as :func:`qusi_lab.read_light_curve` would return its file.

    Formerly ``make_light_curve`` (that name still works, with a ``DeprecationWarning``, until 0.2): the
    new name says that it makes a *synthetic* curve, unlike the transforms' helper that copies a curve.

    Parameters
    ----------
    kind:
        One of :data:`STAR_KINDS` (``planet``, ``eclipsing_binary``, ``heartbeat``, ``flare``, ``quiet``).
    seed, sector, cadence_minutes, snr_range, population:
        As for :func:`make_sector` (``population="stress"`` gives the curves of qusi_lab 0.1, byte for byte).
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
    >>> lc = synthetic_light_curve("planet", seed=1, parameters={"period": 3.0, "radius_ratio": 0.1})
    >>> lc.meta["injected"]["period"], lc.meta["label"]
    (3.0, 'planet')
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
    star = _draw_star(
        seed, STAR_KINDS.index(kind), kind, overrides, snr_range=_snr_bounds(snr_range), population=population
    )
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

