"""A second, independent ADI generator: focal-plane speckles, a spider PSF and a pipeline's leftovers.

:func:`make_empirical_sequence` shares no modelling choice with
:func:`~qusi_lab.imaging.synthetic.make_adi_sequence` (pupil phase screens through an MFT, AR(1)
quasi-static aberrations, a Moffat halo, point-sampled pixels, evenly spaced frames at Paranal), so a
network trained on one can be checked on the other. Model of frame ``k`` (detector = pupil frame):

* **Instrument and site** (``instrument=``): ``"gpi_h"`` Gemini Planet Imager, H (1.65 um) at Gemini
  South, Cerro Pachon (latitude -30.2407); pupil 7.7 m (GPI's Lyot stop), secondary obstruction 0.13,
  four spider vanes; 14.161 mas/px (De Rosa et al. 2020, JATIS 6, 015006; Macintosh et al. 2014, PNAS
  111, 12661); 43 actuators across the pupil, so the AO control radius is ~21 lambda/D (outside a
  101-px frame). ``"nirc2_lp"`` Keck II NIRC2, L' (3.776 um) at Maunakea (latitude 19.8263): a hexagonal
  pupil 10.95 m across its corners, obstruction 0.24, six vanes; 9.971 mas/px (Service et al. 2016,
  PASP 128, 095004); control radius ~10 lambda/D. Default star: 51 Eri (declination -2.47, the GPI
  discovery of Macintosh et al. 2015, Science 350, 64) for GPI, HR 8799 (+21.14, Marois et al. 2008,
  Science 322, 1348) for NIRC2.
* **PSF**: ``|FFT(P exp(i phi_static))|^2`` of that pupil with spider vanes, ``phi_static`` a few tens of
  nm rms of low-order Zernike aberrations (astigmatism, coma, trefoil, spherical; Noll 1976, JOSA 66,
  207): a measured-like core with the spiders' diffraction spikes. **Pixel integration**: every
  component is multiplied by the pixel transfer function ``sinc(fx) sinc(fy)`` in the Fourier domain
  (the image is integrated over each pixel, not point-sampled). ``fwhm`` is the diameter of the disk of
  the half-maximum area of that pixel-integrated PSF; the template ``psf`` has unit flux in a
  FWHM-diameter aperture (VIP's ``normalize_psf``, as ``make_adi_sequence``).
* **Quasi-static speckles, drawn in the focal plane**: one speckle per (lambda/D)^2 at random positions
  (a copy of the PSF: speckles have the size of the core), each with an exponential (fully developed)
  intensity (Goodman 1975, in *Laser Speckle and Related Phenomena*; Soummer et al. 2007, ApJ 669,
  642) around a mean that falls as a power law ``(r / (lambda/D))^-speckle_index`` (to first order the
  speckle intensity is the phase power spectrum, Perrin et al. 2003, ApJ 596, 702; polished optics have
  power-law spectra, Marois et al. 2006, ApJ 641, 556). They are fixed in the pupil frame (what ADI
  exploits, Marois et al. 2006) but not frozen: each speckle's intensity drifts linearly in time (by up
  to ``+-speckle_drift / 2`` at the ends) and the whole pattern turns slowly by ``pattern_rotation`` degrees
  over the sequence (instrument flexure; quasi-static speckles evolve over tens of minutes, Hinkley et
  al. 2007, ApJ 654, 633). Rendered at a few time nodes and interpolated linearly between them.
* **Halo**: the residual phase spectrum of an AO system (Rigaut, Veran & Lai 1998, SPIE 3353, 1038;
  Jolissaint 2010, JEOS-RP 5, 10055): Kolmogorov ``f^-11/3`` beyond the control radius, a plateau
  inside it, with the butterfly of the wind-driven servo-lag halo along the wind direction (Cantalloube
  et al. 2018, A&A 620, L10). It holds ``1 - Strehl`` of the star light.
* **Conditions**: Strehl and transparency vary by a few % from frame to frame (``strehl_jitter``,
  ``transparency_jitter``: smooth random Fourier series, not an AR(1)); the core, the speckles and the
  companions follow ``T_k S_k``, the halo ``T_k (1 - S_k)``.
* **Frames**: hour angles at an even cadence with a 10 % scatter and one gap (10-30 % of the
  sequence: clouds, an AO loop opening, a calibration) inserted between 25 % and 75 % of it; parallactic
  angles from :func:`~qusi_lab.imaging.synthetic.parallactic_angle` (Meeus 1998, eq. 14.1). The track is
  not centred on transit (``hour_angle_center`` drawn in +-1.5 h).
* **Detector and pipeline**: the star wanders by ``centring_jitter`` px rms per axis (tip-tilt drift); photon
  noise on star + companions + sky, Gaussian read noise and a row-correlated (1/f) offset per row
  (HAWAII-2RG detectors; Moseley et al. 2010, SPIE 7742, 77421B). The pipeline then, as GPI's and
  VIP's do: replaces known bad pixels and per-frame hits by the median of their good 3x3 neighbours,
  subtracts the sky measured in the frame corners, measures the star's centroid and shifts the frame by it
  (cubic spline): the residual centring error stays in the cube (``meta["truth"]["residual_centring_px"]``).
* **Companions**: point sources rendered like the star (same PSF, pixel integration, jitter, Strehl and
  transparency), with flux ``contrast * star_flux`` in PSF units (the same convention as
  ``make_adi_sequence``: averaged over frames, a companion is ``flux * psf``; flux-conserving:
  its total is ``flux * psf_total`` where ``psf_total`` is the template's full-field sum). A companion at
  sky position angle ``pa`` sits in frame ``k`` at ``pa - angles[k]`` (the package's convention).

Everything is seeded (``numpy.random.default_rng(seed)``) and rendered in the Fourier domain with
separable exponentials (no interpolation except the pipeline's recentring).
"""

