"""Stellar flares: the empirical white-light templates of Davenport et al. (2014) and Mendoza et al. (2022).

Both templates were fitted to Kepler short-cadence flares of the M dwarf GJ 1243.

* ``"davenport2014"``: Davenport et al. (2014, ApJ 797, 122), eqs. 1 and 4: a quartic rise over one
  ``t_1/2`` before the peak and a double-exponential decay. Coefficients as in the authors' code
  (``aflare1`` of github.com/jradavenport/appaloosa, ``appaloosa/aflare.py``); the paper prints them
  rounded (1.941, -0.175, -2.246, -1.125; 0.6890, -1.600, 0.3030, -0.2783).
* ``"mendoza2022"``: Tovar Mendoza et al. (2022, AJ 164, 17), eq. 4: a Gaussian convolved with a double
  exponential, continuous at every order. Constants as in the authors' code (``flare_eqn`` of
  github.com/lupitatovar/Llamaradas-Estelares, ``Flare_model.py``).

Here ``peak_time``, ``fwhm`` and ``amplitude`` are the *measured* peak time, full width at half maximum
and peak height of the returned flare, for both templates, so they are interchangeable. The published
parameterisations differ slightly: the Davenport template in units of ``t_1/2`` has a FWHM of 0.913
``t_1/2``; the Mendoza template peaks at 0.950 ``A``, 0.0026 ``t_1/2`` before its nominal centre, with a
FWHM of 1.087 ``t_1/2``. :func:`template_properties` gives these numbers.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
from numpy.typing import ArrayLike

from qusi_lab.signals._common import evaluate_on_finite_times, require, require_finite, require_positive

FLARE_MODELS: tuple[str, ...] = ("davenport2014", "mendoza2022")

# Davenport et al. (2014) eq. 1 (rise, polynomial in t / t_1/2 for -1 <= t <= 0) and eq. 4 (decay).
DAVENPORT2014_RISE = (1.00000, 1.94053, -0.175084, -2.24588, -1.12498)
DAVENPORT2014_DECAY = (0.689008, -1.60053, 0.302963, -0.278318)

# Mendoza et al. (2022) eq. 4 constants A, B, C, D1, D2, f1 (their MCMC fit; f2 = 1 - f1).
MENDOZA2022_CONSTANTS = (
    0.9687734504375167,
    -0.251299705922117,
    0.22675974948468916,
    0.15551880775110513,
    1.2150539528490194,
    0.12695865022878844,
)

# Far in the decay both templates are below 1e-15 of the peak; no need to integrate exposures there.
_DECAY_EXTENT_FWHM = 150.0


def davenport2014_template(x: np.ndarray) -> np.ndarray:
    """Davenport et al. (2014) template at ``x = (t - t_peak) / t_1/2``: 1 at the peak, 0 before -1."""
    x = np.asarray(x, dtype=np.float64)
    rise = np.polynomial.polynomial.polyval(x, DAVENPORT2014_RISE)
    first, first_rate, second, second_rate = DAVENPORT2014_DECAY
    # Clip the exponent so the unused branch cannot overflow for early times.
    decay_x = np.maximum(x, 0.0)
    decay = first * np.exp(first_rate * decay_x) + second * np.exp(second_rate * decay_x)
    return np.where(x > 0.0, decay, np.where(x >= -1.0, rise, 0.0))


def mendoza2022_template(x: np.ndarray) -> np.ndarray:
    """Mendoza et al. (2022) template at ``x = (t - t_peak) / t_1/2`` (their eq. 4 with amplitude 1).

    Each term ``sqrt(pi)/2 A C f exp(-D x + (B/C + D C/2)^2) erfc(z)`` with ``z = (B - x)/C + C D/2`` is
    rewritten with the scaled ``erfcx(z) = exp(z^2) erfc(z)`` on the rise (``z > 0``), where the
    published form overflows (inf * 0) for times long before the flare.
    """
    from scipy import special

    x = np.asarray(x, dtype=np.float64)
    a, b, c, d1, d2, f1 = MENDOZA2022_CONSTANTS
    total = np.zeros_like(x)
    for rate, fraction in ((d1, f1), (d2, 1.0 - f1)):
        z = (b - x) / c + c * rate / 2.0
        rising = z > 0.0
        term = np.empty_like(x)
        # exp(-D x + (z + x/C)^2 - z^2) simplifies to exp((B^2 - (x - B)^2) / C^2).
        term[rising] = np.exp((b**2 - (x[rising] - b) ** 2) / c**2) * special.erfcx(z[rising])
        term[~rising] = np.exp(-rate * x[~rising] + (b / c + rate * c / 2.0) ** 2) * special.erfc(z[~rising])
        total += 0.5 * np.sqrt(np.pi) * a * c * fraction * term
    return total


_TEMPLATES = {"davenport2014": davenport2014_template, "mendoza2022": mendoza2022_template}


@cache
def template_properties(model: str) -> tuple[float, float, float]:
    """``(peak_x, peak_value, fwhm)`` of a published template in its own units of ``t_1/2``.

    Example
    -------
    >>> [round(value, 4) for value in template_properties("davenport2014")]
    [0.0, 1.0, 0.9129]
    """
    from scipy import optimize

    require(model in _TEMPLATES, f"unknown flare model {model!r}; choose one of {FLARE_MODELS}")
    template = _TEMPLATES[model]

    def value(x: float) -> float:
        return float(template(np.array([x]))[0])

    if model == "davenport2014":
        peak_x = 0.0  # the rise polynomial reaches exactly 1 at x = 0, where the decay takes over
    else:
        peak_x = float(
            optimize.minimize_scalar(
                lambda x: -value(x), bounds=(-0.5, 0.5), method="bounded", options={"xatol": 1e-10}
            ).x
        )
    peak_value = value(peak_x)
    half = 0.5 * peak_value
    start = optimize.brentq(lambda x: value(x) - half, peak_x - 1.0, peak_x, xtol=1e-12)
    end = optimize.brentq(lambda x: value(x) - half, peak_x + 1e-9, peak_x + 5.0, xtol=1e-12)
    return peak_x, peak_value, float(end - start)


def flare(
    time: ArrayLike,
    *,
    peak_time: float,
    fwhm: float,
    amplitude: float,
    model: str = "davenport2014",
    exposure_time: float | None = None,
) -> np.ndarray:
    """Relative flux ``1 + amplitude * template`` of a single classical flare.

    Parameters
    ----------
    time : array_like
        Times (days). NaN times give NaN flux.
    peak_time : float
        Time of the flare maximum (days).
    fwhm : float
        Full width at half maximum of the flare (days).
    amplitude : float
        Peak relative flux increase: the flux at ``peak_time`` is ``1 + amplitude``.
    model : str
        ``"davenport2014"`` (zero before ``peak_time - t_1/2``, kink at the peak) or ``"mendoza2022"``
        (smooth everywhere, with a small Gaussian-shaped onset).
    exposure_time : float, optional
        Exposure of each cadence (days). When given, the flare is averaged over each exposure (flares of
        minutes are smeared and lowered by 30-min cadences); only cadences near the flare are integrated.

    Returns
    -------
    numpy.ndarray
        Relative flux, float64, shape of ``time``.

    Example
    -------
    >>> t = np.array([-0.1, 0.0, 0.01, 0.02])
    >>> flare(t, peak_time=0.0, fwhm=0.01, amplitude=0.5).round(4)
    array([1.    , 1.5   , 1.1974, 1.1097])
    """
    peak_time = require_finite("peak_time", peak_time)
    fwhm = require_positive("fwhm", fwhm)
    amplitude = require_finite("amplitude", amplitude)
    require(model in _TEMPLATES, f"unknown flare model {model!r}; choose one of {FLARE_MODELS}")
    template = _TEMPLATES[model]
    peak_x, peak_value, template_fwhm = template_properties(model)
    # Scale the template's own time unit so that its measured FWHM becomes `fwhm`.
    unit = fwhm / template_fwhm

    def shape(sample_time: np.ndarray) -> np.ndarray:
        return template((sample_time - peak_time) / unit + peak_x) / peak_value

    def evaluate(finite_time: np.ndarray) -> np.ndarray:
        profile = shape(finite_time)
        if exposure_time is not None and exposure_time > 0.0:
            exposure = float(exposure_time)
            # Sub-samples resolve the flare: about 20 per FWHM across the exposure.
            samples = int(min(1001, max(3, math.ceil(20.0 * exposure / fwhm))))
            offsets = ((np.arange(samples) + 0.5) / samples - 0.5) * exposure
            near = (finite_time > peak_time - 3.0 * fwhm - exposure) & (
                finite_time < peak_time + _DECAY_EXTENT_FWHM * fwhm + exposure
            )
            if near.any():
                profile[near] = shape(finite_time[near, np.newaxis] + offsets).mean(axis=1)
        return 1.0 + amplitude * profile

    return evaluate_on_finite_times(time, evaluate)
