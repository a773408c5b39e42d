"""Quality benchmark: what a network trained with the library defaults finds in the synthetic TESS sector.

Command (from the repository root)::

    .venv/bin/python benchmarks/quality.py                      # both tasks, 2,000 stars, 300 s each
    .venv/bin/python benchmarks/quality.py --tasks transit --stars 1000 --max-time 120   # quicker

For each task it

1. writes the synthetic sector with :func:`qusi_lab.synthetic.make_sector` (SPOC FITS files,
   split by star into train/validation/test; ``positive_kinds=("planet",)`` for the transit task,
   ``("heartbeat",)`` for the heartbeat task; every other star, eclipsing binaries included, is a
   negative);
2. trains Hadryss exactly as a user would with the defaults, capped at ``--max-time`` seconds::

       datasets = ql.LightCurveDataset.from_experiment(result.experiment_directory)
       model = ql.models.model_for_task("hadryss", datasets["train"].input_length, "binary")
       trained = ql.train(model, datasets["train"], datasets["validation"], max_time=300)

3. evaluates the best-validation weights on the test split (:func:`qusi_lab.evaluate`), and
4. scores a second, independent sector (another seed: other stars) in which the positives are as
   rare as in a survey (:data:`SURVEY_MIX`: 4 % planets, 4 % heartbeat stars), and reports the
   recall of its positives among the top 10 % of scores. (On the test split of the training
   sector, where 20 % of the stars host planets, the top 10 % can hold at most half of them.)

The sector files (~2 MB each) go to a temporary folder, deleted afterwards (``--keep`` keeps it).
Prints the load average (the machine may be shared) and a markdown table.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Star mix of the independent "survey" sector: positives as rare as in a real sector.
SURVEY_MIX = {"planet": 0.04, "eclipsing_binary": 0.1, "heartbeat": 0.04, "flare": 0.1, "quiet": 0.72}
TASKS = {"transit": ("planet",), "heartbeat": ("heartbeat",)}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


def run_task(task: str, *, stars: int, survey_stars: int, max_time: float, seed: int, work: Path) -> dict[str, Any]:
    import qusi_lab as ql
    from qusi_lab.models import model_for_task
    from qusi_lab.synthetic import load_truth, make_sector
    from qusi_lab.training.metrics import auc_pr, auc_roc, recall_at_top_fraction

    positive_kinds = TASKS[task]
    started = time.perf_counter()
    sector = make_sector(work / task, n_stars=stars, seed=seed, experiment=True, positive_kinds=positive_kinds)
    print(sector, flush=True)
    assert sector.experiment_directory is not None
    datasets = ql.LightCurveDataset.from_experiment(sector.experiment_directory)
    print(f"[{task}] sector written in {time.perf_counter() - started:.0f} s; load average {_load()}", flush=True)

    load_before = _load()
    model = model_for_task("hadryss", datasets["train"].input_length, "binary")
    trained = ql.train(model, datasets["train"], datasets["validation"], max_time=max_time, progress=False)
    print(f"[{task}] {trained}", flush=True)
    evaluation = ql.evaluate(trained.model, datasets["test"])
    metrics = evaluation.metrics
    print(f"[{task}] test: {evaluation}", flush=True)

    row: dict[str, Any] = {
        "task": task,
        "stars": stars,
        "train_time": trained.elapsed,
        "steps": trained.steps,
        "best_step": trained.best_step,
        "stopped": trained.stopped_reason,
        "test_size": len(evaluation.scores),
        "test_positives": int((evaluation.scores["label"] == "positive").sum()),
        "auc_roc": metrics["auc_roc"],
        "auc_pr": metrics["auc_pr"],
        "recall_top10_test": metrics.get("recall_at_top_10%", float("nan")),
        "load": f"{load_before} -> {_load()}",
    }
    shutil.rmtree(work / task, ignore_errors=True)

    if survey_stars:
        survey_directory = work / f"{task}_survey"
        make_sector(survey_directory, n_stars=survey_stars, seed=seed + 1, mix=SURVEY_MIX)
        truth = load_truth(survey_directory, parse_parameters=False)
        labels = ["positive" if label in positive_kinds else "negative" for label in truth["label"]]
        survey = ql.LightCurveDataset(
            list(truth["absolute_path"]), labels, preprocessing=datasets["test"].preprocessing, augmentation=False
        )
        scored = ql.evaluate(trained.model, survey).scores
        truth_label = np.asarray(scored["label"] == "positive", dtype=int)
        scores = scored["score"].to_numpy()
        row.update(
            survey_stars=len(scored),
            survey_positives=int(truth_label.sum()),
            survey_auc_roc=auc_roc(scores, truth_label),
            survey_auc_pr=auc_pr(scores, truth_label),
            survey_recall_top10=recall_at_top_fraction(scores, truth_label, 0.1),
        )
        shutil.rmtree(survey_directory, ignore_errors=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["transit", "heartbeat"])
    parser.add_argument("--stars", type=int, default=2000, help="stars in the training sector")
    parser.add_argument("--survey-stars", type=int, default=2000,
                        help="stars in the independent survey-like sector (0: skip it)")
    parser.add_argument("--max-time", type=float, default=300.0, help="training time cap (seconds)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the sectors (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the sector files")
    arguments = parser.parse_args()

    import torch

    work = arguments.workdir or Path(tempfile.mkdtemp(prefix="qusi_quality_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"load average {_load()}; writing to {work}", flush=True)
    rows = []
    try:
        for task in arguments.tasks:
            rows.append(run_task(task, stars=arguments.stars, survey_stars=arguments.survey_stars,
                                 max_time=arguments.max_time, seed=arguments.seed, work=work))
    finally:
        if not arguments.keep and arguments.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    command = "`.venv/bin/python benchmarks/quality.py`"
    print()
    print("| task | stars (train/val/test) | train time (s) | steps | test AUC-ROC | test AUC-PR | "
          "recall in top 10 % (survey sector) | survey AUC-ROC | load average | command |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        survey = (f"{row['survey_recall_top10']:.3f} ({row['survey_positives']} of {row['survey_stars']})"
                  if "survey_recall_top10" in row else "-")
        survey_auc = f"{row['survey_auc_roc']:.3f}" if "survey_auc_roc" in row else "-"
        print(f"| {row['task']} | {row['stars']:,} ({row['test_positives']} positives in test) | "
              f"{row['train_time']:.0f} | {row['steps']:,} | {row['auc_roc']:.3f} | {row['auc_pr']:.3f} | "
              f"{survey} | {survey_auc} | {row['load']} | {command} |")


if __name__ == "__main__":
    main()
