"""The ``qusi-lab`` command line.

Examples
--------
Train, evaluate and rank a sector, end to end::

    qusi-lab synthetic --out data --stars 1000 --experiment
    qusi-lab train --data data/spoc_transit_experiment --out runs/transits --max-time 600
    qusi-lab evaluate --model runs/transits --data data/spoc_transit_experiment/test
    qusi-lab infer --model runs/transits --data data/spoc_transit_experiment --out candidates.csv

Or all of it on the embedded synthetic sector, with an HTML summary::

    qusi-lab demo --out demo_output

Every command prints examples with ``--help``. Problems the user can fix (a missing folder,
a folder not laid out as expected, a corrupt model bundle, an output folder that cannot be
written, an unknown option value, nothing but unreadable light curves) end with a one-line
``qusi-lab: error: ...`` and exit code 2, not a traceback; set ``QUSI_LAB_DEBUG=1`` to
see the traceback anyway. Files that could not be used are named: ``qusi-lab train``
writes them to ``RUN/problems.csv`` and prints the first few.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

EXAMPLES_DEMO = """examples:
  qusi-lab demo                       # 400 synthetic stars into ./demo_output: train, evaluate, rank, report
  qusi-lab demo --out /tmp/demo --stars 600 --seed 3 --max-time 240
  qusi-lab demo --quick               # a tiny run (seconds), to check an installation

writes OUT/candidates.csv (every star ranked) and OUT/summary.html (metrics and plots of the top candidates)
"""

EXAMPLES_SYNTHETIC = """examples:
  qusi-lab synthetic --out data/sector1 --stars 1000
  qusi-lab synthetic --out data --stars 1000 --experiment        # data/spoc_transit_experiment/{train,validation,test}
  qusi-lab synthetic --out data --experiment --positive-kind heartbeat
  qusi-lab synthetic --out data/stress --stars 1000 --population stress   # the harder sky of qusi_lab 0.1
"""

EXAMPLES_TRAIN = """examples:
  qusi-lab train --data data/spoc_transit_experiment --out runs/transits
  qusi-lab train --data data/spoc_transit_experiment --out runs/transits --max-steps 5000 --num-workers 2
  qusi-lab train --data data/heartbeats --out runs/heartbeats --positive-class heartbeat --max-time 1800

DATA holds train/ and validation/ (and optionally test/), each with one sub-folder per class:
  DATA/train/positive/*.fits   DATA/train/negative/*.fits   DATA/validation/...   DATA/test/...
RUN becomes a model bundle (model.pt, bundle.json) for `qusi-lab evaluate` and `qusi-lab infer`, with
RUN/checkpoints/ (an interrupted run continues where it stopped when started again, on the same data and
settings; --fresh starts over instead), RUN/history.csv and, when some files could not be used, RUN/problems.csv.
"""

EXAMPLES_EVALUATE = """examples:
  qusi-lab evaluate --model runs/transits --data data/spoc_transit_experiment/test
  qusi-lab evaluate --model runs/transits --data data/spoc_transit_experiment/test --scores test_scores.csv

DATA has one sub-folder per class (class names as in training), e.g. DATA/positive/, DATA/negative/.
"""

EXAMPLES_INFER = """examples:
  qusi-lab infer --model runs/transits --data data/sector_01 --out candidates.csv
  qusi-lab infer --model runs/transits --data /archive/tess/s0042 --out s42.parquet --num-workers 2
  qusi-lab infer --model runs/transits --data data/sector_01 --out top.csv --top 200 --period-search-top 200

  qusi-lab infer --model runs/transits --data '/archive/s42/**/*.fits' --out candidates/ --scheduler local:2
  qusi-lab infer --model runs/transits --data paths.txt --out /shared/candidates --scheduler tcp://head:8786

FOLDER is searched recursively for .fits, .fits.gz, .csv and .npz light curves; every one is scored once.
The output (.csv or .parquet) is ranked highest score first; files that could not be read are listed in the
metadata (OUT.meta.json for CSV) and printed.

