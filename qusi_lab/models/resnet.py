"""ResNet1D: a residual 1D CNN for light curves with automatic downsampling.

Structure (defaults)::

    stem: Conv1d(1, 16, 7) -> BatchNorm -> ReLU -> MaxPool(s_0)
    4 stages, widths 16, 32, 64, 128, 2 residual blocks each; the first block of stage i has stride s_i
        block: Conv(k, stride) -> BN -> ReLU -> Conv(3) -> BN, + shortcut, -> ReLU
        shortcut when the shape changes: AvgPool(stride) -> Conv1x1 -> BN  ("ResNet-D" shortcut: no sample
        is dropped, unlike a strided 1x1 conv)
    global average pool ++ global max pool  (2 x 128)  -> Dropout -> Linear(256, 64) -> ReLU -> Dropout
    Linear(64, n_outputs)

Automatic scaling: the five downsampling factors ``s_0..s_4`` (stem pool and stage strides) come from
:func:`~qusi_lab.models.base.downsampling_schedule` with ceil-division lengths so the last map is at most
``max_final_length`` samples (4096 -> ``[4, 3, 3, 3, 3]``, length 13). Strided convolutions widen to
``2 * stride + 1`` taps so no sample is skipped. The global max pool keeps single short events (one
transit, one flare) visible to the head; the average pool summarises periodic/stochastic variability.
Any input length runs (the pooling is global); ``input_length`` only sets the schedule.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from qusi_lab.defaults import DEFAULT_INPUT_LENGTH
from qusi_lab.models.base import (
    ConvNormAct,
    LightCurveModel,
    ceil_division,
    downsampling_schedule,
    make_activation,
    stage_lengths,
)
from qusi_lab.models.registry import register_model

__all__ = ["ResNet1D", "ResidualBlock"]


class ResidualBlock(nn.Module):
    """Basic residual block: two convolutions with batch norm and an identity (or projected) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, *, stride: int = 1, kernel_size: int = 3,
                 activation: str = "relu") -> None:
        super().__init__()
        self.first = ConvNormAct(in_channels, out_channels, kernel_size, stride=stride, activation=activation)
        # No activation inside: it comes after the sum with the shortcut.
        self.second = ConvNormAct(out_channels, out_channels, kernel_size, activation="none")
        self.shortcut: nn.Module
        if stride == 1 and in_channels == out_channels:
            self.shortcut = nn.Identity()
        else:
            layers: list[nn.Module] = []
            if stride > 1:
                layers.append(nn.AvgPool1d(stride, stride, ceil_mode=True, count_include_pad=False))
            layers.append(ConvNormAct(in_channels, out_channels, 1, activation="none"))
            self.shortcut = nn.Sequential(*layers)
        self.act = make_activation(activation)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.second(self.first(x)) + self.shortcut(x))


@register_model("resnet1d")
class ResNet1D(LightCurveModel):
    """Residual 1D CNN, auto-scaled to the input length.

    Parameters
    ----------
    input_length:
        Length of the input curves (samples); sets the downsampling schedule.
    n_outputs:
        Number of logits (1 binary, n classes multiclass, n targets regression).
    widths:
        Channels of each stage (the stem has ``widths[0]``).
    blocks_per_stage:
        Residual blocks in each stage (same length as ``widths``).
    stem_kernel_size:
        Width of the first convolution (wide: it sees raw, noisy samples).
    kernel_size:
        Width of the convolutions inside the residual blocks (odd).
    hidden_units:
        Width of the dense layer before the output (0: none).
    dropout:
        Dropout before the dense layers.
    activation:
        ``"relu"``, ``"leaky_relu"`` or ``"gelu"``.
    max_final_length:
        Largest length of the last feature map; sets the strides.

    Example
    -------
    >>> import torch
    >>> model = ResNet1D(input_length=4096)
    >>> model.strides, model.feature_lengths
    ([4, 3, 3, 3, 3], [1024, 342, 114, 38, 13])
    >>> model(torch.zeros(2, 4096)).shape
    torch.Size([2, 1])
    """

    name = "resnet1d"

    def __init__(
        self,
        input_length: int = DEFAULT_INPUT_LENGTH,
        n_outputs: int = 1,
        *,
        widths: Sequence[int] = (16, 32, 64, 128),
        blocks_per_stage: Sequence[int] = (2, 2, 2, 2),
        stem_kernel_size: int = 7,
        kernel_size: int = 3,
        hidden_units: int = 64,
        dropout: float = 0.2,
        activation: str = "relu",
        max_final_length: int = 16,
    ) -> None:
        super().__init__()
        if len(widths) != len(blocks_per_stage) or not widths:
            raise ValueError("widths and blocks_per_stage must be non-empty and of equal length")
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be at least 1, got {n_outputs}")
        self._set_config(
            input_length=input_length, n_outputs=n_outputs, widths=widths, blocks_per_stage=blocks_per_stage,
            stem_kernel_size=stem_kernel_size, kernel_size=kernel_size, hidden_units=hidden_units,
            dropout=dropout, activation=activation, max_final_length=max_final_length,
        )
        self.input_length = int(input_length)
        self.n_outputs = int(n_outputs)
        # Downsampling points: the stem pool, then the first block of every stage.
        self.strides: list[int] = downsampling_schedule(
            self.input_length, len(widths) + 1, max_final_length, length_after=ceil_division
        )
        self.feature_lengths: list[int] = stage_lengths(self.input_length, self.strides, ceil_division)

        stem = ConvNormAct(1, widths[0], stem_kernel_size, activation=activation)
        if self.strides[0] > 1:
            stem.pool = nn.MaxPool1d(self.strides[0], self.strides[0], ceil_mode=True)
        self.stem = stem
        stages = []
        in_channels = widths[0]
        for width, blocks, stride in zip(widths, blocks_per_stage, self.strides[1:], strict=True):
            stage = [ResidualBlock(in_channels, width, stride=stride, kernel_size=kernel_size,
                                   activation=activation)]
            stage += [ResidualBlock(width, width, kernel_size=kernel_size, activation=activation)
                      for _ in range(blocks - 1)]
            stages.append(nn.Sequential(*stage))
            in_channels = width
        self.stages = nn.Sequential(*stages)

        head: list[nn.Module] = []
        features = 2 * in_channels
        if hidden_units > 0:
            if dropout > 0:
                head.append(nn.Dropout(dropout))
            head += [nn.Linear(features, hidden_units), make_activation(activation)]
            features = hidden_units
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        self.dense = nn.Sequential(*head)
        self.output_layer = nn.Linear(features, self.n_outputs)

    def features(self, x: Tensor) -> Tensor:
        """The last feature map, ``(batch, widths[-1], length)``."""
        return self.stages(self.stem(self._as_channels(x)))

    def embedding(self, x: Tensor) -> Tensor:
        """The activations feeding the output layer."""
        x = self.features(x)
        pooled = torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=1)
        return self.dense(pooled)

    def forward(self, x: Tensor) -> Tensor:
        return self.output_layer(self.embedding(x))
