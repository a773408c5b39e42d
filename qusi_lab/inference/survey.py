"""Survey inference: :func:`~qusi_lab.inference.infer` over millions of light curves on a Dask cluster.

The input (a folder, a glob, a text file of paths, or any iterable of paths) is *streamed*: the driver
reads paths lazily and cuts them into shards of ``shard_size``; a task receives its shard's paths only.
Each shard is one Dask task that scores its curves with the single-process machinery
(:func:`qusi_lab.models.scoring.score_curves`, the same preprocessing and network) and writes one Parquet
part, ``OUT/part-000042.parquet``, atomically (temporary file + rename). The part carries a manifest
in its Parquet metadata: the model's fingerprint (sha256 of its weights and description), the sha256 of
the shard's paths, and the files that could not be scored. So:

* a rerun into the same folder skips every part that is already written for the same model and the
  same paths, and redoes (overwrites) a stale one, never mixing two models in one table;
* a worker killed mid-shard loses nothing: the scheduler runs the task again elsewhere and the part is
  written once (or rewritten with the same rows); the merge checks that every path appears once;
* the merge (:func:`merge_parts`, also ``ql.read_candidates(OUT)``) gives one ranked
  :class:`~qusi_lab.inference.CandidateTable`, written to ``OUT/candidates.parquet``.

The model goes to the workers as a bundle in ``OUT/model`` (the output folder must be on a file system
every worker sees, as on any cluster); each worker process loads it once and keeps it for every shard.

Example
-------
>>> import qusi_lab as ql
>>> table = ql.infer("runs/transits", "/archive/tess/s0042/*.fits", scheduler="local:2",
...                  out="candidates/s42")                                        # doctest: +SKIP
>>> from dask.distributed import Client                                           # doctest: +SKIP
>>> table = ql.infer("runs/transits", "paths.txt", client=Client("tcp://head:8786"),
...                  out="/shared/candidates")                                    # doctest: +SKIP
>>> ql.read_candidates("/shared/candidates").head()                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime
import glob
import hashlib
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from qusi_lab.inference.candidates import PROBLEM_COLUMNS, CandidateTable, read_candidates, save_candidates
from qusi_lab.inference.infer import (
    _NOT_CURVE_FAILURES,
    DEFAULT_PERIOD_SEARCH_TOP,
    _add_period_columns,
    _build_table,
    _inference_network,
    _period_method,
    _PeriodSearchItems,
    _select_for_period_search,
    check_period_search_options,
)
from qusi_lab.io.discover import has_light_curve_suffix
from qusi_lab.models.scoring import InferenceError, score_curves
from qusi_lab.models.trained import Model, as_model
from qusi_lab.progress import ProgressBar
from qusi_lab.training.checkpoints import atomic_write, atomic_write_bytes

__all__ = [
    "DEFAULT_SHARD_SIZE",
    "SurveyError",
    "infer_survey",
    "iter_light_curve_paths",
    "merge_parts",
    "model_fingerprint",
    "open_client",
    "read_survey",
]

#: Curves per shard (one task, one Parquet part): big enough that a task's overhead (~10 ms) is nothing,
#: small enough that a killed worker costs seconds and a task's path list stays small.
DEFAULT_SHARD_SIZE = 2000

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
SURVEY_FILE = "survey.json"
MODEL_FOLDER = "model"
MERGED_FILE = "candidates.parquet"
_MANIFEST_KEY = b"qusi_lab_shard"
_INSTALL_HINT = 'pip install "qusi_lab[cluster]"'
# Text files of paths (one a line): any name that is not a light-curve file.
_PATH_LIST_SUFFIXES = (".txt", ".lst", ".list", ".paths")
_SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", "__pycache__"})
# Period-search tasks: a few curves each (a BLS search takes ~0.1-1 s).
_PERIOD_CHUNK = 8


class SurveyError(InferenceError):
    """A survey folder cannot be merged: parts of another model or input, a missing part, a curve twice."""


# ----------------------------------------------------------------------------- streaming the input


def _walk_sorted(root: Path, problems: list[tuple[str, str, str]]) -> Iterator[str]:
    """Light-curve files under ``root`` in the order of :func:`qusi_lab.io.find_light_curve_files` (sorted
    paths), yielded one by one: only one folder's listing is in memory at a time."""
    try:
        with os.scandir(root) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        problems.append((str(root), f"{type(error).__name__}: cannot list folder", "discover"))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        # Depth first, names sorted at each level: the same order as sorting whole Paths part by part.
        if entry.is_dir(follow_symlinks=False):
            if entry.name not in _SKIPPED_FOLDERS:
                yield from _walk_sorted(Path(entry.path), problems)
        elif entry.is_file() and has_light_curve_suffix(entry.name):
            yield entry.path


