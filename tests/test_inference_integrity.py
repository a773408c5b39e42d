"""Inference never silently wrong: tables written atomically and safe to open in a spreadsheet,
unreadable folders reported, non-finite scores refused, and the CLI counting problems right."""

from __future__ import annotations

import errno
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from qusi_lab.inference import CandidateTable, read_candidates, save_candidates
from qusi_lab.inference.candidates import TableWriteError, metadata_path
from qusi_lab.io.spreadsheet import neutralize_formula, restore_formula


def small_table(target_ids: list[str]) -> CandidateTable:
    table = CandidateTable({
        "rank": list(range(1, len(target_ids) + 1)),
        "path": [f"star_{index}.csv" for index in range(len(target_ids))],
        "target_id": target_ids,
        "score": np.linspace(0.9, 0.1, len(target_ids)),
        "delta": [-0.5 - index for index in range(len(target_ids))],
    })
    table.attrs["task"] = "binary"
    return table


# ----------------------------------------------------------------------------- CSV injection


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_quoted_in_csv_and_read_back_unchanged(tmp_path: Path, text: str) -> None:
    table = small_table([text, "TIC 1"])
    saved = save_candidates(table, tmp_path / "candidates.csv")
    raw = pd.read_csv(saved, dtype=str, keep_default_na=False)
    assert raw["target_id"].iloc[0] == "'" + text  # a spreadsheet shows it as text, never runs it
    assert raw["target_id"].iloc[1] == "TIC 1"
    assert raw["delta"].iloc[0] == "-0.5"  # numbers, negative ones too, stay numbers
    back = read_candidates(saved)
    assert back["target_id"].tolist() == [text, "TIC 1"]
    assert back["delta"].tolist() == [-0.5, -1.5]


def test_neutralize_formula_only_touches_formula_starts() -> None:
    assert neutralize_formula("=1") == "'=1" and neutralize_formula("TIC 5") == "TIC 5"
    assert restore_formula("'t Hooft") == "'t Hooft" and restore_formula("'@x") == "@x"


# ----------------------------------------------------------------------------- full disk


def _full_disk_after_some_bytes(self: pd.DataFrame, target, *args, **kwargs) -> None:
    with open(target, "w", encoding="utf-8") as handle:
        handle.write("rank,path,target_id,score\n1,")
    raise OSError(errno.ENOSPC, "No space left on device")


