"""Detection curves and challenge metrics: counted by hand on maps with known peaks."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from qusi_lab.imaging.evaluate import challenge_metrics, detection_curve, plot_detection_curves, tpr_at

matplotlib.use("Agg")


def spots(size: int, peaks: list[tuple[int, int, float]]) -> np.ndarray:
    yy, xx = np.indices((size, size))
    image = np.zeros((size, size))
    for y, x, height in peaks:
        image = np.maximum(image, height * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 2.0))
    return image


def test_counts_by_hand_over_several_frames():
    maps = [spots(41, [(10, 10, 0.9), (30, 30, 0.7)]),  # one injection found, one false positive at 0.7
            spots(41, [(20, 31, 0.6)]),                 # injection at (20, 30): found at 0.6, 1 px away
            spots(41, [])]                              # a cube without injections
    truths = [[(10, 10)], [(20, 30)], []]
    curve = detection_curve(maps, truths, [0.5, 0.65, 0.8, 0.95], fwhm=3.0, method="toy")
    assert curve["tpr"].round(3).tolist() == [1.0, 0.5, 0.5, 0.0]
    assert curve["mean_fps"].round(3).tolist() == [round(1 / 3, 3), round(1 / 3, 3), 0.0, 0.0]
    assert (curve["injections"] == 2).all() and (curve["frames"] == 3).all() and (curve["method"] == "toy").all()
    assert tpr_at(curve, 0.0) == 0.5 and tpr_at(curve, 0.5) == 1.0


def test_a_detection_counts_once_and_far_detections_are_false():
    image = spots(41, [(10, 10, 0.9), (10, 17, 0.8)])  # 7 px apart: two sources for fwhm 3
    assert challenge_metrics([image], [[(10, 10)]], 0.5, 3.0)["false_positives"] == 1
    far = challenge_metrics([image], [[(13, 13.5)]], 0.5, 3.0)  # 4.6 px from both peaks: > 1 FWHM
    assert far == {"tpr": 0.0, "fdr": 1.0, "f1": 0.0, "true_positives": 0, "false_positives": 2,
                   "false_negatives": 1}
    assert challenge_metrics([image], [[(13, 13.5)]], 0.5, 3.0, match_radius=5.0)["true_positives"] == 1


def test_nan_regions_are_not_sources_and_bad_arguments_are_refused():
    image = spots(41, [(10, 10, 0.9)])
    image[:, 25:] = np.nan
    assert detection_curve([image], [[(10, 10)]], [0.5], 3.0)["mean_fps"].tolist() == [0.0]
    with pytest.raises(ValueError, match="one truth list per map"):
        detection_curve([image], [], [0.5], 3.0)


def test_plot_draws_one_line_per_method():
    a = detection_curve([spots(21, [(5, 5, 0.9)])], [[(5, 5)]], [0.1, 0.5], 2.0, method="network")
    b = a.assign(method="pca", tpr=a.tpr / 2)
    ax = plot_detection_curves([a, b])
    assert len(ax.lines) == 3 and [t.get_text() for t in ax.get_legend().get_texts()] == ["network", "pca"]
