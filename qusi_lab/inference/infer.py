"""``infer``: score every light curve of a sector (or any set of files) and rank them.

One pass over the data, in batches, with DataLoader workers reading and preprocessing
while the main process runs the network:

* every light curve exactly once, whole (the model's own preprocessing, taken from
  ``model.bundle.preprocessing``, so inputs are made exactly as in training);
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
  on the top candidates adds period, epoch, duration and depth estimates.

Example
-------
>>> from qusi_lab.inference import infer, save_candidates
>>> table = infer("runs/transits", "data/sector_01", num_workers=2)     # doctest: +SKIP
>>> table.head()                                                       # doctest: +SKIP
   rank  path  target_id      mission  sector  score  period  epoch  duration_hours  depth_ppm ...
>>> save_candidates(table, "candidates.csv")                           # doctest: +SKIP
"""

from __future__ import annotations

import datetime
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from qusi_lab.errors import LightCurveError, QusiLabError
from qusi_lab.inference.candidates import PROBLEM_COLUMNS, CandidateTable
from qusi_lab.inference.periods import PERIOD_COLUMNS, empty_period_row, search_period
from qusi_lab.lightcurve import LightCurve

__all__ = ["infer", "InferenceError", "ModelInfo", "model_info", "load_model", "inference_dataset", "DEFAULT_PERIOD_SEARCH_TOP"]

#: Candidates that get a BLS period search by default (the top of the ranking).
DEFAULT_PERIOD_SEARCH_TOP = 100

# Curves per forward call: small chunks keep a Hadryss layer's activations in the CPU cache, ~2x faster
# per curve than one call on a 256-curve batch (measured on 4096-long inputs).
_FORWARD_CHUNK = 32

# Meta keys copied into the table, in column order (quarter/campaign only appear when some curve has one).
_META_COLUMNS: tuple[str, ...] = ("target_id", "mission", "sector", "quarter", "campaign")
_OPTIONAL_META_COLUMNS = ("quarter", "campaign")

# Problem stages that do not stop a curve from being scored (or are not about one curve).
_NOT_CURVE_FAILURES = frozenset({"period_search", "discover"})


class InferenceError(QusiLabError, ValueError):
    """Inference cannot run: no light curves, a model without what inference needs, or a broken model."""


# ----------------------------------------------------------------------------- the model and its bundle


@dataclass(frozen=True)
class ModelInfo:
    """What inference needs to know about a model (read from ``model.bundle``).

    Attributes
    ----------
    task:
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    label_names:
        Class names in output order (empty for regression).
    positive_class:
        Binary: the class whose probability is the score.
    input_length:
        Length of the network input.
    preprocessing:
        The :class:`~qusi_lab.transforms.Pipeline` that makes the input from a light curve.
    target_scaler:
        Regression: ``{"mean", "std"}`` to turn outputs back into target units.
    path:
        The bundle folder the model was loaded from, if any.
    version:
        The qusi_lab version that saved the bundle, if known.
    architecture:
        Registry name of the network, if known.
    """

    task: str
    label_names: tuple[str, ...]
    positive_class: str | None
    input_length: int
    preprocessing: Any
    target_scaler: dict[str, float] | None = None
    path: str | None = None
    version: str | None = None
    architecture: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _bundle_value(bundle: Any, name: str, default: Any = None) -> Any:
    if bundle is None:
        return default
    if isinstance(bundle, dict):
        return bundle.get(name, default)
    return getattr(bundle, name, default)