def test_full_disk_leaves_the_previous_csv_and_metadata_intact(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "candidates.csv"
    save_candidates(small_table(["TIC 1", "TIC 2"]), path)
    before, meta_before = path.read_bytes(), metadata_path(path).read_bytes()
    monkeypatch.setattr(pd.DataFrame, "to_csv", _full_disk_after_some_bytes)
    with pytest.raises(TableWriteError, match="no space left on device") as caught:
        save_candidates(small_table(["TIC 3"]), path)
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before and metadata_path(path).read_bytes() == meta_before
    assert sorted(item.name for item in tmp_path.iterdir()) == ["candidates.csv", "candidates.meta.json"]


def test_full_disk_while_writing_the_metadata_keeps_both_files(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "candidates.csv"
    save_candidates(small_table(["TIC 1"]), path)
    before, meta_before = path.read_bytes(), metadata_path(path).read_bytes()

    def full(self: Path, *args, **kwargs) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(TableWriteError, match="meta.json"):
        save_candidates(small_table(["TIC 3", "TIC 4"]), path)
    assert path.read_bytes() == before and metadata_path(path).read_bytes() == meta_before
    assert len(list(tmp_path.iterdir())) == 2


def test_full_disk_with_no_previous_file_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(pd.DataFrame, "to_csv", _full_disk_after_some_bytes)
    with pytest.raises(TableWriteError):
        save_candidates(small_table(["TIC 1"]), tmp_path / "candidates.csv")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_parquet(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "candidates.parquet"
    save_candidates(small_table(["TIC 1"]), path)
    before = path.read_bytes()

    def full(self: pd.DataFrame, target, *args, **kwargs) -> None:
        Path(target).write_bytes(b"PAR1")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full)
    with pytest.raises(TableWriteError, match="no space left"):
        save_candidates(small_table(["TIC 2"]), path)
    assert path.read_bytes() == before and [item.name for item in tmp_path.iterdir()] == ["candidates.parquet"]


# ----------------------------------------------------------------------------- scoring, discovery, counting

LENGTH = 128


def curve(seed: int):
    from qusi_lab import LightCurve

    rng = np.random.default_rng(seed)
    time = 1325.0 + np.arange(1200) / 96.0
    flux = 1000.0 * (1 + rng.normal(0, 1e-3, time.size))
    flux[(time % 2.3) < 0.1] *= 0.995
    return LightCurve(time, flux, target_id=f"TIC {100 + seed}", mission="TESS", sector=1)


class NanForSomeRows(torch.nn.Module):
    """Scores like a network, but gives NaN for the rows listed (by position in each forward call)."""

    def __init__(self, nan_rows: set[int] | None) -> None:
        super().__init__()
        self.nan_rows = nan_rows  # None: every row
        self.weight = torch.nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x.mean(dim=1, keepdim=True) * self.weight
        rows = range(len(x)) if self.nan_rows is None else [row for row in self.nan_rows if row < len(x)]
        for row in rows:
            out[row] = float("nan")
        return out


def nan_model(nan_rows: set[int] | None) -> Any:
    from qusi_lab.models import Model
    from qusi_lab.transforms import default_preprocessing

    return Model(NanForSomeRows(nan_rows), task="binary", label_names=("negative", "positive"),
                 positive_class="positive", input_length=LENGTH, preprocessing=default_preprocessing(LENGTH))


def test_non_finite_scores_are_problems_not_ranks() -> None:
    from qusi_lab.inference import infer

    table = infer(nan_model({1, 4}), [curve(seed) for seed in range(6)], num_workers=0, fuse=False,
                  period_search=False, progress=False)
    assert len(table) == 4 and np.isfinite(table["score"]).all()
    assert table.attrs["scored"] == 4 and table.attrs["not_scored"] == 2
    problems = table.problems
    assert list(problems["stage"]) == ["score", "score"]
    assert sorted(problems["path"]) == sorted(set(problems["path"])) and len(problems) == 2
    assert all("non-finite score" in error for error in problems["error"])
    assert not set(problems["path"]) & set(table["path"])


def test_all_non_finite_scores_mean_a_broken_model() -> None:
    from qusi_lab.inference import InferenceError, infer

    with pytest.raises(InferenceError, match="model is broken"):
        infer(nan_model(None), [curve(seed) for seed in range(3)], num_workers=0, fuse=False,
              period_search=False, progress=False)


def test_evaluate_refuses_non_finite_scores_naming_the_curves() -> None:
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.training import evaluate
    from qusi_lab.training.evaluate import NonFiniteScoreError
    from qusi_lab.transforms import default_preprocessing

    dataset = LightCurveDataset.from_light_curves(
        [curve(seed) for seed in range(6)], ["negative", "positive"] * 3, label_names=["negative", "positive"],
        positive_class="positive", preprocessing=default_preprocessing(LENGTH))
    with pytest.raises(NonFiniteScoreError, match=r"non-finite score .* for 2 of 6 curves \(.*light curve 1"):
        evaluate(nan_model({1, 4}), dataset, batch_size=8)
    with pytest.raises(NonFiniteScoreError, match="model is broken"):
        evaluate(nan_model(None), dataset, batch_size=8)


def test_evaluate_with_no_usable_curve_names_the_first_problem(tmp_path: Path) -> None:
    from qusi_lab.data import LightCurveDataset, NoUsableLightCurvesError
    from qusi_lab.training import evaluate
    from qusi_lab.transforms import default_preprocessing

    for label in ("negative", "positive"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "broken.csv").write_text("time,flux\n1,")
    dataset = LightCurveDataset.from_directory(tmp_path, preprocessing=default_preprocessing(LENGTH))
    with pytest.raises(NoUsableLightCurvesError, match=r"none of the 2 light curves could be scored.*broken\.csv"):
        evaluate(nan_model(set()), dataset, batch_size=8)


@pytest.fixture(scope="module")
def bundle_and_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An untrained (but valid) bundle, and a folder of 5 CSV curves, one broken file and a locked sub-folder."""
    from qusi_lab.io import write_csv
    from qusi_lab.models import Hadryss
    from qusi_lab.training import save_bundle
    from qusi_lab.transforms import default_preprocessing

    root = tmp_path_factory.mktemp("integrity")
    torch.manual_seed(0)
    bundle = save_bundle(Hadryss(input_length=LENGTH, filters=(4, 4, 8, 8, 8, 8), dense_units=(8,)), root / "model",
                         task="binary", label_names=["negative", "positive"],
                         preprocessing=default_preprocessing(LENGTH))
    data = root / "data"
    for seed in range(5):
        write_csv(curve(seed), data / ("camera_1" if seed < 3 else "camera_2") / f"star_{seed}.csv")
    (data / "camera_1" / "broken.csv").write_text("time,flux\n1,")
    (data / "locked").mkdir()
    write_csv(curve(9), data / "locked" / "star_9.csv")
    return bundle, data


def deny(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Make listing ``folder`` fail as for an unreadable folder (tests run as root, which chmod cannot stop)."""
    import os

    real = os.scandir

    def scandir(path=".", *args, **kwargs):
        if Path(path) == folder:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)


def test_unreadable_sub_folder_is_a_problem(bundle_and_data, monkeypatch) -> None:
    from qusi_lab.inference import infer
    from qusi_lab.io import find_light_curve_files

    bundle, data = bundle_and_data
    deny(monkeypatch, data / "locked")
    table = infer(bundle, data, num_workers=0, period_search=False, progress=False)
    problems = table.problems
    locked = problems[problems["stage"] == "discover"]
    assert locked.to_dict("records") == [
        {"path": str(data / "locked"), "error": "PermissionError: cannot list folder", "stage": "discover"}]
    assert table.attrs["scored"] == 5 and table.attrs["unlisted_folders"] == 1
    with pytest.warns(UserWarning, match="locked: cannot list the folder"):
        assert len(find_light_curve_files(data)) == 6
    deny(monkeypatch, data)
    with pytest.raises(PermissionError, match="cannot list the folder"):
        find_light_curve_files(data)


def test_cli_counts_unscored_files_apart_from_failed_period_searches(bundle_and_data, monkeypatch, capsys,
                                                                    tmp_path: Path) -> None:
    import sys

    from qusi_lab.cli import main

    infer_module = sys.modules["qusi_lab.inference.infer"]  # the package's `infer` attribute is the function

    bundle, data = bundle_and_data
    real = infer_module.search_period

    def failing(light_curve, **options):
        if str(light_curve.meta.get("target_id")) in ("TIC 100", "TIC 103"):
            raise RuntimeError("BLS found no period")
        return real(light_curve, **options)

    monkeypatch.setattr(infer_module, "search_period", failing)
    deny(monkeypatch, data / "locked")
    out = tmp_path / "candidates.csv"
    assert main(["infer", "--model", str(bundle), "--data", str(data), "--out", str(out), "--num-workers", "0",
                 "--quiet", "--show", "0"]) == 0
    printed = capsys.readouterr().out
    assert "scored 5 of 6 light curves" in printed
    assert "1 files could not be scored" in printed
    assert "period search failed for 2 scored files" in printed
    assert "1 folders could not be listed" in printed
    assert "could not be used" not in printed
    attrs = read_candidates(out).attrs
    assert attrs["scored"] + attrs["not_scored"] == attrs["light_curves"] == 6
    assert attrs["period_search_failed"] == 2 and attrs["unlisted_folders"] == 1
    assert read_candidates(out)["score"].notna().all() and len(read_candidates(out)) == 5
