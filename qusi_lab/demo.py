"""The end-to-end demo behind ``make demo`` / ``qusi-lab demo``.

It builds the embedded synthetic TESS sector, lays it out as the seed tutorial's
transit experiment, turns every split into a dataset and prints a summary.
Training and inference join it as those stages land.

Example
-------
>>> from qusi_lab.demo import run_demo
>>> summary = run_demo("demo_output", n_stars=60)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd


def run_demo(out: str | Path = "demo_output", *, n_stars: int = 300, seed: int = 0) -> pd.DataFrame:
    """Build the synthetic sector under ``out`` and summarise the datasets made from it.

    Returns the summary table (one row per split) that it also prints.
    """
    from qusi_lab import synthetic
    from qusi_lab.data import LightCurveDataset

    out = Path(out)
    data_directory = out / "data"
    started = time.perf_counter()
    truth = synthetic.make_sector(data_directory, n_stars=n_stars, seed=seed, experiment=True)
    built = time.perf_counter() - started
    print(f"Synthetic TESS sector: {n_stars} stars written to {data_directory} in {built:.1f} s")
    print(truth)

    experiment = data_directory / "spoc_transit_experiment"
    rows = []
    for split in ("train", "validation", "test"):
        if not (experiment / split).is_dir():
            continue
        dataset = LightCurveDataset.from_directory(experiment / split)
        problems = dataset.check()
        counts = pd.Series([str(label) for label in dataset.labels]).value_counts()
        x, _ = dataset[0]
        rows.append(
            {
                "split": split,
                "light curves": len(dataset),
                **{f"{name}": int(counts.get(name, 0)) for name in dataset.label_names},
                "problems": len(problems),
                "input length": int(x.shape[-1]),
                "all finite": bool(np.isfinite(x.numpy()).all()),
            }
        )
    summary = pd.DataFrame(rows).set_index("split")
    print()
    print("Datasets (one sub-folder per class, split by star):")
    print(summary.to_string())
    return summary
