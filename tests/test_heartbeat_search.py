"""ql.search_heartbeat: heartbeats drawn by qusi_lab.signals.heartbeat in white + red noise, found by the search.

Every signal goes through the real code (signals -> arrays/LightCurve/lightkurve -> search); the noise is
white (1,000 ppm per 2-minute cadence) plus a damped random walk (200 ppm, 1 day), the sector has its
mid-sector gap.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qusi_lab as ql
from qusi_lab.errors import LightCurveError
from qusi_lab.inference.heartbeat_search import (
    HEARTBEAT_COLUMNS,
    HEARTBEAT_FEATURES,
    NOISE_SNR_99,
    HeartbeatSearchResult,
    heartbeat_features,
    search_heartbeat,
)
from qusi_lab.signals import heartbeat, sinusoidal_variability, transit
from qusi_lab.synthetic.noise import _damped_random_walk

CADENCE = 2 / 1440


def sector_time() -> np.ndarray:
    time = np.arange(1325.3, 1325.3 + 27.4, CADENCE)
    return time[(time < 1338.5) | (time > 1339.5)]  # the mid-sector gap


def noise(time: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1e-3, time.size) + _damped_random_walk(rng, time.size, 2e-4, 1.0, CADENCE)


def heartbeat_curve(period: float, epoch: float, eccentricity: float, amplitude: float, seed: int,
                    inclination: float = 50.0, omega: float = 80.0) -> tuple[np.ndarray, np.ndarray]:
    time = sector_time()
    model = heartbeat(time, period=period, epoch_periastron=epoch, eccentricity=eccentricity,
                      inclination=inclination, argument_of_periastron=omega, amplitude=amplitude)
    return time, 500.0 * (model + noise(time, seed))  # e-/s: the search makes it relative itself


def phase_distance(epoch: float, truth: float, period: float) -> float:
    """|epoch - truth| modulo the period, as a fraction of the period."""
    offset = ((epoch - truth) / period) % 1.0
    return min(offset, 1.0 - offset)


@pytest.mark.parametrize(("period", "eccentricity", "amplitude"), [(3.0, 0.4, 1.2e-3), (8.0, 0.55, 1.5e-3),
                                                                   (20.0, 0.65, 2e-3)])
def test_periodic_heartbeats_are_found_within_one_percent(period: float, eccentricity: float,
                                                          amplitude: float) -> None:
    epoch = 1327.1
    time, flux = heartbeat_curve(period, epoch, eccentricity, amplitude, seed=int(period))
    result = search_heartbeat((time, flux))
    assert abs(result.period / period - 1) < 0.01, result
    assert phase_distance(result.epoch, epoch, period) < 0.02, result
    assert time[0] <= result.epoch < time[0] + result.period  # the first periastron at or after the start
    assert result.snr > NOISE_SNR_99 + 3
    centers = epoch + period * np.arange(20)
    seen = int(np.sum((centers <= time[-1]) & ((centers < 1338.5) | (centers > 1339.5))))
    assert result.passages >= 2 and abs(result.passages - seen) <= 1
    assert result.period_uncertainty < 0.01 * period
    assert 0.5 * amplitude < result.amplitude < 1.5 * amplitude
    assert result.period_lower_bound == result.period


@pytest.mark.parametrize("period", [45.0, 75.0])
def test_one_passage_gives_the_epoch_and_a_lower_bound(period: float) -> None:
    epoch = 1335.0  # the only periastron inside the data
    time, flux = heartbeat_curve(period, epoch, 0.8, 2.5e-3, seed=int(period), inclination=40.0, omega=30.0)
    result = search_heartbeat((time, flux))
    # No snr bar here: a single spike raises the noise spectrum it is whitened by (snr ~6-11 for these).
    assert abs(result.epoch - epoch) < 0.3 or any(abs(result.epoch + k * result.period - epoch) < 0.3
                                                   for k in (-2, -1, 1, 2)), result
    # The period is not measured by one passage: what is true is the lower bound (the next passage is
    # not in the data), and the reported interval is wide.
    assert result.period_lower_bound <= period
    if result.passages == 1:
        assert result.period_lower_bound >= 12.0
        assert result.period_uncertainty == pytest.approx(0.5 * (100.0 - result.period_lower_bound))


def test_a_harmonic_is_not_preferred() -> None:
    time, flux = heartbeat_curve(8.0, 1327.1, 0.5, 1.2e-3, seed=5)
    best = search_heartbeat((time, flux))
    half = search_heartbeat((time, flux), minimum_period=3.9, maximum_period=4.1)
    double = search_heartbeat((time, flux), minimum_period=15.8, maximum_period=16.2)
    assert abs(best.period / 8.0 - 1) < 0.01
    assert best.snr > half.snr and best.snr > double.snr


def test_pure_noise_gives_a_low_snr() -> None:
    time = sector_time()
    scores = [search_heartbeat((time, 1 + noise(time, seed))).snr for seed in range(3)]
    assert max(scores) < NOISE_SNR_99 + 1.5, scores


def test_a_transit_is_found_at_its_own_period_as_a_dimming_template() -> None:
    """What is true: a transit train matches an edge-on heartbeat that dims at periastron (high snr, at the
    transit period, omega near 90 degrees); this search cannot tell them apart, a network must."""
    time = sector_time()
    flux = transit(time, period=3.7, epoch=1326.4, radius_ratio=0.07, a_over_rstar=10.0) + noise(time, 1)
    result = search_heartbeat((time, flux))
    assert abs(result.period / 3.7 - 1) < 0.01
    assert result.inclination > 60 and 45 <= result.argument_of_periastron <= 135


def test_a_sinusoidal_rotator_gives_a_low_snr() -> None:
    """A 2,000 ppm, 5-day sinusoid (a matched-filter SNR near 200) is whitened away: its snr stays far below
    a heartbeat's of SNR ~30 (the running-median spectrum follows a single narrow peak)."""
    time = sector_time()
    rotator = search_heartbeat((time, sinusoidal_variability(time, period=5.0, amplitude=2e-3) + noise(time, 2)))
    beat = search_heartbeat(heartbeat_curve(5.0, 1327.1, 0.5, 1.5e-3, seed=2))
    assert rotator.snr < 15 < beat.snr