With --scheduler (needs: pip install "qusi_lab[cluster]"), the curves are scored on Dask in shards: DATA
may also be a glob or a text file of paths (one a line), streamed; OUT is a folder with one Parquet part
per shard and the merged OUT/candidates.parquet. Rerunning the command skips the parts already written.
"""


class CommandError(Exception):
    """A problem the user can fix; printed as ``qusi-lab: error: ...`` with exit code 2."""


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    # inf and nan parse as floats, but a learning rate or time budget of inf only fails later, obscurely.
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _add_common_run_options(parser: argparse.ArgumentParser, *, batch_size: int) -> None:
    parser.add_argument("--batch-size", type=_positive_int, default=batch_size, metavar="N",
                        help="light curves per batch (default: %(default)s)")
    parser.add_argument("--num-workers", type=_non_negative_int, default=None, metavar="N",
                        help="DataLoader worker processes reading files (default: 2, or fewer CPUs)")
    parser.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                        help="torch threads for the network (default: %(default)s; more rarely helps when "
                             "workers share the cores)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qusi-lab",
        description="Neural networks that sift photometric surveys for transits, heartbeat stars and more.",
        epilog="run `qusi-lab COMMAND --help` for the options and examples of each command",
    )
    from qusi_lab._version import __version__
    from qusi_lab.defaults import DEFAULT_INPUT_LENGTH, DEFAULT_THRESHOLD

    parser.add_argument("--version", action="version", version=f"qusi_lab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str, epilog: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                                   epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = command("demo", "run the main job end to end on the embedded synthetic sector", EXAMPLES_DEMO)
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default: %(default)s)")
    demo.add_argument("--stars", type=_positive_int, default=None, help="number of synthetic stars (default: 400; 40 with --quick)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--max-steps", type=_positive_int, default=None, metavar="N",
                      help="training steps (default: 1500; 20 with --quick)")
    demo.add_argument("--max-time", type=_positive_float, default=None, metavar="SECONDS",
                      help="stop training after this long (default: 100; 20 with --quick)")
    demo.add_argument("--quick", action="store_true", help="tiny sizes: checks the installation in seconds")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")

    synthetic = command("synthetic", "write a synthetic TESS sector as SPOC-format FITS files", EXAMPLES_SYNTHETIC)
    synthetic.add_argument("--out", type=Path, required=True, help="output folder")
    synthetic.add_argument("--stars", type=_positive_int, default=1000, help="number of stars (default: %(default)s)")
    synthetic.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    synthetic.add_argument("--sector", type=int, default=1, help="TESS sector number (default: %(default)s)")
    synthetic.add_argument(
        "--experiment", action="store_true", help="lay files out as {train,validation,test}/{positive,negative}"
    )
    synthetic.add_argument(
        "--positive-kind",
        default=None,
        help="with --experiment: which kind of star is the positive class (default: planet)",
    )
    synthetic.add_argument(
        "--population", default=None, metavar="NAME",
        help="the sky to draw: physical (default; heartbeat stars, rotators and red noise as the catalogues "
             "show them) or stress (the harder sky of qusi_lab 0.1)",
    )

    train = command("train", "train a network on a folder of labelled light curves", EXAMPLES_TRAIN)
    train.add_argument("--data", type=Path, required=True, metavar="DIR",
                       help="folder with train/, validation/ (and optionally test/), one sub-folder per class")
    train.add_argument("--out", type=Path, required=True, metavar="RUN", help="folder for the trained model")
    train.add_argument("--architecture", default="hadryss",
                       help="network: hadryss, resnet1d, astronet or transformer (default: %(default)s)")
    train.add_argument("--max-steps", type=_positive_int, default=2000, metavar="N",
                       help="optimisation steps (default: %(default)s)")
    train.add_argument("--max-time", type=_positive_float, default=None, metavar="SECONDS",
                       help="stop (keeping the best model so far) after this long")
    train.add_argument("--learning-rate", type=_positive_float, default=1e-3, metavar="LR",
                       help="peak learning rate (default: %(default)s)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    train.add_argument("--input-length", type=_positive_int, default=None, metavar="N",
                       help=f"network input length: each curve is binned to N points (default: {DEFAULT_INPUT_LENGTH})")
    train.add_argument("--positive-class", default=None, metavar="NAME",
                       help="binary tasks: the class to score (default: 'positive', else the second class)")
    train.add_argument("--balance", choices=("equal", "natural"), default="equal",
                       help="class shares in training batches (default: %(default)s)")
    train.add_argument("--validation-every", type=_positive_int, default=100, metavar="N",
                       help="validate every N steps (default: %(default)s)")
    train.add_argument("--per-process-batch-norm", action="store_true",
                       help="under torchrun: BatchNorm statistics and dropout masks per process, as plain DDP "
                            "(faster on CPUs; by default they span the global batch, so N processes train the "
                            "model one process would)")
    train.add_argument("--fresh", action="store_true",
                       help="ignore checkpoints in RUN and start over (by default a run continues from "
                            "RUN/checkpoints, and refuses if the data or settings changed)")
    _add_common_run_options(train, batch_size=64)

    evaluate = command("evaluate", "measure a trained model on a labelled folder", EXAMPLES_EVALUATE)
    evaluate.add_argument("--model", type=Path, required=True, metavar="RUN", help="model folder from `qusi-lab train`")
    evaluate.add_argument("--data", type=Path, required=True, metavar="DIR", help="folder with one sub-folder per class")
    evaluate.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="binary decision threshold (default: %(default)s)")
    evaluate.add_argument("--scores", type=Path, default=None, metavar="CSV", help="also write the score of every curve")
    _add_common_run_options(evaluate, batch_size=256)

    infer = command("infer", "score and rank every light curve in a folder", EXAMPLES_INFER)
    infer.add_argument("--model", type=Path, required=True, metavar="RUN", help="model folder from `qusi-lab train`")
    infer.add_argument("--data", type=Path, required=True, metavar="FOLDER",
                       help="folder of light curves (searched recursively); with --scheduler also a glob or a "
                            "text file of paths")
    infer.add_argument("--out", type=Path, default=Path("candidates.csv"),
                       help="output table, .csv or .parquet (default: %(default)s); with --scheduler a folder")
    infer.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="score on Dask: local:N (N worker processes here), tcp://host:8786 (a running "
                            "scheduler), slurm or pbs (dask-jobqueue, slurm:N for N jobs)")
    infer.add_argument("--shard-size", type=_positive_int, default=None, metavar="N",
                       help="with --scheduler: curves per task and Parquet part (default: 2000)")
    infer.add_argument("--top", type=_positive_int, default=None, metavar="N", help="write only the N best-ranked curves")
    infer.add_argument("--period-search-top", type=_non_negative_int, default=100, metavar="N",
                       help="BLS period search on the N best candidates (default: %(default)s)")
    infer.add_argument("--no-period-search", action="store_true", help="skip the period search")
    infer.add_argument("--period-search", choices=("auto", "bls", "heartbeat"), default="auto",
                       help="which period search runs on the top candidates: auto (default: the heartbeat search "
                            "for a heartbeat model, box least squares otherwise), bls or heartbeat")
    infer.add_argument("--show", type=_non_negative_int, default=10, metavar="N", help="candidates printed (default: %(default)s)")
    _add_common_run_options(infer, batch_size=256)
    return parser


# ----------------------------------------------------------------------------- helpers


def _existing_folder(path: Path, option: str) -> Path:
    if not path.exists():
        raise CommandError(f"{option} {path}: no such folder")
    if not path.is_dir():
        raise CommandError(f"{option} {path}: not a folder")
    return path


def _load_model(path: Path) -> Any:
    from qusi_lab.models.bundle import load

    if not path.exists():
        raise CommandError(f"--model {path}: no such model folder (make one with `qusi-lab train`)")
    # load() checks the description (a hand-edited task, classes that do not fit ...) and names bundle.json.
    return load(path)


def _check_writable(path: Path, option: str, *, folder: bool) -> None:
    """Fail before any work when the output ``path`` (a folder, or a file if not ``folder``) cannot be written.

    Checks the nearest existing ancestor, so a typo under a file or a read-only mount is reported
    now, not after an hour of training. (Root passes ``os.access`` on permissions, but not on a
    read-only file system; whatever slips through fails later as a one-line ``OSError``.)
    """
    if path.exists():
        if folder and not path.is_dir():
            raise CommandError(f"{option} {path}: exists and is not a folder")
        if not folder and path.is_dir():
            raise CommandError(f"{option} {path}: is a folder; give a file name")
    existing = path if folder and path.is_dir() else path.parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise CommandError(f"{option} {path}: {existing} is a file, not a folder")
    for candidate in (existing, path):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            raise CommandError(f"{option} {path}: {candidate} is not writable (read-only file system or no "
                               "permission)")


def _check_arguments(args: argparse.Namespace) -> None:
    """Checks of option values that need the package (model registry) or the file system."""
    architecture = getattr(args, "architecture", None)
    if architecture is not None:
        from qusi_lab.models.registry import available, model_class

        try:
            model_class(architecture)
        except ValueError:
            raise CommandError(f"--architecture {architecture}: unknown network; choose one of "
                               f"{', '.join(available())}") from None
    if args.command in ("demo", "synthetic", "train"):
        _check_writable(Path(args.out), "--out", folder=True)
    elif args.command == "infer":
        _check_writable(Path(args.out), "--out", folder=args.scheduler is not None)
    elif args.command == "evaluate" and args.scores is not None:
        _check_writable(Path(args.scores), "--scores", folder=False)


def _problem_line(path: str, error: str) -> str:
    """``path: error`` without the path a second time (read errors start with it)."""
    return f"{path}: {str(error).replace(f'{path}: ', '', 1)}"


def _unusable(dataset: Any, what: str, where: str = "") -> CommandError | None:
    """The error to report when no curve of ``dataset`` could be used, else None.

    Whatever such a dataset made fail downstream (empty validation metrics, an empty score
    array), the unusable files are the cause the user can act on.
    """
    problems = dataset.problems
    if not len(dataset) or problems["path"].nunique() < len(dataset):
        return None
    first = _problem_line(*problems.iloc[0][["path", "error"]])
    return CommandError(f"{what}: none of the {len(dataset)} files could be used{where}; the first: {first}")


class _ProblemReport:
    """Around a training run: name the files that could not be used, in ``RUN/problems.csv`` and on screen.

    A count alone ("55 problem files") leaves the user to hunt for them. A run that found no
    usable light curve at all (:class:`~qusi_lab.data.NoUsableLightCurvesError`, possibly raised
    in a DataLoader worker and re-raised with the worker's traceback in its message), or that
    failed with a split none of whose curves could be used, becomes one error line with the
    count and where they are listed.
    """

    #: Problems printed on screen; the CSV has them all.
    SHOWN = 5

    def __init__(self, out: Path, datasets: dict[str, Any]) -> None:
        self.out = out
        self.datasets = datasets
        self.csv = out / "problems.csv"

    def __enter__(self) -> _ProblemReport:
        return self

    def _frame(self) -> Any:
        import pandas as pd

        from qusi_lab.data.problems import PROBLEM_COLUMNS

        frames = [dataset.problems for dataset in self.datasets.values() if len(dataset.problems)]
        if not frames:
            return pd.DataFrame(columns=list(PROBLEM_COLUMNS))
        return pd.concat(frames, ignore_index=True).drop_duplicates()[list(PROBLEM_COLUMNS)]

    def _write(self, frame: Any) -> bool:
        try:
            if len(frame):
                self.out.mkdir(parents=True, exist_ok=True)
                frame.to_csv(self.csv, index=False)
            else:
                self.csv.unlink(missing_ok=True)  # a list left by an earlier run would describe other files
        except OSError:
            return False
        return True

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any) -> None:
        if isinstance(error, KeyboardInterrupt):  # the user wants out now: no imports or files in the way
            return
        from qusi_lab.data.problems import NoUsableLightCurvesError

        frame = self._frame()
        files = frame["path"].nunique()  # one file can fail in two stages
        written = self._write(frame)
        where = f"all listed in {self.csv}" if written else f"{self.csv} could not be written"
        if isinstance(error, NoUsableLightCurvesError):
            reason = _original_message(error).splitlines()[0].split("; see ")[0].split("; the first")[0]
            first = f"; the first: {_problem_line(*frame.iloc[0][['path', 'error']])}" if len(frame) else ""
            raise CommandError(f"training stopped: {reason.rstrip(' ;:')}; {files} files could not be used "
                               f"({where}){first}") from error
        if error is not None:
            for name, dataset in self.datasets.items():
                unusable = _unusable(dataset, f"no usable {name} light curves", f" ({where})")
                if unusable is not None:
                    raise unusable from error
        if error is None and len(frame):
            print(f"{files} files could not be used ({where}):")
            for row in frame.head(self.SHOWN).itertuples(index=False):
                print(f"  {_problem_line(row.path, row.error)}")
            if len(frame) > self.SHOWN:
                print(f"  ... and {len(frame) - self.SHOWN} more")


class _Threads:
    """Set torch's thread count for the duration of a command."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.previous = 0

    def __enter__(self) -> None:
        import torch

        self.previous = torch.get_num_threads()
        if self.threads is not None and self.threads > 0:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.previous)


