"""Rendering heartbeat stars: the stress sky's SNR-scaled tide, and the physical sky's systems.

A physical system (:mod:`qusi_lab.synthetic.physical`) is settled once per sector by
:func:`_settle_heartbeat` (orbit, periastron epoch, magnitude) and then rendered as its tide, its
geometric eclipses and its tidally excited modes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qusi_lab.synthetic._events import _choose_epoch, _event_centers, _events_observed, _signal_snr, _signals
from qusi_lab.synthetic._seeds import _SALT_HEARTBEAT
from qusi_lab.synthetic.noise import tess_noise_ppm
from qusi_lab.synthetic.physical import draw_heartbeat_system
from qusi_lab.synthetic.population import _Star
from qusi_lab.synthetic.timeline import MINUTES_PER_DAY, SectorTimeline


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


# Magnitudes a heartbeat star's SNR may put it at: bright 2-minute targets to where the noise model ends.
_HEARTBEAT_MAGNITUDE_RANGE = (5.5, 16.0)
_MAGNITUDE_GRID = np.linspace(4.0, 16.5, 2001)


def _physical_heartbeat_signals(values: Mapping[str, Any], epoch: float) -> list[dict[str, Any]]:
    """The injected signals of a physical heartbeat system: the tide, its eclipses, its tidally excited modes."""
    period = float(values["period"])
    injected: list[dict[str, Any]] = [
        {
            "kind": "heartbeat",
            "period": period,
            "epoch_periastron": epoch,
            "eccentricity": float(values["eccentricity"]),
            "inclination": float(values["inclination"]),
            "argument_of_periastron": float(values["argument_of_periastron"]),
            "amplitude": float(values["amplitude"]),
        }
    ]
    eclipse = values.get("eclipse")
    if eclipse:
        from qusi_lab.signals.orbits import mean_anomaly_from_true

        true_anomaly = math.pi / 2 - math.radians(float(values["argument_of_periastron"]))
        offset = float(mean_anomaly_from_true(true_anomaly, float(values["eccentricity"]))) / (2 * math.pi)
        injected.append(
            {
                "kind": "eclipsing_binary",
                "period": period,
                "epoch": epoch + offset * period,
                "primary_depth": float(eclipse["primary_depth"]),
                "secondary_depth": float(eclipse["secondary_depth"]),
                "duration": float(eclipse["duration"]),
                "eccentricity": float(values["eccentricity"]),
                "argument_of_periastron": float(values["argument_of_periastron"]),
                "radius_ratio": float(eclipse["radius_ratio"]),
            }
        )
    for harmonic, relative, phase in values.get("tidally_excited", ()):
        # A mode at an exact harmonic of the orbit, phased to periastron.
        injected.append(
            {
                "kind": "sinusoidal",
                "period": period / int(harmonic),
                "amplitude": 0.5 * float(relative) * float(values["amplitude"]),
                "phase": float(phase) - 2 * math.pi * int(harmonic) * epoch / period,
            }
        )
    return injected


def _model_of(injected: Sequence[Mapping[str, Any]], time: np.ndarray) -> np.ndarray:
    """The product of the injected signals' relative fluxes (each replayed with :func:`qusi_lab.signals.signal`)."""
    signals = _signals()
    model = np.ones(time.size)
    for item in injected:
        parameters = dict(item)
        model *= signals.signal(parameters.pop("kind"), time, **parameters)
    return model


