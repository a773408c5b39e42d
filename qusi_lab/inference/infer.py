"""``infer``: score every light curve of a sector (or any set of files) and rank them.

One pass over the data, in batches, with DataLoader workers reading and preprocessing
while the main process runs the network:

* every light curve exactly once, whole (the model's own preprocessing,
  ``model.preprocessing`` of the :class:`~qusi_lab.models.Model`, so inputs are made exactly as
  in training), through the one scoring path, :func:`qusi_lab.models.scoring.score_curves`
  (which :func:`~qusi_lab.training.evaluate` and ``Model.score`` share);
* the network runs under :func:`torch.inference_mode`, with batch normalisation folded
  into the convolutions (:func:`qusi_lab.models.fuse_for_inference`) and its conv blocks
  run channels-last (:func:`qusi_lab.models.to_channels_last`) when that copy gives the
  same outputs;
* files that cannot be read or preprocessed are skipped and listed in ``table.problems``;
  one bad file never stops a run over a sector; curves the network gives a non-finite
  score are not ranked either (stage ``"score"``), and a network that gives no finite score
  at all raises :class:`InferenceError`;
* memory stays flat however many curves go through: only one small row per curve is kept;
* for transit models, a box-least-squares period search (:mod:`qusi_lab.inference.periods`)
  on the top candidates adds period, epoch, duration and depth estimates; for heartbeat models
  (positive class named "heartbeat..."), the heartbeat search
  (:mod:`qusi_lab.inference.heartbeat_search`) adds period, periastron epoch, amplitude, snr,
  eccentricity and passages instead (``table.attrs["period_method"]`` says which).

Example
-------
>>> from qusi_lab.inference import infer
>>> table = infer("runs/transits", "data/sector_01", num_workers=2)     # doctest: +SKIP
>>> table.head()                                                       # doctest: +SKIP
   rank  path  target_id      mission  sector  score  period  epoch  duration_hours  depth_ppm ...
>>> table.save("candidates.csv")                                       # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import math
import os
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from qusi_lab._deprecation import moved_names, warn_deprecated
from qusi_lab.inference.candidates import PROBLEM_COLUMNS, CandidateTable
from qusi_lab.inference.heartbeat_search import HEARTBEAT_COLUMNS, search_heartbeat
from qusi_lab.inference.periods import PERIOD_COLUMNS, empty_period_row, search_period
from qusi_lab.models.scoring import (
    META_COLUMNS,
    InferenceError,
    device_of,
    inference_dataset,
    problem_row,
    score_curves,
    worker_count,
)
from qusi_lab.models.trained import Model, as_model
from qusi_lab.progress import ProgressBar

__all__ = ["infer", "InferenceError", "model_info", "load_model", "inference_dataset", "DEFAULT_PERIOD_SEARCH_TOP"]

#: Candidates that get a BLS period search by default (the top of the ranking).
DEFAULT_PERIOD_SEARCH_TOP = 100

# Meta keys copied into the table, in column order (quarter/campaign only appear when some curve has one).
_META_COLUMNS: tuple[str, ...] = META_COLUMNS
_OPTIONAL_META_COLUMNS = ("quarter", "campaign")

# Problem stages that do not stop a curve from being scored (or are not about one curve).
_NOT_CURVE_FAILURES = frozenset({"period_search", "discover"})


# ----------------------------------------------------------------------------- the model


def model_info(
    model: nn.Module | Model,
    *,
    preprocessing: Any = None,
    task: str | None = None,
    label_names: Sequence[str] | None = None,
) -> Model:
    """Deprecated: :func:`qusi_lab.models.as_model` (the :class:`~qusi_lab.models.Model` replaces ``ModelInfo``)."""
    warn_deprecated("qusi_lab.inference.model_info is now qusi_lab.models.as_model (it returns the Model)")
    described = as_model(model, preprocessing=preprocessing, task=task, label_names=label_names)
    return described.replace(preprocessing=described.input_pipeline())


def load_model(model: nn.Module | Model | str | os.PathLike[str]) -> nn.Module | Model:
    """``model`` itself, or the :class:`~qusi_lab.models.Model` saved in the bundle folder ``model`` (``ql.load``)."""
    if isinstance(model, (nn.Module, Model)):
        return model
    if isinstance(model, (str, os.PathLike)):
        from qusi_lab.models.bundle import load

        return load(model)
    raise TypeError(f"model must be a qusi_lab Model, a torch.nn.Module or a bundle folder, got {type(model).__name__}")


def _inference_network(model: nn.Module, input_length: int, fuse: bool) -> nn.Module:
    """The module to run: a batch-norm-folded copy when it gives the model's outputs, else the model."""
    if not fuse:
        return model
    from qusi_lab.models import fuse_for_inference, to_channels_last

    try:
        # Folded batch norm, conv blocks run channels-last (~1.4x faster on CPU; same outputs).
        fused = to_channels_last(fuse_for_inference(model), inplace=True)
    except Exception as error:  # noqa: BLE001 - an architecture the fuser does not know: run it as is
        warnings.warn(f"running the model unfused ({type(error).__name__}: {error})", RuntimeWarning, stacklevel=3)
        return model
    probe = torch.randn(4, input_length, generator=torch.Generator().manual_seed(0)).to(device_of(model))
    with torch.inference_mode():
        expected, got = model(probe), fused(probe)
    if expected.shape != got.shape or not torch.allclose(expected, got, rtol=1e-3, atol=1e-4):
        warnings.warn("batch-norm folding changed the outputs; running the model unfused", RuntimeWarning,
                      stacklevel=3)
        return model
    return fused


