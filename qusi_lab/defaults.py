"""Defaults that more than one layer needs, defined once (a leaf module: it imports nothing of qusi_lab).

Example
-------
>>> from qusi_lab.defaults import DEFAULT_INPUT_LENGTH, DEFAULT_FLUX_COLUMN
>>> DEFAULT_INPUT_LENGTH, DEFAULT_FLUX_COLUMN
(2048, 'pdcsap_flux')
"""

from __future__ import annotations

__all__ = ["DEFAULT_FLUX_COLUMN", "DEFAULT_INPUT_LENGTH", "DEFAULT_THRESHOLD", "DEFAULT_TOP_FRACTION"]

#: Network input length: a curve is binned to this many equal-width time bins (~19 minutes for a TESS
#: sector). The preprocessing (``BinToLength``) and every architecture's ``input_length`` default to it.
DEFAULT_INPUT_LENGTH = 2048

#: The flux column the readers take when none is named (PDCSAP for SPOC/Kepler, with fallbacks).
DEFAULT_FLUX_COLUMN = "pdcsap_flux"

#: Binary decision threshold: a curve is called positive when its score is ``>= DEFAULT_THRESHOLD``
#: (the metrics, ``evaluate``, the training loop's validation and ``qusi-lab evaluate --threshold``).
DEFAULT_THRESHOLD = 0.5

#: The fraction of best-scored curves in which ``recall_at_top_<k>%`` counts the positives found.
DEFAULT_TOP_FRACTION = 0.1
