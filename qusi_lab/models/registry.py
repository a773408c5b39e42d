"""Model registry: build a network by name, and rebuild it from its recorded ``config``.

Example
-------
>>> from qusi_lab import models
>>> models.available()
['astronet', 'hadryss', 'hadryss_passages', 'resnet1d', 'transformer']
>>> model = models.create("Hadryss", input_length=1000)
>>> rebuilt = models.from_config(model.name, model.config)
>>> rebuilt.config == model.config
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

__all__ = ["register_model", "available", "create", "from_config", "model_for_task", "model_class"]

_MODELS: dict[str, type[nn.Module]] = {}
_NAMES: dict[str, str] = {}  # key -> the name it was registered under, as users should type it
_KINDS: dict[str, str] = {}  # key -> what the model reads: "light_curve" or "mlar" (image patches)
ModelClass = TypeVar("ModelClass", bound=type[nn.Module])


def _key(name: str) -> str:
    # "ResNet1D", "resnet_1d" and "resnet-1d" all mean the same model.
    return name.lower().replace("_", "").replace("-", "").replace(" ", "")


def register_model(name: str, *, kind: str = "light_curve") -> Callable[[ModelClass], ModelClass]:
    """Class decorator adding a model to the registry under ``name`` (and its class name).

    ``kind`` says what it reads: ``"light_curve"`` (``(batch, length)``) or ``"mlar"`` (imaging patches
    ``(batch, levels, size, size)``); :func:`available` lists one kind.

    The class must accept its recorded ``config`` as keyword arguments.

    Example
    -------
    >>> import torch
    >>> @register_model("tiny")
    ... class Tiny(torch.nn.Module):
    ...     def __init__(self, input_length: int = 100, n_outputs: int = 1):
    ...         super().__init__()
    ...         self.config = {"input_length": input_length, "n_outputs": n_outputs}
    ...         self.layer = torch.nn.Linear(input_length, n_outputs)
    ...     def forward(self, x):
    ...         return self.layer(x.reshape(len(x), -1))
    >>> create("tiny", input_length=10)(torch.zeros(2, 10)).shape
    torch.Size([2, 1])
    >>> _ = _MODELS.pop("tiny"), _NAMES.pop("tiny"), _KINDS.pop("tiny")
    """

    def decorate(cls: ModelClass) -> ModelClass:
        key = _key(name)
        existing = _MODELS.get(key)
        if existing is not None and existing is not cls and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"a model named {name!r} is already registered ({existing.__qualname__})")
        _MODELS[key] = cls
        _NAMES[key] = name
        _KINDS[key] = kind
        return cls

    return decorate


def _load_builtin_models() -> None:
    # Importing the modules runs their @register_model decorators.
    from qusi_lab.models import astronet, hadryss, mlar, passages, resnet, transformer  # noqa: F401


def available(kind: str | None = "light_curve") -> list[str]:
    """Registered model names of one ``kind`` (None: all), sorted (names are case-insensitive in :func:`create`).

    >>> available("mlar")
    ['mlar_conv3d', 'mlar_convlstm']
    """
    _load_builtin_models()
    return sorted(_NAMES.get(key, key) for key in _MODELS if kind is None or _KINDS.get(key, "light_curve") == kind)


def model_class(name: str) -> type[nn.Module]:
    """The class registered under ``name`` (case-insensitive; ``ResNet1D`` == ``resnet1d``)."""
    _load_builtin_models()
    key = _key(name)
    if key not in _MODELS:
        aliases = {_key(cls.__name__): cls for cls in _MODELS.values()}
        if key in aliases:
            return aliases[key]
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(available())}; "
                         f"for imaging: {', '.join(available('mlar'))}")
    return _MODELS[key]


def create(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered under ``name`` with ``kwargs``.

    Example
    -------
    >>> create("resnet1d", input_length=2000, n_outputs=3).n_outputs
    3
    """
    cls = model_class(name)
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise TypeError(f"cannot build model {name!r} with arguments {sorted(kwargs)}: {error}") from error


def from_config(name: str, config: Mapping[str, Any]) -> nn.Module:
    """Rebuild a model from ``model.name`` and ``model.config`` (load its ``state_dict`` afterwards).

    Example
    -------
    >>> import torch
    >>> model = create("hadryss", input_length=800).eval()
    >>> copy = from_config("hadryss", model.config).eval()
    >>> _ = copy.load_state_dict(model.state_dict())
    >>> x = torch.randn(2, 800)
    >>> bool(torch.equal(model(x), copy(x)))
    True
    """
    return create(name, **dict(config))


def model_for_task(
    name: str,
    input_length: int,
    task: str = "binary",
    n_classes: int | None = None,
    *,
    n_targets: int = 1,
    **kwargs: Any,
) -> nn.Module:
    """Build ``name`` with the output size the task needs (see :func:`~qusi_lab.models.outputs_for_task`).

    Example
    -------
    >>> model_for_task("hadryss", 3500, "multiclass", n_classes=4).n_outputs
    4
    """
    from qusi_lab.models.tasks import outputs_for_task

    return create(name, input_length=input_length,
                  n_outputs=outputs_for_task(task, n_classes, n_targets=n_targets), **kwargs)