def model_info(
    model: nn.Module,
    *,
    preprocessing: Any = None,
    task: str | None = None,
    label_names: Sequence[str] | None = None,
) -> ModelInfo:
    """Read task, classes and preprocessing from ``model.bundle`` (keywords override it).

    A model without a bundle (a bare network) is taken as binary with the default
    preprocessing for its ``input_length``, with a warning, since nothing guarantees
    that is how it was trained.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> from qusi_lab.transforms import default_preprocessing
    >>> info = model_info(Hadryss(input_length=256), preprocessing=default_preprocessing(256), task="binary")
    >>> info.task, info.input_length
    ('binary', 256)
    """
    from qusi_lab.transforms import Pipeline, default_preprocessing

    bundle = getattr(model, "bundle", None)
    n_outputs = getattr(model, "n_outputs", None)
    chosen_task = task or _bundle_value(bundle, "task")
    if chosen_task is None:
        chosen_task = "binary" if n_outputs in (None, 1) else "multiclass"
    names = tuple(str(name) for name in (label_names or _bundle_value(bundle, "label_names") or ()))
    if chosen_task == "multiclass" and not names:
        names = tuple(f"class_{index}" for index in range(int(n_outputs or 0)))
    positive = _bundle_value(bundle, "positive_class")
    if chosen_task == "binary" and positive is None:
        positive = names[1] if len(names) == 2 else "positive"
    pipeline = preprocessing if preprocessing is not None else _bundle_value(bundle, "preprocessing")
    if isinstance(pipeline, dict):
        pipeline = Pipeline.from_dict(pipeline)
    length = _bundle_value(bundle, "input_length") or getattr(model, "input_length", None)
    if pipeline is None:
        if length is None:
            raise InferenceError(
                "the model has no bundle (model.bundle) and no input_length: pass preprocessing=, or load the "
                "model with qusi_lab.training.load(folder)")
        where = "has no bundle (model.bundle)" if bundle is None else "bundle records no preprocessing"
        warnings.warn(
            f"the model {where}, so the default preprocessing is assumed; pass preprocessing= the pipeline "
            "it was trained with", UserWarning, stacklevel=3)
        pipeline = default_preprocessing(int(length))
    pipeline_length = getattr(pipeline, "input_length", None)
    if length is None:
        length = pipeline_length
    if length is None:
        raise InferenceError("cannot tell the input length: the preprocessing sets none and the model has none")
    if pipeline_length is not None and int(pipeline_length) != int(length):
        raise InferenceError(
            f"the preprocessing makes inputs of length {pipeline_length} but the model expects {length}")
    path = _bundle_value(bundle, "path")
    return ModelInfo(
        task=str(chosen_task),
        label_names=names,
        positive_class=None if positive is None else str(positive),
        input_length=int(length),
        preprocessing=pipeline,
        target_scaler=_bundle_value(bundle, "target_scaler"),
        path=None if path is None else str(path),
        version=_bundle_value(bundle, "qusi_lab_version"),
        architecture=_bundle_value(bundle, "architecture") or getattr(model, "name", None) or None,
    )


def load_model(model: nn.Module | str | os.PathLike[str]) -> nn.Module:
    """``model`` itself, or the model saved in the bundle folder ``model`` (:func:`qusi_lab.training.load`)."""
    if isinstance(model, nn.Module):
        return model
    if isinstance(model, (str, os.PathLike)):
        from qusi_lab.training import load

        return load(model)
    raise TypeError(f"model must be a torch.nn.Module or a bundle folder, got {type(model).__name__}")


def _outputs_to_scores(outputs: torch.Tensor, info: ModelInfo) -> np.ndarray:
    try:
        from qusi_lab.training.bundle import scores_from_outputs
    except ImportError:  # training not installed alongside: same conversion without the target scaler
        from qusi_lab.models import scores_from_logits

        scores = scores_from_logits(outputs, info.task)
        if info.task == "regression" and info.target_scaler:
            scores = scores * float(info.target_scaler["std"]) + float(info.target_scaler["mean"])
        return scores.numpy()
    return scores_from_outputs(outputs, info.task, info.target_scaler).numpy()


def _device_of(model: nn.Module) -> torch.device:
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


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
    probe = torch.randn(4, input_length, generator=torch.Generator().manual_seed(0)).to(_device_of(model))
    with torch.inference_mode():
        expected, got = model(probe), fused(probe)
    if expected.shape != got.shape or not torch.allclose(expected, got, rtol=1e-3, atol=1e-4):
        warnings.warn("batch-norm folding changed the outputs; running the model unfused", RuntimeWarning,
                      stacklevel=3)
        return model
    return fused


# ----------------------------------------------------------------------------- data


def _load_any(source: Any) -> Any:
    """The ``load`` of inference datasets: read paths, pass light curves through."""
    if isinstance(source, (str, os.PathLike)):
        from qusi_lab.io import read_light_curve

        return read_light_curve(source)
    return source


