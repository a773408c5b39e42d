"""ql.Model: the one description of a trained model, its one scoring path, its one compatibility check,
and the old names (BundleInfo, ModelInfo, qusi_lab.training.bundle) that keep working with a warning."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import qusi_lab as ql
from qusi_lab.data import LightCurveDataset
from qusi_lab.data.labels import positive_class_of
from qusi_lab.models import Hadryss, Model, as_model, load_bundle_info
from qusi_lab.transforms import default_preprocessing

LENGTH = 256
SMALL = {"filters": (4, 4, 8, 8, 8, 8), "dense_units": (8,)}


def curves(count: int, seed: int = 0) -> tuple[list[ql.LightCurve], list[str]]:
    rng = np.random.default_rng(seed)
    result, labels = [], []
    for index in range(count):
        time = np.arange(600) / 48.0
        flux = 1.0 + rng.normal(0.0, 1e-3, time.size)
        if index % 2:
            flux[(time % 2.0) < 0.1] -= 5e-3
        result.append(ql.LightCurve(time, flux, target_id=f"TIC {seed * 1000 + index}"))
        labels.append("transit" if index % 2 else "quiet")
    return result, labels


@pytest.fixture
def model() -> Model:
    torch.manual_seed(0)
    return Model(Hadryss(input_length=LENGTH, **SMALL).eval(), task="binary", label_names=("quiet", "transit"),
                 preprocessing=default_preprocessing(LENGTH))


def test_a_model_describes_itself_and_runs_its_network(model: Model) -> None:
    assert model.positive_class == "transit" and model.input_length == LENGTH
    assert model.architecture == "hadryss" and model.model_config == model.network.config
    text = repr(model)
    assert text.startswith("Model(hadryss, binary") and "'transit'" in text and "input_length 256" in text
    x = torch.randn(3, LENGTH)
    with torch.inference_mode():
        assert torch.equal(model(x), model.network(x))
    # What a PyTorch user reaches for comes from the network.
    assert model.training is False and model.n_outputs == 1
    assert list(model.state_dict()) == list(model.network.state_dict())
    assert model.eval() is model and model.to("cpu") is model


def test_save_and_load_round_trip(model: Model, tmp_path: Path) -> None:
    folder = model.save(tmp_path / "m")
    loaded = ql.load(folder)
    assert isinstance(loaded, Model) and isinstance(loaded.network, Hadryss) and loaded.path == folder
    assert (loaded.task, loaded.label_names, loaded.positive_class) == ("binary", ("quiet", "transit"), "transit")
    assert loaded.preprocessing == model.preprocessing and loaded.qusi_lab_version == ql.__version__
    x = torch.randn(4, LENGTH)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))
    assert Model.load(folder).label_names == loaded.label_names
    description = load_bundle_info(folder)
    assert description.network is None and "no weights" in repr(description)
    with pytest.raises(ValueError, match="description without weights"):
        description(x)


def test_score_predict_infer_and_evaluate_give_the_same_scores(model: Model, tmp_path: Path) -> None:
    light_curves, labels = curves(10)
    scores = model.score(light_curves)
    assert scores.shape == (10,) and np.isfinite(scores).all() and ((scores > 0) & (scores < 1)).all()
    predicted = model.predict(light_curves, threshold=float(np.median(scores)))
    assert set(predicted) <= {"quiet", "transit"} and (predicted == "transit").sum() == (scores >= np.median(
        scores)).sum()
    table = ql.infer(model, light_curves, num_workers=0, period_search=False, progress=False)
    by_path = dict(zip(table["path"], table["score"], strict=True))
    ordered = np.array([by_path[f"<light curve {index}>"] for index in range(10)])
    np.testing.assert_allclose(ordered, scores, rtol=1e-5, atol=1e-6)  # infer folds batch norm: float noise
    dataset = LightCurveDataset.from_light_curves(light_curves, labels, label_names=["quiet", "transit"],
                                                  preprocessing=model.preprocessing)
    evaluated = ql.evaluate(model, dataset).scores.sort_values("index")["score"].to_numpy()
    np.testing.assert_array_equal(evaluated, scores)


def test_score_marks_curves_it_cannot_read(model: Model, tmp_path: Path) -> None:
    light_curves, _ = curves(3)
    broken = tmp_path / "broken.csv"
    broken.write_text("time,flux\n1,2\n")
    with pytest.warns(UserWarning, match="broken.csv: not scored"):
        scores = model.score([light_curves[0], broken, light_curves[1]])
    assert np.isfinite(scores[[0, 2]]).all() and np.isnan(scores[1])
    with pytest.warns(UserWarning):
        assert model.predict([broken, light_curves[2]])[0] is None


def test_check_is_the_one_compatibility_check(model: Model) -> None:
    light_curves, labels = curves(6)
    preprocessing = model.preprocessing
    swapped = LightCurveDataset.from_light_curves(light_curves, labels, label_names=["transit", "quiet"],
                                                  positive_class="quiet", preprocessing=preprocessing)
    with pytest.raises(ValueError, match=r"the model's classes \['quiet', 'transit'\] differ from the dataset's"):
        model.check(swapped)
    regression = LightCurveDataset.from_light_curves(light_curves, [0.5 * i for i in range(6)],
                                                     preprocessing=preprocessing)
    with pytest.raises(ValueError, match="trained for a binary task but the dataset is a regression task"):
        model.check(regression)
    longer = LightCurveDataset.from_light_curves(light_curves, labels, input_length=512)
    with pytest.raises(ValueError, match="takes inputs of length 256 but the dataset makes 512"):
        model.check(longer)
    with pytest.raises(ValueError, match="takes inputs of length 256 but the training set makes 512"):
        model.check(longer, role="training set")
    other = LightCurveDataset.from_light_curves(light_curves, labels, input_length=LENGTH,
                                                preprocessing=default_preprocessing(LENGTH).set_params(
                                                    "Normalize", method="standard"))
    with pytest.warns(UserWarning, match="preprocessing differs"):
        model.check(other)
    three = Model(Hadryss(input_length=LENGTH, n_outputs=3, **SMALL), task="binary")
    with pytest.raises(ValueError, match="3 outputs but a binary task"):
        three.check(LightCurveDataset.from_light_curves(light_curves, labels, preprocessing=preprocessing))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.check(LightCurveDataset.from_light_curves(light_curves, labels, preprocessing=preprocessing))


def test_the_positive_class_is_decided_in_one_place() -> None:
    assert positive_class_of("binary", ["quiet", "transit"]) == "transit"
    assert positive_class_of("binary", ["positive", "negative"], in_output_order=False) == "positive"
    assert positive_class_of("binary", ["positive", "negative"]) == "negative"  # the class of the single logit
    assert positive_class_of("binary", [], "transit") == "transit"
    assert positive_class_of("binary", []) == "positive"
    assert positive_class_of("multiclass", ["a", "b", "c"]) is None
    assert positive_class_of("regression", []) is None
    # Datasets, models and bare networks all ask it.
    light_curves, labels = curves(4)
    assert LightCurveDataset.from_light_curves(light_curves, labels).positive_class == "transit"
    assert Model(Hadryss(input_length=LENGTH, **SMALL), task="binary", label_names=("a", "b")).positive_class == "b"
    assert as_model(Hadryss(input_length=LENGTH, **SMALL)).positive_class == "positive"


def test_as_model_reads_a_trained_network_and_guesses_for_a_bare_one(model: Model) -> None:
    network = Hadryss(input_length=LENGTH, **SMALL)
    network.bundle = model  # what train() leaves on the network it was given
    described = as_model(network)
    assert described.network is network and described.label_names == ("quiet", "transit")
    assert as_model(model) is model
    bare = as_model(Hadryss(input_length=LENGTH, n_outputs=3, **SMALL))
    assert bare.task == "multiclass" and bare.label_names == ("class_0", "class_1", "class_2")
    with pytest.raises(ValueError, match="carries no description"):
        as_model(Hadryss(input_length=LENGTH, **SMALL), strict=True)
    with pytest.raises(TypeError, match="must be a qusi_lab Model"):
        as_model(42)


def test_candidate_table_saves_object_first(model: Model, tmp_path: Path) -> None:
    light_curves, _ = curves(4)
    table = ql.infer(model, light_curves, num_workers=0, period_search=False, progress=False)
    for name in ("c.csv", "c.parquet"):
        path = table.save(tmp_path / name)
        again = ql.CandidateTable.load(path)
        assert list(again["score"]) == pytest.approx(list(table["score"]))
        assert again.attrs["positive_class"] == "transit"


def test_one_progress_bar() -> None:
    from qusi_lab.progress import ProgressBar
    from qusi_lab.training.progress import ProgressBar as TrainingProgressBar

    assert TrainingProgressBar is ProgressBar


@pytest.mark.parametrize(("old", "new"), [
    ("qusi_lab.training.bundle:BundleInfo", "qusi_lab.models.trained:Model"),
    ("qusi_lab.training.bundle:load", "qusi_lab.models.bundle:load"),
    ("qusi_lab.training.bundle:save_bundle", "qusi_lab.models.bundle:save_bundle"),
    ("qusi_lab.training.bundle:BundleError", "qusi_lab.models.bundle:BundleError"),
    ("qusi_lab.training.bundle:scores_from_outputs", "qusi_lab.models.trained:scores_from_outputs"),
    ("qusi_lab.training:BundleInfo", "qusi_lab.models.trained:Model"),
    ("qusi_lab.inference:ModelInfo", "qusi_lab.models.trained:Model"),
    ("qusi_lab.inference.infer:ModelInfo", "qusi_lab.models.trained:Model"),
])
def test_moved_names_warn_and_return_the_new_object(old: str, new: str) -> None:
    import importlib

    old_module, old_name = old.split(":")
    new_module, new_name = new.split(":")
    with pytest.warns(DeprecationWarning, match="will be removed in 0.2"):
        value = getattr(importlib.import_module(old_module), old_name)
    assert value is getattr(importlib.import_module(new_module), new_name)


def test_model_info_and_model_bundle_are_deprecated(model: Model) -> None:
    from qusi_lab.inference import model_info

    with pytest.warns(DeprecationWarning, match="as_model"):
        info = model_info(model.network, preprocessing=model.preprocessing, task="binary")
    assert isinstance(info, Model) and info.input_length == LENGTH
    with pytest.warns(DeprecationWarning, match="model.bundle"):
        assert model.bundle is model


def test_save_bundle_takes_the_model_first_and_the_old_order_warns(tmp_path: Path) -> None:
    from qusi_lab.models import save_bundle

    torch.manual_seed(3)
    network = Hadryss(input_length=LENGTH, filters=(4, 4, 8, 8, 8, 8), dense_units=(8,))
    settings = dict(task="binary", label_names=["negative", "positive"], preprocessing=default_preprocessing(LENGTH))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the documented order is silent
        new = save_bundle(network, tmp_path / "new", **settings)
    with pytest.warns(DeprecationWarning, match=r"save_bundle\(model, path\)"):
        old = save_bundle(tmp_path / "old", network, **settings)
    assert (new, old) == (tmp_path / "new", tmp_path / "old")
    assert (new / "model.pt").read_bytes() == (old / "model.pt").read_bytes()
    assert ql.load(old).label_names == ql.load(new).label_names == ("negative", "positive")
