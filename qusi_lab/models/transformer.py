"""TransformerClassifier: a strided conv stem that turns the curve into tokens, then self-attention.

Structure (defaults)::

    stem: Conv(1, 16, stride s_0) -> Conv(16, 32, stride s_1) -> Conv(32, 64, stride s_2),
          each with BatchNorm and GELU; the strides bring the curve to at most ``max_tokens`` tokens
    + sinusoidal position encoding (works for any token count)
    3 pre-norm TransformerEncoder layers (d_model 64, 4 heads, feed-forward 128, dropout 0.1)
    LayerNorm -> mean over tokens ++ max over tokens (128) -> Dropout -> Linear(128, n_outputs)

Why: attention relates features anywhere in the sector in one step (repeated transits, the two
eclipses of a binary, a heartbeat's periastron bumps), which a CNN only does after many layers. The
conv stem keeps attention affordable: 4096 samples become 114 tokens (strides ``[4, 3, 3]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from qusi_lab.defaults import DEFAULT_INPUT_LENGTH
from qusi_lab.models.base import (
    ConvNormAct,
    LightCurveModel,
    ceil_division,
    downsampling_schedule,
    stage_lengths,
)
from qusi_lab.models.registry import register_model

__all__ = ["TransformerClassifier", "sinusoidal_position_encoding"]


def sinusoidal_position_encoding(length: int, dimension: int) -> Tensor:
    """The ``(length, dimension)`` sine/cosine position table of Vaswani et al. (2017).

    Example
    -------
    >>> sinusoidal_position_encoding(10, 8).shape
    torch.Size([10, 8])
    """
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, dimension, 2, dtype=torch.float32) * (-math.log(10000.0) / dimension))
    table = torch.zeros(length, dimension)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)[:, : dimension // 2]
    return table


@register_model("transformer")
class TransformerClassifier(LightCurveModel):
    """Conv stem + transformer encoder + mean/max pooling.

    Parameters
    ----------
    input_length:
        Length of the input curves (samples); sets the stem strides.
    n_outputs:
        Number of logits (1 binary, n classes multiclass, n targets regression).
    stem_channels:
        Channels of the stem convolutions before the last one (which outputs ``d_model``).
    d_model:
        Token width.
    n_heads:
        Attention heads (must divide ``d_model``).
    n_layers:
        Encoder layers.
    feedforward_units:
        Hidden width of each layer's feed-forward block.
    dropout:
        Dropout in the encoder and before the output layer.
    max_tokens:
        Largest number of tokens the stem may produce.

    Example
    -------
    >>> model = TransformerClassifier(input_length=4096)
    >>> model.strides, model.number_of_tokens
    ([4, 3, 3], 114)
    >>> model.eval()(torch.zeros(2, 4096)).shape
    torch.Size([2, 1])
    """

    name = "transformer"
    position: Tensor  # (number_of_tokens, d_model) buffer, not saved in the state dict

    def __init__(
        self,
        input_length: int = DEFAULT_INPUT_LENGTH,
        n_outputs: int = 1,
        *,
        stem_channels: Sequence[int] = (16, 32),
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 3,
        feedforward_units: int = 128,
        dropout: float = 0.1,
        max_tokens: int = 128,
    ) -> None:
        super().__init__()
        if d_model % n_heads != 0:
            raise ValueError(f"n_heads ({n_heads}) must divide d_model ({d_model})")
        if d_model % 2 != 0:
            raise ValueError(f"d_model must be even for the sine/cosine position encoding, got {d_model}")
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be at least 1, got {n_outputs}")
        self._set_config(
            input_length=input_length, n_outputs=n_outputs, stem_channels=stem_channels, d_model=d_model,
            n_heads=n_heads, n_layers=n_layers, feedforward_units=feedforward_units, dropout=dropout,
            max_tokens=max_tokens,
        )
        self.input_length = int(input_length)
        self.n_outputs = int(n_outputs)
        channels = [*(int(c) for c in stem_channels), int(d_model)]
        self.strides: list[int] = downsampling_schedule(
            self.input_length, len(channels), max_tokens, length_after=ceil_division, max_factor=16
        )
        self.feature_lengths: list[int] = stage_lengths(self.input_length, self.strides, ceil_division)
        self.number_of_tokens: int = self.feature_lengths[-1]
        stem = []
        in_channels = 1
        for index, (out_channels, stride) in enumerate(zip(channels, self.strides, strict=True)):
            kernel_size = 7 if index == 0 else 3  # widened to 2 * stride + 1 when strided
            stem.append(ConvNormAct(in_channels, out_channels, kernel_size, stride=stride, activation="gelu"))
            in_channels = out_channels
        self.stem = nn.Sequential(*stem)
        self.register_buffer(
            "position", sinusoidal_position_encoding(self.number_of_tokens, d_model), persistent=False
        )
        layer = nn.TransformerEncoderLayer(
            d_model, n_heads, dim_feedforward=feedforward_units, dropout=dropout, activation="gelu",
            batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.dense: nn.Module = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.output_layer = nn.Linear(2 * d_model, self.n_outputs)

    def tokens(self, x: Tensor) -> Tensor:
        """The encoded tokens, ``(batch, number_of_tokens, d_model)``."""
        x = self.stem(self._as_channels(x)).transpose(1, 2)
        position = self.position
        if x.shape[1] != position.shape[0]:
            position = sinusoidal_position_encoding(x.shape[1], x.shape[2]).to(x)
        return self.norm(self.encoder(x + position))

    def embedding(self, x: Tensor) -> Tensor:
        """The activations feeding the output layer, ``(batch, 2 * d_model)``."""
        tokens = self.tokens(x)
        return self.dense(torch.cat([tokens.mean(dim=1), tokens.amax(dim=1)], dim=1))

    def forward(self, x: Tensor) -> Tensor:
        return self.output_layer(self.embedding(x))
