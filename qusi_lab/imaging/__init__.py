"""Time-series image inputs: supervised detection of exoplanets in direct-imaging (ADI) sequences.

``import qusi_lab as ql; ql.imaging.AdiSequence`` ... (the package grows slice by slice; see issue 16).
"""

from __future__ import annotations

from qusi_lab.imaging.baselines import collapse, contrast_curve, derotate, median_adi, pca_adi, snr, snr_map
from qusi_lab.imaging.sequence import AdiSequence, estimate_fwhm, read_fits, write_fits

__all__ = ["AdiSequence", "estimate_fwhm", "read_fits", "write_fits"]
__all__ += ["collapse", "contrast_curve", "derotate", "median_adi", "pca_adi", "snr", "snr_map"]
