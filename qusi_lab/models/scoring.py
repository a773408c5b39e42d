"""The one scoring path: light curves -> preprocessing -> network -> raw outputs, streamed in batches.

:func:`forward_stream` is the forward loop every consumer runs: evaluation and validation
(:func:`qusi_lab.training.evaluate`), inference (:func:`qusi_lab.inference.infer`) and
:meth:`qusi_lab.models.Model.score`. It puts the network in eval mode for the pass (and back after),
runs it under :func:`torch.inference_mode` in chunks of :data:`FORWARD_CHUNK` curves, moves inputs to
the network's device and counts curves on one :class:`~qusi_lab.progress.ProgressBar`.

:func:`score_curves` streams any set of light curves through it: DataLoader workers read and
preprocess (each curve once, whole), files that cannot be read or preprocessed become problems
instead of stopping the run, and only one small row per curve is kept (flat memory).

Example
-------
>>> import torch
>>> from qusi_lab.models import Hadryss
>>> network = Hadryss(input_length=256)
>>> batches = [(torch.zeros(3, 256),), (torch.zeros(2, 256),)]
>>> [tuple(outputs.shape) for _, outputs in forward_stream(network, batches)]
[(3, 1), (2, 1)]
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from qusi_lab.errors import LightCurveError, QusiLabError
from qusi_lab.lightcurve import LightCurve
from qusi_lab.progress import ProgressBar

__all__ = ["FORWARD_CHUNK", "InferenceError", "ScoredCurves", "device_of", "forward_in_chunks", "forward_stream",
           "inference_dataset", "score_curves", "worker_count"]

# Curves per forward call: small chunks keep a Hadryss layer's activations in the CPU cache, ~2x faster
# per curve than one call on a 256-curve batch (measured on 4096-long inputs).
FORWARD_CHUNK = 32

# Meta keys kept for each scored curve (the candidate table's columns).
META_COLUMNS: tuple[str, ...] = ("target_id", "mission", "sector", "quarter", "campaign")


class InferenceError(QusiLabError, ValueError):
    """Scoring cannot run: no light curves, a model without what scoring needs, or a broken model."""


def device_of(network: nn.Module) -> torch.device:
    """Where the network's parameters are (the CPU for a network without any)."""
    for parameter in network.parameters():
        return parameter.device
    return torch.device("cpu")


def forward_in_chunks(network: nn.Module, inputs: torch.Tensor, chunk_size: int | None = FORWARD_CHUNK) -> torch.Tensor:
    """``network(inputs)`` as float32 ``(n, n_outputs)`` on the CPU, ``chunk_size`` curves per call (None: one call).

    Call it under :func:`torch.inference_mode` (as :func:`forward_stream` does) unless gradients are wanted.
    """
    step = len(inputs) if not chunk_size else int(chunk_size)
    pieces = []
    for start in range(0, len(inputs), max(1, step)):
        logits = network(inputs[start:start + step])
        if logits.dim() == 1:
            logits = logits.unsqueeze(-1)
        pieces.append(logits.float().cpu())
    return torch.cat(pieces) if len(pieces) != 1 else pieces[0]


def forward_stream(
    network: nn.Module,
    batches: Iterable[Any],
    *,
    inputs_of: Callable[[Any], torch.Tensor | None] = lambda batch: batch[0],
    count_of: Callable[[Any], int] | None = None,
    device: torch.device | str | None = None,
    chunk_size: int | None = FORWARD_CHUNK,
    progress: ProgressBar | None = None,
) -> Iterator[tuple[Any, torch.Tensor | None]]:
    """Yield ``(batch, outputs)`` for every batch: the network's float32 CPU outputs for ``inputs_of(batch)``.

    ``inputs_of`` may return None (a batch whose curves all failed): its outputs are None. The
    network is in eval mode during the pass and back in its previous mode afterwards; ``progress``
    advances by ``count_of(batch)`` curves (default: the batch's inputs). DataLoader workers behind
    ``batches`` are stopped as soon as the stream ends, not at garbage collection.
    """
    target = device_of(network) if device is None else torch.device(device)
    was_training = network.training
    network.eval()
    iterator = iter(batches)
    try:
        for batch in iterator:
            inputs = inputs_of(batch)
            outputs = None
            if inputs is not None:
                # Inference mode only around the forward pass: a generator must not leave it switched on
                # while its consumer runs.
                with torch.inference_mode():
                    outputs = forward_in_chunks(network, inputs.to(target), chunk_size)
            if progress is not None:
                progress.update(count_of(batch) if count_of is not None else (0 if inputs is None else len(inputs)))
            yield batch, outputs
    finally:
        network.train(was_training)
        # Stop workers now rather than at garbage collection (which waits on each one).
        getattr(iterator, "_shutdown_workers", lambda: None)()


# ----------------------------------------------------------------------------- light curves to batches


def _load_any(source: Any) -> Any:
    """The ``load`` of scoring datasets: read paths, pass light curves through."""
    if isinstance(source, (str, os.PathLike)):
        from qusi_lab.io import read_light_curve

        return read_light_curve(source)
    return source