# ----------------------------------------------------------------------------- period search


#: The period searches ``infer`` runs: name -> (search function, the table columns it fills).
PERIOD_METHODS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "bls": (search_period, PERIOD_COLUMNS),
    "heartbeat": (search_heartbeat, HEARTBEAT_COLUMNS),
}
_INTEGER_COLUMNS = ("transit_count", "heartbeat_passages")


class _PeriodSearchItems(Dataset):  # type: ignore[type-arg]
    """Map-style: item ``k`` reloads curve ``indices[k]`` and runs the period search on it."""

    def __init__(self, dataset: Any, indices: Sequence[int], options: dict[str, Any], method: str = "bls") -> None:
        self.dataset = dataset
        self.indices = list(indices)
        self.options = options
        self.method = method

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[int, dict[str, float] | None, Any]:
        index = self.indices[item]
        try:
            lc = self.dataset.light_curve(index)
            search = search_heartbeat if self.method == "heartbeat" else search_period
            return index, search(lc, **self.options).as_row(), None
        except Exception as error:  # noqa: BLE001 - a failed search leaves NaNs, the curve stays ranked
            return index, None, problem_row(error, self.dataset.source_name(index), "period_search")


def _identity(item: Any) -> Any:
    return item


def is_heartbeat_model(info: Model, rank_by: str | None = None) -> bool:
    """Whether ``info`` finds heartbeat stars: its positive class (or ``rank_by``) names a heartbeat.

    Example
    -------
    >>> from qusi_lab.models.trained import Model
    >>> is_heartbeat_model(Model(task="binary", label_names=("other", "heartbeat"), positive_class="heartbeat"))
    True
    """
    target = rank_by if rank_by is not None else info.positive_class
    return target is not None and "heartbeat" in str(target).lower().replace("_", "").replace(" ", "")


def _period_method(period_search: bool | str, info: Model, rank_by: str | None = None) -> str | None:
    """The period search to run: ``"bls"``, ``"heartbeat"`` or None."""
    if period_search == "auto":
        if info.task not in ("binary", "multiclass"):
            return None
        return "heartbeat" if is_heartbeat_model(info, rank_by) else "bls"
    if isinstance(period_search, bool):
        return "bls" if period_search else None
    if period_search in PERIOD_METHODS:
        return str(period_search)
    raise ValueError(f"period_search must be True, False, 'auto', 'bls' or 'heartbeat', got {period_search!r}")


def _select_for_period_search(scores: np.ndarray, top: int | None, threshold: float | None) -> np.ndarray:
    """Positions (into ``scores``) of the curves to search: the ``top`` best and any at or above ``threshold``."""
    order = np.argsort(-scores, kind="stable")
    chosen = np.zeros(scores.size, dtype=bool)
    if top is None and threshold is None:
        chosen[:] = True
    if top is not None:
        chosen[order[: max(0, int(top))]] = True
    if threshold is not None:
        chosen |= scores >= float(threshold)
    return np.flatnonzero(chosen)