def _is_glob(text: str) -> bool:
    return any(character in text for character in "*?[")


def _read_path_list(file: Path) -> Iterator[str]:
    """Paths in a text file, one a line (blank lines and ``#`` comments skipped), read lazily; relative
    paths are taken from the list's own folder, so a list travels with its data."""
    with open(file, encoding="utf-8") as handle:
        for line in handle:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            path = Path(text).expanduser()
            yield str(path if path.is_absolute() else file.parent / path)


def iter_light_curve_paths(data: Any, problems: list[tuple[str, str, str]] | None = None) -> Iterator[str]:
    """Every light-curve path ``data`` names, one at a time (never the whole list in memory).

    ``data``: a folder (searched recursively, in sorted order, as :func:`qusi_lab.infer` does), a glob
    (``"/archive/s42/**/*.fits"``), a text file of paths (``.txt``, ``.lst``, ``.list``, ``.paths``; one
    a line), one light-curve file, or any iterable of paths (a generator included). Missing files in a
    list are not checked here: each is reported by its shard (stage ``load``). Folders that cannot be
    listed are appended to ``problems`` (stage ``discover``).

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b.npz", "a/c.fits", "notes.txt"):
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / name).write_text("")
    >>> [Path(path).relative_to(root).as_posix() for path in iter_light_curve_paths(root)]
    ['a/c.fits', 'b.npz']
    """
    found = [] if problems is None else problems
    if isinstance(data, (str, os.PathLike)):
        text = os.fspath(data)
        path = Path(text).expanduser()
        if path.is_dir():
            yield from _walk_sorted(path, found)
            return
        if path.is_file():
            if path.name.lower().endswith(_PATH_LIST_SUFFIXES) and not has_light_curve_suffix(path.name):
                yield from _read_path_list(path)
            else:
                yield str(path)
            return
        if _is_glob(text):
            for match in glob.iglob(os.path.expanduser(text), recursive=True):
                if has_light_curve_suffix(match) and os.path.isfile(match):
                    yield match
            return
        raise FileNotFoundError(f"{text}: no such file or folder (and not a glob pattern)")
    if isinstance(data, Iterable):
        for item in data:
            if not isinstance(item, (str, os.PathLike)):
                raise TypeError(f"survey inference takes paths of files, got a {type(item).__name__}; "
                                "score light curves in memory with ql.infer without a scheduler")
            yield os.fspath(item)
        return
    raise TypeError(f"cannot infer on a {type(data).__name__}; pass a folder, a glob, a text file of paths or "
                    "an iterable of paths")


def iter_shards(paths: Iterable[str], shard_size: int) -> Iterator[tuple[int, list[str]]]:
    """``(index, paths)`` for consecutive shards of ``shard_size`` paths (the last may be shorter)."""
    iterator = iter(paths)
    for index in itertools.count():
        shard = list(itertools.islice(iterator, shard_size))
        if not shard:
            return
        yield index, shard