def inference_dataset(data: Any, preprocessing: Any = None,
                      problems: list[tuple[str, str, str]] | None = None) -> Any:
    """A :class:`~qusi_lab.data.LightCurveDataset` of ``data`` (returned as is when it already is one).

    ``data``: a LightCurveDataset; a folder (searched recursively for FITS, CSV and NPZ
    files); one file; a LightCurve; or a list of paths and/or LightCurves (qusi_lab or
    lightkurve).

    Sub-folders that cannot be listed are appended to ``problems`` as ``(folder, error,
    "discover")`` when it is given (:func:`infer` reports them in ``table.problems``), and
    warned about otherwise.

    Raises
    ------
    FileNotFoundError
        When a folder or file does not exist.
    InferenceError
        When there is no light curve at all.
    """
    from qusi_lab.data import LightCurveDataset

    if isinstance(data, LightCurveDataset):
        return data
    if isinstance(data, (str, os.PathLike)):
        root = Path(data)
        if root.is_dir():
            from qusi_lab.io import find_light_curve_files

            unreadable: list[tuple[Path, OSError]] | None = None if problems is None else []
            sources: list[Any] = list(find_light_curve_files(root, unreadable=unreadable))
            for folder, error in unreadable or ():
                assert problems is not None  # unreadable is only a list when problems is
                problems.append((str(folder), f"{type(error).__name__}: cannot list folder", "discover"))
            if not sources:
                raise InferenceError(f"{root}: no light-curve files (.fits, .fits.gz, .fit, .csv, .npz) in it")
        elif root.exists():
            sources = [root]
        else:
            raise FileNotFoundError(f"{root}: no such file or folder")
    elif isinstance(data, LightCurve) or (hasattr(data, "time") and hasattr(data, "flux")):
        sources = [data]
    elif isinstance(data, Sequence) or hasattr(data, "__iter__"):
        sources = list(data)
        missing = [item for item in sources if isinstance(item, (str, os.PathLike)) and not Path(item).exists()]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise FileNotFoundError(f"{missing[0]}: no such file{more}")
    else:
        raise TypeError(f"cannot infer on a {type(data).__name__}; pass a folder, files, light curves or a dataset")
    if not sources:
        raise InferenceError("no light curves to score")
    return LightCurveDataset(sources, load=_load_any, preprocessing=preprocessing, augmentation=False)


def _meta_row(lc: LightCurve) -> dict[str, Any]:
    meta = lc.meta
    row: dict[str, Any] = {}
    for key in _META_COLUMNS:
        value = meta.get(key)
        if isinstance(value, np.generic):
            value = value.item()
        row[key] = value
    return row


def _problem(error: BaseException, name: str, stage: str) -> tuple[str, str, str]:
    reason = getattr(error, "reason", None) or str(error)
    return (name, f"{type(error).__name__}: {reason}", stage)


class _InferenceStream(IterableDataset):  # type: ignore[type-arg]
    """Yields ``(index, input array | None, meta row | problem)`` for each index once, across workers."""

    def __init__(self, dataset: Any, preprocessing: Any, input_length: int) -> None:
        super().__init__()
        self.dataset = dataset
        self.preprocessing = preprocessing
        self.input_length = input_length

    def __iter__(self) -> Iterator[tuple[int, np.ndarray | None, Any]]:
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        # Contiguous shards in order: worker k takes the k-th slice, so together every index appears once.
        for index in np.array_split(np.arange(len(self.dataset)), workers)[worker]:
            position = int(index)
            try:
                lc = self.dataset.light_curve(position)
            except LightCurveError as error:
                yield position, None, _problem(error, self.dataset.source_name(position), "load")
                continue
            try:
                # Seeded per curve, as dataset[i] does, in case a preprocessing step draws numbers.
                array = self.preprocessing.to_array(lc, rng=np.random.default_rng(position))
            except Exception as error:  # noqa: BLE001 - any preprocessing failure skips this one curve
                yield position, None, _problem(error, self.dataset.source_name(position), "preprocess")
                continue
            if array.shape != (self.input_length,):
                # A configuration mistake, not a bad file: stop loudly instead of skipping every curve.
                raise ValueError(
                    f"{self.dataset.source_name(position)}: preprocessing produced shape {array.shape}, "
                    f"but the model expects input_length {self.input_length}")
            yield position, array, _meta_row(lc)


def _collate(items: list[tuple[int, np.ndarray | None, Any]]) -> tuple[list[int], torch.Tensor | None,
                                                                        list[dict[str, Any]], list[Any]]:
    indices, arrays, metas, problems = [], [], [], []
    for index, array, extra in items:
        if array is None:
            problems.append((index, extra))
        else:
            indices.append(index)
            arrays.append(array)
            metas.append(extra)
    inputs = torch.from_numpy(np.stack(arrays)) if arrays else None
    return indices, inputs, metas, problems


