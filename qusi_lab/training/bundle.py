"""Saved models ("bundles"): the weights plus everything needed to use them correctly later.

A bundle is a folder::

    my_model/
        model.pt       the state_dict (torch.save; read back with weights_only=True)
        bundle.json    architecture name and config, preprocessing pipeline, class names, task,
                       positive class, input length, regression target scaler, training settings,
                       validation metrics, qusi_lab version, bundle format version, creation time

:func:`load` rebuilds the network (:func:`qusi_lab.models.from_config`), loads the weights, puts it in
eval mode and attaches a :class:`BundleInfo` as ``model.bundle``: inference code then preprocesses
curves with ``model.bundle.preprocessing`` exactly as in training and names classes with
``model.bundle.label_names``. A model returned by :func:`qusi_lab.training.train` carries the same
``.bundle`` attribute, so trained and loaded models are used the same way.

Compatibility: a bundle loads only into a qusi_lab with the same MAJOR version (and, while the
version is 0.x, the same MINOR version), and only if its format version is one this code knows.

Example
-------
>>> result = train(model, train_set, validation_set)   # doctest: +SKIP
>>> result.save("models/transits")                     # doctest: +SKIP
>>> model = load("models/transits")                    # doctest: +SKIP
>>> model.bundle.label_names                           # doctest: +SKIP
('negative', 'positive')
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from qusi_lab.errors import QusiLabError
from qusi_lab.training.checkpoints import atomic_write_bytes

__all__ = [
    "BUNDLE_FORMAT_VERSION",
    "BundleError",
    "BundleInfo",
    "save_bundle",
    "load",
    "load_bundle_info",
    "versions_compatible",
    "scores_from_outputs",
    "bundle_of",
]

BUNDLE_FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
WEIGHTS_FILE = "model.pt"


class BundleError(QusiLabError, ValueError):
    """A saved model bundle is missing, corrupt, or from an incompatible qusi_lab version."""


def _current_version() -> str:
    from qusi_lab import __version__

    return __version__


@dataclass
class BundleInfo:
    """What a model needs besides its weights: how to build its inputs and read its outputs.

    Attached to trained and loaded models as ``model.bundle``.

    Attributes
    ----------
    task:
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    label_names:
        Class names in output order (binary: ``(negative, positive)``); empty for regression.
    positive_class:
        Binary tasks: the class whose probability the single logit gives.
    input_length:
        Length of the network input.
    preprocessing:
        The :class:`~qusi_lab.transforms.Pipeline` that turns a light curve into the input (or None).
    architecture:
        Registry name of the network (:func:`qusi_lab.models.create`).
    model_config:
        The network's constructor arguments (``model.config``).
    target_scaler:
        Regression: ``{"mean": m, "std": s}``; the network predicts ``(y - m) / s``, so
        predictions are ``output * s + m`` (:func:`scores_from_outputs` does this).
    training:
        The training settings (learning rate, steps, seed, ...).
    metrics:
        Validation metrics of the saved weights.
    qusi_lab_version, format_version, created:
        Provenance of the bundle (filled in when saved or loaded).
    path:
        The folder it was loaded from (None when not loaded from disk).
    """

    task: str
    label_names: tuple[str, ...] = ()
    positive_class: str | None = None
    input_length: int | None = None
    preprocessing: Any = None
    architecture: str | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    target_scaler: dict[str, float] | None = None
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    qusi_lab_version: str | None = None
    format_version: int = BUNDLE_FORMAT_VERSION
    created: str | None = None
    path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON content of ``bundle.json``."""
        preprocessing = self.preprocessing.to_dict() if self.preprocessing is not None else None
        return _json_ready(
            {
                "format_version": self.format_version,
                "qusi_lab_version": self.qusi_lab_version or _current_version(),
                "created": self.created,
                "architecture": self.architecture,
                "model_config": self.model_config,
                "task": self.task,
                "label_names": list(self.label_names),
                "positive_class": self.positive_class,
                "input_length": self.input_length,
                "preprocessing": preprocessing,
                "target_scaler": self.target_scaler,
                "training": self.training,
                "metrics": self.metrics,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path | None = None) -> BundleInfo:
        """Rebuild from :meth:`to_dict` output (the preprocessing becomes a Pipeline again)."""
        from qusi_lab.transforms import Pipeline

        preprocessing = data.get("preprocessing")
        return cls(
            task=str(data["task"]),
            label_names=tuple(str(name) for name in data.get("label_names") or ()),
            positive_class=data.get("positive_class"),
            input_length=None if data.get("input_length") is None else int(data["input_length"]),
            preprocessing=None if preprocessing is None else Pipeline.from_dict(preprocessing),
            architecture=data.get("architecture"),
            model_config=dict(data.get("model_config") or {}),
            target_scaler=None if data.get("target_scaler") is None else dict(data["target_scaler"]),
            training=dict(data.get("training") or {}),
            metrics={
                key: (math.nan if value is None else value)
                for key, value in (data.get("metrics") or {}).items()
            },
            qusi_lab_version=data.get("qusi_lab_version"),
            format_version=int(data.get("format_version", BUNDLE_FORMAT_VERSION)),
            created=data.get("created"),
            path=path,
        )

    def __repr__(self) -> str:
        parts = [f"task={self.task!r}"]
        if self.label_names:
            parts.append(f"label_names={self.label_names!r}")
        if self.positive_class is not None:
            parts.append(f"positive_class={self.positive_class!r}")
        parts.append(f"input_length={self.input_length}")
        if self.architecture:
            parts.append(f"architecture={self.architecture!r}")
        if self.target_scaler:
            parts.append(f"target_scaler={self.target_scaler}")
        if self.path is not None:
            parts.append(f"path='{self.path}'")
        return f"BundleInfo({', '.join(parts)})"


def _json_ready(value: Any) -> Any:
    """Plain JSON values: numpy/torch scalars to Python numbers, NaN/inf to None, tuples to lists."""
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, torch.Tensor):
        return _json_ready(value.tolist())
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


