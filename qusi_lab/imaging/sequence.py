"""An angular-differential-imaging (ADI) sequence: frames, parallactic angles, PSF template and optics.

:class:`AdiSequence` holds one sequence and checks it on construction (cheap checks only: shapes, finite
values, angle units, PSF); :meth:`AdiSequence.check_centering` measures where the star is (heavier, run by
:func:`read_fits`). :func:`read_fits` / :func:`write_fits` read and write the layouts VIP and the Exoplanet
Imaging Data Challenge (EIDC) ship: a 3-D cube with separate ``pa`` / ``psf`` / ``pxscale`` files, or one
file with ``ANGLES`` and ``PSF`` extensions.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import InitVar, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from qusi_lab.errors import ImagingError
from qusi_lab.training.checkpoints import atomic_write

__all__ = ["AdiSequence", "read_fits", "write_fits"]

_TWO_PI = 2.0 * math.pi
_DEGREE_UNITS = {"deg", "degree", "degrees"}


def _indices(indices: Iterable[int], first: int = 5) -> str:
    listed = [int(i) for i in indices]
    more = f" (and {len(listed) - first} more)" if len(listed) > first else ""
    return ", ".join(str(i) for i in listed[:first]) + more


def _check_angles(angles: np.ndarray, meta: dict[str, Any], path: str | None) -> None:
    bad = np.flatnonzero(~np.isfinite(angles))
    if bad.size:
        raise ImagingError(f"non-finite parallactic angles at frames {_indices(bad)}", path=path)
    # Radians by mistake: every |angle| <= 2 pi yet a rotation worth using (> 0.1 rad, 5.7 deg). Degrees that
    # hug 0 (a short sequence through the meridian) look alike; they declare themselves with angle_unit.
    span = float(np.ptp(angles))
    if (str(meta.get("angle_unit", "")).lower() not in _DEGREE_UNITS
            and np.abs(angles).max() <= _TWO_PI + 1e-9 and span > 0.1):
        raise ImagingError(
            f"angles look like radians (span {span:.2f}, all within +-2 pi); pass degrees (np.degrees), or "
            f"meta={{'angle_unit': 'deg'}} if they are degrees", path=path)


def _check_psf(psf: np.ndarray, fwhm: float, shape: tuple[int, int], path: str | None) -> None:
    if psf.ndim != 2:
        raise ImagingError(f"the PSF must be 2-D, got shape {psf.shape}", path=path)
    if psf.shape[0] % 2 == 0 or psf.shape[1] % 2 == 0:
        raise ImagingError(f"the PSF is {psf.shape[0]}x{psf.shape[1]}: an odd size is needed (peak on the "
                           "centre pixel); crop one row/column so the peak is central", path=path)
    if psf.shape[0] > shape[0] or psf.shape[1] > shape[1]:
        raise ImagingError(f"the PSF ({psf.shape[0]}x{psf.shape[1]}) is larger than a frame "
                           f"({shape[0]}x{shape[1]}); crop it around its peak", path=path)
    if not np.isfinite(psf).all():
        raise ImagingError(f"the PSF has {int((~np.isfinite(psf)).sum())} non-finite pixels", path=path)
    middle = (psf.shape[0] // 2, psf.shape[1] // 2)
    peak = tuple(int(i) for i in np.unravel_index(np.argmax(psf), psf.shape))
    # a sub-pixel offset may put the brightest pixel next to the centre: tolerate one pixel
    if psf[middle] <= 0 or (psf[middle] < psf[peak] and max(abs(peak[0] - middle[0]),
                                                            abs(peak[1] - middle[1])) > 1):
        raise ImagingError(f"the PSF peaks at {peak}, not at its centre {middle}; recentre it "
                           "(e.g. scipy.ndimage.shift)", path=path)
    if fwhm > max(psf.shape):
        raise ImagingError(f"fwhm {fwhm:g} px is wider than the PSF template ({psf.shape[0]}x{psf.shape[1]});"
                           " is it in arcseconds or mas instead of pixels?", path=path)


@dataclass(eq=False)
class AdiSequence:
    """An ADI sequence: ``cube`` (frames x y x x), ``angles`` (degrees, one per frame), ``psf`` and optics.

    Construction checks shapes, finite values, the angle unit and the PSF and raises
    :class:`~qusi_lab.errors.ImagingError` naming ``path`` and the problem. ``validate=False`` keeps only
    the shape checks (for sequences built in bulk from a checked one, e.g. with injected companions).

    Attributes
    ----------
    cube:
        Frames, float64, shape ``(n_frames, ny, nx)``; the star near ``center``. Every pixel finite.
    angles:
        Parallactic angle of each frame in degrees. Derotating frame ``k`` by ``-angles[k]`` aligns the sky
        (north up) across the sequence (VIP's convention). Angles all within +-2 pi that span > 0.1 look like
        radians and are refused unless ``meta["angle_unit"] == "deg"``.
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

    Example
    -------
    >>> cube = np.ones((3, 9, 9)); psf = np.zeros((3, 3)); psf[1, 1] = 1.0
    >>> AdiSequence(cube, [0.0, 10.0, 20.0], psf, 0.0125, 2.0).center
    (4.0, 4.0)
    >>> AdiSequence(cube, [0.0, 0.3, 0.6], psf, 0.0125, 2.0, path="b.fits")
    Traceback (most recent call last):
    ...
    qusi_lab.errors.ImagingError: b.fits: angles look like radians (span 0.60, ...
    """

    cube: np.ndarray
    angles: np.ndarray
    psf: np.ndarray
    pixel_scale: float
    fwhm: float
    center: tuple[float, float] | None = None
    path: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    validate: InitVar[bool] = True

    def __post_init__(self, validate: bool = True) -> None:
        self.cube = np.asarray(self.cube, dtype=np.float64)
        self.angles = np.asarray(self.angles, dtype=np.float64)
        self.psf = np.asarray(self.psf, dtype=np.float64)
        path = self.path
        if self.cube.ndim != 3:
            raise ImagingError(f"the cube must be 3-D (frames, y, x), got shape {self.cube.shape}", path=path)
        if self.angles.shape != (self.cube.shape[0],):
            raise ImagingError(f"{self.cube.shape[0]} frames but {self.angles.size} parallactic angles"
                               + ("" if self.angles.ndim == 1 else f" (shape {self.angles.shape})"), path=path)
        if self.cube.shape[0] < 2:
            raise ImagingError(f"{self.cube.shape[0]} frame(s): ADI needs at least 2", path=path)
        for name, value in (("pixel_scale", self.pixel_scale), ("fwhm", self.fwhm)):
            if not (isinstance(value, int | float | np.number) and math.isfinite(value) and value > 0):
                raise ImagingError(f"{name} must be a positive number, got {value!r}", path=path)
        if self.center is None:
            self.center = ((self.cube.shape[-2] - 1) / 2.0, (self.cube.shape[-1] - 1) / 2.0)
        cy, cx = (float(c) for c in self.center)
        if not (0 <= cy <= self.shape[0] - 1 and 0 <= cx <= self.shape[1] - 1):
            raise ImagingError(f"center (y, x) = ({cy:g}, {cx:g}) is outside the {self.shape[0]}x"
                               f"{self.shape[1]} frame", path=path)
        self.center = (cy, cx)
        if not validate:
            return
        finite = np.isfinite(self.cube).all(axis=(1, 2))
        if not finite.all():
            bad = np.flatnonzero(~finite)
            if bad.size == self.n_frames:
                raise ImagingError("every frame has non-finite (NaN/inf) pixels, perhaps a NaN mask outside "
                                   "the field; replace them first (np.nan_to_num)", path=path)
            raise ImagingError(
                f"frames {_indices(bad)} have non-finite (NaN/inf) pixels; drop them: "
                "read_fits(..., drop_bad_frames=True), or keep = np.isfinite(cube).all(axis=(1, 2)) and "
                "AdiSequence(cube[keep], angles[keep], ...)", path=path)
        _check_angles(self.angles, self.meta, path)
        _check_psf(self.psf, float(self.fwhm), self.shape, path)

    @property
    def star_position(self) -> tuple[float, float]:
        """``(y, x)`` of the star: :attr:`center`, which construction always sets (the frame centre by default)."""
        if self.center is None:  # only if someone set it to None afterwards
            return ((self.shape[0] - 1) / 2.0, (self.shape[1] - 1) / 2.0)
        return (float(self.center[0]), float(self.center[1]))

    @property
    def n_frames(self) -> int:
        return int(self.cube.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of one frame."""
        return (int(self.cube.shape[1]), int(self.cube.shape[2]))

    def drop_frames(self, indices: Iterable[int]) -> AdiSequence:
        """A copy without frames ``indices`` (and their angles); ``meta["dropped_frames"]`` lists them.

        >>> psf = np.zeros((3, 3)); psf[1, 1] = 1.0
        >>> seq = AdiSequence(np.ones((4, 9, 9)), [0.0, 10.0, 20.0, 30.0], psf, 0.01, 2.0)
        >>> seq.drop_frames([1]).angles.tolist()
        [0.0, 20.0, 30.0]
        """
        drop = sorted({int(i) % self.n_frames for i in indices})
        keep = np.setdiff1d(np.arange(self.n_frames), drop)
        meta = {**self.meta, "dropped_frames": [*self.meta.get("dropped_frames", []), *drop]}
        return replace(self, cube=self.cube[keep], angles=self.angles[keep], meta=meta)

    def measure_center(self) -> tuple[float, float] | None:
        """Where the star is in the median frame, ``(y, x)``; ``None`` if no halo stands out of the noise.

        When the core stands out (no coronagraph: its peak within 1 FWHM is over 20 times the mean light
        1-4 FWHM around it), a quadratic fit to the 5 x 5 pixels around that peak (photutils'
        ``centroid_quadratic``): bright pupil-fixed speckles do not pull it, as they pull a halo centroid
        (by 0.3-1 px on ``make_empirical_sequence`` cubes centred to 0.1 px). Otherwise the centroid of the
        background-subtracted light in an annulus from 1 to 4 FWHM around the current estimate,
        re-centred until it settles (a window centred on a symmetric halo is its own centroid); the
        annulus skips the core, which coronagraphs leave dark, saturated or with an off-centre leak.
        """
        image, (ny, nx) = np.median(self.cube, axis=0), self.shape  # companions move, the halo stays
        yy, xx = np.indices((ny, nx), dtype=np.float64)
        cy, cx = self.star_position
        inner = float(self.fwhm)
        outer = max(min(4.0 * inner, cy, cx, ny - 1 - cy, nx - 1 - cx), inner + 2.0)
        far = np.hypot(yy - cy, xx - cx) > outer
        reference = image[far] if far.sum() > 10 else image.ravel()
        background = float(np.median(reference))
        noise = 1.4826 * float(np.median(np.abs(reference - np.median(reference)))) or 1e-300
        light = image - background
        core = self._core_center(light, yy, xx, (cy, cx), inner, outer)
        if core is not None:
            return core
        for _ in range(50):
            radius = np.hypot(yy - cy, xx - cx)
            # soft edges (1 px ramps): a hard edge lets pixels jump in and out, biasing the centroid
            ring = np.clip(outer + 0.5 - radius, 0.0, 1.0) * np.clip(radius - inner + 0.5, 0.0, 1.0)
            if (light * ring).sum() < 5.0 * noise * math.sqrt((ring > 0).sum()):
                return None  # nothing significant: noise-only cube or the star already subtracted
            weight = np.clip(light, 0.0, None) * ring
            new = (float((weight * yy).sum() / weight.sum()), float((weight * xx).sum() / weight.sum()))
            moved = math.hypot(new[0] - cy, new[1] - cx)
            cy, cx = new
            if moved < 1e-3:
                break
        return (cy, cx)

    @staticmethod
    def _core_center(light: np.ndarray, yy: np.ndarray, xx: np.ndarray, start: tuple[float, float], fwhm: float,
                     outer: float) -> tuple[float, float] | None:
        """The core's centre by a quadratic fit at its peak, or None when there is no clear core."""
        from photutils.centroids import centroid_quadratic

        near = np.hypot(yy - start[0], xx - start[1]) <= fwhm
        if not near.any():
            return None
        peak = int(np.flatnonzero(near.ravel())[np.argmax(light[near])])
        py, px = divmod(peak, light.shape[1])
        # a core is a peak far above everything 1-4 FWHM around it (an Airy ring is 2 % of the peak, an AO
        # halo less); the bright rim of a coronagraph's dark hole is not
        around = np.hypot(yy - py, xx - px)
        ring = (around >= fwhm) & (around <= outer)
        halo = float(np.mean(np.clip(light[ring], 0.0, None))) if ring.any() else 0.0
        if halo <= 0 or not light[py, px] > 20.0 * halo:
            return None  # a dark (coronagraphic) or drowned core: the halo tells better
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a fit at the box edge warns and returns NaN: handled below
            x, y = centroid_quadratic(light, xpeak=px, ypeak=py, fit_boxsize=5)
        if not (np.isfinite(x) and np.isfinite(y)) or math.hypot(y - py, x - px) > 1.0:
            return None
        return float(y), float(x)

    def check_centering(self, tolerance: float = 0.5) -> tuple[float, float] | None:
        """Raise :class:`~qusi_lab.errors.ImagingError` if the star is > ``tolerance`` px off ``center``.

        Why 0.5 px: derotating about a centre off by ``d`` draws a companion along a circle of radius
        ``d``, smearing it by up to ``2 d``; at 0.5 px that stays ~1 px, a quarter of a typical 4-5 px FWHM,
        and the speckle subtraction still lines up. Returns the measured centre (``None``, with a warning,
        when no halo is found and so nothing was checked).

        >>> yy, xx = np.indices((41, 41))
        >>> halo = 100.0 / (1 + ((yy - 23.0) ** 2 + (xx - 20.0) ** 2) / 9.0) ** 1.5
        >>> psf = np.zeros((5, 5)); psf[2, 2] = 1.0
        >>> AdiSequence(np.stack([halo, halo]), [0.0, 30.0], psf, 0.01, 4.0).check_centering()
        Traceback (most recent call last):
        ...
        qusi_lab.errors.ImagingError: the star is at (y, x) = (23.00, 20.00), 3.00 px from center (20, 20) ...
        """
        measured = self.measure_center()
        if measured is None:
            warnings.warn(f"{self.path or 'sequence'}: no stellar halo stands out near the centre; "
                          "centring not checked", stacklevel=2)
            return None
        cy, cx = self.star_position
        off = math.hypot(measured[0] - cy, measured[1] - cx)
        if off > tolerance:
            raise ImagingError(
                f"the star is at (y, x) = ({measured[0]:.2f}, {measured[1]:.2f}), {off:.2f} px from center "
                f"({cy:g}, {cx:g}) (tolerance {tolerance:g} px); pass center="
                "the measured position, recentre the cube, or skip the check (check_center=False)",
                path=self.path)
        return measured

    def plot(self, frame: Literal["median"] | int = "median", ax: Any = None) -> Any:
        """Show the median frame (or frame ``frame``) with a log stretch, the centre and the FWHM marked.

        >>> import matplotlib; matplotlib.use("Agg")
        >>> psf = np.zeros((3, 3)); psf[1, 1] = 1.0
        >>> ax = AdiSequence(np.ones((2, 9, 9)), [0.0, 10.0], psf, 0.01, 2.0).plot()
        """
        import matplotlib.pyplot as plt
        from matplotlib.colors import SymLogNorm
        from matplotlib.patches import Circle

        if frame == "median":
            image, title = np.median(self.cube, axis=0), f"median of {self.n_frames} frames"
        elif isinstance(frame, int | np.integer) and -self.n_frames <= frame < self.n_frames:
            image, title = self.cube[frame], f"frame {int(frame)} (angle {self.angles[frame]:.1f} deg)"
        else:
            raise ValueError(f"frame must be 'median' or an index below {self.n_frames}, not {frame!r}")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 5))
        # symmetric log: residual frames go negative; linear within the noise, logarithmic above it
        noise = float(np.median(np.abs(image - np.median(image)))) * 1.4826
        scale = max(noise, 1e-3 * float(np.abs(image).max()), 1e-12)
        mapped = ax.imshow(image, origin="lower", cmap="inferno", norm=SymLogNorm(linthresh=scale))
        cy, cx = self.star_position
        ax.plot(cx, cy, marker="+", color="cyan", markersize=10)
        ax.add_patch(Circle((cx, cy), self.fwhm / 2.0, fill=False, color="cyan",
                            label=f"FWHM {self.fwhm:.2f} px"))
        ax.figure.colorbar(mapped, ax=ax, fraction=0.046)
        ax.set(title=title if self.path is None else f"{Path(self.path).name}: {title}", xlabel="x [px]",
               ylabel="y [px]")
        return ax


