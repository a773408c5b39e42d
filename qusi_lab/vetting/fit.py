"""Deprecated: the heartbeat fit moved to :mod:`qusi_lab.inference.heartbeat_fit` (it estimates a shape, like
the period search beside it, and is not vetting). The old names keep working with a ``DeprecationWarning``
until 0.2.
"""

from __future__ import annotations

from qusi_lab._deprecation import moved_names

__getattr__ = moved_names(__name__, {
    "HeartbeatFit": "qusi_lab.inference.heartbeat_fit",
    "fit_heartbeat": "qusi_lab.inference.heartbeat_fit",
})
