"""HadryssPassages: Hadryss plus a second view, the curve's autocorrelation, to sum evidence over passages.

What: a two-column 1D CNN. Column 1 is a Hadryss conv column on the curve; column 2 is a smaller conv
column on the autocorrelation of the same curve, computed inside the network. The flattened features of
both columns are concatenated and go through Hadryss's dense head to ``n_outputs`` logits.

Why: a heartbeat star shows one pulse per periastron passage, repeated every orbit (1 to ~10 passages in
a 27-day sector). A plain CNN (:class:`~qusi_lab.models.Hadryss`) looks at each pulse locally and never
adds up the passages: its max-pooling keeps the strongest one. In the autocorrelation every pair of
passages adds into the same lag, so N pulses of period P pile up into peaks at P, 2P, ... whose height
grows with the number of passages while the noise stays flat near zero.

Structure (defaults)::

    input (batch, L)
    |- curve column: Hadryss's 9 conv blocks, filters 8, 8, 16, 32, 64, 128, 128, 128, 20,
    |                pooled to at most max_final_length (10)                     -> (20, F1)
    |- autocorrelation (no weights): subtract the curve's mean, zero-pad to 2L, |rfft|^2, irfft,
    |                lags 0 .. max_lag (default L // 2), divided by lag 0         -> (1, max_lag + 1)
    |  -> acf column: 6 conv blocks, filters 8, 8, 16, 32, 32, 16,
    |                pooled to at most max_final_length                          -> (16, F2)
    concatenate the flattened features (20 F1 + 16 F2)
    -> Dropout -> Linear(., 20) -> LeakyReLU -> Dropout -> Linear(20, 20) -> LeakyReLU
    Linear(20, n_outputs)   (logits)

The zero padding makes the autocorrelation linear (not circular): a pulse at the start and one at the end
of the curve do not correlate at a short lag. Both columns choose their pooling with
:func:`~qusi_lab.models.base.downsampling_schedule`, so the network scales itself to any input length
(the autocorrelation view is about half as long as the curve). Batch norms fold away with
:func:`~qusi_lab.models.fuse_for_inference` as in Hadryss; the autocorrelation has no parameters.

Example
-------
>>> import torch
>>> model = HadryssPassages(input_length=4096)
>>> model.pooling_sizes, model.acf_length, model.acf_pooling_sizes
([2, 2, 2, 2, 2, 2, 2, 2, 2], 2049, [3, 3, 3, 2, 2, 2])
>>> model(torch.zeros(3, 4096)).shape
torch.Size([3, 1])
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from qusi_lab.defaults import DEFAULT_INPUT_LENGTH
from qusi_lab.models.base import (
    LightCurveModel,
)
from qusi_lab.models.hadryss import HADRYSS_FILTERS, conv_column, dense_head
from qusi_lab.models.registry import register_model

__all__ = ["HadryssPassages", "Autocorrelation", "ACF_FILTERS"]

ACF_FILTERS: tuple[int, ...] = (8, 8, 16, 32, 32, 16)


class Autocorrelation(nn.Module):
    """Normalised linear autocorrelation of each curve, lags ``0 .. max_lag``: ``(batch, 1, max_lag + 1)``.

    ``acf[k] = sum_t y[t] y[t + k] / sum_t y[t]^2`` with ``y`` the curve minus its mean (the same as
    ``np.correlate(y, y, "full")[L - 1:] / np.dot(y, y)``), computed with ``torch.fft`` on the curve
    zero-padded to ``2 L``, so nothing wraps around. ``acf[0]`` is 1 (0 for a constant curve). Lags
    beyond the curve's length are 0. No parameters; gradients flow through it.

    Example
    -------
    >>> import torch
    >>> acf = Autocorrelation(max_lag=3)(torch.tensor([[1.0, -1.0, 1.0, -1.0]]))
    >>> [round(v, 3) for v in acf.flatten().tolist()]
    [1.0, -0.75, 0.5, -0.25]
    """

    def __init__(self, max_lag: int) -> None:
        super().__init__()
        if max_lag < 0:
            raise ValueError(f"max_lag must be at least 0, got {max_lag}")
        self.max_lag = int(max_lag)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        length = x.shape[-1]
        y = x - x.mean(dim=-1, keepdim=True)
        size = 2 * length  # zero padding to >= 2L - 1: a linear, not circular, correlation
        spectrum = torch.fft.rfft(y, n=size)
        correlation = torch.fft.irfft(spectrum.real.square() + spectrum.imag.square(), n=size)
        lags = correlation[..., : min(self.max_lag + 1, length)]
        if lags.shape[-1] < self.max_lag + 1:
            lags = F.pad(lags, (0, self.max_lag + 1 - lags.shape[-1]))
        energy = (y * y).sum(dim=-1, keepdim=True)  # = lag 0, exactly, in the curve's precision
        return lags / energy.clamp_min(torch.finfo(y.dtype).tiny)

    def extra_repr(self) -> str:
        return f"max_lag={self.max_lag}"


@register_model("hadryss_passages")
class HadryssPassages(LightCurveModel):
    """Hadryss on the curve plus a conv column on its autocorrelation, so repeated pulses add up.

    Parameters
    ----------
    input_length:
        Length of the input curves (samples; default the preprocessing's, 2048); sets the pooling of
        both columns.
    n_outputs:
        Number of logits: 1 for binary, the number of classes for multiclass, the number of targets
        for regression.
    filters:
        Output channels of the curve column's conv blocks (Hadryss's: 8, 8, 16, 32, 64, 128, 128, 128, 20).
    acf_filters:
        Output channels of the autocorrelation column's conv blocks (8, 8, 16, 32, 32, 16).
    max_lag:
        Largest autocorrelation lag, in samples (default ``input_length // 2``: a period seen at least
        twice). The autocorrelation view is ``max_lag + 1`` long (lags ``0 .. max_lag``).
    kernel_size:
        Convolution width (odd), both columns.
    dense_units:
        Widths of the dense layers before the output layer (20, 20).
    dropout:
        Dropout before each dense layer (0.1).
    spatial_dropout:
        Channel dropout (``Dropout1d``) after conv blocks 2 to n-2 of each column (0.1).
    activation:
        ``"leaky_relu"``, ``"relu"`` or ``"gelu"``.
    max_final_length:
        Largest length of each column's last feature map (10); the pooling is chosen to reach it.
    batch_norm:
        Batch normalisation in every conv block (folded away by ``fuse_for_inference``).

    Example
    -------
    >>> import torch
    >>> model = HadryssPassages(input_length=1000, n_outputs=3)
    >>> model.final_length, model.acf_final_length, model(torch.zeros(2, 1, 1000)).shape
    (7, 7, torch.Size([2, 3]))
    """

    name = "hadryss_passages"

    def __init__(
        self,
        input_length: int = DEFAULT_INPUT_LENGTH,
        n_outputs: int = 1,
        *,
        filters: Sequence[int] = HADRYSS_FILTERS,
        acf_filters: Sequence[int] = ACF_FILTERS,
        max_lag: int | None = None,
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
        if len(filters) < 1 or len(acf_filters) < 1:
            raise ValueError("filters and acf_filters must each name at least one conv block")
        if input_length < 2:
            raise ValueError(f"input_length must be at least 2, got {input_length}")
        if max_lag is not None and not 1 <= max_lag < input_length:
            raise ValueError(f"max_lag must be between 1 and input_length - 1 ({input_length - 1}), got {max_lag}")
        self._set_config(
            input_length=input_length, n_outputs=n_outputs, filters=filters, acf_filters=acf_filters,
            max_lag=max_lag, kernel_size=kernel_size, dense_units=dense_units, dropout=dropout,
            spatial_dropout=spatial_dropout, activation=activation, max_final_length=max_final_length,
            batch_norm=batch_norm,
        )
        self.input_length = int(input_length)
        self.n_outputs = int(n_outputs)
        self.filters: tuple[int, ...] = tuple(int(f) for f in filters)
        self.acf_filters: tuple[int, ...] = tuple(int(f) for f in acf_filters)
        self.max_lag: int = int(max_lag) if max_lag is not None else self.input_length // 2
        self.acf_length: int = self.max_lag + 1

        self.blocks, self.pooling_sizes, self.feature_lengths = conv_column(
            self.input_length, self.filters, kernel_size, max_final_length,
            activation=activation, batch_norm=batch_norm, spatial_dropout=spatial_dropout)
        self.final_length: int = self.feature_lengths[-1]
        self.autocorrelation = Autocorrelation(self.max_lag)
        self.acf_blocks, self.acf_pooling_sizes, self.acf_feature_lengths = conv_column(
            self.acf_length, self.acf_filters, kernel_size, max_final_length,
            activation=activation, batch_norm=batch_norm, spatial_dropout=spatial_dropout)
        self.acf_final_length: int = self.acf_feature_lengths[-1]

        features = self.filters[-1] * self.final_length + self.acf_filters[-1] * self.acf_final_length
        self.dense, features = dense_head(features, dense_units, dropout=dropout, activation=activation)
        self.output_layer = nn.Linear(features, self.n_outputs)

    def curve_features(self, x: Tensor) -> Tensor:
        """The curve column's last feature map, ``(batch, filters[-1], final_length)``."""
        x = self.blocks(self._as_channels(x))
        if x.shape[-1] != self.final_length:
            # Safety net for curves of another length than input_length.
            x = F.adaptive_max_pool1d(x, self.final_length)
        return x

    def acf_features(self, x: Tensor) -> Tensor:
        """The autocorrelation column's last feature map, ``(batch, acf_filters[-1], acf_final_length)``."""
        x = self.acf_blocks(self.autocorrelation(self._as_channels(x)))
        if x.shape[-1] != self.acf_final_length:
            x = F.adaptive_max_pool1d(x, self.acf_final_length)
        return x

    def features(self, x: Tensor) -> Tensor:
        """Both columns' flattened features, concatenated: ``(batch, 20 F1 + 16 F2)`` with the defaults."""
        x = self._as_channels(x)
        return torch.cat([self.curve_features(x).flatten(1), self.acf_features(x).flatten(1)], dim=1)

    def embedding(self, x: Tensor) -> Tensor:
        """The activations feeding the output layer, ``(batch, dense_units[-1])``."""
        return self.dense(self.features(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.output_layer(self.embedding(x))
