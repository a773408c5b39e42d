"""The tuner, the dataset browser and the heartbeat fit left ``qusi_lab.vetting``: the old paths still work, warn,
and give the very objects from the new homes (``qusi_lab.widgets``, ``qusi_lab.inference.heartbeat_fit``)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

import qusi_lab as ql

MOVES = [
    ("qusi_lab.vetting.tuner", "AugmentationTuner", "qusi_lab.widgets.tuner"),
    ("qusi_lab.vetting.tuner", "ParameterSpec", "qusi_lab.widgets.tuner"),
    ("qusi_lab.vetting.tuner", "PARAMETER_SPECS", "qusi_lab.widgets.tuner"),
    ("qusi_lab.vetting.browser", "DatasetBrowser", "qusi_lab.widgets.browser"),
    ("qusi_lab.vetting.browser", "split_preprocessing", "qusi_lab.widgets.browser"),
    ("qusi_lab.vetting.browser", "format_value", "qusi_lab.widgets.browser"),
    ("qusi_lab.vetting.browser", "injected_html", "qusi_lab.widgets.browser"),
    ("qusi_lab.vetting.browser", "SampleSelector", "qusi_lab.widgets.browser"),
    ("qusi_lab.vetting", "AugmentationTuner", "qusi_lab.widgets.tuner"),
    ("qusi_lab.vetting", "DatasetBrowser", "qusi_lab.widgets.browser"),
    ("qusi_lab.vetting.fit", "fit_heartbeat", "qusi_lab.inference.heartbeat_fit"),
    ("qusi_lab.vetting.fit", "HeartbeatFit", "qusi_lab.inference.heartbeat_fit"),
]


@pytest.mark.parametrize(("old_module", "name", "new_module"), MOVES)
def test_old_path_warns_and_returns_the_new_object(old_module, name, new_module):
    old = importlib.import_module(old_module)
    with pytest.warns(DeprecationWarning, match=rf"{old_module}\.{name} moved to {new_module}\.{name}.*0\.2"):
        moved = getattr(old, name)
    assert moved is getattr(importlib.import_module(new_module), name)


def test_from_import_of_an_old_path_warns():
    with pytest.warns(DeprecationWarning, match="qusi_lab.widgets.tuner"):
        from qusi_lab.vetting.tuner import AugmentationTuner
    from qusi_lab.widgets.tuner import AugmentationTuner as new
    assert AugmentationTuner is new


def test_an_unknown_name_of_an_old_module_is_still_an_attribute_error():
    import qusi_lab.vetting.browser as old

    with pytest.raises(AttributeError, match="no attribute 'NoSuchWidget'"):
        old.NoSuchWidget  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'NoSuchWidget'"):
        ql.vetting.NoSuchWidget  # noqa: B018


def test_the_package_face_and_the_widgets_package_give_the_new_objects_without_warning():
    from qusi_lab.inference.heartbeat_fit import fit_heartbeat
    from qusi_lab.widgets.browser import DatasetBrowser
    from qusi_lab.widgets.tuner import AugmentationTuner

    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        assert ql.AugmentationTuner is AugmentationTuner
        assert ql.DatasetBrowser is DatasetBrowser
        assert ql.widgets.AugmentationTuner is AugmentationTuner
        assert ql.widgets.DatasetBrowser is DatasetBrowser
        assert ql.vetting.VettingPanel is importlib.import_module("qusi_lab.vetting.panel").VettingPanel
    assert fit_heartbeat.__module__ == "qusi_lab.inference.heartbeat_fit"
    assert "AugmentationTuner" not in ql.vetting.__all__ and "widgets" in ql.__all__


def test_the_vetting_panel_loads_without_touching_a_deprecated_path():
    # A fresh interpreter with qusi_lab's moved-name warning as an error: the panel, its views and the heartbeat fit must
    # import only new paths (the old shims would raise here).
    code = ("import warnings; warnings.filterwarnings('error', 'qusi_lab.*moved to', DeprecationWarning)\n"
            "import qusi_lab as ql, qusi_lab.vetting.panel, qusi_lab.vetting.views\n"
            "ql.AugmentationTuner, ql.DatasetBrowser")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr


def test_every_name_the_old_modules_had_is_still_served():
    # The names the old qusi_lab.vetting.browser/tuner defined at module level (public ones), each now served
    # by the shim from wherever it lives.
    old_names = {
        "qusi_lab.vetting.browser": ("DatasetBrowser", "SampleSelector", "split_preprocessing", "format_value",
                                     "injected_html", "as_dataset", "run_split", "label_of", "sample_title",
                                     "plot_x", "curve_data", "make_figure", "load_bokehjs", "BokehPanel", "EMPTY",
                                     "ALL_CLASSES"),
        "qusi_lab.vetting.tuner": ("AugmentationTuner", "ParameterSpec", "PARAMETER_SPECS", "PROBABILITY_SPEC"),
    }
    for module_name, names in old_names.items():
        module = importlib.import_module(module_name)
        for name in names:
            with pytest.warns(DeprecationWarning, match=f"{module_name}.{name} moved to qusi_lab.widgets"):
                assert getattr(module, name) is not None
