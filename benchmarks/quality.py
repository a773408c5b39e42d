"""Quality benchmark: what a network trained with the library defaults finds in the synthetic TESS sector.

Command (from the repository root)::

    .venv/bin/python benchmarks/quality.py                    # both tasks, 6,000 stars, 300 s of training each
    .venv/bin/python benchmarks/quality.py --tasks transit --stars 2000 --max-time 120   # quicker
    .venv/bin/python benchmarks/quality.py --workdir /tmp/quality --keep   # keep (and later reuse) the sectors

It

1. writes one synthetic sector with :func:`qusi_lab.synthetic.make_sector` (SPOC FITS files, split by
   star into train/validation/test, 80/10/10; 20 % planets, 15 % eclipsing binaries, 10 % heartbeat
   stars, 10 % flare stars, 45 % quiet stars; transit and heartbeat signal-to-noise ratios drawn
   log-uniformly from 7 to 100) and a second, independent "survey" sector (another seed: other stars)
   in which the positives are as rare as in a real sector (:data:`SURVEY_MIX`: 4 % planets, 4 %
   heartbeat stars);
2. for each task (``transit``: planets against every other star, eclipsing binaries included;
   ``heartbeat``: heartbeat stars against every other star) trains Hadryss with the defaults, as a
   user would, within a budget of ``--max-time`` seconds and ``--max-steps`` steps::

       train = ql.LightCurveDataset(paths, labels)          # default preprocessing and augmentation
       model = ql.models.Hadryss(input_length=train.input_length)
       result = ql.train(model, train, validation, max_steps=3000, max_time=300)

3. evaluates the best-validation weights on the test split (:func:`qusi_lab.evaluate`), and
4. scores the survey sector and reports the recall of its positives among the top 10 % of scores (on
   the test split, where 20 % of the stars host planets, the top 10 % can hold at most half of them),
   with that recall split by signal-to-noise ratio and by period, and which kinds of star fill the
   top 10 % (``--scores-dir`` also writes each survey star's score beside its truth row, as CSV).

The sectors (~2 MB per star) go to a temporary folder, deleted afterwards (``--keep`` keeps them and a
later run with the same ``--workdir`` reuses them). Prints the load average (the machine may be
shared) and markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

#: Star mix of the independent "survey" sector: positives as rare as in a real sector.
SURVEY_MIX = {"planet": 0.04, "eclipsing_binary": 0.1, "heartbeat": 0.04, "flare": 0.1, "quiet": 0.72}
TASKS = {"transit": "planet", "heartbeat": "heartbeat"}
SNR_BINS = ((7, 10), (10, 20), (20, 1000))
PERIOD_BINS = ((0, 3), (3, 8), (8, 1000))  # days: >= 9 passages in the 27-day sector, 3-9, at most 3


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


def sector(directory: Path, **settings: Any) -> Any:
    """The truth table of the sector in ``directory``, written first unless a complete one is there."""
    from qusi_lab.synthetic import load_truth, make_sector

    key = hashlib.sha1(repr(sorted(settings.items())).encode()).hexdigest()[:12]
    stamp = directory / f".complete-{key}"  # written last: a sector cut short is made again
    if not stamp.exists():
        shutil.rmtree(directory, ignore_errors=True)
        result = make_sector(directory, **settings)
        print(result, flush=True)
        stamp.touch()
    return load_truth(directory, parse_parameters=False)


def labelled(truth: Any, positive: str, **options: Any) -> Any:
    import qusi_lab as ql

    labels = ["positive" if label == positive else "negative" for label in truth["label"]]
    return ql.LightCurveDataset(list(truth["absolute_path"]), labels, label_names=["negative", "positive"], **options)


def run_task(task: str, *, truth: Any, survey: Any, max_time: float, max_steps: int,
             scores_dir: Path | None = None) -> dict[str, Any]:
    import qusi_lab as ql
    from qusi_lab.training.metrics import auc_pr, auc_roc, recall_at_top_fraction

    positive = TASKS[task]
    splits = {split: labelled(truth[truth["split"] == split], positive) for split in ("train", "validation", "test")}
    load_before = _load()
    model = ql.models.Hadryss(input_length=splits["train"].input_length)
    trained = ql.train(model, splits["train"], splits["validation"], max_steps=max_steps, max_time=max_time,
                       progress=False)
    print(f"[{task}] {trained}", flush=True)
    history = trained.history
    validated = history[history["val_auc_roc"].notna()] if "val_auc_roc" in history else history.iloc[:0]
    print(f"[{task}] validation AUC (step: AUC @ s): " + ", ".join(
        f"{int(row.step)}: {row.val_auc_roc:.3f} @ {row.elapsed:.0f}" for row in validated.itertuples()), flush=True)
    reached = validated[validated["val_auc_roc"] >= 0.95]
    first_095 = (int(reached["step"].iloc[0]), float(reached["elapsed"].iloc[0])) if len(reached) else None
    evaluation = ql.evaluate(trained.model, splits["test"])
    print(f"[{task}] test: {evaluation}", flush=True)
    metrics = evaluation.metrics

    scored = ql.evaluate(trained.model, labelled(survey, positive, augmentation=False)).scores
    truth_label = np.asarray(scored["label"] == "positive", dtype=int)
    scores = scored["score"].to_numpy()
    rows = survey.set_index("absolute_path").loc[scored["path"]]  # each scored star's truth row
    cut = np.sort(scores)[::-1][max(1, int(round(0.1 * scores.size))) - 1]
    found = scores >= cut
    by_snr = _recall_by(truth_label, found, rows["snr"].to_numpy(dtype=float), SNR_BINS)
    by_period = _recall_by(truth_label, found, rows["period"].to_numpy(dtype=float), PERIOD_BINS)
    # Who takes the places in the top 10 % that positives miss: the star kinds, by truth label.
    top_kinds = rows["label"][found].value_counts().to_dict()
    if scores_dir is not None:
        scores_dir.mkdir(parents=True, exist_ok=True)
        table = rows.reset_index().drop(columns=["parameters"]).assign(
            score=scores, in_top_10=found).sort_values("score", ascending=False)
        table.to_csv(scores_dir / f"survey_scores_{task}.csv", index=False)
    return {
        "task": task,
        "train": len(splits["train"]),
        "train_positives": int(sum(label == "positive" for label in splits["train"].labels)),
        "train_time": trained.elapsed,
        "steps": trained.steps,
        "best_step": trained.best_step,
        "test_size": len(evaluation.scores),
        "test_positives": int((evaluation.scores["label"] == "positive").sum()),
        "auc_roc": metrics["auc_roc"],
        "auc_pr": metrics["auc_pr"],
        "survey_stars": len(scored),
        "survey_positives": int(truth_label.sum()),
        "survey_auc_roc": auc_roc(scores, truth_label),
        "survey_auc_pr": auc_pr(scores, truth_label),
        "survey_recall_top10": recall_at_top_fraction(scores, truth_label, 0.1),
        "by_snr": by_snr,
        "by_period": by_period,
        "top_kinds": top_kinds,
        "first_095": first_095,
        "load": f"{load_before} -> {_load()}",
    }


def _recall_by(positive: np.ndarray, found: np.ndarray, values: np.ndarray,
               bins: tuple[tuple[float, float], ...]) -> dict[str, tuple[int, float]]:
    """(positives, recall) of the positives whose ``values`` fall in each ``[low, high)`` bin."""
    result = {}
    for low, high in bins:
        chosen = (positive == 1) & (values >= low) & (values < high)
        recall = float(np.mean(found[chosen])) if chosen.any() else float("nan")
        result[f"{low}-{high if high < 1000 else ''}"] = (int(chosen.sum()), recall)
    return result


def _print_recall_table(rows: list[dict[str, Any]], key: str, by: str, column: str) -> None:
    """A markdown table of each task's survey recall in the top 10 %, one column per bin of ``rows[i][key]``."""
    if not rows:
        return
    print(f"Survey recall in the top 10 %, by {by} (positives in the bin):")
    print()
    print("| task | " + " | ".join(column.format(name) for name in rows[0][key]) + " |")
    print("|---|" + "---:|" * len(rows[0][key]))
    for row in rows:
        print(f"| {row['task']} | " + " | ".join(f"{recall:.2f} ({count})" for count, recall in row[key].values()) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["transit", "heartbeat"])
    parser.add_argument("--stars", type=int, default=6000, help="stars in the training sector")
    parser.add_argument("--survey-stars", type=int, default=2000, help="stars in the independent survey sector")
    parser.add_argument("--max-time", type=float, default=300.0, help="training time budget (seconds)")
    parser.add_argument("--max-steps", type=int, default=3000, help="training step budget")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the sectors (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the sector files")
    parser.add_argument("--scores-dir", type=Path, default=None,
                        help="write survey_scores_<task>.csv (each survey star's score and truth row) here")
    arguments = parser.parse_args()

    import torch

    work = arguments.workdir or Path(tempfile.mkdtemp(prefix="qusi_quality_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"load average {_load()}; sectors in {work}", flush=True)
    rows = []
    try:
        started = time.perf_counter()
        truth = sector(work / f"sector_{arguments.stars}", n_stars=arguments.stars, seed=arguments.seed,
                       experiment=True)
        survey = sector(work / f"survey_{arguments.survey_stars}", n_stars=arguments.survey_stars,
                        seed=arguments.seed + 1, mix=SURVEY_MIX)
        print(f"sectors ready in {time.perf_counter() - started:.0f} s; load average {_load()}", flush=True)
        for task in arguments.tasks:
            rows.append(run_task(task, truth=truth, survey=survey, max_time=arguments.max_time,
                                 max_steps=arguments.max_steps, scores_dir=arguments.scores_dir))
    finally:
        if not arguments.keep and arguments.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    command = "`.venv/bin/python benchmarks/quality.py`"
    print()
    print("| task | train curves (positives) | train time (s) | steps | test AUC-ROC | test AUC-PR "
          "| survey AUC-ROC | survey recall in top 10 % | load average | command |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---|")
    for row in rows:
        print(f"| {row['task']} | {row['train']:,} ({row['train_positives']}) | {row['train_time']:.0f} "
              f"| {row['steps']:,} | {row['auc_roc']:.3f} (test: {row['test_size']}, {row['test_positives']} positive) "
              f"| {row['auc_pr']:.3f} | {row['survey_auc_roc']:.3f} "
              f"| **{row['survey_recall_top10']:.3f}** ({row['survey_positives']} of {row['survey_stars']}) "
              f"| {row['load']} | {command} |")
    print()
    for row in rows:
        reached = row["first_095"]
        print(f"{row['task']}: validation AUC first >= 0.95 at "
              + (f"step {reached[0]:,}, {reached[1]:.0f} s into training" if reached else "no step (not reached)"))
    print()
    _print_recall_table(rows, "by_snr", "signal-to-noise ratio", "SNR {}")
    _print_recall_table(rows, "by_period", "period in days", "P {} d")
    print("Who fills the survey's top 10 % (stars by kind):")
    print()
    for row in rows:
        print(f"{row['task']}: " + ", ".join(f"{kind} {count}" for kind, count in row["top_kinds"].items()))


if __name__ == "__main__":
    main()