def _settle_heartbeat(star: _Star, timeline: SectorTimeline) -> None:
    """Give a physical heartbeat star its orbit, periastron epoch and magnitude for this sector.

    The amplitude is the physics of the orbit (:func:`qusi_lab.synthetic.physical.tidal_amplitude`),
    never scaled. The sector's ``snr_range`` still bounds what a labelled heartbeat star can be, so
    the *magnitude* is chosen: the star sits at the TESS magnitude where its physical signal reaches
    the target SNR drawn log-uniformly in ``snr_range`` (a heartbeat star of a given orbit is that
    bright or that faint on the sky). When no magnitude in 5.5-16 can do it (a wide, weak orbit that
    would need a star brighter than any 2-minute target, or a strong one that would need one
    fainter than the noise model) or no periastron falls in usable data, the orbit is redrawn: the
    drawn orbits are those such a survey can label, as in the real catalogues. Everything follows
    from ``(seed, star index, attempt)``; a given ``tess_mag`` is kept and the orbit redrawn instead.
    """
    values = star.intrinsic
    low, high = values["snr_bounds"]
    target = float(values["target_snr"])
    fixed = bool(values.get("magnitude_fixed"))
    given: dict[str, Any] = {key: values[key] for key in ("period", "eccentricity", "inclination", "argument_of_periastron") if key in values}
    cadence_minutes = timeline.cadence_days * MINUTES_PER_DAY
    reference_one_hour = tess_noise_ppm(star.tess_mag)
    red_fraction = star.red_noise["amplitude"] / (reference_one_hour * 1e-6)
    one_hour_grid = tess_noise_ppm(_MAGNITUDE_GRID)
    best: tuple[float, dict[str, Any], float, float] | None = None
    for attempt in range(60):
        rng = np.random.default_rng([_SALT_HEARTBEAT, int(values.get("seed", 0)), int(star.index), attempt])
        system = draw_heartbeat_system(rng)
        if given:
            # An orbit asked for: its own tide and eclipses, no random oscillation modes.
            from qusi_lab.synthetic.physical import _eclipses, tidal_amplitude

            system.update(given)
            system["amplitude"] = tidal_amplitude(system)
            system["eclipse"] = _eclipses(system)
            system["tidally_excited"] = []
        if "amplitude" in values:
            # A tidal signal asked for exactly: that signal alone.
            system.update(amplitude=float(values["amplitude"]), eclipse=None, tidally_excited=[])
        period = float(system["period"])
        half_width = 0.05 * min(period, 10.0)
        if "epoch_periastron" in values:
            epoch = float(values["epoch_periastron"])
            centers = _event_centers(epoch, period, timeline.time[0], timeline.time[-1])
            observed = max(1, _events_observed(centers, half_width, timeline.time, timeline.usable, timeline.cadence_days))
        else:
            epoch, observed = _choose_epoch(system["phase"], period, half_width, timeline, rng, minimum=1)
        if observed < 1:
            continue
        model = _model_of(_physical_heartbeat_signals(system, epoch), timeline.time)
        magnitude = star.tess_mag
        snr = 0.0
        for _refine in range(3):
            star.red_noise["amplitude"] = red_fraction * tess_noise_ppm(magnitude) * 1e-6
            sigma = tess_noise_ppm(magnitude, cadence_minutes) * 1e-6
            snr = _signal_snr(model, _star_with_magnitude(star, magnitude), timeline, sigma)
            if fixed or not snr > 0:
                break
            wanted = tess_noise_ppm(magnitude) * snr / target
            magnitude = round(float(np.interp(wanted, one_hour_grid, _MAGNITUDE_GRID)), 3)
        star.red_noise["amplitude"] = red_fraction * tess_noise_ppm(magnitude) * 1e-6
        inside = low * 0.98 <= snr <= high * 1.02 and _HEARTBEAT_MAGNITUDE_RANGE[0] <= magnitude <= _HEARTBEAT_MAGNITUDE_RANGE[1]
        distance = abs(math.log(max(snr, 1e-9) / target))
        if best is None or distance < best[0]:
            best = (distance, {**system, "epoch_periastron": epoch, "attempts": attempt + 1}, magnitude, snr)
        if inside or (fixed and given):
            best = (0.0, {**system, "epoch_periastron": epoch, "attempts": attempt + 1}, magnitude, snr)
            break
    assert best is not None, "no heartbeat system has a periastron in this sector's usable data"
    _, system, magnitude, _ = best
    star.tess_mag = float(magnitude)
    star.red_noise["amplitude"] = red_fraction * tess_noise_ppm(magnitude) * 1e-6
    values.update(system)
    values["settled"] = True


def _star_with_magnitude(star: _Star, magnitude: float) -> _Star:
    """``star`` at another TESS magnitude (for the white-noise scale of :func:`_signal_snr`)."""
    from dataclasses import replace

    return replace(star, tess_mag=float(magnitude))


def _render_physical_heartbeat(
    star: _Star, timeline: SectorTimeline, rng: np.random.Generator, sigma: float
) -> tuple[np.ndarray, list[dict[str, Any]], dict[str, Any]]:
    values = star.intrinsic
    period = float(values["period"])
    epoch = float(values["epoch_periastron"])
    injected = _physical_heartbeat_signals(values, epoch)
    model = _model_of(injected, timeline.time)
    centers = _event_centers(epoch, period, timeline.time[0], timeline.time[-1])
    heartbeat_only = _model_of(injected[:1], timeline.time)
    summary = {
        "period": period,
        "epoch": epoch,
        "depth": float(np.nanmax(np.abs(heartbeat_only - 1.0))),
        "n_events": _events_observed(
            centers, 0.05 * min(period, 10.0), timeline.time, timeline.usable, timeline.cadence_days
        ),
        "system": {
            key: values[key]
            for key in (
                "mass_1", "mass_2", "mass_ratio", "radius_1", "radius_2", "semi_major_axis", "roche_lobe_1",
                "roche_lobe_2", "light_fraction_1", "alpha", "amplitude", "eclipse", "tidally_excited", "attempts",
            )
            if key in values
        },
    }
    return model, injected, summary