def _worker_count(num_workers: int | None, size: int) -> int:
    if num_workers is not None:
        if int(num_workers) < 0:
            raise ValueError(f"num_workers must be 0 or more, got {num_workers}")
        return int(num_workers)
    # Starting workers costs a fraction of a second: only worth it for more than a few dozen curves.
    return 0 if size < 64 else min(2, os.cpu_count() or 1)


# ----------------------------------------------------------------------------- period search


class _PeriodSearchItems(Dataset):  # type: ignore[type-arg]
    """Map-style: item ``k`` reloads curve ``indices[k]`` and runs the BLS period search on it."""

    def __init__(self, dataset: Any, indices: Sequence[int], options: dict[str, Any]) -> None:
        self.dataset = dataset
        self.indices = list(indices)
        self.options = options

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, item: int) -> tuple[int, dict[str, float] | None, Any]:
        index = self.indices[item]
        try:
            lc = self.dataset.light_curve(index)
            return index, search_period(lc, **self.options).as_row(), None
        except Exception as error:  # noqa: BLE001 - a failed search leaves NaNs, the curve stays ranked
            return index, None, _problem(error, self.dataset.source_name(index), "period_search")


def _identity(item: Any) -> Any:
    return item


def _period_search_wanted(period_search: bool | str, task: str) -> bool:
    if period_search == "auto":
        return task in ("binary", "multiclass")
    if isinstance(period_search, bool):
        return period_search
    raise ValueError(f"period_search must be True, False or 'auto', got {period_search!r}")


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
                       progress: bool) -> tuple[dict[int, dict[str, float]], list[tuple[str, str, str]]]:
    results: dict[int, dict[str, float]] = {}
    problems: list[tuple[str, str, str]] = []
    if not indices:
        return results, problems
    items = _PeriodSearchItems(dataset, indices, options)
    workers = min(workers, len(indices))
    loader = DataLoader(items, batch_size=None, num_workers=workers, collate_fn=_identity)
    bar = _progress_bar(len(indices), "period search", progress)
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


# ----------------------------------------------------------------------------- the table


class _NoBar:
    def update(self, count: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, description: str, enabled: bool) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="curve", smoothing=0.1)


