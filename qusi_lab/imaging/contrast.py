"""Contrast curves: PCA-ADI's sensitivity by separation (VIP's ``contrast_curve``; Mawet et al. 2014).

Apart from :mod:`.baselines` because it injects fake companions (:mod:`.injection`, which calibrates its
fluxes with the baselines): one injection for the whole package, so a throughput measured here is the
one a calibration or a flux estimate sees.
"""

from __future__ import annotations

from collections.abc import Sequence as SequenceType
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import stats

from qusi_lab.imaging.baselines import (
    Engine,
    _aperture_fluxes,
    _aperture_mean_map,
    _inscribed_radius,
    _ring_positions,
    pca_adi,
)
from qusi_lab.imaging.injection import inject_companions

if TYPE_CHECKING:
    import pandas as pd

    from qusi_lab.imaging.sequence import AdiSequence

__all__ = ["contrast_curve"]


def contrast_curve(sequence: AdiSequence, *, n_components: int, separations: SequenceType[float] | None = None,
                   sigma: float = 5.0, mode: Literal["full", "annular"] = "full",
                   annulus_width: float | None = None, mask_center: float | None = None,
                   n_branches: int = 3, injection_snr: float = 100.0, star_flux: float | None = None,
                   engine: Engine = "numpy") -> pd.DataFrame:
    """The ``sigma`` contrast curve of PCA-ADI (VIP's ``contrast_curve``; Mawet et al. 2014).

    Noise at separation ``r``: the ``std(ddof=1)`` of the ``n = floor(2 pi r / fwhm)`` aperture fluxes of
    the final frame. Threshold: the Student-t quantile with ``n - 1`` degrees of freedom at the Gaussian
    ``sigma`` false-alarm probability, times ``sqrt(1 + 1/n)``. Throughput: fake companions of
    ``injection_snr * noise`` flux (the PSF template, :func:`~qusi_lab.imaging.injection.inject_companions`, as every
    injection of the package) at ``n_branches`` position angles,
    all separations at once per branch on a spiral (137.5 deg apart) so that they do not touch;
    the recovered aperture flux (with minus without) over the injected one, averaged over branches.
    ``contrast = threshold * noise / throughput / star_flux`` (``star_flux``: the star's flux in the
    PSF's units; default ``sequence.meta["star_flux"]`` or 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``separation_px``, ``separation_fwhm``, ``separation_arcsec``, ``noise``,
        ``throughput``, ``contrast``.
    """
    import pandas as pd

    fwhm, center = float(sequence.fwhm), sequence.star_position
    star = float(sequence.meta.get("star_flux", 1.0) if star_flux is None else star_flux)
    outer = _inscribed_radius(sequence.shape, center) - fwhm
    if separations is None:
        start = max(fwhm, (mask_center or 0.0) + fwhm)
        separations = list(np.arange(start, outer, fwhm))
    radii = np.asarray(separations, dtype=np.float64)
    if radii.size == 0 or radii.min() <= 0 or radii.max() > outer:
        raise ValueError(f"separations must lie in (0, {outer:.1f}] px, got {list(radii)}")

    def final(s: AdiSequence) -> np.ndarray:
        return pca_adi(s, n_components, mode=mode, annulus_width=annulus_width,
                       mask_center=mask_center, engine=engine)

    base = final(sequence)
    mean_base = _aperture_mean_map(base, fwhm)
    counts = np.floor(2 * np.pi * radii / fwhm).astype(np.int64)
    noise = np.array([np.nanstd(_aperture_fluxes(mean_base, *_ring_positions(center, np.array([r]),
                                                                             np.zeros(1), int(n)), fwhm),
                                ddof=1) for r, n in zip(radii, counts, strict=True)])
    throughput = np.zeros(radii.size)
    for branch in range(n_branches):
        angles = 360.0 * branch / n_branches + 137.5 * np.arange(radii.size)
        injected = inject_companions(sequence, radii, angles, injection_snr * noise)
        difference = _aperture_mean_map(final(injected) - base, fwhm)
        theta = np.deg2rad(angles)
        ys, xs = center[0] + radii * np.sin(theta), center[1] + radii * np.cos(theta)
        throughput += _aperture_fluxes(difference, ys, xs, fwhm) / (injection_snr * noise) / n_branches
    threshold = stats.t.ppf(stats.norm.cdf(sigma), counts - 1) * np.sqrt(1 + 1 / counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        contrast = threshold * noise / throughput / star
    return pd.DataFrame({"separation_px": radii, "separation_fwhm": radii / fwhm,
                         "separation_arcsec": radii * sequence.pixel_scale, "noise": noise,
                         "throughput": throughput, "contrast": contrast})
