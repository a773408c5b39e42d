"""Saved model bundles: save, load, and the refusals (corrupt files, incompatible versions)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import qusi_lab as ql
from qusi_lab.data import LightCurveDataset
from qusi_lab.models import Hadryss, ResNet1D
from qusi_lab.models.bundle import BUNDLE_FORMAT_VERSION
from qusi_lab.training import BundleError, bundle_of, evaluate, load, load_bundle_info, save_bundle, train
from qusi_lab.transforms import Normalize, default_preprocessing

LENGTH = 256
SMALL: dict[str, Any] = {"filters": (8, 8, 16, 16, 32, 32), "dense_units": (16,)}


def curves(count: int, seed: int) -> tuple[list[ql.LightCurve], list[str]]:
    rng = np.random.default_rng(seed)
    result, labels = [], []
    for index in range(count):
        time = np.arange(800) / 48.0
        flux = 1.0 + rng.normal(0.0, 1e-3, time.size)
        transit = index % 2 == 1
        if transit:
            flux[((time - rng.uniform(0, 3)) % rng.uniform(1.0, 3.0)) < 0.15] -= 4e-3
        result.append(ql.LightCurve(time, flux, target_id=f"TIC {seed * 1000 + index}"))
        labels.append("transit" if transit else "quiet")
    return result, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    preprocessing = default_preprocessing(LENGTH).set_params("Normalize", method="standard")
    train_curves, train_labels = curves(60, seed=1)
    validation_curves, validation_labels = curves(30, seed=2)
    options = dict(preprocessing=preprocessing, label_names=["quiet", "transit"], positive_class="transit")
    train_set = LightCurveDataset.from_light_curves(train_curves, train_labels, **options)
    validation_set = LightCurveDataset.from_light_curves(validation_curves, validation_labels, **options)
    torch.manual_seed(0)
    result = train(
        Hadryss(input_length=LENGTH, **SMALL),
        train_set,
        validation_set,
        max_steps=30,
        batch_size=16,
        validation_every=15,
        progress=False,
    )
    folder = result.save(tmp_path_factory.mktemp("bundles") / "transits")
    yield result, folder, validation_set
    torch.set_num_threads(threads)


def test_round_trip_gives_the_same_outputs_and_information(trained) -> None:
    result, folder, validation_set = trained
    assert sorted(path.name for path in folder.iterdir()) == ["bundle.json", "model.pt"]
    model = load(folder)
    assert isinstance(model, ql.Model) and isinstance(model.network, Hadryss) and not model.training
    x = torch.stack([validation_set[i][0] for i in range(8)])
    with torch.inference_mode():
        assert torch.equal(model(x), result.model(x))
    info = bundle_of(model)
    assert info.task == "binary"
    assert info.label_names == ("quiet", "transit") and info.positive_class == "transit"
    assert info.input_length == LENGTH
    assert info.preprocessing == bundle_of(result.model).preprocessing
    assert info.preprocessing[info.preprocessing.index("Normalize")] == Normalize(method="standard")
    assert info.architecture == "hadryss" and info.model_config == result.model.config
    assert info.metrics["auc_roc"] == pytest.approx(result.best_metrics["auc_roc"])
    assert info.training_config["max_steps"] == 30 and info.training_config["best_step"] == result.best_step
    assert info.qusi_lab_version == ql.__version__ and info.format_version == BUNDLE_FORMAT_VERSION
    assert info.path == folder and info.created
    # The restored preprocessing builds the inputs the network was trained on.
    raw = validation_set.light_curve(3)
    np.testing.assert_array_equal(info.preprocessing.to_array(raw), validation_set[3][0].numpy())
    # A loaded model evaluates like the trained one.
    assert evaluate(model, validation_set).metrics == evaluate(result.model, validation_set).metrics


def test_bundle_json_is_strict_json(trained) -> None:
    _, folder, _ = trained

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads((folder / "bundle.json").read_text(), parse_constant=refuse)
    assert data["format_version"] == BUNDLE_FORMAT_VERSION
    assert data["preprocessing"]["steps"][0]["name"] == "RemoveNonFinite"


def test_save_bundle_with_explicit_information(tmp_path) -> None:
    torch.manual_seed(1)
    model = ResNet1D(input_length=LENGTH, n_outputs=1).eval()
    folder = save_bundle(
        model,
        tmp_path / "depths",
        task="regression",
        preprocessing=default_preprocessing(LENGTH),
        target_scaler={"mean": 4.2, "std": 1.5},
        metrics={"r2": float("nan")},
    )
    loaded = load(folder / "bundle.json")  # the path of the JSON file works too
    assert bundle_of(loaded).task == "regression" and bundle_of(loaded).label_names == ()
    assert bundle_of(loaded).target_scaler == {"mean": 4.2, "std": 1.5}
    assert np.isnan(bundle_of(loaded).metrics["r2"])
    x = torch.randn(4, LENGTH)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))


def copy_bundle(folder: Path, destination: Path) -> Path:
    destination.mkdir()
    for name in ("bundle.json", "model.pt"):
        (destination / name).write_bytes((folder / name).read_bytes())
    return destination


def reseal(folder: Path) -> None:
    """Recompute the recorded checksums, as a bundle genuinely saved with this content would have."""
    from qusi_lab.models.bundle import _description_digest

    data = json.loads((folder / "bundle.json").read_text())
    data["checksums"] = {"model.pt": hashlib.sha256((folder / "model.pt").read_bytes()).hexdigest(),
                         "bundle.json": _description_digest(data)}
    (folder / "bundle.json").write_text(json.dumps(data))


def edit_json(folder: Path, **changes) -> None:
    """Change bundle.json as if the bundle had been saved so (checksums recomputed)."""
    data = json.loads((folder / "bundle.json").read_text())
    data.update(changes)
    (folder / "bundle.json").write_text(json.dumps(data))
    reseal(folder)


@pytest.mark.parametrize("saved_version", ["0.2.0", "1.0.0", "0.0.9"])
def test_incompatible_version_is_refused_with_both_versions_named(trained, tmp_path, saved_version) -> None:
    folder = copy_bundle(trained[1], tmp_path / "old")
    edit_json(folder, qusi_lab_version=saved_version)
    with pytest.raises(BundleError) as error:
        load(folder)
    message = str(error.value)
    assert f"qusi_lab {saved_version}" in message and f"qusi_lab {ql.__version__}" in message
    assert str(folder / "bundle.json") in message


def test_compatible_patch_version_loads(trained, tmp_path) -> None:
    major, minor, _ = ql.__version__.split(".")[:3]
    folder = copy_bundle(trained[1], tmp_path / "patch")
    edit_json(folder, qusi_lab_version=f"{major}.{minor}.99")
    assert bundle_of(load(folder)).qusi_lab_version == f"{major}.{minor}.99"


def test_unknown_format_is_refused(trained, tmp_path) -> None:
    folder = copy_bundle(trained[1], tmp_path / "future")
    edit_json(folder, format_version=BUNDLE_FORMAT_VERSION + 1)
    with pytest.raises(BundleError, match=f"bundle format {BUNDLE_FORMAT_VERSION + 1}"):
        load(folder)


def test_corrupt_bundle_json_names_the_file(trained, tmp_path) -> None:
    folder = copy_bundle(trained[1], tmp_path / "corrupt")
    (folder / "bundle.json").write_text('{"format_version": 1, "task": "bin')  # truncated
    with pytest.raises(BundleError) as error:
        load_bundle_info(folder)
    assert str(folder / "bundle.json") in str(error.value)
    edit_target = copy_bundle(trained[1], tmp_path / "no_task")
    data = json.loads((edit_target / "bundle.json").read_text())
    del data["task"]
    (edit_target / "bundle.json").write_text(json.dumps(data))
    with pytest.raises(BundleError, match="missing task"):
        load(edit_target)


def test_weight_problems_name_the_weights_file(trained, tmp_path) -> None:
    truncated = copy_bundle(trained[1], tmp_path / "truncated")
    data = (truncated / "model.pt").read_bytes()
    (truncated / "model.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="model.pt: its sha256 differs .* damaged or was edited"):
        load(truncated)
    reseal(truncated)  # a truncated file whose checksum was recorded anyway still fails to load
    with pytest.raises(BundleError, match="model.pt: cannot load the weights"):
        load(truncated)
    missing = copy_bundle(trained[1], tmp_path / "missing")
    (missing / "model.pt").unlink()
    with pytest.raises(BundleError, match="no weights file"):
        load(missing)


class PickledState(dict):
    """A state dict as an arbitrary class: fine for load_state_dict, but unpickling it would run code."""


def test_weights_are_loaded_without_unpickling_code(trained, tmp_path) -> None:
    folder = copy_bundle(trained[1], tmp_path / "pickled")
    state = torch.load(folder / "model.pt", weights_only=True)
    torch.save(PickledState(state), folder / "model.pt")
    reseal(folder)  # whoever planted the file also rewrote the checksum: weights_only still protects
    with pytest.raises(
        BundleError, match=r"model.pt: cannot load the weights \(UnpicklingError: Weights only load"
    ):
        load(folder)


def test_not_a_bundle(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such model bundle"):
        load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match="has no bundle.json"):
        load(tmp_path / "empty")


def test_models_that_cannot_be_rebuilt_are_refused(tmp_path) -> None:
    class Custom(Hadryss):  # not registered: load() would rebuild a plain Hadryss
        pass

    with pytest.raises(BundleError, match="registered"):
        save_bundle(Custom(input_length=LENGTH, **SMALL), tmp_path / "custom", task="binary")
    with pytest.raises(BundleError, match="config"):
        save_bundle(torch.nn.Linear(3, 1), tmp_path / "linear", task="binary")


def test_evaluate_checks_the_dataset_against_the_bundle(trained) -> None:
    _, folder, validation_set = trained
    model = load(folder)
    curves_list, labels = curves(10, seed=3)
    swapped = LightCurveDataset.from_light_curves(
        curves_list, labels, input_length=LENGTH, label_names=["transit", "quiet"], positive_class="quiet"
    )
    with pytest.raises(ValueError, match=r"classes \['quiet', 'transit'\] differ"):
        evaluate(model, swapped)
    other_preprocessing = LightCurveDataset.from_light_curves(
        curves_list, labels, input_length=LENGTH, label_names=["quiet", "transit"]
    )
    with pytest.warns(UserWarning, match="preprocessing differs"):
        evaluate(model, other_preprocessing)
    matching = LightCurveDataset.from_light_curves(
        curves_list, labels, label_names=["quiet", "transit"], preprocessing=bundle_of(model).preprocessing
    )
    assert len(evaluate(model, matching).scores) == 10
