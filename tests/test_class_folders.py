"""Class folders of an experiment: every split has the same ones, and a classifier needs at least two.

A class folder that exists in one split only (``validation/planet`` beside ``train/positive``) used to
turn a binary task into a 3-class one that trained on zero curves of a class and exited 0.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from qusi_lab.data import DatasetLayoutError, LightCurveDataset
from qusi_lab.data.labels import encode_labels, infer_task
from qusi_lab.errors import LabelError, QusiLabError


def _write_curve(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    time = np.linspace(0.0, 27.0, 400)
    np.savez(path, time=time, flux=1.0 + 1e-3 * rng.standard_normal(time.size))


def _experiment(root: Path, layout: dict[str, tuple[str, ...]]) -> Path:
    """``root/split/class/star_i.npz``, two curves per class folder."""
    seed = 0
    for split, classes in layout.items():
        for name in classes:
            for _ in range(2):
                seed += 1
                _write_curve(root / split / name / f"tic_{seed}.npz", seed)
    return root


def test_matching_class_folders_load(tmp_path):
    root = _experiment(tmp_path / "DATA", {split: ("negative", "positive") for split in ("train", "validation", "test")})
    datasets = LightCurveDataset.from_experiment(root)
    assert {name: dataset.task for name, dataset in datasets.items()} == dict.fromkeys(
        ("train", "validation", "test"), "binary")
    assert all(dataset.label_names == ("negative", "positive") for dataset in datasets.values())


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        (
            {"train": ("negative", "positive"), "validation": ("negative", "planet")},
            "DATA/validation has classes {negative, planet} but DATA/train has {negative, positive}: "
            "every split needs the same class folders",
        ),
        (  # a test split missing a class gives meaningless per-class metrics: the same rule
            {"train": ("negative", "positive"), "validation": ("negative", "positive"), "test": ("positive",)},
            "DATA/test has classes {positive} but DATA/train has {negative, positive}: "
            "every split needs the same class folders",
        ),
        (
            {"train": ("negative", "positive"), "validation": ("negative", "positive", "planet")},
            "DATA/validation has classes {negative, planet, positive} but DATA/train has {negative, positive}",
        ),
    ],
    ids=["validation-renamed", "test-missing-one", "validation-extra"],
)
def test_splits_with_different_class_folders_are_an_error(tmp_path, monkeypatch, layout, expected):
    monkeypatch.chdir(tmp_path)
    _experiment(tmp_path / "DATA", layout)
    with pytest.raises(DatasetLayoutError) as info:
        LightCurveDataset.from_experiment("DATA")
    assert expected in str(info.value)


@pytest.mark.parametrize(
    "layout",
    [
        {"train": ("positive",), "validation": ("positive",)},
        {"train": ("positive",), "validation": ("negative", "positive")},
    ],
    ids=["everywhere", "train-only"],
)
def test_one_class_folder_in_train_is_a_clear_error(tmp_path, monkeypatch, layout):
    monkeypatch.chdir(tmp_path)
    _experiment(tmp_path / "DATA", layout)
    with pytest.raises(DatasetLayoutError) as info:
        LightCurveDataset.from_experiment("DATA")
    assert "DATA/train has one class folder (positive): a classifier needs at least two" in str(info.value)


def test_one_class_name_is_a_label_error_not_a_model_error():
    # Before: label_names of one class inferred a "multiclass" task that failed only when the model was built.
    with pytest.raises(LabelError, match="at least two"):
        infer_task(["positive", "positive"], label_names=["positive"])
    with pytest.raises(QusiLabError, match="at least two"):
        encode_labels(["positive"], sources=["a.fits"], label_names=["positive"])


def test_regression_experiments_keep_their_own_targets(tmp_path):
    # Folders named by target value are a regression layout: splits need not share values.
    root = _experiment(tmp_path / "DATA", {"train": ("0.5", "1.5"), "validation": ("0.7",)})
    datasets = LightCurveDataset.from_experiment(root, task="regression")
    assert datasets["train"].task == datasets["validation"].task == "regression"


def test_val_folder_is_named_in_the_error(tmp_path):
    root = _experiment(tmp_path / "DATA", {"train": ("negative", "positive"), "val": ("negative", "planet")})
    shutil.rmtree(root / "val" / "negative")
    with pytest.raises(DatasetLayoutError, match=r"DATA/val has classes \{planet\}"):
        LightCurveDataset.from_experiment(root)
