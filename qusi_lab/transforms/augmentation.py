"""Random augmentations of (binned, normalised) light curves.

Each augmentation is applied with chance ``probability`` per call and draws
everything from the :class:`numpy.random.Generator` it is given, so the same
generator state gives the same output (seed a pipeline call with
``pipeline(lc, rng=np.random.default_rng(seed))``). They act on the flux of a
curve sampled on a uniform time grid, which is what :class:`BinToLength`
produces and what :func:`make_pipeline` hands them: the time array is kept and
the flux moves across it. NaN flux means "no data" and stays NaN; the final
:class:`FillGaps` fills it. Every applied augmentation records what it drew
in ``meta["augmentations"]`` (e.g. ``'RandomRoll(shift=-812)'``).

:func:`default_augmentation` and why each default is what it is
-----------------------------------------------------------------
``TimeStretch(0.9, 1.1, p=0.3)``
    Periods, durations and heartbeat widths are continuous in nature; a +-10 %
    stretch moves an example a little within that population. Much more would
    change the duration-period relation that separates planets from binaries.
``RandomRoll(max_fraction=1.0, p=1.0)``
    Where in a sector the first transit or periastron falls is arbitrary, so
    the network should not care: a full-range cyclic shift teaches translation
    invariance and is the cheapest, most label-safe augmentation. It joins the
    end of the curve to its start; normalised PDCSAP curves start and end near
    their median, so the join is rarely a visible step.
``Flip(p=0.5)``
    Transits and eclipses are time-symmetric, and a time-reversed heartbeat is
    the heartbeat of an orbit with argument of periastron 180 deg - omega, so
    reversal doubles the examples without changing labels. Set its probability
    to 0 when a class is defined by time asymmetry (flares: fast rise, slow
    decay).
``ScaleFlux(0.8, 1.2, p=0.5)``
    Transit depths and pulsation amplitudes vary continuously; scaling the
    normalised curve around its median by +-20 % keeps the network from keying
    on an exact depth while keeping signals in their physical range.
``AddNoise(std=0.5, units='mad', p=0.5)``
    Adds white noise of half the curve's own robust scatter: total noise grows
    by at most ~12 %, like a star a little fainter, so borderline signals are
    seen at slightly lower signal-to-noise but a detectable signal stays
    detectable (labels stay right).
``CadenceDropout(fraction=0.02, p=0.3)``
    Isolated missing bins, as quality-flagged cadences leave; teaches the
    network that a filled point is not a feature.
``RandomGaps(count=2, max_length_fraction=0.05, p=0.3)``
    Up to two gaps of up to 5 % of the curve (~1.4 days of a sector), like the
    mid-sector downlink gap and momentum dumps. Small on purpose: a long gap
    can erase the only transit and make the label wrong.
"""

from __future__ import annotations

import numpy as np

from qusi_lab.core.robust import robust_scale
from qusi_lab.lightcurve import LightCurve
from qusi_lab.transforms.base import Augmentation, register_transform, with_flux, with_record
from qusi_lab.transforms.pipeline import Pipeline

__all__ = [
    "RandomRoll",
    "Flip",
    "AddNoise",
    "ScaleFlux",
    "CadenceDropout",
    "RandomGaps",
    "TimeStretch",
    "default_augmentation",
]


def _finite(flux: np.ndarray) -> np.ndarray:
    good = np.isfinite(flux)
    return flux if good.all() else flux[good]


def _is_uniform(time: np.ndarray) -> bool:
    """True when ``time`` is evenly spaced (to 1 part in a million of a step)."""
    if time.size < 3:
        return True
    step = (time[-1] - time[0]) / (time.size - 1)
    if not np.isfinite(step):
        return False
    return bool(np.all(np.abs(np.diff(time) - step) <= 1e-6 * abs(step)))


