"""A heartbeat search's candidate table in the vetting panel, driven as a user would (issue 15, item 4).

The table carries what a heartbeat search gives (CONTRACT15: ``period``, ``epoch`` = a periastron time,
``heartbeat_amplitude_ppm``, ``heartbeat_snr``, ``heartbeat_eccentricity``, ``heartbeat_passages``,
``attrs["period_method"] = "heartbeat"``), here filled from the injected truth of a synthetic sector written
to real SPOC files, saved to CSV (+ ``.meta.json``) and opened by file. The panel must open it in the
heartbeat view folded at the table's period with the periastra at the table's epoch, show heartbeat fields and
no transit ones, fit the Kumar et al. model from the table's orbit, and keep the period box and the verdicts
working.
"""

from __future__ import annotations

import json
import math
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest

from qusi_lab.inference import read_candidates, save_candidates
from qusi_lab.vetting import read_verdicts
from qusi_lab.vetting.panel import VettingPanel
from qusi_lab.vetting.views import is_heartbeat_table

T = TypeVar("T")

TRANSIT_WORDS = ("duration", "depth", "odd/even", "dip away from transit", "transit ")


def must(value: T | None) -> T:
    assert value is not None
    return value


@pytest.fixture(scope="module")
def sector(tmp_path_factory):
    from qusi_lab.synthetic import make_sector

    root = tmp_path_factory.mktemp("heartbeat_table")
    result = make_sector(root / "data", n_stars=4, seed=7, num_workers=1,
                         mix={"heartbeat": 0.75, "quiet": 0.25})
    return {"root": root, "data": root / "data", "truth": result.truth}


def heartbeat_rows(sector) -> pd.DataFrame:
    """The table a heartbeat search would give for the sector's heartbeat stars (its values from the truth)."""
    rows = []
    truth = sector["truth"]
    heartbeats = truth[truth.label == "heartbeat"].sort_values("snr", ascending=False)
    for rank, (_, star) in enumerate(heartbeats.iterrows()):
        signal = json.loads(star.parameters)["signals"][0]
        rows.append({"path": str(sector["data"] / star.path), "target_id": star.target_id, "mission": "TESS",
                     "sector": 1, "score": 0.9 - 0.1 * rank, "period": star.period, "epoch": star.epoch,
                     "heartbeat_amplitude_ppm": signal["amplitude"] * 1e6, "heartbeat_snr": star.snr,
                     "heartbeat_eccentricity": round(signal["eccentricity"], 1),  # a search's coarse grid
                     "heartbeat_passages": int(star.n_events)})
    assert len(rows) >= 2
    return pd.DataFrame(rows)


@pytest.fixture
def table_file(sector, tmp_path):
    table = heartbeat_rows(sector)
    table.attrs["period_method"] = "heartbeat"
    table.attrs["positive_class"] = "positive"  # a binary model's table: only the search says heartbeat
    return save_candidates(table, tmp_path / "heartbeat_candidates.csv")


@pytest.fixture
def panel(table_file, tmp_path):
    built = VettingPanel(table_file, labels=tmp_path / "labels.csv", model=None, preload=0)
    yield built
    built.close()


def test_a_heartbeat_table_opens_in_the_heartbeat_view_folded_at_its_period(panel, table_file, sector):
    row = read_candidates(table_file).iloc[0]
    assert read_candidates(table_file).attrs["period_method"] == "heartbeat"
    assert must(panel.queue.current).target_id == row.target_id
    assert panel.mode_buttons.value == "heartbeat"
    folded = must(panel._folded)
    assert folded.period == pytest.approx(row.period) and folded.epoch == pytest.approx(row.epoch)
    title = panel.figures.fold.title.text
    assert f"P = {row.period:.5g} d" in title and "periastron at phase 0" in title
    assert not panel.figures.zoom_row.visible and not panel.figures.checks.visible
    # The predicted periastra in the light curve are the table's: epoch + n * period.
    markers = np.asarray(panel.figures.sources["markers"].data["x"], dtype=np.float64)
    cycles = (markers - row.epoch) / row.period
    assert markers.size >= 2
    np.testing.assert_allclose(cycles, np.round(cycles), atol=1e-4)  # float32 in the browser's data
    assert panel.figures.light_curve_legend.items[2].label.value == "predicted periastra"

    card = panel.metadata.value
    assert f"P {row.period:.6g} d · periastron " in card and "(heartbeat search)" in card
    assert f"amplitude {row.heartbeat_amplitude_ppm:,.0f} ppm" in card
    assert f"significance {row.heartbeat_snr:.1f}σ" in card and f"e {row.heartbeat_eccentricity:.2f}" in card
    assert f"{row.heartbeat_passages} periastron passages" in card
    fields = card.split("Injected truth")[0]  # the truth box below may name a depth: it is the injection's
    for word in TRANSIT_WORDS:
        assert word not in fields, word