def _score_columns(scores: np.ndarray, info: ModelInfo, rank_by: str | None) -> tuple[dict[str, Any], str]:
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
    info: ModelInfo,
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
    model: nn.Module | str | os.PathLike[str],
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
) -> CandidateTable:
    """Score every light curve in ``data`` with ``model`` and rank them, highest score first.

    Parameters
    ----------
    model:
        A trained network with a ``.bundle`` (from :func:`qusi_lab.training.train` or
        :func:`qusi_lab.training.load`), or the path of a saved bundle folder.
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
        ``"auto"`` (default): a BLS period search for classification models (transit
        finders) on the selected candidates; ``True`` also for regression; ``False``: none.
    period_search_top, period_search_threshold:
        Which curves get the search: the ``period_search_top`` best (default 100) and any
        whose score is at least ``period_search_threshold``. Both None: every curve.
    period_search_options:
        Keywords for :func:`~qusi_lab.inference.periods.search_period`
        (``minimum_period``, ``maximum_period``, ``durations_hours``, ``bin_minutes`` ...).
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
    """
    started = time.perf_counter()
    network_source = model
    model = load_model(model)
    info = model_info(model, preprocessing=preprocessing)
    discover_problems: list[tuple[str, str, str]] = []
    dataset = inference_dataset(data, info.preprocessing, discover_problems)
    size = len(dataset)
    workers = _worker_count(num_workers, size)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    search = _period_search_wanted(period_search, info.task)
    if period_search_options:
        import inspect

        known = set(inspect.signature(search_period).parameters) - {"light_curve"}
        unknown = sorted(set(period_search_options) - known)
        if unknown:
            raise TypeError(f"unknown period_search_options {unknown}; search_period takes {sorted(known)}")

    was_training = model.training
    previous_threads = torch.get_num_threads()
    model.eval()
    try:
        if threads is not None:
            torch.set_num_threads(max(1, int(threads)))
        network = _inference_network(model, info.input_length, fuse)
        positions, metas, outputs, problems = _score_all(network, dataset, info, int(batch_size), workers,
                                                         progress)
        problems[:0] = discover_problems
    finally:
        model.train(was_training)
        torch.set_num_threads(previous_threads)

    if len(outputs):
        scores = _outputs_to_scores(torch.from_numpy(outputs), info).astype(np.float64)
        scores = scores.reshape(len(positions), -1)
        positions, metas, scores = _drop_non_finite(dataset, positions, metas, outputs, scores, problems)
    else:  # every file failed: an empty table with the usual columns
        scores = np.zeros((0, len(info.label_names) if info.task == "multiclass" else 1))
    frame, meaning = _build_table(dataset, positions, metas, scores, info, rank_by)
    frame = frame.sort_values("score", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)

    search_settings: dict[str, Any] | None = None
    if search:
        options = dict(period_search_options or {})
        selected = _select_for_period_search(frame["score"].to_numpy(dtype=np.float64), period_search_top,
                                             period_search_threshold)
        chosen = [int(frame["_position"].iloc[row]) for row in selected]
        results, search_problems = _run_period_search(dataset, chosen, options, workers, progress)
        problems.extend(search_problems)
        rows = [results.get(int(position), empty_period_row()) for position in frame["_position"]]
        for column in PERIOD_COLUMNS:
            values = np.array([row[column] for row in rows], dtype=np.float64)
            if column == "transit_count":
                frame[column] = pd.array([None if math.isnan(value) else int(value) for value in values],
                                         dtype="Int64")
            else:
                frame[column] = values
        search_settings = {"top": period_search_top, "threshold": period_search_threshold,
                           "searched": len(chosen), "options": options}
    frame = frame.drop(columns="_position")

    table = CandidateTable(frame)
    from qusi_lab._version import __version__

    table.attrs = {
        "qusi_lab_version": __version__,
        "model": info.path if info.path is not None else (
            str(network_source) if isinstance(network_source, (str, os.PathLike)) else None),
        "model_qusi_lab_version": info.version,
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


def _score_all(
    network: nn.Module, dataset: Any, info: ModelInfo, batch_size: int, workers: int, progress: bool
) -> tuple[np.ndarray, list[dict[str, Any]], np.ndarray, list[tuple[str, str, str]]]:
    """Run the network over every curve once: positions, meta rows, raw outputs, problems."""
    stream = _InferenceStream(dataset, info.preprocessing, info.input_length)
    loader = DataLoader(
        stream,
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=_collate,
        prefetch_factor=2 if workers else None,
    )
    positions: list[int] = []
    metas: list[dict[str, Any]] = []
    outputs: list[np.ndarray] = []
    problems: list[tuple[int, tuple[str, str, str]]] = []
    bar = _progress_bar(len(dataset), "inference", progress)
    device = _device_of(network)
    iterator = iter(loader)
    try:
        with torch.inference_mode():
            for indices, inputs, batch_metas, batch_problems in iterator:
                if inputs is not None:
                    inputs = inputs.to(device)
                    for start in range(0, len(inputs), _FORWARD_CHUNK):
                        logits = network(inputs[start:start + _FORWARD_CHUNK])
                        outputs.append(logits.float().cpu().numpy())
                positions.extend(indices)
                metas.extend(batch_metas)
                problems.extend(batch_problems)
                bar.update(len(indices) + len(batch_problems))
    finally:
        bar.close()
        # Stop workers now rather than at garbage collection (which waits on each one).
        getattr(iterator, "_shutdown_workers", lambda: None)()
    seen = np.bincount(np.asarray(positions + [index for index, _ in problems], dtype=np.int64),
                       minlength=len(dataset)) if len(dataset) else np.zeros(0, dtype=np.int64)
    if seen.size != len(dataset) or not (seen == 1).all():
        raise RuntimeError(  # never expected: the shards cover every index exactly once
            f"inference saw {int((seen == 0).sum())} curves 0 times and {int((seen > 1).sum())} more than once")
    problems.sort(key=lambda item: item[0])
    n_outputs = outputs[0].shape[1] if outputs else 1
    stacked = np.concatenate(outputs) if outputs else np.zeros((0, n_outputs), dtype=np.float32)
    return np.asarray(positions, dtype=np.int64), metas, stacked, [problem for _, problem in problems]


def seconds_per_curve(table: pd.DataFrame) -> float:
    """Wall time of the run that made ``table`` divided by its light curves (NaN when unknown)."""
    seconds, count = table.attrs.get("seconds"), table.attrs.get("light_curves")
    if not seconds or not count:
        return math.nan
    return float(seconds) / float(count)
