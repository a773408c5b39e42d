"""The :class:`Transform` base class, the :class:`Augmentation` base class and the transform registry.

A transform is a small value object: its parameters are the arguments of its
``__init__``, stored as attributes of the same names. That one convention gives
every transform, built-in or yours, a ``params`` dict, a ``repr`` that shows
every parameter, JSON round-tripping (``to_dict``/``from_dict``) and equality.

Writing your own::

    @register_transform
    class Clip(Transform):
        def __init__(self, limit: float = 5.0) -> None:
            self.limit = float(limit)

        def apply(self, lc, rng):
            return lc.replace(flux=np.clip(lc.flux, -self.limit, self.limit))

``Transform.from_dict({"name": "Clip", "limit": 3.0})`` then rebuilds it, so a
saved :class:`~qusi_lab.transforms.Pipeline` containing it loads again (as long
as the module defining ``Clip`` has been imported).

Randomness: every transform takes the :class:`numpy.random.Generator` to draw
from as an argument and uses nothing else, so the same generator state gives
the same output. Transforms never modify the light curve they are given.
"""

from __future__ import annotations

import inspect
import json
import warnings
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np

from qusi_lab._deprecation import renamed
from qusi_lab.core.jsonable import to_jsonable
from qusi_lab.lightcurve import LightCurve

__all__ = [
    "Transform",
    "Augmentation",
    "register_transform",
    "registered_transforms",
    "transform_from_dict",
]

_REGISTRY: dict[str, type[Transform]] = {}

TransformType = TypeVar("TransformType", bound="type[Transform]")


_PARAMETER_NAMES: dict[type, tuple[str, ...]] = {}


def _parameter_names(cls: type) -> tuple[str, ...]:
    """Names of the keyword-able ``__init__`` arguments of ``cls`` (cached per class)."""
    cached = _PARAMETER_NAMES.get(cls)
    if cached is not None:
        return cached
    names = []
    for parameter in inspect.signature(cls.__init__).parameters.values():  # type: ignore[misc]
        if parameter.name == "self":
            continue
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        names.append(parameter.name)
    _PARAMETER_NAMES[cls] = tuple(names)
    return _PARAMETER_NAMES[cls]


def _jsonable(value: Any) -> Any:
    """Plain-Python version of a parameter value (numpy scalars -> float/int, tuples -> lists, NaN -> None).

    Other objects are kept as they are: a saved pipeline then fails loudly instead of storing a string it
    could not rebuild.
    """
    return to_jsonable(value, default=_unchanged)


def _unchanged(value: Any) -> Any:
    return value