def test_the_fit_starts_from_the_table_and_lies_on_the_injected_model(panel, sector):
    folded = must(panel._folded)
    fit = must(folded.fit)
    truth = sector["truth"].set_index("target_id").loc[must(panel.queue.current).target_id]
    signal = json.loads(truth.parameters)["signals"][0]
    assert abs(fit.eccentricity - signal["eccentricity"]) < 0.05
    phase_error = abs((fit.epoch_periastron - truth.epoch) / truth.period + 0.5) % 1.0 - 0.5
    assert abs(phase_error) < 0.01
    assert fit.explained > 0.5 and "heartbeat model: e " in panel.metadata.value
    model_x, model_y = (np.asarray(panel.figures.sources["model"].data[name], dtype=np.float64) for name in "xy")
    fit_x, fit_y = (np.asarray(panel.figures.sources["fit"].data[name], dtype=np.float64) for name in "xy")
    line = np.interp(fit_x, model_x, model_y)
    difference = (fit_y - np.median(fit_y)) - (line - np.median(line))
    assert np.sqrt(np.mean(difference**2)) < 0.1 * np.ptp(model_y)


def test_the_period_box_and_buttons_still_fold_and_verdicts_are_saved(panel, table_file):
    table = read_candidates(table_file)
    first, second = table.iloc[0], table.iloc[1]
    panel.period_buttons["×2"].click()
    assert f"P = {2 * first.period:.5g} d" in panel.figures.fold.title.text
    assert "(2 × table period)" in panel.period_label.value
    assert must(panel._folded).epoch == pytest.approx(first.epoch)  # still the periastron at phase 0
    typed = round(1.37 * first.period, 4)
    panel.period_text.value = f"{typed}"
    assert must(panel._folded).period == pytest.approx(typed) and f"P = {typed:.5g} d" in panel.figures.fold.title.text
    panel.period_text.value = "a week"
    assert "is not a period" in panel.period_label.value and must(panel._folded).period == pytest.approx(typed)
    panel.table_period_button.click()
    assert must(panel._folded).period == pytest.approx(first.period)

    panel.note.value = "clear pulse every orbit"
    panel.verdict_buttons[0].click()
    records = read_verdicts(panel.store.path, latest=False)
    assert list(records.verdict) == [panel.queue.verdicts[0]]
    assert records.iloc[0].target_id == first.target_id and records.iloc[0].note == "clear pulse every orbit"
    # On to the next heartbeat candidate, at its own table period and periastron.
    assert must(panel.queue.current).target_id == second.target_id
    assert must(panel._folded).period == pytest.approx(second.period)
    assert must(panel._folded).epoch == pytest.approx(second.epoch)
    assert f"{second.heartbeat_passages} periastron passage" in panel.metadata.value


def test_heartbeat_columns_alone_make_a_heartbeat_table(sector, tmp_path):
    """A table written without its .meta.json (attrs lost) is still recognised by its heartbeat_* columns."""
    table = heartbeat_rows(sector)
    table.loc[0, "heartbeat_passages"] = 1  # a single passage: the period is a guess, and the card says so
    path = tmp_path / "bare.csv"
    table.to_csv(path, index=False)
    assert is_heartbeat_table(read_candidates(path)) and not read_candidates(path).attrs
    panel = VettingPanel(path, labels=tmp_path / "labels.csv", model=None, preload=0)
    assert panel.mode_buttons.value == "heartbeat" and must(panel._folded).centre == "periastron"
    assert "significance" in panel.metadata.value
    assert "1 periastron passage: the period is only guessed from the pulse" in panel.metadata.value
    panel.mode_buttons.value = "transit"  # the user may still look at it as a transit
    assert panel.figures.zoom_row.visible and "duration" not in panel.metadata.value
    panel.close()


