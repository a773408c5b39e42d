"""Injecting signals into real host light curves (synthetic SPOC files read back through qusi_lab.io)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from qusi_lab.data.injection import (
    InjectionSource,
    Injector,
    draw_parameters,
    inject,
    inject_eclipsing_binary,
    inject_flare,
    inject_heartbeat,
    inject_transit,
    inject_variability,
    make_injected_dataset,
)
from qusi_lab.errors import LightCurveError
from qusi_lab.io import read_light_curve
from qusi_lab.lightcurve import LightCurve
from qusi_lab.signals import signal
from qusi_lab.synthetic import make_sector

TRANSIT = {"period": 3.1, "epoch": 1327.0, "radius_ratio": 0.1, "a_over_rstar": 12.0, "inclination": 89.0}


@pytest.fixture(scope="module")
def host_paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    result = make_sector(tmp_path_factory.mktemp("hosts"), n_stars=6, seed=21, mix={"quiet": 1.0}, num_workers=1)
    return result.paths


@pytest.fixture()
def host(host_paths: list[Path]) -> LightCurve:
    return read_light_curve(host_paths[0])


def test_transit_multiplies_the_host_flux_on_its_own_cadence(host: LightCurve) -> None:
    injected = inject(host, "transit", parameters=TRANSIT)
    np.testing.assert_array_equal(injected.time, host.time)
    model = signal("transit", host.time, **TRANSIT)
    np.testing.assert_allclose(injected.flux / host.flux, model, rtol=1e-12)
    np.testing.assert_allclose(injected.flux_err / host.flux_err, model, rtol=1e-12)
    assert model.min() < 0.99  # the transit is really there, at the host's time stamps
    # Flux stays in the host's units (e-/s here): a relative signal, not an additive one.
    assert np.median(injected.flux) == pytest.approx(np.median(host.flux), rel=1e-3)


def test_gaps_and_nans_are_untouched() -> None:
    time = np.linspace(1325.0, 1335.0, 3000)
    flux = np.full(3000, 1000.0)
    time[100:200] = np.nan  # cadences without a time stamp (as in SPOC gaps)
    flux[1500:1600] = np.nan  # cadences without flux
    host = LightCurve(time, flux, np.full(3000, 5.0), target_id="TIC 1")
    parameters = {"period": 1.0, "epoch": 1325.05, "radius_ratio": 0.2, "a_over_rstar": 4.0}
    injected = inject(host, "transit", parameters=parameters)
    np.testing.assert_array_equal(injected.flux[100:200], 1000.0)
    assert np.isnan(injected.flux[1500:1600]).all()
    assert np.isnan(injected.time[100:200]).all()
    changed = injected.flux != host.flux
    assert changed.any() and not changed[100:200].any()


def test_parameters_are_recorded_and_the_input_is_not_mutated(host: LightCurve) -> None:
    before_flux, before_time, before_meta = host.flux.copy(), host.time.copy(), dict(host.meta)
    once = inject(host, "transit", parameters=TRANSIT)
    assert once.meta["injected"] == {"kind": "transit", **TRANSIT}
    np.testing.assert_array_equal(host.flux, before_flux)
    np.testing.assert_array_equal(host.time, before_time)
    assert host.meta == before_meta and "injected" not in host.meta
    twice = inject_flare(once, rng=3)
    assert [entry["kind"] for entry in twice.meta["injected"]] == ["transit", "flare"]
    assert once.meta["injected"]["kind"] == "transit"  # the first result is not changed either
    # A recorded entry replays the same signal.
    entry = dict(twice.meta["injected"][1])
    replay = inject(once, "flare", parameters=entry)
    np.testing.assert_array_equal(replay.flux, twice.flux)


def test_drawn_signals_land_inside_the_data(host: LightCurve) -> None:
    finite_times = host.time[np.isfinite(host.time) & np.isfinite(host.flux)]
    for seed in range(15):
        parameters = draw_parameters(host, "transit", rng=seed, ranges={"period": (5.0, 40.0)})
        assert parameters["epoch"] in finite_times
        arguments = {key: value for key, value in parameters.items() if key != "kind"}
        assert signal("transit", host.time, **arguments).min() < 1.0
    for kind, name in (("heartbeat", "epoch_periastron"), ("eclipsing_binary", "epoch"), ("flare", "peak_time")):
        assert draw_parameters(host, kind, rng=1)[name] in finite_times
    # Fixed values win over the drawn placement.
    assert draw_parameters(host, "transit", rng=1, ranges={"epoch": 1330.0})["epoch"] == 1330.0


def test_wrappers_inject_their_kind(host: LightCurve) -> None:
    assert inject_transit(host, rng=1, radius_ratio=0.05).meta["injected"]["radius_ratio"] == 0.05
    assert inject_heartbeat(host, rng=1).meta["injected"]["kind"] == "heartbeat"
    assert inject_eclipsing_binary(host, rng=1, primary_depth=0.3).meta["injected"]["primary_depth"] == 0.3
    assert inject_flare(host, rng=1).flux.max() > host.flux.max()
    assert inject_variability(host, rng=1, kind="sinusoidal").meta["injected"]["kind"] == "sinusoidal"
    with pytest.raises(ValueError, match="variability kind"):
        inject_variability(host, kind="transit")
    # Arrays and functions of time work too.
    halved = inject(host, np.full(len(host), 0.5))
    np.testing.assert_allclose(halved.flux, host.flux * 0.5)
    assert inject(host, lambda time: np.ones_like(time)).meta["injected"]["kind"] == "<lambda>"
    with pytest.raises(ValueError, match="shape"):
        inject(host, np.ones(3))


def test_long_cadence_transits_are_integrated_over_the_exposure() -> None:
    time = np.arange(0.0, 27.0, 30 / 1440)
    host = LightCurve(time, np.ones(time.size), cadence=30 / 1440)
    parameters = draw_parameters(host, "transit", rng=2)
    assert parameters["exposure_time"] == pytest.approx(30 / 1440)


def test_zero_centred_hosts_are_refused(host: LightCurve) -> None:
    centred = host.normalize("median_mad")
    with pytest.raises(LightCurveError, match="median flux must be positive") as error:
        inject(centred, "transit", parameters=TRANSIT)
    assert host.path in str(error.value)


def test_make_injected_dataset_labels_and_balance(host_paths: list[Path]) -> None:
    dataset = make_injected_dataset(host_paths, n_per_host=2, positive_fraction=0.5, seed=4, input_length=128)
    assert len(dataset) == 12
    assert dataset.task == "binary" and dataset.label_names == ("negative", "positive")
    assert list(dataset.class_counts()) == [6, 6]
    # Every host appears once with a transit and once without, under its own target id.
    by_host: dict[str, list[str]] = {}
    for index in range(len(dataset)):
        lc = dataset.light_curve(index)
        label = "positive" if int(dataset[index][1]) == 1 else "negative"
        by_host.setdefault(dataset.target_ids[index], []).append(label)
        if label == "positive":
            assert lc.meta["injected"]["kind"] == "transit"
        else:
            assert "injected" not in lc.meta
    assert all(sorted(labels) == ["negative", "positive"] for labels in by_host.values())
    assert len(by_host) == 6

    with_false_positives = make_injected_dataset(
        host_paths, negative="eclipsing_binary", seed=4, input_length=128,
        parameter_ranges={"transit": {"radius_ratio": 0.2}, "eclipsing_binary": {"primary_depth": 0.4}},
    )
    assert len(with_false_positives) == 6 and list(with_false_positives.class_counts()) == [3, 3]
    for index in range(6):
        injected = with_false_positives.light_curve(index).meta["injected"]
        if injected["kind"] == "transit":
            assert injected["radius_ratio"] == 0.2
        else:
            assert injected["kind"] == "eclipsing_binary" and injected["primary_depth"] == 0.4
    # Flat ranges apply to the positive kind; in-memory hosts work as well.
    hosts = [read_light_curve(path) for path in host_paths[:2]]
    in_memory = make_injected_dataset(hosts, positive="heartbeat", positive_fraction=1.0,
                                      parameter_ranges={"amplitude": 0.01}, input_length=128)
    assert in_memory.light_curve(0).meta["injected"]["amplitude"] == 0.01
    assert in_memory.target_ids[0] == hosts[0].target_id
    with pytest.raises(ValueError, match="unknown signal kind"):
        make_injected_dataset(host_paths, positive="planet")


def test_injector_is_deterministic_and_works_in_dataloader_workers(host_paths: list[Path]) -> None:
    dataset = make_injected_dataset(host_paths, n_per_host=2, seed=9, input_length=128)
    first = dataset.light_curve(3)
    again = dataset.light_curve(3)
    np.testing.assert_array_equal(first.flux, again.flux)
    # A different seed draws different signals for the same items.
    other = make_injected_dataset(host_paths, n_per_host=2, seed=10, input_length=128)
    positives = [i for i in range(len(dataset)) if int(dataset[i][1]) == 1]
    assert any(
        dataset.light_curve(i).meta.get("injected") != other.light_curve(i).meta.get("injected") for i in positives
    )
    in_process = torch.stack([dataset[i][0] for i in range(len(dataset))])
    loader = DataLoader(dataset, batch_size=4, num_workers=2, shuffle=False)
    batches = list(loader)
    inputs = torch.cat([x for x, _ in batches])
    labels = torch.cat([y for _, y in batches])
    assert inputs.shape == (12, 128) and labels.shape[0] == 12
    # Workers (separate processes) draw exactly the signals the main process draws.
    torch.testing.assert_close(inputs, in_process)

    injector = Injector(seed=9)
    assert pickle.loads(pickle.dumps(injector)).seed == 9
    plain = injector(host_paths[0])
    assert "injected" not in plain.meta and plain.path == str(host_paths[0])
    source = InjectionSource(host_paths[0], "transit", 5)
    assert str(source).endswith("+ transit") and source.path == str(host_paths[0])
