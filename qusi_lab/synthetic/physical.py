"""The physical population: heartbeat stars, rotators and red noise as the TESS and Kepler catalogues show them.

:func:`~qusi_lab.synthetic.make_sector` draws its stars from one of two populations
(:data:`POPULATIONS`): ``"physical"`` (the default, this module) or ``"stress"`` (the population of
qusi_lab 0.1: heartbeat periods log-uniform 1.5-12 d with eccentricities 0.3-0.8 whatever the period,
40 % sinusoidal and 35 % quasi-periodic variables; kept byte-identical as a hard, partly unphysical sky).
Planets, eclipsing binaries and flare rates are drawn alike in both; what differs:

**Heartbeat stars** (:func:`draw_heartbeat_system`): eccentric binaries with an A/F main-sequence primary,

* periods log-normal, median 16 d and 0.3 dex wide, truncated to 2.5-100 d (:data:`HEARTBEAT_PERIOD_RANGE`):
  most systems above 12 d, as in the Kepler heartbeat catalogues (Kirk et al. 2016, AJ 151, 68;
  Shporer et al. 2016, ApJ 829, 34: P = 7-90 d; Li et al. 2023, ApJS 266, 28), reaching down to the
  ~2.7-20 d systems that TESS sectors find (Kołaczek-Szymański et al. 2021, A&A 647, A12);
* eccentricity uniform from 0.1 up to the tidal-circularisation envelope :func:`eccentricity_envelope`,
  ``e_max(P) = 1 - (P_c / P)^(2/3)`` with ``P_c = 2`` d: the locus of constant periastron distance, inside
  which tides have circularised the orbit (the upper envelope of the e-P diagram of heartbeat stars,
  Shporer et al. 2016, fig. 8; of binaries generally, Mazeh 2008, EAS 29, 1);
* primary mass uniform 1.3-2.5 Msun (A/F dwarfs, the bulk of the Kepler heartbeat stars: Thompson et al.
  2012, ApJ 753, 86; Shporer et al. 2016), mass ratio uniform 0.2-1 (close binaries of intermediate-mass
  stars have a flat q distribution: Moe & Di Stefano 2017, ApJS 230, 15), radii from the main-sequence
  mass-radius relation of Demircan & Kahraman (1991, Ap&SS 181, 313; :func:`main_sequence_radius`) times
  0.85-1.25 for the spread of ages on the main sequence, luminosities ``L ~ M^4`` (same source);
* inclination isotropic (``cos i`` uniform), argument of periastron uniform;
* systems where either star overflows its Roche lobe at periastron are rejected: Eggleton's (1983,
  ApJ 268, 368) lobe radius (:func:`roche_lobe_fraction`) times the periastron distance ``a (1 - e)``;
* the amplitude follows the orbit: the equilibrium tide of Kumar, Ao & Quataert (1995, ApJ 449, 294),
  the ellipsoidal amplitude of Morris (1985, ApJ 295, 143) ``alpha q (R1 / r)^3`` with
  ``alpha = 0.15 (15 + u)(1 + tau) / (3 - u)`` (u limb darkening, tau gravity darkening), evaluated on
  the eccentric orbit with the shape of Thompson et al. (2012, eq. 1) and summed over both stars,
  weighted by their light (:func:`tidal_amplitude`);
* eclipses where the geometry makes them (the companion's sky-projected distance at conjunction is less
  than the sum of the radii): with isotropic inclinations they happen almost only at short period,
  as in the TESS heartbeat samples, several of which eclipse (Kołaczek-Szymański et al. 2021;
  Li et al. 2024);
* tidally excited oscillations (exact harmonics of the orbital frequency; Fuller & Lai 2012, MNRAS 420,
  3126; KOI-54, Welsh et al. 2011, ApJS 197, 4) in :data:`TIDALLY_EXCITED_FRACTION` of the systems, an
  assumed fraction (they are seen in a minority of the Kepler heartbeat stars).

**Rotators** (:func:`draw_rotation`): :data:`ROTATOR_FRACTION` (10 %) of the stars show spot modulation,
as SpinSpotter found rotation in 13,504 of ~130,000 main-sequence 2-minute TESS targets (Holcomb et al.
2022, ApJ 936, 138), with periods 0.4-14 d. The period density (:data:`ROTATION_PERIOD_BINS`) has the dip
at 1.5-2 d of Fetherolf et al. (2023, ApJS 268, 4) and puts :data:`FAST_ROTATOR_FRACTION` of the
rotators below 3 d (our reading of the fast M-dwarf population of Holcomb et al. 2022; an assumption,
not a quoted number). Amplitudes are log-normal, larger at short period (Fetherolf et al. 2023; McQuillan
et al. 2014, ApJS 211, 24): median ``3 ppt (P / 1 d)^-0.6``, 0.35 dex scatter. Spots have harmonics,
finite lifetimes (2-10 rotations) and, in half of the stars, a second group rotating 0.5-10 % slower
(differential rotation; Reinhold et al. 2013, A&A 560, A4): see
:func:`qusi_lab.signals.starspot_variability`. Flare stars always rotate, fast (0.2-10 d, 1-20 ppt): the
flaring M dwarfs TESS sees are the rapidly rotating ones (Günther et al. 2020, AJ 159, 60; Medina et al.
2020, ApJ 905, 107).

**Red noise** (:func:`draw_red_noise`): a spread of colours instead of one: power spectra
``1 / (1 + (f / f0)^slope)`` with slopes 1-3 (a damped random walk is slope 2) and timescales
0.05-2 d, amplitude 5-100 % of the 1-hour white noise, so that no single noise recipe is learnt.
The truth table's SNR (:func:`~qusi_lab.synthetic.matched_filter_snr`) still models the red noise as a
damped random walk of the same amplitude and timescale: exact for slope 2, an approximation otherwise
(a flatter spectrum has more power on the hours of a periastron passage than the SNR assumes).

**Heartbeat SNR**: the sector's ``snr_range`` still bounds a labelled heartbeat star, but its amplitude is
never rescaled: the star's magnitude is chosen so that the physical signal reaches a target SNR drawn
log-uniformly in ``snr_range`` (T = 5.5-16), and the orbit is redrawn (deterministically from the seed)
when no magnitude can (see :func:`qusi_lab.synthetic._heartbeats._settle_heartbeat`). So the labelled
heartbeat stars are those a survey could label; their orbits are slightly biased, against this module's
draws, towards the short periods whose tides are strong.

Example
-------
>>> round(eccentricity_envelope(10.0), 3)
0.658
>>> system = draw_heartbeat_system(np.random.default_rng(1))
>>> system["eccentricity"] <= eccentricity_envelope(system["period"])
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_POPULATION",
    "FAST_ROTATOR_FRACTION",
    "HEARTBEAT_PERIOD_RANGE",
    "POPULATIONS",
    "ROTATION_PERIOD_BINS",
    "ROTATOR_FRACTION",
    "TIDALLY_EXCITED_FRACTION",
    "check_population",
    "draw_heartbeat_system",
    "draw_red_noise",
    "draw_rotation",
    "eccentricity_envelope",
    "main_sequence_radius",
    "roche_lobe_fraction",
    "tidal_amplitude",
]

#: The populations :func:`~qusi_lab.synthetic.make_sector` can draw from; the first is the default.
POPULATIONS: tuple[str, ...] = ("physical", "stress")
DEFAULT_POPULATION = "physical"

#: Heartbeat orbital periods drawn (days).
HEARTBEAT_PERIOD_RANGE: tuple[float, float] = (2.5, 100.0)
_HEARTBEAT_LOG10_PERIOD_MEDIAN = math.log10(16.0)
_HEARTBEAT_LOG10_PERIOD_WIDTH = 0.3
#: Period (days) of the circularisation envelope: e_max(P) = 1 - (P_c / P)^(2/3).
CIRCULARISATION_PERIOD = 2.0
_MINIMUM_ECCENTRICITY = 0.1
_MAXIMUM_ECCENTRICITY = 0.9
#: Fraction of heartbeat systems given tidally excited oscillations (assumed).
TIDALLY_EXCITED_FRACTION = 0.2

#: Fraction of (non-flare) stars with detectable spot modulation (Holcomb et al. 2022: 13,504 / ~130,000).
ROTATOR_FRACTION = 0.10
#: Rotation-period density: (low, high, probability) bins in days, log-uniform inside a bin. The 1.5-2 d
#: bin is the dip of Fetherolf et al. (2023).
ROTATION_PERIOD_BINS: tuple[tuple[float, float, float], ...] = (
    (0.4, 0.8, 0.08),
    (0.8, 1.5, 0.12),
    (1.5, 2.0, 0.03),
    (2.0, 3.0, 0.12),
    (3.0, 5.0, 0.20),
    (5.0, 8.0, 0.25),
    (8.0, 14.0, 0.20),
)
#: Fraction of rotators with P < 3 d (the sum of the bins below 3 d).
FAST_ROTATOR_FRACTION = round(sum(p for low, high, p in ROTATION_PERIOD_BINS if high <= 3.0), 6)

_SOLAR_RADIUS_CM = 6.957e10
_SOLAR_MASS_G = 1.989e33
_GRAVITATIONAL_CONSTANT_CGS = 6.674e-8


def check_population(population: str) -> str:
    """``population`` if it is one of :data:`POPULATIONS`, else a ``ValueError`` naming the choices.

    Example
    -------
    >>> check_population("stress")
    'stress'
    """
    if population not in POPULATIONS:
        raise ValueError(f"unknown population {population!r}; choose one of {POPULATIONS}")
    return population


def eccentricity_envelope(period: float | np.ndarray) -> Any:
    """Upper envelope of heartbeat eccentricities at orbital ``period`` (days): tidal circularisation.

    ``e_max = 1 - (P_c / P)^(2/3)`` with ``P_c`` = :data:`CIRCULARISATION_PERIOD`: orbits whose
    periastron distance ``a (1 - e)`` is below that of a circular ``P_c`` orbit have been circularised
    (Shporer et al. 2016, ApJ 829, 34, fig. 8; Mazeh 2008). Clipped to [0, 0.9].

    Example
    -------
    >>> [round(float(eccentricity_envelope(p)), 2) for p in (3.0, 10.0, 50.0)]
    [0.24, 0.66, 0.88]
    """
    ratio = CIRCULARISATION_PERIOD / np.asarray(period, dtype=np.float64)
    result = np.clip(1.0 - np.minimum(ratio, 1.0) ** (2.0 / 3.0), 0.0, _MAXIMUM_ECCENTRICITY)
    return float(result) if np.ndim(result) == 0 else result


def main_sequence_radius(mass: float | np.ndarray) -> Any:
    """Main-sequence radius (Rsun) of a star of ``mass`` (Msun): Demircan & Kahraman (1991, Ap&SS 181, 313).

    ``R = 1.06 M^0.945`` below 1.66 Msun and ``R = 1.33 M^0.555`` above.

    Example
    -------
    >>> round(main_sequence_radius(1.0), 2), round(main_sequence_radius(2.0), 2)
    (1.06, 1.95)
    """
    mass = np.asarray(mass, dtype=np.float64)
    result = np.where(mass < 1.66, 1.06 * mass**0.945, 1.33 * mass**0.555)
    return float(result) if np.ndim(result) == 0 else result


def roche_lobe_fraction(mass_ratio: float) -> float:
    """Roche-lobe radius over the separation for a star of mass ``M1`` with companion ``M2``, ``q = M1 / M2``.

    Eggleton (1983, ApJ 268, 368): ``r_L / a = 0.49 q^(2/3) / (0.6 q^(2/3) + ln(1 + q^(1/3)))``.
    For an eccentric orbit the check uses the periastron distance ``a (1 - e)`` as the separation.

    Example
    -------
    >>> round(roche_lobe_fraction(1.0), 3)
    0.379
    """
    q23 = mass_ratio ** (2.0 / 3.0)
    return float(0.49 * q23 / (0.6 * q23 + math.log(1.0 + mass_ratio ** (1.0 / 3.0))))


def _semi_major_axis_rsun(period: float, total_mass: float) -> float:
    """Kepler's third law: the semi-major axis (Rsun) of a binary of ``total_mass`` (Msun), ``period`` (days)."""
    seconds = period * 86400.0
    cube = _GRAVITATIONAL_CONSTANT_CGS * total_mass * _SOLAR_MASS_G * seconds**2 / (4.0 * math.pi**2)
    return float(cube ** (1.0 / 3.0) / _SOLAR_RADIUS_CM)


