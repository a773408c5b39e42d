"""``infer`` with the heartbeat search: a heartbeat model's candidate table carries heartbeat periods.

The curves are synthetic heartbeat stars (``qusi_lab.synthetic.synthetic_light_curve("heartbeat")``: white +
red noise, spots, the sector's gap); the model is a saved and reloaded Hadryss bundle whose positive class
is "heartbeat" (its weights do not matter here: the search runs on every curve).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from qusi_lab.inference import HEARTBEAT_COLUMNS, PERIOD_COLUMNS, infer
from qusi_lab.synthetic import synthetic_light_curve
from qusi_lab.transforms import default_preprocessing

INPUT_LENGTH = 256
TRANSIT_ONLY = ("duration_hours", "depth_ppm", "bls_snr", "bls_power", "transit_count")


def _bundle(tmp_path: Path, label_names: list[str], positive_class: str) -> Any:
    from qusi_lab.models import Hadryss
    from qusi_lab.training import load, save_bundle

    torch.manual_seed(1)
    network = Hadryss(input_length=INPUT_LENGTH, n_outputs=1)
    folder = save_bundle(network, tmp_path / positive_class, task="binary", label_names=label_names,
                         positive_class=positive_class, preprocessing=default_preprocessing(INPUT_LENGTH))
    return load(folder)


def _heartbeat_of(curve) -> dict:
    """The heartbeat signal of a synthetic star (a physical system may also carry eclipses and modes)."""
    injected = curve.meta["injected"]
    entries = injected if isinstance(injected, list) else [injected]
    return next(entry for entry in entries if entry["kind"] == "heartbeat")


@pytest.fixture(scope="module")
def heartbeat_curves() -> list:
    curves = []
    for seed, period in enumerate((3.3, 6.1, 10.4)):
        curves.append(synthetic_light_curve("heartbeat", seed=seed, snr_range=(40, 50),
                                            parameters={"period": period, "eccentricity": 0.55}))
    return curves


def test_a_heartbeat_model_table_has_heartbeat_periods(tmp_path, heartbeat_curves):
    model = _bundle(tmp_path, ["other", "heartbeat"], "heartbeat")
    table = infer(model, heartbeat_curves, period_search="auto", period_search_top=None, num_workers=0,
                  progress=False)
    assert table.attrs["period_method"] == "heartbeat"
    assert set(HEARTBEAT_COLUMNS) <= set(table.columns)
    assert not set(TRANSIT_ONLY) & set(table.columns)
    truth = {f"<light curve {index}>": _heartbeat_of(curve) for index, curve in enumerate(heartbeat_curves)}
    for _, row in table.iterrows():
        injected = truth[row["path"]]
        assert abs(row["period"] / injected["period"] - 1) < 0.01, (row["period"], injected["period"])
        offset = ((row["epoch"] - injected["epoch_periastron"]) / injected["period"]) % 1.0
        assert min(offset, 1 - offset) < 0.05
        assert row["heartbeat_snr"] > 8 and row["heartbeat_passages"] >= 2
    assert str(table["heartbeat_passages"].dtype) == "Int64"


def test_auto_keeps_bls_for_a_transit_model_and_heartbeat_can_be_asked(tmp_path, heartbeat_curves):
    transit_model = _bundle(tmp_path, ["negative", "planet"], "planet")
    table = infer(transit_model, heartbeat_curves[:1], period_search="auto", num_workers=0, progress=False)
    assert table.attrs["period_method"] == "bls" and set(PERIOD_COLUMNS) <= set(table.columns)
    asked = infer(transit_model, heartbeat_curves[:1], period_search="heartbeat", num_workers=0, progress=False,
                  period_search_options={"maximum_period": 20.0})
    assert asked.attrs["period_method"] == "heartbeat" and "heartbeat_snr" in asked
    assert asked.attrs["period_search"]["options"] == {"maximum_period": 20.0}
    none = infer(transit_model, heartbeat_curves[:1], period_search=False, num_workers=0, progress=False)
    assert none.attrs["period_method"] is None and "period" not in none
    with pytest.raises(TypeError, match="search_heartbeat takes"):
        infer(transit_model, heartbeat_curves[:1], period_search="heartbeat", num_workers=0, progress=False,
              period_search_options={"durations_hours": (1.0,)})
    with pytest.raises(ValueError, match="'heartbeat'"):
        infer(transit_model, heartbeat_curves[:1], period_search="box", num_workers=0, progress=False)


def test_the_heartbeat_table_saves_and_loads(tmp_path, heartbeat_curves):
    from qusi_lab.inference import read_candidates

    model = _bundle(tmp_path, ["other", "heartbeat"], "heartbeat")
    table = infer(model, heartbeat_curves[:2], num_workers=0, progress=False)
    back = read_candidates(table.save(tmp_path / "candidates.csv"))
    assert back.attrs["period_method"] == "heartbeat"
    assert np.allclose(back["period"], table["period"])


def test_the_command_line_asks_for_the_heartbeat_search(tmp_path, heartbeat_curves, capsys):
    from qusi_lab.cli import main
    from qusi_lab.inference import read_candidates
    from qusi_lab.io import write_spoc_fits

    data = tmp_path / "sector"
    for index, curve in enumerate(heartbeat_curves[:2]):
        write_spoc_fits(curve, data / f"tic_{index}_lc.fits", tic_id=index + 1, sector=1)
    model = _bundle(tmp_path, ["negative", "planet"], "planet")  # a transit model: "auto" would run BLS
    out = tmp_path / "candidates.csv"
    assert main(["infer", "--model", str(model.path), "--data", str(data), "--out", str(out), "--num-workers", "0",
                 "--period-search", "heartbeat", "--quiet"]) == 0
    table = read_candidates(out)
    assert table.attrs["period_method"] == "heartbeat" and "heartbeat_snr" in table and "depth_ppm" not in table
    assert "heartbeat_snr" in capsys.readouterr().out
