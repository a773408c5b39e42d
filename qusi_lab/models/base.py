"""Shared pieces of the light-curve networks: the model base class, the conv block and the
automatic downsampling schedule.

Every network here is a plain :class:`torch.nn.Module` that takes a float32 batch of shape
``(batch, input_length)`` (or ``(batch, 1, input_length)``) and returns raw logits of shape
``(batch, n_outputs)``. Nothing is hidden: ``model.config`` holds the constructor arguments, so
``type(model)(**model.config)`` (or :func:`qusi_lab.models.from_config`) rebuilds the same architecture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from torch import Tensor, nn

__all__ = [
    "LightCurveModel",
    "ConvNormAct",
    "downsampling_schedule",
    "floor_division",
    "ceil_division",
    "make_activation",
]


def floor_division(length: int, factor: int) -> int:
    """Length after a non-overlapping pooling of ``factor`` without padding (``MaxPool1d(factor)``)."""
    return length // factor


def ceil_division(length: int, factor: int) -> int:
    """Length after a stride-``factor`` layer padded to keep partial windows (``ceil(length / factor)``)."""
    return -(-length // factor)


def downsampling_schedule(
    input_length: int,
    number_of_stages: int,
    max_final_length: int,
    *,
    length_after: Callable[[int, int], int] = floor_division,
    max_factor: int = 8,
) -> list[int]:
    """Pooling (or stride) factor for each stage so the last feature map is at most ``max_final_length``.

    The rule: start with no downsampling anywhere (all factors 1); while the final length is still
    too long, raise the factors by one in round-robin order starting from the first stage (the first
    stages see the longest maps, so pooling there saves the most compute). The result is the
    smallest, most even set of factors that reaches the target, with any extra factor on the
    earliest stages; stages that are not needed keep factor 1 (no pooling). This is the same rule
    as qusi's Hadryss, generalised to any number of stages and any padding arithmetic.

    Parameters
    ----------
    input_length:
        Length of the input curve (samples).
    number_of_stages:
        How many places in the network may downsample.
    max_final_length:
        Largest acceptable length of the last feature map.
    length_after:
        ``length_after(length, factor)``: the length after one stage (floor division for plain
        pooling, :func:`ceil_division` for padded strided layers).
    max_factor:
        Largest factor any single stage may take.

    Example
    -------
    >>> downsampling_schedule(4096, 9, 16)
    [2, 2, 2, 2, 2, 2, 2, 2, 1]
    >>> downsampling_schedule(500, 9, 16)
    [2, 2, 2, 2, 2, 1, 1, 1, 1]
    """
    if input_length < 1:
        raise ValueError(f"input_length must be at least 1, got {input_length}")
    if number_of_stages < 1:
        raise ValueError(f"number_of_stages must be at least 1, got {number_of_stages}")
    if max_final_length < 1:
        raise ValueError(f"max_final_length must be at least 1, got {max_final_length}")

    def final_length(factors: list[int]) -> int:
        length = input_length
        for factor in factors:
            length = length_after(length, factor)
        return length

    factors = [1] * number_of_stages
    index = 0
    while final_length(factors) > max_final_length:
        if all(factor >= max_factor for factor in factors):
            raise ValueError(
                f"input_length {input_length} cannot be reduced to {max_final_length} with "
                f"{number_of_stages} stages of at most {max_factor}x; raise max_final_length"
            )
        if factors[index] < max_factor:
            factors[index] += 1
        index = (index + 1) % number_of_stages
    return factors


def stage_lengths(input_length: int, factors: list[int], length_after: Callable[[int, int], int]) -> list[int]:
    """The feature-map length after each stage of a :func:`downsampling_schedule`."""
    lengths = []
    length = input_length
    for factor in factors:
        length = length_after(length, factor)
        lengths.append(length)
    return lengths


def make_activation(name: str) -> nn.Module:
    """An activation module by name: ``leaky_relu`` (qusi's choice), ``relu``, ``gelu`` or ``none``."""
    key = name.lower()
    if key in ("none", "identity"):
        return nn.Identity()
    if key == "leaky_relu":
        return nn.LeakyReLU(0.01)
    if key == "relu":
        return nn.ReLU()
    if key == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {name!r}; use 'leaky_relu', 'relu', 'gelu' or 'none'")


def _is_monotonic_increasing(activation: nn.Module) -> bool:
    # max-pooling commutes with these, so pooling first gives the same numbers for less work.
    if isinstance(activation, nn.LeakyReLU):
        return activation.negative_slope >= 0
    return isinstance(activation, (nn.ReLU, nn.Identity))


class ConvNormAct(nn.Module):
    """``Conv1d -> BatchNorm1d -> activation -> MaxPool1d -> Dropout1d``; the unit every network uses.

    The convolution pads to keep the length ("same" padding for odd kernels, or ``ceil(L / stride)``
    with a stride), so the only length change comes from ``stride`` and ``pooling``. When the
    activation is monotonic (LeakyReLU, ReLU) the max-pooling is applied *before* it: identical
    values and gradients (max commutes with an increasing function), a ``pooling``-times smaller
    tensor to activate. :func:`qusi_lab.models.fuse_for_inference` folds the batch norm into the
    convolution for inference.

    Example
    -------
    >>> import torch
    >>> block = ConvNormAct(1, 8, kernel_size=3, pooling=2)
    >>> block(torch.zeros(4, 1, 100)).shape
    torch.Size([4, 8, 50])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        pooling: int = 1,
        activation: str = "leaky_relu",
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (centred windows), got {kernel_size}")
        if stride > 1 and kernel_size < 2 * stride + 1:
            # Overlapping windows wider than the step, so no sample is skipped.
            kernel_size = 2 * stride + 1
        # Odd kernel with half-width padding: output length ceil(L / stride) (L when stride is 1).
        padding = (kernel_size - 1) // 2
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              bias=not batch_norm)
        self.norm: nn.Module = nn.BatchNorm1d(out_channels) if batch_norm else nn.Identity()
        self.act = make_activation(activation)
        self.pool: nn.Module = nn.MaxPool1d(pooling) if pooling > 1 else nn.Identity()
        self.dropout: nn.Module = nn.Dropout1d(dropout) if dropout > 0 else nn.Identity()
        self.pool_first = _is_monotonic_increasing(self.act)

    def forward(self, x: Tensor) -> Tensor:
        x = self.norm(self.conv(x))
        if self.pool_first:
            x = self.act(self.pool(x))
        else:
            x = self.pool(self.act(x))
        return self.dropout(x)


class LightCurveModel(nn.Module):
    """Base class: input checking, the recorded ``config`` and the registry ``name``.

    Subclasses call :meth:`_set_config` with *all* their constructor arguments, so
    ``type(model)(**model.config)`` rebuilds the architecture (weights come from ``state_dict``).
    """

    name: ClassVar[str] = ""
    config: dict[str, Any]
    input_length: int
    n_outputs: int
    output_layer: nn.Linear

    def _set_config(self, **arguments: Any) -> None:
        self.config = {key: _plain(value) for key, value in arguments.items()}

    def _as_channels(self, x: Tensor) -> Tensor:
        """``(batch, length)`` or ``(batch, 1, length)`` -> contiguous float ``(batch, 1, length)``."""
        if x.dim() == 2:
            x = x.unsqueeze(1)
        elif x.dim() != 3 or x.shape[1] != 1:
            raise ValueError(
                f"{type(self).__name__} expects input of shape (batch, length) or (batch, 1, length); "
                f"got {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            x = x.float()
        return x.contiguous()

    def extra_repr(self) -> str:
        return f"input_length={self.input_length}, n_outputs={self.n_outputs}"

    def reset_output(self, n_outputs: int) -> None:
        """Replace the output layer with a fresh one of ``n_outputs`` logits (transfer learning)."""
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be at least 1, got {n_outputs}")
        self.output_layer = nn.Linear(self.output_layer.in_features, n_outputs)
        self.n_outputs = n_outputs
        self.config["n_outputs"] = n_outputs

    def number_of_parameters(self) -> int:
        """Total count of trainable parameters."""
        return sum(parameter.numel() for parameter in self.parameters() if parameter.requires_grad)


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a constructor argument (tuples -> lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return None
    return value
