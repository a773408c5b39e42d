"""Inference never silently wrong: tables written atomically and safe to open in a spreadsheet,
unreadable folders reported, non-finite scores refused, and the CLI counting problems right."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

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
