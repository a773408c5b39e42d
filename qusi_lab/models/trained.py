"""``Model``: a trained network and everything needed to use it correctly, in one object.

A :class:`Model` is the one description of a trained model: the ``nn.Module`` (``model.network``),
the preprocessing pipeline, input length, class names, positive class, task, regression target
scaler, training settings, validation metrics and the qusi_lab version. Every consumer asks it:
:func:`~qusi_lab.training.train` returns one (``result.model``), :func:`~qusi_lab.models.bundle.load`
reads one from disk (``ql.load``), :func:`~qusi_lab.training.evaluate` and
:func:`~qusi_lab.inference.infer` take one, and :func:`check_compatible` (:meth:`Model.check`) is
the one place a model and a dataset are checked against each other. :meth:`Model.score` and
:meth:`Model.predict` run the one scoring path (:mod:`qusi_lab.models.scoring`).

Saving and loading (the bundle folder, its checksums and version rules) are in
:mod:`qusi_lab.models.bundle`.

Example
-------
>>> result = train(network, train_set, validation_set)   # doctest: +SKIP
>>> result.model.save("models/transits")                 # doctest: +SKIP
>>> model = ql.load("models/transits")                   # doctest: +SKIP
>>> model                                                # doctest: +SKIP
Model(hadryss, binary, classes ('negative', 'positive'), positive 'positive', input_length 3500, ...)
>>> model.score("data/sector_01")                        # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from qusi_lab.data.labels import positive_class_of
from qusi_lab.defaults import DEFAULT_THRESHOLD
from qusi_lab.models.scoring import InferenceError

__all__ = ["TASKS", "Model", "as_model", "bundle_of", "check_compatible", "description_of", "input_shape_of",
           "scores_from_outputs"]

#: The tasks a model can be for.
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

#: Version of the bundle folder layout (bundle.json's ``format_version``).
BUNDLE_FORMAT_VERSION = 1


def input_shape_of(thing: Any) -> tuple[int, ...] | None:
    """The shape of one network input that a network, dataset or :class:`Model` takes or makes.

    Its ``input_shape`` when it has one (MLAR patches: ``(levels, size, size)``), else
    ``(input_length,)`` (a light curve), else None.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> input_shape_of(Hadryss(input_length=256)), input_shape_of(object())
    ((256,), None)
    """
    shape = getattr(thing, "input_shape", None)
    if shape is not None:
        return tuple(int(n) for n in shape)
    length = getattr(thing, "input_length", None)
    return None if length is None else (int(length),)


def _shape_text(shape: tuple[int, ...]) -> str:
    return f"length {shape[0]}" if len(shape) == 1 else f"shape {shape}"


@dataclass(eq=False)
class Model:
    """A trained network and its description: how to build its inputs and read its outputs.

    Attributes
    ----------
    network:
        The ``torch.nn.Module`` (returns logits for float32 inputs of shape ``(batch, *input_shape)``);
        None for a description read without its weights (:func:`load_bundle_info`).
    task:
        ``"binary"``, ``"multiclass"`` or ``"regression"``.
    label_names:
        Class names in output order (binary: ``(negative, positive)``); empty for regression.
    positive_class:
        Binary tasks: the class whose probability the single logit gives (decided by
        :func:`qusi_lab.data.labels.positive_class_of` when not given).
    input_length:
        Length of the network input (the number of values of a multi-dimensional one).
    input_shape:
        Shape of one network input: ``(input_length,)`` for light curves, ``(levels, size, size)`` for
        MLAR patches (:mod:`qusi_lab.imaging`); taken from the network's ``input_shape`` when it has one.
    preprocessing:
        The :class:`~qusi_lab.transforms.Pipeline` that turns a light curve into the input (or None).
    architecture, model_config:
        Registry name of the network (:func:`qusi_lab.models.create`) and its constructor arguments.
    target_scaler:
        Regression: ``{"mean": m, "std": s}``; the network predicts ``(y - m) / s``, so
        predictions are ``output * s + m`` (:meth:`scores_from_outputs` does this).
    training_config:
        The training settings (learning rate, steps, seed, ...); ``"training"`` in bundle.json.
        (``model.training`` is the network's train/eval flag, as for any ``nn.Module``.)
    data_config:
        What the training data covered, when its dataset says (``dataset.data_config``; ``"data"`` in
        bundle.json): for MLAR patches the separations (in FWHM) and the MLAR settings, which
        :func:`qusi_lab.imaging.probability_map` follows so that a map scores only what was learnt.
    metrics:
        Validation metrics of the saved weights.
    qusi_lab_version, format_version, created:
        Provenance (filled in when saved or loaded).
    path:
        The folder it was loaded from (None when not loaded from disk).

    A Model is callable on a batch tensor (``model(x)`` is ``model.network(x)``, the logits), and
    attributes it does not have come from the network (``model.parameters()``, ``model.state_dict()``,
    ``model.config``), so code written for the ``nn.Module`` that :func:`load` used to return keeps
    working. Take ``model.network`` to use the plain PyTorch module anywhere.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> from qusi_lab.transforms import default_preprocessing
    >>> model = Model(Hadryss(input_length=256), task="binary", label_names=("quiet", "transit"),
    ...               preprocessing=default_preprocessing(256))
    >>> model.positive_class, model.input_length, model.architecture
    ('transit', 256, 'hadryss')
    >>> model(torch.zeros(2, 256)).shape
    torch.Size([2, 1])
    """

    network: nn.Module | None = None
    _: KW_ONLY
    task: str
    label_names: tuple[str, ...] = ()
    positive_class: str | None = None
    input_length: int | None = None
    input_shape: tuple[int, ...] | None = None
    preprocessing: Any = None
    architecture: str | None = None
    model_config: dict[str, Any] = field(default_factory=dict)
    target_scaler: dict[str, float] | None = None
    training_config: dict[str, Any] = field(default_factory=dict)
    data_config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    qusi_lab_version: str | None = None
    format_version: int = BUNDLE_FORMAT_VERSION
    created: str | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        self.label_names = tuple(str(name) for name in self.label_names or ())
        if self.task in TASKS:  # an unknown task is reported by whoever reads it (naming the file)
            self.positive_class = positive_class_of(self.task, self.label_names, self.positive_class)
        network = self.network
        if network is not None:
            if not self.architecture:
                self.architecture = getattr(network, "name", None) or None
            config = getattr(network, "config", None)
            if not self.model_config and isinstance(config, Mapping):
                self.model_config = dict(config)
            if self.input_length is None:
                length = getattr(network, "input_length", None)
                self.input_length = None if length is None else int(length)
            if self.input_shape is None:
                self.input_shape = getattr(network, "input_shape", None)
        if self.input_length is None and self.preprocessing is not None:
            length = getattr(self.preprocessing, "input_length", None)
            self.input_length = None if length is None else int(length)
        # One description of the input: a shape of several axes implies the length; a 1-D shape is only
        # the length again (so it follows input_length when a copy changes that).
        shape = None if self.input_shape is None else tuple(int(n) for n in self.input_shape)
        if shape is not None and len(shape) > 1:
            self.input_shape = shape
            if self.input_length is None:
                self.input_length = math.prod(shape)
            elif int(self.input_length) != math.prod(shape):
                raise ValueError(f"input_shape {shape} does not hold input_length {self.input_length} values")
        elif self.input_length is not None:
            self.input_shape = (int(self.input_length),)
        else:
            self.input_shape = shape
            self.input_length = None if shape is None else shape[0]
        if self.path is not None:
            self.path = Path(self.path)

    # ------------------------------------------------------------ the network
    def _network(self) -> nn.Module:
        if self.network is None:
            raise ValueError("this Model is a description without weights (load_bundle_info); load the bundle "
                             "with qusi_lab.load(path) to run it")
        return self.network

    def __call__(self, inputs: torch.Tensor) -> torch.Tensor:
        """The network's logits for a batch ``(batch, *input_shape)``."""
        return self._network()(inputs)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes a Model lacks: serve the network's (parameters, state_dict, config ...).
        if name.startswith("_") or name in ("network", "bundle"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        network = self.__dict__.get("network")
        if network is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(network, name)

    @property
    def bundle(self) -> Model:
        """Deprecated: the Model is its own description now (``model.label_names``, not ``model.bundle.label_names``)."""
        from qusi_lab._deprecation import warn_deprecated

        warn_deprecated("model.bundle: a Model describes itself; read model.label_names, model.preprocessing ... "
                        "directly (model.bundle is the model)")
        return self

    def to(self, *args: Any, **kwargs: Any) -> Model:
        """Move the network (``nn.Module.to``); returns the Model."""
        self._network().to(*args, **kwargs)
        return self

    def eval(self) -> Model:
        """Put the network in eval mode; returns the Model."""
        self._network().eval()
        return self

    # ------------------------------------------------------------ description
    def to_dict(self) -> dict[str, Any]:
        """The JSON content of ``bundle.json`` (without its checksums)."""
        preprocessing = self.preprocessing.to_dict() if self.preprocessing is not None else None
        from qusi_lab.models.bundle import _current_version, _json_ready

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
                "input_shape": None if self.input_shape is None else list(self.input_shape),
                "preprocessing": preprocessing,
                "target_scaler": self.target_scaler,
                "training": self.training_config,
                "data": self.data_config,
                "metrics": self.metrics,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], path: Path | None = None, network: nn.Module | None = None) -> Model:
        """Rebuild from :meth:`to_dict` output (the preprocessing becomes a Pipeline again)."""
        from qusi_lab.transforms import Pipeline

        preprocessing = data.get("preprocessing")
        return cls(
            network,
            task=str(data["task"]),
            label_names=tuple(str(name) for name in data.get("label_names") or ()),
            positive_class=data.get("positive_class"),
            input_length=None if data.get("input_length") is None else int(data["input_length"]),
            input_shape=None if data.get("input_shape") is None else tuple(int(n) for n in data["input_shape"]),
            preprocessing=None if preprocessing is None else Pipeline.from_dict(preprocessing),
            architecture=data.get("architecture"),
            model_config=dict(data.get("model_config") or {}),
            target_scaler=None if data.get("target_scaler") is None else dict(data["target_scaler"]),
            training_config=dict(data.get("training") or {}),
            data_config=dict(data.get("data") or {}),
            metrics={
                key: (math.nan if value is None else value)
                for key, value in (data.get("metrics") or {}).items()
            },
            qusi_lab_version=data.get("qusi_lab_version"),
            format_version=int(data.get("format_version", BUNDLE_FORMAT_VERSION)),
            created=data.get("created"),
            path=path,
        )

    def replace(self, **changes: Any) -> Model:
        """A copy with some attributes changed (the network is shared, not copied)."""
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        parts = [str(self.architecture or (type(self.network).__name__ if self.network is not None else "no network")),
                 self.task]
        if self.label_names:
            parts.append(f"classes {self.label_names!r}")
        if self.positive_class is not None and self.task == "binary":
            parts.append(f"positive {self.positive_class!r}")
        if self.input_shape is not None and len(self.input_shape) > 1:
            parts.append(f"input_shape {self.input_shape}")
        else:
            parts.append(f"input_length {self.input_length}")
        if self.target_scaler:
            parts.append(f"target_scaler {self.target_scaler}")
        shown = [name for name in ("auc_roc", "auc_pr", "accuracy", "r2") if name in self.metrics]
        if shown:
            parts.append(", ".join(f"{name} {self.metrics[name]:.4f}" for name in shown[:2]))
        if self.network is None:
            parts.append("no weights")
        if self.path is not None:
            parts.append(f"from '{self.path}'")
        return f"Model({', '.join(parts)})"

    # ------------------------------------------------------------ behaviour
    def scores_from_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        """Network outputs (logits) to scores: probabilities, or regression values in the target's units."""
        return scores_from_outputs(outputs, self.task, self.target_scaler)

    def check(self, dataset: Any, *, role: str = "dataset") -> None:
        """Raise ``ValueError`` (saying what to change) when ``dataset`` does not fit this model.

        The one place compatibility is checked (:func:`check_compatible`): same task, same classes in
        the same order, inputs of the model's length, one output per class; a warning when the
        dataset's preprocessing differs from the model's. ``role`` names the dataset in messages.

        Example
        -------
        >>> model.check(test_set)         # doctest: +SKIP
        """
        check_compatible(self.network, dataset, description=self, role=role)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the model to the bundle folder ``path`` (model.pt + bundle.json); returns the folder.

        Example
        -------
        >>> from qusi_lab.models import Hadryss
        >>> import tempfile
        >>> folder = Model(Hadryss(input_length=256), task="binary").save(tempfile.mkdtemp() + "/demo")
        >>> sorted(p.name for p in folder.iterdir())
        ['bundle.json', 'model.pt']
        """
        from qusi_lab.models.bundle import _save

        return _save(self, Path(path))

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, map_location: str | torch.device = "cpu") -> Model:
        """The model saved at ``path`` (same as :func:`qusi_lab.models.bundle.load`, ``ql.load``)."""
        from qusi_lab.models.bundle import load

        return load(path, map_location=map_location)

    def score(self, data: Any, *, batch_size: int = 256, num_workers: int | None = None,
              progress: bool = False) -> np.ndarray:
        """Scores for light curves, in the order given: binary, the probability of the positive class;
        multiclass, one probability per class ``(n, n_classes)``; regression, the predicted value.

        ``data``: a folder, a file, a LightCurve, a list of paths and/or light curves, or a
        :class:`~qusi_lab.data.LightCurveDataset` (made into inputs with the model's own
        preprocessing); or an array (or tensor) of ready inputs ``(n, *model.input_shape)``, scored as
        they are (how models of images, e.g. MLAR patches, score: ``model.score(samples.x)``). A curve that cannot be read or preprocessed scores NaN (and warns); to rank
        a sector with its problems listed, use :func:`qusi_lab.inference.infer`.

        Example
        -------
        >>> from qusi_lab.models import Hadryss
        >>> from qusi_lab.synthetic import make_light_curve       # doctest: +SKIP
        >>> model.score([make_light_curve(seed=1)])                # doctest: +SKIP
        array([0.43])
        """
        from qusi_lab.models.scoring import inference_dataset, score_curves, worker_count

        network = self._network()
        if isinstance(data, (np.ndarray, torch.Tensor)):
            return self._score_inputs(data, batch_size)
        preprocessing = self.input_pipeline()
        dataset = inference_dataset(data, preprocessing)
        scored = score_curves(network, dataset, preprocessing, int(self.input_length or 0),
                              batch_size=batch_size, num_workers=worker_count(num_workers, len(dataset)),
                              progress=progress, description="scoring")
        scores = self.scores_from_outputs(torch.from_numpy(scored.outputs)).numpy().astype(np.float64)
        width = len(self.label_names) if self.task == "multiclass" else 1
        result = np.full((len(dataset), width), np.nan)
        result[scored.positions] = scores.reshape(len(scored.positions), width)
        for path, error, _ in scored.problems:
            warnings.warn(f"{path}: not scored ({error})", UserWarning, stacklevel=2)
        return result if self.task == "multiclass" else result[:, 0]

    def _score_inputs(self, data: np.ndarray | torch.Tensor, batch_size: int) -> np.ndarray:
        """Scores of ready network inputs ``(n, *input_shape)`` (no preprocessing: they are its output)."""
        from qusi_lab.models.scoring import forward_stream

        inputs = torch.as_tensor(data, dtype=torch.float32)
        if self.input_shape is not None and tuple(inputs.shape[1:]) != self.input_shape:
            raise InferenceError(
                f"input shape mismatch: the model takes inputs of shape (n, {', '.join(map(str, self.input_shape))})"
                f", got an array of shape {tuple(inputs.shape)}")
        batches = [(inputs[start:start + batch_size],) for start in range(0, len(inputs), max(1, int(batch_size)))]
        outputs = [logits for _, logits in forward_stream(self._network(), batches) if logits is not None]
        width = len(self.label_names) if self.task == "multiclass" else 1
        stacked = torch.cat(outputs) if outputs else torch.zeros(0, width)
        scores = self.scores_from_outputs(stacked).numpy().astype(np.float64).reshape(len(inputs), width)
        return scores if self.task == "multiclass" else scores[:, 0]

    def predict(self, data: Any, *, threshold: float = DEFAULT_THRESHOLD, batch_size: int = 256, num_workers: int | None = None,
                progress: bool = False) -> np.ndarray:
        """Predictions for light curves, in the order given: class names (binary: the positive class when the
        score is at least ``threshold``), or values (regression). Curves that could not be scored get None
        (classes) or NaN (regression). ``data`` as for :meth:`score`.

        Example
        -------
        >>> model.predict("data/sector_01/")       # doctest: +SKIP
        array(['negative', 'positive', ...], dtype=object)
        """
        scores = self.score(data, batch_size=batch_size, num_workers=num_workers, progress=progress)
        if self.task == "regression":
            return scores
        names = list(self.label_names) or (["negative", "positive"] if self.task == "binary" else [])
        predicted = np.empty(len(scores), dtype=object)
        if self.task == "binary":
            valid = np.isfinite(scores)
            predicted[valid] = np.where(scores[valid] >= threshold, names[1], names[0])
        else:
            valid = np.isfinite(scores).all(axis=1)
            names = names or [f"class_{index}" for index in range(scores.shape[1])]
            predicted[valid] = np.asarray(names, dtype=object)[scores[valid].argmax(axis=1)]
        return predicted

    def input_pipeline(self) -> Any:
        """The preprocessing that makes this model's inputs, checked against the input length.

        The default preprocessing for the input length, with a warning, when the model records none.
        Raises :class:`~qusi_lab.models.scoring.InferenceError` when they disagree or no length is known.
        """
        from qusi_lab.transforms import default_preprocessing

        pipeline = self.preprocessing
        if pipeline is None and self.input_shape is not None and len(self.input_shape) > 1:
            raise InferenceError(
                f"this model takes inputs of shape {self.input_shape}, not light curves: score an array of "
                f"inputs of shape (n, {', '.join(map(str, self.input_shape))}) (e.g. MLAR samples' x)")
        if pipeline is None:
            if self.input_length is None:
                raise InferenceError(
                    "the model has no preprocessing and no input_length: pass preprocessing=, or load the "
                    "model with qusi_lab.load(folder)")
            warnings.warn(
                "the model records no preprocessing, so the default preprocessing is assumed; pass "
                "preprocessing= the pipeline it was trained with", UserWarning, stacklevel=3)
            pipeline = default_preprocessing(int(self.input_length))
        pipeline_length = getattr(pipeline, "input_length", None)
        if pipeline_length is not None and self.input_length is not None and int(pipeline_length) != int(
                self.input_length):
            raise InferenceError(
                f"the preprocessing makes inputs of length {pipeline_length} but the model expects {self.input_length}")
        if self.input_length is None:
            raise InferenceError("cannot tell the input length: the preprocessing sets none and the model has none")
        return pipeline


def description_of(model: Any) -> Model | None:
    """The :class:`Model` that ``model`` is or carries, or None for a bare network (or anything else).

    The one place that reads ``network.bundle``: the description :func:`~qusi_lab.training.train` leaves
    on the network it was given (a Model, or a dict of :meth:`Model.to_dict` keys set by hand).

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> description_of(Hadryss(input_length=256)) is None
    True
    """
    if isinstance(model, Model):
        return model
    if not isinstance(model, nn.Module):
        return None
    attached = getattr(model, "bundle", None)
    if isinstance(attached, Mapping) and "task" in attached:
        attached = Model.from_dict(attached, network=model)
    return attached if isinstance(attached, Model) else None


def as_model(
    model: Any,
    *,
    preprocessing: Any = None,
    task: str | None = None,
    label_names: Sequence[str] | None = None,
    strict: bool = False,
) -> Model:
    """The :class:`Model` for ``model``: a Model, a bundle folder, or a network (keywords override).

    A network that :func:`~qusi_lab.training.train` was given carries its description as
    ``network.bundle`` (a Model, or a dict of :meth:`Model.to_dict` keys set by hand);
    a bare network (nothing says how it was trained) is taken as binary (one output) or
    multiclass, with a warning when it has to be scored with the default preprocessing.
    ``strict=True`` refuses a network without a description instead.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> from qusi_lab.transforms import default_preprocessing
    >>> model = as_model(Hadryss(input_length=256), preprocessing=default_preprocessing(256), task="binary")
    >>> model.task, model.input_length, model.positive_class
    ('binary', 256, 'positive')
    """
    if isinstance(model, (str, os.PathLike)):
        from qusi_lab.models.bundle import load

        model = load(model)
    if isinstance(model, Model):
        described: Model | None = model
        network = model.network
    elif isinstance(model, nn.Module):
        network = model
        described = description_of(network)
        if strict and described is None:
            raise ValueError(
                f"this {type(network).__name__} carries no description (task, classes, preprocessing); train it "
                "with qusi_lab.train or load a saved one with qusi_lab.load")
    else:
        raise TypeError(f"model must be a qusi_lab Model, a torch.nn.Module or a bundle folder, got "
                        f"{type(model).__name__}")
    changes: dict[str, Any] = {}
    if preprocessing is not None:
        if isinstance(preprocessing, Mapping):
            from qusi_lab.transforms import Pipeline

            preprocessing = Pipeline.from_dict(preprocessing)
        changes["preprocessing"] = preprocessing
    if label_names is not None:
        changes["label_names"] = tuple(str(name) for name in label_names)
    if described is not None:
        if task is not None:
            changes["task"] = task
        if described.network is not network or changes:
            if "label_names" in changes or "task" in changes:
                changes.setdefault("positive_class", None if "label_names" in changes else described.positive_class)
            return described.replace(network=network, **changes)
        return described
    outputs = getattr(network, "n_outputs", None)
    chosen = task or ("binary" if outputs in (None, 1) else "multiclass")
    names = changes.pop("label_names", ())
    if chosen == "multiclass" and not names:
        names = tuple(f"class_{index}" for index in range(int(outputs or 0)))
    return Model(network, task=chosen, label_names=names, **changes)


def bundle_of(model: Any) -> Model:
    """The :class:`Model` (description) of a trained (:func:`~qusi_lab.training.train`) or loaded (:func:`load`) model.

    A Model is returned as is; a network returned by an older ``train`` gives its ``.bundle``.
    Raises a clear error when there is none (a freshly built network).

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> bundle_of(Hadryss(input_length=256))
    Traceback (most recent call last):
    ...
    ValueError: this Hadryss carries no bundle information (task, classes, preprocessing); train it with qusi_lab.training.train or load a saved one with qusi_lab.training.load
    """
    info = description_of(model)
    if info is None:
        raise ValueError(
            f"this {type(model).__name__} carries no bundle information (task, classes, preprocessing); train it "
            "with qusi_lab.training.train or load a saved one with qusi_lab.training.load"
        )
    return info


def check_compatible(network: nn.Module | None, dataset: Any, *, description: Model | None = None,
                     role: str = "dataset") -> None:
    """Raise ``ValueError`` when ``dataset`` cannot go through ``network`` (described by ``description``).

    The one compatibility check (training, evaluation, :meth:`Model.check`): the task and the class
    names (order included) of the description against the dataset's, one network output per class,
    and the input length; a ``UserWarning`` when the dataset's preprocessing differs from the
    description's. ``role`` names the dataset in the messages (``"training set"``).
    """
    if description is not None and dataset.task is not None:
        if description.task != dataset.task:
            raise ValueError(
                f"the model was trained for a {description.task} task but the {role} is a {dataset.task} task")
        if description.label_names and tuple(description.label_names) != tuple(dataset.label_names):
            raise ValueError(
                f"the model's classes {list(description.label_names)} differ from the {role}'s "
                f"{list(dataset.label_names)} (names or order); build the {role} with label_names=model.label_names")
    task = description.task if description is not None else dataset.task
    n_outputs = getattr(network, "n_outputs", None) if network is not None else None
    if n_outputs is not None and task is not None and dataset.task is not None:
        expected = len(dataset.label_names) if task == "multiclass" else 1
        if int(n_outputs) != expected:
            raise ValueError(
                f"the model has {n_outputs} outputs but a {task} task with classes {list(dataset.label_names)} "
                f"needs {expected}; build it with qusi_lab.models.model_for_task(name, input_length, {task!r}"
                + (f", n_classes={expected})" if task == "multiclass" else ")"))
    expected_shape = input_shape_of(network) if network is not None else None
    if expected_shape is None and description is not None:
        expected_shape = description.input_shape
    made = input_shape_of(dataset)
    if expected_shape is not None and made is not None and expected_shape != made:
        if len(expected_shape) == 1 and len(made) == 1:  # two light-curve lengths
            raise ValueError(
                f"the model takes inputs of length {expected_shape[0]} but the {role} makes {made[0]}; "
                f"build the {role} with the model's preprocessing (model.preprocessing)")
        # Light curves against images (or images of another size): the length alone could even agree.
        raise ValueError(
            f"input shape mismatch: the model takes inputs of {_shape_text(expected_shape)} but the {role} "
            f"makes {_shape_text(made)}; a model is trained for one kind of input (light curves or MLAR patches "
            "of a given size)")
    if description is not None and description.preprocessing is not None and \
            dataset.preprocessing != description.preprocessing:
        warnings.warn(
            f"the {role}'s preprocessing differs from the one the model was trained with; scores may be "
            f"meaningless. Build the {role} with preprocessing=model.preprocessing", UserWarning, stacklevel=3)


def scores_from_outputs(
    outputs: torch.Tensor, task: str, target_scaler: Mapping[str, float] | None = None
) -> torch.Tensor:
    """Network outputs (logits) to scores: probabilities, or regression values in the target's units.

    :func:`qusi_lab.models.scores_from_logits`, then, for regression, ``value * std + mean`` with the
    model's ``target_scaler``.

    Example
    -------
    >>> scores_from_outputs(torch.tensor([[0.0], [1.0]]), "regression", {"mean": 10.0, "std": 2.0}).tolist()
    [10.0, 12.0]
    """
    from qusi_lab.models.tasks import scores_from_logits

    scores = scores_from_logits(outputs, task)
    if task == "regression" and target_scaler:
        scores = scores * float(target_scaler["std"]) + float(target_scaler["mean"])
    return scores
