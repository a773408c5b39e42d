"""Phase folding: where each time falls in the cycle of a period, defined once.

Example
-------
>>> import numpy as np
>>> fold_phase(np.array([0.0, 1.0, 2.5]), period=2.0, epoch=0.5).tolist()
[-0.25, 0.25, 0.0]
>>> fold_time(np.array([0.0, 1.0, 2.5]), period=2.0, epoch=0.5).tolist()
[-0.5, 0.5, 0.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["fold_phase", "fold_time"]


def fold_phase(time: Any, period: float, epoch: float, *, start: float = -0.5) -> np.ndarray:
    """Phase in cycles, in ``[start, start + 1)``: 0 at ``epoch`` and every ``period`` from it.

    ``start=-0.5`` centres the epoch (a transit in the middle); ``start=-0.25`` leaves room on the
    right for a secondary eclipse at phase 0.5. The interval is half-open also for times a rounding
    error before a cycle boundary (``np.mod`` alone can return 1.0 there).

    Example
    -------
    >>> import numpy as np
    >>> fold_phase(np.array([-1e-20, 0.75]), period=1.0, epoch=0.0, start=0.0).tolist()
    [0.0, 0.75]
    """
    if not period > 0:
        raise ValueError(f"period must be positive, got {period!r}")
    cycles = np.mod((np.asarray(time, dtype=np.float64) - epoch) / period - start, 1.0)
    cycles[cycles >= 1.0] = 0.0  # np.mod(-1e-20, 1.0) == 1.0
    return cycles + start


def fold_time(time: Any, period: float, epoch: float) -> np.ndarray:
    """Time from the nearest epoch, in days, in ``[-period / 2, period / 2)``.

    Example
    -------
    >>> import numpy as np
    >>> fold_time(np.arange(0.0, 4.0), period=2.0, epoch=1.0).tolist()
    [-1.0, 0.0, -1.0, 0.0]
    """
    if not period > 0:
        raise ValueError(f"period must be positive, got {period!r}")
    offset = np.mod(np.asarray(time, dtype=np.float64) - epoch + 0.5 * period, period)
    offset[offset >= period] = 0.0  # a rounding error can land exactly on the period
    return offset - 0.5 * period
