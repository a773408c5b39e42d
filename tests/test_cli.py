"""The ``qusi-lab`` command line: train -> evaluate -> infer on a tiny synthetic experiment, help, errors, demo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from qusi_lab.cli import main
from qusi_lab.io import find_light_curve_files


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from qusi_lab import synthetic

    root = tmp_path_factory.mktemp("data")
    result = synthetic.make_sector(root, n_stars=30, seed=4, experiment=True)
    assert result.experiment_directory is not None
    return result.experiment_directory


@pytest.fixture(scope="module")
def run(experiment: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "transits"
    code = main(["train", "--data", str(experiment), "--out", str(out), "--max-steps", "4", "--batch-size", "8",
                 "--input-length", "128", "--validation-every", "2", "--num-workers", "0", "--quiet"])
    assert code == 0
    return out


def test_train_writes_a_model_bundle(run, capsys):
    assert (run / "bundle.json").is_file() and (run / "model.pt").is_file()
    assert (run / "history.csv").is_file() and (run / "checkpoints").is_dir()
    bundle = json.loads((run / "bundle.json").read_text())
    assert bundle["task"] == "binary" and bundle["positive_class"] == "positive"
    assert bundle["input_length"] == 128


def test_evaluate_prints_metrics(run, experiment, tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    code = main(["evaluate", "--model", str(run), "--data", str(experiment / "test"), "--scores", str(scores),
                 "--quiet", "--num-workers", "0"])
    assert code == 0
    output = capsys.readouterr().out
    assert "auc_roc" in output and "EvaluationResult" in output
    assert len(pd.read_csv(scores)) == len(find_light_curve_files(experiment / "test"))


def test_infer_writes_every_file_once(run, experiment, tmp_path, capsys):
    out = tmp_path / "candidates.csv"
    code = main(["infer", "--model", str(run), "--data", str(experiment), "--out", str(out), "--num-workers", "2",
                 "--batch-size", "4", "--period-search-top", "2", "--quiet"])
    assert code == 0
    table = pd.read_csv(out)
    files = {str(path) for path in find_light_curve_files(experiment)}
    assert len(table) == len(files) == 30
    assert set(table["path"]) == files and table["path"].is_unique
    assert table["rank"].tolist() == list(range(1, 31)) and table["score"].is_monotonic_decreasing
    assert table["period"].notna().sum() == 2
    output = capsys.readouterr().out
    assert "scored 30 of 30 light curves" in output and "wrote 30 rows" in output

    top = tmp_path / "top.parquet"
    assert main(["infer", "--model", str(run), "--data", str(experiment), "--out", str(top), "--top", "5",
                 "--no-period-search", "--quiet", "--num-workers", "0"]) == 0
    best = pd.read_parquet(top)
    assert len(best) == 5 and "period" not in best
    assert best["path"].tolist() == table["path"].head(5).tolist()


@pytest.mark.parametrize("command", ["train", "evaluate", "infer", "demo", "synthetic"])
def test_every_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text
    assert f"qusi-lab {command}" in text


def test_missing_folder_is_a_clear_error_not_a_traceback(tmp_path):
    missing = tmp_path / "no_such_folder"
    completed = subprocess.run(
        [sys.executable, "-m", "qusi_lab.cli", "train", "--data", str(missing), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stderr.strip() == f"qusi-lab: error: --data {missing}: no such folder"
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("command", ["evaluate", "infer"])
def test_missing_model_and_data_exit_2(command, run, experiment, tmp_path, capsys):
    assert main([command, "--model", str(tmp_path / "nope"), "--data", str(experiment)]) == 2
    assert "qusi-lab: error: --model" in capsys.readouterr().err
    assert main([command, "--model", str(run), "--data", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_bad_bundle_and_bad_layout_exit_2(experiment, tmp_path, capsys):
    broken = tmp_path / "broken_run"
    broken.mkdir()
    (broken / "bundle.json").write_text("{ not json")
    assert main(["infer", "--model", str(broken), "--data", str(experiment), "--out", str(tmp_path / "c.csv")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("qusi-lab: error: ") and "bundle.json" in error
    # A folder without train/ and validation/ is not an experiment.
    assert main(["train", "--data", str(experiment / "test"), "--out", str(tmp_path / "r")]) == 2
    assert "no train" in capsys.readouterr().err
    # Invalid option values are argparse errors (exit 2), before any work starts.
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", str(experiment), "--out", str(tmp_path / "r"), "--max-steps", "0"])
    assert exit_info.value.code == 2


def test_demo_quick_writes_candidates_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--quiet"]) == 0
    candidates = pd.read_csv(out / "candidates.csv")
    assert len(candidates) == 40 and candidates["path"].is_unique
    assert {"rank", "score", "true_kind", "period"} <= set(candidates.columns)
    summary = (out / "summary.html").read_text()
    assert summary.count("<img src='data:image/png;base64,") >= 3  # training history + top candidates
    assert "Test set" in summary and "candidates.csv" in summary
    assert (out / "model" / "bundle.json").is_file()
