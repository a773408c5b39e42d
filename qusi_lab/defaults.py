"""Defaults that more than one layer needs, defined once (a leaf module: it imports nothing of qusi_lab).

Example
-------
>>> from qusi_lab.defaults import DEFAULT_INPUT_LENGTH, DEFAULT_FLUX_COLUMN
>>> DEFAULT_INPUT_LENGTH, DEFAULT_FLUX_COLUMN
(2048, 'pdcsap_flux')
"""

from __future__ import annotations

__all__ = ["DEFAULT_FLUX_COLUMN", "DEFAULT_INPUT_LENGTH"]

#: Network input length: a curve is binned to this many equal-width time bins (~19 minutes for a TESS
#: sector). The preprocessing (``BinToLength``) and every architecture's ``input_length`` default to it.
DEFAULT_INPUT_LENGTH = 2048

#: The flux column the readers take when none is named (PDCSAP for SPOC/Kepler, with fallbacks).
DEFAULT_FLUX_COLUMN = "pdcsap_flux"
