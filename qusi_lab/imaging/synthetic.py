"""Seeded synthetic ADI sequences: an AO-corrected star in pupil-tracking mode, with companions.

Model of frame ``k`` (detector = pupil frame; the sky turns by the parallactic angle ``q_k``):

* **Angles**: hour angles ``H`` spread evenly around transit at a real site, parallactic angle
  ``q = atan2(sin H, tan(lat) cos(dec) - sin(dec) cos H)`` (Meeus 1998, *Astronomical Algorithms*, 2nd ed.,
  ch. 14, eq. 14.1); the span is solved so that the total rotation is the one asked for.
* **Coherent star light**: ``S_atm * |MFT(P exp(i phi_k))|^2``, ``P`` the VLT pupil (8.2 m, central
  obstruction 0.14), ``phi_k = phi_static + phi_quasi,k`` non-common-path aberrations with a power
  spectrum in ``f^-2`` (polished optics; Marois et al. 2006, ApJ 641, 556; Soummer et al. 2007, ApJ
  669, 642). They give pinned speckles of size lambda/D (Perrin et al. 2003, ApJ 596, 702), fixed in
  the pupil frame: they do NOT rotate with the sky, which is what ADI exploits (Marois et al. 2006).
  ``phi_quasi`` follows an AR(1) in time with decorrelation time ``decorrelation_minutes`` (default 30:
  quasi-static speckles evolve over tens of minutes, Hinkley et al. 2007, ApJ 654, 633; Milli et al.
  2016, SPIE 9909, 99094Z). A phase in nm gives radians ``2 pi OPD / lambda``: speckles are ~5x
  brighter (relative to the star) in H than in L' for the same optics.
* **Halo**: ``(1 - S_atm)`` of the light in a Moffat profile with ``beta = 11/6`` (far wings in
  ``r^-11/3``, the Kolmogorov phase spectrum, Racine et al. 1999, PASP 111, 587), width from the
  seeing (0.8" at 0.5 um, Paranal's median, scaled as ``lambda^-1/5``), depressed by ``halo_depth``
  inside the AO control radius (``N_act / 2`` lambda/D: 7 for NAOS, 20 for SPHERE's 41x41 DM).
* **Fast speckles**: the halo times ``1 + (X_k - 1) / sqrt(M)``, ``X_k`` a fully developed (unit-mean
  exponential) speckle pattern of size lambda/D drawn independently per frame; a frame averages ``M``
  independent atmospheric speckle realisations (Racine et al. 1999).
* **Noise**: Poisson on star + companions + sky background (thermal in L': background-limited), then
  Gaussian read noise; the background is subtracted as in a reduced cube.
* **Coronagraph** (optional): the perfect coronagraph (coherent mean field removed in the pupil;
  Cavarroc et al. 2006, A&A 447, 397); off-axis transmission ``1 - exp(-ln2 (r / 0.9 lambda/D)^2)``
  (50% at 0.9 lambda/D, about the vortex/AGPM inner working angle, Mawet et al. 2013, The Messenger 152).

Band presets: ``"L"`` NACO-like (L' 3.8 um, 0.02719"/px, Strehl 0.7, typical NACO L' values in its user
manual; Lenzen et al. 2003, SPIE 4841, 944), ``"H"`` SPHERE-IRDIS-like (1.6 um, 0.01225"/px, Strehl 0.85;
Beuzit et al. 2019, A&A 631, A155). With the defaults (61 frames, L') a companion of contrast 2e-3 at
~4 lambda/D comes out at annular PCA-ADI S/N ~ 8, i.e. a 5-sigma contrast ~1e-3 there, the shallow end
of NACO L' ADI surveys (Rameau et al. 2013, A&A 553, A60); raise ``star_flux`` or lower ``sky`` for
deeper data. Images are point-sampled (no pixel integration: ~3% on the FWHM). Fluxes are in
the PSF's units (unit flux in a FWHM-diameter aperture): a companion of contrast ``c`` has flux
``c * meta["star_flux"]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence as SequenceType
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, special

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.injection import inject_companions
from qusi_lab.imaging.sequence import AdiSequence

__all__ = ["BANDS", "SITES", "Band", "airy_psf", "make_adi_sequence", "parallactic_angle"]

SITES: dict[str, float] = {"paranal": -24.6275, "la_silla": -29.2567}  # latitudes, degrees


@dataclass(frozen=True)
class Band:
    """Instrument/band preset (see the module docstring for sources)."""

    wavelength_um: float
    diameter_m: float
    obstruction: float
    pixel_scale: float  # arcsec / px
    strehl: float
    control_radius: float  # lambda/D
    star_flux: float  # per frame, PSF units
    sky: float  # background per px per frame (counts)
    read_noise: float  # counts rms per px per frame


BANDS: dict[str, Band] = {
    "L": Band(3.8, 8.2, 0.14, 0.02719, 0.7, 7.0, 2e5, 2e3, 30.0),
    "H": Band(1.6, 8.2, 0.14, 0.01225, 0.85, 20.0, 2e5, 5.0, 10.0),
}
_NPUP = 64  # pupil samples across D: phase frequencies up to 32 lambda/D, beyond any frame corner here


def parallactic_angle(hour_angle_h: np.ndarray | float, declination_deg: float,
                      latitude_deg: float) -> np.ndarray:
    """Parallactic angle in degrees (Meeus 1998, ch. 14, eq. 14.1), unwrapped along the track.

    ``q = atan2(sin H, tan(lat) cos(dec) - sin(dec) cos H)``; at transit ``q = 0`` for a star south of
    the zenith (``dec < lat``) and ``q = 180`` for one north of it.

    Examples
    --------
    >>> float(parallactic_angle(0.0, -51.07, -24.6275)[0])
    0.0
    >>> round(float(parallactic_angle(1.0, -51.07, -24.6275)[0]), 2)
    29.19
    """
    h = np.deg2rad(15.0 * np.atleast_1d(np.asarray(hour_angle_h, dtype=np.float64)))
    lat, dec = math.radians(latitude_deg), math.radians(declination_deg)
    q = np.arctan2(np.sin(h), math.tan(lat) * math.cos(dec) - math.sin(dec) * np.cos(h))
    return np.rad2deg(np.unwrap(q))


def _altitude(hour_angle_h: np.ndarray, declination_deg: float, latitude_deg: float) -> np.ndarray:
    lat, dec, h = math.radians(latitude_deg), math.radians(declination_deg), np.deg2rad(15 * hour_angle_h)
    return np.rad2deg(np.arcsin(math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * np.cos(h)))


def _airy(radius_lod: np.ndarray, obstruction: float) -> np.ndarray:
    """Annular-pupil Airy intensity, peak 1, at radii in lambda/D."""
    v = np.pi * np.maximum(radius_lod, 1e-12)
    amplitude = 2 * special.j1(v) / v
    if obstruction > 0:
        e = obstruction
        amplitude = (amplitude - e**2 * 2 * special.j1(e * v) / (e * v)) / (1 - e**2)
    return amplitude**2


def airy_psf(lod_px: float, obstruction: float = 0.14, size: int | None = None) -> tuple[np.ndarray, float]:
    """Point-sampled Airy template (odd ``size``, default ~5 FWHM) and its FWHM in px.

    Normalised as VIP's ``normalize_psf``: unit sum over the pixels within ``fwhm / 2`` of the centre.

    Examples
    --------
    >>> psf, fwhm = airy_psf(3.51)
    >>> psf.shape, round(fwhm, 2)
    ((19, 19), 3.57)
    """
    half_width = optimize.brentq(lambda r: _airy(np.array([r]), obstruction)[0] - 0.5, 0.1, 0.7)
    fwhm = 2 * half_width * lod_px
    size = int(2 * math.ceil(2.5 * fwhm) + 1) if size is None else int(size)
    if size % 2 == 0:
        raise ImagingError(f"the PSF size must be odd, got {size}")
    yy, xx = np.indices((size, size)) - size // 2
    radius = np.hypot(yy, xx)
    psf = _airy(radius / lod_px, obstruction)
    return psf / psf[radius <= fwhm / 2].sum(), float(fwhm)


def _mft_matrix(n: int, lod_px: float, center: float) -> np.ndarray:
    """Matrix Fourier transform (pupil samples -> focal pixels at ``lod_px`` px per lambda/D)."""
    xi = (np.arange(_NPUP) + 0.5) / _NPUP - 0.5  # pupil coordinate in units of D
    theta = (np.arange(n) - center) / lod_px  # focal coordinate in lambda/D
    return np.exp(-2j * np.pi * np.outer(theta, xi))


def _phase_screens(rng: np.random.Generator, count: int, pupil: np.ndarray) -> np.ndarray:
    """``count`` screens with an ``f^-2`` power spectrum (1 to 32 cycles/pupil), unit rms on the pupil."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(_NPUP, 1 / _NPUP), np.fft.fftfreq(_NPUP, 1 / _NPUP)))
    filt = np.where(f >= 1.0, 1.0 / np.maximum(f, 1.0), 0.0)  # amplitude f^-1: power f^-2, no tip-tilt
    noise = rng.normal(size=(count, _NPUP, _NPUP)) + 1j * rng.normal(size=(count, _NPUP, _NPUP))
    screens = np.fft.ifft2(noise * filt).real
    inside = pupil > 0
    screens -= screens[:, inside].mean(axis=1)[:, None, None]
    return screens / screens[:, inside].std(axis=1)[:, None, None]