def tidal_amplitude(system: Mapping[str, Any]) -> float:
    """Peak-to-peak relative amplitude of the equilibrium tide of a heartbeat ``system`` over one orbit.

    Each star ``k`` is stretched by its companion; its ellipsoidal flux change at separation ``r`` is
    ``alpha_k q_k (R_k / r)^3`` (Morris 1985, ApJ 295, 143; the equilibrium tide of Kumar et al. 1995),
    ``q_k`` the companion's mass over its own and ``alpha = 0.15 (15 + u)(1 + tau) / (3 - u)``. On the
    eccentric orbit both follow the shape ``[1 - 3 sin^2 i sin^2(phi - omega)] / (r / a)^3`` of
    Thompson et al. (2012, eq. 1); ``S = (2/3) alpha q (R / a)^3`` makes it the Morris amplitude on a
    circular orbit. The stars add in proportion to their light.

    Example
    -------
    >>> system = {"eccentricity": 0.0, "inclination": 90.0, "argument_of_periastron": 0.0,
    ...           "mass_ratio": 1.0, "radius_1": 2.0, "radius_2": 0.0, "semi_major_axis": 20.0,
    ...           "light_fraction_1": 1.0, "alpha": 1.5}
    >>> round(tidal_amplitude(system) / (2 * 1.5 * (2.0 / 20.0) ** 3), 6)   # circular: 2 alpha q (R/a)^3
    1.0
    """
    from qusi_lab.signals.heartbeat import heartbeat_normalization

    _, peak_to_peak = heartbeat_normalization(
        float(system["eccentricity"]), float(system["inclination"]), float(system["argument_of_periastron"])
    )
    q = float(system["mass_ratio"])
    a = float(system["semi_major_axis"])
    light_1 = float(system["light_fraction_1"])
    strength = q * (float(system["radius_1"]) / a) ** 3 * light_1
    if q > 0 and float(system["radius_2"]) > 0:
        strength += (1.0 / q) * (float(system["radius_2"]) / a) ** 3 * (1.0 - light_1)
    return float(2.0 / 3.0 * float(system["alpha"]) * strength * peak_to_peak)