def _range(low: float, high: float, name: str, minimum: float | None = None) -> tuple[float, float]:
    low, high = float(low), float(high)
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise ValueError(f"{name} needs finite low <= high, got low={low!r}, high={high!r}")
    if minimum is not None and low <= minimum:
        raise ValueError(f"{name} needs low > {minimum}, got {low!r}")
    return low, high


def _fraction(value: float, name: str, *, allow_one: bool = True) -> float:
    value = float(value)
    upper_ok = value <= 1.0 if allow_one else value < 1.0
    if not (0.0 <= value and upper_ok):
        raise ValueError(f"{name} must be in [0, 1{']' if allow_one else ')'}, got {value!r}")
    return value


@register_transform
class RandomRoll(Augmentation):
    """Cyclically shift the flux along the (uniform) time grid by a random number of cadences.

    The shift is drawn uniformly from ``[-max_fraction * n, max_fraction * n]``;
    ``max_fraction=1`` allows every shift. Time is kept; flux (and errors) move.

    Example
    -------
    >>> lc = LightCurve(np.arange(4.0), [1.0, 2.0, 3.0, 4.0])
    >>> sorted(RandomRoll()(lc, np.random.default_rng(0)).flux.tolist())
    [1.0, 2.0, 3.0, 4.0]
    """

    def __init__(self, max_fraction: float = 1.0, probability: float = 1.0) -> None:
        self.max_fraction = _fraction(max_fraction, "max_fraction")
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        limit = int(round(self.max_fraction * len(lc)))
        shift = int(rng.integers(-limit, limit + 1)) if limit else 0
        flux_err = None if lc.flux_err is None else np.roll(lc.flux_err, shift)
        return with_flux(
            lc, np.roll(lc.flux, shift), flux_err=flux_err, meta=with_record(lc, f"RandomRoll(shift={shift})")
        )


@register_transform
class Flip(Augmentation):
    """Reverse time: the last flux value comes first.

    On a uniform grid the time array is kept and the flux reversed across it; on
    an uneven grid times are mirrored too (``t -> t_first + t_last - t``).

    Example
    -------
    >>> lc = LightCurve(np.arange(3.0), [1.0, 2.0, 5.0])
    >>> Flip(probability=1.0)(lc, np.random.default_rng()).flux.tolist()
    [5.0, 2.0, 1.0]
    """

    def __init__(self, probability: float = 0.5) -> None:
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        time = lc.time
        if not _is_uniform(time):
            time = time[0] + time[-1] - time[::-1]
        return with_flux(
            lc,
            lc.flux[::-1].copy(),
            time=time,
            flux_err=None if lc.flux_err is None else lc.flux_err[::-1].copy(),
            meta=with_record(lc, "Flip()"),
        )


@register_transform
class AddNoise(Augmentation):
    """Add Gaussian white noise.

    Parameters
    ----------
    std:
        Noise standard deviation, in the units given by ``units``.
    units:
        ``"mad"`` (default): multiples of the curve's own robust scatter
        (1.4826 x median absolute deviation), so the amount is the same whatever
        the normalisation. ``"flux"``: the curve's flux units (after
        ``Normalize('median_mad')`` the two agree).
    probability:
        Chance of being applied per call.

    Flux errors grow in quadrature. NaN fluxes stay NaN.

    Example
    -------
    >>> lc = LightCurve(np.arange(10_000.0), np.zeros(10_000))
    >>> noisy = AddNoise(std=0.1, units="flux", probability=1.0)(lc, np.random.default_rng(0))
    >>> round(float(noisy.flux.std()), 2)
    0.1
    """

    def __init__(self, std: float = 0.5, units: str = "mad", probability: float = 0.5) -> None:
        std = float(std)
        if not (np.isfinite(std) and std >= 0):
            raise ValueError(f"std must be a finite number >= 0, got {std!r}")
        if units not in ("mad", "flux"):
            raise ValueError(f"unknown units {units!r}; choose 'mad' or 'flux'")
        self.std = std
        self.units = units
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        sigma = self.std
        if self.units == "mad":
            finite = _finite(lc.flux)
            scatter = 0.0
            if finite.size:
                scatter = robust_scale(finite)
                if scatter == 0.0:  # more than half the points equal: fall back to the standard deviation
                    scatter = float(finite.std())
            sigma = self.std * scatter
        flux = lc.flux + rng.normal(0.0, sigma, lc.flux.size) if sigma > 0 else lc.flux
        flux_err = None if lc.flux_err is None else np.sqrt(lc.flux_err**2 + sigma**2)
        return with_flux(lc, flux, flux_err=flux_err, meta=with_record(lc, f"AddNoise(sigma={sigma:.4g})"))


