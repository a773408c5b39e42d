"""Fake-companion injection and SODINN's per-annulus flux calibration.

Geometry (VIP's ``cube_inject_companions``; the convention of :mod:`qusi_lab.imaging.baselines`): a
companion at sky position angle ``pa`` (degrees, counter-clockwise from +x, y the row index) and
separation ``r`` px sits in frame ``k`` at ``pa - angles[k]``, so that :func:`baselines.derotate` aligns it.

Flux calibration follows SODINN (Gomez Gonzalez, Absil & Van Droogenbroeck 2018, A&A 613, A71, sect. 3.1):
per annulus, the fluxes that give an annular PCA-ADI S/N (Mawet et al. 2014, ApJ 792, 97) in a chosen
range (1-3 there), found by injecting test companions and interpolating S/N against flux (S/N is close to
linear in flux).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence as SequenceType
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.baselines import pca_adi, snr
from qusi_lab.imaging.sequence import AdiSequence

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["calibrate_flux", "fourier_shift", "inject_companions", "sample_fluxes"]

Values = float | SequenceType[float] | np.ndarray  # one value per companion (or one for all)
_PAD = 3  # zero border around the PSF stamp: room for the sub-pixel shift, so no flux wraps around


def _as_list(value: Values, name: str) -> list[float]:
    values = [float(v) for v in np.atleast_1d(np.asarray(value, dtype=np.float64))]
    if not values:
        raise ImagingError(f"{name}: empty companion list")
    if not all(math.isfinite(v) for v in values):
        raise ImagingError(f"{name} must be finite, got {values}")
    return values



def fourier_shift(image: np.ndarray, dy: Any, dx: Any) -> np.ndarray:
    """``image`` moved by ``(dy, dx)`` pixels along its last two axes with a Fourier phase ramp.

    Periodic (what leaves one edge comes back at the other: pad a stamp first) and unitary: it keeps the
    zero-frequency term (the sum) and, on noise, the variance. ``dy`` and ``dx`` broadcast against the
    leading axes (arrays of shape ``(k, 1, 1)`` give ``k`` shifted copies).

    >>> image = np.zeros((5, 5)); image[2, 2] = 1.0
    >>> moved = fourier_shift(image, 1.0, -2.0)
    >>> np.unravel_index(np.argmax(moved), moved.shape), round(float(moved.sum()), 12)
    ((np.int64(3), np.int64(0)), 1.0)
    """
    m, n = image.shape[-2:]
    ramp = np.exp(-2j * np.pi * (np.fft.fftfreq(m)[:, None] * dy + np.fft.fftfreq(n)[None, :] * dx))
    return np.fft.ifft2(np.fft.fft2(image, axes=(-2, -1)) * ramp, axes=(-2, -1)).real


def _shifted_stamps(psf: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """``psf`` shifted by sub-pixel ``(dy[k], dx[k])``: :func:`fourier_shift` of a zero-padded stamp.

    Fourier shifting keeps the zero-frequency term, so each stamp sums to ``psf.sum()`` to rounding.
    """
    return fourier_shift(np.pad(psf, _PAD)[None], dy[:, None, None], dx[:, None, None])


def inject_companions(sequence: AdiSequence, separation: Values, position_angle: Values, flux: Values, *,
                      psf: np.ndarray | None = None) -> AdiSequence:
    """A new sequence with ``flux * psf`` companions added (``sequence`` is left untouched).

    Parameters
    ----------
    separation:
        Separation(s) from ``sequence.center`` in px; must keep the companion centre in the frame
        (at most the radius of the disk inscribed in the frame).
    position_angle:
        Sky position angle(s) in degrees (counter-clockwise from +x); broadcast against ``separation``.
    flux:
        Flux scale(s) of the PSF template (the PSF is normalised to unit flux in a FWHM aperture, so
        this is the companion's aperture flux); ``>= 0``.
    psf:
        Template to inject (default ``sequence.psf``), odd-sized.

    Returns
    -------
    AdiSequence
        A copy with the companions added to every frame (sub-pixel Fourier shift; the injected total
        equals ``flux * psf.sum()`` unless the frame edge cuts the stamp) and
        ``meta["injections"]`` extended by one dict per companion.

    Examples
    --------
    >>> cube = np.zeros((3, 21, 21)); psf = np.ones((3, 3)) / 9
    >>> seq = AdiSequence(cube, np.array([0.0, 10.0, 20.0]), psf, 0.01, 3.0)
    >>> out = inject_companions(seq, 6.0, 45.0, 2.0)
    >>> [round(float(frame.sum()), 9) for frame in out.cube], float(seq.cube.sum())
    ([2.0, 2.0, 2.0], 0.0)
    >>> out.meta["injections"]
    [{'separation_px': 6.0, 'position_angle_deg': 45.0, 'flux': 2.0}]
    """
    template = np.asarray(sequence.psf if psf is None else psf, dtype=np.float64)
    if template.ndim != 2 or template.shape[0] % 2 == 0 or template.shape[1] % 2 == 0:
        raise ImagingError(f"the PSF template must be a 2-D odd-sized array, got shape {template.shape}",
                           path=sequence.path)
    try:
        seps, pas, fluxes = np.broadcast_arrays(_as_list(separation, "separation"),
                                                _as_list(position_angle, "position_angle"),
                                                _as_list(flux, "flux"))
    except ValueError as error:
        raise ImagingError(f"separation, position_angle and flux lengths do not match: {error}") from error
    center = sequence.star_position
    ny, nx = sequence.shape
    limit = min(center[0], center[1], ny - 1 - center[0], nx - 1 - center[1])
    if (seps < 0).any() or (seps > limit).any():
        raise ImagingError(f"separations must lie in [0, {limit:.1f}] px (inside the frame), got {list(seps)}",
                           path=sequence.path)
    if (fluxes < 0).any():
        raise ImagingError(f"fluxes must be >= 0, got {list(fluxes)}", path=sequence.path)

    cube = sequence.cube.copy()
    hy, hx = template.shape[0] // 2 + _PAD, template.shape[1] // 2 + _PAD
    for r, pa, f in zip(seps, pas, fluxes, strict=True):
        phi = np.deg2rad(pa - sequence.angles)  # frame k sees the sky turned by -angles[k]
        y, x = center[0] + r * np.sin(phi), center[1] + r * np.cos(phi)
        iy, ix = np.rint(y).astype(np.int64), np.rint(x).astype(np.int64)
        stamps = f * _shifted_stamps(template, y - iy, x - ix)
        for k in range(sequence.n_frames):
            y0, x0 = iy[k] - hy, ix[k] - hx
            ys = slice(max(y0, 0), min(y0 + stamps.shape[1], ny))
            xs = slice(max(x0, 0), min(x0 + stamps.shape[2], nx))
            cube[k, ys, xs] += stamps[k, ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    meta = copy.deepcopy(sequence.meta)
    meta["injections"] = list(meta.get("injections", [])) + [
        {"separation_px": float(r), "position_angle_deg": float(pa), "flux": float(f)}
        for r, pa, f in zip(seps, pas, fluxes, strict=True)]
    return AdiSequence(cube, sequence.angles.copy(), sequence.psf.copy(), sequence.pixel_scale,
                       sequence.fwhm, center=center, path=sequence.path, meta=meta)


def calibrate_flux(sequence: AdiSequence, separations: SequenceType[float],
                   snr_range: tuple[float, float] = (1.0, 3.0), *, n_components: int = 5,
                   mode: Literal["full", "annular"] = "annular", annulus_width: float | None = None,
                   n_branches: int = 4) -> pd.DataFrame:
    """Per separation, the flux range whose PCA-ADI S/N falls in ``snr_range`` (SODINN's calibration).

    For each of ``n_branches`` position angles (spread evenly, separations placed 137.5 deg apart on a
    spiral so that test companions do not touch) companions are injected at a first flux level set from
    the final frame's noise, then at two levels rescaled to bracket ``snr_range``; the Mawet
    S/N (:func:`baselines.snr`, at the injected position, in the PCA-ADI final frame) is fitted per
    separation by least squares ``snr = slope * flux`` (S/N is close to linear in flux: SODINN,
    sect. 3.1; through the origin, as the background S/N averages to zero over position angles) and
    inverted at the ends of ``snr_range``. Noise: the pixel standard deviation
    on the annulus times the square root of the FWHM-aperture area. Cost: ``1 + 3 * n_branches`` PCA-ADI runs.

    Returns
    -------
    pandas.DataFrame
        ``separation``, ``flux_low``, ``flux_high`` (0 when ``snr_range[0] <= 0``), ``slope`` (S/N per
        unit flux), ``scatter`` (rms S/N about the fit: position-to-position spread), ``noise``
        (aperture noise of the final frame without injection).

    Examples
    --------
    >>> from qusi_lab.imaging.synthetic import make_adi_sequence
    >>> seq = make_adi_sequence(n_frames=30, size=61, seed=1)
    >>> table = calibrate_flux(seq, [10.0, 16.0], n_branches=2)
    >>> bool((table.flux_high > table.flux_low).all())
    True
    """
    import pandas as pd

    radii = np.asarray(_as_list(separations, "separations"))
    low, high = (float(v) for v in snr_range)
    if not low < high:
        raise ImagingError(f"snr_range must be (low, high) with low < high, got {snr_range}")
    if n_branches < 1:
        raise ImagingError(f"n_branches must be >= 1, got {n_branches}")
    fwhm, center = float(sequence.fwhm), sequence.star_position
    limit = min(sequence.shape) / 2.0 - fwhm
    if radii.min() < fwhm or radii.max() > limit:
        raise ImagingError(f"separations must lie in [{fwhm:.1f}, {limit:.1f}] px (one FWHM from the centre "
                           f"and the edge), got {list(radii)}", path=sequence.path)

    def final(s: AdiSequence) -> np.ndarray:
        return pca_adi(s, n_components, mode=mode, annulus_width=annulus_width)

    base = final(sequence)
    yy, xx = np.indices(base.shape)
    radius = np.hypot(yy - center[0], xx - center[1])
    noise = np.empty(radii.size)
    for i, r in enumerate(radii):  # noise per annulus: pixel std times sqrt(aperture pixels)
        ring = base[np.abs(radius - r) <= fwhm / 2]
        noise[i] = np.nanstd(ring) * math.sqrt(math.pi * fwhm**2 / 4)
    mid = 0.5 * (low + high)

    def measure(level: np.ndarray) -> list[list[tuple[float, float]]]:
        found: list[list[tuple[float, float]]] = [[] for _ in radii]
        for branch in range(n_branches):
            pas = 360.0 * branch / n_branches + 137.5 * np.arange(radii.size)
            out = final(inject_companions(sequence, radii, pas, level))
            for i, (r, pa) in enumerate(zip(radii, pas, strict=True)):
                phi = math.radians(pa)
                value = snr(out, (center[0] + r * math.sin(phi), center[1] + r * math.cos(phi)), fwhm,
                            center=center)
                if math.isfinite(value):
                    found[i].append((float(level[i]), value))
        return found

    # S/N bends over at high flux (the companion leaks into the principal components): a first pass
    # (throughput guessed 0.5) rescales the flux through the origin; the fit then uses two levels
    # bracketing snr_range, where the linear approximation holds.
    first = mid * noise / 0.5
    seen = measure(first)
    guess = np.array([np.mean([v for _, v in found]) if found else mid for found in seen])
    scale = first / np.clip(guess, 0.25 * mid, None) * mid
    records = [a + b for a, b in zip(measure(scale * low / mid), measure(scale * high / mid), strict=True)]
    rows = []
    for i, r in enumerate(radii):
        if len({f for f, _ in records[i]}) < 2:
            raise ImagingError(f"no finite S/N at separation {r:.1f} px", path=sequence.path)
        f, s = np.array(records[i]).T
        # through the origin: the background S/N averages to 0 over position angles, while a free
        # intercept fitted on a few branches learns those branches' local noise
        slope = float((f * s).sum() / (f * f).sum())
        if slope <= 0:
            raise ImagingError(f"S/N does not grow with flux at separation {r:.1f} px", path=sequence.path)
        rows.append({"separation": float(r), "flux_low": low / slope if low > 0 else 0.0,
                     "flux_high": high / slope, "slope": slope,
                     "scatter": float(np.std(s - slope * f, ddof=1)), "noise": float(noise[i])})
    return pd.DataFrame(rows)


def sample_fluxes(calibration: pd.DataFrame, separation: float, rng: np.random.Generator, n: int, *,
                  log: bool = False) -> np.ndarray:
    """``n`` fluxes drawn in the calibrated range at ``separation`` (interpolated between rows).

    Between two calibrated separations the range is interpolated in log flux (linearly when a flux is 0):
    near the star the calibrated flux falls by an order of magnitude in half a FWHM, and a linear
    interpolation would put companions between the rows far above the S/N range.
    Uniform in flux by default (S/N is about linear in flux, so the S/N is then about uniform in
    ``snr_range``, as in SODINN); ``log=True`` draws log-uniformly (needs ``flux_low > 0``).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"separation": [5.0, 10.0], "flux_low": [1.0, 2.0], "flux_high": [3.0, 6.0]})
    >>> values = sample_fluxes(table, 7.5, np.random.default_rng(0), 100)
    >>> bool(values.min() >= 2 ** 0.5 and values.max() <= 18 ** 0.5)  # the geometric means of the rows
    True
    """
    seps = calibration["separation"].to_numpy(dtype=np.float64)
    order = np.argsort(seps)
    if not seps[order[0]] <= separation <= seps[order[-1]]:
        raise ImagingError(f"separation {separation} px outside the calibrated range "
                           f"[{seps.min():.1f}, {seps.max():.1f}]")
    if n < 0:
        raise ImagingError(f"n must be >= 0, got {n}")
    def between(column: str) -> float:
        values = calibration[column].to_numpy(dtype=np.float64)[order]
        if (values > 0).all():
            return float(np.exp(np.interp(separation, seps[order], np.log(values))))
        return float(np.interp(separation, seps[order], values))

    lo, hi = between("flux_low"), between("flux_high")
    if log:
        if lo <= 0:
            raise ImagingError("log-uniform sampling needs flux_low > 0")
        return np.exp(rng.uniform(math.log(lo), math.log(hi), n))
    return rng.uniform(lo, hi, n)
