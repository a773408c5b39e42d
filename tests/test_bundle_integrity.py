"""Damaged or edited bundles are refused with the file named; consistent old bundles still load."""

from __future__ import annotations

import errno
import hashlib
import json
import resource
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from qusi_lab.models import Hadryss
from qusi_lab.models import bundle as bundle_module
from qusi_lab.training import BundleError, load, load_bundle_info, save_bundle
from qusi_lab.transforms import default_preprocessing

LENGTH = 256
SMALL: dict[str, Any] = {"filters": (8, 8, 16, 16, 32, 32), "dense_units": (16,)}


def make_bundle(folder: Path, *, nan: bool = False, task: str = "binary", names=("quiet", "transit")) -> Path:
    torch.manual_seed(0)
    model = Hadryss(input_length=LENGTH, n_outputs=len(names) if task == "multiclass" else 1, **SMALL).eval()
    saved = save_bundle(model, folder, task=task, label_names=list(names) if task != "regression" else None,
                        preprocessing=default_preprocessing(LENGTH))
    if nan:  # save_bundle refuses NaN weights, so plant them after saving, as a diverged run's copy would
        state = {key: torch.full_like(value, float("nan")) if value.is_floating_point() else value
                 for key, value in model.state_dict().items()}
        torch.save(state, saved / "model.pt")
        rewrite(saved, description(saved), reseal=True)
    return saved


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "transits")


def description(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "bundle.json").read_text())


def rewrite(folder: Path, data: dict[str, Any], *, reseal: bool) -> None:
    """Write bundle.json; with ``reseal``, recompute the checksums as a careful editor would."""
    if reseal:
        data["checksums"] = {
            "model.pt": hashlib.sha256((folder / "model.pt").read_bytes()).hexdigest(),
            "bundle.json": bundle_module._description_digest(data),
        }
    (folder / "bundle.json").write_text(json.dumps(data, indent=2))


def edit(folder: Path, *, reseal: bool, **changes: Any) -> None:
    data = description(folder)
    data.update(changes)
    rewrite(folder, data, reseal=reseal)


def test_saved_bundle_records_checksums_and_loads_without_warning(folder: Path) -> None:
    checksums = description(folder)["checksums"]
    assert checksums["model.pt"] == hashlib.sha256((folder / "model.pt").read_bytes()).hexdigest()
    assert set(checksums) == {"model.pt", "bundle.json"}
    (folder / "bundle.json").write_text(json.dumps(description(folder), indent=4))  # layout only: still fine
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load(folder).label_names == ("quiet", "transit")


def test_flipped_bytes_in_the_weights_are_refused(folder: Path) -> None:
    data = bytearray((folder / "model.pt").read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(255 - value for value in data[middle:middle + 64])
    (folder / "model.pt").write_bytes(bytes(data))
    for reader in (load, load_bundle_info):
        with pytest.raises(bundle_module.BundleDamagedError) as caught:
            reader(folder)
        assert str(folder / "model.pt") in str(caught.value) and "damaged or was edited" in str(caught.value)


def test_swapped_label_names_are_refused(folder: Path) -> None:
    edit(folder, reseal=False, label_names=["transit", "quiet"])
    with pytest.raises(bundle_module.BundleDamagedError, match=r"bundle.json: its content does not match"):
        load(folder)


def test_task_edited_to_regression_is_refused(folder: Path) -> None:
    edit(folder, reseal=False, task="regression")
    with pytest.raises(bundle_module.BundleDamagedError, match="bundle.json"):
        load(folder)
    edit(folder, reseal=True, task="regression")  # even with checksums recomputed, it does not hold together
    with pytest.raises(BundleError, match="a regression model has no classes"):
        load(folder)


def test_positive_class_that_is_not_a_class_is_refused(folder: Path) -> None:
    edit(folder, reseal=True, positive_class="planet")
    with pytest.raises(BundleError, match=r"positive_class 'planet' is not one of the label_names"):
        load_bundle_info(folder)


def test_unknown_task_is_refused(folder: Path) -> None:
    edit(folder, reseal=True, task="bogus")
    with pytest.raises(BundleError, match=r"bundle.json: unknown task 'bogus'"):
        load(folder)


def test_class_count_must_match_the_output_layer(folder: Path) -> None:
    edit(folder, reseal=True, task="multiclass", label_names=["a", "b", "c"], positive_class=None)
    with pytest.raises(BundleError, match="the network has 1 outputs, but a multiclass model .* needs 3"):
        load(folder)


def test_edited_config_is_caught_from_shapes_without_building_a_huge_network(folder: Path) -> None:
    data = description(folder)
    data["model_config"]["filters"] = [16384] * 6
    rewrite(folder, data, reseal=True)
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    with pytest.raises(BundleError, match=r"bundle.json: model_config builds .* of shape .* but model.pt holds"):
        load(folder)
    # Built on the meta device: nothing allocated (the real network's weights would take tens of GB).
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 1024**2


def test_non_finite_weights_are_refused(tmp_path: Path) -> None:
    folder = make_bundle(tmp_path / "diverged", nan=True)
    with pytest.raises(BundleError, match=r"model.pt: the weights hold NaN or infinite values"):
        load(folder)


def test_cli_infer_with_nan_weights_fails(tmp_path: Path, capsys) -> None:
    from qusi_lab import LightCurve
    from qusi_lab.cli import main
    from qusi_lab.io import write_csv

    folder = make_bundle(tmp_path / "diverged", nan=True)
    data = tmp_path / "data"
    data.mkdir()
    time_values = np.arange(600) / 48.0
    write_csv(LightCurve(time_values, 1 + 1e-3 * np.sin(time_values), target_id="TIC 1"), data / "star.csv")
    code = main(["infer", "--model", str(folder), "--data", str(data), "--out", str(tmp_path / "c.csv"), "--quiet"])
    assert code != 0
    assert "NaN" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()


def test_bundle_without_checksums_loads_with_a_warning(folder: Path) -> None:
    data = description(folder)
    del data["checksums"]
    rewrite(folder, data, reseal=False)
    with pytest.warns(UserWarning, match="records no checksums"):
        model = load(folder)
    assert model.positive_class == "transit"


def test_bundle_without_a_version_says_so(folder: Path) -> None:
    data = description(folder)
    del data["qusi_lab_version"]
    rewrite(folder, data, reseal=True)
    with pytest.raises(BundleError) as caught:
        load(folder)
    assert "saved without a qusi_lab version" in str(caught.value) and "None" not in str(caught.value)


def test_full_disk_while_saving_keeps_the_previous_bundle(folder: Path, monkeypatch) -> None:
    before = {name: (folder / name).read_bytes() for name in ("model.pt", "bundle.json")}

    def full(descriptor: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(bundle_module.os, "fsync", full)
    torch.manual_seed(5)
    with pytest.raises(BundleError, match="no space left on device") as caught:
        save_bundle(Hadryss(input_length=LENGTH, **SMALL), folder, task="binary", label_names=["a", "b"])
    assert str(folder / "model.pt") in str(caught.value)
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert sorted(path.name for path in folder.iterdir()) == ["bundle.json", "model.pt"]


def test_non_finite_weights_are_not_saved(tmp_path: Path) -> None:
    model = Hadryss(input_length=LENGTH, filters=(4, 4, 8, 8, 8, 8), dense_units=(8,))
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    with pytest.raises(BundleError, match="not saved, the weights hold NaN"):
        save_bundle(model, tmp_path / "run", task="binary", label_names=["negative", "positive"])
    assert not (tmp_path / "run" / "model.pt").exists()