# A path gives read_light_curve's validated curve; a light curve passed in is not trusted (the dataset validates
# results only for path sources, see LightCurveDataset.light_curve).
_load_any._returns_validated = True  # type: ignore[attr-defined]


def inference_dataset(data: Any, preprocessing: Any = None,
                      problems: list[tuple[str, str, str]] | None = None) -> Any:
    """A :class:`~qusi_lab.data.LightCurveDataset` of ``data`` (returned as is when it already is one).

    ``data``: a LightCurveDataset; a folder (searched recursively for FITS, CSV and NPZ
    files); one file; a LightCurve; or a list of paths and/or LightCurves (qusi_lab or
    lightkurve).

    Sub-folders that cannot be listed are appended to ``problems`` as ``(folder, error,
    "discover")`` when it is given (:func:`~qusi_lab.inference.infer` reports them in
    ``table.problems``), and warned about otherwise.

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
    for key in META_COLUMNS:
        value = meta.get(key)
        if isinstance(value, np.generic):
            value = value.item()
        row[key] = value
    return row


def problem_row(error: BaseException, name: str, stage: str) -> tuple[str, str, str]:
    """``(path, "ErrorType: reason", stage)``: how a skipped curve is reported."""
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
                yield position, None, problem_row(error, self.dataset.source_name(position), "load")
                continue
            try:
                # Seeded per curve, as dataset[i] does, in case a preprocessing step draws numbers.
                array = self.preprocessing.to_array(lc, rng=np.random.default_rng(position))
            except Exception as error:  # noqa: BLE001 - any preprocessing failure skips this one curve
                yield position, None, problem_row(error, self.dataset.source_name(position), "preprocess")
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


def worker_count(num_workers: int | None, size: int) -> int:
    """DataLoader workers for ``size`` curves: ``num_workers``, or by default 2 (fewer CPUs: that) from 64 curves."""
    if num_workers is not None:
        if int(num_workers) < 0:
            raise ValueError(f"num_workers must be 0 or more, got {num_workers}")
        return int(num_workers)
    # Starting workers costs a fraction of a second: only worth it for more than a few dozen curves.
    return 0 if size < 64 else min(2, os.cpu_count() or 1)


@dataclass
class ScoredCurves:
    """What :func:`score_curves` returns: dataset positions of the scored curves (ascending within each worker's
    shard), their meta rows, the network's raw outputs ``(n, n_outputs)``, and ``(path, error, stage)``
    problems for the curves that could not be scored, in dataset order."""

    positions: np.ndarray
    metas: list[dict[str, Any]]
    outputs: np.ndarray
    problems: list[tuple[str, str, str]]


def score_curves(network: nn.Module, dataset: Any, preprocessing: Any, input_length: int, *,
                 batch_size: int = 256, num_workers: int = 0, progress: bool = False,
                 description: str = "inference") -> ScoredCurves:
    """Run ``network`` over every curve of ``dataset`` once, preprocessed with ``preprocessing``.

    ``num_workers`` DataLoader workers read and preprocess while this process runs the network
    (:func:`forward_stream`). A curve that cannot be read or preprocessed is a problem, not an error.
    """
    stream = _InferenceStream(dataset, preprocessing, input_length)
    loader = DataLoader(stream, batch_size=int(batch_size), num_workers=int(num_workers), collate_fn=_collate,
                        prefetch_factor=2 if num_workers else None)
    positions: list[int] = []
    metas: list[dict[str, Any]] = []
    outputs: list[np.ndarray] = []
    problems: list[tuple[int, tuple[str, str, str]]] = []
    bar = ProgressBar(len(dataset), enabled=progress, description=description, unit="curve", smoothing=0.1)
    try:
        for (indices, _, batch_metas, batch_problems), batch_outputs in forward_stream(
                network, loader, inputs_of=lambda batch: batch[1],
                count_of=lambda batch: len(batch[0]) + len(batch[3]), progress=bar):
            if batch_outputs is not None:
                outputs.append(batch_outputs.numpy())
            positions.extend(indices)
            metas.extend(batch_metas)
            problems.extend(batch_problems)
    finally:
        bar.close()
    seen = np.bincount(np.asarray(positions + [index for index, _ in problems], dtype=np.int64),
                       minlength=len(dataset)) if len(dataset) else np.zeros(0, dtype=np.int64)
    if seen.size != len(dataset) or not (seen == 1).all():
        raise RuntimeError(  # never expected: the shards cover every index exactly once
            f"scoring saw {int((seen == 0).sum())} curves 0 times and {int((seen > 1).sum())} more than once")
    problems.sort(key=lambda item: item[0])
    n_outputs = outputs[0].shape[1] if outputs else 1
    stacked = np.concatenate(outputs) if outputs else np.zeros((0, n_outputs), dtype=np.float32)
    return ScoredCurves(np.asarray(positions, dtype=np.int64), metas, stacked, [problem for _, problem in problems])