def _circle_overlap_fraction(eclipsed: float, eclipsing: float, distance: float) -> float:
    """Fraction of the disc of radius ``eclipsed`` covered by a disc of radius ``eclipsing`` at ``distance``."""
    if distance >= eclipsed + eclipsing:
        return 0.0
    if distance <= abs(eclipsed - eclipsing):
        return min(1.0, (eclipsing / eclipsed) ** 2)
    r1, r2, d = eclipsed, eclipsing, distance
    part1 = r1**2 * math.acos((d**2 + r1**2 - r2**2) / (2 * d * r1))
    part2 = r2**2 * math.acos((d**2 + r2**2 - r1**2) / (2 * d * r2))
    part3 = 0.5 * math.sqrt(max(0.0, (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2)))
    return float((part1 + part2 - part3) / (math.pi * r1**2))


def _eclipses(system: Mapping[str, Any]) -> dict[str, Any] | None:
    """Eclipse depths and duration of a heartbeat system, or None when the geometry gives no primary eclipse.

    The companion passes in front of the primary at true anomaly ``90 deg - omega`` (the convention of
    :mod:`qusi_lab.signals.orbits`), behind it at ``270 deg - omega``; each conjunction eclipses when the
    sky-projected separation ``r cos i`` is below ``R1 + R2``. Depths are the covered fraction of the
    eclipsed disc times its share of the light (uniform discs; the profile adds limb darkening).
    """
    from qusi_lab.signals.orbits import transit_duration

    e, omega = float(system["eccentricity"]), math.radians(float(system["argument_of_periastron"]))
    a, cos_i = float(system["semi_major_axis"]), abs(math.cos(math.radians(float(system["inclination"]))))
    r1, r2, light_1 = float(system["radius_1"]), float(system["radius_2"]), float(system["light_fraction_1"])
    separations = [a * (1 - e**2) / (1 + e * math.cos(anomaly)) for anomaly in (math.pi / 2 - omega, 3 * math.pi / 2 - omega)]
    primary = _circle_overlap_fraction(r1, r2, separations[0] * cos_i) * light_1
    secondary = _circle_overlap_fraction(r2, r1, separations[1] * cos_i) * (1.0 - light_1)
    if primary <= 1e-5:
        return None
    duration = transit_duration(
        float(system["period"]), a / r1, r2 / r1, float(system["inclination"]), e, float(system["argument_of_periastron"])
    )
    period = float(system["period"])
    secondary_duration = duration * (1 + e * math.sin(omega)) / (1 - e * math.sin(omega))
    if not (0 < duration < 0.45 * period and secondary_duration < 0.45 * period):
        return None
    return {
        "primary_depth": round(min(primary, 0.95), 8),
        "secondary_depth": round(min(secondary, 0.95), 8) if secondary > 1e-5 else 0.0,
        "duration": duration,
        "radius_ratio": float(np.clip(r2 / r1, 0.05, 0.9)),
    }