from __future__ import annotations

import math
from collections.abc import Sequence as SequenceType
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.sequence import AdiSequence
from qusi_lab.imaging.synthetic import _solve_span, parallactic_angle

__all__ = ["INSTRUMENTS", "Instrument", "make_empirical_sequence"]


@dataclass(frozen=True)
class Instrument:
    """Instrument, band and site preset (sources in the module docstring)."""

    wavelength_um: float
    diameter_m: float
    obstruction: float
    vanes: int
    vane_width: float  # fraction of the pupil diameter
    hexagonal: bool
    pixel_scale: float  # arcsec / px
    strehl: float
    control_radius: float  # lambda/D
    latitude_deg: float
    declination_deg: float  # default target
    star_flux: float  # per frame, PSF units
    sky: float  # per px per frame (counts)
    read_noise: float  # counts rms per px per frame


INSTRUMENTS: dict[str, Instrument] = {
    "gpi_h": Instrument(1.65, 7.7, 0.13, 4, 0.012, False, 0.014161, 0.88, 21.5, -30.2407, -2.47,
                        3e5, 8.0, 12.0),
    "nirc2_lp": Instrument(3.776, 10.95, 0.24, 6, 0.008, True, 0.009971, 0.6, 10.0, 19.8263, 21.14,
                           3e5, 1.5e3, 40.0),
}
_NODES = 6  # time nodes for the evolving speckle pattern


