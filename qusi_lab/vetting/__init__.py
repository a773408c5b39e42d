"""Vetting: look at what the network ranked highest and record a verdict for each candidate.

=================================  ====================================================================
:class:`VettingPanel`              the Jupyter/Voila panel: light curve, saliency, folded views,
                                   verdict buttons and keyboard shortcuts (ipywidgets + Bokeh)
:class:`CandidateQueue`            the panel's logic without widgets: order, filters, progress, undo
:class:`VerdictStore`              the append-only verdict file (crash- and concurrency-safe CSV)
:func:`read_verdicts`              a verdict file as a DataFrame
:func:`dataset_from_verdicts`      verdicts -> a LightCurveDataset for the next training round
=================================  ====================================================================

The augmentation tuner and the dataset browser are not vetting: they moved to :mod:`qusi_lab.widgets`
(``ql.AugmentationTuner``, ``ql.DatasetBrowser``); ``qusi_lab.vetting.AugmentationTuner`` still works,
with a ``DeprecationWarning``, until 0.2.

Example
-------
>>> import qusi_lab as ql                                                            # doctest: +SKIP
>>> panel = ql.vetting.VettingPanel("candidates.csv", labels="vetting/transit-labels.csv", min_score=0.5)  # doctest: +SKIP
>>> panel                                                                            # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from qusi_lab._deprecation import moved_names
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


_WIDGETS = {"VettingPanel": "qusi_lab.vetting.panel"}
_MOVED = moved_names(__name__, {
    "AugmentationTuner": "qusi_lab.widgets.tuner",
    "DatasetBrowser": "qusi_lab.widgets.browser",
})


def __getattr__(name: str) -> Any:
    # The panel imports ipywidgets and Bokeh: load it only when asked for.
    if name in _WIDGETS:
        import importlib

        return getattr(importlib.import_module(_WIDGETS[name]), name)
    return _MOVED(name)
