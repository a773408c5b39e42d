"""The heartbeat view's model fit: the Kumar et al. model fitted to the fold recovers an injected heartbeat.

Synthetic TESS light curves (white and red noise, systematics, gaps) with a heartbeat injected at
known parameters go through the panel's own view code (``view_from_light_curve`` ->
``fold_heartbeat(fit=True)``); the fitted line must lie on the injected model's line and its
parameters near the injected ones. Its time budget is measured by benchmarks/bench_interactive.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qusi_lab.inference.heartbeat_fit import HeartbeatFit, fit_heartbeat
from qusi_lab.signals import heartbeat
from qusi_lab.synthetic import synthetic_light_curve
from qusi_lab.vetting.views import fold_heartbeat, view_from_light_curve

CASES = [
    {"period": 6.0, "eccentricity": 0.5, "inclination": 60.0, "argument_of_periastron": 40.0, "amplitude": 3e-3},
    {"period": 3.7, "eccentricity": 0.3, "inclination": 80.0, "argument_of_periastron": 100.0, "amplitude": 2e-3},
    {"period": 5.5, "eccentricity": 0.7, "inclination": 30.0, "argument_of_periastron": 250.0, "amplitude": 4e-3},
]
# Periods up to a quarter of the sector: the view flattens the curve with a running median one period wide
# but at most a quarter of the sector long, which also flattens part of a longer-period heartbeat (the fit
# then follows the flattened curve drawn, not the injected one).


def _heartbeat_view(seed: int, parameters: dict):
    """A synthetic star with a heartbeat of ``parameters``, as the panel's views see it (truth attached)."""
    light_curve = synthetic_light_curve("heartbeat", seed=seed, tess_mag=9.5, parameters=dict(parameters))
    injected = dict(light_curve.meta["injected"])
    assert injected["kind"] == "heartbeat" and injected["eccentricity"] == parameters["eccentricity"]
    view = view_from_light_curve(light_curve, period=injected["period"], epoch=injected["epoch_periastron"])
    view.truth = {"parameters": injected, "kind": "heartbeat"}  # as prepare_view does from meta["injected"]
    return view, injected


def _phase_difference(a: float, b: float, period: float) -> float:
    return abs((a - b) / period + 0.5) % 1.0 - 0.5


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_fitted_line_lies_on_the_injected_model(case):
    view, injected = _heartbeat_view(10 + case, CASES[case])
    folded = fold_heartbeat(view, fit=True)
    assert folded is not None and folded.fit is not None, folded and folded.fit_problem
    assert (folded.model_label, folded.fit_label) == ("injected model", "heartbeat fit")
    assert folded.model_phase is not None and folded.model_flux is not None
    assert folded.fit_phase is not None and folded.fit_flux is not None

    # The two lines drawn over the fold, compared on the fit's phase grid (levels aside: the fold
    # is relative to its own running median).
    injected_line = np.interp(folded.fit_phase, folded.model_phase, folded.model_flux)
    difference = (folded.fit_flux - np.median(folded.fit_flux)) - (injected_line - np.median(injected_line))
    amplitude = injected["amplitude"]
    assert np.sqrt(np.mean(difference**2)) < 0.08 * amplitude
    assert np.max(np.abs(difference)) < 0.35 * amplitude

    fit = folded.fit
    assert abs(fit.eccentricity - injected["eccentricity"]) < 0.05
    assert abs(_phase_difference(fit.epoch_periastron, injected["epoch_periastron"], fit.period)) < 0.01
    assert abs(fit.amplitude / amplitude - 1) < 0.15
    assert fit.explained > 0.5 and fit.period == pytest.approx(view.period)
    # The line drawn is the fitted model itself: qusi_lab.signals.heartbeat at the fitted parameters.
    np.testing.assert_allclose(folded.fit_flux, fit(folded.epoch + folded.fit_phase * folded.period))
    np.testing.assert_allclose(
        fit(np.array([1.0, 2.5])), heartbeat(np.array([1.0, 2.5]), **fit.parameters) - 1 + fit.level)


def test_no_fit_unless_asked_and_a_given_model_curve_is_drawn_instead():
    view, injected = _heartbeat_view(12, CASES[0])
    plain = fold_heartbeat(view)
    assert plain is not None and plain.fit is None and plain.fit_phase is None
    assert plain.model_phase is not None  # the injected model is still drawn
    time_grid = np.linspace(view.time[0], view.time[-1], 5000)
    mine = heartbeat(time_grid, **{key: value for key, value in injected.items() if key != "kind"})
    given = fold_heartbeat(view, model_curve=(time_grid, mine), model_label="my model", fit=True)
    assert given is not None and given.fit is None  # a given curve replaces the built-in fit
    assert given.fit_label == "my model" and given.fit_flux is not None
    np.testing.assert_allclose(given.fit_flux, given.model_flux, atol=0.05 * injected["amplitude"])