@register_transform
class ScaleFlux(Augmentation):
    """Multiply the flux's deviations from its median by a factor drawn uniformly from ``[low, high]``.

    ``flux -> median + factor * (flux - median)``: depths and amplitudes scale,
    the baseline stays. Flux errors scale by the factor.

    Example
    -------
    >>> lc = LightCurve(np.arange(3.0), [0.0, 0.0, -1.0])
    >>> ScaleFlux(low=2.0, high=2.0, probability=1.0)(lc, np.random.default_rng()).flux.tolist()
    [0.0, 0.0, -2.0]
    """

    def __init__(self, low: float = 0.8, high: float = 1.2, probability: float = 0.5) -> None:
        self.low, self.high = _range(low, high, "ScaleFlux", minimum=0.0)
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        factor = float(rng.uniform(self.low, self.high))
        finite = _finite(lc.flux)
        median = float(np.median(finite)) if finite.size else 0.0
        flux = median + factor * (lc.flux - median)
        flux_err = None if lc.flux_err is None else lc.flux_err * factor
        return with_flux(
            lc, flux, flux_err=flux_err, meta=with_record(lc, f"ScaleFlux(factor={factor:.4g})")
        )


@register_transform
class CadenceDropout(Augmentation):
    """Set each cadence's flux to NaN independently with chance ``fraction`` (FillGaps fills them later).

    Example
    -------
    >>> lc = LightCurve(np.arange(10_000.0), np.zeros(10_000))
    >>> out = CadenceDropout(fraction=0.1, probability=1.0)(lc, np.random.default_rng(0))
    >>> round(float(np.isnan(out.flux).mean()), 2)
    0.1
    """

    def __init__(self, fraction: float = 0.02, probability: float = 0.3) -> None:
        self.fraction = _fraction(fraction, "fraction", allow_one=False)
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        dropped = rng.random(lc.flux.size) < self.fraction
        flux = lc.flux.copy()
        flux[dropped] = np.nan
        flux_err = None
        if lc.flux_err is not None:
            flux_err = lc.flux_err.copy()
            flux_err[dropped] = np.nan
        count = int(dropped.sum())
        return with_flux(
            lc, flux, flux_err=flux_err, meta=with_record(lc, f"CadenceDropout(dropped={count})")
        )


