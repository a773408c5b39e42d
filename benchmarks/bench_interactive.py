"""Benchmark: the interactive operations a user waits on, each against a baseline timed in the same run.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_interactive.py                 # ~30 s
    .venv/bin/python benchmarks/bench_interactive.py --repeats 5     # quicker

These were wall-clock assertions in the unit tests (a loaded CI machine made them flaky, and a test that
times itself proves nothing about behaviour); the tests now check what the operations do, and this script
measures how long they take. Each row has a baseline measured in the same process, so the ratio holds on
a busy machine where the milliseconds do not, and the budget the old test asserted:

* **queue**: ``CandidateQueue.next()`` on a queue of 100,000 candidates, against the same on 1,000 (the
  step must not grow with the queue); ``record(verdict)`` (append + fsync + move on) against appending one
  line to a file and fsyncing it, the floor of any durable verdict;
* **tuner**: one slider change of the augmentation tuner at the default input length (observer, pipeline
  rebuilt, 3 examples, plot data updated), against making the 3 examples alone (``tuner.examples()``);
* **heartbeat view**: ``fold_heartbeat(view, fit=True)`` (fold + Kumar et al. model fit) against the fold
  without the fit.

The panel's next candidate (preloaded, drawn ahead) is ``bench_vetting.py``'s; reading a SPOC file is
``bench_read.py``'s. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from _common import load_average, timed

Row = tuple[str, list[float], str, list[float], str]


def candidate_table(count: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"path": [f"/s/{index}.fits" for index in range(count)],
                         "target_id": [f"TIC {index}" for index in range(count)],
                         "sector": 1, "score": rng.random(count)})


def queue_rows(folder: Path, repeats: int) -> list[Row]:
    from qusi_lab.vetting import CandidateQueue

    large = CandidateQueue(candidate_table(100_000), folder / "large.csv", min_score=0.5)
    small = CandidateQueue(candidate_table(1_000), folder / "small.csv", min_score=0.5)
    steps = max(50, 10 * repeats)
    next_large = timed(large.next, steps)
    next_small = timed(small.next, steps)

    line = folder / "floor.csv"

    def append_and_fsync() -> None:
        with open(line, "a") as handle:
            handle.write("/s/1.fits,TIC 1,variable\n")
            handle.flush()
            os.fsync(handle.fileno())

    verdicts = max(20, 2 * repeats)
    record = timed(lambda: large.record("variable"), verdicts)
    floor = timed(append_and_fsync, verdicts)
    return [("queue of 100,000: `next()`", next_large, "the same on a queue of 1,000", next_small, "10 ms"),
            ("queue of 100,000: `record(verdict)` (saved, fsync, next)", record,
             "append one line + fsync", floor, "50 ms")]


def tuner_rows(repeats: int) -> list[Row]:
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.synthetic import make_light_curve
    from qusi_lab.vetting.tuner import AugmentationTuner

    curves = [make_light_curve(kind, seed=seed) for kind, seed in
              (("eclipsing_binary", 1), ("quiet", 1), ("heartbeat", 2), ("quiet", 3))]
    dataset = LightCurveDataset.from_light_curves(curves, ["positive", "negative", "positive", "negative"])
    tuner = AugmentationTuner(dataset, n_examples=3)
    std = tuner.controls("AddNoise")["std"]
    values = iter(np.tile(np.linspace(0.1, 2.0, 12), repeats + 2))

    def slide() -> None:
        std.value = float(next(values))

    return [(f"augmentation tuner: a slider moved (input {tuner.dataset.input_length}, 3 examples, plots)",
             timed(slide, max(12, repeats)), "the 3 examples alone (`tuner.examples()`)",
             timed(tuner.examples, max(12, repeats)), "100 ms")]


def heartbeat_rows(repeats: int) -> list[Row]:
    from qusi_lab.synthetic import make_light_curve
    from qusi_lab.vetting.views import fold_heartbeat, view_from_light_curve

    parameters = {"period": 3.7, "eccentricity": 0.3, "inclination": 80.0, "argument_of_periastron": 100.0,
                  "amplitude": 2e-3}
    light_curve = make_light_curve("heartbeat", seed=11, tess_mag=9.5, parameters=parameters)
    injected = light_curve.meta["injected"]
    view = view_from_light_curve(light_curve, period=injected["period"], epoch=injected["epoch_periastron"])
    fitted: Callable[[], object] = lambda: fold_heartbeat(view, fit=True)  # noqa: E731
    plain: Callable[[], object] = lambda: fold_heartbeat(view)  # noqa: E731
    return [("heartbeat view with the model fit (`fold_heartbeat(fit=True)`)", timed(fitted, max(5, repeats)),
             "the fold without the fit", timed(plain, max(5, repeats)), "100 ms")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per operation (at least a few)")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    start_load = load_average()
    with tempfile.TemporaryDirectory(prefix="qusi_bench_interactive_") as folder:
        rows = queue_rows(Path(folder), arguments.repeats)
    rows += tuner_rows(arguments.repeats)
    rows += heartbeat_rows(arguments.repeats)
    print(f"{start_load} at start; {load_average()} at end. Median and 95th percentile of n calls.\n")
    print("| operation | median ms | p95 ms | n | baseline (same run) | baseline median ms | ratio | budget |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for name, samples, baseline_name, baseline, budget in rows:
        ordered = sorted(samples)
        median, p95 = statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        base = statistics.median(baseline)
        print(f"| {name} | {1e3 * median:.2f} | {1e3 * p95:.2f} | {len(samples)} | {baseline_name} "
              f"| {1e3 * base:.2f} | {median / base:.1f}x | {budget} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