def paths_digest(paths: Iterable[str]) -> str:
    """sha256 of the paths, in order (one a line): what a part's manifest records of its input."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.encode("utf-8", "surrogateescape") + b"\n")
    return digest.hexdigest()


def part_path(folder: Path, index: int) -> Path:
    """``folder/part-000042.parquet``: the part of shard ``index``."""
    return folder / f"{PART_PREFIX}{index:06d}{PART_SUFFIX}"


def _part_index(path: Path) -> int | None:
    name = path.name
    if not (name.startswith(PART_PREFIX) and name.endswith(PART_SUFFIX)):
        return None
    number = name[len(PART_PREFIX): -len(PART_SUFFIX)]
    return int(number) if number.isdigit() else None


# ----------------------------------------------------------------------------- the model


def model_fingerprint(model: Model, rank_by: str | None = None) -> str:
    """sha256 of what makes a model's scores: its weights (every tensor, by name) and its description
    (task, classes, input length, preprocessing, architecture), and ``rank_by``.

    A part records it; a rerun with other weights or another preprocessing gets another fingerprint, so
    its parts are redone rather than mixed. (Bundle checksums would not do: the same weights saved
    twice, or a model never saved, must match by content.)

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> model = Model(Hadryss(input_length=256), task="binary")
    >>> model_fingerprint(model) == model_fingerprint(model), len(model_fingerprint(model))
    (True, 64)
    """
    from qusi_lab.core.jsonable import dumps

    network = model.network
    if network is None:
        raise InferenceError("this Model is a description without weights; load it with qusi_lab.load(folder)")
    digest = hashlib.sha256()
    for name, tensor in sorted(network.state_dict().items()):
        array = tensor.detach().cpu().contiguous()
        digest.update(f"{name}|{array.dtype}|{tuple(array.shape)}\n".encode())
        digest.update(array.numpy().tobytes() if array.dtype != torch.bfloat16 else array.float().numpy().tobytes())
    preprocessing = model.preprocessing.to_dict() if hasattr(model.preprocessing, "to_dict") else None
    description = {
        "task": model.task, "label_names": list(model.label_names), "positive_class": model.positive_class,
        "input_length": model.input_length, "architecture": model.architecture, "model_config": model.model_config,
        "target_scaler": model.target_scaler, "preprocessing": preprocessing, "rank_by": rank_by,
    }
    digest.update(dumps(description, sort_keys=True).encode())
    return digest.hexdigest()


# Per worker process: fingerprint -> (Model, the network to run). Loaded once per process (not per shard, nor
# per run of the same model): a bundle read and batch-norm folding cost more than scoring a small shard.
_WORKER_MODELS: dict[tuple[str, bool], tuple[Model, nn.Module]] = {}


def _worker_model(folder: str, fingerprint: str, fuse: bool, rank_by: str | None) -> tuple[Model, nn.Module]:
    key = (fingerprint, fuse)
    cached = _WORKER_MODELS.get(key)
    if cached is not None:
        return cached
    from qusi_lab.models.bundle import load

    model = as_model(load(folder))
    model = model.replace(preprocessing=model.input_pipeline())
    if model_fingerprint(model, rank_by) != fingerprint:
        # Someone replaced OUT/model during the run: better to stop than to score with other weights.
        raise SurveyError(f"{folder}: the model there is not the one this survey was started with")
    assert model.network is not None and model.input_length is not None
    model.network.eval()
    network = _inference_network(model.network, model.input_length, fuse)
    _WORKER_MODELS.clear()  # one survey at a time per worker: do not keep old models alive
    _WORKER_MODELS[key] = (model, network)
    return model, network


# ----------------------------------------------------------------------------- parts


def write_part(frame: pd.DataFrame, manifest: dict[str, Any], path: Path) -> Path:
    """Write one shard's rows and its manifest (Parquet schema metadata) to ``path`` atomically.

    The rows go to a temporary file in the same folder, which is then renamed over ``path``: a reader
    (or a rerun) sees either no part or a whole one, never half of one.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from qusi_lab.core.jsonable import dumps

    table = pa.Table.from_pandas(pd.DataFrame(frame), preserve_index=False)
    metadata = dict(table.schema.metadata or {})
    metadata[_MANIFEST_KEY] = dumps(manifest).encode("utf-8")
    table = table.replace_schema_metadata(metadata)
    return atomic_write(path, lambda file: pq.write_table(table, file))


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of the part at ``path``; None when there is no readable part there."""
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
        manifest = json.loads(metadata[_MANIFEST_KEY])
    except (OSError, KeyError, ValueError, TypeError):  # missing, truncated or foreign: not a part of ours
        return None
    except Exception:  # noqa: BLE001 - pyarrow's ArrowInvalid for a damaged file is redone like a missing one
        return None
    return manifest if isinstance(manifest, dict) else None


def _part_state(path: Path, fingerprint: str, digest: str) -> tuple[str, dict[str, Any] | None]:
    """``("current", manifest)``, ``("stale", manifest)`` (another model or other paths) or ``("missing", None)``."""
    if not path.is_file():
        return "missing", None
    manifest = read_manifest(path)
    if manifest is None:
        return "stale", None
    if manifest.get("model_fingerprint") == fingerprint and manifest.get("paths_sha256") == digest:
        return "current", manifest
    return "stale", manifest


@dataclass(frozen=True)
class ShardTask:
    """What one task needs: its shard's paths (only those), where to write, and which model."""

    index: int
    paths: tuple[str, ...]
    paths_sha256: str
    out: str
    model_folder: str
    fingerprint: str
    batch_size: int = 256
    rank_by: str | None = None
    fuse: bool = True
    threads: int | None = 1
    start: int = 0  # the index of the shard's first curve in the whole input (seeds as one process would)


