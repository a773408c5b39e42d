"""A classical baseline for the heartbeat task: a blind search with a bank of heartbeat templates.

Command (from the repository root; the sector is one that ``quality.py --workdir DIR --keep`` wrote)::

    .venv/bin/python docs/experiments/heartbeat_bank.py /tmp/quality/survey_2000          # ~2 min on 2 cores

What it does to each light curve in the sector (its ``truth.csv`` says which are heartbeat stars):

1. PDCSAP flux with the default quality mask, divided by its median, averaged in 30-minute bins;
2. minus a Gaussian smooth (sigma 1 day; a normalised convolution, so gaps do not pull it), divided by the
   robust scatter and clipped at +-5 (flares);
3. folded at 1,023 trial periods from 1.5 to 12 days (the sector's heartbeat periods; the phase drifts by
   less than one of 64 phase bins over the sector between neighbouring trials) and correlated, at every
   phase, with 96 shapes of the Kumar, Ao & Quataert (1995) model (eccentricity 0.35-0.8, cos i 0.15-0.85,
   omega every 45 degrees), each high-passed by the same Gaussian at that period (its transfer function at
   each harmonic of 1 / P).

The score of a curve is the largest normalised correlation over period, shape and phase: what a matched
filter that does not know the heartbeat's parameters finds. It prints the AUC-ROC and the recall of the
heartbeat stars within the top 10 % of scores (against every other star, as in ``quality.py``, and against
quiet stars alone), by signal-to-noise ratio, and the score distribution of each kind of star.

``--coarse`` uses 32 phases and 24 shapes (512 periods): ~6 times cheaper.

``--whiten`` weights each harmonic by the inverse of the curve's own noise spectrum at its frequency: the
matched filter for red noise, which is what tells faint heartbeats from quiet stars (docs/benchmark-history.md).
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from multiprocessing import Pool
from pathlib import Path

import numpy as np

PHASE_BINS = 64
BIN_DAYS = 30 / 1440
SMOOTH_DAYS = 1.0
SECTOR_DAYS = 27.4
PERIODS = (1.5, 12.0)
ECCENTRICITIES = (0.35, 0.5, 0.65, 0.8)
COS_INCLINATIONS = (0.15, 0.5, 0.85)
OMEGA_STEP = 45
OMEGAS = tuple(range(0, 360, OMEGA_STEP))
SNR_BINS = ((7, 10), (10, 20), (20, 1000))


def template_bank() -> np.ndarray:
    """Zero-mean heartbeat shapes over one orbit, averaged into the phase bins: (shapes, PHASE_BINS)."""
    from qusi_lab.signals import heartbeat

    oversample = 8
    phase = (np.arange(PHASE_BINS * oversample) + 0.5) / (PHASE_BINS * oversample)
    shapes = []
    for eccentricity in ECCENTRICITIES:
        for cos_inclination in COS_INCLINATIONS:
            for omega in OMEGAS:
                shape = heartbeat(phase, period=1.0, epoch_periastron=0.0, eccentricity=eccentricity,
                                  inclination=float(np.degrees(np.arccos(cos_inclination))),
                                  argument_of_periastron=float(omega), amplitude=1.0) - 1.0
                shape = shape.reshape(PHASE_BINS, oversample).mean(axis=1)
                shapes.append(shape - shape.mean())
    return np.array(shapes)


def configure(phase_bins: int = PHASE_BINS, eccentricities: tuple[float, ...] = ECCENTRICITIES,
              cos_inclinations: tuple[float, ...] = COS_INCLINATIONS, omega_step: int = OMEGA_STEP) -> None:
    """Set the bank and the period grid (module globals, inherited by the forked workers)."""
    global PHASE_BINS, ECCENTRICITIES, COS_INCLINATIONS, OMEGAS, SHAPES, SHAPE_SPECTRA, HARMONICS, TERMS, FREQUENCIES
    PHASE_BINS, ECCENTRICITIES, COS_INCLINATIONS = phase_bins, eccentricities, cos_inclinations
    OMEGAS = tuple(range(0, 360, omega_step))
    SHAPES = template_bank()
    SHAPE_SPECTRA = np.fft.rfft(SHAPES, axis=1).astype(np.complex64)
    HARMONICS = np.arange(SHAPE_SPECTRA.shape[1])
    # rfft coefficients other than the mean and the Nyquist one stand for two Fourier terms (Parseval).
    TERMS = np.where((HARMONICS == 0) | (HARMONICS == PHASE_BINS // 2), 1, 2)
    FREQUENCIES = np.arange(1 / PERIODS[1], 1 / PERIODS[0], 1 / (PHASE_BINS * SECTOR_DAYS))


configure()


def noise_spectrum(times: np.ndarray, values: np.ndarray, start: float) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (1/day) and the smoothed power spectrum of the binned residual, relative to its white level.

    A running median over 9 frequency bins (0.33 / day) of the periodogram on the 30-minute grid (gaps as
    zeros): smooth red noise and broad spot peaks stay, the narrow harmonics of a heartbeat mostly do not.
    """
    from scipy.ndimage import median_filter

    grid = np.zeros(int(round((times[-1] - start) / BIN_DAYS)) + 1)
    grid[np.round((times - start) / BIN_DAYS - 0.5).astype(int)] = values
    power = np.abs(np.fft.rfft(grid)) ** 2
    frequencies = np.fft.rfftfreq(grid.size, BIN_DAYS)
    smooth = median_filter(power, size=9, mode="nearest")
    white = np.median(smooth[frequencies > 4.0])  # above 4 / day: white noise only
    return frequencies, np.maximum(smooth / white, 1e-3)