def _solve_span(rotation: float, declination: float, latitude: float, center_h: float, *,
                limit: float = 6.0) -> float:
    """The half-span of hour angle (h) around ``center_h`` over which the sky turns by ``rotation`` deg."""
    def turned(span: float) -> float:
        q = parallactic_angle(np.linspace(center_h - span, center_h + span, 301), declination, latitude)
        return abs(float(q[-1] - q[0]))

    if turned(limit) < rotation:
        raise ImagingError(f"a {rotation:.0f} deg rotation is out of reach at declination {declination} "
                           f"around hour angle {center_h:+.1f} h (at most {turned(limit):.0f} deg within "
                           f"+-{limit:g} h)")
    return float(optimize.brentq(lambda s: turned(s) - rotation, 1e-4, limit, xtol=1e-8))


def make_adi_sequence(*, n_frames: int = 61, size: int = 101, band: str = "L", rotation: float | None = None,
                      site: str = "paranal", declination: float = -51.07, hour_angle_center: float = 0.0,
                      seed: int = 0, companions: SequenceType[tuple[float, float, float]] = (),
                      star_flux: float | None = None, strehl: float | None = None,
                      static_nm: float = 80.0, quasi_static_nm: float = 30.0,
                      decorrelation_minutes: float = 30.0, fast_averaging: float = 100.0,
                      halo_depth: float = 0.1, seeing_arcsec: float = 0.8, sky: float | None = None,
                      read_noise: float | None = None, photon_noise: bool = True,
                      coronagraph: bool = False) -> AdiSequence:
    """A seeded synthetic ADI sequence (model and sources in the module docstring).

    Parameters
    ----------
    rotation:
        Total parallactic rotation in degrees; default drawn uniformly in 40-60 from ``seed``.
    declination:
        Star declination in degrees (default beta Pictoris, -51.07).
    hour_angle_center:
        Hour angle (h) at mid-sequence; the span around it is solved for ``rotation``.
    companions:
        ``(separation_px, position_angle_deg, contrast)`` triples; injected (noiseless, before photon noise)
        with flux ``contrast * star_flux``.
    static_nm, quasi_static_nm:
        rms optical path of the fixed and of the AR(1) non-common-path aberrations.
    fast_averaging:
        ``M``, the number of independent atmospheric speckle realisations averaged in a frame.
    halo_depth:
        Halo level inside the AO control radius relative to the uncorrected Moffat.
    photon_noise:
        False: no Poisson and no read noise (for tests of the deterministic parts).

    Returns
    -------
    AdiSequence
        With ``meta["star_flux"]``, ``meta["band"]``, ``meta["truth"]`` (companions with contrast and
        flux, hour angles, altitudes, every parameter and the seed) and, when there are companions,
        ``meta["injections"]`` (as :func:`inject_companions` records them).

    Examples
    --------
    >>> seq = make_adi_sequence(n_frames=20, size=41, seed=3, companions=[(10.0, 30.0, 1e-3)])
    >>> seq.cube.shape, round(float(seq.angles[-1] - seq.angles[0]), 6) == round(seq.meta["truth"]["rotation_deg"], 6)
    ((20, 41, 41), True)
    """
    if band not in BANDS:
        raise ImagingError(f"band must be one of {sorted(BANDS)}, not {band!r}")
    if site not in SITES:
        raise ImagingError(f"site must be one of {sorted(SITES)}, not {site!r}")
    if n_frames < 2 or size < 9:
        raise ImagingError(f"need n_frames >= 2 and size >= 9, got {n_frames}, {size}")
    preset = BANDS[band]
    rng = np.random.default_rng(seed)
    rotation = float(rng.uniform(40.0, 60.0)) if rotation is None else float(rotation)
    if not 0 < rotation < 180:
        raise ImagingError(f"rotation must be in (0, 180) degrees, got {rotation}")
    latitude = SITES[site]
    span = _solve_span(rotation, declination, latitude, hour_angle_center)
    hours = np.linspace(hour_angle_center - span, hour_angle_center + span, n_frames)
    altitude = _altitude(hours, declination, latitude)
    if altitude.min() < 20.0:
        raise ImagingError(f"the track reaches altitude {altitude.min():.0f} deg (< 20: airmass > 2.9)")
    angles = parallactic_angle(hours, declination, latitude)

    lod_px = preset.wavelength_um * 1e-6 / preset.diameter_m * 206264.806 / preset.pixel_scale
    psf, fwhm = airy_psf(lod_px, preset.obstruction)
    flux = preset.star_flux if star_flux is None else float(star_flux)
    s_atm = preset.strehl if strehl is None else float(strehl)
    c = (size - 1) / 2.0
    ap_sum = 1.0 / psf.max()  # template = airy / ap_sum: star core = flux * airy / ap_sum

    xi = (np.arange(_NPUP) + 0.5) / _NPUP - 0.5
    rho_pupil = np.hypot(*np.meshgrid(xi, xi))
    pupil = ((rho_pupil <= 0.5) & (rho_pupil >= preset.obstruction / 2)).astype(np.float64)
    to_rad = 2 * np.pi / (preset.wavelength_um * 1e3)
    screens = _phase_screens(rng, n_frames + 1, pupil)
    quasi = np.empty((n_frames, _NPUP, _NPUP))
    minutes = np.diff(hours) * 60.0 * 0.99727  # sidereal hours -> solar minutes
    quasi[0] = screens[1]
    for k in range(1, n_frames):  # AR(1): stationary unit variance, correlation exp(-dt / tau)
        r = math.exp(-minutes[k - 1] / decorrelation_minutes)
        quasi[k] = r * quasi[k - 1] + math.sqrt(1 - r * r) * screens[k + 1]
    phase = to_rad * (static_nm * screens[0] + quasi_static_nm * quasi)
    field = pupil * np.exp(1j * phase)
    if coronagraph:  # perfect coronagraph: remove the coherent (mean) pupil field
        field = field - pupil * (field.sum(axis=(1, 2)) / pupil.sum())[:, None, None]
    m = _mft_matrix(size, lod_px, c)
    peak0 = pupil.sum() ** 2  # |MFT(P)|^2 at the centre
    coherent = np.abs(np.einsum("ij,kjl,ml->kim", m, field, m, optimize=True)) ** 2 / peak0

    yy, xx = np.indices((size, size))
    radius = np.hypot(yy - c, xx - c)
    beta = 11.0 / 6.0
    seeing_px = seeing_arcsec * (preset.wavelength_um / 0.5) ** -0.2 / preset.pixel_scale
    a = seeing_px / (2 * math.sqrt(2 ** (1 / beta) - 1))
    moffat = (1 + (radius / a) ** 2) ** -beta * (beta - 1) / (math.pi * a**2)  # unit integral
    control = preset.control_radius * lod_px
    depth = halo_depth + (1 - halo_depth) / (1 + np.exp(-(radius - control) / (0.5 * lod_px)))
    airy_total = 4 / (math.pi * (1 - preset.obstruction**2)) * lod_px**2  # integral of the peak-1 Airy
    halo = (1 - s_atm) * airy_total * moffat * depth
    transmission = 1 - np.exp(-math.log(2) * (radius / (0.9 * lod_px)) ** 2) if coronagraph else 1.0
    white = rng.normal(size=(n_frames, _NPUP, _NPUP)) + 1j * rng.normal(size=(n_frames, _NPUP, _NPUP))
    speckle = np.abs(np.einsum("ij,kjl,ml->kim", m, pupil * white, m, optimize=True)) ** 2
    speckle /= 2 * pupil.sum()  # unit mean (exponential statistics)
    fast = 1 + (speckle - 1) / math.sqrt(fast_averaging)
    star = flux / ap_sum * (s_atm * coherent + halo * transmission * fast)

    sequence = AdiSequence(star, angles, psf, preset.pixel_scale, fwhm,
                           meta={"star_flux": flux, "band": band, "wavelength_um": preset.wavelength_um})
    truth_companions: list[dict[str, float]] = []
    if companions:
        seps, pas, contrasts = (np.array(v, dtype=np.float64) for v in zip(*companions, strict=True))
        if (contrasts < 0).any():
            raise ImagingError(f"companion contrasts must be >= 0, got {list(contrasts)}")
        throughput = (1 - np.exp(-math.log(2) * (seps / (0.9 * lod_px)) ** 2)) if coronagraph else 1.0
        sequence = inject_companions(sequence, seps, pas, contrasts * flux * throughput)
        truth_companions = [{"separation_px": float(s), "position_angle_deg": float(p), "contrast": float(q),
                             "flux": float(q * flux)} for s, p, q in zip(seps, pas, contrasts, strict=True)]
    background = preset.sky if sky is None else float(sky)
    noise_rms = preset.read_noise if read_noise is None else float(read_noise)
    cube = sequence.cube
    if photon_noise:
        cube = rng.poisson(np.clip(cube, 0, None) + background).astype(np.float64) - background
        cube += rng.normal(0.0, noise_rms, cube.shape)
    sequence.cube = cube
    parameters: dict[str, Any] = {
        "n_frames": n_frames, "size": size, "band": band, "site": site, "latitude_deg": latitude,
        "declination_deg": declination, "hour_angle_center_h": hour_angle_center, "strehl": s_atm,
        "static_nm": static_nm, "quasi_static_nm": quasi_static_nm, "decorrelation_minutes": decorrelation_minutes,
        "fast_averaging": fast_averaging, "halo_depth": halo_depth, "seeing_arcsec": seeing_arcsec,
        "sky": background, "read_noise": noise_rms, "photon_noise": photon_noise, "coronagraph": coronagraph,
        "lambda_over_d_px": lod_px, "preset": asdict(preset)}
    sequence.meta["truth"] = {"seed": seed, "companions": truth_companions, "rotation_deg": rotation,
                              "hour_angles_h": hours, "altitude_deg": altitude, "parameters": parameters}
    return sequence