def score_shard(task: ShardTask) -> dict[str, Any]:
    """Score one shard on a worker and write its part; returns a short summary (counts, the worker's pid).

    The per-curve work is :func:`qusi_lab.models.scoring.score_curves` (as in :func:`qusi_lab.infer`),
    in this process (a Dask worker is the parallelism; no DataLoader processes inside it). Bad files
    become the part's problems, as ``infer`` reports them.
    """
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.models import scoring

    started = time.perf_counter()
    model, network = _worker_model(task.model_folder, task.fingerprint, task.fuse, task.rank_by)
    assert model.input_length is not None
    # Not inference_dataset: it checks every path exists first; here a missing file is one "load" problem.
    dataset = LightCurveDataset(list(task.paths), load=scoring._load_any, preprocessing=model.preprocessing,
                                augmentation=False, first_position=task.start)
    previous_threads = torch.get_num_threads()
    try:
        if task.threads is not None:
            torch.set_num_threads(max(1, int(task.threads)))
        scored = score_curves(network, dataset, model.preprocessing, model.input_length,
                              batch_size=task.batch_size, num_workers=0, progress=False)
    finally:
        torch.set_num_threads(previous_threads)
    positions, metas, problems = scored.positions, scored.metas, list(scored.problems)
    if len(scored.outputs):
        scores = model.scores_from_outputs(torch.from_numpy(scored.outputs)).numpy().astype(np.float64)
        scores = scores.reshape(len(positions), -1)
        finite = np.isfinite(scored.outputs.reshape(len(positions), -1)).all(axis=1) & np.isfinite(scores).all(axis=1)
        # Per shard, a non-finite score is a problem; only the merge can tell a broken model (no finite score).
        for position in positions[~finite]:
            problems.append((dataset.source_name(int(position)),
                             "the network gave a non-finite score (NaN or infinity) for this curve", "score"))
        positions, scores = positions[finite], scores[finite]
        metas = [meta for meta, keep in zip(metas, finite, strict=True) if keep]
    else:
        scores = np.zeros((0, len(model.label_names) if model.task == "multiclass" else 1))
    frame, meaning = _build_table(dataset, positions, metas, scores, model, task.rank_by)
    frame = frame.drop(columns="rank")
    frame.insert(0, "_shard", np.full(len(frame), task.index, dtype=np.int64))
    from qusi_lab._version import __version__

    manifest = {
        "shard": task.index,
        "paths_sha256": task.paths_sha256,
        "light_curves": len(task.paths),
        "scored": len(frame),
        "model_fingerprint": task.fingerprint,
        "model_qusi_lab_version": model.qusi_lab_version,
        "architecture": model.architecture,
        "qusi_lab_version": __version__,
        "score": meaning,
        "problems": [list(problem) for problem in problems],
        "seconds": round(time.perf_counter() - started, 3),
    }
    write_part(frame, manifest, part_path(Path(task.out), task.index))
    return {"shard": task.index, "light_curves": len(task.paths), "scored": len(frame),
            "problems": len(problems), "pid": os.getpid()}


def _search_periods(paths: list[str], options: dict[str, Any], method: str) -> list[tuple[str, Any, Any]]:
    """Period search on a few curves (a task): ``(path, row | None, problem | None)`` each."""
    from qusi_lab.data import LightCurveDataset
    from qusi_lab.models import scoring

    dataset = LightCurveDataset(list(paths), load=scoring._load_any, augmentation=False)
    items = _PeriodSearchItems(dataset, range(len(paths)), options, method)
    results = []
    for item in range(len(items)):
        index, row, problem = items[item]
        results.append((paths[index], row, problem))
    return results


# ----------------------------------------------------------------------------- the merge