def draw_heartbeat_system(rng: np.random.Generator, *, max_attempts: int = 200) -> dict[str, Any]:
    """One heartbeat binary of the physical population (see the module docstring for every distribution).

    Draws until the system passes the periastron Roche-lobe check of both stars (Eggleton 1983).
    Returns the orbit (``period``, ``eccentricity``, ``inclination``, ``argument_of_periastron``,
    ``phase``), the stars (``mass_1``, ``mass_2``, ``radius_1``, ``radius_2`` in solar units,
    ``mass_ratio = M2 / M1``, ``light_fraction_1``), ``semi_major_axis`` (Rsun), ``alpha`` (Morris 1985),
    ``amplitude`` (peak-to-peak, :func:`tidal_amplitude`), ``eclipse`` (depths and duration, or None) and
    ``tidally_excited`` (``[(harmonic, relative amplitude, phase)]``, usually empty).

    Example
    -------
    >>> system = draw_heartbeat_system(np.random.default_rng(0))
    >>> 2.5 <= system["period"] <= 100 and system["radius_1"] < system["roche_lobe_1"]
    True
    """
    low, high = HEARTBEAT_PERIOD_RANGE
    for _ in range(max_attempts):
        log_period = rng.normal(_HEARTBEAT_LOG10_PERIOD_MEDIAN, _HEARTBEAT_LOG10_PERIOD_WIDTH)
        period = 10.0**log_period
        envelope = eccentricity_envelope(period)
        if not (low <= period <= high) or envelope <= _MINIMUM_ECCENTRICITY + 0.02:
            continue
        eccentricity = float(rng.uniform(_MINIMUM_ECCENTRICITY, envelope))
        mass_1 = float(rng.uniform(1.3, 2.5))
        mass_ratio = float(rng.uniform(0.2, 1.0))
        mass_2 = mass_1 * mass_ratio
        radius_1 = float(main_sequence_radius(mass_1) * rng.uniform(0.85, 1.25))
        radius_2 = float(main_sequence_radius(mass_2) * rng.uniform(0.85, 1.25))
        inclination = float(np.degrees(np.arccos(rng.uniform(0.0, 1.0))))
        omega = float(rng.uniform(0.0, 360.0))
        limb, gravity = float(rng.uniform(0.35, 0.6)), float(rng.uniform(0.3, 0.6))
        phase = float(rng.uniform())
        teo_draw = float(rng.uniform())
        a = _semi_major_axis_rsun(period, mass_1 + mass_2)
        periastron = a * (1.0 - eccentricity)
        lobe_1 = roche_lobe_fraction(mass_1 / mass_2) * periastron
        lobe_2 = roche_lobe_fraction(mass_2 / mass_1) * periastron
        if radius_1 >= lobe_1 or radius_2 >= lobe_2:
            continue
        light_1 = mass_1**4 / (mass_1**4 + mass_2**4)
        system: dict[str, Any] = {
            "period": float(period),
            "eccentricity": eccentricity,
            "inclination": inclination,
            "argument_of_periastron": omega,
            "phase": phase,
            "mass_1": mass_1,
            "mass_2": mass_2,
            "mass_ratio": mass_ratio,
            "radius_1": radius_1,
            "radius_2": radius_2,
            "light_fraction_1": float(light_1),
            "semi_major_axis": a,
            "roche_lobe_1": lobe_1,
            "roche_lobe_2": lobe_2,
            "alpha": 0.15 * (15 + limb) * (1 + gravity) / (3 - limb),
        }
        system["amplitude"] = tidal_amplitude(system)
        system["eclipse"] = _eclipses(system)
        modes: list[tuple[int, float, float]] = []
        if teo_draw < TIDALLY_EXCITED_FRACTION:
            # Harmonics n of the orbital frequency with periods of 0.2 d and more; 2-20 % of the tide.
            top = max(6, min(80, int(period / 0.2)))
            for _mode in range(int(rng.integers(1, 4))):
                modes.append((int(rng.integers(5, top)), float(rng.uniform(0.02, 0.2)), float(rng.uniform(0, 2 * math.pi))))
        system["tidally_excited"] = modes
        return system
    raise RuntimeError("draw_heartbeat_system: no system passed the Roche-lobe check")  # pragma: no cover


