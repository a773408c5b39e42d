"""The TESS noise model and the signal-to-noise ratio of a known signal in it.

The 1-hour photometric precision of a star of TESS magnitude T is the polynomial fit of
Stassun et al. (2018, AJ 156, 102, section 3.3.3; the TESS Input Catalog paper, built on
the noise simulations of Sullivan et al. 2015, ApJ 809, 77)::

    ln(sigma_1h / ppm) = 3.29685 + 0.850021 T - 0.285042 T^2 + 0.0395908 T^3
                         - 0.00223080 T^4 + 4.73508e-5 T^5

(~94 ppm at T = 8, ~200 ppm at T = 10, ~5,200 ppm at T = 15), scaled to other
cadences as ``sigma_1h * sqrt(60 min / cadence)``. Fluxes use the TESS zero point of
~15,000 e-/s at T = 10 (Vanderspek et al. 2018, TESS Instrument Handbook). Red noise is a
damped random walk (an Ornstein-Uhlenbeck process) with a characteristic timescale.

Example
-------
>>> round(float(tess_noise_ppm(10.0)))
203
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["TESS_ZERO_POINT_FLUX", "matched_filter_snr", "tess_flux_from_magnitude", "tess_noise_ppm"]

#: TESS zero point: e-/s collected from a T = 10 star (Vanderspek et al. 2018).
TESS_ZERO_POINT_FLUX = 15000.0


def tess_noise_ppm(tess_mag: float | np.ndarray, cadence_minutes: float = 60.0) -> Any:
    """Expected white-noise scatter (ppm per cadence) of a star of TESS magnitude ``tess_mag``.

    The 1-hour precision of Stassun et al. (2018), scaled as 1/sqrt(cadence). Magnitudes are
    clipped to 4-16.5, where the fit holds (brighter stars saturate; fainter are sky-limited).

    Example
    -------
    >>> round(float(tess_noise_ppm(10.0)))          # 1-hour precision at T = 10
    203
    >>> round(float(tess_noise_ppm(10.0, 2.0)))     # per 2-minute cadence
    1109
    """
    magnitude = np.clip(np.asarray(tess_mag, dtype=np.float64), 4.0, 16.5)
    log_sigma = (
        3.29685004771
        + 0.850021465753 * magnitude
        - 0.285041632435 * magnitude**2
        + 0.0395908321369 * magnitude**3
        - 0.0022308015894 * magnitude**4
        + 4.73508403525e-5 * magnitude**5
    )
    result = np.exp(log_sigma) * np.sqrt(60.0 / float(cadence_minutes))
    return float(result) if result.ndim == 0 else result


def tess_flux_from_magnitude(tess_mag: float | np.ndarray) -> Any:
    """Flux in e-/s collected from a star of TESS magnitude ``tess_mag`` (15,000 e-/s at T = 10).

    Example
    -------
    >>> tess_flux_from_magnitude(10.0), tess_flux_from_magnitude(12.5)
    (15000.0, 1500.0)
    """
    result = TESS_ZERO_POINT_FLUX * 10.0 ** (-0.4 * (np.asarray(tess_mag, dtype=np.float64) - 10.0))
    return float(np.round(result, 6)) if np.ndim(result) == 0 else result


def _brightness_factor(tess_mag: float) -> float:
    """How much brighter the sky background is relative to a star of ``tess_mag`` than to a T = 10 star."""
    return min(30.0, 10.0 ** (0.4 * (tess_mag - 10.0)))


def matched_filter_snr(
    signal: np.ndarray,
    time: np.ndarray,
    white_sigma: float | np.ndarray,
    red_amplitude: float = 0.0,
    red_timescale: float = 1.0,
) -> float:
    """Signal-to-noise ratio of a known signal in white plus red (damped-random-walk) noise.

    ``sqrt(s^T C^-1 s)``: what a matched filter that knows the signal's shape achieves, with the
    noise covariance ``C = diag(white_sigma^2) + red_amplitude^2 exp(-|t_i - t_j| / red_timescale)``.
    This is the signal-to-noise ratio transit searches quote (the TESS and Kepler pipelines
    whiten the data with the noise measured on the transit's own timescale, the CDPP): red
    noise does not average down over the hours of a transit or the day of a heartbeat-star
    brightening, so it counts in full, unlike in ``sqrt(sum(s^2)) / sigma``.

    The damped random walk's precision matrix is tridiagonal, so this costs O(n) (a banded
    solve), also on an uneven time grid.

    Parameters
    ----------
    signal:
        The signal at ``time`` (relative flux minus 1).
    time:
        Increasing times (days) of the usable cadences.
    white_sigma:
        White-noise standard deviation per cadence (relative flux), a number or one per cadence.
    red_amplitude, red_timescale:
        Standard deviation (relative flux) and timescale (days) of the red noise.

    Example
    -------
    >>> time = np.arange(0.0, 27.0, 2 / 1440)
    >>> box = np.where(np.abs((time % 3.0) - 1.5) < 0.05, -1e-3, 0.0)     # 2.4-hour, 1,000 ppm transits
    >>> white = matched_filter_snr(box, time, 1e-3)
    >>> round(white, 1), round(white - float(np.sqrt(np.sum(box**2)) / 1e-3), 6)
    (25.4, 0.0)
    >>> round(matched_filter_snr(box, time, 1e-3, red_amplitude=2e-4, red_timescale=0.5), 1)
    20.0
    """
    from scipy.linalg import solve_banded

    values = np.asarray(signal, dtype=np.float64)
    times = np.asarray(time, dtype=np.float64)
    variances = np.broadcast_to(np.asarray(white_sigma, dtype=np.float64) ** 2, values.shape)
    if values.size == 0:
        return 0.0
    if red_amplitude <= 0 or values.size == 1:
        return float(np.sqrt(np.sum(values * values / variances)))
    # Correlation of the red noise between neighbouring cadences; K^-1 = T is tridiagonal:
    # T_ii = 1/(1 - rho_{i-1}^2) + rho_i^2/(1 - rho_i^2), T_{i,i+1} = -rho_i/(1 - rho_i^2).
    rho = np.exp(-np.diff(times) / float(red_timescale))
    inverse = 1.0 / (1.0 - rho * rho)
    diagonal = np.ones(values.size)
    diagonal[1:] += inverse - 1.0
    diagonal[:-1] += rho * rho * inverse
    off = -rho * inverse
    # C = D + A^2 K = K (T D + A^2 I), so C^-1 s = (T D + A^2 I)^-1 (T s): one tridiagonal solve.
    product = diagonal * values
    product[:-1] += off * values[1:]
    product[1:] += off * values[:-1]
    banded = np.zeros((3, values.size))
    banded[0, 1:] = off * variances[1:]
    banded[1] = diagonal * variances + float(red_amplitude) ** 2
    banded[2, :-1] = off * variances[:-1]
    weighted = solve_banded((1, 1), banded, product)
    return float(np.sqrt(max(0.0, float(values @ weighted))))


def _damped_random_walk(rng: np.random.Generator, n: int, amplitude: float, timescale: float, step: float) -> np.ndarray:
    """An Ornstein-Uhlenbeck (damped random walk) series: red noise with a characteristic timescale."""
    from scipy.signal import lfilter

    decay = math.exp(-step / timescale)
    innovations = rng.standard_normal(n) * amplitude * math.sqrt(1 - decay**2)
    initial = rng.standard_normal() * amplitude
    series, _ = lfilter([1.0], [1.0, -decay], innovations, zi=[decay * initial])
    return np.asarray(series)