def merge_parts(folder: str | os.PathLike[str], *, shards: int | None = None,
                fingerprint: str | None = None) -> CandidateTable:
    """One ranked table from the parts in ``folder`` (highest score first), with every part's problems.

    ``shards``: the parts expected (``0 .. shards-1``; others are ignored and a missing one is an
    error); default: every part there. ``fingerprint``: the model every part must come from; default:
    they must all agree. Raises :class:`SurveyError` when parts come from different models, a part is
    missing or unreadable, a shard's rows and problems do not add up to its curves, or a path appears
    twice (a curve scored twice).

    Example
    -------
    >>> table = merge_parts("candidates/s42")          # doctest: +SKIP
    """
    folder = Path(folder)
    if shards is None:
        indices = sorted(index for index in map(_part_index, folder.glob(f"{PART_PREFIX}*{PART_SUFFIX}"))
                         if index is not None)
    else:
        indices = list(range(int(shards)))
    frames: list[pd.DataFrame] = []
    problems: list[tuple[str, str, str]] = []
    fingerprints: set[str] = set()
    light_curves = 0
    meaning = None
    manifests: list[dict[str, Any]] = []
    for index in indices:
        path = part_path(folder, index)
        manifest = read_manifest(path)
        if manifest is None:
            raise SurveyError(f"{path}: missing or unreadable part (rerun the survey into {folder} to redo it)")
        fingerprints.add(str(manifest.get("model_fingerprint")))
        if fingerprint is not None and manifest.get("model_fingerprint") != fingerprint:
            raise SurveyError(f"{path}: scored by another model than this survey's; rerun to redo it")
        frame = pd.read_parquet(path)
        shard_problems = [tuple(problem) for problem in manifest.get("problems", [])]
        failed = sum(stage not in _NOT_CURVE_FAILURES for _, _, stage in shard_problems)
        if len(frame) + failed != int(manifest.get("light_curves", -1)) or int(manifest.get("scored", -1)) != len(frame):
            raise SurveyError(f"{path}: {len(frame)} rows and {failed} problems, but the shard had "
                              f"{manifest.get('light_curves')} curves")
        problems.extend(shard_problems)  # type: ignore[arg-type]
        light_curves += int(manifest["light_curves"])
        meaning = meaning or manifest.get("score")
        manifests.append(manifest)
        if len(frame):
            frames.append(frame)
    if len(fingerprints) > 1:
        raise SurveyError(f"{folder}: parts from {len(fingerprints)} different models; rerun the survey into the "
                          "folder to redo the stale ones, or use a new folder")
    if frames:
        merged = pd.concat(frames, ignore_index=True)
    else:
        merged = pd.DataFrame({"_shard": pd.array([], dtype="int64"), "path": pd.array([], dtype=object),
                               "score": np.zeros(0), "_position": pd.array([], dtype="int64")})
    counts = pd.concat([merged["path"], pd.Series([path for path, _, stage in problems
                                                   if stage not in _NOT_CURVE_FAILURES], dtype=object)])
    repeated = counts[counts.duplicated()]
    if len(repeated):
        raise SurveyError(f"{folder}: {repeated.iloc[0]} appears {int((counts == repeated.iloc[0]).sum())} times "
                          f"({repeated.nunique()} paths more than once: listed twice in the input?)")
    # Ties in score keep the input order (shard, then position), as the single-process ranking does.
    merged = merged.sort_values(["score", "_shard", "_position"], ascending=[False, True, True], kind="stable",
                                na_position="last").reset_index(drop=True)
    merged = merged.drop(columns=["_shard", "_position"])
    merged.insert(0, "rank", np.arange(1, len(merged) + 1))
    table = CandidateTable(merged)
    table.attrs = {
        "score": meaning,
        "light_curves": light_curves,
        "scored": len(table),
        "not_scored": sum(stage not in _NOT_CURVE_FAILURES for _, _, stage in problems),
        "problems": [dict(zip(PROBLEM_COLUMNS, problem, strict=True)) for problem in problems],
        "model_fingerprint": next(iter(fingerprints), None),
        "shards": len(indices),
    }
    if manifests:
        table.attrs["model_qusi_lab_version"] = manifests[0].get("model_qusi_lab_version")
        table.attrs["architecture"] = manifests[0].get("architecture")
    return table


