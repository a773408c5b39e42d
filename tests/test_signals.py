"""Physics of the signal models in qusi_lab.signals."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest

from qusi_lab.signals import (
    SIGNAL_KINDS,
    a_over_rstar_from_density,
    eclipsing_binary,
    flare,
    heartbeat,
    impact_parameter,
    quasi_periodic_variability,
    random_parameters,
    secondary_eclipse_phase,
    signal,
    sinusoidal_variability,
    solve_kepler,
    stellar_density_from_a_over_rstar,
    transit,
    transit_duration,
)
from qusi_lab.signals.flare import DAVENPORT2014_DECAY, DAVENPORT2014_RISE, template_properties
from qusi_lab.signals.orbits import orbital_position

MINUTE = 1.0 / 1440.0


def contact_span(time: np.ndarray, flux: np.ndarray, level: float = 1.0, tolerance: float = 1e-12) -> float:
    """Time between the first and last sample that departs from ``level``."""
    inside = time[np.abs(flux - level) > tolerance]
    return float(inside[-1] - inside[0])


def half_maximum_width(time: np.ndarray, excess: np.ndarray) -> float:
    """Full width at half maximum of a single-peaked ``excess``, interpolating the two crossings."""
    peak = int(np.argmax(excess))
    half = 0.5 * excess[peak]
    before = np.nonzero(excess[:peak] < half)[0][-1]
    after = peak + np.nonzero(excess[peak:] < half)[0][0]
    rise = np.interp(half, excess[before : before + 2], time[before : before + 2])
    fall = np.interp(half, excess[after - 1 : after + 1][::-1], time[after - 1 : after + 1][::-1])
    return float(fall - rise)


def periodogram_period(time: np.ndarray, flux: np.ndarray) -> float:
    from astropy.timeseries import LombScargle

    frequency, power = LombScargle(time, flux).autopower(
        minimum_frequency=0.02, maximum_frequency=5.0, samples_per_peak=50
    )
    return float(1.0 / frequency[np.argmax(power)])


# --------------------------------------------------------------------------- orbits


@pytest.mark.parametrize("eccentricity", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_kepler_solver_satisfies_keplers_equation(eccentricity):
    mean = np.linspace(-20.0, 20.0, 20001)
    eccentric = solve_kepler(mean, eccentricity)
    assert np.max(np.abs(eccentric - eccentricity * np.sin(eccentric) - mean)) < 1e-10
    assert np.all(np.diff(eccentric) > 0)  # E grows with M


def test_secondary_eclipse_phase_matches_the_orbit():
    assert secondary_eclipse_phase(0.0, 37.0) == pytest.approx(0.5, abs=1e-12)
    assert secondary_eclipse_phase(0.6, 90.0) == pytest.approx(0.5, abs=1e-12)
    # First-order expansion (Winn 2010, eq. 33) at small eccentricity.
    assert secondary_eclipse_phase(0.01, 20.0) == pytest.approx(
        0.5 + 2 / np.pi * 0.01 * np.cos(np.radians(20)), abs=1e-4
    )
    # Exact: time the conjunctions (true anomaly 90 - w and 270 - w) on the forward-integrated orbit.
    eccentricity, omega = 0.4, 30.0
    time = np.linspace(0.0, 1.0, 2_000_001)
    true, _ = orbital_position(time, period=1.0, epoch_periastron=0.0, eccentricity=eccentricity)
    true = np.mod(true, 2 * np.pi)

    def crossing(angle_degrees: float) -> float:
        return float(time[np.argmin(np.abs(np.angle(np.exp(1j * (true - np.radians(angle_degrees))))))])

    measured = np.mod(crossing(270.0 - omega) - crossing(90.0 - omega), 1.0)
    assert secondary_eclipse_phase(eccentricity, omega) == pytest.approx(measured, abs=2e-6)


def test_kepler_third_law_scaling():
    assert a_over_rstar_from_density(365.25, 1.41) == pytest.approx(215.0, rel=0.01)  # Earth-Sun
    assert stellar_density_from_a_over_rstar(3.0, a_over_rstar_from_density(3.0, 2.2)) == pytest.approx(2.2)


# --------------------------------------------------------------------------- transit


def test_transit_depth_and_baseline():
    time = np.linspace(-0.5, 0.5, 10001)
    uniform = transit(
        time,
        period=5.0,
        epoch=0.0,
        radius_ratio=0.1,
        a_over_rstar=12.0,
        limb_darkening=(),
        limb_darkening_law="uniform",
    )
    assert 1.0 - uniform.min() == pytest.approx(0.01, rel=1e-6)  # uniform disc: depth = k^2
    u1, u2 = 0.4, 0.25
    darkened = transit(
        time, period=5.0, epoch=0.0, radius_ratio=0.1, a_over_rstar=12.0, limb_darkening=(u1, u2)
    )
    # Small-planet limit: depth = k^2 I(centre) / <I> = k^2 / (1 - u1/3 - u2/6).
    assert 1.0 - darkened[5000] == pytest.approx(0.01 / (1 - u1 / 3 - u2 / 6), rel=0.02)
    out_of_transit = np.abs(time) > 0.2
    assert np.all(darkened[out_of_transit] == 1.0)


@pytest.mark.parametrize(
    ("inclination", "eccentricity", "omega", "tolerance"),
    [(90.0, 0.0, 90.0, 0.002), (88.0, 0.0, 90.0, 0.002), (89.0, 0.3, 40.0, 0.03), (89.5, 0.5, 250.0, 0.03)],
)
def test_transit_duration_matches_analytic_t14(inclination, eccentricity, omega, tolerance):
    parameters: dict[str, Any] = dict(
        period=4.0,
        epoch=0.0,
        radius_ratio=0.08,
        a_over_rstar=11.0,
        inclination=inclination,
        eccentricity=eccentricity,
        argument_of_periastron=omega,
    )
    time = np.linspace(-0.4, 0.4, 400_001)
    measured = contact_span(time, transit(time, **parameters))
    expected = transit_duration(4.0, 11.0, 0.08, inclination, eccentricity, omega)
    assert measured == pytest.approx(expected, rel=tolerance)


def test_transit_equals_batman_on_every_cadence():
    """Computing only near transits (for speed) must not cut any part of them, even for eccentric orbits."""
    import batman

    time = np.linspace(0.0, 30.0, 60_000)
    params = batman.TransitParams()
    for inclination, eccentricity, omega in [(90.0, 0.0, 90.0), (87.0, 0.6, 250.0), (88.7, 0.8, 10.0)]:
        params.t0, params.per, params.rp, params.a = 1.3, 2.7, 0.12, 9.0
        params.inc, params.ecc, params.w = inclination, eccentricity, omega
        params.limb_dark, params.u = "quadratic", [0.4, 0.25]
        reference = batman.TransitModel(params, time).light_curve(params)
        ours = transit(
            time,
            period=2.7,
            epoch=1.3,
            radius_ratio=0.12,
            a_over_rstar=9.0,
            inclination=inclination,
            eccentricity=eccentricity,
            argument_of_periastron=omega,
        )
        assert reference.min() < 0.995  # it transits
        np.testing.assert_array_equal(ours, reference)


def test_long_cadence_transit_is_the_exposure_average():
    parameters: dict[str, Any] = dict(
        period=3.0, epoch=1.0, radius_ratio=0.1, a_over_rstar=8.0, inclination=88.0
    )
    exposure = 29.4 * MINUTE
    time = np.linspace(0.8, 1.2, 4001)
    instantaneous = transit(time, **parameters)
    integrated = transit(time, exposure_time=exposure, **parameters)
    assert integrated.min() > instantaneous.min()  # shallower
    # Wider: first to last contact grows by one exposure (less one of the 15 sub-exposures).
    widening = contact_span(time, integrated) - contact_span(time, instantaneous)
    assert widening == pytest.approx(exposure * 14 / 15, abs=2 * (time[1] - time[0]))
    # Equal to the average of the unbinned model over each exposure.
    offsets = (np.arange(401) + 0.5) / 401 * exposure - exposure / 2
    average = transit((time[:, None] + offsets).ravel(), **parameters).reshape(-1, 401).mean(axis=1)
    np.testing.assert_allclose(integrated, average, atol=1e-5, rtol=0)
    # Short cadence (2 min) is not integrated.
    np.testing.assert_array_equal(transit(time, exposure_time=2 * MINUTE, **parameters), instantaneous)


def test_transit_rejects_wrong_limb_darkening():
    with pytest.raises(ValueError, match="quadratic law takes 2"):
        transit(np.zeros(3), period=1.0, epoch=0.0, radius_ratio=0.1, a_over_rstar=5.0, limb_darkening=(0.3,))
    with pytest.raises(ValueError, match="limb_darkening_law"):
        transit(
            np.zeros(3), period=1.0, epoch=0.0, radius_ratio=0.1, a_over_rstar=5.0, limb_darkening_law="cubic"
        )


# --------------------------------------------------------------------------- heartbeat

HEARTBEAT: dict[str, Any] = dict(
    period=8.0,
    epoch_periastron=2.0,
    eccentricity=0.6,
    inclination=60.0,
    argument_of_periastron=40.0,
    amplitude=2e-3,
)


def test_heartbeat_is_periodic():
    time = np.linspace(0.0, 8.0, 5001)
    np.testing.assert_allclose(
        heartbeat(time, **HEARTBEAT), heartbeat(time + 3 * 8.0, **HEARTBEAT), atol=1e-12
    )


@pytest.mark.parametrize("eccentricity", [0.2, 0.5, 0.8])
def test_heartbeat_peak_to_peak_is_the_amplitude_and_baseline_is_one(eccentricity):
    parameters = {**HEARTBEAT, "eccentricity": eccentricity}
    time = np.linspace(2.0, 10.0, 400_000, endpoint=False)  # one orbit, uniform in time
    flux = heartbeat(time, **parameters)
    assert flux.max() - flux.min() == pytest.approx(2e-3, rel=1e-4)
    assert np.median(flux) == pytest.approx(1.0, abs=1e-3 * 2e-3)


def test_heartbeat_main_feature_flips_sign_with_inclination():
    """Thompson et al. (2012) fig. 7: face-on orbits brighten at periastron, edge-on ones (omega = 90) dim."""
    time = np.linspace(0.0, 8.0, 8001)
    periastron = np.argmin(np.abs(time - 2.0))
    face_on = heartbeat(time, **{**HEARTBEAT, "inclination": 0.0, "argument_of_periastron": 90.0})
    edge_on = heartbeat(time, **{**HEARTBEAT, "inclination": 90.0, "argument_of_periastron": 90.0})
    assert np.argmax(face_on) == periastron and face_on[periastron] - np.median(face_on) > 0.5 * 2e-3
    assert np.argmin(edge_on) == periastron and edge_on[periastron] - np.median(edge_on) < -0.5 * 2e-3
    # The shape (not just the sign) depends on the viewing angle.
    assert np.max(np.abs(face_on - (2 - edge_on))) > 1e-4


def test_heartbeat_becomes_ellipsoidal_sinusoid_as_eccentricity_vanishes():
    time = np.linspace(0.0, 16.0, 4001)
    flux = heartbeat(time, **{**HEARTBEAT, "eccentricity": 1e-6, "inclination": 70.0})
    angle = 2 * np.pi * 2 * (time - 2.0) / 8.0  # twice the orbital frequency
    design = np.column_stack([np.ones_like(time), np.cos(angle), np.sin(angle)])
    coefficients, *_ = np.linalg.lstsq(design, flux, rcond=None)
    assert np.std(flux - design @ coefficients) < 1e-5 * 2e-3
    assert np.hypot(*coefficients[1:]) == pytest.approx(
        1e-3, rel=1e-3
    )  # semi-amplitude = half of peak-to-peak


def test_heartbeat_without_modulation_is_flat():
    flux = heartbeat(np.linspace(0, 10, 100), **{**HEARTBEAT, "eccentricity": 0.0, "inclination": 0.0})
    np.testing.assert_array_equal(flux, 1.0)


# --------------------------------------------------------------------------- eclipsing binaries

BINARY: dict[str, Any] = dict(period=2.5, epoch=0.3, primary_depth=0.35, secondary_depth=0.12, duration=0.2)


def test_eclipse_depths_and_duration():
    time = np.linspace(0.3 - 0.5, 0.3 + 2.0, 250_001)
    flux = eclipsing_binary(time, **BINARY)
    primary = np.abs(time - 0.3) < 0.5
    assert flux[primary].min() == pytest.approx(1 - 0.35, abs=1e-12)
    assert eclipsing_binary(np.array([0.3, 0.3 + 1.25]), **BINARY) == pytest.approx([0.65, 0.88], abs=1e-12)
    assert contact_span(time[primary], flux[primary]) == pytest.approx(0.2, rel=1e-3)
    assert np.all(flux[np.abs(time - 0.3) > 0.11][:10] == 1.0)
    assert flux.max() == 1.0


def test_deep_eclipse():
    flux = eclipsing_binary(np.linspace(-0.1, 0.1, 2001), **{**BINARY, "epoch": 0.0, "primary_depth": 0.8})
    assert flux.min() == pytest.approx(0.2, abs=1e-12)


def secondary_minimum_phase(**parameters: Any) -> float:
    time = np.linspace(0.0, 2.5, 500_001)
    flux = eclipsing_binary(time, **{**BINARY, "epoch": 0.0, **parameters})
    away_from_primary = (time > 0.3) & (time < 2.2)
    return float(time[away_from_primary][np.argmin(flux[away_from_primary])] / 2.5)


def test_secondary_eclipse_at_half_phase_when_circular_and_shifted_when_eccentric():
    assert secondary_minimum_phase() == pytest.approx(0.5, abs=1e-5)
    shifted = secondary_minimum_phase(eccentricity=0.2, argument_of_periastron=0.0)
    assert shifted == pytest.approx(secondary_eclipse_phase(0.2, 0.0), abs=1e-5)
    assert shifted - 0.5 == pytest.approx(2 / np.pi * 0.2, rel=0.05)  # e cos w shift, first order
    assert secondary_minimum_phase(secondary_phase=0.41) == pytest.approx(0.41, abs=1e-5)


def test_eccentric_secondary_eclipse_duration():
    eccentricity, omega = 0.3, 60.0
    time = np.linspace(0.0, 2.5, 500_001)
    flux = eclipsing_binary(
        time,
        **{
            **BINARY,
            "epoch": 0.0,
            "eccentricity": eccentricity,
            "argument_of_periastron": omega,
            "primary_depth": 0.3,
        },
    )
    center = secondary_eclipse_phase(eccentricity, omega) * 2.5
    window = np.abs(time - center) < 0.6
    sine = eccentricity * np.sin(np.radians(omega))
    assert contact_span(time[window], flux[window]) == pytest.approx(0.2 * (1 + sine) / (1 - sine), rel=1e-3)


def test_ellipsoidal_and_reflection_terms():
    parameters = {
        **BINARY,
        "epoch": 0.0,
        "primary_depth": 0.0,
        "secondary_depth": 0.0,
        "ellipsoidal_amplitude": 0.01,
        "reflection_amplitude": 0.002,
    }
    phases = np.array([0.0, 0.25, 0.5])
    flux = eclipsing_binary(phases * 2.5, **parameters)
    np.testing.assert_allclose(flux, [1 - 0.01 - 0.002, 1 + 0.01, 1 - 0.01 + 0.002], atol=1e-12)


def test_eclipsing_binary_rejects_overlong_eclipses():
    with pytest.raises(ValueError, match="half the period"):
        eclipsing_binary(np.zeros(2), **{**BINARY, "duration": 1.5})


# --------------------------------------------------------------------------- flares


@pytest.mark.parametrize("model", ["davenport2014", "mendoza2022"])
def test_flare_peak_and_fwhm(model):
    fwhm = 20 * MINUTE
    time = np.linspace(9.5, 11.0, 300_001)
    flux = flare(time, peak_time=10.0, fwhm=fwhm, amplitude=0.2, model=model)
    assert flare(np.array([10.0]), peak_time=10.0, fwhm=fwhm, amplitude=0.2, model=model)[0] == pytest.approx(
        1.2, abs=1e-12
    )
    assert flux.max() <= 1.2 + 1e-12
    assert time[np.argmax(flux)] == pytest.approx(10.0, abs=2 * (time[1] - time[0]))
    assert half_maximum_width(time, flux - 1.0) == pytest.approx(fwhm, rel=1e-3)
    after = time > 10.0 + 1e-9
    assert np.all(np.diff(flux[after]) <= 0)  # monotonic decay
    assert abs(flux[-1] - 1.0) < 1e-3 * 0.2  # back to quiescence


def test_davenport_flare_starts_one_t_half_before_peak():
    fwhm = 30 * MINUTE
    t_half = fwhm / template_properties("davenport2014")[2]
    time = np.linspace(9.0, 10.0, 100_001)
    flux = flare(time, peak_time=10.0, fwhm=fwhm, amplitude=0.1)
    assert np.all(flux[time < 10.0 - t_half] == 1.0)
    assert np.all(flux[(time > 10.0 - t_half + 1e-6) & (time <= 10.0)] > 1.0)


def test_flare_coefficients_are_the_published_ones():
    # Davenport et al. (2014) eqs. 1 and 4 as printed (rounded).
    assert np.round(DAVENPORT2014_RISE, 3).tolist() == [1.0, 1.941, -0.175, -2.246, -1.125]
    assert np.round(DAVENPORT2014_DECAY, 4).tolist() == [0.6890, -1.6005, 0.3030, -0.2783]
    peak_x, peak_value, width = template_properties("mendoza2022")
    assert (
        abs(peak_x) < 0.01
        and peak_value == pytest.approx(0.950, abs=1e-3)
        and width == pytest.approx(1.087, abs=1e-3)
    )


def test_mendoza_flare_is_finite_far_from_the_peak():
    time = np.array([-1e4, -100.0, -1.0, 1.0, 100.0, 1e4])
    flux = flare(time, peak_time=0.0, fwhm=0.01, amplitude=0.3, model="mendoza2022")
    np.testing.assert_allclose(flux, 1.0, atol=1e-12)


@pytest.mark.parametrize("model", ["davenport2014", "mendoza2022"])
def test_flare_exposure_integration_conserves_energy(model):
    exposure = 30 * MINUTE
    fwhm = 6 * MINUTE
    long_cadence = np.arange(9.0, 12.0, exposure) + 0.37 * exposure
    integrated = flare(
        long_cadence, peak_time=10.0, fwhm=fwhm, amplitude=0.3, model=model, exposure_time=exposure
    )
    fine = np.arange(9.0, 12.0, 0.01 * MINUTE)
    instantaneous = flare(fine, peak_time=10.0, fwhm=fwhm, amplitude=0.3, model=model)
    assert integrated.max() < 1.0 + 0.3 * 0.5  # a 6-min flare is smeared by a 30-min exposure
    equivalent_duration = np.sum(instantaneous - 1.0) * (fine[1] - fine[0])
    assert np.sum(integrated - 1.0) * exposure == pytest.approx(equivalent_duration, rel=2e-3)


# --------------------------------------------------------------------------- variability


def test_sinusoidal_period_and_harmonic_recovered():
    time = np.arange(0.0, 27.0, 10 * MINUTE)
    flux = sinusoidal_variability(time, period=3.7, amplitude=0.004, phase=1.0, harmonics=[[0.3, 2.0]])
    assert periodogram_period(time, flux) == pytest.approx(3.7, rel=0.01)
    angle = 2 * np.pi * time / 3.7
    design = np.column_stack(
        [np.ones_like(time)] + [f(n * angle) for n in (1, 2, 3) for f in (np.sin, np.cos)]
    )
    coefficients, *_ = np.linalg.lstsq(design, flux, rcond=None)
    amplitudes = np.hypot(coefficients[1::2], coefficients[2::2])
    np.testing.assert_allclose(amplitudes, [0.004, 0.0012, 0.0], atol=1e-12)


def test_quasi_periodic_period_and_reproducibility():
    time = np.arange(0.0, 200.0, 30 * MINUTE)
    flux = quasi_periodic_variability(time, period=2.3, amplitude=0.01, coherence_time=20.0, seed=11)
    assert periodogram_period(time, flux) == pytest.approx(2.3, rel=0.03)
    again = quasi_periodic_variability(time, period=2.3, amplitude=0.01, coherence_time=20.0, seed=11)
    np.testing.assert_array_equal(flux, again)
    other = quasi_periodic_variability(time, period=2.3, amplitude=0.01, coherence_time=20.0, seed=12)
    assert not np.allclose(flux, other)
    from_rng = quasi_periodic_variability(
        time, period=2.3, amplitude=0.01, coherence_time=20.0, rng=np.random.default_rng(11)
    )
    np.testing.assert_array_equal(flux, from_rng)
    with pytest.raises(ValueError, match="exactly one"):
        quasi_periodic_variability(time, period=2.3, amplitude=0.01, coherence_time=20.0)


def test_quasi_periodic_variance_and_coherence():
    time = np.arange(0.0, 4000.0, 0.05)
    flux = quasi_periodic_variability(time, period=1.0, amplitude=0.01, coherence_time=5.0, seed=3)
    # Same variance as a sinusoid of semi-amplitude `amplitude`.
    assert np.std(flux) == pytest.approx(0.01 / np.sqrt(2), rel=0.1)
    # Covariance at lag tau (a whole number of periods): (A^2 / 2) exp(-lag / tau).
    lag = 100  # samples = 5 days = one coherence time
    covariance = np.mean((flux[:-lag] - 1) * (flux[lag:] - 1))
    assert covariance / np.var(flux) == pytest.approx(np.exp(-1.0), abs=0.08)


# --------------------------------------------------------------------------- parameters and dispatch


def test_random_parameters_reproducible_and_replayable():
    time = np.arange(1325.0, 1352.0, 2 * MINUTE)
    for kind in SIGNAL_KINDS:
        first = random_parameters(kind, np.random.default_rng(42), time=time)
        second = random_parameters(kind, np.random.default_rng(42), time=time)
        assert first == second
        assert first != random_parameters(kind, np.random.default_rng(43), time=time)
        assert first["kind"] == kind
        replayed = json.loads(json.dumps(first))  # plain JSON values
        parameters = {key: value for key, value in replayed.items() if key != "kind"}
        flux = signal(kind, time, **parameters)
        original = signal(kind, time, **{key: value for key, value in first.items() if key != "kind"})
        np.testing.assert_array_equal(flux, original)
        assert np.all(np.isfinite(flux)) and flux.shape == time.shape
        assert np.any(flux != 1.0)


def test_random_parameters_within_ranges():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = random_parameters("transit", rng, time=np.array([100.0, 127.0]))
        assert 0.5 <= p["period"] <= 15 and 0.03 <= p["radius_ratio"] <= 0.15
        assert 100.0 <= p["epoch"] < 100.0 + p["period"]
        assert 0.0 <= impact_parameter(p["a_over_rstar"], p["inclination"]) <= 0.9 + 1e-9
        assert 0.5 - 1e-9 <= stellar_density_from_a_over_rstar(p["period"], p["a_over_rstar"]) <= 3.0 + 1e-9
        assert 0.25 <= p["limb_darkening"][0] <= 0.55 and 0.15 <= p["limb_darkening"][1] <= 0.35

        h = random_parameters("heartbeat", rng)
        assert 2 <= h["period"] <= 30 and 0.2 <= h["eccentricity"] <= 0.8 and 10 <= h["inclination"] <= 90
        assert 0 <= h["argument_of_periastron"] <= 360 and 5e-4 <= h["amplitude"] <= 5e-3

        b = random_parameters("eclipsing_binary", rng)
        assert 0.5 <= b["period"] <= 15 and 0.02 <= b["primary_depth"] <= 0.5
        assert 0 <= b["secondary_depth"] <= b["primary_depth"]
        assert 0 < b["duration"] <= 0.2 * b["period"] and 0 <= b["eccentricity"] <= 0.3
        assert b["eccentricity"] == 0.0 or b["period"] > 2.0

        f = random_parameters("flare", rng, time=np.array([100.0, 127.0]))
        assert 100.0 <= f["peak_time"] <= 127.0 and 5 * MINUTE <= f["fwhm"] <= 60 * MINUTE
        assert 0.005 <= f["amplitude"] <= 0.5 and f["model"] == "davenport2014"

        s = random_parameters("sinusoidal", rng)
        assert (
            0.5 <= s["period"] <= 20 and 1e-4 <= s["amplitude"] <= 1e-2 and 0 <= s["harmonics"][0][0] <= 0.5
        )

        q = random_parameters("quasi_periodic", rng)
        assert q["period"] <= q["coherence_time"] <= 10 * q["period"] and isinstance(q["seed"], int)


def test_random_parameters_overrides():
    rng = np.random.default_rng(5)
    fixed = random_parameters("transit", rng, period=3.0, radius_ratio=(0.1, 0.11), impact_parameter=0.0)
    assert fixed["period"] == 3.0 and 0.1 <= fixed["radius_ratio"] <= 0.11 and fixed["inclination"] == 90.0
    assert random_parameters("flare", rng, model=("mendoza2022",))["model"] == "mendoza2022"
    assert random_parameters("eclipsing_binary", rng, period=10.0, eccentricity=0.0)["eccentricity"] == 0.0
    with pytest.raises(ValueError, match="unknown parameter"):
        random_parameters("heartbeat", rng, radius_ratio=0.1)
    with pytest.raises(ValueError, match="unknown signal kind"):
        random_parameters("supernova", rng)
    with pytest.raises(ValueError, match="unknown signal kind"):
        signal("supernova", np.zeros(3))


@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_nan_times_give_nan_flux(kind):
    time = np.linspace(1000.0, 1027.0, 20_000)
    time[[0, 7, 5000, 19_999]] = np.nan
    parameters = random_parameters(kind, np.random.default_rng(1), time=time)
    parameters.pop("kind")
    if kind == "flare":
        parameters["peak_time"] = 1010.0
    flux = signal(kind, time, **parameters)
    assert flux.dtype == np.float64 and flux.shape == time.shape
    np.testing.assert_array_equal(np.isnan(flux), np.isnan(time))
    # Gaps change nothing elsewhere.
    finite = np.isfinite(time)
    np.testing.assert_allclose(flux[finite], signal(kind, time[finite], **parameters), rtol=0, atol=1e-15)
    # A 2-d time array keeps its shape.
    assert signal(kind, time.reshape(100, 200), **parameters).shape == (100, 200)
