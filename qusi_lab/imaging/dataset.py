"""MLAR samples as a dataset that :func:`qusi_lab.train` and :func:`qusi_lab.evaluate` take.

:class:`MlarDataset` wraps :class:`~qusi_lab.imaging.samples.MlarSamples` (patches already normalised to
the local noise, so there is no preprocessing) and speaks the training loop's dataset protocol: a
binary task with classes ``("no_companion", "companion")`` (the companion is the positive class),
seeded endless training streams (class-balanced on request) and in-order evaluation passes, the
same :class:`~qusi_lab.data.streams.TrainingStream` / :class:`~qusi_lab.data.streams.EvaluationStream`
as light curves use, so reproducibility and DataLoader workers behave identically.

Augmentation (SODINN, Gomez Gonzalez et al. 2018, sect. 3.2), drawn per sample from the stream's
generator:

- an exact rotation by a multiple of 90 degrees and an optional flip, of all levels together (the
  sky has no preferred orientation; exact, so no interpolation blurs the speckle statistics);
- a sub-pixel shift, the same for all levels, up to ``shift`` pixels in each axis (a Fourier phase ramp,
  which keeps the noise's variance where an interpolating spline would smooth it): at
  prediction a companion lies anywhere within half a pixel of the patch centre, in training exactly
  on it (injected at the patch's pixel) unless shifted;
- for negatives, *patch averaging*: the sum of ``k`` (2 or 3) negatives of the same separation divided
  by ``sqrt(k)``, a new noise realisation that stays in units of the local noise.

Example
-------
>>> import numpy as np
>>> from qusi_lab.imaging.samples import MlarSamples, _provenance_values
>>> rng = np.random.default_rng(0)
>>> samples = MlarSamples(rng.normal(size=(8, 4, 7, 7)).astype(np.float32), np.array([0, 1] * 4),
...                       np.full(8, 10.0), np.zeros((8, 2), dtype=np.int64), np.zeros(8))
>>> dataset = MlarDataset(samples)
>>> dataset.input_shape, dataset.label_names, dataset.positive_class
((4, 7, 7), ('no_companion', 'companion'), 'companion')
>>> x, y = next(iter(dataset.stream(seed=0, balance="equal")))
>>> tuple(x.shape), float(y) in (0.0, 1.0)
((4, 7, 7), True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from qusi_lab.data.balancing import class_weights
from qusi_lab.data.problems import ProblemLog
from qusi_lab.data.streams import EvaluationStream, TrainingStream
from qusi_lab.errors import ImagingError
from qusi_lab.imaging.injection import fourier_shift
from qusi_lab.imaging.samples import MlarSamples

__all__ = ["MLAR_LABEL_NAMES", "MlarAugmentation", "MlarDataset"]

#: Class names in output order: label 1, the positive class whose probability the network gives, last.
MLAR_LABEL_NAMES: tuple[str, str] = ("no_companion", "companion")


@dataclass(frozen=True)
class MlarAugmentation:
    """How training streams vary MLAR patches (SODINN's augmentation).

    Attributes
    ----------
    rotate:
        Rotate every patch by a random multiple of 90 degrees (all levels together).
    flip:
        Mirror half of the patches (left-right, after the rotation: with it, the 8 symmetries of the square).
    shift:
        Largest sub-pixel shift (pixels, uniform in each axis) of a patch; 0 (the default) turns it off.
        Applied to both classes alike (a one-class change marks the class, see ``average_negatives``) and
        unitary (the noise level in training stays that of the maps). Off by default: in
        ``benchmarks/imaging_quality.py`` 0.5 px gave the same TPR (2.6x ADI-PCA) but one detection in the
        cube without injections, where 0 gave none.
    average_negatives:
        Probability that a negative is replaced by the average of itself and 1 or 2 other random negatives
        of the same separation, times ``sqrt(k)`` so the noise stays unit. SODINN's, but off by default:
        done to one class only, it marks that class (a network trained on shuffled labels learnt it, and
        scored the true validation labels at AUC 0.18 instead of 0.5: benchmarks/imaging_quality.py).

    Example
    -------
    >>> MlarAugmentation(shift=0.5)
    MlarAugmentation(rotate=True, flip=True, shift=0.5, average_negatives=0.0)
    """

    rotate: bool = True
    flip: bool = True
    shift: float = 0.0
    average_negatives: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.shift) <= 1.0:
            raise ValueError(f"shift is a sub-pixel shift in pixels, in [0, 1], got {self.shift}")
        if not 0.0 <= float(self.average_negatives) <= 1.0:
            raise ValueError(f"average_negatives is a probability in [0, 1], got {self.average_negatives}")


class MlarDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """Labelled MLAR patches for :func:`qusi_lab.train` and :func:`qusi_lab.evaluate`.

    Parameters
    ----------
    samples:
        The patches ``x`` ``(n, levels, size, size)`` and labels ``y`` (1: companion, 0: none).
    augment:
        The augmentation of training streams: True (:class:`MlarAugmentation` defaults), False/None (none)
        or an :class:`MlarAugmentation`.
    path:
        The file the samples came from (named in errors and in :meth:`source_name`).

    Raises
    ------
    ImagingError
        When the patches are not a finite ``(n, levels, size, size)`` array of square patches, or the labels
        are not 0/1, one per patch (naming the file when there is one).

    Example
    -------
    >>> train_set = MlarDataset.from_file("train.npz")                                  # doctest: +SKIP
    >>> network = qusi_lab.models.create("mlar_conv3d", levels=train_set.input_shape[0],
    ...                                  patch_size=train_set.input_shape[1])           # doctest: +SKIP
    >>> result = qusi_lab.train(network, train_set, validation_set, balance="equal")   # doctest: +SKIP
    >>> result.model.score(validation_set.samples.x)                                    # doctest: +SKIP
    """

    task = "binary"
    is_labelled = True
    label_names: tuple[str, ...] = MLAR_LABEL_NAMES
    positive_class = MLAR_LABEL_NAMES[1]
    #: Patches are normalised when they are made (:func:`~qusi_lab.imaging.samples.mlar_annulus`): nothing to do.
    preprocessing = None

    def __init__(self, samples: MlarSamples, *, augment: bool | MlarAugmentation | None = True,
                 path: str | os.PathLike[str] | None = None) -> None:
        self._path = None if path is None else str(path)
        self._x, self._y = _checked_arrays(samples, self._path)
        self.samples = samples
        self._separation = np.asarray(samples.separation, dtype=np.float64).reshape(-1)
        if len(self._separation) != len(self._y):
            raise ImagingError(f"{len(self._separation)} separations for {len(self._y)} patches", path=self._path)
        if augment is True:
            augment = MlarAugmentation()
        self._augmentation = augment or None
        # Negatives by separation (to the 1e-3 px), for patch averaging: speckle statistics depend on it.
        negatives = np.flatnonzero(self._y == 0)
        keys = np.round(self._separation[negatives], 3)
        self._same_ring = {float(key): negatives[keys == key] for key in np.unique(keys)}
        self._problems = ProblemLog()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **kwargs: Any) -> MlarDataset:
        """The dataset of an ``.npz`` written by :meth:`MlarSamples.save` (errors name the file).

        Example
        -------
        >>> dataset = MlarDataset.from_file("runs/samples.npz", augment=False)   # doctest: +SKIP
        """
        return cls(MlarSamples.load(Path(path)), path=path, **kwargs)

    # ------------------------------------------------------------ what the training loop reads
    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(levels, size, size)``: the shape of one network input."""
        _, levels, size, _ = self._x.shape
        return int(levels), int(size), int(size)

    @property
    def input_length(self) -> int:
        """Number of values of one input (``levels * size**2``; the training loop sizes caches with it)."""
        return math.prod(self.input_shape)

    @property
    def augmentation(self) -> MlarAugmentation | None:
        """What training streams do to the patches (None: nothing)."""
        return self._augmentation

    @property
    def labels(self) -> list[str]:
        """Each sample's class name."""
        return [self.label_names[int(label)] for label in self._y]

    @property
    def targets(self) -> np.ndarray:
        """Class indices (int64): 1 for a companion."""
        return self._y.copy()

    @property
    def target_ids(self) -> tuple[str, ...]:
        """The cube each sample was cut from (from the provenance, through concatenations and subsets;
        empty when unknown), as a star's id."""
        return tuple(self.samples.cubes)

    @property
    def data_config(self) -> dict[str, Any]:
        """What the samples cover, recorded in a trained model (``Model.data_config``).

        ``separations_fwhm``: the annuli (in FWHM, rounded to 0.01) the samples come from, which
        :func:`~qusi_lab.imaging.probability_map` scores by default; the MLAR settings the maps must
        reproduce (levels, patch size, ``max_variance``, the ladder of component counts, where the
        components are fitted, collapse). Samples made before a setting was recorded get the value every
        sample had then.
        """
        separations = self.samples.separation_fwhm
        known = separations[np.isfinite(separations)]
        variance, collapse = self.samples.per_sample("max_variance"), self.samples.per_sample("collapse")
        # samples made before the ladder was recorded used the cumulative-variance one
        ladder = ["variance" if value is None else value for value in self.samples.per_sample("ladder")]
        fit = ["band" if value is None else value for value in self.samples.per_sample("fit_region")]
        inner = self.samples.per_sample("min_separation_fwhm")  # None: made before it was recorded
        return {
            "kind": "mlar",
            "separations_fwhm": sorted({round(float(r), 2) for r in known}),
            "n_levels": self.input_shape[0],
            "patch_size": self.input_shape[1],
            # one value when every cube agrees (None: mixed or unknown)
            "max_variance": variance[0] if len(set(map(str, variance))) == 1 else None,
            "collapse": collapse[0] if len(set(map(str, collapse))) == 1 else None,
            "ladder": ladder[0] if len(set(ladder)) == 1 else None,
            "fit_region": fit[0] if len(set(fit)) == 1 else None,
            # the closest companion the samples hold (None: unknown or mixed); maps are not scored inside it
            "min_separation_fwhm": inner[0] if len(set(map(str, inner))) == 1 else None,
        }

    @property
    def problem_log(self) -> ProblemLog:
        """The streams' record of skipped samples (none expected: patches are checked when the dataset is built)."""
        return self._problems

    @property
    def problems(self) -> Any:
        """Skipped samples: a DataFrame with columns path, error, stage (empty for checked samples)."""
        return self._problems.frame()

    def report_problem(self, index: int, error: BaseException, stage: str | None = None) -> None:
        """Record that sample ``index`` was skipped (the streams' protocol)."""
        self._problems.record(self.source_name(index), error, stage or getattr(error, "stage", None) or "load")

    def class_counts(self) -> np.ndarray:
        """Samples per class, in :attr:`label_names` order."""
        return np.bincount(self._y, minlength=2)

    def class_weights(self, scheme: str = "inverse_frequency") -> torch.Tensor:
        """The binary ``pos_weight`` against imbalance (see :func:`qusi_lab.data.balancing.class_weights`)."""
        return class_weights(self.class_counts(), self.task, scheme)

    def source_name(self, index: int) -> str:
        """A readable name of sample ``index``: ``"samples.npz#17 (r=12.0 px, positive)"``."""
        position = self._check_index(index)
        kind = "positive" if self._y[position] == 1 else "negative"
        where = f"r={self._separation[position]:.1f} px, {kind}"
        if self._path is None:
            return f"<samples #{position}: {where}>"  # "<": not a file (the checkpoint records keep it as is)
        return f"{self._path}#{position} ({where})"

    # ------------------------------------------------------------ samples
    def __len__(self) -> int:
        return int(len(self._y))

    def _check_index(self, index: Any) -> int:
        position, size = int(index), len(self)
        if not -size <= position < size:
            raise IndexError(f"index {position} out of range for {size} MLAR samples")
        return position % size

    def target(self, index: int) -> torch.Tensor:
        """The float32 label of sample ``index`` (binary targets, as ``BCEWithLogitsLoss`` takes them)."""
        return torch.tensor(float(self._y[self._check_index(index)]), dtype=torch.float32)

    def sample(self, index: int, rng: np.random.Generator | None = None,
               augment: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)``: the ``(levels, size, size)`` float32 patch, augmented with ``rng`` when ``augment``."""
        position = self._check_index(index)
        patch = self._x[position]
        augmentation = self._augmentation
        if augment and augmentation is not None:
            patch = self._augmented(position, rng if rng is not None else np.random.default_rng(position),
                                    augmentation)
        return torch.from_numpy(np.ascontiguousarray(patch, dtype=np.float32)), self.target(position)

    def _augmented(self, position: int, rng: np.random.Generator, augmentation: MlarAugmentation) -> np.ndarray:
        patch = self._x[position]
        if self._y[position] == 0 and augmentation.average_negatives > 0 and \
                rng.random() < augmentation.average_negatives:
            ring = self._same_ring[float(np.round(self._separation[position], 3))]
            others = ring[ring != position]
            k = min(int(rng.integers(2, 4)), len(others) + 1)
            if k > 1:
                chosen = rng.choice(others, size=k - 1, replace=False)
                # Independent unit-noise patches: their sum has standard deviation sqrt(k).
                patch = (patch + self._x[chosen].sum(axis=0)) / np.float32(math.sqrt(k))
        if augmentation.shift > 0:
            dy, dx = rng.uniform(-augmentation.shift, augmentation.shift, 2)
            # unitary, so the noise keeps its variance (a spline shift smooths it, and the network would
            # learn smoother noise than the maps it scores); odd sides: the result is real
            patch = fourier_shift(patch, float(dy), float(dx)).astype(np.float32)
        if augmentation.rotate:
            patch = np.rot90(patch, int(rng.integers(4)), axes=(1, 2))
        if augmentation.flip and rng.random() < 0.5:
            patch = patch[:, :, ::-1]
        return patch

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, y)`` of sample ``index``, never augmented."""
        return self.sample(index)

    # ------------------------------------------------------------ streams and subsets
    def iterate(self, indices: Sequence[int] | np.ndarray | None = None) -> EvaluationStream:
        """Every sample once, in order, as ``(x, y, index)`` (validation, :func:`qusi_lab.evaluate`)."""
        return EvaluationStream(self, indices)  # type: ignore[arg-type]  # the streams' protocol, not a light curve

    def stream(self, seed: int = 0, balance: Any = None, augment: bool = True) -> TrainingStream:
        """Random, augmented ``(x, y)`` forever, reproducible for a ``seed``; ``balance="equal"`` for 50/50.

        Example
        -------
        >>> loader = torch.utils.data.DataLoader(dataset.stream(seed=1, balance="equal"), batch_size=32)  # doctest: +SKIP
        """
        return TrainingStream(self, seed=seed, balance=balance, augment=augment)  # type: ignore[arg-type]

    def subset(self, indices: Sequence[int] | np.ndarray) -> MlarDataset:
        """The samples at ``indices`` (e.g. a train/validation split), with the same augmentation and file."""
        return MlarDataset(self.samples.subset(indices), augment=self._augmentation, path=self._path)

    def __repr__(self) -> str:
        counts = self.class_counts()
        where = f", from '{self._path}'" if self._path else ""
        return (f"MlarDataset({len(self)} patches of shape {self.input_shape}: {counts[1]} companion, "
                f"{counts[0]} no_companion{where})")


def _checked_arrays(samples: MlarSamples, path: str | None) -> tuple[np.ndarray, np.ndarray]:
    """``x`` as float32 ``(n, levels, size, size)`` and ``y`` as int64 0/1, or an :class:`ImagingError`."""
    x = np.asarray(samples.x)
    if x.ndim != 4 or x.shape[2] != x.shape[3]:
        raise ImagingError(f"MLAR patches must be an array (n, levels, size, size) of square patches, got shape "
                           f"{x.shape}", path=path)
    if len(x) == 0 or 0 in x.shape:
        raise ImagingError(f"no MLAR patches (x has shape {x.shape})", path=path)
    x = x.astype(np.float32, copy=False)
    bad = ~np.isfinite(x).reshape(len(x), -1).all(axis=1)
    if bad.any():
        first = np.flatnonzero(bad)[:3].tolist()
        raise ImagingError(f"{int(bad.sum())} MLAR patches hold NaN or infinite values (samples {first}"
                           f"{' ...' if bad.sum() > 3 else ''}); patches must lie whole inside the annulus",
                           path=path)
    y = np.asarray(samples.y).reshape(-1)
    if len(y) != len(x):
        raise ImagingError(f"{len(y)} labels for {len(x)} patches", path=path)
    if y.size and not np.isin(y, (0, 1)).all():
        raise ImagingError(f"labels must be 0 (no companion) or 1 (companion), got {sorted(set(y.tolist()))[:5]}",
                           path=path)
    return x, y.astype(np.int64)