_VERSION_PATTERN = re.compile(r"^\s*v?(\d+)(?:\.(\d+))?")


def _major_minor(version: str) -> tuple[int, int] | None:
    match = _VERSION_PATTERN.match(str(version))
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def versions_compatible(saved: str, current: str) -> bool:
    """True when a bundle saved by qusi_lab ``saved`` can be loaded by qusi_lab ``current``.

    Same MAJOR version, and for 0.x versions also the same MINOR version (semantic versioning:
    0.x releases may break formats).

    Example
    -------
    >>> versions_compatible("1.2.0", "1.5.3"), versions_compatible("0.1.0", "0.2.0"), versions_compatible("2.0", "1.9")
    (True, False, False)
    """
    saved_parts, current_parts = _major_minor(saved), _major_minor(current)
    if saved_parts is None or current_parts is None:
        return False
    if saved_parts[0] != current_parts[0]:
        return False
    return saved_parts[0] != 0 or saved_parts[1] == current_parts[1]


def _architecture_of(model: nn.Module) -> tuple[str, dict[str, Any]]:
    from qusi_lab.models import model_class

    name = getattr(model, "name", None) or type(model).__name__
    config = getattr(model, "config", None)
    if not isinstance(config, Mapping):
        raise BundleError(
            f"cannot save a {type(model).__name__}: save_bundle needs a network with a `config` dict of its "
            "constructor arguments (every qusi_lab.models network has one; decorate your own class with "
            "qusi_lab.models.register_model and set self.config)"
        )
    try:
        registered = model_class(str(name))
    except (KeyError, ValueError) as error:
        raise BundleError(
            f"cannot save a {type(model).__name__}: {name!r} is not a registered model, so load() could not "
            f"rebuild it ({error}); register it with qusi_lab.models.register_model"
        ) from error
    if registered is not type(model):
        raise BundleError(
            f"cannot save a {type(model).__name__}: the name {name!r} is registered for "
            f"{registered.__qualname__}, so load() would rebuild the wrong class; give your class its own "
            "`name` and register it with qusi_lab.models.register_model"
        )
    return str(name), dict(config)