def _workers(value: int | None) -> int:
    return min(2, os.cpu_count() or 1) if value is None else max(0, int(value))


# ----------------------------------------------------------------------------- commands


def _run_synthetic(args: argparse.Namespace) -> int:
    from qusi_lab import synthetic

    if args.positive_kind is not None and not args.experiment:  # it would be silently ignored
        raise CommandError("--positive-kind only applies to an experiment layout: add --experiment")
    args.positive_kind = args.positive_kind or "planet"
    if args.positive_kind not in synthetic.STAR_KINDS:
        raise CommandError(f"--positive-kind {args.positive_kind}: unknown kind; choose one of "
                           f"{', '.join(synthetic.STAR_KINDS)}")
    population = args.population or synthetic.DEFAULT_POPULATION
    if population not in synthetic.POPULATIONS:
        raise CommandError(f"--population {population}: unknown population; choose one of "
                           f"{', '.join(synthetic.POPULATIONS)}")
    started = time.perf_counter()
    result = synthetic.make_sector(
        args.out,
        population=population,
        n_stars=args.stars,
        sector=args.sector,
        seed=args.seed,
        experiment=args.experiment,
        positive_kinds=(args.positive_kind,),
    )
    print(result)
    print(f"wrote {args.stars} stars to {args.out} in {time.perf_counter() - started:.1f} s")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from qusi_lab.demo import run_demo

    run_demo(args.out, n_stars=args.stars, seed=args.seed, max_steps=args.max_steps, max_time=args.max_time,
             quick=args.quick, progress=not args.quiet)
    return 0