def read_survey(folder: str | os.PathLike[str]) -> CandidateTable:
    """The table of a survey folder: ``candidates.parquet`` when the run finished, else the merged parts
    written so far (``ql.read_candidates(folder)`` calls this).

    Example
    -------
    >>> table = read_survey("candidates/s42")           # doctest: +SKIP
    """
    folder = Path(folder)
    survey: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        survey = json.loads((folder / SURVEY_FILE).read_text(encoding="utf-8"))
    merged = folder / MERGED_FILE
    if survey.get("complete") and merged.is_file():
        return read_candidates(merged)
    if not any(folder.glob(f"{PART_PREFIX}*{PART_SUFFIX}")):
        raise FileNotFoundError(f"{folder}: no candidate parts (part-*.parquet) in this folder")
    return merge_parts(folder, fingerprint=survey.get("model_fingerprint"))


# ----------------------------------------------------------------------------- the scheduler


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as error:
        raise ImportError(f"survey inference on a scheduler needs Dask: {_INSTALL_HINT}") from error
    return distributed


def open_client(scheduler: str) -> tuple[Any, Callable[[], None]]:
    """A Dask client for ``scheduler`` and the function that closes what was opened.

    ``"local"`` / ``"local:N"``: a LocalCluster of N worker processes (one thread each; default 2, or the
    CPUs if fewer). ``"tcp://host:8786"`` (or ``tls://``, ``host:port``): an existing scheduler.
    ``"slurm"``, ``"pbs"``, ``"sge"``, ``"lsf"`` (``":N"``: N jobs, default 1): a dask-jobqueue cluster
    configured as dask-jobqueue reads it (``~/.config/dask/jobqueue.yaml``: queue, cores, memory ...).

    Raises ImportError naming the ``cluster`` extra when Dask (or dask-jobqueue) is not installed.

    Example
    -------
    >>> client, close = open_client("local:2")          # doctest: +SKIP
    >>> close()                                         # doctest: +SKIP
    """
    distributed = _import_distributed()
    kind, _, count = str(scheduler).partition(":")
    kind = kind.strip().lower()
    if kind == "local":
        workers = int(count) if count else min(2, os.cpu_count() or 1)
        if workers < 1:
            raise ValueError(f"scheduler {scheduler!r}: local:N needs N >= 1")
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=40)
        client = distributed.Client(cluster)

        def close_local() -> None:
            client.close()
            cluster.close()

        return client, close_local
    if kind in ("slurm", "pbs", "sge", "lsf", "htcondor", "oar", "moab"):
        try:
            import dask_jobqueue
        except ImportError as error:
            raise ImportError(f"scheduler {scheduler!r} needs dask-jobqueue: {_INSTALL_HINT}") from error
        name = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
                "htcondor": "HTCondorCluster", "oar": "OARCluster", "moab": "MoabCluster"}[kind]
        cluster = getattr(dask_jobqueue, name)()
        cluster.scale(jobs=int(count) if count else 1)
        client = distributed.Client(cluster)

        def close_jobs() -> None:
            client.close()
            cluster.close()

        return client, close_jobs
    client = distributed.Client(str(scheduler))
    return client, client.close


def _worker_count(client: Any) -> int:
    with contextlib.suppress(Exception):
        return max(1, sum(client.nthreads().values()))
    return 1


# ----------------------------------------------------------------------------- the driver


def _write_json(path: Path, content: dict[str, Any]) -> None:
    from qusi_lab.core.jsonable import dumps

    atomic_write_bytes(path, (dumps(content, indent=1) + "\n").encode("utf-8"))


