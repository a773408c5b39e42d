"""What the synthetic populations hold, drawn: :func:`population_plot`.

Example
-------
>>> figure = population_plot(n_stars=300, seed=1)
>>> [axes.get_title() for axes in figure.axes]  # doctest: +NORMALIZE_WHITESPACE
['Heartbeat orbits', 'Heartbeat amplitude', 'Rotation periods', 'Rotation amplitudes']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qusi_lab.synthetic.physical import (
    HEARTBEAT_PERIOD_RANGE,
    draw_heartbeat_system,
    draw_rotation,
    eccentricity_envelope,
)

__all__ = ["population_data", "population_plot"]


def population_data(n_stars: int = 2000, seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """The distributions :func:`population_plot` draws, from the populations' own code.

    ``n_stars`` heartbeat systems and ``n_stars`` stars' rotation of each population:
    ``{"physical": {...}, "stress": {...}}`` with arrays ``heartbeat_period``, ``heartbeat_eccentricity``,
    ``heartbeat_amplitude`` (physical only: the stress amplitude is set by the SNR), ``heartbeat_eclipsing``,
    ``rotation_period`` and ``rotation_amplitude`` (rotating stars only) and ``rotating_fraction``.
    Physical heartbeat systems are those of :func:`~qusi_lab.synthetic.physical.draw_heartbeat_system`
    before a sector's SNR selection (:func:`~qusi_lab.synthetic.make_sector` picks a magnitude, or redraws
    the orbit, so that each lies in ``snr_range``).

    Example
    -------
    >>> data = population_data(n_stars=200, seed=1)
    >>> bool(np.all(data["physical"]["heartbeat_eccentricity"] <= 0.9))
    True
    """
    from qusi_lab.synthetic._seeds import _SALT_HEARTBEAT, _SALT_PHYSICAL
    from qusi_lab.synthetic.population import _draw_stress_star

    rng = np.random.default_rng([_SALT_HEARTBEAT, int(seed)])
    systems = [draw_heartbeat_system(rng) for _ in range(n_stars)]
    rotation_rng = np.random.default_rng([_SALT_PHYSICAL, int(seed)])
    rotations = [draw_rotation(rotation_rng, "quiet") for _ in range(n_stars)]
    spotted = [item for item in rotations if item is not None]
    physical = {
        "heartbeat_period": np.array([s["period"] for s in systems]),
        "heartbeat_eccentricity": np.array([s["eccentricity"] for s in systems]),
        "heartbeat_amplitude": np.array([s["amplitude"] for s in systems]),
        "heartbeat_eclipsing": np.array([s["eclipse"] is not None for s in systems]),
        "rotation_period": np.array([item["period"] for item in spotted]),
        "rotation_amplitude": np.array([item["amplitude"] for item in spotted]),
        "rotating_fraction": np.array(len(spotted) / max(1, n_stars)),
    }
    heartbeats = [_draw_stress_star(seed, index, "heartbeat").intrinsic for index in range(n_stars)]
    quiet = [_draw_stress_star(seed, index, "quiet").variability for index in range(n_stars)]
    varying = [item for item in quiet if item is not None]
    stress = {
        "heartbeat_period": np.array([h["period"] for h in heartbeats]),
        "heartbeat_eccentricity": np.array([h["eccentricity"] for h in heartbeats]),
        "heartbeat_amplitude": np.array([]),
        "heartbeat_eclipsing": np.zeros(len(heartbeats), dtype=bool),
        "rotation_period": np.array([item["period"] for item in varying]),
        "rotation_amplitude": np.array([item["amplitude"] for item in varying]),
        "rotating_fraction": np.array(len(varying) / max(1, n_stars)),
    }
    return {"physical": physical, "stress": stress}


def population_plot(n_stars: int = 2000, seed: int = 0, *, figsize: tuple[float, float] = (11.0, 7.5)) -> Any:
    """A matplotlib Figure of the synthetic populations: physical (the default sky) against stress.

    Four panels: heartbeat eccentricity against period with the tidal-circularisation envelope
    (:func:`~qusi_lab.synthetic.physical.eccentricity_envelope`); physical heartbeat amplitude against
    period (eclipsing systems marked); rotation-period and rotation-amplitude histograms of the stars
    that vary (the legend gives the fraction of stars that do). The data are :func:`population_data`.
    The figure is made without pyplot, so it changes no global state; a notebook shows it when a cell
    ends with it.

    Example
    -------
    >>> figure = population_plot(n_stars=200)
    >>> len(figure.axes)
    4
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    data = population_data(n_stars, seed)
    physical, stress = data["physical"], data["stress"]
    figure = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(figure)
    (orbits, amplitudes), (periods, rotation_amplitudes) = figure.subplots(2, 2)
    colours = {"physical": "tab:blue", "stress": "tab:red"}

    orbits.scatter(stress["heartbeat_period"], stress["heartbeat_eccentricity"], s=6, alpha=0.4,
                   color=colours["stress"], label="stress", gid="stress")
    orbits.scatter(physical["heartbeat_period"], physical["heartbeat_eccentricity"], s=6, alpha=0.4,
                   color=colours["physical"], label="physical", gid="physical")
    grid = np.geomspace(1.0, HEARTBEAT_PERIOD_RANGE[1], 300)
    orbits.plot(grid, eccentricity_envelope(grid), color="black", label="circularisation envelope", gid="envelope")
    orbits.set(xscale="log", xlabel="orbital period (days)", ylabel="eccentricity", title="Heartbeat orbits",
               ylim=(0, 1))
    orbits.legend(loc="lower right", fontsize="small")

    eclipsing = physical["heartbeat_eclipsing"]
    amplitudes.scatter(physical["heartbeat_period"][~eclipsing], physical["heartbeat_amplitude"][~eclipsing] * 1e6,
                       s=6, alpha=0.4, color=colours["physical"], label="physical", gid="physical")
    amplitudes.scatter(physical["heartbeat_period"][eclipsing], physical["heartbeat_amplitude"][eclipsing] * 1e6,
                       s=10, color="tab:orange", label="physical, eclipsing", gid="physical eclipsing")
    amplitudes.set(xscale="log", yscale="log", xlabel="orbital period (days)",
                   ylabel="tidal amplitude, peak to peak (ppm)", title="Heartbeat amplitude")
    amplitudes.legend(loc="upper right", fontsize="small")

    bins = np.geomspace(0.2, 30.0, 40)
    for name, values in (("stress", stress), ("physical", physical)):
        share = float(values["rotating_fraction"])
        periods.hist(values["rotation_period"], bins=bins, histtype="step", density=False, color=colours[name],
                     label=f"{name}: {share:.0%} of stars vary", gid=name)
    periods.axvspan(1.5, 2.0, color="grey", alpha=0.15, label="1.5-2 d dip (Fetherolf et al. 2023)")
    periods.set(xscale="log", xlabel="rotation period (days)", ylabel="stars", title="Rotation periods")
    periods.legend(fontsize="small")

    amplitude_bins = np.geomspace(1e-5, 1e-1, 40)
    for name, values in (("stress", stress), ("physical", physical)):
        rotation_amplitudes.hist(values["rotation_amplitude"], bins=amplitude_bins, histtype="step",
                                 color=colours[name], label=name, gid=name)
    rotation_amplitudes.set(xscale="log", xlabel="spot semi-amplitude (relative flux)", ylabel="stars",
                            title="Rotation amplitudes")
    rotation_amplitudes.legend(fontsize="small")
    figure.suptitle(f"Synthetic populations ({n_stars} draws each): physical (default) and stress")
    return figure
