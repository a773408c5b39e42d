"""AstronetGlobalLocal: the two-view CNN of Shallue & Vanderburg (2018, AJ 155, 94).

Astronet looks at a *global view* (the whole curve) and a *local view* (a close-up of the transit),
each through its own conv column, and joins them in a fully connected stack. Their views came from a
BLS period fold; ours is one binned sector, so the local view is, by default, a fixed-width crop of
the input centred on its deepest dip:

1. smooth the curve with a running mean of ``dip_smoothing`` samples (default ``local_length // 8``) so
   single low outliers do not win,
2. take the index of the minimum of the smoothed curve (no gradient flows through this choice),
3. crop ``local_length`` samples (default ``input_length // 32``, at least 64: about 20 hours of a
   27-day sector) centred there, repeating the edge values past the ends.

Pass ``local_view=`` to :meth:`AstronetGlobalLocal.forward` to supply your own (e.g. phase-folded) local view.

Columns (defaults, as the paper): global 5 blocks of 2 x Conv(5) with 16, 32, 64, 128, 256 channels,
each block ending in an overlapping max pool; local 2 blocks with 16, 32 channels; then 4 x Dense(512)
and the output layer. Differences from the paper: batch norm after each convolution (``batch_norm=True``;
set False for the paper's columns) and pool strides chosen automatically so each column ends at most
``max_final_length`` samples long (the paper used fixed strides on 2001/201-bin views).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
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

__all__ = ["AstronetGlobalLocal", "default_local_length", "crop_around_deepest_dip"]


def default_local_length(input_length: int) -> int:
    """``input_length // 32`` (at least 64, at most ``input_length``): ~20 h of a binned TESS sector."""
    return min(input_length, max(64, input_length // 32))


def crop_around_deepest_dip(x: Tensor, local_length: int, smoothing: int = 1) -> tuple[Tensor, Tensor]:
    """Crop ``local_length`` samples around the minimum of the running mean of ``x``.

    Parameters
    ----------
    x:
        ``(batch, 1, length)`` curves.
    local_length:
        Width of the crop.
    smoothing:
        Running-mean width (samples) used to find the dip.

    Returns
    -------
    (crops, centres): ``(batch, 1, local_length)`` and the ``(batch,)`` dip indices.

    Example
    -------
    >>> curve = torch.zeros(1, 1, 100)
    >>> curve[0, 0, 70:73] = -1.0
    >>> crops, centres = crop_around_deepest_dip(curve, 10, smoothing=3)
    >>> int(centres[0]), crops[0, 0].tolist()[3:8]
    (71, [0.0, -1.0, -1.0, -1.0, 0.0])
    """
    smoothing = max(1, smoothing) | 1  # odd, so the running mean stays centred
    with torch.no_grad():
        smoothed = F.avg_pool1d(x, smoothing, stride=1, padding=smoothing // 2, count_include_pad=False)
        centres = smoothed.argmin(dim=-1).squeeze(1)
    half = local_length // 2
    padded = F.pad(x, (half, local_length - half), mode="replicate")
    # In padded coordinates the window around centre c starts at c.
    index = centres[:, None] + torch.arange(local_length, device=x.device)
    crops = padded.gather(2, index.unsqueeze(1))
    return crops, centres


def _column(filters: Sequence[int], pooling: Sequence[int], kernel_size: int, convs_per_block: int,
            batch_norm: bool) -> nn.Sequential:
    blocks: list[nn.Module] = []
    in_channels = 1
    for channels, stride in zip(filters, pooling, strict=True):
        for index in range(convs_per_block):
            block = ConvNormAct(in_channels, channels, kernel_size, activation="relu", batch_norm=batch_norm)
            if index == convs_per_block - 1 and stride > 1:
                # Overlapping pool as in Astronet (there: window 5 or 7, stride 2): window 2s+1, stride s.
                block.pool = nn.MaxPool1d(2 * stride + 1, stride, padding=stride)
            blocks.append(block)
            in_channels = channels
    return nn.Sequential(*blocks)


@register_model("astronet")
class AstronetGlobalLocal(LightCurveModel):
    """Global + local view CNN (Shallue & Vanderburg 2018), local view cropped around the deepest dip.

    Parameters
    ----------
    input_length:
        Length of the (global view) input curves.
    n_outputs:
        Number of logits.
    local_length:
        Width of the local view (default :func:`default_local_length`).
    global_filters, local_filters:
        Channels of the conv blocks of each column.
    kernel_size:
        Convolution width (paper: 5).
    convs_per_block:
        Convolutions per block (paper: 2).
    fc_units:
        Widths of the fully connected layers (paper: 4 x 512).
    dropout:
        Dropout before each fully connected layer (paper: 0).
    batch_norm:
        Batch norm after every convolution (not in the paper; it makes training robust to scale).
    max_final_length:
        Largest length of each column's last map; sets the pool strides.
    dip_smoothing:
        Running-mean width used to locate the dip (default ``local_length // 8``).

    Example
    -------
    >>> model = AstronetGlobalLocal(input_length=4096)
    >>> model.local_length, model.global_pooling, model.local_pooling
    (128, [4, 3, 3, 3, 3], [3, 3])
    >>> model(torch.zeros(2, 4096)).shape
    torch.Size([2, 1])
    """

    name = "astronet"

    def __init__(
        self,
        input_length: int = DEFAULT_INPUT_LENGTH,
        n_outputs: int = 1,
        *,
        local_length: int | None = None,
        global_filters: Sequence[int] = (16, 32, 64, 128, 256),
        local_filters: Sequence[int] = (16, 32),
        kernel_size: int = 5,
        convs_per_block: int = 2,
        fc_units: Sequence[int] = (512, 512, 512, 512),
        dropout: float = 0.0,
        batch_norm: bool = True,
        max_final_length: int = 16,
        dip_smoothing: int | None = None,
    ) -> None:
        super().__init__()
        if n_outputs < 1:
            raise ValueError(f"n_outputs must be at least 1, got {n_outputs}")
        self._set_config(
            input_length=input_length, n_outputs=n_outputs, local_length=local_length,
            global_filters=global_filters, local_filters=local_filters, kernel_size=kernel_size,
            convs_per_block=convs_per_block, fc_units=fc_units, dropout=dropout, batch_norm=batch_norm,
            max_final_length=max_final_length, dip_smoothing=dip_smoothing,
        )
        self.input_length = int(input_length)
        self.n_outputs = int(n_outputs)
        self.local_length = int(local_length) if local_length else default_local_length(self.input_length)
        self.dip_smoothing = int(dip_smoothing) if dip_smoothing else max(1, self.local_length // 8)
        self.global_pooling = downsampling_schedule(self.input_length, len(global_filters), max_final_length,
                                                    length_after=ceil_division, max_factor=16)
        self.local_pooling = downsampling_schedule(self.local_length, len(local_filters), max_final_length,
                                                   length_after=ceil_division, max_factor=16)
        self.feature_lengths = stage_lengths(self.input_length, self.global_pooling, ceil_division)
        self.local_feature_lengths = stage_lengths(self.local_length, self.local_pooling, ceil_division)
        self.global_column = _column(global_filters, self.global_pooling, kernel_size, convs_per_block, batch_norm)
        self.local_column = _column(local_filters, self.local_pooling, kernel_size, convs_per_block, batch_norm)
        features = (global_filters[-1] * self.feature_lengths[-1]
                    + local_filters[-1] * self.local_feature_lengths[-1])
        dense: list[nn.Module] = []
        for units in fc_units:
            if dropout > 0:
                dense.append(nn.Dropout(dropout))
            dense += [nn.Linear(features, int(units)), nn.ReLU()]
            features = int(units)
        self.dense = nn.Sequential(*dense)
        self.output_layer = nn.Linear(features, self.n_outputs)

    def local_view(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The default local view: ``(crops (batch, 1, local_length), dip centres (batch,))``."""
        return crop_around_deepest_dip(self._as_channels(x), self.local_length, self.dip_smoothing)

    def embedding(self, x: Tensor, local_view: Tensor | None = None) -> Tensor:
        """The activations feeding the output layer."""
        x = self._as_channels(x)
        if local_view is None:
            local, _ = crop_around_deepest_dip(x, self.local_length, self.dip_smoothing)
        else:
            local = self._as_channels(local_view)
        global_features = self.global_column(x)
        if global_features.shape[-1] != self.feature_lengths[-1]:
            global_features = F.adaptive_max_pool1d(global_features, self.feature_lengths[-1])
        local_features = self.local_column(local)
        if local_features.shape[-1] != self.local_feature_lengths[-1]:
            local_features = F.adaptive_max_pool1d(local_features, self.local_feature_lengths[-1])
        joined = torch.cat([global_features.flatten(1), local_features.flatten(1)], dim=1)
        return self.dense(joined)

    def forward(self, x: Tensor, local_view: Tensor | None = None) -> Tensor:
        return self.output_layer(self.embedding(x, local_view))