def _draw_period_from_bins(rng: np.random.Generator) -> float:
    probabilities = np.array([p for _, _, p in ROTATION_PERIOD_BINS])
    index = int(rng.choice(len(ROTATION_PERIOD_BINS), p=probabilities / probabilities.sum()))
    low, high, _ = ROTATION_PERIOD_BINS[index]
    return float(np.exp(rng.uniform(math.log(low), math.log(high))))


def draw_rotation(rng: np.random.Generator, label: str) -> dict[str, Any] | None:
    """Spot modulation of a star of ``label`` (``None`` for a star without detectable rotation).

    :data:`ROTATOR_FRACTION` of the stars rotate visibly (Holcomb et al. 2022), flare stars always
    (fast M dwarfs: Günther et al. 2020; Medina et al. 2020). Periods from :data:`ROTATION_PERIOD_BINS`
    (the 1.5-2 d dip of Fetherolf et al. 2023), log-normal amplitudes larger at short period, harmonics,
    spot lifetimes of 2-10 rotations and, for half the stars, a second spot group 0.5-10 % slower.
    The dict replays with :func:`qusi_lab.signals.starspot_variability` (``kind`` = ``"starspots"``).

    Example
    -------
    >>> rotation = draw_rotation(np.random.default_rng(2), "flare")
    >>> rotation["kind"], 0.2 <= rotation["period"] <= 10
    ('starspots', True)
    """
    rotates = rng.uniform() < ROTATOR_FRACTION
    if label == "flare":
        period = float(np.exp(rng.uniform(math.log(0.2), math.log(10.0))))
        amplitude = float(np.exp(rng.uniform(math.log(1e-3), math.log(2e-2))))
    elif rotates:
        period = _draw_period_from_bins(rng)
        median = 3e-3 * period**-0.6
        amplitude = float(np.clip(median * 10 ** rng.normal(0.0, 0.35), 1e-4, 5e-2))
    else:
        return None
    harmonics = [(float(rng.uniform(0.05, 0.5)), float(rng.uniform(0, 2 * math.pi)))]
    if rng.uniform() < 0.5:
        harmonics.append((float(rng.uniform(0.0, 0.2)), float(rng.uniform(0, 2 * math.pi))))
    differential = rng.uniform() < 0.5
    return {
        "kind": "starspots",
        "period": period,
        "amplitude": amplitude,
        "harmonics": harmonics,
        "spot_lifetime": period * float(rng.uniform(2.0, 10.0)),
        "shear": float(rng.uniform(0.005, 0.1)) if differential else 0.0,
        "second_group_amplitude": amplitude * float(rng.uniform(0.2, 0.8)) if differential else 0.0,
        "seed": int(rng.integers(0, 2**31 - 1)),
    }