def high_passed(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Times and high-passed, normalised, clipped flux of one curve, in 30-minute bins."""
    from scipy.ndimage import gaussian_filter1d

    import qusi_lab as ql

    light_curve = ql.read_light_curve(path)
    time_values, flux = np.asarray(light_curve.time, float), np.asarray(light_curve.flux, float)
    finite = np.isfinite(time_values) & np.isfinite(flux)
    time_values, flux = time_values[finite], flux[finite] / np.median(flux[finite]) - 1.0
    start = time_values[0]
    index = np.floor((time_values - start) / BIN_DAYS).astype(int)
    counts = np.bincount(index).astype(float)
    full = counts > 0
    binned = np.zeros(counts.size)
    binned[full] = np.bincount(index, weights=flux)[full] / counts[full]
    width = SMOOTH_DAYS / BIN_DAYS
    smooth = gaussian_filter1d(binned * full, width, mode="constant") / np.maximum(
        gaussian_filter1d(full.astype(float), width, mode="constant"), 1e-9)
    residual = (binned - smooth)[full]
    scatter = 1.4826 * np.median(np.abs(residual - np.median(residual)))
    return start + (np.flatnonzero(full) + 0.5) * BIN_DAYS, np.clip(residual / scatter, -5.0, 5.0)


def score(path: str, whiten: bool = False) -> float:
    """Largest normalised correlation with the bank over trial period, shape and phase.

    ``whiten``: weight each harmonic by the inverse of the curve's own noise spectrum at its frequency
    (:func:`noise_spectrum`), the matched filter for red noise; otherwise white noise is assumed.
    """
    times, values = high_passed(path)
    if whiten:
        spectrum_frequencies, spectrum = noise_spectrum(times, values, times[0])
    best = -np.inf
    for frequencies in np.array_split(FREQUENCIES, 8):
        bins = np.floor(((times[None, :] - times[0]) * frequencies[:, None]) % 1.0 * PHASE_BINS).astype(int)
        bins += (np.arange(frequencies.size) * PHASE_BINS)[:, None]
        size = frequencies.size * PHASE_BINS
        sums = np.bincount(bins.ravel(), weights=np.broadcast_to(values, bins.shape).ravel(), minlength=size)
        counts = np.bincount(bins.ravel(), minlength=size).reshape(frequencies.size, PHASE_BINS)
        transfer = 1.0 - np.exp(-2 * np.pi**2 * (HARMONICS[None, :] * frequencies[:, None] * SMOOTH_DAYS) ** 2)
        templates = SHAPE_SPECTRA[None, :, :] * transfer[:, None, :]  # (periods, shapes, harmonics)
        inverse = np.ones(transfer.shape)
        if whiten:
            inverse = 1.0 / np.interp(HARMONICS[None, :] * frequencies[:, None], spectrum_frequencies, spectrum)
        folded = np.fft.rfft(sums.reshape(frequencies.size, PHASE_BINS), axis=1)
        weighted = templates * inverse[:, None, :]
        correlation = np.fft.irfft(folded[:, None, :] * np.conj(weighted), n=PHASE_BINS, axis=2)
        # sum_phase n * h^2 ~ mean count * sum h^2: phase coverage is nearly even (one 1-day gap in 27).
        energy = (np.abs(templates) ** 2 * inverse[:, None, :] * TERMS).sum(axis=2) / PHASE_BINS
        norm = np.sqrt(np.maximum(counts.mean(axis=1)[:, None] * energy, 1e-12))[:, :, None]
        best = max(best, float((correlation / norm).max()))
    return best


def main() -> None:
    from qusi_lab.synthetic import load_truth
    from qusi_lab.training.metrics import auc_roc, recall_at_top_fraction

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sector", type=Path, help="a sector folder with truth.csv (e.g. quality.py's survey_2000)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="write the scores to this CSV")
    parser.add_argument("--whiten", action="store_true", help="weight harmonics by the curve's own noise spectrum")
    parser.add_argument("--coarse", action="store_true",
                        help="a 6x cheaper bank: 32 phases, 24 shapes (e 0.4/0.7, cos i 0.2/0.7, omega every 60 deg)")
    arguments = parser.parse_args()
    if arguments.coarse:
        configure(phase_bins=32, eccentricities=(0.4, 0.7), cos_inclinations=(0.2, 0.7), omega_step=60)

    truth = load_truth(arguments.sector, parse_parameters=False)
    started = time.perf_counter()
    with Pool(arguments.workers) as pool:
        scores = np.array(pool.map(partial(score, whiten=arguments.whiten), list(truth["absolute_path"]), chunksize=8))
    print(f"{len(truth):,} curves in {time.perf_counter() - started:.0f} s "
          f"({FREQUENCIES.size:,} periods x {len(SHAPES)} shapes x {PHASE_BINS} phases)\n")
    truth = truth.assign(bank_score=scores)
    if arguments.out:
        truth[["path", "label", "snr", "bank_score"]].to_csv(arguments.out, index=False)

    print("| heartbeat stars against | AUC-ROC | recall in top 10 % | SNR 7-10 | SNR 10-20 | SNR 20- |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, others in (("every other star", truth), ("quiet stars only", truth[truth["label"] == "quiet"])):
        chosen = truth[(truth["label"] == "heartbeat") | truth.index.isin(others.index)]
        positive = (chosen["label"] == "heartbeat").to_numpy().astype(int)
        values = chosen["bank_score"].to_numpy()
        cut = np.sort(values)[::-1][max(1, int(round(0.1 * values.size))) - 1]
        by_snr = []
        for low, high in SNR_BINS:
            inside = (positive == 1) & (chosen["snr"] >= low).to_numpy() & (chosen["snr"] < high).to_numpy()
            by_snr.append(f"{np.mean(values[inside] >= cut):.2f} ({int(inside.sum())})")
        print(f"| {name} | {auc_roc(values, positive):.3f} | {recall_at_top_fraction(values, positive, 0.1):.3f} | "
              + " | ".join(by_snr) + " |")
    print("\nScore by kind of star (median, 90th percentile, max):\n")
    print("| star | curves | median | 90 % | max |")
    print("|---|---:|---:|---:|---:|")
    for label, group in truth.groupby("label"):
        values = group["bank_score"]
        print(f"| {label} | {len(group):,} | {values.median():.1f} | {values.quantile(0.9):.1f} | {values.max():.1f} |")


if __name__ == "__main__":
    main()
