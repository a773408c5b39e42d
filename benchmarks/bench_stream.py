"""Training-stream throughput: curves per second out of the DataLoader with the default transforms.

Command (from the repository root)::

    .venv/bin/python benchmarks/bench_stream.py [--files 200] [--batches 40]

It writes real-size SPOC files (20,000 two-minute cadences) to a temporary folder, then measures, in the same
run: reading alone (the baseline), the evaluation stream (read + default preprocessing) and the training
stream (read + preprocessing + default augmentation, class-balanced) with 0 and 2 DataLoader workers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _common import write_spoc_files
from torch.utils.data import DataLoader

from qusi_lab.data import LightCurveDataset
from qusi_lab.io import read_light_curve


def rate(loader: DataLoader, batches: int | None) -> float:
    """Curves per second after the first batch (start-up is not throughput); ``None``: until exhausted."""
    iterator = iter(loader)
    next(iterator)
    started = time.perf_counter()
    count = 0
    for number, batch in enumerate(iterator, start=1):
        count += batch[0].shape[0]
        if batches is not None and number >= batches:
            break
    elapsed = time.perf_counter() - started
    del iterator
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # One star in four is a positive: the class-balanced stream has both classes to draw from.
        write_spoc_files(root, args.files, labels=["positive", "negative", "negative", "negative"])
        dataset = LightCurveDataset.from_directory(root)
        paths = [Path(p) for p in dataset.sources]
        started = time.perf_counter()
        n_read = 0
        while time.perf_counter() - started < 2.0:
            read_light_curve(paths[n_read % len(paths)])
            n_read += 1
        baseline = n_read / (time.perf_counter() - started)
        rows = [("read_light_curve only (baseline, 1 process)", baseline)]
        for workers in (0, 2):
            evaluation = DataLoader(dataset.iterate(), batch_size=args.batch_size, num_workers=workers)
            rows.append((f"evaluation stream, {workers} workers", rate(evaluation, None)))
            training = DataLoader(
                dataset.stream(seed=0, balance="equal"), batch_size=args.batch_size, num_workers=workers
            )
            rows.append((f"training stream (augmented, balanced), {workers} workers", rate(training, args.batches)))
    print(f"{args.files} SPOC files of 20,000 cadences, input length {dataset.input_length}, "
          f"batch size {args.batch_size}\n")
    print("| pipeline | curves/s | ms/curve | ratio to baseline |")
    print("|---|---:|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:,.0f} | {1000 / value:.2f} | {value / baseline:.2f} |")


if __name__ == "__main__":
    main()