@register_transform
class RandomGaps(Augmentation):
    """Blank ``count`` contiguous stretches of flux (set to NaN), each 1 to ``max_length_fraction * n`` cadences.

    Lengths and start positions are uniform; gaps may overlap.

    Example
    -------
    >>> lc = LightCurve(np.arange(100.0), np.zeros(100))
    >>> out = RandomGaps(count=1, max_length_fraction=0.1, probability=1.0)(lc, np.random.default_rng(0))
    >>> 1 <= int(np.isnan(out.flux).sum()) <= 10
    True
    """

    def __init__(self, count: int = 2, max_length_fraction: float = 0.05, probability: float = 0.3) -> None:
        if isinstance(count, bool) or int(count) != count or int(count) < 0:
            raise ValueError(f"count must be an integer >= 0, got {count!r}")
        self.count = int(count)
        self.max_length_fraction = _fraction(max_length_fraction, "max_length_fraction")
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        size = lc.flux.size
        if self.count == 0 or size == 0:
            return lc
        longest = min(size, max(1, int(round(self.max_length_fraction * size))))
        lengths = rng.integers(1, longest + 1, size=self.count)
        starts = rng.integers(0, size - lengths + 1)
        flux = lc.flux.copy()
        flux_err = None if lc.flux_err is None else lc.flux_err.copy()
        for start, length in zip(starts.tolist(), lengths.tolist(), strict=True):
            flux[start : start + length] = np.nan
            if flux_err is not None:
                flux_err[start : start + length] = np.nan
        description = ", ".join(f"{s}:{s + n}" for s, n in zip(starts.tolist(), lengths.tolist(), strict=True))
        return with_flux(lc, flux, flux_err=flux_err, meta=with_record(lc, f"RandomGaps({description})"))


@register_transform
class TimeStretch(Augmentation):
    """Stretch the curve in time about its centre by a factor drawn uniformly from ``[low, high]``.

    The flux is resampled by linear interpolation onto the same time grid, so
    the length is unchanged: a factor above 1 widens features (and crops the
    ends), below 1 narrows them (the uncovered ends become NaN gaps for
    :class:`FillGaps`). A feature of width ``w`` becomes ``factor * w`` wide;
    periods scale alike.

    Example
    -------
    >>> lc = LightCurve(np.arange(9.0), [0, 0, 0, 0, -1, 0, 0, 0, 0])
    >>> out = TimeStretch(low=2.0, high=2.0, probability=1.0)(lc, np.random.default_rng())
    >>> out.flux.tolist()
    [0.0, 0.0, 0.0, -0.5, -1.0, -0.5, 0.0, 0.0, 0.0]
    """

    def __init__(self, low: float = 0.9, high: float = 1.1, probability: float = 0.3) -> None:
        self.low, self.high = _range(low, high, "TimeStretch", minimum=0.0)
        super().__init__(probability)

    def apply(self, lc: LightCurve, rng: np.random.Generator) -> LightCurve:
        factor = float(rng.uniform(self.low, self.high))
        time = lc.time
        if not np.isfinite(time).all():
            time = np.arange(time.size, dtype=np.float64)
        center = 0.5 * (time[0] + time[-1])
        source = center + (time - center) * (1.0 / factor)
        flux = np.interp(source, time, lc.flux, left=np.nan, right=np.nan)
        flux_err = None
        if lc.flux_err is not None:
            flux_err = np.interp(source, time, lc.flux_err, left=np.nan, right=np.nan)
        return with_flux(
            lc, flux, flux_err=flux_err, meta=with_record(lc, f"TimeStretch(factor={factor:.4g})")
        )


def default_augmentation() -> Pipeline:
    """The default training augmentation (see the module docstring for why each value).

    Example
    -------
    >>> default_augmentation()
    Pipeline([
        TimeStretch(low=0.9, high=1.1, probability=0.3),
        RandomRoll(max_fraction=1.0, probability=1.0),
        Flip(probability=0.5),
        ScaleFlux(low=0.8, high=1.2, probability=0.5),
        AddNoise(std=0.5, units='mad', probability=0.5),
        CadenceDropout(fraction=0.02, probability=0.3),
        RandomGaps(count=2, max_length_fraction=0.05, probability=0.3),
    ])
    """
    return Pipeline(
        [
            TimeStretch(low=0.9, high=1.1, probability=0.3),
            RandomRoll(max_fraction=1.0, probability=1.0),
            Flip(probability=0.5),
            ScaleFlux(low=0.8, high=1.2, probability=0.5),
            AddNoise(std=0.5, units="mad", probability=0.5),
            CadenceDropout(fraction=0.02, probability=0.3),
            RandomGaps(count=2, max_length_fraction=0.05, probability=0.3),
        ]
    )