# ------------------------------------------------------------------------------------------------ FITS
def _read_hdus(path: Path) -> list[tuple[str, np.ndarray | None, Any]]:
    """``(EXTNAME, data, header)`` of every HDU, read fully (no memmap: the file may go away)."""
    from astropy.io import fits

    if not path.is_file():
        raise ImagingError("no such file", path=path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        failure: Exception | None = None
        try:
            with fits.open(path, memmap=False) as hdus:
                out = [(str(h.name).upper(), None if h.data is None else np.array(h.data), h.header.copy())
                       for h in hdus]
        except Exception as error:  # astropy raises OSError, ValueError, TypeError... on broken files
            failure = error
    # astropy warns about a truncated file, then fails reshaping its short data (or returns it)
    truncated = [w.message for w in caught if re.search(r"truncat|corrupt", str(w.message), re.IGNORECASE)]
    if truncated:
        raise ImagingError(f"the file is truncated or corrupt ({truncated[0]})", path=path) from failure
    if failure is not None:
        raise ImagingError(f"cannot read it as FITS ({failure})", path=path) from failure
    if not any(data is not None for _, data, _ in out):
        raise ImagingError("no image data in any HDU (empty file?)", path=path)
    return out


def _first_data(path: Path) -> tuple[np.ndarray, Any]:
    hdu = next(h for h in _read_hdus(path) if h[1] is not None)
    return np.asarray(hdu[1], dtype=np.float64), hdu[2]


def _sibling(cube_path: Path, *words: str) -> Path | None:
    """EIDC/VIP neighbours: ``sphere_cube_1.fits`` -> ``sphere_pa_1.fits``, ``sphere_psf_1.fits`` ..."""
    if "cube" in cube_path.name:
        for word in words:
            if (candidate := cube_path.with_name(word.join(cube_path.name.rsplit("cube", 1)))).is_file():
                return candidate
    return None


def _pick_channel(data: np.ndarray, channel: int | None, ndim: int, what: str, path: str) -> np.ndarray:
    """Squeeze a singleton wavelength axis in front; a real one needs ``channel=``."""
    if data.ndim == ndim + 1:
        if channel is not None:
            if not -data.shape[0] <= channel < data.shape[0]:
                raise ImagingError(f"channel={channel} but the {what} has {data.shape[0]} channels", path=path)
            return data[channel]
        if data.shape[0] == 1:
            return data[0]
        raise ImagingError(f"the {what} has {data.shape[0]} wavelength channels (shape {data.shape}); pick "
                           f"one with channel=0..{data.shape[0] - 1}", path=path)
    return data


def _header_value(headers: Iterable[Any], *keys: str) -> float | None:
    for header in headers:
        for key in keys:
            if key in header:
                with contextlib.suppress(TypeError, ValueError):
                    return float(header[key])
    return None


def read_fits(cube_path: str | os.PathLike[str], angles_path: str | os.PathLike[str] | None = None,
              psf_path: str | os.PathLike[str] | None = None, *,
              pixel_scale: float | str | os.PathLike[str] | None = None, fwhm: float | None = None,
              center: tuple[float, float] | None = None, channel: int | None = None,
              check_center: bool = True, drop_bad_frames: bool = False) -> AdiSequence:
    """Read an ADI sequence as VIP and the EIDC ship it; errors name the file and the problem.

    The cube is the primary HDU (3-D; a 4-D ``(channels, frames, y, x)`` cube needs ``channel=`` unless
    it has one channel). Angles (degrees) and PSF come from ``angles_path`` / ``psf_path``, else from the
    cube file's ``ANGLES`` / ``PSF`` extensions, else from the neighbours named like the cube with ``cube``
    replaced by ``pa`` / ``angles`` / ``psf``. ``pixel_scale`` (arcsec/px) is a number or a one-value
    FITS file (EIDC's ``pxscale``); by default the ``pxscale`` neighbour, else the header's ``PIXSCAL`` /
    ``PIXSCALE`` (values > 1 are taken as mas/px). ``fwhm`` defaults to the header's ``FWHM``, else a
    2-D Gaussian fit to the PSF (``meta["fwhm_source"]`` says which). ``center`` defaults to the header's
    ``CENTY`` / ``CENTX`` (0-based), else the frame centre. ``check_center`` runs
    :meth:`AdiSequence.check_centering`; ``drop_bad_frames`` drops frames with NaN/inf pixels.

    >>> import tempfile
    >>> psf = np.zeros((3, 3)); psf[1, 1] = 1.0
    >>> sequence = AdiSequence(np.ones((2, 9, 9)), [0.0, 30.0], psf, 0.0125, 2.0)
    >>> cube_file = write_fits(sequence, tempfile.mkdtemp() + "/star")
    >>> cube_file.name, read_fits(cube_file, check_center=False).angles.tolist()
    ('star_cube.fits', [0.0, 30.0])
    """
    path = Path(cube_path)
    hdus = _read_hdus(path)
    cube_hdu = next((h for h in hdus if h[1] is not None and h[0] not in ("ANGLES", "PSF")), None)
    if cube_hdu is None:
        raise ImagingError("no cube: only ANGLES/PSF extensions hold data", path=path)
    cube, header = np.asarray(cube_hdu[1], dtype=np.float64), cube_hdu[2]
    cube = _pick_channel(cube, channel, 3, "cube", str(path))
    if cube.ndim != 3:
        raise ImagingError(f"the cube HDU is {cube.ndim}-D (shape {cube.shape}); an ADI cube is 3-D "
                           "(frames, y, x)", path=path)
    extensions = {name: (data, head) for name, data, head in hdus if data is not None}

    def part(given: str | os.PathLike[str] | None, hdu: str, words: tuple[str, ...]) -> tuple[np.ndarray, Any, str]:
        if given is not None:
            return (*_first_data(Path(given)), str(given))
        if hdu in extensions:
            return (np.asarray(extensions[hdu][0], dtype=np.float64), extensions[hdu][1], f"{path}[{hdu}]")
        neighbour = _sibling(path, *words)
        if neighbour is None:
            raise ImagingError(f"no {words[0]} found: pass {words[0].replace('pa', 'angles')}_path=, add a "
                               f"{hdu} extension, or put a '{words[0]}' file next to the cube", path=path)
        return (*_first_data(neighbour), str(neighbour))

    angles, angles_header, angles_source = part(angles_path, "ANGLES", ("pa", "angles"))
    angles = np.squeeze(angles)
    meta: dict[str, Any] = {"angles_file": angles_source}
    unit = str(angles_header.get("BUNIT", "")).strip().lower()
    if unit in ("rad", "radian", "radians"):
        angles, meta["angles_converted_from"] = np.degrees(angles), "rad"
    elif unit in _DEGREE_UNITS:
        meta["angle_unit"] = "deg"
    if angles.ndim != 1 or angles.size != cube.shape[0]:
        raise ImagingError(f"{cube.shape[0]} frames in {path.name} but {angles.size} parallactic angles"
                           + ("" if angles.ndim == 1 else f" (shape {angles.shape})"), path=angles_source)
    _check_angles(angles, meta, angles_source)
    psf, psf_header, psf_source = part(psf_path, "PSF", ("psf",))
    psf = _pick_channel(psf, channel if psf.ndim == 3 and psf.shape[0] > 1 else None, 2, "PSF", psf_source)
    meta["psf_file"] = psf_source

    if isinstance(pixel_scale, str | os.PathLike):  # EIDC's pxscale file: one value
        pixel_scale = float(np.ravel(_first_data(Path(pixel_scale))[0])[0])
    if pixel_scale is None and (neighbour := _sibling(path, "pxscale", "pixscale")) is not None:
        pixel_scale = float(np.ravel(_first_data(neighbour)[0])[0])
    if pixel_scale is None:
        pixel_scale = _header_value([header, psf_header], "PIXSCAL", "PIXSCALE")
        if pixel_scale is not None and pixel_scale > 1.0:  # no high-contrast imager has >= 1"/px: mas
            pixel_scale, meta["pixel_scale_converted_from"] = pixel_scale / 1000.0, "mas"
    if pixel_scale is None:
        raise ImagingError("no pixel scale: pass pixel_scale= (arcsec/px) or add PIXSCAL to the header",
                           path=path)
    if fwhm is not None:
        meta["fwhm_source"] = "argument"
    elif (fwhm := _header_value([header, psf_header], "FWHM")) is not None:
        meta["fwhm_source"] = "header FWHM"
    else:
        fwhm, meta["fwhm_source"] = estimate_fwhm(psf, psf_source), "2-D Gaussian fit to the PSF"
    if center is None and "CENTY" in header and "CENTX" in header:
        center = (float(header["CENTY"]), float(header["CENTX"]))
    _check_psf(psf, float(fwhm), (cube.shape[1], cube.shape[2]), psf_source)
    sequence = AdiSequence(cube, angles, psf, float(pixel_scale), float(fwhm), center=center, path=str(path),
                           meta=meta, validate=False)
    bad = np.flatnonzero(~np.isfinite(cube).all(axis=(1, 2)))
    if drop_bad_frames and 0 < bad.size < len(cube):
        sequence = sequence.drop_frames(bad)  # validates what is left
    else:
        sequence = replace(sequence)  # validates
    if check_center:
        sequence.check_centering()
    return sequence


def estimate_fwhm(psf: np.ndarray, path: str | None = None) -> float:
    """FWHM (px) of a centred PSF: a circular 2-D Gaussian + constant fit (half-max area if it fails).

    >>> yy, xx = np.indices((15, 15)) - 7
    >>> round(estimate_fwhm(np.exp(-(yy**2 + xx**2) / (2 * 1.7**2))), 2)
    4.0
    """
    from scipy.optimize import curve_fit

    psf = np.asarray(psf, dtype=np.float64)
    yy, xx = np.indices(psf.shape, dtype=np.float64)
    peak = float(psf.max())

    def gaussian(_: Any, amplitude: float, y0: float, x0: float, sigma: float, offset: float) -> np.ndarray:
        return (amplitude * np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / (2 * sigma**2)) + offset).ravel()

    if not peak > 0:
        raise ImagingError("cannot estimate the FWHM from the PSF (no positive peak); pass fwhm=", path=path)
    start = (peak, (psf.shape[0] - 1) / 2, (psf.shape[1] - 1) / 2, 1.5, 0.0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # OptimizeWarning on a perfect fit: no covariance needed here
            fwhm = 2.3548200450309493 * abs(float(curve_fit(gaussian, None, psf.ravel(), p0=start)[0][3]))
    except (RuntimeError, ValueError):  # no convergence
        fwhm = math.nan
    if math.isfinite(fwhm) and 0.5 <= fwhm <= max(psf.shape):
        return fwhm
    return 2.0 * math.sqrt(float((psf >= peak / 2.0).sum()) / math.pi)  # fallback: half-max area as a disk


def write_fits(sequence: AdiSequence, folder_or_prefix: str | os.PathLike[str], *,
               overwrite: bool = False) -> Path:
    """Write ``<prefix>_cube.fits``, ``_pa.fits`` and ``_psf.fits`` (VIP/EIDC layout); returns the cube path.

    An existing folder gets ``cube.fits``, ``pa.fits``, ``psf.fits``. Each file is written atomically
    (temporary file + :func:`os.replace`); existing files raise unless ``overwrite=True``. The cube
    header records ``PIXSCAL`` (arcsec/px), ``FWHM`` (px) and ``CENTY``/``CENTX`` (0-based), so
    :func:`read_fits` on the returned path gives the sequence back (``meta`` is not written).
    """
    from astropy.io import fits

    target = Path(folder_or_prefix)
    if target.is_dir():
        paths = {word: target / f"{word}.fits" for word in ("pa", "psf", "cube")}
    else:
        paths = {word: target.with_name(f"{target.name}_{word}.fits") for word in ("pa", "psf", "cube")}
    if not paths["cube"].parent.is_dir():
        raise ImagingError("no such folder", path=paths["cube"].parent)
    if (existing := [p for p in paths.values() if p.exists()]) and not overwrite:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise ImagingError(f"already exists{more}; pass overwrite=True to replace", path=existing[0])
    cy, cx = sequence.star_position
    header = fits.Header([("PIXSCAL", float(sequence.pixel_scale), "pixel scale [arcsec/px]"),
                          ("FWHM", float(sequence.fwhm), "PSF FWHM [px]"),
                          ("CENTY", float(cy), "star row, 0-based [px]"), ("CENTX", float(cx), "star column")])
    angles_header = fits.Header([("BUNIT", "deg", "parallactic angles")])
    # the cube last: it is the entry point, so it never points at angles/PSF from an older write
    for word, hdu in (("pa", fits.PrimaryHDU(sequence.angles, angles_header)),
                      ("psf", fits.PrimaryHDU(sequence.psf)), ("cube", fits.PrimaryHDU(sequence.cube, header))):
        try:  # atomically: readers see the old file or the new one, never half of one
            atomic_write(paths[word], fits.HDUList([hdu]).writeto)
        except OSError as error:
            cause = error.__cause__ if isinstance(error.__cause__, OSError) else error  # the system's words
            raise ImagingError(f"could not write it ({cause}); the previous file, if any, is unchanged",
                               path=paths[word]) from error
    return paths["cube"]