def draw_red_noise(rng: np.random.Generator, one_hour_noise: float) -> dict[str, float]:
    """Red noise of one star: amplitude 5-100 % of the 1-hour white noise (log-uniform), timescale
    0.05-2 d (log-uniform), spectral slope 1-3 (a damped random walk has 2).

    Example
    -------
    >>> noise = draw_red_noise(np.random.default_rng(0), 2e-4)
    >>> 1.0 <= noise["slope"] <= 3.0 and 1e-5 <= noise["amplitude"] <= 2e-4
    True
    """
    return {
        "amplitude": float(one_hour_noise * np.exp(rng.uniform(math.log(0.05), math.log(1.0)))),
        "timescale_days": float(np.exp(rng.uniform(math.log(0.05), math.log(2.0)))),
        "slope": float(rng.uniform(1.0, 3.0)),
    }


def coloured_noise(
    rng: np.random.Generator, n: int, amplitude: float, timescale: float, slope: float, step: float
) -> np.ndarray:
    """Stationary noise of standard deviation ``amplitude`` with power spectrum ``1 / (1 + (2 pi f timescale)^slope)``.

    Made in the Fourier domain on twice the length (so the series does not wrap around) and cut.

    Example
    -------
    >>> series = coloured_noise(np.random.default_rng(0), 20000, 1e-3, 0.5, 2.5, 2 / 1440)
    >>> 0.5e-3 < float(np.std(series)) < 1.5e-3
    True
    """
    size = 2 * n
    frequency = np.fft.rfftfreq(size, d=step)
    shape = 1.0 / np.sqrt(1.0 + (2.0 * np.pi * frequency * timescale) ** slope)
    spectrum = (rng.standard_normal(frequency.size) + 1j * rng.standard_normal(frequency.size)) * shape
    spectrum[0] = 0.0
    series = np.fft.irfft(spectrum, n=size)[:n]
    # Expected variance of the series: Parseval over the two-sided spectrum.
    variance = (2.0 * np.sum(shape[1:] ** 2) * 2.0) / size**2
    return np.asarray(series * (amplitude / math.sqrt(variance)))