def save_bundle(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    preprocessing: Any = None,
    label_names: Sequence[str] | None = None,
    task: str | None = None,
    positive_class: str | None = None,
    input_length: int | None = None,
    training: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    target_scaler: Mapping[str, float] | None = None,
) -> Path:
    """Write ``model`` and what it needs to be used again to the folder ``path``; returns the folder.

    Every keyword defaults to the value in ``model.bundle`` (set by :func:`~qusi_lab.training.train`
    and :func:`load`), so ``save_bundle(path, result.model)`` needs nothing else. ``preprocessing``
    may be a :class:`~qusi_lab.transforms.Pipeline` or its ``to_dict()``. Files are written
    atomically; an existing bundle in ``path`` is replaced.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> from qusi_lab.transforms import default_preprocessing
    >>> import tempfile
    >>> folder = save_bundle(tempfile.mkdtemp() + "/demo", Hadryss(input_length=256), task="binary",
    ...                      label_names=["negative", "positive"], preprocessing=default_preprocessing(256))
    >>> sorted(p.name for p in folder.iterdir())
    ['bundle.json', 'model.pt']
    """
    from qusi_lab.transforms import Pipeline

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise BundleError(
            f"{folder}: exists and is not a folder; a bundle is a folder (model.pt + bundle.json)"
        )
    existing: BundleInfo | None = getattr(model, "bundle", None)
    if existing is not None and not isinstance(existing, BundleInfo):
        existing = None
    architecture, config = _architecture_of(model)

    def pick(value: Any, attribute: str) -> Any:
        if value is not None:
            return value
        return getattr(existing, attribute) if existing is not None else None

    task = pick(task, "task")
    if task not in ("binary", "multiclass", "regression"):
        raise BundleError(f"save_bundle needs task='binary', 'multiclass' or 'regression', got {task!r}")
    preprocessing = pick(preprocessing, "preprocessing")
    if isinstance(preprocessing, Mapping):
        preprocessing = Pipeline.from_dict(preprocessing)
    elif isinstance(preprocessing, (list, tuple)):
        preprocessing = Pipeline(preprocessing)
    names = tuple(str(name) for name in (pick(label_names, "label_names") or ()))
    if task == "binary" and positive_class is None and len(names) == 2:
        positive_class = names[1]
    length = pick(input_length, "input_length")
    if length is None:
        length = getattr(model, "input_length", None) or (
            preprocessing.input_length if preprocessing else None
        )
    info = BundleInfo(
        task=task,
        label_names=names,
        positive_class=pick(positive_class, "positive_class"),
        input_length=None if length is None else int(length),
        preprocessing=preprocessing,
        architecture=architecture,
        model_config=config,
        target_scaler=None
        if pick(target_scaler, "target_scaler") is None
        else dict(pick(target_scaler, "target_scaler")),
        training=dict(pick(training, "training") or {}),
        metrics=dict(pick(metrics, "metrics") or {}),
        qusi_lab_version=_current_version(),
        format_version=BUNDLE_FORMAT_VERSION,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )
    folder.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu() for key, value in model.state_dict().items()}
    from qusi_lab.training.checkpoints import atomic_torch_save

    atomic_torch_save(state, folder / WEIGHTS_FILE)
    # bundle.json last: a folder with a bundle.json always has the weights it describes.
    atomic_write_bytes(folder / BUNDLE_FILE, (json.dumps(info.to_dict(), indent=2) + "\n").encode("utf-8"))
    return folder


def _bundle_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    given = Path(path)
    folder = given.parent if given.name == BUNDLE_FILE else given
    json_path = folder / BUNDLE_FILE
    if not folder.exists():
        raise FileNotFoundError(
            f"{folder}: no such model bundle (a folder with {BUNDLE_FILE} and {WEIGHTS_FILE})"
        )
    if not json_path.is_file():
        raise BundleError(f"{folder}: not a model bundle, it has no {BUNDLE_FILE}")
    return folder, json_path


