"""qusi side of bench_vs_qusi.py: training throughput of qusi's own train_session (runs in the qusi venv).

    python train.py LISTING BATCH STEPS WORKERS THREADS

LISTING holds one FITS path per line; each file is labelled by the parity of its line (even: positive),
as two qusi ``LightCurveObservationCollection`` s (qusi's transit tutorial layout). The model is
``Hadryss.new()`` (qusi's default, input length 3,500) with qusi's default training transform.
``train_session`` runs STEPS training steps with WORKERS preprocessing processes per loader and wandb
disabled. A forward pre-hook stamps each training step and stops the session at the start of step
STEPS + 1 (so the timing ends with STEPS whole steps and the validation that follows is not waited
for); prints JSON: samples per second from the 4th step on.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WANDB_SILENT", "true")

LISTING = Path(sys.argv[1])


def paths_with_parity(parity: int) -> list[Path]:
    lines = LISTING.read_text().split("\n")
    return [Path(line) for index, line in enumerate(lines) if line and index % 2 == parity]


def positive_paths() -> list[Path]:
    return paths_with_parity(0)


def negative_paths() -> list[Path]:
    return paths_with_parity(1)


def load_times_and_fluxes_from_path(path: Path):  # noqa: ANN201 - qusi's tutorial loader
    from qusi.experimental.application.tess import TessMissionLightCurve

    light_curve = TessMissionLightCurve.from_path(path)
    return light_curve.times, light_curve.fluxes


def positive_label(_path: Path) -> int:
    return 1


def negative_label(_path: Path) -> int:
    return 0


def dataset():  # noqa: ANN201
    from qusi.data import LightCurveDataset, LightCurveObservationCollection

    positive = LightCurveObservationCollection.new(
        get_paths_function=positive_paths, load_times_and_fluxes_from_path_function=load_times_and_fluxes_from_path,
        load_label_from_path_function=positive_label)
    negative = LightCurveObservationCollection.new(
        get_paths_function=negative_paths, load_times_and_fluxes_from_path_function=load_times_and_fluxes_from_path,
        load_label_from_path_function=negative_label)
    return LightCurveDataset.new(standard_light_curve_collections=[positive, negative])


def main() -> None:
    batch, steps, workers, threads = (int(value) for value in sys.argv[2:6])
    import torch
    import wandb

    # No wandb account here: run it disabled (a no-op, the cheapest setting for qusi). qusi's wandb.Settings
    # overrides WANDB_MODE, so the mode is passed to wandb.init itself.
    wandb_init = wandb.init
    wandb.init = lambda *args, **kwargs: wandb_init(*args, **{**kwargs, "mode": "disabled"})
    from qusi.model import Hadryss
    from qusi.session import TrainHyperparameterConfiguration, TrainSystemConfiguration, train_session

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Hadryss.new()
    stamps: list[float] = []

    class Done(Exception):
        pass

    def stamp(module: torch.nn.Module, _inputs: object) -> None:
        if module.training:
            stamps.append(time.perf_counter())
            if len(stamps) > steps:
                raise Done

    model.register_forward_pre_hook(stamp)
    os.chdir(tempfile.mkdtemp(prefix="qusi_train_"))  # train_session writes sessions/ in the working folder
    started = time.perf_counter()
    try:
        train_session(
            train_datasets=[dataset()], validation_datasets=[dataset()], model=model,
            hyperparameter_configuration=TrainHyperparameterConfiguration.new(
                batch_size=batch, cycles=1, train_steps_per_cycle=steps + 1, validation_steps_per_cycle=1),
            system_configuration=TrainSystemConfiguration.new(preprocessing_processes_per_train_process=workers))
    except Done:
        pass
    timed = stamps[3:]
    rate = batch * (len(timed) - 1) / (timed[-1] - timed[0])
    print(json.dumps({"steps": len(stamps) - 1, "timed_steps": len(timed) - 1, "samples_per_second": rate,
                      "overall_samples_per_second": batch * (len(stamps) - 1) / (stamps[-1] - started),
                      "seconds_to_first_step": stamps[0] - started, "torch": torch.__version__,
                      "parameters": sum(parameter.numel() for parameter in model.parameters())}), flush=True)
    os._exit(0)  # the loaders' persistent worker processes would otherwise be joined one by one


if __name__ == "__main__":
    main()