def test_a_transit_table_of_the_same_stars_is_folded_as_before(sector, tmp_path):
    """The same rows without heartbeat columns, period_method "bls": the feature-centred fold and transit
    fields of a transit search's table, as before issue 15."""
    table = heartbeat_rows(sector).drop(columns=[name for name in heartbeat_rows(sector).columns
                                                 if name.startswith("heartbeat_")])
    table["duration_hours"] = 3.0
    table.attrs["period_method"] = "bls"
    assert not is_heartbeat_table(table)
    panel = VettingPanel(table, tmp_path / "labels.csv", model=None, preload=0)
    assert panel.mode_buttons.value == "transit" and "duration 3.00 h" in panel.metadata.value
    assert "odd/even" in panel.metadata.value and "significance" not in panel.metadata.value
    panel.mode_buttons.value = "heartbeat"
    folded = must(panel._folded)
    assert folded.centre == "feature" and "periastron feature at phase 0" in panel.figures.fold.title.text
    assert math.isfinite(folded.epoch)
    panel.close()


def _has_heartbeat_search() -> bool:
    import qusi_lab.inference

    return hasattr(qusi_lab.inference, "search_heartbeat")


@pytest.mark.skipif(not _has_heartbeat_search(), reason="this qusi_lab has no heartbeat search")
def test_a_heartbeat_row_without_a_period_gets_the_panels_own_heartbeat_search(tmp_path):
    """A row the table's search left without a period (or a heartbeat model's table without periods) is
    searched by the panel with the heartbeat search, not box least squares, and said so in the card."""
    from qusi_lab.synthetic import synthetic_light_curve

    orbit = {"period": 5.0, "eccentricity": 0.55, "inclination": 70.0, "argument_of_periastron": 60.0,
             "amplitude": 4e-3, "epoch_periastron": 1326.3}
    star = synthetic_light_curve("heartbeat", seed=4, tess_mag=9.0, parameters=orbit)
    from qusi_lab.inference import search_heartbeat  # type: ignore[attr-defined,unused-ignore]

    expected = search_heartbeat(star.remove_nans())
    curves = {"star.fits": star}
    searched = pd.DataFrame({"path": ["star.fits"], "target_id": ["TIC 1"], "score": [0.9],
                             "period": [math.nan], "epoch": [math.nan], "heartbeat_snr": [math.nan]})
    searched.attrs["period_method"] = "heartbeat"
    unsearched = pd.DataFrame({"path": ["star.fits"], "target_id": ["TIC 1"], "score": [0.9]})
    unsearched.attrs["positive_class"] = "heartbeat"
    for number, table in enumerate((searched, unsearched)):
        panel = VettingPanel(table, tmp_path / f"labels{number}.csv", model=None, preload=0, load=curves.__getitem__)
        assert panel.period_method == "heartbeat" and panel.mode_buttons.value == "heartbeat"
        view = must(panel._view)
        assert view.period_source == "heartbeat search (panel)" and view.period_method == "heartbeat"
        assert view.period == pytest.approx(orbit["period"], rel=0.01)
        assert (view.period, view.epoch) == pytest.approx((expected.period, expected.epoch))  # the search's own
        assert view.heartbeat["snr"] == pytest.approx(expected.snr)
        assert "(heartbeat search (panel))" in panel.metadata.value and "significance" in panel.metadata.value
        assert must(panel._folded).centre == "periastron"
        panel.close()
    # A transit model's table without periods keeps box least squares, as before.
    transit = unsearched.copy()
    transit.attrs = {"positive_class": "planet"}
    panel = VettingPanel(transit, tmp_path / "labels2.csv", model=None, preload=0, load=curves.__getitem__)
    assert panel.period_method == "bls" and must(panel._view).period_source == "box least squares (panel)"
    panel.close()