def load_bundle_info(path: str | os.PathLike[str]) -> BundleInfo:
    """Read and check ``bundle.json`` of the bundle at ``path`` (no weights are loaded).

    Raises :class:`BundleError` naming the file when it is corrupt or from an incompatible version.
    """
    folder, json_path = _bundle_paths(path)
    try:
        data = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(
            f"{json_path}: cannot read the bundle description ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(data, dict):
        raise BundleError(f"{json_path}: expected a JSON object, found {type(data).__name__}")
    current = _current_version()
    format_version = data.get("format_version")
    saved_version = data.get("qusi_lab_version")
    if format_version != BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{json_path}: bundle format {format_version!r} (written by qusi_lab {saved_version}) is not one "
            f"qusi_lab {current} can read (it reads format {BUNDLE_FORMAT_VERSION})"
        )
    if not isinstance(saved_version, str) or not versions_compatible(saved_version, current):
        raise BundleError(
            f"{json_path}: this model was saved by qusi_lab {saved_version}, which is incompatible with the "
            f"installed qusi_lab {current} (bundles load only within the same major version, and within the "
            f"same minor version for 0.x); install qusi_lab {saved_version} to use it"
        )
    missing = [key for key in ("architecture", "model_config", "task") if key not in data]
    if missing:
        raise BundleError(f"{json_path}: missing {', '.join(missing)}")
    try:
        return BundleInfo.from_dict(data, path=folder)
    except Exception as error:
        raise BundleError(
            f"{json_path}: invalid bundle description ({type(error).__name__}: {error})"
        ) from error


def load(path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> nn.Module:
    """The network saved at ``path`` (by :func:`save_bundle` or ``TrainingResult.save``), ready to use.

    Returns the ``nn.Module`` in eval mode with a :class:`BundleInfo` as ``model.bundle``
    (preprocessing pipeline, class names, task, ...). Weights are read with
    ``torch.load(weights_only=True)``, so loading a bundle never runs code from the file.

    Raises :class:`BundleError` (naming the file) for a corrupt bundle, an unknown format or a bundle
    from an incompatible qusi_lab version; ``FileNotFoundError`` when ``path`` does not exist.

    Example
    -------
    >>> model = load("models/transits")                # doctest: +SKIP
    >>> model.bundle.preprocessing                     # doctest: +SKIP
    """
    from qusi_lab.models import from_config

    info = load_bundle_info(path)
    folder = info.path if info.path is not None else Path(path)
    weights_path = folder / WEIGHTS_FILE
    try:
        model = from_config(str(info.architecture), info.model_config)
    except Exception as error:
        raise BundleError(
            f"{folder / BUNDLE_FILE}: cannot rebuild architecture {info.architecture!r} "
            f"({type(error).__name__}: {error})"
        ) from error
    if not weights_path.is_file():
        raise BundleError(f"{weights_path}: the bundle has no weights file")
    try:
        state = torch.load(weights_path, map_location=map_location, weights_only=True)
        model.load_state_dict(state)
    except Exception as error:
        raise BundleError(
            f"{weights_path}: cannot load the weights ({type(error).__name__}: {error})"
        ) from error
    model.to(map_location)
    model.eval()
    setattr(model, "bundle", info)  # noqa: B010 - nn.Module types attribute assignment as Tensor|Module
    return model


def bundle_of(model: nn.Module) -> BundleInfo:
    """The :class:`BundleInfo` of a trained (:func:`~qusi_lab.training.train`) or loaded (:func:`load`) model.

    Same as ``model.bundle``, with a clear error when the model has none (a freshly built network).

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> bundle_of(Hadryss(input_length=256))
    Traceback (most recent call last):
    ...
    ValueError: this Hadryss carries no bundle information (task, classes, preprocessing); train it with qusi_lab.training.train or load a saved one with qusi_lab.training.load
    """
    info = getattr(model, "bundle", None)
    if not isinstance(info, BundleInfo):
        raise ValueError(
            f"this {type(model).__name__} carries no bundle information (task, classes, preprocessing); train it "
            "with qusi_lab.training.train or load a saved one with qusi_lab.training.load"
        )
    return info


def scores_from_outputs(
    outputs: torch.Tensor, task: str, target_scaler: Mapping[str, float] | None = None
) -> torch.Tensor:
    """Network outputs (logits) to scores: probabilities, or regression values in the target's units.

    :func:`qusi_lab.models.scores_from_logits`, then, for regression, ``value * std + mean`` with the
    bundle's ``target_scaler``.

    Example
    -------
    >>> scores_from_outputs(torch.tensor([[0.0], [1.0]]), "regression", {"mean": 10.0, "std": 2.0}).tolist()
    [10.0, 12.0]
    """
    from qusi_lab.models import scores_from_logits

    scores = scores_from_logits(outputs, task)
    if task == "regression" and target_scaler:
        scores = scores * float(target_scaler["std"]) + float(target_scaler["mean"])
    return scores