def test_fit_heartbeat_on_an_exact_model_and_its_limits():
    truth = {"period": 8.0, "epoch_periastron": 101.0, "eccentricity": 0.45, "inclination": 55.0,
             "argument_of_periastron": 130.0, "amplitude": 1e-3}
    time_grid = np.linspace(100.0, 108.0, 400, endpoint=False)
    flux = heartbeat(time_grid, **truth) + 0.002  # a level other than 1
    fit = fit_heartbeat((time_grid - 100.0) / 8.0, flux, period=8.0, epoch=100.0)
    assert isinstance(fit, HeartbeatFit)
    assert fit.eccentricity == pytest.approx(0.45, abs=0.01)
    assert _phase_difference(fit.epoch_periastron, 101.0, 8.0) == pytest.approx(0.0, abs=1e-3)
    assert fit.amplitude == pytest.approx(1e-3, rel=0.02) and fit.level == pytest.approx(1.002, abs=2e-5)
    # omega and omega + 180 draw the same curve: reported in [0, 180)
    assert 0 <= fit.argument_of_periastron < 180 and 0 <= fit.inclination <= 90
    np.testing.assert_allclose(fit(time_grid), flux, atol=3e-5)
    assert fit.explained > 0.99 and fit.rms < 3e-5
    assert "e 0.45" in fit.describe() and "amplitude 1,000 ppm" in fit.describe()
    with pytest.raises(ValueError, match="at least 12 points"):
        fit_heartbeat(np.arange(5) / 5, np.ones(5), period=1.0, epoch=0.0)
    with pytest.raises(ValueError, match="period"):
        fit_heartbeat(time_grid, flux, period=math.nan, epoch=0.0)


def test_a_search_guess_starts_the_fit_and_a_wrong_one_does_not_spoil_it():
    """``guess`` (a heartbeat search's periastron and eccentricity) starts a refinement of its own: near the
    truth it lands on it; far from it (another periastron, another eccentricity) the data overrule it."""
    from qusi_lab.inference.heartbeat_fit import _start_from_guess

    truth = {"period": 8.0, "epoch_periastron": 101.0, "eccentricity": 0.45, "inclination": 55.0,
             "argument_of_periastron": 130.0, "amplitude": 1e-3}
    time_grid = np.linspace(100.0, 108.0, 400, endpoint=False)
    flux = heartbeat(time_grid, **truth) + np.random.default_rng(3).normal(0, 5e-5, time_grid.size)
    phase = (time_grid - 100.0) / 8.0
    start = _start_from_guess(phase, flux, {"epoch_periastron": 101.0 + 3 * 8.0, "eccentricity": 0.45},
                              period=8.0, epoch=100.0)
    assert start is not None
    assert start[0] == pytest.approx(1 / 8) and start[1] == pytest.approx(0.45)  # whole orbits do not matter
    assert start[2] == pytest.approx(55.0, abs=3) and start[3] % 180 == pytest.approx(130.0, abs=3)
    assert _start_from_guess(phase, flux, {"snr": 12.0}, period=8.0, epoch=100.0) is None

    near = fit_heartbeat(phase, flux, period=8.0, epoch=100.0, guess={"epoch_periastron": 101.05, "eccentricity": 0.4})
    wrong = fit_heartbeat(phase, flux, period=8.0, epoch=100.0, guess={"epoch_periastron": 104.5, "eccentricity": 0.85})
    for fit in (near, wrong):
        assert fit.eccentricity == pytest.approx(0.45, abs=0.02)
        assert _phase_difference(fit.epoch_periastron, 101.0, 8.0) == pytest.approx(0.0, abs=2e-3)
        assert fit.rms < 5.5e-5  # the noise is 5e-5: nothing left but noise


def test_a_heartbeat_search_view_keeps_the_periastron_at_phase_0():
    """``center="epoch"`` (a heartbeat table): phase 0 is the search's periastron, not the fold's largest
    departure; the fit, seeded there, recovers the injected orbit."""
    view, injected = _heartbeat_view(11, CASES[1])
    shifted = injected["epoch_periastron"] + 2 * injected["period"]
    view.epoch = shifted
    folded = fold_heartbeat(view, fit=True, center="epoch",
                            guess={"epoch_periastron": shifted, "eccentricity": 0.3})
    assert folded is not None and folded.centre == "periastron" and folded.epoch == shifted
    fit = must_fit(folded)
    assert abs(fit.eccentricity - injected["eccentricity"]) < 0.05
    assert abs(_phase_difference(fit.epoch_periastron, injected["epoch_periastron"], fit.period)) < 0.01
    feature = fold_heartbeat(view, fit=True)
    assert feature is not None and feature.centre == "feature"
    with pytest.raises(ValueError, match="center"):
        fold_heartbeat(view, center="periastron")


def must_fit(folded):
    assert folded.fit is not None, folded.fit_problem
    return folded.fit
