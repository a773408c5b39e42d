"""Time-series image inputs: supervised detection of exoplanets in direct-imaging (ADI) sequences.

The SODINN method (Gomez Gonzalez, Absil & Van Droogenbroeck 2018, A&A 613, A71), reimplemented in
PyTorch on the package's training loop and model description. The flow, one module per step:

- :mod:`~qusi_lab.imaging.sequence`: :class:`AdiSequence` (frames, parallactic angles, PSF, optics),
  :func:`read_fits` / :func:`write_fits` (VIP and Exoplanet Imaging Data Challenge layouts);
- :mod:`~qusi_lab.imaging.synthetic`: a seeded synthetic AO sequence; :mod:`~qusi_lab.imaging.empirical`:
  a second, independent generator (focal-plane speckles, a spider PSF, a pipeline's leftovers), to test
  a model on cubes it was not trained on; :mod:`~qusi_lab.imaging.injection`: fake companions and the
  per-annulus flux calibration;
- :mod:`~qusi_lab.imaging.baselines`: median-ADI, full and annular PCA-ADI, Mawet S/N maps;
  :mod:`~qusi_lab.imaging.contrast`: contrast curves;
- :mod:`~qusi_lab.imaging.samples`: MLAR patches (positives injected, negatives from opposite angles);
  :mod:`~qusi_lab.imaging.dataset`: :class:`MlarDataset`, trained by ``ql.train`` with the networks
  ``qusi_lab.models.available("mlar")``;
- :mod:`~qusi_lab.imaging.predict`: the probability map and its candidate table;
  :mod:`~qusi_lab.imaging.evaluate`: TPR against false positives per frame, and the challenge metrics.

Example
-------
>>> import qusi_lab as ql
>>> ql.imaging.patch_size_for(4.0)
9
>>> foreign = ql.imaging.make_empirical_sequence(n_frames=10, size=41, seed=1)
>>> foreign.cube.shape, foreign.meta["instrument"]
((10, 41, 41), 'gpi_h')
"""

from __future__ import annotations

from qusi_lab.imaging.baselines import collapse, derotate, median_adi, pca_adi, snr, snr_map
from qusi_lab.imaging.contrast import contrast_curve
from qusi_lab.imaging.dataset import MLAR_LABEL_NAMES, MlarAugmentation, MlarDataset
from qusi_lab.imaging.empirical import make_empirical_sequence
from qusi_lab.imaging.evaluate import challenge_metrics, detection_curve, plot_detection_curves, tpr_at
from qusi_lab.imaging.injection import calibrate_flux, inject_companions, sample_fluxes
from qusi_lab.imaging.predict import ProbabilityMap, find_sources, probability_map, trained_separations
from qusi_lab.imaging.samples import (
    MlarAnnulus,
    MlarSamples,
    default_separations,
    make_samples,
    mlar_annulus,
    mlar_levels,
    mlar_stacks,
    patch_size_for,
)
from qusi_lab.imaging.sequence import AdiSequence, estimate_fwhm, read_fits, write_fits
from qusi_lab.imaging.synthetic import BANDS, SITES, Band, airy_psf, make_adi_sequence, parallactic_angle

__all__ = [
    "MLAR_LABEL_NAMES", "AdiSequence", "MlarAnnulus", "MlarAugmentation", "MlarDataset", "MlarSamples",
    "ProbabilityMap", "challenge_metrics", "collapse", "contrast_curve", "default_separations", "derotate",
    "detection_curve", "estimate_fwhm", "find_sources", "make_samples", "median_adi", "mlar_annulus",
    "mlar_levels", "mlar_stacks", "patch_size_for", "pca_adi", "plot_detection_curves", "probability_map",
    "read_fits", "snr", "snr_map", "tpr_at", "trained_separations", "write_fits",
    "BANDS", "SITES", "Band", "airy_psf", "make_adi_sequence", "parallactic_angle",
    "calibrate_flux", "inject_companions", "sample_fluxes", "make_empirical_sequence",
]
