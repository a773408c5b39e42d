"""The README's notebook example runs as written (offline, on the embedded synthetic sector)."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def notebook_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## In a notebook") : text.index("## Train, evaluate, rank")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def training_blocks() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Train, evaluate, rank") : text.index("## What is in the box")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_the_three_user_functions():
    code = "\n".join(notebook_blocks())
    for name in ("def get_paths", "def load_times_and_fluxes", "def load_label", "from_functions", "from_directory"):
        assert name in code


@pytest.mark.slow
def test_readme_notebook_example_runs(tmp_path, monkeypatch):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__main__"}
    blocks = notebook_blocks()
    assert len(blocks) >= 2
    exec(compile(blocks[0], "README.md[notebook example]", "exec"), namespace)
    dataset, train, x = namespace["dataset"], namespace["train"], namespace["x"]
    assert dataset.task == "binary" and set(dataset.label_names) == {"negative", "positive"}
    assert 0 < sum(1 for label in dataset.labels if label == "positive") < len(dataset)
    assert tuple(x.shape) == (2048,)
    split_targets = [set(part.target_ids) for part in (namespace["train"], namespace["validation"], namespace["test"])]
    assert not (split_targets[0] & split_targets[1]) and not (split_targets[0] & split_targets[2])
    assert sum(len(part) for part in (train, namespace["validation"], namespace["test"])) == len(dataset)

    exec(compile(blocks[1], "README.md[directory example]", "exec"), namespace)
    assert set(namespace["datasets"]) >= {"train", "validation"}
    assert len(namespace["train"]) > 0

    # Train, evaluate, rank, save and load, as written; only the number of steps is cut for the test.
    (training,) = training_blocks()
    assert "max_steps=2000" in training
    exec(compile(training.replace("max_steps=2000", "max_steps=6"), "README.md[training]", "exec"), namespace)
    assert namespace["result"].steps == 6
    assert "auc_roc" in namespace["scores"].metrics
    candidates = namespace["candidates"]
    assert len(candidates) == len(namespace["datasets"]["test"])
    assert candidates["score"].is_monotonic_decreasing
    assert (tmp_path / "runs" / "transit-v1").is_dir() and namespace["model"].bundle is not None


@pytest.mark.parametrize("command", ["make demo", "make test", "make lab"])
def test_readme_quick_start_names_the_make_targets(command):
    assert command in README.read_text()
    target = command.split()[1]
    assert re.search(rf"^{target}:", (README.parent / "Makefile").read_text(), flags=re.M)
