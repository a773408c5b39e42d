"""Deprecated: the dataset browser moved to :mod:`qusi_lab.widgets.browser` (it is a notebook widget, not
vetting), and the helpers it shares with the tuner to :mod:`qusi_lab.widgets._shared`. The old names keep
working with a ``DeprecationWarning`` until 0.2.
"""

from __future__ import annotations

from qusi_lab._deprecation import moved_names

__getattr__ = moved_names(__name__, {
    **dict.fromkeys(("DatasetBrowser", "SampleSelector", "split_preprocessing", "format_value", "injected_html"),
                    "qusi_lab.widgets.browser"),
    **dict.fromkeys(("as_dataset", "run_split", "label_of", "sample_title", "plot_x", "curve_data", "make_figure",
                     "load_bokehjs", "BokehPanel", "EMPTY", "ALL_CLASSES"), "qusi_lab.widgets._shared"),
})
