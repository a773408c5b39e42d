"""The predictor: every pixel's patch scored, the map segmented into candidates with the 2-FWHM rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from test_imaging_baselines import CENTER, FWHM, make_sequence, sky_position
from torch import nn

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.predict import CANDIDATE_COLUMNS, ProbabilityMap, probability_map
from qusi_lab.models.mlar import MlarConv3D


class CentreReader(nn.Module):
    """An 'oracle' network: the logit is the mean over levels of the centre pixel (a local S/N) minus 5,
    scaled so the sigmoid does not saturate and the peak stays a peak."""

    def __init__(self, levels: int = 6, patch_size: int = 7) -> None:
        super().__init__()
        self.config = {"levels": levels, "patch_size": patch_size}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = x.shape[-1] // 2
        return ((x[:, :, half, half].mean(dim=1) - 5.0) / 10.0).unsqueeze(1)


def blob_map(peaks: list[tuple[int, int, float]], size: int = 41) -> ProbabilityMap:
    yy, xx = np.indices((size, size))
    probability = np.zeros((size, size))
    for y, x, height in peaks:
        probability = np.maximum(probability, height * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / 4.0))
    probability[:3] = np.nan  # a region nobody scored
    return ProbabilityMap(probability, CENTER, FWHM, 0.0125, [10.0])


def test_candidates_are_one_row_per_source_at_the_peak_with_sky_coordinates():
    table = blob_map([(20, 32, 0.99), (30, 20, 0.95)]).candidates(0.5)
    assert list(table.columns) == CANDIDATE_COLUMNS and len(table) == 2
    first, second = table.iloc[0], table.iloc[1]
    assert (first.x, first.y, first.probability) == (32, 20, pytest.approx(0.99))
    assert first.separation_px == pytest.approx(12.0) and first.separation_arcsec == pytest.approx(0.15)
    assert first.angle == pytest.approx(0.0) and first.position_angle == pytest.approx(270.0)
    assert second.angle == pytest.approx(90.0) and second.position_angle == pytest.approx(0.0)  # +y: north


def test_two_peaks_within_two_fwhm_are_one_source_and_an_empty_map_an_empty_table():
    merged = blob_map([(20, 32, 0.99), (20, 27, 0.97)])  # 5 px apart < 2 FWHM (6 px); two segments
    assert len(merged.candidates(0.9)) == 1
    assert len(merged.candidates(0.9, overlap_fwhm=1.0)) == 2
    empty = blob_map([(20, 32, 0.3)]).candidates(0.5)
    assert isinstance(empty, pd.DataFrame) and empty.empty and list(empty.columns) == CANDIDATE_COLUMNS
    with pytest.raises(ValueError, match="threshold"):
        merged.candidates(1.0)


def test_the_map_peaks_on_an_injected_companion_and_stays_low_without_one():
    network = CentreReader()
    with_planet = probability_map(network, make_sequence(companion=40.0, frames=30))
    without = probability_map(network, make_sequence(frames=30))
    y, x = sky_position(10.0, 30.0)
    peak_y, peak_x = np.unravel_index(np.nanargmax(with_planet.probability), (41, 41))
    assert np.hypot(peak_y - y, peak_x - x) < 1.0
    table = with_planet.candidates(0.5)
    assert len(table) == 1 and np.hypot(table.y[0] - y, table.x[0] - x) < 1.0
    assert without.candidates(0.5).empty
    scored = np.isfinite(with_planet.probability)
    radius = np.hypot(*(np.indices((41, 41)) - CENTER[0]))
    assert scored[(radius >= 3) & (radius <= 13)].all()  # 1 FWHM out to where a patch fits


def test_a_light_curve_network_is_refused():
    from qusi_lab.models.hadryss import Hadryss

    with pytest.raises(ImagingError, match="not an MLAR network"):
        probability_map(Hadryss(input_length=100), make_sequence(frames=10))


def test_map_plot_draws_circles_on_candidates():
    import matplotlib

    matplotlib.use("Agg")
    ax = blob_map([(20, 32, 0.99)]).plot(threshold=0.5)
    assert len(ax.patches) == 1 and ax.images


def test_a_conv3d_network_scores_in_zero_one():
    model = MlarConv3D(levels=4, patch_size=7, filters=(4, 4), dense_units=8)
    result = probability_map(model, make_sequence(frames=12))
    values = result.probability[np.isfinite(result.probability)]
    assert values.size > 500 and ((values > 0) & (values < 1)).all()
    assert set(result.counts) == set(result.separations)


def test_candidates_carry_a_flux_estimate_near_the_injected_flux():
    result = probability_map(CentreReader(), make_sequence(companion=40.0, frames=30))
    table = result.candidates(0.5)
    assert len(table) == 1 and 0.75 * 40 < table.flux[0] < 1.25 * 40
    assert np.isnan(table.contrast[0])  # no star_flux in this sequence's meta
    assert np.isnan(result.candidates(0.5, flux=False).flux[0])


def test_estimate_flux_on_a_synthetic_sky():
    from qusi_lab.imaging import inject_companions, make_adi_sequence
    from qusi_lab.imaging.predict import estimate_flux

    sky = make_adi_sequence(seed=4, n_frames=40, size=81)
    star = sky.meta["star_flux"]
    injected = inject_companions(sky, 14.0, 60.0, 4e-3 * star)
    y = sky.center[0] + 14.0 * np.sin(np.deg2rad(60.0))
    x = sky.center[1] + 14.0 * np.cos(np.deg2rad(60.0))
    assert 0.6 < estimate_flux(injected, y, x) / (4e-3 * star) < 1.4


def test_the_map_uses_the_ladder_the_model_was_trained_with():
    from qusi_lab.models import Model

    sequence = make_sequence(companion=40.0, frames=20, modes=2)  # a steep spectrum: the ladder repeats counts

    def model(ladder):
        data = {"kind": "mlar", "separations_fwhm": [2.0, 3.0], "max_variance": 0.99}
        if ladder is not None:
            data["ladder"] = ladder
        return Model(CentreReader(), task="binary", label_names=("no_companion", "companion"), data_config=data)

    old, distinct = probability_map(model(None), sequence), probability_map(model("distinct"), sequence)
    for counts in distinct.counts.values():
        assert counts == sorted(set(counts))  # one component more at each level
    assert any(len(set(c)) < len(c) for c in old.counts.values())  # the cumulative-variance ladder repeats here
    assert probability_map(model("variance"), sequence).counts == old.counts  # before the record: "variance"
    with pytest.raises(ImagingError, match="ladder 'log'"):
        probability_map(model("log"), sequence)


def test_the_map_fits_the_components_where_the_model_was_trained_to():
    """A model recorded before fit_region existed was trained on stacks fitted on the whole band."""
    from qusi_lab.models import Model

    sequence = make_sequence(companion=40.0, frames=20, halo=True)

    def model(**recorded):
        data = {"kind": "mlar", "separations_fwhm": [1.0, 2.0, 3.0], "max_variance": 0.99, **recorded}
        return Model(CentreReader(), task="binary", label_names=("no_companion", "companion"), data_config=data)

    before = probability_map(model(), sequence).probability
    band = probability_map(model(fit_region="band"), sequence).probability
    ring = probability_map(model(fit_region="ring"), sequence).probability
    np.testing.assert_array_equal(before, band)
    assert not np.allclose(np.nan_to_num(ring), np.nan_to_num(band), atol=1e-3)
    # a bare network gets the current default, the ring
    np.testing.assert_array_equal(probability_map(model().network, sequence, separations=[FWHM, 2 * FWHM, 3 * FWHM])
                                  .probability, probability_map(model(fit_region="ring"), sequence,
                                                                separations=[FWHM, 2 * FWHM, 3 * FWHM]).probability)
    with pytest.raises(ImagingError, match="fit_region 'disk'"):
        probability_map(model(fit_region="disk"), sequence)


def test_the_map_is_not_scored_closer_than_the_closest_companion_the_model_saw():
    from qusi_lab.models import Model

    sequence = make_sequence(companion=40.0, frames=20)
    data = {"kind": "mlar", "separations_fwhm": [1.0, 2.0], "min_separation_fwhm": 1.0}
    model = Model(CentreReader(), task="binary", label_names=("no_companion", "companion"), data_config=data)
    radius = np.hypot(*(np.indices((41, 41)) - CENTER[0]))
    inside = (radius < FWHM) & (radius >= 0.5 * FWHM)
    assert np.isnan(probability_map(model, sequence).probability[inside]).all()
    assert np.isfinite(probability_map(model, sequence).probability[(radius >= FWHM) & (radius < 1.4 * FWHM)]).all()
    unrecorded = Model(CentreReader(), task="binary", label_names=("no_companion", "companion"),
                       data_config={k: v for k, v in data.items() if k != "min_separation_fwhm"})
    assert np.isfinite(probability_map(unrecorded, sequence).probability[inside]).all()


def test_a_trained_model_maps_only_the_separations_it_learnt():
    from qusi_lab.models import Model

    sequence = make_sequence(companion=40.0, frames=20)
    model = Model(CentreReader(), task="binary", label_names=("no_companion", "companion"),
                  data_config={"kind": "mlar", "separations_fwhm": [2.0, 3.0]})
    result = probability_map(model, sequence)
    assert [round(r / FWHM, 6) for r in result.separations] == [2.0, 3.0]
    radius = np.hypot(*(np.indices((41, 41)) - CENTER[0]))
    scored = np.isfinite(result.probability)
    assert scored[np.abs(radius - 2 * FWHM) < 1].all() and not scored[radius < 1.4 * FWHM].any()
    everywhere = probability_map(model.network, sequence)  # a bare network: the whole field
    assert len(everywhere.separations) > 2
    with pytest.warns(UserWarning, match="outside the 2-3 FWHM the model was trained on"):
        probability_map(model, sequence, separations=[FWHM])
    far = Model(CentreReader(), task="binary", label_names=("no_companion", "companion"),
                data_config={"kind": "mlar", "separations_fwhm": [30.0]})
    with pytest.raises(ImagingError, match="trained on 30-30 FWHM"):
        probability_map(far, sequence)
