"""Hadryss: qusi's light-curve CNN, auto-scaled to any input length.

Structure (defaults)::

    input (batch, L)
    9 conv blocks, kernel 3, filters 8, 8, 16, 32, 64, 128, 128, 128, 20
        each: Conv1d -> BatchNorm1d -> LeakyReLU -> MaxPool1d(p_i) [-> Dropout1d on blocks 2..7]
    flatten (20 x F)  -> Dropout -> Linear(20 F, 20) -> LeakyReLU -> Dropout -> Linear(20, 20) -> LeakyReLU
    Linear(20, n_outputs)   (logits; no sigmoid/softmax inside the model)

Automatic scaling: the pooling factors ``p_i`` come from
:func:`~qusi_lab.models.base.downsampling_schedule` - raise them one at a time, round-robin from the
first block, until the last feature map length ``F`` is at most ``max_final_length`` (10, qusi's
value). A 4096-long input gets ``[2, 2, 2, 2, 2, 2, 2, 2, 2]`` (F = 8), 500 gets
``[2, 2, 2, 2, 2, 2, 1, 1, 1]`` (F = 7: the last three blocks do not pool), 10,000 gets
``[3, 3, 2, 2, 2, 2, 2, 2, 2]`` (F = 8), 100,000 gets ``[3, 3, 3, 3, 3, 3, 3, 3, 2]`` (F = 7). The first dense layer spans the whole last map
(it is qusi's "convolution with kernel = dense size"). If a curve of a different length than
``input_length`` is passed, the last map is adaptively max-pooled to ``F`` so the model still runs
(a safety net; train and infer at ``input_length``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from qusi_lab.defaults import DEFAULT_INPUT_LENGTH
from qusi_lab.models.base import (
    ConvNormAct,
    LightCurveModel,
    downsampling_schedule,
    floor_division,
    make_activation,
    stage_lengths,
)
from qusi_lab.models.registry import register_model

__all__ = ["Hadryss", "HADRYSS_FILTERS", "conv_column", "dense_head"]

HADRYSS_FILTERS: tuple[int, ...] = (8, 8, 16, 32, 64, 128, 128, 128, 20)


def conv_column(
    length: int,
    filters: Sequence[int],
    kernel_size: int,
    max_final_length: int,
    *,
    activation: str,
    batch_norm: bool,
    spatial_dropout: float,
) -> tuple[nn.Sequential, list[int], list[int]]:
    """Hadryss's conv column for curves of ``length``: the blocks, their pooling sizes and feature lengths.

    Example
    -------
    >>> blocks, pooling, lengths = conv_column(500, HADRYSS_FILTERS, 3, 10, activation="leaky_relu",
    ...                                        batch_norm=True, spatial_dropout=0.1)
    >>> pooling, lengths[-1]
    ([2, 2, 2, 2, 2, 2, 1, 1, 1], 7)
    """
    pooling = downsampling_schedule(length, len(filters), max_final_length, length_after=floor_division)
    lengths = stage_lengths(length, pooling, floor_division)
    blocks = []
    in_channels = 1
    last = len(filters) - 1
    for index, (channels, factor) in enumerate(zip(filters, pooling, strict=True)):
        # qusi drops whole channels in the middle blocks only (not the first two, not the last).
        block_dropout = spatial_dropout if 2 <= index < last else 0.0
        blocks.append(ConvNormAct(in_channels, channels, kernel_size, pooling=factor,
                                  activation=activation, batch_norm=batch_norm, dropout=block_dropout))
        in_channels = channels
    return nn.Sequential(*blocks), pooling, lengths


def dense_head(
    features: int, units: Sequence[int], *, dropout: float, activation: str, flatten: bool = False
) -> tuple[nn.Sequential, int]:
    """Hadryss's dense layers (dropout, linear, activation per entry of ``units``) and their output width.

    Example
    -------
    >>> head, width = dense_head(160, (20, 20), dropout=0.1, activation="leaky_relu")
    >>> width, len(head)
    (20, 6)
    """
    layers: list[nn.Module] = [nn.Flatten()] if flatten else []
    for count in units:
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [nn.Linear(features, int(count)), make_activation(activation)]
        features = int(count)
    return nn.Sequential(*layers), features


@register_model("hadryss")
class Hadryss(LightCurveModel):
    """qusi's Hadryss 1D CNN with automatic pooling for any input length.

    Parameters
    ----------
    input_length:
        Length of the input curves (samples; default the preprocessing's, 2048); sets the pooling of every block.
    n_outputs:
        Number of logits: 1 for binary (``BCEWithLogitsLoss``), the number of classes for
        multiclass (``CrossEntropyLoss``), the number of targets for regression.
    filters:
        Output channels of the conv blocks (qusi: 8, 8, 16, 32, 64, 128, 128, 128, 20).
    kernel_size:
        Convolution width (odd).
    dense_units:
        Widths of the dense layers before the output layer (qusi: 20, 20).
    dropout:
        Dropout before each dense layer (qusi: 0.1).
    spatial_dropout:
        Channel dropout (``Dropout1d``) after conv blocks 2 to n-2 (qusi: 0.1).
    activation:
        ``"leaky_relu"`` (qusi), ``"relu"`` or ``"gelu"``.
    max_final_length:
        Largest length of the last feature map (qusi: 10); the pooling is chosen to reach it.
    batch_norm:
        Batch normalisation in every conv block (folded away by ``fuse_for_inference``).

    Example
    -------
    >>> import torch
    >>> model = Hadryss(input_length=4096)
    >>> model.pooling_sizes, model.feature_lengths[-1]
    ([2, 2, 2, 2, 2, 2, 2, 2, 2], 8)
    >>> model(torch.zeros(3, 4096)).shape
    torch.Size([3, 1])
    """

    name = "hadryss"

    def __init__(
        self,
        input_length: int = DEFAULT_INPUT_LENGTH,
        n_outputs: int = 1,
        *,
        filters: Sequence[int] = HADRYSS_FILTERS,
        kernel_size: int = 3,
        dense_units: Sequence[int] = (20, 20),
        dropout: float = 0.1,
        spatial_dropout: float = 0.1,
        activation: str = "leaky_relu",
        max_final_length: int = 10,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be at least 1, got {n_outputs}")
        if len(filters) < 1:
            raise ValueError("filters must name at least one conv block")
        self._set_config(
            input_length=input_length, n_outputs=n_outputs, filters=filters, kernel_size=kernel_size,
            dense_units=dense_units, dropout=dropout, spatial_dropout=spatial_dropout,
            activation=activation, max_final_length=max_final_length, batch_norm=batch_norm,
        )
        self.input_length = int(input_length)
        self.n_outputs = int(n_outputs)
        self.filters: tuple[int, ...] = tuple(int(f) for f in filters)
        self.blocks, self.pooling_sizes, self.feature_lengths = conv_column(
            self.input_length, self.filters, kernel_size, max_final_length,
            activation=activation, batch_norm=batch_norm, spatial_dropout=spatial_dropout)
        self.final_length: int = self.feature_lengths[-1]
        self.dense, features = dense_head(self.filters[-1] * self.final_length, dense_units, dropout=dropout,
                                          activation=activation, flatten=True)
        self.output_layer = nn.Linear(features, self.n_outputs)

    def features(self, x: Tensor) -> Tensor:
        """The last conv feature map, ``(batch, filters[-1], final_length)``."""
        x = self.blocks(self._as_channels(x))
        if x.shape[-1] != self.final_length:
            # Safety net for curves of another length than input_length.
            x = F.adaptive_max_pool1d(x, self.final_length)
        return x

    def embedding(self, x: Tensor) -> Tensor:
        """The activations feeding the output layer, ``(batch, dense_units[-1])``."""
        return self.dense(self.features(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.output_layer(self.embedding(x))