def infer_survey(
    model: Model | nn.Module | str | os.PathLike[str],
    data: Any,
    *,
    out: str | os.PathLike[str],
    client: Any = None,
    scheduler: str | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    batch_size: int = 256,
    period_search: bool | str = "auto",
    period_search_top: int | None = DEFAULT_PERIOD_SEARCH_TOP,
    period_search_threshold: float | None = None,
    period_search_options: dict[str, Any] | None = None,
    rank_by: str | None = None,
    preprocessing: Any = None,
    fuse: bool = True,
    threads: int | None = 1,
    progress: bool = True,
    max_pending: int | None = None,
) -> CandidateTable:
    """Score every light curve of ``data`` on a Dask cluster, shard by shard, and rank them.

    What :func:`qusi_lab.infer` does with ``client=`` or ``scheduler=`` (see there for the shared
    keywords). ``out`` is a folder: one ``part-NNNNNN.parquet`` per shard, ``model/`` (the model the
    workers load), ``survey.json`` and, at the end, ``candidates.parquet`` (the merged, ranked table,
    with the period-search columns). Rerunning into the same folder skips the parts already written for
    this model and these paths and redoes stale ones (``table.attrs["survey"]`` counts them).

    ``shard_size``: curves per task. ``max_pending``: shards submitted but not finished (default: twice
    the worker threads, plus two), so the driver holds only a few shards' paths whatever the input.

    Example
    -------
    >>> table = infer_survey("runs/transits", "/archive/s42/*.fits", out="candidates/s42",
    ...                      scheduler="local:2")                         # doctest: +SKIP
    """
    started = time.perf_counter()
    if (client is None) == (scheduler is None):
        raise ValueError("give one of client= (a dask.distributed.Client) or scheduler= ('local:2', "
                         "'tcp://host:8786', 'slurm')")
    if int(shard_size) < 1 or int(batch_size) < 1:
        raise ValueError(f"shard_size and batch_size must be at least 1, got {shard_size} and {batch_size}")
    _import_distributed()
    info = as_model(model, preprocessing=preprocessing)
    if info.network is None:
        raise InferenceError("this Model is a description without weights (load_bundle_info); load it with "
                             "qusi_lab.load(folder)")
    info = info.replace(preprocessing=info.input_pipeline())
    method = _period_method(period_search, info, rank_by)
    check_period_search_options(method, period_search_options)
    if rank_by is not None and info.task != "multiclass":
        raise ValueError(f"rank_by applies to multiclass models, not {info.task}")
    fingerprint = model_fingerprint(info, rank_by)

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    model_folder = folder / MODEL_FOLDER
    survey_path = folder / SURVEY_FILE
    previous: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        previous = json.loads(survey_path.read_text(encoding="utf-8"))
    if previous.get("model_fingerprint") != fingerprint or not (model_folder / "bundle.json").is_file():
        info.save(model_folder)  # the workers load it from here (a shared file system on a cluster)
    with contextlib.suppress(FileNotFoundError):
        (folder / MERGED_FILE).unlink()  # the old merged table no longer describes this folder
    _write_json(survey_path, {"model_fingerprint": fingerprint, "complete": False, "shard_size": int(shard_size),
                              "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")})

    close: Callable[[], None] = lambda: None  # noqa: E731
    if client is None:
        assert scheduler is not None
        client, close = open_client(scheduler)
    distributed = _import_distributed()
    discover_problems: list[tuple[str, str, str]] = []
    shards = iter_shards(iter_light_curve_paths(data, discover_problems), int(shard_size))
    limit = int(max_pending) if max_pending else 2 * _worker_count(client) + 2
    run = uuid.uuid4().hex[:8]
    counts = {"shards": 0, "skipped": 0, "redone": 0, "ran": 0, "light_curves": 0}
    bar = ProgressBar(None, enabled=progress, description="survey", unit="curve", smoothing=0.1)
    pending = distributed.as_completed()
    submitted: set[Any] = set()

    def submit_next() -> bool:
        """Submit the next shard that needs scoring (skipping current parts); False at the end of the input."""
        for index, paths in shards:
            counts["shards"] += 1
            counts["light_curves"] += len(paths)
            digest = paths_digest(paths)
            state, manifest = _part_state(part_path(folder, index), fingerprint, digest)
            if state == "current":
                counts["skipped"] += 1
                bar.update(len(paths), shards=counts["shards"])
                continue
            counts["redone"] += state == "stale"
            task = ShardTask(index, tuple(paths), digest, str(folder), str(model_folder), fingerprint,
                             int(batch_size), rank_by, fuse, threads, start=index * int(shard_size))
            # pure=False and a run-unique key: a rerun's task is never mistaken for a finished one.
            future = client.submit(score_shard, task, key=f"qusi-lab-shard-{run}-{index}", pure=False)
            submitted.add(future)
            pending.add(future)
            return True
        return False

    try:
        in_flight = 0
        while in_flight < limit and submit_next():
            in_flight += 1
        for future in pending:
            summary = future.result()  # a task's exception (not a killed worker: that one is rerun) stops the run
            submitted.discard(future)
            future.release()
            counts["ran"] += 1
            in_flight -= 1
            bar.update(int(summary["light_curves"]), shards=counts["shards"])
            while in_flight < limit and submit_next():
                in_flight += 1
        bar.close()
        if counts["shards"] == 0:
            raise InferenceError(f"no light curves to score in {data!r}")
        # Parts beyond this input's last shard are another (longer) input's: not this survey.
        for leftover in folder.glob(f"{PART_PREFIX}*{PART_SUFFIX}"):
            index = _part_index(leftover)
            if index is not None and index >= counts["shards"]:
                leftover.unlink()
        table = merge_parts(folder, shards=counts["shards"], fingerprint=fingerprint)
        problems = [tuple(problem) for problem in discover_problems] + [
            (row["path"], row["error"], row["stage"]) for row in table.attrs["problems"]]
        if len(table) == 0 and any(stage == "score" for _, _, stage in problems):
            raise InferenceError(
                f"the model is broken: the network gave a non-finite score (NaN or infinity) for every one of "
                f"the {counts['light_curves']:,} curves it scored (are its weights finite? did training diverge?)")
        search_settings: dict[str, Any] | None = None
        if method is not None:
            options = dict(period_search_options or {})
            selected = _select_for_period_search(table["score"].to_numpy(dtype=np.float64), period_search_top,
                                                 period_search_threshold)
            chosen = [str(table["path"].iloc[row]) for row in selected]
            chunks = [chosen[start:start + _PERIOD_CHUNK] for start in range(0, len(chosen), _PERIOD_CHUNK)]
            results: dict[str, dict[str, float]] = {}
            period_bar = ProgressBar(len(chosen), enabled=progress, description="period search", unit="curve")
            futures = client.map(_search_periods, chunks, options=options, method=method, pure=False,
                                 key=[f"qusi-lab-period-{run}-{number}" for number in range(len(chunks))])
            for future in distributed.as_completed(futures):
                for path, row, problem in future.result():
                    if row is not None:
                        results[path] = row
                    else:
                        problems.append(problem)
                    period_bar.update(1)
            period_bar.close()
            _add_period_columns(table, [results.get(str(path)) for path in table["path"]], method)
            search_settings = {"top": period_search_top, "threshold": period_search_threshold,
                               "searched": len(chosen), "options": options, "method": method}
    except BaseException:
        if submitted:  # a shared cluster should not go on scoring shards nobody will merge
            client.cancel(list(submitted))
        raise
    finally:
        bar.close()
        close()

    from qusi_lab._version import __version__

    table = CandidateTable(table)
    table.attrs = {
        "qusi_lab_version": __version__,
        "model": str(info.path) if info.path is not None else (
            str(model) if isinstance(model, (str, os.PathLike)) else str(model_folder)),
        "model_qusi_lab_version": info.qusi_lab_version,
        "architecture": info.architecture,
        "task": info.task,
        "label_names": list(info.label_names),
        "positive_class": info.positive_class,
        "score": table.attrs.get("score"),
        "input_length": info.input_length,
        "preprocessing": info.preprocessing.to_dict() if hasattr(info.preprocessing, "to_dict") else None,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "light_curves": counts["light_curves"],
        "scored": len(table),
        "not_scored": sum(stage not in _NOT_CURVE_FAILURES for _, _, stage in problems),
        "period_search_failed": sum(stage == "period_search" for _, _, stage in problems),
        "unlisted_folders": sum(stage == "discover" for _, _, stage in problems),
        "problems": [dict(zip(PROBLEM_COLUMNS, problem, strict=True)) for problem in problems],
        "period_search": search_settings,
        "period_method": method,
        "seconds": round(time.perf_counter() - started, 3),
        "model_fingerprint": fingerprint,
        "survey": {"out": str(folder), "shards": counts["shards"], "shard_size": int(shard_size),
                   "parts_written": counts["ran"], "parts_skipped": counts["skipped"],
                   "parts_redone": counts["redone"]},
    }
    save_candidates(table, folder / MERGED_FILE)
    _write_json(survey_path, {"model_fingerprint": fingerprint, "complete": True, "shards": counts["shards"],
                              "shard_size": int(shard_size), "light_curves": counts["light_curves"],
                              "finished": table.attrs["created"]})
    return table
