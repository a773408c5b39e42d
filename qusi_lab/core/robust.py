"""Robust scatter: 1.4826 x the median absolute deviation (the standard deviation for Gaussian noise).

Example
-------
>>> import numpy as np
>>> robust_scale(np.array([1.0, 2.0, 3.0, 100.0]))   # the outlier barely moves it
1.4826
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAD_TO_SIGMA", "fast_median", "robust_scale"]

#: Median absolute deviation -> standard deviation, for Gaussian noise (1 / Phi^-1(3/4)).
MAD_TO_SIGMA = 1.4826


def fast_median(values: Any, *, overwrite: bool = False) -> float:
    """``np.median`` of a 1-D array, equal to it bit for bit, in about a third of the time.

    One ``np.partition`` at the upper middle; for an even size the lower middle is the largest value
    below it, and the two are averaged as ``np.median`` does (``(a + b) / 2``). ``np.median``
    partitions at both middles and at the end (its NaN check), which costs three times as much on
    the few thousand values of a binned curve. NaN semantics are those of ``np.median``: any NaN
    gives NaN (NaN sorts last, so it is looked for in the upper part only); an empty array gives
    NaN (without ``np.median``'s warning). ``overwrite=True`` lets it reorder ``values`` in place
    (no copy): for temporaries the caller owns.

    Example
    -------
    >>> import numpy as np
    >>> fast_median(np.array([3.0, 1.0, 2.0])), fast_median(np.array([4.0, 1.0, 3.0, 2.0]))
    (2.0, 2.5)
    >>> fast_median(np.array([1.0, np.nan, 2.0]))
    nan
    """
    array = np.asarray(values, dtype=np.float64)
    size = array.size
    if size == 0:
        return float("nan")
    part = array.reshape(-1) if overwrite and array.flags.writeable else array.ravel().copy()
    middle = size // 2
    part.partition(middle)
    upper = part[middle]
    if upper != upper or np.isnan(part[middle:]).any():  # NaN sorts last: any NaN lies above the middle
        return float("nan")
    if size % 2:
        return float(upper)
    lower = part[:middle].max()
    return float((lower + upper) / 2)


def robust_scale(values: Any, median: float | None = None) -> float:
    """``MAD_TO_SIGMA * median(|values - median(values)|)`` over the finite values; NaN when none.

    Transits and flares (a minority of points) hardly change it, unlike the standard deviation.
    ``median``: the median of the finite values when the caller has it already (not recomputed).

    Example
    -------
    >>> import numpy as np
    >>> robust_scale(np.array([np.nan, 2.0, 4.0])), robust_scale(np.array([np.nan]))
    (1.4826, nan)
    """
    array = np.asarray(values, dtype=np.float64)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return float("nan")
    centre = fast_median(finite) if median is None else median
    deviations = np.abs(finite - centre)
    return MAD_TO_SIGMA * fast_median(deviations, overwrite=True)