def _run_train(args: argparse.Namespace) -> int:
    import contextlib

    from qusi_lab.data import LightCurveDataset
    from qusi_lab.models import model_for_task
    from qusi_lab.training import evaluate, train
    from qusi_lab.training.distributed import is_main_process
    from qusi_lab.transforms import DEFAULT_INPUT_LENGTH, default_preprocessing

    data = _existing_folder(args.data, "--data")
    length = int(args.input_length or DEFAULT_INPUT_LENGTH)
    if length < 16:
        raise CommandError(f"--input-length must be at least 16, got {length}")
    options: dict[str, Any] = {"preprocessing": default_preprocessing(length)}
    if args.positive_class is not None:
        options["positive_class"] = args.positive_class
    datasets = LightCurveDataset.from_experiment(data, **options)
    train_set, validation_set = datasets["train"], datasets["validation"]
    task = str(train_set.task)
    # Under torchrun every rank trains; rank 0 alone prints and writes (the bundle, history, problems).
    main = is_main_process()
    if main:
        print(f"train:      {train_set}")
        print(f"validation: {validation_set}")
    n_classes = len(train_set.label_names) if task != "regression" else None
    import torch

    # The layers draw their initial weights as they are built: from the seed, so --seed sets them too
    # (train() re-draws them from the seed as well; this keeps the CLI right whatever its default).
    with torch.random.fork_rng():
        torch.manual_seed(args.seed)
        model = model_for_task(args.architecture, length, task, n_classes)
    balance = "equal" if (args.balance == "equal" and task != "regression") else None
    out = Path(args.out)
    workers = _workers(args.num_workers)
    report: contextlib.AbstractContextManager[Any] = _ProblemReport(out, datasets) if main else contextlib.nullcontext()
    with _Threads(args.threads), report:
        result = train(
            model, train_set, validation_set,
            max_steps=args.max_steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
            seed=args.seed, num_workers=workers, balance=balance, validation_every=args.validation_every,
            checkpoint_dir=out / "checkpoints", max_time=args.max_time, progress=not args.quiet,
            global_batch=not args.per_process_batch_norm,
            resume=not args.fresh,
        )
        if not main:
            return 0
        result.model.save(out)
        result.history.to_csv(out / "history.csv", index=False)
        print(result)
        print(f"model saved to {out} (use it with: qusi-lab infer --model {out} --data FOLDER)")
        if "test" in datasets:
            evaluation = evaluate(result.model, datasets["test"], batch_size=256, num_workers=workers,
                                  progress=not args.quiet)
            print("test set:")
            print(evaluation)
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.training import evaluate

    data = _existing_folder(args.data, "--data")
    model = _load_model(args.model)
    if (data / "test").is_dir() and (data / "train").is_dir():
        print(f"{data} holds train/validation/test splits: evaluating on {data / 'test'}")
        data = data / "test"
    options: dict[str, Any] = {"preprocessing": model.preprocessing}
    if model.task != "regression" and model.label_names:
        options["label_names"] = list(model.label_names)
        if model.task == "binary" and model.positive_class:
            options["positive_class"] = model.positive_class
    try:
        dataset = LightCurveDataset.from_directory(data, **options)
    except Exception as error:
        from qusi_lab.errors import LabelError

        if isinstance(error, LabelError):
            raise CommandError(f"--data {data}: its class folders do not match the model's classes "
                               f"{list(model.label_names)} ({error})") from error
        raise
    with _Threads(args.threads):
        try:
            result = evaluate(model, dataset, batch_size=args.batch_size, num_workers=_workers(args.num_workers),
                              threshold=args.threshold, progress=not args.quiet)
        except Exception as error:
            unusable = _unusable(dataset, f"--data {data}")
            if unusable is not None:
                raise unusable from error
            raise
    print(result)
    if len(result.problems):
        print(f"{len(result.problems)} files could not be used:")
        print(result.problems.to_string(index=False))
    if args.scores is not None:
        args.scores.parent.mkdir(parents=True, exist_ok=True)
        result.scores.to_csv(args.scores, index=False)
        print(f"scores written to {args.scores}")
    return 0


