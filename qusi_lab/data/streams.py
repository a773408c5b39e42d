"""Iterable views of a :class:`~qusi_lab.data.LightCurveDataset` for DataLoaders.

- :class:`EvaluationStream` — finite and in order: every curve once, yielding
  ``(x, y, index)``; for validation, testing and inference.
- :class:`TrainingStream` — infinite: random curves (optionally class-balanced),
  augmented, yielding ``(x, y)`` forever; take as many batches as you want per epoch.

Both shard their work across DataLoader workers themselves
(:func:`torch.utils.data.get_worker_info`) and both *skip* a light curve that
fails to load or preprocess, recording it in ``dataset.problems`` (from worker
processes too, see :mod:`qusi_lab.data.problems`). A training stream that meets
nothing but failures raises :class:`~qusi_lab.data.problems.NoUsableLightCurvesError`
instead of spinning forever.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from qusi_lab.data.balancing import class_probabilities, describe_balance
from qusi_lab.data.problems import NoUsableLightCurvesError
from qusi_lab.errors import LightCurveError

if TYPE_CHECKING:
    from qusi_lab.data.dataset import LightCurveDataset

__all__ = ["EvaluationStream", "TrainingStream", "DEFAULT_MAX_CONSECUTIVE_FAILURES"]

# A stream gives up after this many failures in a row: a wrong flux column or loader bug fails every file,
# and the user should hear about it within seconds, not after the whole dataset.
DEFAULT_MAX_CONSECUTIVE_FAILURES = 100


def _worker() -> tuple[int, int]:
    """(worker id, number of workers); (0, 1) in the main process."""
    info = get_worker_info()
    return (0, 1) if info is None else (int(info.id), int(info.num_workers))


class EvaluationStream(IterableDataset[tuple[torch.Tensor, torch.Tensor, int]]):
    """Every curve of ``dataset`` exactly once, in order, as ``(x, y, index)``; bad files are skipped.

    With DataLoader workers, worker ``k`` of ``n`` takes the ``k``-th of ``n``
    contiguous, in-order shards of the indices, so together the workers yield every
    index exactly once. The DataLoader interleaves workers' batches, so use the
    yielded ``index`` (not arrival order) to match outputs to curves.

    Parameters
    ----------
    dataset:
        The dataset to go through (deterministic preprocessing, no augmentation).
    indices:
        Which curves, in which order (default: all, ``0 .. len - 1``).

    Example
    -------
    >>> from torch.utils.data import DataLoader
    >>> loader = DataLoader(dataset.iterate(), batch_size=64, num_workers=2)  # doctest: +SKIP
    >>> for x, y, index in loader: ...  # doctest: +SKIP
    """

    def __init__(self, dataset: LightCurveDataset, indices: Sequence[int] | np.ndarray | None = None) -> None:
        super().__init__()
        self.dataset = dataset
        size = len(dataset)
        if indices is None:
            self.indices = np.arange(size, dtype=np.int64)
        else:
            self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
            if self.indices.size and (self.indices.min() < -size or self.indices.max() >= size):
                raise IndexError(f"indices out of range for a dataset of {size} light curves")
            self.indices = self.indices % max(size, 1)
        # Created here, in the main process, before any worker exists.
        dataset.problem_log.prepare_for_workers()

    def shard(self, worker_id: int | None = None, num_workers: int | None = None) -> np.ndarray:
        """The indices the given (default: current) worker goes through."""
        if worker_id is None or num_workers is None:
            worker_id, num_workers = _worker()
        return np.array_split(self.indices, num_workers)[worker_id]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, int]]:
        for index in self.shard():
            try:
                x, y = self.dataset.sample(int(index))
            except LightCurveError as error:
                self.dataset.report_problem(int(index), error)
                continue
            yield x, y, int(index)

    def __len__(self) -> int:
        """The number of curves to go through (bad files make the real count smaller)."""
        return int(self.indices.size)

    def __repr__(self) -> str:
        return f"EvaluationStream({self.indices.size} of {len(self.dataset)} light curves)"


class _IndexSampler:
    """Draws curve indices for one worker and forgets curves that turned out bad."""

    def __init__(self, class_indices: np.ndarray | None, probabilities: np.ndarray | None, size: int,
                 label_names: Sequence[str]) -> None:
        self.label_names = list(label_names)
        self.size = size
        self.alive = np.ones(size, dtype=bool)
        self.probabilities = probabilities
        self.members: list[np.ndarray] = []
        if probabilities is not None and class_indices is not None:
            self.members = [np.flatnonzero(class_indices == c) for c in range(len(probabilities))]
        self._pass: list[int] = []

    def draw(self, rng: np.random.Generator) -> int:
        if self.probabilities is not None:
            # Class-stratified sampling with replacement: pick a class by its share, then a curve of it.
            klass = int(rng.choice(len(self.probabilities), p=self.probabilities))
            members = self.members[klass]
            return int(members[rng.integers(members.size)])
        # Natural frequencies: shuffled passes over the good curves (each seen once per pass).
        while True:
            if not self._pass:
                alive = np.flatnonzero(self.alive)
                if alive.size == 0:
                    raise NoUsableLightCurvesError(
                        f"every one of the {self.size} light curves failed to load or preprocess; "
                        "see dataset.problems or run dataset.check()"
                    )
                self._pass = rng.permutation(alive).tolist()[::-1]  # pop() from the end is O(1)
            index = self._pass.pop()
            if self.alive[index]:
                return int(index)

    def discard(self, index: int) -> None:
        self.alive[index] = False
        if self.probabilities is None:
            return
        for klass, members in enumerate(self.members):
            if index in members:
                self.members[klass] = members[members != index]
                if self.members[klass].size == 0 and self.probabilities[klass] > 0:
                    raise NoUsableLightCurvesError(
                        f"every light curve of class {self.label_names[klass]!r} failed to load or "
                        "preprocess, so the requested class balance cannot be met; see dataset.problems"
                    )


class TrainingStream(IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """An endless stream of ``(x, y)`` for training: random curves, optionally class-balanced, augmented.

    Parameters
    ----------
    dataset:
        The dataset to draw from.
    seed:
        Seed of the draws and augmentations. Each worker seeds a numpy Generator
        from ``(seed, epoch, worker id)``: workers differ from one another and the
        same seed (and number of workers) reproduces the stream exactly. Nothing a
        worker yields depends on timing or on the other workers: it skips its own
        bad files as it meets them, in its own deterministic order, and a DataLoader
        (``in_order=True``, the default) takes one batch from each worker in turn.
    balance:
        ``None`` natural class frequencies (shuffled passes over the data);
        ``"equal"`` the same share per class; or a dict of shares per class,
        e.g. ``{"positive": 0.3, "negative": 0.7}``. Balanced streams sample each
        class with replacement.
    augment:
        Apply the dataset's augmentation (default) or not.
    max_consecutive_failures:
        Give up (raise :class:`NoUsableLightCurvesError`) after this many bad
        files in a row. Bad files are skipped, recorded in ``dataset.problems``
        and not drawn again by the same worker.

    Call :meth:`set_epoch` at the start of each epoch (as with
    ``DistributedSampler``) so each epoch draws fresh samples; the stream does not
    count epochs itself because DataLoader workers get a fresh copy of it.

    Example
    -------
    >>> stream = dataset.stream(seed=1, balance="equal")  # doctest: +SKIP
    >>> loader = DataLoader(stream, batch_size=64, num_workers=2)  # doctest: +SKIP
    >>> x, y = next(iter(loader))  # doctest: +SKIP
    """

    def __init__(
        self,
        dataset: LightCurveDataset,
        *,
        seed: int = 0,
        balance: Any = None,
        augment: bool = True,
        max_consecutive_failures: int = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    ) -> None:
        super().__init__()
        if len(dataset) == 0:
            raise NoUsableLightCurvesError("the dataset has no light curves to stream")
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        if int(max_consecutive_failures) < 1:
            raise ValueError(f"max_consecutive_failures must be at least 1, got {max_consecutive_failures!r}")
        self.dataset = dataset
        self.seed = int(seed)
        self.balance = balance
        self.augment = bool(augment)
        self.max_consecutive_failures = int(max_consecutive_failures)
        self.epoch = 0
        # Validate the balance now, in the main process, so a typo fails before any worker starts.
        self.probabilities: np.ndarray | None = None
        if balance is not None:
            if dataset.task not in ("binary", "multiclass") or dataset.targets is None:
                raise ValueError(f"balance={balance!r} needs a labelled classification dataset")
            self.probabilities = class_probabilities(balance, dataset.label_names, dataset.class_counts())
        dataset.problem_log.prepare_for_workers()

    def set_epoch(self, epoch: int) -> None:
        """Use the samples of ``epoch`` (call before creating the epoch's DataLoader iterator)."""
        self.epoch = int(epoch)

    def generator(self, worker_id: int | None = None) -> np.random.Generator:
        """The numpy Generator the given (default: current) worker draws from."""
        if worker_id is None:
            worker_id, _ = _worker()
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.epoch, worker_id]))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rng = self.generator()
        class_indices = self.dataset.targets if self.probabilities is not None else None
        sampler = _IndexSampler(class_indices, self.probabilities, len(self.dataset), self.dataset.label_names)
        failures: list[str] = []
        while True:
            index = sampler.draw(rng)
            try:
                x, y = self.dataset.sample(index, rng=rng, augment=self.augment)
            except LightCurveError as error:
                self.dataset.report_problem(index, error)
                failures.append(str(error))
                if len(failures) >= self.max_consecutive_failures:
                    examples = "\n  ".join(failures[:3])
                    raise NoUsableLightCurvesError(
                        f"{len(failures)} light curves in a row failed to load or preprocess; the first:\n  "
                        f"{examples}\nsee dataset.problems or run dataset.check() before training"
                    ) from None
                sampler.discard(index)
                continue
            failures.clear()
            yield x, y

    def __repr__(self) -> str:
        return (
            f"TrainingStream({len(self.dataset)} light curves, balance={describe_balance(self.balance)}, "
            f"augment={self.augment}, seed={self.seed}, epoch={self.epoch})"
        )