def _pupil(n: int, samples: float, preset: Instrument) -> np.ndarray:
    """Pupil transmission on an ``n x n`` grid, ``samples`` across the diameter, with spider vanes."""
    coordinate = (np.arange(n) - n // 2) / samples  # units of D
    yy, xx = np.meshgrid(coordinate, coordinate, indexing="ij")
    rho = np.hypot(yy, xx)
    if preset.hexagonal:  # corners on the x axis: |y| <= sqrt(3)/2 R and the two slanted edges
        r = 0.5
        inside = ((np.abs(yy) <= math.sqrt(3) / 2 * r)
                  & (np.abs(yy) <= math.sqrt(3) * (r - np.abs(xx))))
    else:
        inside = rho <= 0.5
    pupil = (inside & (rho >= preset.obstruction / 2)).astype(np.float64)
    for v in range(preset.vanes):
        angle = math.pi / 4 + 2 * math.pi * v / preset.vanes  # vanes from the centre outwards
        along = xx * math.cos(angle) + yy * math.sin(angle)
        across = -xx * math.sin(angle) + yy * math.cos(angle)
        # area-weighted (soft) edge: a vane narrower than a sample still blocks its share of light
        blocked = np.clip(preset.vane_width * samples / 2 + 0.5 - np.abs(across) * samples, 0.0, 1.0)
        pupil *= 1.0 - np.where(along > 0, blocked, 0.0)
    return pupil


def _static_phase(n: int, samples: float, rng: np.random.Generator, rms_rad: float) -> np.ndarray:
    """Low-order Zernike aberrations (Noll-normalised: unit rms each), ``rms_rad`` in total."""
    coordinate = (np.arange(n) - n // 2) / (samples / 2)  # units of the pupil radius
    yy, xx = np.meshgrid(coordinate, coordinate, indexing="ij")
    rho, theta = np.hypot(yy, xx), np.arctan2(yy, xx)
    modes = [math.sqrt(6) * rho**2 * np.cos(2 * theta), math.sqrt(6) * rho**2 * np.sin(2 * theta),
             math.sqrt(8) * (3 * rho**3 - 2 * rho) * np.cos(theta),
             math.sqrt(8) * (3 * rho**3 - 2 * rho) * np.sin(theta),
             math.sqrt(8) * rho**3 * np.cos(3 * theta), math.sqrt(8) * rho**3 * np.sin(3 * theta),
             math.sqrt(5) * (6 * rho**4 - 6 * rho**2 + 1)]
    weights = rng.normal(size=len(modes)) / np.arange(1, len(modes) + 1) ** 0.5  # more in the lowest
    weights *= rms_rad / math.sqrt(float((weights**2).sum()))
    return np.tensordot(weights, np.array(modes), axes=1)


def _smooth_series(rng: np.random.Generator, u: np.ndarray, rms: float, terms: int = 6) -> np.ndarray:
    """A smooth random function of ``u`` in [0, 1]: a Fourier series with ``1/j`` amplitudes, ``rms``."""
    j = np.arange(1, terms + 1)
    phases = rng.uniform(0, 2 * np.pi, terms)
    series = (np.cos(2 * np.pi * np.outer(u, j) / 2 + phases) / j).sum(axis=1)
    series -= series.mean()
    scale = series.std()
    return series * (rms / scale) if scale > 0 else series


def _point_spectra(fy: np.ndarray, fx: np.ndarray, y: np.ndarray, x: np.ndarray,
                   weights: np.ndarray, dtype: type = np.complex128) -> np.ndarray:
    """``sum_i w_i exp(-2 pi i (fy y_i + fx x_i))``: one separable matrix product (a direct NUFFT)."""
    ey: np.ndarray = (np.exp(-2j * np.pi * np.outer(fy, y)) * weights[None, :]).astype(dtype, copy=False)
    ex: np.ndarray = np.exp(-2j * np.pi * np.outer(x, fx)).astype(dtype, copy=False)
    return np.asarray(ey @ ex, dtype=np.complex128)


def _time_track(rng: np.random.Generator, n_frames: int, gap_fraction: float) -> np.ndarray:
    """Normalised times in [0, 1]: an even cadence with 10 % scatter and one gap."""
    steps = np.clip(1.0 + 0.1 * rng.normal(size=n_frames - 1), 0.5, None)
    if gap_fraction > 0 and n_frames > 3:
        where = int(rng.integers(int(0.25 * (n_frames - 1)), max(int(0.75 * (n_frames - 1)), 1) + 1))
        where = min(max(where, 0), n_frames - 2)
        steps[where] += gap_fraction / (1 - gap_fraction) * steps.sum()
    times = np.concatenate([[0.0], np.cumsum(steps)])
    return times / times[-1]


def _fwhm_of(spectrum: np.ndarray, m: int, upsample: int = 4) -> float:
    """Equivalent-disk diameter of the half-maximum area of the image whose rFFT is ``spectrum``."""
    big = m * upsample
    padded = np.zeros((big, big // 2 + 1), dtype=np.complex128)
    half = m // 2
    padded[:half, : half + 1] = spectrum[:half, : half + 1]
    padded[-half:, : half + 1] = spectrum[-half:, : half + 1]
    image = np.fft.irfft2(padded, s=(big, big))
    image = np.fft.fftshift(image)
    above = float((image >= image.max() / 2).sum()) / upsample**2
    return 2.0 * math.sqrt(above / math.pi)


def make_empirical_sequence(*, n_frames: int = 61, size: int = 101, instrument: str = "gpi_h",
                            rotation: float | None = None, declination: float | None = None,
                            hour_angle_center: float | None = None, seed: int = 0,
                            companions: SequenceType[tuple[float, float, float]] = (),
                            star_flux: float | None = None, strehl: float | None = None,
                            strehl_jitter: float = 0.03, transparency_jitter: float = 0.03,
                            static_nm: float = 30.0, speckle_contrast: float = 2e-2,
                            speckle_index: float = 2.5, speckle_drift: float = 0.5,
                            pattern_rotation: float = 1.0, halo_plateau: float = 0.05,
                            wind_asymmetry: float = 1.0, centring_jitter: float = 0.3,
                            gap_fraction: float | None = None, bad_pixels: int | None = None,
                            sky: float | None = None, read_noise: float | None = None,
                            row_noise: float | None = None, photon_noise: bool = True) -> AdiSequence:
    """A seeded ADI sequence from a generator independent of ``make_adi_sequence`` (see the module docstring).

    Parameters
    ----------
    instrument:
        ``"gpi_h"`` (Gemini/GPI, H, Cerro Pachon; default) or ``"nirc2_lp"`` (Keck/NIRC2, L', Maunakea).
    rotation:
        Total parallactic rotation in degrees, in [20, 90]; default drawn in 25-80 from ``seed``.
    declination, hour_angle_center:
        Target declination (default: the preset's star) and hour angle (h) at mid-track (default drawn
        in +-1.5 h); the track's span is solved for ``rotation``.
    companions:
        ``(separation_px, position_angle_deg, contrast)`` triples; flux ``contrast * star_flux`` (PSF units).
    strehl_jitter, transparency_jitter:
        Frame-to-frame rms (relative) of the Strehl ratio and of the transparency.
    static_nm:
        rms of the low-order static aberrations in the PSF.
    speckle_contrast, speckle_index:
        Mean speckle peak relative to the star's peak at 1 lambda/D, and its power-law fall with radius.
    speckle_drift, pattern_rotation:
        Peak-to-peak linear drift of each speckle's intensity (relative) and total rotation of the speckle
        pattern (degrees) over the sequence.
    halo_plateau:
        Halo level inside the AO control radius relative to the uncorrected Kolmogorov law there.
    wind_asymmetry:
        Contrast of the wind-driven butterfly (0: a round halo).
    centring_jitter:
        rms star wander per axis (px) before the pipeline's recentring.
    gap_fraction:
        Share of the track's time lost in one gap; default drawn in 0.1-0.3.
    bad_pixels:
        Number of fixed bad pixels (default ``size**2 // 2000``, at least 3); each frame also gets two hits.
    photon_noise:
        False: no photon, read or row noise (the pipeline steps still run).

    Returns
    -------
    AdiSequence
        With ``meta["star_flux"]``, ``meta["instrument"]``, ``meta["truth"]`` (companions with contrast and
        flux, hour angles, times, Strehl and transparency per frame, jitter and residual centring error,
        bad pixels, every parameter and the seed); with companions also ``meta["injections"]``.

    Examples
    --------
    >>> seq = make_empirical_sequence(n_frames=20, size=41, seed=3, companions=[(10.0, 30.0, 1e-2)])
    >>> seq.cube.shape, seq.meta["instrument"], 20 <= seq.meta["truth"]["rotation_deg"] <= 90
    ((20, 41, 41), 'gpi_h', True)
    """
    if instrument not in INSTRUMENTS:
        raise ImagingError(f"instrument must be one of {sorted(INSTRUMENTS)}, not {instrument!r}")
    if n_frames < 2 or size < 15:
        raise ImagingError(f"need n_frames >= 2 and size >= 15, got {n_frames}, {size}")
    preset = INSTRUMENTS[instrument]
    rng = np.random.default_rng(seed)
    rotation = float(rng.uniform(25.0, 80.0)) if rotation is None else float(rotation)
    if not 20.0 <= rotation <= 90.0:
        raise ImagingError(f"rotation must be in [20, 90] degrees, got {rotation}")
    declination = preset.declination_deg if declination is None else float(declination)
    center_h = float(rng.uniform(-1.5, 1.5)) if hour_angle_center is None else float(hour_angle_center)
    gap = float(rng.uniform(0.1, 0.3)) if gap_fraction is None else float(gap_fraction)
    if not 0.0 <= gap < 0.9:
        raise ImagingError(f"gap_fraction must be in [0, 0.9), got {gap}")
    for name, value in (("strehl_jitter", strehl_jitter), ("transparency_jitter", transparency_jitter),
                        ("centring_jitter", centring_jitter), ("speckle_contrast", speckle_contrast),
                        ("speckle_drift", speckle_drift), ("halo_plateau", halo_plateau),
                        ("wind_asymmetry", wind_asymmetry), ("static_nm", static_nm)):
        if not (math.isfinite(value) and value >= 0):
            raise ImagingError(f"{name} must be finite and >= 0, got {value}")
    if strehl_jitter > 0.2 or transparency_jitter > 0.2:
        raise ImagingError("strehl_jitter and transparency_jitter are relative rms: keep them <= 0.2")

    latitude = preset.latitude_deg
    half = _solve_span(rotation, declination, latitude, center_h, limit=5.0)
    times = _time_track(rng, n_frames, gap)
    hours = center_h - half + 2 * half * times
    lat, dec = math.radians(latitude), math.radians(declination)
    altitude = np.rad2deg(np.arcsin(math.sin(lat) * math.sin(dec)
                                    + math.cos(lat) * math.cos(dec) * np.cos(np.deg2rad(15 * hours))))
    if altitude.min() < 30.0:
        raise ImagingError(f"the track reaches altitude {altitude.min():.0f} deg (< 30: airmass > 2)")
    angles = parallactic_angle(hours, declination, latitude)

    # ---- PSF: FFT of the pupil on the padded field (1 px focal sampling), pixel transfer function
    lod_px = preset.wavelength_um * 1e-6 / preset.diameter_m * 206264.806 / preset.pixel_scale
    if lod_px < 2.0:
        raise ImagingError(f"lambda/D is {lod_px:.2f} px: under-sampled (< 2 px)")
    # the periodic field: the frame plus a 6 lambda/D margin, so light leaving one edge is faint where it wraps
    m = int(sfft.next_fast_len(size + 2 * math.ceil(6 * lod_px)))
    while m % 2:  # even: the FFT-order crop and rfft layout stay simple
        m = int(sfft.next_fast_len(m + 1))
    grid = int(sfft.next_fast_len(max(m, math.ceil(48 * lod_px))))  # >= 48 pupil samples across D
    samples = grid / lod_px
    pupil = _pupil(grid, samples, preset)
    to_rad = 2 * np.pi / (preset.wavelength_um * 1e3)
    field = pupil * np.exp(1j * _static_phase(grid, samples, rng, to_rad * static_nm))
    intensity = np.abs(np.fft.fft2(np.fft.ifftshift(field))) ** 2  # origin at [0, 0]
    if grid > m:  # keep offsets -m//2 .. m - m//2 - 1 in FFT order (far wings beyond m/2 px dropped)
        offsets = np.arange(m)
        keep = np.where(offsets < m - m // 2, offsets, offsets - m) % grid
        intensity = intensity[np.ix_(keep, keep)]
    intensity /= intensity.sum()
    fy, fx = np.fft.fftfreq(m), np.fft.rfftfreq(m)
    pixel = np.outer(np.sinc(fy), np.sinc(fx))
    otf = np.fft.rfft2(intensity) * pixel  # unit total: a point of weight w puts w in the image
    centred = np.fft.fftshift(np.fft.irfft2(otf, s=(m, m)))
    fwhm = _fwhm_of(otf, m)
    half_stamp = int(math.ceil(2.5 * fwhm))
    mid = m // 2
    stamp = centred[mid - half_stamp:mid + half_stamp + 1, mid - half_stamp:mid + half_stamp + 1]
    sy_, sx_ = np.indices(stamp.shape) - half_stamp
    aperture = float(stamp[np.hypot(sy_, sx_) <= fwhm / 2].sum())  # share of the total in the FWHM disk
    template = stamp / aperture
    peak_share = float(centred.max())  # peak / total of the pixel-integrated PSF

    s0 = preset.strehl if strehl is None else float(strehl)
    if not 0 < s0 < 1:
        raise ImagingError(f"strehl must be in (0, 1), got {s0}")
    flux = preset.star_flux if star_flux is None else float(star_flux)
    if not flux > 0:
        raise ImagingError(f"star_flux must be > 0, got {flux}")
    total = flux / aperture  # the star's total light (all of it in the core at Strehl 1)
    strehls = s0 * np.exp(_smooth_series(rng, times, strehl_jitter))
    strehls = np.clip(strehls, 0.01, 0.99)
    transparency = np.exp(_smooth_series(rng, times, transparency_jitter))
    jitter = rng.normal(0.0, centring_jitter, size=(n_frames, 2))
    c = (size - 1) / 2.0

    # ---- quasi-static speckles: one per (lambda/D)^2, power-law mean, exponential intensities
    r_max = (math.hypot(size, size) / 2 + lod_px) / lod_px  # lambda/D, just past the frame corners
    r_min = 0.8
    count = int(round(math.pi * (r_max**2 - r_min**2)))
    radius = np.sqrt(rng.uniform(r_min**2, r_max**2, count))  # uniform in area
    theta = rng.uniform(0, 2 * np.pi, count)
    strength = rng.exponential(1.0, count) * radius ** (-speckle_index)
    # a weight w gives a peak w * peak_share; speckle_contrast is the mean peak over the star's peak at 1 l/D
    weights = total * s0 * speckle_contrast * strength
    drift = rng.uniform(-1.0, 1.0, count) * speckle_drift
    node_times = np.linspace(0.0, 1.0, _NODES)
    node_spectra = np.empty((_NODES, m, fx.size), dtype=np.complex128)
    turn = math.radians(pattern_rotation)
    for n, tau in enumerate(node_times):
        angle = theta + turn * (tau - 0.5)
        w = weights * np.clip(1.0 + drift * (tau - 0.5), 0.0, None) / s0  # rescaled by S_k below
        node_spectra[n] = _point_spectra(fy, fx, c + radius * lod_px * np.sin(angle),
                                         c + radius * lod_px * np.cos(angle), w, np.complex64)

    # ---- halo: AO residual spectrum, Kolmogorov outside the control radius, a butterfly plateau inside
    coordinate = (np.arange(m) - c + m / 2) % m - m / 2  # periodic distances to the star
    dy, dx = np.meshgrid(coordinate, coordinate, indexing="ij")
    f_lod = np.hypot(dy, dx) / lod_px
    wind = rng.uniform(0, np.pi)
    fc = preset.control_radius
    kolmogorov = np.maximum(f_lod, 0.5) ** (-11.0 / 3.0)
    butterfly = 1 + wind_asymmetry * np.cos(np.arctan2(dy, dx) - wind) ** 2
    plateau = halo_plateau * fc ** (-11.0 / 3.0) * butterfly * (1 + (f_lod / 2.0) ** 2) ** (-1.0 / 3.0)
    inside = 1.0 / (1.0 + np.exp((f_lod - fc) / 0.5))  # soft edge at the control radius
    halo = inside * plateau + (1 - inside) * kolmogorov
    halo *= total * (1 - s0) / halo.sum()
    halo_spectrum = np.fft.rfft2(halo) * pixel

    # ---- frames in the Fourier domain: core + companions + speckles (x PSF) and halo, all jittered
    node = np.interp(times, node_times, np.arange(_NODES))
    lower = np.minimum(np.floor(node).astype(np.int64), _NODES - 2)
    frac = node - lower
    truth_companions: list[dict[str, float]] = []
    if companions:
        seps, pas, contrasts = (np.array(v, dtype=np.float64) for v in zip(*companions, strict=True))
        if (contrasts < 0).any():
            raise ImagingError(f"companion contrasts must be >= 0, got {list(contrasts)}")
        if (seps < 0).any() or (seps > c).any():
            raise ImagingError(f"separations must lie in [0, {c:.1f}] px (inside the frame), got {list(seps)}")
        truth_companions = [{"separation_px": float(s), "position_angle_deg": float(p), "contrast": float(q),
                             "flux": float(q * flux)} for s, p, q in zip(seps, pas, contrasts, strict=True)]
    else:
        seps = pas = contrasts = np.zeros(0)
    frames = np.empty((n_frames, m, fx.size), dtype=np.complex128)
    for k in range(n_frames):
        scale = transparency[k] * strehls[k] / s0
        sy, sx = c + jitter[k, 0], c + jitter[k, 1]
        shift = np.outer(np.exp(-2j * np.pi * fy * jitter[k, 0]), np.exp(-2j * np.pi * fx * jitter[k, 1]))
        speckles = (1 - frac[k]) * node_spectra[lower[k]] + frac[k] * node_spectra[lower[k] + 1]
        points = np.array([sy]), np.array([sx]), np.array([total * s0])
        if seps.size:
            phi = np.deg2rad(pas - angles[k])
            points = (np.concatenate([points[0], sy + seps * np.sin(phi)]),
                      np.concatenate([points[1], sx + seps * np.cos(phi)]),
                      np.concatenate([points[2], contrasts * total]))  # flux / aperture: PSF units
        frames[k] = otf * (scale * _point_spectra(fy, fx, *points)
                           + transparency[k] * strehls[k] * speckles * shift)
        frames[k] += transparency[k] * (1 - strehls[k]) / (1 - s0) * halo_spectrum * shift
    cube = np.fft.irfft2(frames, s=(m, m), axes=(1, 2))[:, :size, :size]
    noiseless_min = float(cube.min())

    # ---- detector: photon, read and row noise; sky; bad pixels and hits
    background = preset.sky if sky is None else float(sky)
    noise_rms = preset.read_noise if read_noise is None else float(read_noise)
    rows_rms = 0.3 * noise_rms if row_noise is None else float(row_noise)
    cube = np.clip(cube, 0.0, None) + background  # positive before the background subtraction
    if photon_noise:
        cube = rng.poisson(cube).astype(np.float64)
        cube += rng.normal(0.0, noise_rms, cube.shape)
        cube += rng.normal(0.0, rows_rms, (n_frames, size, 1))
    n_bad = max(3, size * size // 2000) if bad_pixels is None else int(bad_pixels)
    fixed = rng.choice(size * size, n_bad, replace=False) if n_bad else np.zeros(0, dtype=np.int64)
    bad = np.zeros((n_frames, size, size), dtype=bool)
    bad[:, fixed // size, fixed % size] = True
    hits = rng.integers(0, size, (n_frames, 2, 2))
    for k in range(n_frames):
        bad[k, hits[k, :, 0], hits[k, :, 1]] = True
    cube[bad] = rng.uniform(5.0, 50.0, int(bad.sum())) * (background + 10 * noise_rms)  # hot pixels
    # pipeline: the median of the good 3x3 neighbours
    padded = np.pad(cube, ((0, 0), (1, 1), (1, 1)), mode="edge")
    good = np.pad(~bad, ((0, 0), (1, 1), (1, 1)), mode="constant", constant_values=False)
    for k, y, x in zip(*np.nonzero(bad), strict=True):
        window = padded[k, y:y + 3, x:x + 3][good[k, y:y + 3, x:x + 3]]
        cube[k, y, x] = float(np.median(window)) if window.size else background
    # pipeline: sky from the corners, then the star's centroid and a spline shift onto the centre
    yy, xx = np.indices((size, size), dtype=np.float64)
    radius_px = np.hypot(yy - c, xx - c)
    corners = radius_px > 0.48 * size
    cube -= np.median(cube[:, corners], axis=1)[:, None, None]
    box = radius_px <= 1.5 * fwhm
    measured = np.empty((n_frames, 2))
    for k in range(n_frames):
        light = np.clip(cube[k] - np.median(cube[k][(radius_px > 1.5 * fwhm) & (radius_px < 3 * fwhm)]),
                        0.0, None) * box
        measured[k] = ((light * yy).sum() / light.sum(), (light * xx).sum() / light.sum())
        # one refinement around the first estimate
        around = np.hypot(yy - measured[k, 0], xx - measured[k, 1]) <= 1.5 * fwhm
        light = np.clip(cube[k], 0.0, None) * around
        measured[k] = ((light * yy).sum() / light.sum(), (light * xx).sum() / light.sum())
        cube[k] = ndimage.shift(cube[k], (c - measured[k, 0], c - measured[k, 1]), order=3, mode="nearest")
    residual = (c + jitter) - measured  # where the star is after recentring, minus the centre

    meta: dict[str, Any] = {"star_flux": flux, "instrument": instrument, "band": instrument.split("_")[1],
                            "wavelength_um": preset.wavelength_um, "generator": "make_empirical_sequence"}
    sequence = AdiSequence(cube, angles, template, preset.pixel_scale, fwhm, meta=meta)
    if truth_companions:
        sequence.meta["injections"] = [{k: v for k, v in t.items() if k != "contrast"} for t in truth_companions]
    parameters: dict[str, Any] = {
        "n_frames": n_frames, "size": size, "instrument": instrument, "latitude_deg": latitude,
        "declination_deg": declination, "hour_angle_center_h": center_h, "strehl": s0,
        "strehl_jitter": strehl_jitter, "transparency_jitter": transparency_jitter, "static_nm": static_nm,
        "speckle_contrast": speckle_contrast, "speckle_index": speckle_index, "speckle_drift": speckle_drift,
        "pattern_rotation_deg": pattern_rotation, "halo_plateau": halo_plateau,
        "wind_asymmetry": wind_asymmetry, "wind_angle_deg": math.degrees(wind),
        "centring_jitter_px": centring_jitter, "gap_fraction": gap, "sky": background, "read_noise": noise_rms,
        "row_noise": rows_rms, "photon_noise": photon_noise, "lambda_over_d_px": lod_px,
        "speckle_count": count, "psf_total": float(centred.sum() / aperture), "peak_share": peak_share,
        "noiseless_min": noiseless_min, "preset": asdict(preset)}
    sequence.meta["truth"] = {"seed": seed, "companions": truth_companions, "rotation_deg": rotation,
                              "hour_angles_h": hours, "times": times, "altitude_deg": altitude,
                              "strehl": strehls, "transparency": transparency, "jitter_px": jitter,
                              "residual_centring_px": residual, "bad_pixels": np.argwhere(bad),
                              "parameters": parameters}
    return sequence
