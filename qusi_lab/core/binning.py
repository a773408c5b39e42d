"""Mean of values in equal-width bins: the one binning routine of qusi_lab.

:meth:`LightCurve.bin <qusi_lab.LightCurve.bin>`, the period search's preparation, the vetting views
and the demo report all bin with :func:`bin_means`.

Example
-------
>>> import numpy as np
>>> binned = bin_means(np.array([0.0, 0.1, 2.5]), np.array([1.0, 3.0, 5.0]), width=1.0)
>>> binned.centers.tolist(), binned.means.tolist(), binned.counts.tolist()
([0.5, 2.5], [2.0, 5.0], [2, 1])
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["Binned", "bin_means"]


class Binned(NamedTuple):
    """What :func:`bin_means` returns: bin centres, mean values, counts (and mean errors when asked)."""

    centers: np.ndarray
    means: np.ndarray
    counts: np.ndarray
    errors: np.ndarray | None = None


def bin_means(
    x: Any,
    y: Any,
    *,
    width: float | None = None,
    bins: int | None = None,
    span: tuple[float, float] | None = None,
    errors: Any | None = None,
    keep_empty: bool = False,
) -> Binned:
    """Mean of ``y`` in equal-width bins of ``x``, starting at the smallest ``x``.

    Give either ``width`` (bin width in the units of ``x``: bins as many as needed, the last one
    holding the largest ``x``) or ``bins`` (that many bins over ``[min(x), max(x)]``, the largest ``x``
    counted in the last bin; a single value of ``x`` makes one bin of width 1). ``span`` fixes the
    range the ``bins`` cover instead (e.g. one cycle of phase); values outside it count in the end
    bins. Values must be finite: filter NaNs first.

    Parameters
    ----------
    x, y:
        Positions (times, phases) and values, same length.
    width, bins:
        Exactly one of them.
    span:
        ``(low, high)`` covered by ``bins`` (only with ``bins``); default ``(min(x), max(x))``.
    errors:
        Per-value uncertainties; the result then carries ``sqrt(sum errors**2) / count`` per bin.
    keep_empty:
        Keep empty bins, with NaN means (a gap stays visible); by default they are dropped.

    Returns
    -------
    Binned
        ``centers`` (``min(x) + (i + 0.5) * width``), ``means``, ``counts`` and ``errors``.

    Example
    -------
    >>> import numpy as np
    >>> bin_means(np.arange(8.0), np.arange(8.0), bins=4).means.tolist()
    [0.5, 2.5, 4.5, 6.5]
    >>> gap = bin_means(np.array([0.0, 3.0]), np.array([1.0, 2.0]), bins=3, keep_empty=True)
    >>> gap.means.tolist(), gap.counts.tolist()
    ([1.0, nan, 2.0], [1, 0, 1])
    >>> bin_means(np.array([0.1, 0.2, 0.9]), np.ones(3), bins=2, span=(0.0, 1.0)).counts.tolist()
    [2, 1]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of the same length, got shapes {x.shape} and {y.shape}")
    if (width is None) == (bins is None):
        raise ValueError("give exactly one of width (a positive bin width) or bins (a positive count)")
    if span is not None and bins is None:
        raise ValueError("span goes with bins (the number of bins over it), not with width")
    if x.size == 0 and span is None:
        empty = np.empty(0)
        return Binned(empty, empty, np.empty(0, dtype=np.int64), None if errors is None else empty)
    start, stop = (float(x.min()), float(x.max())) if span is None else (float(span[0]), float(span[1]))
    if bins is not None:
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        if span is not None and not stop > start:
            raise ValueError(f"span must be (low, high) with high > low, got {span!r}")
        span_width = stop - start if stop > start else float(bins)
        width = span_width / bins
        # The fraction of the span, not a division by the width: over a span of a few subnormal
        # numbers the width underflows to 0 and (x - start) / width would be NaN.
        index = np.clip(np.floor((x - start) / span_width * bins), 0, bins - 1).astype(np.int64)
        count = bins
    else:
        assert width is not None
        if not width > 0:
            raise ValueError(f"width must be positive, got {width!r}")
        index = ((x - start) / width).astype(np.int64)
        count = int(index.max()) + 1
    counts = np.bincount(index, minlength=count)
    sums = np.bincount(index, weights=y, minlength=count)
    centers: np.ndarray
    if bins is not None:
        centers = start + span_width * ((np.arange(count) + 0.5) / bins)
    else:
        centers = start + (np.arange(count) + 0.5) * width
    error_values = None
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
        if errors is not None:
            squared = np.asarray(errors, dtype=np.float64) ** 2
            error_values = np.sqrt(np.bincount(index, weights=squared, minlength=count)) / counts
    if not keep_empty:
        filled = counts > 0
        centers, means, counts = centers[filled], means[filled], counts[filled]
        error_values = None if error_values is None else error_values[filled]
    return Binned(centers, means, counts, error_values)
