"""`Pipeline`: an ordered, printable, savable list of transforms.

Example
-------
>>> from qusi_lab.transforms import default_augmentation, default_preprocessing, make_pipeline
>>> pipeline = make_pipeline(default_preprocessing(1024), default_augmentation())
>>> len(pipeline), pipeline[0]
(13, RemoveNonFinite(min_cadences=10, allow_constant=False))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms.base import Transform, transform_from_dict

__all__ = ["Pipeline", "make_pipeline"]

PIPELINE_FORMAT_VERSION = 1

RandomSource = np.random.Generator | int | None


def _as_lightcurve(lc: Any) -> LightCurve:
    if isinstance(lc, LightCurve):
        return lc
    if hasattr(lc, "time") and hasattr(lc, "flux"):  # a lightkurve.LightCurve
        return LightCurve.from_lightkurve(lc)
    raise TypeError(f"expected a qusi_lab LightCurve (or a lightkurve one), got {type(lc).__name__}")


def _flux_ignores_errors(step: Transform) -> bool:
    """Whether ``step``'s output flux never depends on the input's flux errors: declared by the class itself
    (``flux_ignores_errors = True`` in its own body, not inherited: a subclass may use them)."""
    return bool(vars(type(step)).get("flux_ignores_errors", False))


class Pipeline:
    """Transforms applied in order; behaves like a list of :class:`Transform`.

    ``pipeline(lc, rng)`` returns the transformed :class:`LightCurve`;
    :meth:`to_array` returns the flux as the network's float32 input. ``rng`` is a
    :class:`numpy.random.Generator` (or an int seed; ``None`` draws fresh
    entropy): the same generator state gives the same output. Transforms never
    modify their input, but an output may share arrays with it: copy before
    editing arrays in place.

    The ``repr`` lists every step with all its parameters; ``==`` compares the
    steps' :meth:`~Transform.to_dict`; :meth:`save`/:meth:`load` write and read JSON.

    Example
    -------
    >>> from qusi_lab.transforms import Flip, Normalize
    >>> pipeline = Pipeline([Normalize(), Flip(probability=0.5)])
    >>> pipeline
    Pipeline([
        Normalize(method='median_mad'),
        Flip(probability=0.5),
    ])
    >>> pipeline.set_params("Flip", probability=1.0)[1]
    Flip(probability=1.0)
    """

    def __init__(self, steps: Iterable[Transform] = ()) -> None:
        self._steps: list[Transform] = []
        for step in steps:
            self.append(step)

    # ------------------------------------------------------------ running
    def __call__(self, lc: LightCurve, rng: RandomSource = None) -> LightCurve:
        """Apply every step in order to ``lc`` (not modified), drawing randomness from ``rng``."""
        generator = np.random.default_rng(rng)
        lc = _as_lightcurve(lc)
        for step in self._steps:
            lc = step(lc, generator)
        return lc

    def to_array(self, lc: LightCurve, rng: RandomSource = None) -> np.ndarray:
        """The transformed flux as a new float32 array (the network input).

        Raises :class:`~qusi_lab.errors.LightCurveError` (naming the file) when the
        result has non-finite values or, if the pipeline sets a length
        (:attr:`input_length`), a different length.
        """
        lc = _as_lightcurve(lc)
        if lc.flux_err is not None and self._steps and all(_flux_ignores_errors(step) for step in self._steps):
            # Only the flux is returned: do not bin, scale and stretch errors nobody reads (a third of BinToLength).
            lc = LightCurve(lc.time, lc.flux, None, lc.meta, validate=False)
        result = self(lc, rng)
        array = result.flux.astype(np.float32)
        if not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            raise LightCurveError(
                f"pipeline output has {bad} non-finite values; end the pipeline with FillGaps()",
                result.path,
            )
        expected = self.input_length
        if expected is not None and array.size != expected:
            raise LightCurveError(
                f"pipeline output has {array.size} values, expected {expected}", result.path
            )
        return array

    @property
    def input_length(self) -> int | None:
        """The output length fixed by the last step with a ``length`` parameter (None if no step fixes it)."""
        for step in reversed(self._steps):
            length = getattr(step, "length", None)
            if isinstance(length, int):
                return length
        return None

    @property
    def deterministic(self) -> bool:
        """True when no step draws random numbers."""
        return all(step.deterministic for step in self._steps)

    def split_deterministic(self) -> tuple[Pipeline, Pipeline]:
        """``(prefix, rest)``: the leading steps that never draw random numbers, and the others.

        A dataset can cache ``prefix(lc)`` per file and run only ``rest`` per epoch.
        """
        cut = 0
        while cut < len(self._steps) and self._steps[cut].deterministic:
            cut += 1
        return Pipeline(self._steps[:cut]), Pipeline(self._steps[cut:])

    # ------------------------------------------------------------ list behaviour
    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[Transform]:
        return iter(self._steps)

    @overload
    def __getitem__(self, index: int) -> Transform: ...

    @overload
    def __getitem__(self, index: slice) -> Pipeline: ...

    def __getitem__(self, index: int | slice) -> Transform | Pipeline:
        if isinstance(index, slice):
            return Pipeline(self._steps[index])
        return self._steps[index]

    def __setitem__(self, index: int, step: Transform) -> None:
        self._steps[index] = self._checked(step)

    def __delitem__(self, index: int | slice) -> None:
        del self._steps[index]

    def __add__(self, other: Pipeline | Sequence[Transform]) -> Pipeline:
        return Pipeline([*self._steps, *other])

    def append(self, step: Transform) -> None:
        """Add ``step`` at the end."""
        self._steps.append(self._checked(step))

    def insert(self, index: int, step: Transform) -> None:
        """Insert ``step`` before position ``index``."""
        self._steps.insert(index, self._checked(step))

    def extend(self, steps: Iterable[Transform]) -> None:
        """Append every step of ``steps``."""
        for step in steps:
            self.append(step)

    def copy(self) -> Pipeline:
        """A new pipeline with the same steps (transforms are values and are shared)."""
        return Pipeline(self._steps)

    @staticmethod
    def _checked(step: Any) -> Transform:
        if not isinstance(step, Transform):
            raise TypeError(f"pipeline steps must be Transform instances, got {step!r}")
        return step

    def index(self, step: int | str) -> int:
        """Position of a step given its index or its name (a name must match exactly one step)."""
        if isinstance(step, (int, np.integer)) and not isinstance(step, bool):
            position = int(step)
            if not -len(self._steps) <= position < len(self._steps):
                raise IndexError(f"step index {position} out of range for a pipeline of {len(self)} steps")
            return position % len(self._steps)
        matches = [i for i, existing in enumerate(self._steps) if existing.name == step]
        if not matches:
            names = [existing.name for existing in self._steps]
            raise KeyError(f"no step named {step!r} in this pipeline; its steps are {names}")
        if len(matches) > 1:
            raise KeyError(f"{len(matches)} steps are named {step!r} (positions {matches}); give an index")
        return matches[0]

    # ------------------------------------------------------------ editing (e.g. from a tuner widget)
    def set_params(self, step: int | str, **params: Any) -> Pipeline:
        """Change parameters of one step in place (by index or name); returns the pipeline.

        The step is rebuilt with :meth:`Transform.replace`, so invalid values raise
        as they would in the constructor.
        """
        position = self.index(step)
        self._steps[position] = self._steps[position].replace(**params)
        return self

    def replace(self, step: int | str, **params: Any) -> Pipeline:
        """A copy of the pipeline with one step's parameters changed (the original is untouched)."""
        return self.copy().set_params(step, **params)

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """``{"format_version": 1, "steps": [step.to_dict(), ...]}`` (JSON-ready)."""
        return {"format_version": PIPELINE_FORMAT_VERSION, "steps": [step.to_dict() for step in self._steps]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Pipeline:
        """Rebuild from :meth:`to_dict` output (or a bare list of step dicts)."""
        if isinstance(data, Mapping):
            if "steps" not in data:
                raise ValueError(f"a pipeline dict needs a 'steps' list, got keys {sorted(data)}")
            version = data.get("format_version", PIPELINE_FORMAT_VERSION)
            if version != PIPELINE_FORMAT_VERSION:
                raise ValueError(f"unsupported pipeline format_version {version!r}")
            steps = data["steps"]
        else:
            steps = data
        return cls(transform_from_dict(step) for step in steps)

    def save(self, path: str | Path) -> Path:
        """Write the pipeline as JSON; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Pipeline:
        """Read a pipeline written by :meth:`save` (errors name the file)."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            return cls.from_dict(data)
        except (OSError, ValueError, TypeError) as error:
            raise ValueError(f"{path}: cannot load a pipeline: {error}") from error

    # ------------------------------------------------------------ value semantics
    def __repr__(self) -> str:
        if not self._steps:
            return "Pipeline([])"
        lines = "".join(f"    {step!r},\n" for step in self._steps)
        return f"Pipeline([\n{lines}])"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable


def make_pipeline(preprocessing: Pipeline, augmentation: Pipeline | None = None) -> Pipeline:
    """One pipeline: ``preprocessing`` with ``augmentation`` inserted before its final :class:`FillGaps`.

    Augmentations then act on the binned, normalised curve (fast: a few thousand
    points) whose gaps are still NaN, and the final gap fill also fills what
    augmentations removed (:class:`CadenceDropout`, :class:`RandomGaps`,
    :class:`TimeStretch` padding). Without a final ``FillGaps`` the augmentation
    steps go at the end. Neither argument is modified.

    Example
    -------
    >>> from qusi_lab.transforms import Flip, default_preprocessing
    >>> [step.name for step in make_pipeline(default_preprocessing(), Pipeline([Flip()]))]
    ['RemoveNonFinite', 'BinToLength', 'Detrend', 'Normalize', 'AsinhStretch', 'Flip', 'FillGaps']
    """
    combined = Pipeline(preprocessing)
    if augmentation is None or len(augmentation) == 0:
        return combined
    position = len(combined)
    if len(combined) and combined[-1].name == "FillGaps":
        position -= 1
    for offset, step in enumerate(augmentation):
        combined.insert(position + offset, step)
    return combined
