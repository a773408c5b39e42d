"""qusi side of bench_vs_qusi.py: qusi's inference path over FITS files (runs in the qusi venv).

    python infer.py LISTING WORKERS BATCH THREADS      (THREADS 0: torch's default, as a qusi user runs it)

As qusi's ``examples/transit_infer.py`` does it: a ``LightCurveCollection`` whose loader is
``TessMissionLightCurve.from_path`` (times and PDCSAP fluxes), a ``FiniteStandardLightCurveDataset``
(qusi's default transform: drop NaNs, keep the first 3,500 cadences, modified z-score), an untrained
``Hadryss.new()`` and ``infer_session``; the confidences are then sorted into a ranking. Prints JSON:
curves, seconds and CPU seconds (this process and its workers) from building the dataset to the ranked
list (worker start-up included).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

LISTING = Path(sys.argv[1])


def get_paths() -> list[Path]:
    return [Path(line) for line in LISTING.read_text().split("\n") if line]


def load_times_and_fluxes_from_path(path: Path):  # noqa: ANN201 - qusi's tutorial loader
    from qusi.experimental.application.tess import TessMissionLightCurve

    light_curve = TessMissionLightCurve.from_path(path)
    return light_curve.times, light_curve.fluxes


def main() -> None:
    workers, batch, threads = (int(value) for value in sys.argv[2:5])
    import torch
    from qusi.data import FiniteStandardLightCurveDataset, LightCurveCollection
    from qusi.model import Hadryss
    from qusi.session import get_device, infer_session

    if threads > 0:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Hadryss.new()
    started, cpu_started = time.perf_counter(), cpu_seconds()
    collection = LightCurveCollection.new(get_paths_function=get_paths,
                                          load_times_and_fluxes_from_path_function=load_times_and_fluxes_from_path)
    dataset = FiniteStandardLightCurveDataset.new(light_curve_collections=[collection])
    confidences = infer_session(infer_datasets=[dataset], model=model, batch_size=batch, device=get_device(),
                                workers_per_dataloader=workers)[0]
    ranked = sorted(zip(get_paths(), confidences, strict=True), key=lambda pair: pair[1], reverse=True)
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    print(json.dumps({"curves": len(ranked), "seconds": seconds, "cpu_seconds": cpu, "torch": torch.__version__}))


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its finished children (the loader workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    main()
