"""Deterministic preprocessing: from a raw light curve to a fixed-length, normalised, gap-free curve.

The default, :func:`default_preprocessing`, is::

    RemoveNonFinite(min_cadences=10) -> BinToLength(length=2048) -> Detrend(window_days=2.0)
        -> Normalize(method='median_mad') -> AsinhStretch(scale=5.0) -> FillGaps()

**Why binning to a length, not cropping.** qusi feeds the network the first
3,500 cadences of a light curve (padding shorter ones by repetition). At TESS's
2-minute cadence that is about 4.9 days of a ~27-day sector: a planet whose
transits all fall after day 5, a heartbeat star whose periastron passage comes
on day 20 or an eclipsing binary with a 10-day period is invisible to the
network, and the label attached to the file is then wrong for what the network
saw. :class:`BinToLength` instead averages the whole curve into
``DEFAULT_INPUT_LENGTH = 2048`` equal-width time bins (~19 minutes for a TESS
sector, still shorter than the ~1-13 hour transits and day-long heartbeat
events this package looks for), so every cadence contributes and averaging
improves the per-point signal-to-noise by the square root of the number of
cadences per bin (~3.1 at 2-minute, ~7.6 at 20-second cadence). 2048 bins train
as well as 4096 in less time: in 5 minutes on 2 cores, 3,000 steps instead of
2,000 and a better transit classifier (``benchmarks/README.md``, "Quality"). Empty bins (the
mid-sector downlink gap, quality-flagged stretches, or sparse 10/30-minute FFI
cadences) become NaN and are filled last by :class:`FillGaps`. The qusi-style
window is still available as :class:`CropOrPad`.

**What is refused, not scored.** :class:`RemoveNonFinite` raises
:class:`~qusi_lab.errors.LightCurveError` naming the file for a curve with fewer than
``MIN_VALID_CADENCES = 10`` cadences with a finite time and flux, or whose flux is constant
(all zero, say): binned and normalised, such a curve becomes a flat or step-shaped line whose
score means nothing. Training then skips the file as one of the dataset's problems and
inference lists it in ``table.problems`` instead of ranking it.

Normalising after binning means the binned curve's own scatter sets the scale
(``median_mad``: median 0, robust standard deviation 1), so the network sees
signals in units of the noise whatever the star's brightness or the cadence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qusi_lab.core.robust import fast_median
from qusi_lab.core.running_median import running_median
from qusi_lab.defaults import DEFAULT_INPUT_LENGTH
from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import NORMALIZE_METHODS, LightCurve, normalization_constants
from qusi_lab.transforms.base import Transform, register_transform, with_flux
from qusi_lab.transforms.pipeline import Pipeline

__all__ = [
    "DEFAULT_INPUT_LENGTH",
    "MIN_VALID_CADENCES",
    "RemoveNonFinite",
    "BinToLength",
    "Normalize",
    "Detrend",
    "running_median",
    "AsinhStretch",
    "CropOrPad",
    "FillGaps",
    "default_preprocessing",
    "heartbeat_preprocessing",
]

# DEFAULT_INPUT_LENGTH lives in qusi_lab.defaults (models need it too); re-exported here, where it always was.


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _positive_float(value: Any, name: str, what: str = "a positive number") -> float:
    number = float(value)
    if not (np.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be {what}, got {number!r}")
    return number


def _choice(value: str, name: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {options}")
    return value


#: The fewest cadences with a finite time and flux that :class:`RemoveNonFinite` lets through by default.
#: Below that a curve has no shape for a network to judge: binned to 2,048 points, 1-9 real measurements
#: become a few steps (or one flat level) padded by interpolation, and its score would be ranked among
#: real stars as if it meant something. 10 cadences are 20 minutes at TESS's 2-minute cadence.
MIN_VALID_CADENCES = 10


@register_transform
class RemoveNonFinite(Transform):
    """Drop cadences whose time or flux is NaN or infinite, and refuse curves with nothing to score.

    It is the first step of :func:`default_preprocessing`, so what it refuses is
    refused alike by training (the file becomes one of the dataset's problems)
    and inference (listed in ``table.problems``, never ranked).

    Parameters
    ----------
    min_cadences:
        The fewest cadences with a finite time and flux a curve must keep; fewer raise
        :class:`~qusi_lab.errors.LightCurveError` ("too few valid cadences"). Default
        :data:`MIN_VALID_CADENCES` (10). ``1`` accepts any non-empty curve.
    allow_constant:
        Accept a curve whose valid fluxes are all equal (all zero, say: a dead pixel
        or a placeholder file). By default it raises ("flux is constant"): such a
        curve has no variation to score and normalises to a flat line.

    Raises :class:`~qusi_lab.errors.LightCurveError` (naming the file) when no
    cadence is left, too few are, or the flux is constant.

    Example
    -------
    >>> lc = LightCurve(np.arange(12.0), [1.0, np.nan, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0])
    >>> RemoveNonFinite()(lc, np.random.default_rng()).flux.tolist()
    [1.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0]
    >>> RemoveNonFinite()(lc[:4], np.random.default_rng())
    Traceback (most recent call last):
    ...
    qusi_lab.errors.LightCurveError: too few valid cadences: 3 (need at least 10 with a finite time and flux)
    """

    #: The output flux does not depend on the flux errors (``Pipeline.to_array`` then drops them).
    flux_ignores_errors = True

    def __init__(self, min_cadences: int = MIN_VALID_CADENCES, allow_constant: bool = False) -> None:
        self.min_cadences = _positive_int(min_cadences, "min_cadences")
        self.allow_constant = bool(allow_constant)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        keep = np.isfinite(lc.time) & np.isfinite(lc.flux)
        everything = bool(keep.all())
        flux = lc.flux if everything else lc.flux[keep]
        if flux.size == 0:
            raise LightCurveError(
                "no cadence has both a finite time and a finite flux (all NaN or infinite?)", lc.path
            )
        if flux.size < self.min_cadences:
            raise LightCurveError(
                f"too few valid cadences: {flux.size} (need at least {self.min_cadences} with a finite time "
                "and flux)",
                lc.path,
            )
        if not self.allow_constant and not (flux != flux[0]).any():
            level = "0 (all zero)" if flux[0] == 0 else repr(float(flux[0]))
            raise LightCurveError(
                f"flux is constant: every valid cadence is {level}, so there is no variation to score", lc.path
            )
        if everything:
            return lc
        return with_flux(
            lc,
            flux,
            time=lc.time[keep],
            flux_err=None if lc.flux_err is None else lc.flux_err[keep],
        )


_BIN_OFFSETS: dict[int, np.ndarray] = {}


def _bin_offsets(length: int) -> np.ndarray:
    """``np.arange(length) + 0.5`` (bin centres in bin widths), read-only, kept per length: every curve
    of a run is binned to the same length, so it is built once, not per curve.

    >>> _bin_offsets(3).tolist()
    [0.5, 1.5, 2.5]
    """
    offsets = _BIN_OFFSETS.get(length)
    if offsets is None:
        offsets = np.arange(length) + 0.5
        offsets.flags.writeable = False
        if len(_BIN_OFFSETS) < 16:  # a few lengths at most in one process; never grows without bound
            _BIN_OFFSETS[length] = offsets
    return offsets


@register_transform
class BinToLength(Transform):
    """Average the curve into ``length`` equal-width time bins spanning its first to last cadence.

    Bin times are the bin centres; empty bins get NaN flux (fill them with
    :class:`FillGaps`); flux errors combine as ``sqrt(sum err^2) / n``;
    ``meta["cadence"]`` becomes the bin width. Non-finite cadences are ignored.

    Parameters
    ----------
    length:
        Number of bins (the network's input length).
    span:
        Optional fixed span in days: bins then cover ``[first time, first time + span)``
        (width ``span / length``) and later cadences are dropped. Use it to give
        every curve the same bin width, e.g. when mixing 27-day TESS sectors with
        90-day Kepler quarters; by default each curve's own span is used.

    Example
    -------
    >>> lc = LightCurve(np.arange(8.0), np.arange(8.0))
    >>> BinToLength(length=4)(lc, np.random.default_rng()).flux.tolist()
    [0.5, 2.5, 4.5, 6.5]
    """

    #: The output flux does not depend on the flux errors (``Pipeline.to_array`` then drops them).
    flux_ignores_errors = True

    def __init__(self, length: int = DEFAULT_INPUT_LENGTH, span: float | None = None) -> None:
        self.length = _positive_int(length, "length")
        if span is not None:
            span = float(span)
            if not span > 0:
                raise ValueError(f"span must be positive (days), got {span!r}")
        self.span = span

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        time, flux, flux_err = lc.time, lc.flux, lc.flux_err
        finite = np.isfinite(time) & np.isfinite(flux)
        if not finite.all():
            time, flux = time[finite], flux[finite]
            flux_err = None if flux_err is None else flux_err[finite]
        if time.size == 0:
            raise LightCurveError("cannot bin: no finite cadences", lc.path)
        length = self.length
        start = float(time.min())
        if self.span is not None:
            width = self.span / length
        else:
            stop = float(time.max())
            width = (stop - start) / length if stop > start else 1.0 / length
        scaled = time - start
        scaled *= 1.0 / width  # in place: one fewer large temporary on the hot path
        index = scaled.astype(np.intp)
        if self.span is not None:
            inside = index < length
            if not inside.all():
                index, flux = index[inside], flux[inside]
                flux_err = None if flux_err is None else flux_err[inside]
        else:
            # The last cadence sits exactly on the right edge: put it in the last bin.
            np.minimum(index, length - 1, out=index)
        counts = np.bincount(index, minlength=length)
        sums = np.bincount(index, weights=flux, minlength=length)
        empty = counts == 0
        counts[empty] = 1
        binned = sums / counts
        binned[empty] = np.nan
        binned_err = None
        if flux_err is not None:
            binned_err = np.sqrt(np.bincount(index, weights=flux_err * flux_err, minlength=length)) / counts
            binned_err[empty] = np.nan
        centers = start + _bin_offsets(length) * width
        meta = dict(lc.meta)
        meta["cadence"] = width
        return with_flux(lc, binned, time=centers, flux_err=binned_err, meta=meta)


@register_transform
class Normalize(Transform):
    """Normalise the flux as ``(flux - offset) / scale``, ignoring NaNs; flux errors scale alike.

    Methods (see :func:`qusi_lab.lightcurve.normalization_constants`):
    ``median_mad`` (default: median 0, robust sigma 1; robust to transits and
    flares), ``median`` (relative flux around 1), ``standard`` (mean 0, std 1),
    ``minmax`` (flux in [0, 1]). Sets ``meta["normalization"]``.

    Example
    -------
    >>> lc = LightCurve([0.0, 1.0, 2.0], [10.0, 20.0, 30.0])
    >>> Normalize(method="median")(lc, np.random.default_rng()).flux.tolist()
    [0.5, 1.0, 1.5]
    """

    #: The output flux does not depend on the flux errors (``Pipeline.to_array`` then drops them).
    flux_ignores_errors = True

    def __init__(self, method: str = "median_mad") -> None:
        self.method = _choice(method, "normalisation method", NORMALIZE_METHODS)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        try:
            offset, scale = normalization_constants(lc.flux, self.method)
        except LightCurveError as error:
            raise LightCurveError(error.reason, lc.path) from None
        flux = (lc.flux - offset) * (1.0 / scale)
        flux_err = None if lc.flux_err is None else lc.flux_err * (1.0 / abs(scale))
        meta = dict(lc.meta)
        meta["normalization"] = self.method
        return with_flux(lc, flux, flux_err=flux_err, meta=meta)


@register_transform
class Detrend(Transform):
    """Remove slow variations: subtract a running median ``window_days`` wide (the level is kept).

    Stellar rotation, quasi-periodic spot evolution and the slow systematics PDC leaves behind
    vary over days; transits last hours. A running median over a window several times longer
    than a transit follows the former and ignores the latter (a dip covering less than half of
    the window barely moves a median), so ``flux - trend + median(trend)`` keeps transits,
    eclipses and flares at full depth on a flat baseline, as astronomers detrend before a
    transit search. Signals as long as the window (heartbeat-star brightenings of a day or
    more, long eclipses) are partly removed too: keep the window well above the longest event
    the network must see.

    The window is counted in samples from the median time step, so apply it to an evenly
    sampled curve (after :class:`BinToLength`, whose empty bins are NaN and keep the grid even).
    NaN fluxes are bridged by interpolation for the median and stay NaN.

    Parameters
    ----------
    window_days:
        Width of the running median in days (the units of ``lc.time``).

    Example
    -------
    >>> time = np.arange(0.0, 10.0, 0.01)
    >>> flux = 100.0 + 2.0 * np.sin(2 * np.pi * time / 8.0)              # slow rotation, 4 peak to peak
    >>> flux[(time > 4.0) & (time < 4.1)] -= 1.0                          # a 2.4-hour dip
    >>> flat = Detrend(window_days=1.0)(LightCurve(time, flux), np.random.default_rng()).flux
    >>> baseline = flat[(time < 3.5) | (time > 4.6)]
    >>> round(float(np.ptp(baseline)), 1), round(float(flat[405] - np.median(baseline)), 1)
    (0.1, -0.9)
    """

    #: The output flux does not depend on the flux errors (``Pipeline.to_array`` then drops them).
    flux_ignores_errors = True

    def __init__(self, window_days: float = 1.0) -> None:
        self.window_days = _positive_float(window_days, "window_days", "a positive number of days")

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        flux = lc.flux
        good = np.isfinite(flux)
        if good.sum() < 3:
            return lc
        filled = flux
        if not good.all():
            positions = np.arange(flux.size, dtype=np.float64)
            filled = flux.copy()
            filled[~good] = np.interp(positions[~good], positions[good], flux[good])
        finite_time = lc.time[np.isfinite(lc.time)]
        steps = np.diff(finite_time)
        step = fast_median(steps, overwrite=True) if steps.size else 0.0
        if not step > 0:
            return lc
        size = int(round(self.window_days / step))
        size = min(max(3, size | 1), flux.size if flux.size % 2 else flux.size - 1)
        if size < 3:
            return lc
        trend = running_median(filled, size)
        level = fast_median(trend[good], overwrite=True)
        return with_flux(lc, flux - (trend - level), flux_err=lc.flux_err)


@register_transform
class AsinhStretch(Transform):
    """Compress large excursions: ``flux -> scale * asinh(flux / scale)``; flux errors follow.

    Apply it after ``Normalize('median_mad')``, when the flux is in units of the curve's robust
    noise. Within about ``scale`` of zero the curve is unchanged (a 3-sigma transit keeps 94 % of
    its depth with the default 5); beyond, values grow logarithmically, so a 500-sigma eclipse
    becomes -26 instead of -500. The order of values is kept (the stretch is monotonic) and
    deep eclipses still stand out, but they no longer dominate the batch-normalisation
    statistics and the gradients of a network that must also notice dips of a few sigma.
    (Lupton, Gunn & Szalay 1999 introduced the asinh stretch for astronomical fluxes.)

    Parameters
    ----------
    scale:
        Where the stretch turns from linear to logarithmic, in flux units.

    Example
    -------
    >>> lc = LightCurve([0.0, 1.0, 2.0], [-500.0, -3.0, 0.5])
    >>> AsinhStretch(scale=5.0)(lc, np.random.default_rng()).flux.round(2).tolist()
    [-26.49, -2.84, 0.5]
    """

    #: The output flux does not depend on the flux errors (``Pipeline.to_array`` then drops them).
    flux_ignores_errors = True

    def __init__(self, scale: float = 5.0) -> None:
        self.scale = _positive_float(scale, "scale")

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        ratio = lc.flux * (1.0 / self.scale)
        flux = self.scale * np.arcsinh(ratio)
        flux_err = None if lc.flux_err is None else lc.flux_err / np.sqrt(1.0 + ratio * ratio)
        return with_flux(lc, flux, flux_err=flux_err)


@register_transform
class CropOrPad(Transform):
    """qusi-style fixed length: keep a window of ``length`` cadences, or pad a shorter curve.

    qusi uses the first 3,500 cadences (about 5 days of a TESS sector) for
    evaluation and a random window for training; :class:`BinToLength` is the
    default here because it keeps the whole curve.

    Parameters
    ----------
    length:
        Output length in cadences.
    mode:
        Where the window of a longer curve sits (and where a shorter curve sits
        in the padded output): ``"random"`` (drawn from the generator; padding
        goes at the end), ``"start"``, or ``"center"``.
    pad:
        How a shorter curve is padded: ``"wrap"`` repeats the curve cyclically
        (qusi's choice), ``"zero"`` pads with flux 0 (the median after
        ``Normalize('median_mad')``), ``"nan"`` pads with gaps for
        :class:`FillGaps`. Padded cadences get times continuing at the median
        time step.

    Example
    -------
    >>> lc = LightCurve(np.arange(5.0), [1.0, 2.0, 3.0, 4.0, 5.0])
    >>> CropOrPad(length=3, mode="start")(lc, np.random.default_rng()).flux.tolist()
    [1.0, 2.0, 3.0]
    >>> CropOrPad(length=7, mode="start", pad="wrap")(lc, np.random.default_rng()).flux.tolist()
    [1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0]
    """

    #: The output flux does not depend on the flux errors (``Pipeline.to_array`` then drops them).
    flux_ignores_errors = True

    def __init__(self, length: int = DEFAULT_INPUT_LENGTH, mode: str = "random", pad: str = "wrap") -> None:
        self.length = _positive_int(length, "length")
        self.mode = _choice(mode, "mode", ("random", "start", "center"))
        self.pad = _choice(pad, "pad", ("wrap", "zero", "nan"))

    @property
    def deterministic(self) -> bool:
        return self.mode != "random"

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        size, length = len(lc), self.length
        if size == 0:
            raise LightCurveError("cannot crop or pad an empty light curve", lc.path)
        if size >= length:
            if self.mode == "start":
                first = 0
            elif self.mode == "center":
                first = (size - length) // 2
            else:
                first = int(rng.integers(0, size - length + 1))
            return lc[first : first + length]
        left = (length - size) // 2 if self.mode == "center" else 0
        positions = np.arange(length) - left
        inside = (positions >= 0) & (positions < size)
        clipped = np.clip(positions, 0, size - 1)
        if self.pad == "wrap":
            flux = lc.flux[positions % size]
            flux_err = None if lc.flux_err is None else lc.flux_err[positions % size]
        else:
            flux = np.where(inside, lc.flux[clipped], 0.0 if self.pad == "zero" else np.nan)
            flux_err = None if lc.flux_err is None else np.where(inside, lc.flux_err[clipped], np.nan)
        steps = np.diff(lc.time)
        step = float(np.median(steps)) if steps.size else float(lc.meta.get("cadence") or 1.0)
        time = lc.time[clipped] + (positions - clipped) * step
        return with_flux(lc, flux, time=time, flux_err=flux_err)


@register_transform
class FillGaps(Transform):
    """Replace NaN/infinite fluxes so the array is all finite.

    Parameters
    ----------
    value:
        Fill value for ``method="constant"``, and for a curve with no finite flux at all.
    method:
        ``"interpolate"`` (default): linear in time between the nearest finite
        neighbours, with leading/trailing gaps taking the nearest finite value;
        this keeps a transit's shape when sparse (10/30-minute) cadences leave
        every other bin empty. ``"constant"``: ``value`` everywhere (0 is the
        median after ``Normalize('median_mad')``).

    Flux errors of filled cadences stay NaN: nothing was measured there.

    Example
    -------
    >>> lc = LightCurve([0.0, 1.0, 2.0, 3.0], [np.nan, 1.0, np.nan, 3.0])
    >>> FillGaps()(lc, np.random.default_rng()).flux.tolist()
    [1.0, 1.0, 2.0, 3.0]
    >>> FillGaps(value=0.0, method="constant")(lc, np.random.default_rng()).flux.tolist()
    [0.0, 1.0, 0.0, 3.0]
    """

    #: The output flux does not depend on the flux errors (``Pipeline.to_array`` then drops them).
    flux_ignores_errors = True

    def __init__(self, value: float = 0.0, method: str = "interpolate") -> None:
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"value must be finite, got {value!r}")
        self.value = value
        self.method = _choice(method, "method", ("interpolate", "constant"))

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        good = np.isfinite(lc.flux)
        if good.all():
            return lc
        flux = lc.flux.copy()
        bad = ~good
        if self.method == "constant" or not good.any():
            flux[bad] = self.value
        else:
            # Interpolate in time when every time is usable, else by cadence index.
            axis = lc.time if np.isfinite(lc.time).all() else np.arange(flux.size, dtype=np.float64)
            flux[bad] = np.interp(axis[bad], axis[good], flux[good])
        return with_flux(lc, flux, flux_err=lc.flux_err)


#: Running-median window of the default :class:`Detrend` (days): 8 to 48 times a 1-6-hour transit,
#: short enough to follow rotation with periods of a few days.
DEFAULT_DETREND_DAYS = 2.0
#: Where the default :class:`AsinhStretch` turns logarithmic (in units of the robust noise).
DEFAULT_STRETCH_SCALE = 5.0


def default_preprocessing(
    input_length: int = DEFAULT_INPUT_LENGTH, *, detrend_days: float | None = DEFAULT_DETREND_DAYS
) -> Pipeline:
    """The default preprocessing: whole curve binned, detrended, robustly normalised, stretched, gaps filled.

    Each step earns its place on the synthetic TESS sector (``benchmarks/quality.py``; validation
    AUC of a Hadryss transit classifier, planets vs everything else, 1024 bins, 2,000 steps):
    binning and ``median_mad`` alone give 0.84; adding :class:`Detrend` (2-day running median:
    stellar rotation and residual systematics out, transits and eclipses kept) and
    :class:`AsinhStretch` (50 % deep eclipses no longer drown 1,000 ppm transits) gives 0.93.
    Signals lasting a day or more are another matter: for heartbeat stars use
    :func:`heartbeat_preprocessing` (no detrending).

    Parameters
    ----------
    input_length:
        Number of time bins the curve is averaged into (the network's input length).
    detrend_days:
        Window of the running-median :class:`Detrend` in days; ``None`` leaves the step out.

    Example
    -------
    >>> default_preprocessing()
    Pipeline([
        RemoveNonFinite(min_cadences=10, allow_constant=False),
        BinToLength(length=2048, span=None),
        Detrend(window_days=2.0),
        Normalize(method='median_mad'),
        AsinhStretch(scale=5.0),
        FillGaps(value=0.0, method='interpolate'),
    ])
    """
    detrend = [] if detrend_days is None else [Detrend(window_days=detrend_days)]
    return Pipeline(
        [
            RemoveNonFinite(min_cadences=MIN_VALID_CADENCES),
            BinToLength(length=input_length),
            *detrend,
            Normalize(method="median_mad"),
            AsinhStretch(scale=DEFAULT_STRETCH_SCALE),
            FillGaps(value=0.0, method="interpolate"),
        ]
    )


def heartbeat_preprocessing(input_length: int = DEFAULT_INPUT_LENGTH) -> Pipeline:
    """The preprocessing of heartbeat-star classifiers: :func:`default_preprocessing` without :class:`Detrend`.

    A periastron passage lasts ``~P (1 - e)^1.5 / (2 pi)``: half a day to several days for the
    2.5-100-day orbits of the physical sky (:mod:`qusi_lab.synthetic.physical`). A 2-day running
    median removes most of a passage that long (a fifth of the heartbeat stars of SNR >= 10 kept
    less than 40 % of their signal) and turns a 5-10-day spotted star into isolated bumps that look
    like passages: on that sky the default-detrended Hadryss scored test AUC 0.917 and found 64 % of
    the heartbeat stars of SNR >= 10 at a 1 % false-positive rate; without the detrending, 0.958 and
    73 % (same sectors, 3,000 steps; a 6-day window gave 0.960 and 71 %). The network sees the
    rotation whole and learns it is not a heartbeat.

    Example
    -------
    >>> heartbeat_preprocessing(1024)
    Pipeline([
        RemoveNonFinite(min_cadences=10, allow_constant=False),
        BinToLength(length=1024, span=None),
        Normalize(method='median_mad'),
        AsinhStretch(scale=5.0),
        FillGaps(value=0.0, method='interpolate'),
    ])
    """
    return default_preprocessing(input_length, detrend_days=None)
