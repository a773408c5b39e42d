"""Vetting: look at what the network ranked highest and record a verdict for each candidate.

=================================  ====================================================================
:class:`VettingPanel`              the Jupyter/Voila panel: light curve, saliency, folded views,
                                   verdict buttons and keyboard shortcuts (ipywidgets + Bokeh)
:class:`AugmentationTuner`         sliders for every augmentation, original vs augmented curves live
:class:`DatasetBrowser`            flip through a dataset's samples per class with their labels
:class:`CandidateQueue`            the panel's logic without widgets: order, filters, progress, undo
:class:`VerdictStore`              the append-only verdict file (crash- and concurrency-safe CSV)
:func:`read_verdicts`              a verdict file as a DataFrame
:func:`dataset_from_verdicts`      verdicts -> a LightCurveDataset for the next training round
=================================  ====================================================================

Example
-------
>>> import qusi_lab as ql                                                            # doctest: +SKIP
>>> panel = ql.vetting.VettingPanel("candidates.csv", labels="vetting/transit-labels.csv", min_score=0.5)  # doctest: +SKIP
>>> panel                                                                            # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from qusi_lab.vetting.queue import SHOW_STATES, Candidate, CandidateQueue, candidate_keys
from qusi_lab.vetting.store import (
    DEFAULT_VERDICTS,
    RECORD_COLUMNS,
    VerdictFileWarning,
    VerdictRecord,
    VerdictStore,
    dataset_from_verdicts,
    read_verdicts,
)

__all__ = [
    "VettingPanel",
    "AugmentationTuner",
    "DatasetBrowser",
    "CandidateQueue",
    "Candidate",
    "VerdictStore",
    "VerdictRecord",
    "VerdictFileWarning",
    "read_verdicts",
    "dataset_from_verdicts",
    "candidate_keys",
    "DEFAULT_VERDICTS",
    "RECORD_COLUMNS",
    "SHOW_STATES",
]


_WIDGETS = {
    "VettingPanel": "qusi_lab.vetting.panel",
    "AugmentationTuner": "qusi_lab.vetting.tuner",
    "DatasetBrowser": "qusi_lab.vetting.browser",
}


def __getattr__(name: str) -> Any:
    # The widgets import ipywidgets and Bokeh: load them only when asked for.
    if name in _WIDGETS:
        import importlib

        return getattr(importlib.import_module(_WIDGETS[name]), name)
    raise AttributeError(f"module 'qusi_lab.vetting' has no attribute {name!r}")
