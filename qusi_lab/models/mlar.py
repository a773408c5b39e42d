"""Networks for multi-level low-rank residual (MLAR) patches of direct-imaging sequences.

Input ``(batch, levels, size, size)`` (or ``(batch, 1, levels, size, size)``): one patch per number of
principal components (see :mod:`qusi_lab.imaging.samples`). Output: raw logits ``(batch, n_outputs)``.

- :class:`MlarConv3D`: SODINN's later default (VIP's ``sodinn`` ``conv3d``): two 3-D convolutions of 40 and
  80 filters with pooling, a dense layer of 128, dropout, one logit (sigmoid through the loss).
- :class:`MlarConvLstm`: the paper's model (Gomez Gonzalez et al. 2018, sect. 3.3) in the spirit of a
  Conv2D + bidirectional LSTM: each level's patch through a shared Conv2D column, the levels read as a
  sequence by a BiLSTM.

Both scale themselves like Hadryss: the pooling of each stage is chosen from the patch size and the
number of levels (an axis is halved only while it stays at least 2 long), so a user passes
``levels`` and ``patch_size`` and no arithmetic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from qusi_lab.models.base import LightCurveModel
from qusi_lab.models.registry import register_model

__all__ = ["MlarConv3D", "MlarConvLstm"]


def _as_stack(model: LightCurveModel, x: Tensor, levels: int, size: int) -> Tensor:
    """``(batch, levels, size, size)`` or ``(batch, 1, levels, size, size)`` -> float ``(batch, 1, L, S, S)``."""
    if x.dim() == 4:
        x = x.unsqueeze(1)
    if x.dim() != 5 or x.shape[1] != 1 or tuple(x.shape[2:]) != (levels, size, size):
        raise ValueError(f"{type(model).__name__} expects MLAR patches of shape (batch, {levels}, {size}, {size}); "
                         f"got {tuple(x.shape)}")
    return x.float().contiguous()


def _pool(shape: Sequence[int]) -> tuple[int, ...]:
    """Halve every axis that stays at least 2 long (a 5-pixel patch pools to 2, then no more)."""
    return tuple(2 if n >= 4 else 1 for n in shape)


@register_model("mlar_conv3d", kind="mlar")
class MlarConv3D(LightCurveModel):
    """SODINN's 3-D convolutional classifier of MLAR patches.

    Parameters
    ----------
    levels, patch_size:
        The MLAR stack's depth and the patch side (odd pixels).
    filters:
        Filters of the 3-D conv stages (SODINN: 40, 80), each ``kernel_size`` cubed, ReLU, then pooling.
    dense_units, dropout:
        The dense layer (128) and the dropout before the output.

    Example
    -------
    >>> model = MlarConv3D(levels=20, patch_size=9)
    >>> model(torch.zeros(2, 20, 9, 9)).shape
    torch.Size([2, 1])
    """

    name = "mlar_conv3d"

    def __init__(self, levels: int = 20, patch_size: int = 9, n_outputs: int = 1, *,
                 filters: Sequence[int] = (40, 80), kernel_size: int = 3, dense_units: int = 128,
                 dropout: float = 0.5, input_length: int | None = None) -> None:
        super().__init__()
        if levels < 1 or patch_size < 3:
            raise ValueError(f"need at least 1 level and a 3-pixel patch, got {levels}, {patch_size}")
        self._set_config(levels=levels, patch_size=patch_size, n_outputs=n_outputs, filters=filters,
                         kernel_size=kernel_size, dense_units=dense_units, dropout=dropout)
        self.levels, self.patch_size, self.n_outputs = int(levels), int(patch_size), int(n_outputs)
        self.input_length = self.levels * self.patch_size**2  # what the training loop reports as length
        self.input_shape = (self.levels, self.patch_size, self.patch_size)  # checked against the dataset's
        layers: list[nn.Module] = []
        shape: tuple[int, ...] = (self.levels, self.patch_size, self.patch_size)
        channels = 1
        for count in filters:
            pool = _pool(shape)
            layers += [nn.Conv3d(channels, int(count), kernel_size, padding=kernel_size // 2), nn.ReLU(),
                       nn.MaxPool3d(pool)]
            shape = tuple(n // p for n, p in zip(shape, pool, strict=True))
            channels = int(count)
        self.blocks = nn.Sequential(*layers)
        self.final_shape = shape
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(channels * shape[0] * shape[1] * shape[2], dense_units),
                                   nn.ReLU(), nn.Dropout(dropout))
        self.output_layer = nn.Linear(dense_units, self.n_outputs)

    def embedding(self, x: Tensor) -> Tensor:
        return self.dense(self.blocks(_as_stack(self, x, self.levels, self.patch_size)))

    def forward(self, x: Tensor) -> Tensor:
        return self.output_layer(self.embedding(x))

    def extra_repr(self) -> str:
        return f"levels={self.levels}, patch_size={self.patch_size}, n_outputs={self.n_outputs}"


@register_model("mlar_convlstm", kind="mlar")
class MlarConvLstm(LightCurveModel):
    """A shared Conv2D column per level, then a bidirectional LSTM over the levels (SODINN's paper model,
    with a BiLSTM over per-level conv features in place of the ConvLSTM cell).

    Example
    -------
    >>> model = MlarConvLstm(levels=20, patch_size=9)
    >>> model(torch.zeros(2, 20, 9, 9)).shape
    torch.Size([2, 1])
    """

    name = "mlar_convlstm"

    def __init__(self, levels: int = 20, patch_size: int = 9, n_outputs: int = 1, *,
                 filters: Sequence[int] = (16, 32), kernel_size: int = 3, hidden: int = 32,
                 dense_units: int = 64, dropout: float = 0.5, input_length: int | None = None) -> None:
        super().__init__()
        self._set_config(levels=levels, patch_size=patch_size, n_outputs=n_outputs, filters=filters,
                         kernel_size=kernel_size, hidden=hidden, dense_units=dense_units, dropout=dropout)
        self.levels, self.patch_size, self.n_outputs = int(levels), int(patch_size), int(n_outputs)
        self.input_length = self.levels * self.patch_size**2
        self.input_shape = (self.levels, self.patch_size, self.patch_size)
        layers: list[nn.Module] = []
        side, channels = self.patch_size, 1
        for count in filters:
            pool = 2 if side >= 4 else 1
            layers += [nn.Conv2d(channels, int(count), kernel_size, padding=kernel_size // 2), nn.ReLU(),
                       nn.MaxPool2d(pool)]
            side, channels = side // pool, int(count)
        self.column = nn.Sequential(*layers, nn.Flatten())
        self.lstm = nn.LSTM(channels * side * side, hidden, batch_first=True, bidirectional=True)
        self.dense = nn.Sequential(nn.Linear(2 * hidden, dense_units), nn.ReLU(), nn.Dropout(dropout))
        self.output_layer = nn.Linear(dense_units, self.n_outputs)

    def embedding(self, x: Tensor) -> Tensor:
        stack = _as_stack(self, x, self.levels, self.patch_size)[:, 0]  # (batch, L, S, S)
        batch = stack.shape[0]
        features = self.column(stack.reshape(batch * self.levels, 1, self.patch_size, self.patch_size))
        sequence, _ = self.lstm(features.reshape(batch, self.levels, -1))
        return self.dense(torch.cat([sequence[:, -1, :sequence.shape[-1] // 2],
                                     sequence[:, 0, sequence.shape[-1] // 2:]], dim=1))

    def forward(self, x: Tensor) -> Tensor:
        return self.output_layer(self.embedding(x))

    def extra_repr(self) -> str:
        return f"levels={self.levels}, patch_size={self.patch_size}, n_outputs={self.n_outputs}"
