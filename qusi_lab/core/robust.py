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

__all__ = ["MAD_TO_SIGMA", "robust_scale"]

#: Median absolute deviation -> standard deviation, for Gaussian noise (1 / Phi^-1(3/4)).
MAD_TO_SIGMA = 1.4826


def robust_scale(values: Any) -> float:
    """``MAD_TO_SIGMA * median(|values - median(values)|)`` over the finite values; NaN when none.

    Transits and flares (a minority of points) hardly change it, unlike the standard deviation.

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
    return MAD_TO_SIGMA * float(np.median(np.abs(finite - np.median(finite))))