def test_the_table_row_and_the_features() -> None:
    time, flux = heartbeat_curve(8.0, 1327.1, 0.55, 1.5e-3, seed=8)
    result = search_heartbeat((time, flux))
    row = result.as_row()
    assert tuple(row) == HEARTBEAT_COLUMNS
    assert row["heartbeat_snr"] == result.snr and row["heartbeat_amplitude_ppm"] == pytest.approx(result.amplitude * 1e6)
    vector = heartbeat_features((time, flux))
    assert vector.shape == (len(HEARTBEAT_FEATURES),) and vector.dtype == np.float32
    assert vector[0] == pytest.approx(result.snr, rel=1e-5)
    assert vector[1] == pytest.approx(np.log10(result.period), rel=1e-5)
    assert "HeartbeatSearchResult(period=" in repr(result)
    assert ql.search_heartbeat is search_heartbeat and ql.inference.search_heartbeat is search_heartbeat
    assert isinstance(result, HeartbeatSearchResult)


def test_inputs_give_the_same_answer_lightcurve_lightkurve_astropy() -> None:
    import astropy.units as u
    import lightkurve as lk
    from astropy.time import Time

    time, flux = heartbeat_curve(6.0, 1327.0, 0.6, 1.5e-3, seed=6)
    reference = search_heartbeat((time, flux))
    assert search_heartbeat(ql.LightCurve(time, flux, path="star.fits")).period == reference.period
    light = lk.LightCurve(time=Time(time, format="btjd", scale="tdb"), flux=flux * u.electron / u.s)
    assert search_heartbeat(light).period == reference.period
    astro = search_heartbeat((Time(time, format="btjd", scale="tdb"), flux * u.electron / u.s))
    assert astro.period == reference.period and astro.epoch == pytest.approx(reference.epoch)


_BASE = heartbeat_curve(6.0, 1327.0, 0.6, 2e-3, seed=7)
_REFERENCE = search_heartbeat(_BASE)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nan_fraction=st.floats(0.0, 0.3), seed=st.integers(0, 2**16), shuffle=st.booleans(),
       already_relative=st.booleans())
def test_nans_order_and_normalisation_do_not_change_the_answer(nan_fraction: float, seed: int, shuffle: bool,
                                                               already_relative: bool) -> None:
    time, flux = (_BASE[0].copy(), _BASE[1].copy())
    rng = np.random.default_rng(seed)
    flux[rng.random(flux.size) < nan_fraction] = np.nan
    if nan_fraction > 0:
        time[rng.random(time.size) < 0.01] = np.nan
    if already_relative:
        flux = flux / np.nanmedian(flux) - 1.0
    if shuffle:
        order = rng.permutation(time.size)
        time, flux = time[order], flux[order]
    result = search_heartbeat((time, flux))
    assert abs(result.period / 6.0 - 1) < 0.01
    assert phase_distance(result.epoch, _REFERENCE.epoch, 6.0) < 0.02
    if nan_fraction == 0 and not already_relative:
        assert result.period == _REFERENCE.period


def test_clear_errors() -> None:
    time = np.arange(0.0, 0.5, CADENCE)
    with pytest.raises(LightCurveError, match=r"short\.fits.*at least 1 day"):
        search_heartbeat(ql.LightCurve(time, 1 + 0 * time, path="short.fits"))
    with pytest.raises(LightCurveError, match="at least 48 finite cadences"):
        search_heartbeat((np.arange(10.0), np.ones(10)))
    long_time = np.arange(0.0, 10.0, CADENCE)
    with pytest.raises(LightCurveError, match="constant"):
        search_heartbeat((long_time, np.ones(long_time.size)))
    with pytest.raises(ValueError, match="minimum_period < maximum_period"):
        search_heartbeat((long_time, 1 + noise(long_time, 0)), minimum_period=10, maximum_period=5)
    with pytest.raises(TypeError, match="time, flux"):
        search_heartbeat((long_time, long_time, long_time))
    with pytest.raises(TypeError, match="LightCurve"):
        search_heartbeat("star.fits")


def test_a_short_curve_with_gaps_is_searched() -> None:
    time = np.arange(1325.0, 1331.0, CADENCE)
    time = time[(time % 1.0) < 0.7]  # 30 % of every day missing
    flux = heartbeat(time, period=2.6, epoch_periastron=1326.0, eccentricity=0.5, inclination=30.0,
                     argument_of_periastron=0.0, amplitude=4e-3) + noise(time, 3)
    result = search_heartbeat((time, flux))
    assert abs(result.period / 2.6 - 1) < 0.02  # two or three passages in 6 days: a looser period
