"""Small numeric and encoding helpers that several layers share, each defined once (leaf modules).

=====================  ===========================================================
``binning``            :func:`bin_means`: mean of values in equal-width bins
``running_median``     :func:`running_median`, :func:`running_median_over_time`
``folding``            :func:`fold_phase` (cycles), :func:`fold_time` (days from epoch)
``robust``             :data:`MAD_TO_SIGMA`, :func:`robust_scale` (1.4826 x MAD), :func:`fast_median`
``jsonable``           :func:`to_jsonable`, :func:`dumps`: one JSON encoding, one NaN policy
``plotting``           :func:`panel_axes`: draw into the caller's ``ax=`` or a new figure
=====================  ===========================================================

They import numpy (scipy and matplotlib when called) and nothing of qusi_lab, so any layer may use them.

Example
-------
>>> import numpy as np
>>> from qusi_lab.core import bin_means
>>> bin_means(np.arange(8.0), np.arange(8.0), bins=4).means.tolist()
[0.5, 2.5, 4.5, 6.5]
"""

from __future__ import annotations

from qusi_lab.core.binning import Binned, bin_means
from qusi_lab.core.folding import fold_phase, fold_time
from qusi_lab.core.jsonable import dumps, to_jsonable
from qusi_lab.core.plotting import panel_axes
from qusi_lab.core.robust import MAD_TO_SIGMA, fast_median, robust_scale
from qusi_lab.core.running_median import running_median, running_median_over_time

__all__ = [
    "MAD_TO_SIGMA",
    "Binned",
    "bin_means",
    "dumps",
    "fast_median",
    "fold_phase",
    "fold_time",
    "panel_axes",
    "robust_scale",
    "running_median",
    "running_median_over_time",
    "to_jsonable",
]
