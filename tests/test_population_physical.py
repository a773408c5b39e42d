"""The physical synthetic population (issue 15): physics the heartbeat stars and rotators must obey, and the
stress population unchanged byte for byte.

The expected digests below were computed with qusi_lab's code before the physical population existed
(main at f51e757): ``population="stress"`` must keep writing exactly those files.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest

from qusi_lab.synthetic import STAR_KINDS, make_sector, physical, synthetic_light_curve
from qusi_lab.synthetic.physical import (
    FAST_ROTATOR_FRACTION,
    ROTATOR_FRACTION,
    draw_heartbeat_system,
    draw_rotation,
    eccentricity_envelope,
    tidal_amplitude,
)

STRESS_MIX = {"planet": 0.2, "eclipsing_binary": 0.2, "heartbeat": 0.3, "flare": 0.1, "quiet": 0.2}
# sha256 of the files of make_sector(n_stars=10, seed=11, mix=STRESS_MIX, num_workers=1) before issue 15.
STRESS_SECTOR_1 = {
    "tess2018204190155-s0001-0000000088588364-0121-s_lc.fits": "7794ac0bfa36b46aeb8ea8989f40490d90a4bd3c5a24e406f3b3a8b21d2eaa14",
    "tess2018204190155-s0001-0000000141913709-0121-s_lc.fits": "95d9e921fd248adaa2e2ef2c2e9877cd4da158ebb7c5c5b0eb469e087ba6e9b4",
    "tess2018204190155-s0001-0000000322757026-0121-s_lc.fits": "87f55cbd05b74bfabaa223904974421ebefe7536d7a852b91f7eba024c5a7dcb",
    "tess2018204190155-s0001-0000000376082371-0121-s_lc.fits": "f00056b2659b153c1d174820375cc64ceb5e5ba1ee366f24c5e69b1b3630adf3",
    "tess2018204190155-s0001-0000000556925688-0121-s_lc.fits": "45b117ba7abfeb06da64f3e6ebaf073cd2ec4f0ea2a06eb0a0e214e78036ec62",
    "tess2018204190155-s0001-0000000610251033-0121-s_lc.fits": "9ee471d1b2b21237a26b6c0c948e2a0ce72c282a695ad560eed07d5d5b4b484a",
    "tess2018204190155-s0001-0000000663576378-0121-s_lc.fits": "b5709cc3b0a177c17cfcc183fd26ba105e5e877a67e4b40416ac7e637da8f67f",
    "tess2018204190155-s0001-0000000791094350-0121-s_lc.fits": "c510d5b7331b97b84033d9f4846e607ff62301b6b56541caf0e663bc11515de6",
    "tess2018204190155-s0001-0000000844419695-0121-s_lc.fits": "d2607c705e0902a1b516986c6a10e79ba7efc7db7191e7c9b944e8187e786d00",
    "tess2018204190155-s0001-0000000897745040-0121-s_lc.fits": "6f1d46b8385f545c8b7a9a2abbc64512a18d0127504c72d2b5a904fff567f1d7",
    "truth.csv": "e78d92a7e4d4b12f85d8b9e6f071aca39853eba2b92c1e74e4b309b505029313",
}
# The same with snr_range=(3, 50), sector=2.
STRESS_SECTOR_2 = {
    "tess2018232032555-s0002-0000000088588364-0122-s_lc.fits": "ec4f2581d78a580ef2e0580084e0eaa221fbbcc39a2dc4114638de23c4e88621",
    "tess2018232032555-s0002-0000000141913709-0122-s_lc.fits": "5bd5b5d6e080fe2fb060e5b4e49a3c6001407747161ce26474d391f03308a7af",
    "tess2018232032555-s0002-0000000322757026-0122-s_lc.fits": "d4092e81fdc8292175addec79ee9762cccfb0869920be4dd22d9e40729ff152a",
    "tess2018232032555-s0002-0000000376082371-0122-s_lc.fits": "ab4ec39625bea64c93a4f58a7160a9fb97dca775ee98f98d3365237ef736039e",
    "tess2018232032555-s0002-0000000556925688-0122-s_lc.fits": "5eae89e73df1d204a80cfa6c54c2001f7b52b6732c89c20498e27351382b4f69",
    "tess2018232032555-s0002-0000000610251033-0122-s_lc.fits": "f6c39c38e512d1158e3dc64c051d75c4449721196de4caf611c2d2dd57420358",
    "tess2018232032555-s0002-0000000663576378-0122-s_lc.fits": "f5f98a1789399b8f034c9aebd20bff1591025afc4b88701cb2012db85e9cd49a",
    "tess2018232032555-s0002-0000000791094350-0122-s_lc.fits": "36ab63015fa16a64285c23d546f41c8dad45368e3c3e9739042171a586903243",
    "tess2018232032555-s0002-0000000844419695-0122-s_lc.fits": "06d2b97c2ee847b666c3f197c9e5456d8be574d07af59ee27c66caa8949e4308",
    "tess2018232032555-s0002-0000000897745040-0122-s_lc.fits": "5040ed37328f48cd6fe22cd626a084e608119bbce158f4c311d8d9baf8562fda",
    "truth.csv": "a23125340573ff80da1c9d7a038fce26b772b07f488aae4081fe012404c92332",
}
# sha256 of time, flux, flux_err and the truth row of synthetic_light_curve(kind, seed=5) before issue 15.
STRESS_CURVES = {
    "planet": "5f33040fb1ad77570548827205d06308aa2b60c95ea2b1ebe019c1371a191184",
    "eclipsing_binary": "a4b16c5d84b58c30e2d80571b58b1e46fac70010858220500926f1c382ace914",
    "heartbeat": "807c2dbe1d3ed155ce464572974aeca87d8e70ce61d1bbf4c3bf758572fa5241",
    "flare": "7c7a85355429b450f3eff6071c0386b88ef7ce048bf86ad4044062ca09b276e5",
    "quiet": "c70877d2b3d9d2d29b6a59394cf2163c497d09891b722a79217bd95377a1ab60"
}


def file_digests(directory: Path) -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.rglob("*")) if path.is_file()
    }


def curve_digest(kind: str, population: str) -> str:
    curve = synthetic_light_curve(kind, seed=5, population=population)
    digest = hashlib.sha256()
    for array in (curve.time, curve.flux, curve.flux_err):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(json.dumps(curve.meta["truth"], sort_keys=True, default=str).encode())
    return digest.hexdigest()


def test_stress_population_writes_the_files_of_qusi_lab_0_1_byte_for_byte(tmp_path: Path, monkeypatch) -> None:
    # The files carry their creation date (DATE); the digests were recorded on 2026-12-05 (UTC).
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1796428800")
    make_sector(tmp_path / "one", n_stars=10, seed=11, mix=STRESS_MIX, num_workers=1, population="stress")
    assert file_digests(tmp_path / "one") == STRESS_SECTOR_1
    make_sector(
        tmp_path / "two", n_stars=10, seed=11, mix=STRESS_MIX, num_workers=1, population="stress",
        snr_range=(3, 50), sector=2,
    )
    assert file_digests(tmp_path / "two") == STRESS_SECTOR_2


def test_stress_synthetic_light_curves_are_unchanged() -> None:
    assert {kind: curve_digest(kind, "stress") for kind in STAR_KINDS} == STRESS_CURVES


def test_physical_is_the_default_and_differs_from_stress(tmp_path: Path) -> None:
    default = make_sector(tmp_path / "default", n_stars=4, seed=11, mix={"heartbeat": 1.0}, num_workers=1)
    named = make_sector(tmp_path / "named", n_stars=4, seed=11, mix={"heartbeat": 1.0}, num_workers=1,
                        population="physical")
    assert file_digests(tmp_path / "default") == file_digests(tmp_path / "named")
    assert "system" in json.loads(default.truth.parameters.iloc[0])
    assert curve_digest("heartbeat", "physical") != STRESS_CURVES["heartbeat"]
    assert len(named) == 4


def test_an_unknown_population_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown population 'real'; choose one of \('physical', 'stress'\)"):
        make_sector(tmp_path, n_stars=2, population="real")
    with pytest.raises(ValueError, match="unknown population 'Stress'"):
        synthetic_light_curve("quiet", population="Stress")


@pytest.fixture(scope="module")
def heartbeat_systems() -> list[dict]:
    rng = np.random.default_rng(2024)
    return [draw_heartbeat_system(rng) for _ in range(3000)]


def eggleton(mass_ratio: float) -> float:
    """Eggleton (1983) written out again, independently of the population code."""
    return 0.49 * mass_ratio ** (2 / 3) / (0.6 * mass_ratio ** (2 / 3) + math.log(1 + mass_ratio ** (1 / 3)))


def test_no_drawn_heartbeat_star_overflows_its_roche_lobe_at_periastron(heartbeat_systems: list[dict]) -> None:
    for system in heartbeat_systems:
        # Kepler's third law in solar units: a^3 [AU^3] = M [Msun] P^2 [yr^2]; 1 AU = 215.03 Rsun.
        total = system["mass_1"] + system["mass_2"]
        a = (total * (system["period"] / 365.25) ** 2) ** (1 / 3) * 215.03
        assert a == pytest.approx(system["semi_major_axis"], rel=2e-3)
        periastron = a * (1 - system["eccentricity"])
        assert system["radius_1"] < eggleton(system["mass_1"] / system["mass_2"]) * periastron
        assert system["radius_2"] < eggleton(system["mass_2"] / system["mass_1"]) * periastron


def test_heartbeat_orbits_lie_under_the_circularisation_envelope(heartbeat_systems: list[dict]) -> None:
    period = np.array([system["period"] for system in heartbeat_systems])
    eccentricity = np.array([system["eccentricity"] for system in heartbeat_systems])
    assert np.all(eccentricity <= eccentricity_envelope(period))
    assert np.all(eccentricity >= 0.1)
    assert period.min() >= 2.5 and period.max() <= 100.0
    # Most systems above 12 d, as in the Kepler catalogues; none of the old population's
    # P < 3 d, e > 0.5 systems (23 % of the stress heartbeat stars).
    assert np.mean(period > 12) > 0.55
    assert not np.any((period < 3) & (eccentricity > 0.5))
    # The envelope itself: circular at P_c = 2 d, rising with period, constant periastron distance.
    assert eccentricity_envelope(2.0) == 0.0
    assert eccentricity_envelope(10.0) < eccentricity_envelope(40.0) < 0.9
    assert (1 - eccentricity_envelope(16.0)) * 16.0 ** (2 / 3) == pytest.approx(2.0 ** (2 / 3))


def test_heartbeat_amplitude_follows_the_orbit(heartbeat_systems: list[dict]) -> None:
    system = dict(heartbeat_systems[0])
    wider = {**system, "semi_major_axis": 2 * system["semi_major_axis"]}
    assert tidal_amplitude(wider) == pytest.approx(tidal_amplitude(system) / 8)  # (R / a)^3
    assert system["amplitude"] == pytest.approx(tidal_amplitude(system))
    # Over the population: a tighter periastron (in stellar radii) gives a larger tide.
    closeness = np.array([s["radius_1"] / (s["semi_major_axis"] * (1 - s["eccentricity"])) for s in heartbeat_systems])
    amplitude = np.array([s["amplitude"] for s in heartbeat_systems])
    assert np.corrcoef(np.log(closeness), np.log(amplitude))[0, 1] > 0.7
    # Kepler heartbeat stars span ~10 ppm to a few ppt; the median sits in between.
    assert 1e-4 < float(np.median(amplitude)) < 3e-3


def test_eclipsing_heartbeat_stars_are_the_short_period_ones(heartbeat_systems: list[dict]) -> None:
    period = np.array([s["period"] for s in heartbeat_systems])
    eclipsing = np.array([s["eclipse"] is not None for s in heartbeat_systems])
    # Eclipses come from the geometry alone (isotropic inclinations): likely at short period, rare at
    # long period (where only a conjunction near periastron of a very eccentric orbit can eclipse).
    short, long = period < 10, period > 40
    assert eclipsing[short].mean() > 0.1 and eclipsing[short].mean() > 1.8 * eclipsing[long].mean()
    assert np.median(period[eclipsing]) < np.median(period[~eclipsing])
    for system in (s for s in heartbeat_systems if s["eclipse"] is not None):
        # Geometry: the companion passes within R1 + R2 of the primary's centre at conjunction.
        e, omega = system["eccentricity"], math.radians(system["argument_of_periastron"])
        separation = system["semi_major_axis"] * (1 - e**2) / (1 + e * math.cos(math.pi / 2 - omega))
        assert separation * abs(math.cos(math.radians(system["inclination"]))) < system["radius_1"] + system["radius_2"]
        assert 0 < system["eclipse"]["primary_depth"] < 1


def test_a_physical_heartbeat_sector_keeps_the_physical_amplitude_inside_the_snr_range(tmp_path: Path) -> None:
    result = make_sector(tmp_path, n_stars=12, seed=5, mix={"heartbeat": 1.0}, num_workers=1, snr_range=(7, 60))
    from qusi_lab import read_light_curve

    for row in result.truth.itertuples():
        parameters = json.loads(row.parameters)
        tide = parameters["signals"][0]
        assert tide["kind"] == "heartbeat" and tide["period"] == row.period
        # The amplitude is the orbit's physics, never rescaled to the SNR.
        assert tide["amplitude"] == pytest.approx(parameters["system"]["amplitude"])
        assert tide["eccentricity"] <= eccentricity_envelope(tide["period"])
        assert 7 * 0.98 <= row.snr <= 60 * 1.02 and row.n_events >= 1
        assert 5.5 <= row.tess_mag <= 16.0
        # The epoch is a periastron passage of the injected orbit, inside the sector.
        assert tide["epoch_periastron"] == row.epoch
        assert 1325.29 <= row.epoch <= 1325.29 + 27.4
    # The file is the star the truth describes: its flux level is the one of the chosen magnitude.
    from qusi_lab.synthetic import tess_flux_from_magnitude

    row = result.truth.iloc[0]
    curve = read_light_curve(result.paths[0])
    assert float(np.nanmedian(curve.flux)) == pytest.approx(tess_flux_from_magnitude(row.tess_mag), rel=0.05)


def binomial_tolerance(probability: float, draws: int) -> float:
    """Four standard deviations of a binomial fraction: a fixed-seed test that a wrong rate cannot pass."""
    return 4 * math.sqrt(probability * (1 - probability) / draws)


def test_rotators_follow_the_tess_two_minute_catalogues() -> None:
    rng = np.random.default_rng(7)
    draws = 6000
    rotations = [draw_rotation(rng, "quiet") for _ in range(draws)]
    rotating = [r for r in rotations if r is not None]
    # ~10 % of main-sequence 2-minute targets show rotation (Holcomb et al. 2022: 13,504 of ~130,000).
    assert ROTATOR_FRACTION == pytest.approx(13_504 / 130_000, abs=0.01)
    assert abs(len(rotating) / draws - ROTATOR_FRACTION) < binomial_tolerance(ROTATOR_FRACTION, draws)
    period = np.array([r["period"] for r in rotating])
    amplitude = np.array([r["amplitude"] for r in rotating])
    fast = np.mean(period < 3)
    assert abs(fast - FAST_ROTATOR_FRACTION) < binomial_tolerance(FAST_ROTATOR_FRACTION, len(period))
    # Of all stars, fast rotators are a few per cent: not the 16.7 % of the stress population.
    assert np.mean([r is not None and r["period"] < 3 for r in rotations]) < 0.06
    assert period.min() >= 0.4 and period.max() <= 14.0
    # The dip at 1.5-2 d (Fetherolf et al. 2023): fewer stars per log-period there than on either side.
    def density(low: float, high: float) -> float:
        return float(np.mean((period >= low) & (period < high)) / math.log(high / low))

    assert density(1.5, 2.0) < 0.7 * min(density(0.8, 1.5), density(2.0, 3.0))
    # Larger amplitudes at short period.
    assert np.median(amplitude[period < 1.5]) > 2 * np.median(amplitude[period > 5])
    # Spots with harmonics, finite lifetimes, and differential rotation in about half of the stars.
    assert all(r["harmonics"] and r["spot_lifetime"] >= 2 * r["period"] for r in rotating)
    shear = np.array([r["shear"] for r in rotating])
    assert 0.4 < np.mean(shear > 0) < 0.6 and shear.max() <= 0.1


def test_flare_stars_always_rotate_fast() -> None:
    rng = np.random.default_rng(3)
    rotations = [draw_rotation(rng, "flare") for _ in range(300)]
    assert all(r is not None for r in rotations)
    assert max(r["period"] for r in rotations) <= 10 and min(r["amplitude"] for r in rotations) >= 1e-3


def test_starspot_signal_has_harmonics_two_periods_and_evolves() -> None:
    from qusi_lab.signals import starspot_variability

    time = np.arange(0.0, 27.0, 10 / 1440)
    frequency = np.fft.rfftfreq(time.size, d=time[1] - time[0])
    stable = starspot_variability(time, period=3.0, amplitude=0.01, harmonics=[(0.4, 0.3)], seed=1) - 1
    power = np.abs(np.fft.rfft(stable)) ** 2
    peak = lambda f: power[np.argmin(np.abs(frequency - f))]  # noqa: E731
    assert peak(2 / 3.0) > 0.1 * peak(1 / 3.0) > 100 * np.median(power)  # the first harmonic is there
    # Two spot groups 10 % apart in period: beating, the envelope swings far more than one group's.
    sheared = starspot_variability(time, period=1.0, amplitude=0.01, shear=0.1, second_group_amplitude=0.01, seed=2) - 1
    day = int(round(1.0 / (time[1] - time[0])))
    swing = [np.ptp(sheared[i : i + day]) for i in range(0, time.size - day, day)]
    assert max(swing) > 3 * min(swing)
    # Evolving spots: the amplitude changes from rotation to rotation; stable ones do not.
    evolving = starspot_variability(time, period=1.0, amplitude=0.01, spot_lifetime=3.0, seed=4) - 1
    frozen = starspot_variability(time, period=1.0, amplitude=0.01, seed=4) - 1
    ranges = lambda flux: [np.ptp(flux[i : i + day]) for i in range(0, time.size - day, day)]  # noqa: E731
    assert np.std(ranges(evolving)) > 10 * np.std(ranges(frozen))


def test_physical_red_noise_has_a_spread_of_colours(tmp_path: Path) -> None:
    result = make_sector(tmp_path, n_stars=30, seed=9, mix={"quiet": 1.0}, num_workers=1)
    noise = [json.loads(p)["noise"] for p in result.truth.parameters]
    slopes = np.array([n["red_slope"] for n in noise])
    assert slopes.min() < 1.6 and slopes.max() > 2.4
    assert len({round(n["red_timescale_days"], 3) for n in noise}) == len(noise)
    variability = [json.loads(p)["variability"] for p in result.truth.parameters]
    assert all(v is None or v["kind"] == "starspots" for v in variability)
    assert sum(v is not None for v in variability) <= 10  # ~10 % rotate (3 expected of 30)


def test_coloured_noise_has_the_asked_amplitude_and_slope() -> None:
    step = 2 / 1440
    for slope in (1.0, 3.0):
        series = physical.coloured_noise(np.random.default_rng(1), 19_728, 1e-3, 0.2, slope, step)
        assert np.std(series) == pytest.approx(1e-3, rel=0.25)
        frequency = np.fft.rfftfreq(series.size, d=step)
        power = np.abs(np.fft.rfft(series)) ** 2
        high = (frequency > 5) & (frequency < 50)
        fitted = np.polyfit(np.log(frequency[high]), np.log(power[high]), 1)[0]
        assert fitted == pytest.approx(-slope, abs=0.25)


def test_population_plot_draws_the_populations_own_stars() -> None:
    import matplotlib.pyplot

    from qusi_lab.synthetic import population_data, population_plot

    open_figures = matplotlib.pyplot.get_fignums()
    figure = population_plot(n_stars=400, seed=3)
    assert type(figure.canvas).__name__ == "FigureCanvasAgg"
    figure.canvas.draw()  # renders without a display
    orbits, amplitudes, periods, rotation_amplitudes = figure.axes
    assert orbits.get_title() == "Heartbeat orbits"
    points = {collection.get_gid(): collection.get_offsets() for collection in orbits.collections}
    physical_points = np.asarray(points["physical"])
    # What is plotted is the population: the same draws, and every physical orbit under the envelope.
    data = population_data(n_stars=400, seed=3)
    np.testing.assert_allclose(physical_points[:, 0], data["physical"]["heartbeat_period"])
    assert np.all(physical_points[:, 1] <= eccentricity_envelope(physical_points[:, 0]))
    stress_points = np.asarray(points["stress"])
    assert stress_points[:, 0].max() <= 12.0 and np.any(stress_points[:, 1] > eccentricity_envelope(stress_points[:, 0]))
    envelope = next(line for line in orbits.lines if line.get_gid() == "envelope")
    np.testing.assert_allclose(envelope.get_ydata(), eccentricity_envelope(envelope.get_xdata()))
    # Amplitudes are the physical systems' tides (ppm), rotation histograms count the rotating stars.
    plotted = np.concatenate([np.asarray(c.get_offsets())[:, 1] for c in amplitudes.collections])
    np.testing.assert_allclose(np.sort(plotted), np.sort(data["physical"]["heartbeat_amplitude"] * 1e6))
    counts = {patch.get_gid(): patch for patch in periods.patches}
    assert set(counts) >= {"physical", "stress"}
    legend = [text.get_text() for text in periods.get_legend().get_texts()]
    assert f"physical: {float(data['physical']['rotating_fraction']):.0%} of stars vary" in legend
    assert 0.05 < float(data["physical"]["rotating_fraction"]) < 0.15
    assert len(data["stress"]["rotation_period"]) > 3 * len(data["physical"]["rotation_period"])
    assert rotation_amplitudes.get_xscale() == "log"
    assert matplotlib.pyplot.get_fignums() == open_figures  # no pyplot figure was opened


def test_a_heartbeat_asked_for_exactly_is_that_signal_alone() -> None:
    asked = {"period": 3.7, "eccentricity": 0.3, "inclination": 80.0, "argument_of_periastron": 100.0,
             "amplitude": 2e-3, "epoch_periastron": 1326.0}
    curve = synthetic_light_curve("heartbeat", seed=11, tess_mag=9.5, parameters=asked)
    injected = curve.meta["injected"]
    assert injected["kind"] == "heartbeat"  # one signal: no eclipses or modes added
    assert {key: injected[key] for key in asked} == asked
    assert curve.meta["magnitude"] == 9.5
    # An orbit without an amplitude gets the tide of that orbit.
    orbit = {key: asked[key] for key in ("period", "eccentricity", "inclination", "argument_of_periastron")}
    physical_curve = synthetic_light_curve("heartbeat", seed=11, parameters=orbit)
    truth = physical_curve.meta["truth"]
    system = json.loads(truth["parameters"])["system"]
    assert truth["period"] == 3.7
    assert system["amplitude"] == pytest.approx(tidal_amplitude({**system, **orbit}))
