"""Keep the deterministic part of the training preprocessing in memory.

Every training sample goes through ``load -> RemoveNonFinite -> BinToLength -> Normalize -> ...``
before its random augmentation. The first steps give the same result at every epoch, yet reading a
27-day TESS file and binning it costs a few milliseconds, as much as a training step of the network
on the sample at an input length of 4096 (and several times more at 1024). :class:`CachedTrainingView`
runs that deterministic prefix once per light curve, before training, and keeps the (small, binned)
results in memory; training streams then run only the random rest of the pipeline. The arrays are
identical to the uncached ones (the prefix draws no random numbers), so training gives the same
weights with or without the cache.

:func:`~qusi_lab.training.train` uses it automatically when the cached curves fit in
``cache_bytes`` (default 1 GiB; a 4096-bin curve takes ~100 kB).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from qusi_lab.errors import LightCurveError

__all__ = ["CachedTrainingView", "DEFAULT_CACHE_BYTES", "estimated_cache_bytes"]

#: Largest memory the training cache may take by default.
DEFAULT_CACHE_BYTES = 1024**3
# Bytes per cached cadence: time, flux and flux error as float64.
_BYTES_PER_VALUE = 24


def estimated_cache_bytes(dataset: Any) -> int:
    """Memory the cached, binned training curves of ``dataset`` would take (bytes)."""
    return len(dataset) * int(dataset.input_length) * _BYTES_PER_VALUE


class CachedTrainingView:
    """A training dataset whose deterministic preprocessing prefix is computed once, in memory.

    It behaves like the :class:`~qusi_lab.data.LightCurveDataset` it wraps (labels, classes,
    problems ... are the dataset's own), except that :meth:`sample` starts from the cached output
    of the prefix. Curves that fail to load or preprocess are recorded in the dataset's problems
    when the cache is built and raise the same error when sampled, so streams skip them as usual.

    Parameters
    ----------
    dataset:
        A :class:`~qusi_lab.data.LightCurveDataset`.
    augment:
        Whether training will augment (sets which pipeline's prefix is cached).

    Example
    -------
    >>> view = CachedTrainingView(train_set)                           # doctest: +SKIP
    >>> stream = view.stream(seed=0, balance="equal")                 # doctest: +SKIP
    """

    def __init__(self, dataset: Any, augment: bool = True) -> None:
        self._dataset = dataset
        preprocessing = dataset.preprocessing
        pipeline = dataset._training_pipeline if augment and dataset.augmentation is not None else preprocessing
        prefix, _ = pipeline.split_deterministic()
        # The prefix is shared by the augmented pipeline and the plain preprocessing (augmentation is
        # inserted after the deterministic steps), so one cache serves both.
        shared = 0
        while (
            shared < len(prefix)
            and shared < len(preprocessing)
            and prefix[shared].to_dict() == preprocessing[shared].to_dict()
        ):
            shared += 1
        self._prefix = prefix[:shared]
        self._augmented_rest = pipeline[shared:]
        self._plain_rest = preprocessing[shared:]
        self._curves: list[Any] = []
        self._errors: dict[int, LightCurveError] = {}
        for index in range(len(dataset)):
            curve = None
            try:
                raw = dataset.light_curve(index)
            except LightCurveError as error:
                self._fail(index, error, "load")
            else:
                try:
                    curve = self._prefix(raw, np.random.default_rng(index))
                except LightCurveError as error:
                    self._fail(index, error, "preprocess")
                except Exception as error:  # noqa: BLE001 - a bad file must not stop training
                    failure = LightCurveError(f"preprocessing failed: {error}", dataset.source_name(index))
                    self._fail(index, failure, "preprocess")
            self._curves.append(curve)

    def _fail(self, index: int, error: LightCurveError, stage: str) -> None:
        error.stage = stage  # type: ignore[attr-defined]
        self._dataset.report_problem(index, error, stage)
        self._errors[index] = error

    @property
    def dataset(self) -> Any:
        """The wrapped dataset."""
        return self._dataset

    @property
    def cached_steps(self) -> int:
        """Number of pipeline steps whose output is cached."""
        return len(self._prefix)

    def __len__(self) -> int:
        return len(self._dataset)

    def __getattr__(self, name: str) -> Any:
        # Everything but sampling is the dataset's own (labels, class counts, problems ...).
        if name.startswith("__") or name == "_dataset":
            raise AttributeError(name)
        return getattr(self._dataset, name)

    def sample(
        self, index: int, rng: np.random.Generator | None = None, augment: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of curve ``index`` as ``dataset.sample`` would give, from the cached prefix."""
        dataset = self._dataset
        position = dataset._check_index(index)
        if position in self._errors:
            raise self._errors[position]
        rest = self._augmented_rest if augment else self._plain_rest
        generator = rng if (augment and rng is not None) else np.random.default_rng(position)
        try:
            array = rest.to_array(self._curves[position], rng=generator)
        except LightCurveError as error:
            error.stage = "preprocess"  # type: ignore[attr-defined]
            raise
        except Exception as error:
            failure = LightCurveError(f"preprocessing failed: {error}", dataset.source_name(position))
            failure.stage = "preprocess"  # type: ignore[attr-defined]
            raise failure from error
        if array.shape != (dataset.input_length,):
            raise ValueError(
                f"{dataset.source_name(position)}: preprocessing produced shape {array.shape}, but "
                f"input_length is {dataset.input_length}"
            )
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)), dataset.target(position)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.sample(index)

    def stream(self, seed: int = 0, balance: Any = None, augment: bool = True) -> Any:
        """A :class:`~qusi_lab.data.streams.TrainingStream` drawing from the cache."""
        from qusi_lab.data.streams import TrainingStream

        return TrainingStream(self, seed=seed, balance=balance, augment=augment)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"CachedTrainingView({self._dataset!r}, {self.cached_steps} steps cached)"