class Transform:
    """One step of a light-curve pipeline: ``LightCurve -> LightCurve``.

    Subclasses implement :meth:`apply` (or override ``__call__``) and store every
    ``__init__`` argument as an attribute of the same name. Register them with
    :func:`register_transform` so saved pipelines can rebuild them.

    Example
    -------
    >>> from qusi_lab.transforms import Normalize
    >>> step = Normalize(method="standard")
    >>> step
    Normalize(method='standard')
    >>> step.to_dict()
    {'name': 'Normalize', 'method': 'standard'}
    >>> Transform.from_dict(step.to_dict()) == step
    True
    """

    def __call__(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """Transform ``lc`` (never modified) drawing any randomness from ``rng``."""
        return self.apply(lc, rng)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        """The transformation itself; subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(lc, rng)")

    # ------------------------------------------------------------ parameters
    @property
    def name(self) -> str:
        """The registry name: the class name."""
        return type(self).__name__

    @property
    def params(self) -> dict[str, Any]:
        """The parameters (the ``__init__`` arguments), as a new dict."""
        values = {}
        for key in _parameter_names(type(self)):
            try:
                values[key] = getattr(self, key)
            except AttributeError:
                raise AttributeError(
                    f"{type(self).__name__} takes {key!r} in __init__ but has no attribute {key!r}; "
                    "store every __init__ argument as an attribute of the same name"
                ) from None
        return values

    @property
    def deterministic(self) -> bool:
        """True when the output does not depend on the random generator."""
        return True

    def replace(self, **params: Any) -> Transform:
        """A new transform of the same kind with some parameters changed (validated like ``__init__``).

        Example
        -------
        >>> from qusi_lab.transforms import BinToLength
        >>> BinToLength(length=4096).replace(length=1024)
        BinToLength(length=1024, span=None)
        """
        unknown = set(params) - set(_parameter_names(type(self)))
        if unknown:
            raise TypeError(
                f"{self.name} has no parameter(s) {sorted(unknown)}; "
                f"its parameters are {list(_parameter_names(type(self)))}"
            )
        return type(self)(**{**self.params, **params})

    # ------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """``{"name": class name, **params}`` with JSON-ready values."""
        return {"name": self.name, **{key: _jsonable(value) for key, value in self.params.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transform:
        """Rebuild a transform from :meth:`to_dict` output, looking its name up in the registry."""
        transform = transform_from_dict(data)
        if not isinstance(transform, cls):
            raise ValueError(f"{data.get('name')!r} is not a {cls.__name__}")
        return transform

    # ------------------------------------------------------------ value semantics
    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.params.items())
        return f"{self.name}({arguments})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Transform):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=repr))


class Augmentation(Transform):
    """A random transform applied with chance ``probability`` per call.

    Subclasses implement :meth:`apply` (which always transforms) and take
    ``probability`` as their last ``__init__`` argument, passing it to
    ``super().__init__``. ``__call__`` draws one uniform number from ``rng`` to
    decide (only when ``0 < probability < 1``) and returns the input unchanged
    when the augmentation is skipped.

    Each applied augmentation appends a short description, with the values it
    drew, to ``lc.meta["augmentations"]`` of its output.
    """

    def __init__(self, probability: float = 1.0) -> None:
        probability = float(probability)
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {probability!r}")
        self.probability = probability

    def __call__(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        if self.probability <= 0.0:
            return lc
        if self.probability < 1.0 and rng.random() >= self.probability:
            return lc
        return self.apply(lc, rng)

    @property
    def deterministic(self) -> bool:
        return self.probability <= 0.0


def register_transform(cls: TransformType) -> TransformType:
    """Class decorator: make a :class:`Transform` subclass loadable by name with ``from_dict``.

    Registering another class under a name already taken replaces it (so a
    notebook cell can be re-run); replacing a built-in transform warns.

    Example
    -------
    >>> @register_transform
    ... class Negate(Transform):
    ...     def apply(self, lc, rng):
    ...         return lc.replace(flux=-lc.flux)
    >>> Transform.from_dict({"name": "Negate"})
    Negate()
    """
    if not (isinstance(cls, type) and issubclass(cls, Transform)):
        raise TypeError(f"register_transform expects a Transform subclass, got {cls!r}")
    name = cls.__name__
    previous = _REGISTRY.get(name)
    builtin = previous is not None and previous.__module__.startswith("qusi_lab.transforms")
    if builtin and previous is not cls and previous.__module__ != cls.__module__:
        warnings.warn(
            f"register_transform: {cls.__module__}.{name} replaces the built-in {previous.__module__}.{name}",
            stacklevel=2,
        )
    _REGISTRY[name] = cls
    return cls


def registered_transforms() -> dict[str, type[Transform]]:
    """The registry: transform name -> class (a copy, sorted by name)."""
    return dict(sorted(_REGISTRY.items()))


def transform_from_dict(data: Mapping[str, Any]) -> Transform:
    """Build the transform described by ``{"name": ..., **params}``.

    Raises
    ------
    ValueError
        For a missing or unknown name (the message lists the known ones) or
        parameters the transform does not take.
    """
    if not isinstance(data, Mapping) or "name" not in data:
        raise ValueError(f"a transform is described by a dict with a 'name' key, got {data!r}")
    name = data["name"]
    cls = _REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(
            f"unknown transform {name!r}; known transforms: {known}. "
            "Register your own with @qusi_lab.transforms.register_transform (and import its module first)."
        )
    params = {key: value for key, value in data.items() if key != "name"}
    accepted = _parameter_names(cls)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {unknown}; its parameters are {list(accepted)}")
    return cls(**params)


def with_flux(
    lc: LightCurve,
    flux: np.ndarray,
    *,
    time: np.ndarray | None = None,
    flux_err: np.ndarray | None = None,
    meta: dict[str, Any] | None = None,
) -> LightCurve:
    """``lc`` with a new ``flux`` (and ``time``, ``flux_err``, ``meta`` if given), built without validation.

    What a transform returns: the time and a copy of the meta of ``lc`` unless given, and ``flux_err``
    only if given (``lc``'s errors no longer describe the new flux; :meth:`LightCurve.replace` keeps
    them). No validation: the pipeline's hot path. Formerly ``make_lightcurve`` (deprecated, removed in
    0.2), a name too close to :func:`qusi_lab.synthetic.synthetic_light_curve`'s old ``make_light_curve``.

    Example
    -------
    >>> lc = LightCurve([0.0, 1.0], [1.0, 2.0], [0.1, 0.1], {"target_id": "a"})
    >>> doubled = with_flux(lc, lc.flux * 2)
    >>> doubled.flux.tolist(), doubled.flux_err, doubled.meta
    ([2.0, 4.0], None, {'target_id': 'a'})
    """
    return LightCurve(
        lc.time if time is None else time,
        flux,
        flux_err,
        dict(lc.meta) if meta is None else meta,
        validate=False,
    )


#: Deprecated name of :func:`with_flux` (removed in 0.2).
make_lightcurve = renamed(with_flux, "qusi_lab.transforms.base.make_lightcurve")


def with_record(lc: LightCurve, description: str) -> dict[str, Any]:
    """A copy of ``lc.meta`` with ``description`` appended to its ``augmentations`` list."""
    meta = dict(lc.meta)
    meta["augmentations"] = [*meta.get("augmentations", ()), description]
    return meta
