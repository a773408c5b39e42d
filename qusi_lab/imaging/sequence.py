"""An angular-differential-imaging (ADI) sequence: frames, parallactic angles, PSF template and optics.

(Stub written by the lead; the sequence helper completes it: validation, FITS, plot.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["AdiSequence"]


@dataclass(eq=False)
class AdiSequence:
    """An ADI sequence: ``cube`` (frames x y x x), ``angles`` (degrees, one per frame), ``psf`` and optics.

    Attributes
    ----------
    cube:
        Frames, float64, shape ``(n_frames, ny, nx)``; the star near ``center``.
    angles:
        Parallactic angle of each frame in degrees. Derotating frame ``k`` by ``-angles[k]`` aligns the sky
        (north up) across the sequence (VIP's convention).
    psf:
        Off-axis PSF template, odd-sized, peak at its centre, normalised to unit flux in an aperture of
        diameter ``fwhm`` (VIP's ``normalize_psf`` convention).
    pixel_scale:
        Arcseconds per pixel.
    fwhm:
        Full width at half maximum of the PSF, in pixels (about lambda/D).
    center:
        ``(y, x)`` of the star in pixels; default the frame centre ``((ny - 1) / 2, (nx - 1) / 2)``.
    path:
        The file the cube came from, for messages.
    meta:
        Anything else (wavelength, instrument, the synthetic truth ...).
    """

    cube: np.ndarray
    angles: np.ndarray
    psf: np.ndarray
    pixel_scale: float
    fwhm: float
    center: tuple[float, float] | None = None
    path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cube = np.asarray(self.cube, dtype=np.float64)
        self.angles = np.asarray(self.angles, dtype=np.float64)
        self.psf = np.asarray(self.psf, dtype=np.float64)
        if self.center is None:
            self.center = ((self.cube.shape[-2] - 1) / 2.0, (self.cube.shape[-1] - 1) / 2.0)

    @property
    def n_frames(self) -> int:
        return int(self.cube.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of one frame."""
        return (int(self.cube.shape[1]), int(self.cube.shape[2]))
