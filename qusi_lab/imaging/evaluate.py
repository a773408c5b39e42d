"""Evaluation of detection maps: true-positive rate against mean false positives per frame, and the
Exoplanet Imaging Data Challenge metrics.

A map is any image where larger means "more likely a companion": the network's probability map or a
baseline's S/N map. The same sources are found in every map (:func:`~qusi_lab.imaging.predict.find_sources`:
segmentation above a threshold, one peak per segment, the 2-FWHM overlap rule). A detection within
``match_radius`` (default 1 FWHM) of an injected companion is a true positive, each injection is matched at
most once, and every other detection is a false positive. Sweeping the threshold gives SODINN's ROC space
(Gomez Gonzalez et al. 2018, sect. 4.2: TPR against the mean number of false positives per final frame).
The challenge metrics (Cantalloube et al. 2020, SPIE 11448, the EIDC) are TPR, FDR = FP / (TP + FP) and
F1 = 2 TP / (2 TP + FP + FN) at one threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from qusi_lab.imaging.predict import find_sources

__all__ = ["challenge_metrics", "detection_curve", "plot_detection_curves", "tpr_at"]

Position = tuple[float, float]


def _match(peaks: list[tuple[int, int, float, int]], truth: Sequence[Position], radius: float) -> int:
    """Number of injections with a detection within ``radius`` (greedy by detection strength, one each)."""
    free = list(truth)
    found = 0
    for y, x, _, _ in peaks:  # strongest first
        distances = [math.hypot(y - ty, x - tx) for ty, tx in free]
        if distances and min(distances) <= radius:
            free.pop(int(np.argmin(distances)))
            found += 1
    return found


def _counts(maps: Sequence[np.ndarray], truths: Sequence[Sequence[Position]], threshold: float, fwhm: float,
            match_radius: float | None) -> tuple[int, int, int]:
    """``(true positives, false positives, injections)`` over all maps at one threshold."""
    radius = fwhm if match_radius is None else float(match_radius)
    true_positives = false_positives = injections = 0
    for image, truth in zip(maps, truths, strict=True):
        peaks = find_sources(image, threshold, fwhm)
        found = _match(peaks, truth, radius)
        true_positives += found
        false_positives += len(peaks) - found
        injections += len(truth)
    return true_positives, false_positives, injections


def detection_curve(maps: Sequence[np.ndarray], truths: Sequence[Sequence[Position]],
                    thresholds: Sequence[float], fwhm: float, *, match_radius: float | None = None,
                    method: str = "") -> pd.DataFrame:
    """TPR and mean false positives per frame at each threshold.

    Parameters
    ----------
    maps:
        One detection map per held-out cube.
    truths:
        The injected ``(y, x)`` positions of each cube (an empty list for a cube without injections).

    Returns
    -------
    pandas.DataFrame
        ``method``, ``threshold``, ``tpr``, ``mean_fps``, ``true_positives``, ``false_positives``,
        ``injections``, ``frames``.

    Examples
    --------
    >>> image = np.zeros((21, 21)); image[5, 5] = 0.9; image[15, 15] = 0.6
    >>> detection_curve([image], [[(5, 5)]], [0.5, 0.8], 2.0)[["threshold", "tpr", "mean_fps"]].values.tolist()
    [[0.5, 1.0, 1.0], [0.8, 1.0, 0.0]]
    """
    if len(maps) != len(truths) or not maps:
        raise ValueError(f"need one truth list per map, got {len(maps)} maps and {len(truths)} truths")
    rows = []
    for threshold in thresholds:
        tp, fp, n = _counts(maps, truths, float(threshold), fwhm, match_radius)
        rows.append({"method": method, "threshold": float(threshold), "tpr": tp / n if n else float("nan"),
                     "mean_fps": fp / len(maps), "true_positives": tp, "false_positives": fp,
                     "injections": n, "frames": len(maps)})
    return pd.DataFrame(rows)


def tpr_at(curve: pd.DataFrame, max_fps: float = 1.0) -> float:
    """The highest TPR of a :func:`detection_curve` with at most ``max_fps`` false positives per frame.

    >>> tpr_at(pd.DataFrame({"tpr": [0.9, 0.5, 0.2], "mean_fps": [3.0, 0.8, 0.0]}))
    0.5
    """
    allowed = curve[curve["mean_fps"] <= max_fps]
    return float(allowed["tpr"].max()) if len(allowed) else 0.0


def challenge_metrics(maps: Sequence[np.ndarray], truths: Sequence[Sequence[Position]], threshold: float,
                      fwhm: float, *, match_radius: float | None = None) -> dict[str, float]:
    """The EIDC's TPR, FDR and F1 at one threshold (with the counts behind them).

    >>> image = np.zeros((21, 21)); image[5, 5] = 0.9; image[15, 15] = 0.95
    >>> challenge_metrics([image], [[(5, 5), (10, 2)]], 0.5, 2.0)
    {'tpr': 0.5, 'fdr': 0.5, 'f1': 0.5, 'true_positives': 1, 'false_positives': 1, 'false_negatives': 1}
    """
    tp, fp, n = _counts(maps, truths, float(threshold), fwhm, match_radius)
    fn = n - tp
    return {"tpr": tp / n if n else float("nan"), "fdr": fp / (tp + fp) if tp + fp else 0.0,
            "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
            "true_positives": tp, "false_positives": fp, "false_negatives": fn}


def plot_detection_curves(curves: Sequence[pd.DataFrame], ax: Any = None, *, max_fps: float = 1.0) -> Any:
    """TPR against mean false positives per frame, one line per curve (its ``method``); returns the axes."""
    if ax is None:  # pyplot, so that a notebook shows it
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(5, 4))
    for curve in curves:
        ordered = curve.sort_values("mean_fps")
        ax.plot(ordered["mean_fps"], ordered["tpr"], marker="o", label=str(ordered["method"].iloc[0]))
    ax.axvline(max_fps, color="grey", linestyle=":")
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(left=0.0)  # counts are never negative
    ax.set_xlabel("mean false positives per frame")
    ax.set_ylabel("true-positive rate")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    return ax