def _run_period_search(dataset: Any, indices: Sequence[int], options: dict[str, Any], workers: int,
                       progress: bool, method: str = "bls") -> tuple[dict[int, dict[str, float]],
                                                                    list[tuple[str, str, str]]]:
    results: dict[int, dict[str, float]] = {}
    problems: list[tuple[str, str, str]] = []
    if not indices:
        return results, problems
    items = _PeriodSearchItems(dataset, indices, options, method)
    workers = min(workers, len(indices))
    loader = DataLoader(items, batch_size=None, num_workers=workers, collate_fn=_identity)
    bar = ProgressBar(len(indices), enabled=progress, description="period search", unit="curve", smoothing=0.1)
    try:
        for index, row, problem in loader:
            if row is not None:
                results[int(index)] = row
            else:
                problems.append(problem)
            bar.update(1)
    finally:
        bar.close()
    return results, problems


def check_period_search_options(method: str | None, options: dict[str, Any] | None) -> None:
    """Raise TypeError naming the keywords of ``options`` that the period search ``method`` does not take."""
    if not options or method is None:
        return
    import inspect

    function = PERIOD_METHODS[method][0]
    known = set(inspect.signature(function).parameters) - {"light_curve"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown period_search_options {unknown}; {function.__name__} takes {sorted(known)}")


def _add_period_columns(frame: pd.DataFrame, rows: Sequence[dict[str, float] | None], method: str) -> None:
    """Fill the period-search columns of ``frame`` from one row per table row (None: not searched, NaN)."""
    columns = PERIOD_METHODS[method][1]
    empty = dict.fromkeys(columns, float("nan")) if method == "heartbeat" else empty_period_row()
    full = [empty if row is None else row for row in rows]
    for column in columns:
        values = np.array([row[column] for row in full], dtype=np.float64)
        if column in _INTEGER_COLUMNS:
            frame[column] = pd.array([None if math.isnan(value) else int(value) for value in values],
                                     dtype="Int64")
        else:
            frame[column] = values


# ----------------------------------------------------------------------------- the table


def _score_columns(scores: np.ndarray, info: Model, rank_by: str | None) -> tuple[dict[str, Any], str]:
    """Score columns for the task, and a description of what ``score`` is."""
    if info.task == "multiclass":
        names = list(info.label_names) or [f"class_{index}" for index in range(scores.shape[1])]
        columns: dict[str, Any] = {f"score_{name}": scores[:, position] for position, name in enumerate(names)}
        target = rank_by or (info.positive_class if info.positive_class in names else None)
        if target is not None:
            if target not in names:
                raise ValueError(f"rank_by={target!r} is not a class of this model; its classes are {names}")
            score = scores[:, names.index(target)]
            meaning = f"probability of class {target!r}"
        else:
            score = scores.max(axis=1) if scores.size else np.zeros(0)
            meaning = "probability of the predicted class"
        predicted = np.asarray(names, dtype=object)[scores.argmax(axis=1)] if scores.size else np.array([], object)
        return {"score": score, **columns, "predicted": predicted}, meaning
    if rank_by is not None:
        raise ValueError(f"rank_by applies to multiclass models, not {info.task}")
    if info.task == "regression":
        values = scores.reshape(len(scores), -1)[:, 0] if scores.size else np.zeros(0)
        return {"score": values, "prediction": values}, "predicted value"
    values = scores.reshape(len(scores), -1)[:, 0] if scores.size else np.zeros(0)
    return {"score": values}, f"probability of class {info.positive_class!r}"


def _build_table(
    dataset: Any,
    positions: np.ndarray,
    metas: list[dict[str, Any]],
    scores: np.ndarray,
    info: Model,
    rank_by: str | None,
) -> tuple[pd.DataFrame, str]:
    columns: dict[str, Any] = {"path": [dataset.source_name(int(position)) for position in positions]}
    target_ids = dataset.target_ids
    for key in _META_COLUMNS:
        values = [meta.get(key) for meta in metas]
        if key == "target_id":
            values = [value if value else target_ids[int(position)] for value, position in zip(values, positions,
                                                                                              strict=True)]
        if key in _OPTIONAL_META_COLUMNS and all(value is None for value in values):
            continue
        if key in ("sector", "quarter", "campaign"):
            columns[key] = pd.array([None if value is None else int(value) for value in values], dtype="Int64")
        else:
            columns[key] = pd.array([None if value is None else str(value) for value in values], dtype=object)
    labels = dataset.labels if getattr(dataset, "is_labelled", False) else None
    if labels is not None:
        columns["label"] = [labels[int(position)] for position in positions]
    score_columns, meaning = _score_columns(scores, info, rank_by)
    columns.update(score_columns)
    frame = pd.DataFrame(columns)
    frame.insert(0, "rank", 0)
    frame["_position"] = positions
    return frame, meaning


# ----------------------------------------------------------------------------- infer


def infer(
    model: Model | nn.Module | str | os.PathLike[str],
    data: Any,
    *,
    batch_size: int = 256,
    num_workers: int | None = None,
    period_search: bool | str = "auto",
    period_search_top: int | None = DEFAULT_PERIOD_SEARCH_TOP,
    period_search_threshold: float | None = None,
    period_search_options: dict[str, Any] | None = None,
    rank_by: str | None = None,
    preprocessing: Any = None,
    fuse: bool = True,
    threads: int | None = 1,
    progress: bool = True,
    client: Any = None,
    scheduler: str | None = None,
    out: str | os.PathLike[str] | None = None,
    shard_size: int | None = None,
) -> CandidateTable:
    """Score every light curve in ``data`` with ``model`` and rank them, highest score first.

    By default in this process (with DataLoader workers), no setup. With ``client`` or ``scheduler``,
    a survey on a Dask cluster (:func:`qusi_lab.inference.survey.infer_survey`): ``data`` may also be
    a glob or a text file of paths, streamed in shards of ``shard_size`` curves, each written to
    ``out`` (a folder) as one Parquet part; a rerun skips the parts already written.

    Parameters
    ----------
    model:
        A trained :class:`~qusi_lab.models.Model` (``result.model`` of :func:`qusi_lab.train`, or
        ``ql.load(folder)``), or the path of a saved bundle folder. A bare network is taken as
        binary (one output) or multiclass with the default preprocessing, with a warning.
    data:
        A folder (searched recursively for FITS, CSV and NPZ files), a file, a list of
        paths and/or light curves, or a :class:`~qusi_lab.data.LightCurveDataset` (its
        labels, if any, become a ``label`` column; its own preprocessing is *not* used).
    batch_size:
        Curves per batch handed over by the workers.
    num_workers:
        DataLoader worker processes reading and preprocessing files. Default: 2 (or the
        number of CPUs if smaller) for 64 curves or more, else 0 (all in this process).
    period_search:
        ``"auto"`` (default): for classification models, a period search on the selected
        candidates: :func:`~qusi_lab.inference.heartbeat_search.search_heartbeat` when the
        model's positive class (or ``rank_by``) names a heartbeat, else box least squares
        (transit finders). ``"heartbeat"`` or ``"bls"``: that search for any model; ``True``:
        BLS also for regression; ``False``: none. ``table.attrs["period_method"]`` records it.
    period_search_top, period_search_threshold:
        Which curves get the search: the ``period_search_top`` best (default 100) and any
        whose score is at least ``period_search_threshold``. Both None: every curve.
    period_search_options:
        Keywords for :func:`~qusi_lab.inference.periods.search_period`
        (``minimum_period``, ``maximum_period``, ``durations_hours``, ``bin_minutes`` ...), or for
        :func:`~qusi_lab.inference.heartbeat_search.search_heartbeat` with the heartbeat search.
    rank_by:
        Multiclass models: the class whose probability is the score (default: the
        bundle's positive class if it has one, else the probability of the predicted class).
    preprocessing:
        Override the bundle's preprocessing (rarely right: the network expects what it
        was trained on).
    fuse:
        Fold batch normalisation into convolutions for speed (checked on a probe batch;
        the model runs unfused if the outputs differ).
    threads:
        torch threads for the forward pass (restored afterwards). The default, 1, is the
        fastest here: batches of 32 curves give a thread little to share, the workers need
        the other cores, and several OpenMP threads on busy cores can be 100x slower.
        None keeps torch's setting.
    progress:
        Show progress bars (tqdm) on stderr.
    client, scheduler:
        Run on Dask (needs ``pip install "qusi_lab[cluster]"``): a ``dask.distributed.Client``, or
        ``"local:2"`` (a LocalCluster of 2 worker processes), ``"tcp://head:8786"`` (a running
        scheduler), ``"slurm"`` / ``"pbs"`` (dask-jobqueue, ``":N"`` jobs). ``num_workers`` is then
        unused: each Dask worker reads its shards itself.
    out:
        With a client or scheduler (required there): the folder of the parts, the workers' copy of
        the model and the merged ``candidates.parquet`` (on a file system all workers see).
    shard_size:
        Curves per Dask task and Parquet part (default
        :data:`~qusi_lab.inference.survey.DEFAULT_SHARD_SIZE`).

    Returns
    -------
    CandidateTable
        A pandas DataFrame, one row per usable curve, ranked (see
        :mod:`qusi_lab.inference.candidates` for the columns); ``table.problems`` lists the
        files skipped; ``table.attrs`` holds the model, versions and settings.

    Raises
    ------
    FileNotFoundError
        When ``data`` names a folder or file that does not exist.
    InferenceError
        When there are no light curves, the model lacks what inference needs, or the
        network gives a non-finite score for every curve (a broken model). Curves with a
        non-finite score among finite ones are listed in ``table.problems`` (stage
        ``"score"``) instead of being ranked.

    Example
    -------
    >>> table = infer(model, "data/sector_01", num_workers=2)     # doctest: +SKIP
    >>> table[["rank", "target_id", "score", "period", "depth_ppm"]].head(10)  # doctest: +SKIP
    >>> table = infer(model, "/archive/s42/*.fits", scheduler="local:2", out="candidates/s42")  # doctest: +SKIP
    """
    if client is not None or scheduler is not None:
        if out is None:
            raise ValueError("survey inference (client= or scheduler=) writes its parts to a folder: give out=")
        from qusi_lab.inference.survey import DEFAULT_SHARD_SIZE, infer_survey

        return infer_survey(
            model, data, out=out, client=client, scheduler=scheduler,
            shard_size=DEFAULT_SHARD_SIZE if shard_size is None else shard_size, batch_size=batch_size,
            period_search=period_search, period_search_top=period_search_top,
            period_search_threshold=period_search_threshold, period_search_options=period_search_options,
            rank_by=rank_by, preprocessing=preprocessing, fuse=fuse, threads=threads, progress=progress)
    if out is not None or shard_size is not None:
        raise ValueError("out= and shard_size= are for survey inference: also give client= or scheduler= "
                         "(without them, save the returned table with table.save(path))")
    started = time.perf_counter()
    network_source = model
    info = as_model(model, preprocessing=preprocessing)
    if info.network is None:
        raise InferenceError("this Model is a description without weights (load_bundle_info); load it with "
                             "qusi_lab.load(folder)")
    info = info.replace(preprocessing=info.input_pipeline())
    network_module = info.network
    assert network_module is not None and info.input_length is not None
    discover_problems: list[tuple[str, str, str]] = []
    dataset = inference_dataset(data, info.preprocessing, discover_problems)
    size = len(dataset)
    workers = worker_count(num_workers, size)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    method = _period_method(period_search, info, rank_by)
    check_period_search_options(method, period_search_options)

    was_training = network_module.training
    previous_threads = torch.get_num_threads()
    network_module.eval()
    try:
        if threads is not None:
            torch.set_num_threads(max(1, int(threads)))
        network = _inference_network(network_module, info.input_length, fuse)
        scored = score_curves(network, dataset, info.preprocessing, info.input_length, batch_size=int(batch_size),
                              num_workers=workers, progress=progress)
        positions, metas, outputs, problems = scored.positions, scored.metas, scored.outputs, scored.problems
        problems[:0] = discover_problems
    finally:
        network_module.train(was_training)
        torch.set_num_threads(previous_threads)

    if len(outputs):
        scores = info.scores_from_outputs(torch.from_numpy(outputs)).numpy().astype(np.float64)
        scores = scores.reshape(len(positions), -1)
        positions, metas, scores = _drop_non_finite(dataset, positions, metas, outputs, scores, problems)
    else:  # every file failed: an empty table with the usual columns
        scores = np.zeros((0, len(info.label_names) if info.task == "multiclass" else 1))
    frame, meaning = _build_table(dataset, positions, metas, scores, info, rank_by)
    frame = frame.sort_values("score", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)

    search_settings: dict[str, Any] | None = None
    if method is not None:
        options = dict(period_search_options or {})
        selected = _select_for_period_search(frame["score"].to_numpy(dtype=np.float64), period_search_top,
                                             period_search_threshold)
        chosen = [int(frame["_position"].iloc[row]) for row in selected]
        results, search_problems = _run_period_search(dataset, chosen, options, workers, progress, method)
        problems.extend(search_problems)
        _add_period_columns(frame, [results.get(int(position)) for position in frame["_position"]], method)
        search_settings = {"top": period_search_top, "threshold": period_search_threshold,
                           "searched": len(chosen), "options": options, "method": method}
    frame = frame.drop(columns="_position")

    table = CandidateTable(frame)
    from qusi_lab._version import __version__

    table.attrs = {
        "qusi_lab_version": __version__,
        "model": str(info.path) if info.path is not None else (
            str(network_source) if isinstance(network_source, (str, os.PathLike)) else None),
        "model_qusi_lab_version": info.qusi_lab_version,
        "architecture": info.architecture,
        "task": info.task,
        "label_names": list(info.label_names),
        "positive_class": info.positive_class,
        "score": meaning,
        "input_length": info.input_length,
        "preprocessing": info.preprocessing.to_dict() if hasattr(info.preprocessing, "to_dict") else None,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "light_curves": size,
        "scored": len(frame),
        # Counted apart: a curve whose period search failed was scored and keeps its score, and an
        # unlisted folder is not a light curve, so scored + not_scored == light_curves.
        "not_scored": sum(stage not in _NOT_CURVE_FAILURES for _, _, stage in problems),
        "period_search_failed": sum(stage == "period_search" for _, _, stage in problems),
        "unlisted_folders": sum(stage == "discover" for _, _, stage in problems),
        "problems": [dict(zip(PROBLEM_COLUMNS, problem, strict=True)) for problem in problems],
        "period_search": search_settings,
        "period_method": method,
        "seconds": round(time.perf_counter() - started, 3),
    }
    return table


def _drop_non_finite(
    dataset: Any,
    positions: np.ndarray,
    metas: list[dict[str, Any]],
    outputs: np.ndarray,
    scores: np.ndarray,
    problems: list[tuple[str, str, str]],
) -> tuple[np.ndarray, list[dict[str, Any]], np.ndarray]:
    """Keep only curves with finite outputs and scores; the others become "score" problems.

    A NaN score sorts anywhere and an infinite logit is a probability of exactly 1: neither
    is a ranking. When no curve at all has a finite score, the network itself is broken.
    """
    finite = np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1) & np.isfinite(scores).all(axis=1)
    if finite.all():
        return positions, metas, scores
    if not finite.any():
        raise InferenceError(
            f"the model is broken: the network gave a non-finite score (NaN or infinity) for every one of the "
            f"{len(finite):,} curves it scored (are its weights finite? did training diverge?)")
    for position in positions[~finite]:
        problems.append((dataset.source_name(int(position)),
                         "the network gave a non-finite score (NaN or infinity) for this curve", "score"))
    return positions[finite], [meta for meta, keep in zip(metas, finite, strict=True) if keep], scores[finite]


def seconds_per_curve(table: pd.DataFrame) -> float:
    """Wall time of the run that made ``table`` divided by its light curves (NaN when unknown)."""
    seconds, count = table.attrs.get("seconds"), table.attrs.get("light_curves")
    if not seconds or not count:
        return math.nan
    return float(seconds) / float(count)


# ModelInfo became qusi_lab.models.Model: one description of a trained model.
__getattr__ = moved_names(__name__, {"ModelInfo": "qusi_lab.models.trained:Model"})
