"""``plot(ax=)`` everywhere: ``LightCurveDataset.plot`` takes ``ax=`` like ``LightCurve.plot``; its old ``axes=``
keeps working with a ``DeprecationWarning`` until 0.2."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pytest

import qusi_lab as ql

matplotlib.use("Agg")


@pytest.fixture
def dataset():
    time = np.arange(200) / 48.0
    curves = [ql.LightCurve(time, 1.0 + 0.001 * np.sin(time * (2 + index)), target_id=f"star{index}")
              for index in range(2)]
    return ql.LightCurveDataset.from_light_curves(curves, ["negative", "positive"], input_length=64,
                                                  augmentation=False)


def _two_axes():
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 1)
    return figure, tuple(axes)


def test_dataset_plot_draws_into_the_axes_given_by_ax(dataset):
    import matplotlib.pyplot as plt

    figure, axes = _two_axes()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        returned = dataset.plot(1, ax=axes)
        positional = dataset.plot(0, axes)  # the second argument, by position, is ax
    assert tuple(returned) == axes and tuple(positional) == axes
    assert len(axes[1].lines) == 2 and len(axes[1].lines[0].get_ydata()) == 64
    assert "positive" in axes[0].get_title() or "negative" in axes[0].get_title()
    plt.close(figure)


def test_dataset_plot_axes_keyword_is_deprecated_and_still_draws(dataset):
    import matplotlib.pyplot as plt

    figure, axes = _two_axes()
    with pytest.warns(DeprecationWarning, match=r"plot\(axes=\) is now plot\(ax=\).*0\.2"):
        returned = dataset.plot(1, axes=axes)
    assert tuple(returned) == axes
    assert len(axes[1].lines) == 1 and "positive" in axes[0].get_title()
    plt.close(figure)


def test_light_curve_plot_takes_ax_too(dataset):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    assert dataset.light_curve(0).plot(ax=axis) is axis
    plt.close(figure)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 4-step training with validation and its evaluation: enough history for both result plots."""
    time = np.arange(400) / 48.0
    curves = [ql.LightCurve(time, 1.0 + 0.001 * np.sin(time * (2 + index)), target_id=f"star{index}")
              for index in range(8)]
    labels = ["negative", "positive"] * 4
    train_set = ql.LightCurveDataset.from_light_curves(curves, labels, input_length=64, augmentation=False)
    model = ql.models.Hadryss(input_length=64)
    result = ql.train(model, train_set, validation=train_set, max_steps=4, validation_every=2, batch_size=4,
                      checkpoint_dir=tmp_path_factory.mktemp("run"), progress=False, seed=0)
    return result, ql.evaluate(result.model, train_set, progress=False)


@pytest.mark.parametrize("which", ["training", "evaluation"])
def test_result_plots_draw_into_the_axes_given_by_ax(trained, which):
    import matplotlib.pyplot as plt

    result = trained[0] if which == "training" else trained[1]
    figure, axes = plt.subplots(2, 2)
    returned = result.plot(ax=axes[1])  # a row of a grid: the caller composes the figure
    assert returned is figure
    assert all(axis.lines for axis in axes[1]) and not any(axis.lines for axis in axes[0])
    plt.close(figure)


@pytest.mark.parametrize("which", ["training", "evaluation"])
def test_result_plot_with_too_few_axes_says_how_many_it_needs(trained, which):
    import matplotlib.pyplot as plt

    result = trained[0] if which == "training" else trained[1]
    figure, axis = plt.subplots()
    with pytest.raises(ValueError, match=r"draws 2 panels; pass ax= as a sequence of 2 Axes, not 1"):
        result.plot(ax=axis)
    assert not axis.lines  # nothing half-drawn
    plt.close(figure)


def test_dataset_plot_with_one_axis_says_it_needs_two(dataset):
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    with pytest.raises(ValueError, match=r"LightCurveDataset.plot draws 2 panels"):
        dataset.plot(0, ax=axis)
    plt.close(figure)
