"""Quality benchmark: what a network trained with the library defaults finds, against the classical heartbeat search.

Command (from the repository root)::

    .venv/bin/python benchmarks/quality.py                          # physical sky, both tasks (~25 min)
    .venv/bin/python benchmarks/quality.py --population stress      # the old "stress" sky: reported, no bar
    .venv/bin/python benchmarks/quality.py --tasks heartbeat --workdir /tmp/quality --keep   # keep the sectors

It

1. writes one synthetic training sector with :func:`qusi_lab.synthetic.make_sector` (``--stars`` SPOC files,
   split by star into train/validation/test 80/10/10, the default mix: 20 % planets, 15 % eclipsing
   binaries, 10 % heartbeat stars, 10 % flare stars, 45 % quiet stars) from the ``--population`` of the
   synthetic sky, and an independent survey of ``--survey-stars`` other stars (default 10,000: enough
   positives in every bin below) in which positives are as rare as in a real sector (:data:`SURVEY_MIX`),
   written and scored ``--survey-chunk`` stars at a time so the disk never holds it all;
2. for each task (``transit``: planets against every other star; ``heartbeat``: heartbeat stars against every
   other star) trains Hadryss with the defaults, as a user would, within ``--max-time`` seconds, with the
   task's preprocessing (:data:`PREPROCESSING`: ``ql.heartbeat_preprocessing()`` for heartbeat stars)::

       train = ql.LightCurveDataset(paths, labels, preprocessing=...)   # default augmentation
       model = ql.models.Hadryss(input_length=train.input_length)
       result = ql.train(model, train, validation, max_steps=3000, max_time=300)

3. evaluates the best-validation weights on the test split, and scores every survey star with the network
   and, for the heartbeat task, with the classical detector :func:`qusi_lab.search_heartbeat` (a whitened
   matched-filter bank; its ``snr`` is the score) in the same run;
4. reports, for network and bank side by side: AUC, recall at a fixed false-positive rate of 1 % (the cut
   set on the survey's negatives) and in the top 10 % of scores, each with its Clopper-Pearson 95 %
   interval, overall and per bin of signal-to-noise ratio (7-10, 10-20, 20-50, >50) x events in the
   sector (periastron passages or transits: 1-2, 3-8, >=9); the heartbeat periods of the survey's top
   10 % against the truth (within 1 %; harmonics counted apart); which kinds of star fill the top 10 %;
   and the issue-15 bars, each marked met or not.

The sectors (~2 MB per star) go to a temporary folder, deleted afterwards (``--keep`` keeps them and a later
run with the same ``--workdir`` reuses them). Prints the load average (the machine may be shared).
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shutil
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

#: Star mix of the independent survey: positives as rare as in a real sector.
SURVEY_MIX = {"planet": 0.04, "eclipsing_binary": 0.1, "heartbeat": 0.04, "flare": 0.1, "quiet": 0.72}
TASKS = {"transit": "planet", "heartbeat": "heartbeat"}
#: Each task's preprocessing, as the tutorials use it: heartbeat passages last days, so no 2-day detrending.
PREPROCESSING = {"transit": "default_preprocessing", "heartbeat": "heartbeat_preprocessing"}
SNR_BINS = ((7, 10), (10, 20), (20, 50), (50, math.inf))
EVENT_BINS = ((1, 3), (3, 9), (9, math.inf))  # periastron passages or transits seen in the sector
PERIOD_BINS = ((0, 3), (3, 8), (8, 1000))  # days
FALSE_POSITIVE_RATE = 0.01
TOP_FRACTION = 0.1
BIN_MINIMUM = 20  # a bin enters the network-vs-bank bar with at least this many positives
HARMONICS = (2.0, 3.0, 0.5, 1.0 / 3.0)


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


def _bin_name(low: float, high: float, *, counts: bool = False) -> str:
    """``7-10`` for an SNR bin [7, 10); with ``counts``, whole numbers of events: [3, 9) is ``3-8``."""
    if counts and not math.isinf(high):
        return f"{low:g}-{high - 1:g}"
    if math.isinf(high):
        return f">={low:g}" if low > 1 else f"{low:g}-"
    return f"{low:g}-{high:g}"


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


def labelled(truth: Any, task: str, **options: Any) -> Any:
    """The stars of ``truth`` labelled for ``task`` (its positive kind against all others), with its preprocessing."""
    import qusi_lab as ql

    labels = ["positive" if label == TASKS[task] else "negative" for label in truth["label"]]
    preprocessing = getattr(ql, PREPROCESSING[task])()
    return ql.LightCurveDataset(list(truth["absolute_path"]), labels, label_names=["negative", "positive"],
                                preprocessing=preprocessing, **options)


# ------------------------------------------------------------------------------------------ the classical bank
def _bank_row(path: str) -> dict[str, Any]:
    """The heartbeat search on one file: its snr (the bank's score) and what it found; NaN and the error on failure."""
    import qusi_lab as ql

    try:
        found = ql.search_heartbeat(ql.read_light_curve(path))
        return {"absolute_path": path, "bank_snr": float(found.snr), "bank_period": float(found.period),
                "bank_epoch": float(found.epoch), "bank_passages": int(found.passages), "bank_error": ""}
    except Exception as error:  # noqa: BLE001 - one bad curve must not stop a survey; it is counted and shown
        return {"absolute_path": path, "bank_snr": math.nan, "bank_period": math.nan, "bank_epoch": math.nan,
                "bank_passages": 0, "bank_error": f"{type(error).__name__}: {error}"}


def bank_scores(paths: list[str], workers: int, cache: Path | None = None) -> Any:
    """:func:`_bank_row` for every path (``workers`` processes), read from ``cache`` when it holds them all."""
    import pandas as pd

    if cache is not None and cache.exists():
        table = pd.read_csv(cache, keep_default_na=False, na_values=[""])
        if set(table["absolute_path"]) >= set(paths):
            return table.set_index("absolute_path").loc[paths].reset_index()
    if workers > 1:
        # spawn, not fork: this process has run torch's thread pools, which a forked child must not inherit.
        with get_context("spawn").Pool(workers) as pool:
            rows = pool.map(_bank_row, paths, chunksize=16)
    else:
        rows = [_bank_row(path) for path in paths]
    table = pd.DataFrame(rows)
    if cache is not None:
        table.to_csv(cache, index=False)
    return table


# ------------------------------------------------------------------------------------------ measures
def _recall(found: np.ndarray, positive: np.ndarray) -> tuple[int, int, float, float, float]:
    """(found, positives, recall, low, high) with the Clopper-Pearson 95 % interval."""
    from qusi_lab.training.metrics import binomial_interval

    hits, total = int(found[positive].sum()), int(positive.sum())
    low, high = binomial_interval(hits, total)
    return hits, total, (hits / total if total else math.nan), low, high


def _finite(scores: np.ndarray) -> np.ndarray:
    """Scores with every curve a detector could not score (NaN) put below all others: such a curve is never found."""
    finite = np.isfinite(scores)
    floor = float(scores[finite].min()) - 1.0 if finite.any() else 0.0
    return np.where(finite, scores, floor)


def _found(scores: np.ndarray, positive: np.ndarray) -> dict[str, np.ndarray]:
    """Which stars each survey cut selects: at 1 % false positives (set on the negatives) and the top 10 %."""
    from qusi_lab.training.metrics import threshold_at_false_positive_rate

    usable = _finite(scores)
    cut = threshold_at_false_positive_rate(usable, positive.astype(int), FALSE_POSITIVE_RATE)
    top = max(1, math.ceil(TOP_FRACTION * usable.size - 1e-9))
    order = np.argsort(-usable, kind="mergesort")
    in_top = np.zeros(usable.size, bool)
    in_top[order[:top]] = True
    unscored = ~np.isfinite(scores)
    return {"fpr": (usable >= cut) & ~unscored, "top": in_top & ~unscored}


def _format_recall(value: tuple[int, int, float, float, float]) -> str:
    hits, total, recall, low, high = value
    if total == 0:
        return "-"
    return f"{recall:.2f} [{low:.2f}, {high:.2f}] ({hits}/{total})"


def _recall_by(positive: np.ndarray, found: np.ndarray, values: np.ndarray,
               bins: tuple[tuple[float, float], ...]) -> dict[str, tuple[int, float]]:
    """(positives, recall) of the positives whose ``values`` fall in each ``[low, high)`` bin."""
    result = {}
    for low, high in bins:
        chosen = (positive == 1) & (values >= low) & (values < high)
        recall = float(np.mean(found[chosen])) if chosen.any() else float("nan")
        result[_bin_name(low, high) if math.isinf(high) else f"{low}-{high if high < 1000 else ''}"] = (
            int(chosen.sum()), recall)
    return result


def _period_agreement(found_period: np.ndarray, true_period: np.ndarray) -> dict[str, int]:
    """How many periods agree within 1 % of the truth, are a harmonic (2, 3, 1/2, 1/3 x), or are wrong."""
    ratio = found_period / true_period
    right = np.abs(ratio - 1.0) < 0.01
    harmonic = ~right & np.any([np.abs(ratio / h - 1.0) < 0.01 for h in HARMONICS], axis=0)
    return {"stars": int(ratio.size), "within_1%": int(right.sum()), "harmonic": int(harmonic.sum()),
            "wrong": int((~right & ~harmonic).sum())}


# ------------------------------------------------------------------------------------------ one task
#: ``--architecture`` choices: the network each task trains, built by the registry with the sector's input length.
ARCHITECTURES = ("hadryss", "hadryss_passages")


def train_task(task: str, *, truth: Any, max_time: float, max_steps: int, workers: int,
               architecture: str = "hadryss") -> dict[str, Any]:
    import qusi_lab as ql

    positive = TASKS[task]
    splits = {split: labelled(truth[truth["split"] == split], task) for split in ("train", "validation", "test")}
    load_before = _load()
    model = ql.models.create(architecture, input_length=splits["train"].input_length)
    trained = ql.train(model, splits["train"], splits["validation"], max_steps=max_steps, max_time=max_time,
                       progress=False)
    print(f"[{task}] {trained}", flush=True)
    evaluation = ql.evaluate(trained.model, splits["test"])
    print(f"[{task}] test: {evaluation}", flush=True)
    row: dict[str, Any] = {
        "task": task, "model": trained.model, "train": len(splits["train"]),
        "train_positives": int(sum(label == "positive" for label in splits["train"].labels)),
        "train_time": trained.elapsed, "steps": trained.steps, "best_step": trained.best_step,
        "test_size": len(evaluation.scores), "test_positives": int((evaluation.scores["label"] == "positive").sum()),
        "auc_roc": evaluation.metrics["auc_roc"], "auc_pr": evaluation.metrics["auc_pr"],
        "load": f"{load_before} -> {_load()}",
    }
    if task == "heartbeat":
        from qusi_lab.training.metrics import auc_roc

        test = truth[truth["split"] == "test"]
        bank = bank_scores(list(test["absolute_path"]), workers)
        row["bank_test_auc"] = auc_roc(_finite(bank["bank_snr"].to_numpy(float)),
                                       (test["label"] == positive).to_numpy(int))
    return row


def score_survey_chunk(rows: list[dict[str, Any]], survey: Any, *, workers: int, cache: Path | None) -> dict[str, Any]:
    """Network scores of every task (and the bank's, once) for one chunk of the survey, beside its truth rows."""
    import qusi_lab as ql

    scored: dict[str, Any] = {}
    bank = None
    for row in rows:
        task = row["task"]
        evaluation = ql.evaluate(row["model"], labelled(survey, task, augmentation=False), progress=False)
        scores = evaluation.scores.set_index("path")["score"]
        frame = survey.drop(columns=["parameters"], errors="ignore").copy()
        frame["score"] = scores.reindex(frame["absolute_path"]).to_numpy(dtype=float)
        if task == "heartbeat":
            if bank is None:
                bank = bank_scores(list(survey["absolute_path"]), workers, cache)
            frame = frame.merge(bank, on="absolute_path", how="left")
        scored[task] = frame
    return scored


def report_task(row: dict[str, Any], survey: Any, *, population: str, scores_dir: Path | None) -> list[str]:
    """Print the task's survey tables; return the bar lines (met or not)."""
    from qusi_lab.training.metrics import auc_roc

    task = row["task"]
    positive = (survey["label"] == TASKS[task]).to_numpy()
    detectors = {"network": survey["score"].to_numpy(dtype=float)}
    if "bank_snr" in survey:
        detectors["bank"] = survey["bank_snr"].to_numpy(dtype=float)
    found = {name: _found(scores, positive) for name, scores in detectors.items()}
    snr = survey["snr"].to_numpy(dtype=float)
    events = survey["n_events"].to_numpy(dtype=float)

    print(f"### {task} on the {population} sky: {len(survey):,} survey stars, {int(positive.sum())} positives")
    print()
    print("| detector | survey AUC-ROC | recall at 1 % false positives [95 %] | recall in the top 10 % [95 %] |")
    print("|---|---:|---:|---:|")
    for name, scores in detectors.items():
        auc = auc_roc(_finite(scores), positive.astype(int))
        print(f"| {name} | {auc:.3f} | {_format_recall(_recall(found[name]['fpr'], positive))} "
              f"| {_format_recall(_recall(found[name]['top'], positive))} |")
        row[f"survey_auc_{name}"] = auc
    print()
    header = "network | bank" if "bank" in detectors else "network"
    print(f"Recall at 1 % false positives by SNR and events in the sector ({header}), positives in the bin:")
    print()
    names = list(detectors)
    print("| SNR | events | positives | " + " | ".join(names) + " | " + ("network >= bank |" if "bank" in names else ""))
    print("|---|---|---:|" + "---:|" * len(names) + ("---|" if "bank" in names else ""))
    bin_verdicts = []
    for snr_low, snr_high in SNR_BINS:
        for low, high in EVENT_BINS:
            chosen = positive & (snr >= snr_low) & (snr < snr_high) & (events >= low) & (events < high)
            if not chosen.any():
                continue
            recalls = {name: _recall(found[name]["fpr"], chosen) for name in names}
            cells = " | ".join(_format_recall(recalls[name]) for name in names)
            verdict = ""
            if "bank" in names:
                if chosen.sum() >= BIN_MINIMUM:
                    holds = recalls["network"][2] >= recalls["bank"][2]
                    bin_verdicts.append(holds)
                    verdict = " yes |" if holds else " **no** |"
                else:
                    verdict = f" (< {BIN_MINIMUM}) |"
            print(f"| {_bin_name(snr_low, snr_high)} | {_bin_name(low, high, counts=True)} | {int(chosen.sum())} | {cells} |{verdict}")
    print()
    periods = survey["period"].to_numpy(dtype=float)
    print("Recall in the top 10 % by period in days (positives in the bin), network:")
    by_period = _recall_by(positive.astype(int), found["network"]["top"], periods, PERIOD_BINS)
    print("| task | " + " | ".join(f"P {name} d" for name in by_period) + " |")
    print("|---|" + "---:|" * len(by_period))
    print(f"| {task} | " + " | ".join(f"{recall:.2f} ({count})" for count, recall in by_period.values()) + " |")
    print()
    top_kinds = survey["label"][found["network"]["top"]].value_counts().to_dict()
    print("Who fills the survey's top 10 % (stars by kind), network:")
    print()
    print(f"{task}: " + ", ".join(f"{kind} {count}" for kind, count in top_kinds.items()))
    print()

    bars: list[str] = []

    def bar(text: str, value: float, target: float) -> None:
        bars.append(f"- [{'x' if value >= target else ' '}] {task}: {text} {value:.3f} (bar {target})")

    bar("test AUC-ROC", row["auc_roc"], 0.97)
    if task == "heartbeat":
        for minimum, target in ((10, 0.90), (20, 0.97)):
            recall = _recall(found["network"]["fpr"], positive & (snr >= minimum))[2]
            bar(f"recall at 1 % false positives, SNR >= {minimum}:", recall, target)
        if "bank" in names:
            bars.append(f"- [{'x' if all(bin_verdicts) else ' '}] heartbeat: network recall >= bank recall in every "
                        f"bin with >= {BIN_MINIMUM} positives ({sum(bin_verdicts)} of {len(bin_verdicts)} bins)")
            top_heartbeats = found["network"]["top"] & positive
            agreement = _period_agreement(survey["bank_period"].to_numpy(float)[top_heartbeats], periods[top_heartbeats])
            share = agreement["within_1%"] / max(1, agreement["stars"])
            bar(f"heartbeat periods within 1 % in the top 10 % ({agreement['within_1%']} of {agreement['stars']}, "
                f"{agreement['harmonic']} harmonics, {agreement['wrong']} other):", share, 0.90)
            failures = int((survey["bank_error"].fillna("") != "").sum())
            if failures:
                print(f"heartbeat search failed on {failures} curves (scored as not found), e.g. "
                      f"{survey.loc[survey['bank_error'].fillna('') != '', 'bank_error'].iloc[0]}")
    else:
        bar("survey recall in the top 10 %", _recall(found["network"]["top"], positive)[2], 0.95)
    if scores_dir is not None:
        scores_dir.mkdir(parents=True, exist_ok=True)
        table = survey.assign(in_top_10=found["network"]["top"], found_at_1pct=found["network"]["fpr"])
        table.sort_values("score", ascending=False).to_csv(scores_dir / f"survey_scores_{task}.csv", index=False)
    return bars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=["transit", "heartbeat"])
    parser.add_argument("--population", default="physical", help="the synthetic sky: physical (default) or stress")
    parser.add_argument("--stars", type=int, default=6000, help="stars in the training sector")
    parser.add_argument("--survey-stars", type=int, default=10000, help="stars in the independent survey")
    parser.add_argument("--survey-chunk", type=int, default=2000, help="survey stars written and scored at a time")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="hadryss",
                        help="the network to train: hadryss (default) or hadryss_passages (plus an autocorrelation view)")
    parser.add_argument("--max-time", type=float, default=300.0, help="training time budget (seconds)")
    parser.add_argument("--max-steps", type=int, default=3000, help="training step budget")
    parser.add_argument("--workers", type=int, default=2, help="processes for the heartbeat search")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where to write the sectors (default: temporary)")
    parser.add_argument("--keep", action="store_true", help="keep the sector files")
    parser.add_argument("--scores-dir", type=Path, default=None,
                        help="write survey_scores_<task>.csv (each survey star's scores and truth row) here")
    arguments = parser.parse_args()

    import pandas as pd
    import torch

    work = arguments.workdir or Path(tempfile.mkdtemp(prefix="qusi_quality_"))
    work.mkdir(parents=True, exist_ok=True)
    keep = arguments.keep
    population = arguments.population
    print(f"{os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"load average {_load()}; {population} sky; sectors in {work}", flush=True)
    rows: list[dict[str, Any]] = []
    surveyed: dict[str, list[Any]] = {task: [] for task in arguments.tasks}
    try:
        started = time.perf_counter()
        truth = sector(work / f"{population}_sector_{arguments.stars}", n_stars=arguments.stars,
                       seed=arguments.seed, experiment=True, population=population)
        print(f"training sector ready in {time.perf_counter() - started:.0f} s; load average {_load()}", flush=True)
        for task in arguments.tasks:
            rows.append(train_task(task, truth=truth, max_time=arguments.max_time, max_steps=arguments.max_steps,
                                   workers=arguments.workers, architecture=arguments.architecture))
        if not keep:  # the survey needs the disk more than the training files now
            shutil.rmtree(work / f"{population}_sector_{arguments.stars}", ignore_errors=True)
        chunks = math.ceil(arguments.survey_stars / arguments.survey_chunk)
        for chunk in range(chunks):
            size = min(arguments.survey_chunk, arguments.survey_stars - chunk * arguments.survey_chunk)
            directory = work / f"{population}_survey_{arguments.survey_stars}_{chunk}"
            # Every chunk its own seed: other stars than the training sector's and than each other's.
            survey = sector(directory, n_stars=size, seed=arguments.seed + 1 + chunk, mix=SURVEY_MIX,
                            population=population)
            for task, frame in score_survey_chunk(rows, survey, workers=arguments.workers,
                                                  cache=directory / "bank.csv" if keep else None).items():
                surveyed[task].append(frame)
            print(f"survey chunk {chunk + 1}/{chunks} scored ({time.perf_counter() - started:.0f} s, "
                  f"load {_load()})", flush=True)
            if not keep:
                shutil.rmtree(directory, ignore_errors=True)
    finally:
        if not keep and arguments.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    chosen = "" if arguments.architecture == "hadryss" else f" --architecture {arguments.architecture}"
    command = f"`.venv/bin/python benchmarks/quality.py --population {population}{chosen}`"
    print()
    print("| task | sky | train curves (positives) | train time (s) | steps | test AUC-ROC | test AUC-PR "
          "| bank test AUC-ROC | load average | command |")
    print("|---|---|---|---:|---:|---:|---:|---:|---|---|")
    for row in rows:
        bank_auc = f"{row['bank_test_auc']:.3f}" if "bank_test_auc" in row else "-"
        print(f"| {row['task']} | {population} | {row['train']:,} ({row['train_positives']}) | {row['train_time']:.0f} "
              f"| {row['steps']:,} | **{row['auc_roc']:.3f}** (test: {row['test_size']}, {row['test_positives']} "
              f"positive) | {row['auc_pr']:.3f} | {bank_auc} | {row['load']} | {command} |")
    print()
    bars: list[str] = []
    for row in rows:
        survey = pd.concat(surveyed[row["task"]], ignore_index=True)
        bars += report_task(row, survey, population=population, scores_dir=arguments.scores_dir)
    print("Bars of issue 15" + (" (the stress sky is reported, not held to them)" if population != "physical" else "")
          + ":")
    print()
    print("\n".join(bars))


if __name__ == "__main__":
    main()