def _run_infer(args: argparse.Namespace) -> int:
    import pandas as pd

    from qusi_lab.inference import infer, metadata_path

    survey = args.scheduler is not None
    suffix = args.out.name.lower()
    if survey:
        # A glob or a list of paths is streamed by the survey; only a plain path must exist.
        if not args.data.exists() and not any(character in str(args.data) for character in "*?["):
            raise CommandError(f"--data {args.data}: no such folder, file or glob pattern")
        data: Any = str(args.data)
        if suffix.endswith((".csv", ".parquet", ".pq")):
            raise CommandError(f"--out {args.out}: with --scheduler, give a folder (one Parquet part per shard)")
        try:
            import distributed  # noqa: F401 - checked now, before the model is loaded
        except ImportError:
            raise CommandError('--scheduler needs Dask: pip install "qusi_lab[cluster]"') from None
    else:
        if args.shard_size is not None:
            raise CommandError("--shard-size applies with --scheduler")
        data = _existing_folder(args.data, "--data")
        if not suffix.endswith((".csv", ".parquet", ".pq")):
            raise CommandError(f"--out {args.out}: use a .csv or .parquet file name")
    model = _load_model(args.model)
    survey_options: dict[str, Any] = (
        {"scheduler": args.scheduler, "out": args.out, "shard_size": args.shard_size} if survey else {})
    table = infer(
        model, data,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        period_search=False if args.no_period_search else args.period_search,
        period_search_top=args.period_search_top,
        threads=args.threads,
        progress=not args.quiet,
        **survey_options,
    )
    written = table if args.top is None else table.head(max(0, args.top))
    if survey:
        args.out = args.out / "candidates.parquet"  # infer_survey wrote the whole table there
        if args.top is not None:
            args.out = args.out.with_name(f"top{args.top}.parquet")
            written.save(args.out)
    else:
        written.save(args.out)
    attrs = table.attrs
    print(f"scored {attrs['scored']:,} of {attrs['light_curves']:,} light curves in {attrs['seconds']:.1f} s; "
          f"wrote {len(written):,} rows to {args.out}")
    shown = [column for column in ("rank", "target_id", "sector", "score", "predicted", "period", "depth_ppm",
                                   "duration_hours", "heartbeat_snr", "heartbeat_amplitude_ppm") if column in table.columns]
    if args.show > 0 and len(table):
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            print(table[shown].head(args.show).to_string(index=False, float_format=lambda value: f"{value:.4g}"))
    problems = table.problems
    if len(problems):
        where = metadata_path(args.out) if suffix.endswith(".csv") else args.out
        stages = problems["stage"]
        # Counted apart, so the numbers add up: a scored file whose period search failed keeps its score and
        # rank, and an unlisted folder is not a file (scored + could not be scored = light curves found).
        not_scored = int((~stages.isin(["period_search", "discover"])).sum())
        search_failed = int((stages == "period_search").sum())
        unlisted = int((stages == "discover").sum())
        parts = [f"{not_scored:,} files could not be scored"] if not_scored else []
        if search_failed:
            parts.append(f"period search failed for {search_failed:,} scored files (they keep their score)")
        if unlisted:
            parts.append(f"{unlisted:,} folders could not be listed (their files were not looked at)")
        print(f"{'; '.join(parts)} (listed in {where}):")
        print(problems.head(10).to_string(index=False))
    return 0


_HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "demo": _run_demo,
    "synthetic": _run_synthetic,
    "train": _run_train,
    "evaluate": _run_evaluate,
    "infer": _run_infer,
}


def _user_errors() -> tuple[type[BaseException], ...]:
    from qusi_lab.errors import QusiLabError

    return (CommandError, QusiLabError, FileNotFoundError, NotADirectoryError, PermissionError)


# OSErrors about the machine, not the code: a read-only or full disk, permissions, a path that is a file.
_ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name) for name in ("EROFS", "EACCES", "EPERM", "ENOSPC", "EDQUOT", "EFBIG", "ENOTDIR",
                                      "EISDIR", "EEXIST", "ENOENT", "ENAMETOOLONG", "ELOOP")
    if hasattr(errno, name)
)


def _original_message(error: BaseException) -> str:
    """The message of ``error``, without the worker traceback torch puts in errors re-raised from a DataLoader worker."""
    text = str(error)
    if text.startswith("Caught ") and "\nOriginal Traceback" in text:
        marker = f"{type(error).__name__}: "
        if marker in text:
            return text[text.rindex(marker) + len(marker):].strip()
    return text


def _user_message(error: BaseException, output: Path | None = None) -> str | None:
    """The one-line message for a problem the user can fix, or None for a bug (which keeps its traceback).

    ``output`` (the command's ``--out``) is named when a write error does not say which file it was about.
    """
    if isinstance(error, OSError) and not isinstance(error, _user_errors()):
        # Any OSError about a path (the user gave it, or it is under one they gave) or about the machine;
        # others (a bad file descriptor, a broken connection) are bugs.
        if error.filename is None and error.errno not in _ENVIRONMENT_ERRNOS:
            return None
    elif not isinstance(error, _user_errors()):
        return None
    from qusi_lab.errors import QusiLabError

    # A plain OSError's str() is "[Errno 30] Read-only file system: 'path'"; ours already read well.
    if isinstance(error, OSError) and not isinstance(error, QusiLabError) and error.strerror:
        if error.filename is not None:
            return f"{error.filename}: {error.strerror}"
        # A full disk raised by file.write() names no file: say what the command was writing.
        return f"{error.strerror} (writing {output})" if output is not None else error.strerror
    message = _original_message(error)
    if message != str(error):
        message = message.splitlines()[0]  # the worker traceback is gone; keep the summary line
    return message or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qusi-lab``; returns the process exit code (2 for a usage or data problem).

    Problems the user can fix (:class:`CommandError`, any :class:`~qusi_lab.errors.QusiLabError`,
    an ``OSError`` about a path or the disk) print one ``qusi-lab: error: ...`` line; other
    exceptions are bugs and keep their traceback, as does everything with ``QUSI_LAB_DEBUG=1``.
    """
    args = _build_parser().parse_args(argv)
    try:
        _check_arguments(args)
        return _HANDLERS[args.command](args)
    except KeyboardInterrupt:
        print("qusi-lab: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        output = getattr(args, "out", None) or getattr(args, "scores", None)
        message = _user_message(error, output)
        if message is None or os.environ.get("QUSI_LAB_DEBUG"):
            raise
        print(f"qusi-lab: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
