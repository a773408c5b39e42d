"""Moved: saved models live in :mod:`qusi_lab.models.bundle`, the model description in
:mod:`qusi_lab.models.trained` (:class:`~qusi_lab.models.trained.Model`, which replaces ``BundleInfo``).

The old names keep working from here with a ``DeprecationWarning`` until 0.2
(``qusi_lab.training.load`` and ``qusi_lab.training.save_bundle`` stay, without a warning).
"""

from __future__ import annotations

from qusi_lab._deprecation import moved_names

__getattr__ = moved_names(__name__, {
    "BUNDLE_FORMAT_VERSION": "qusi_lab.models.bundle",
    "BUNDLE_FILE": "qusi_lab.models.bundle",
    "WEIGHTS_FILE": "qusi_lab.models.bundle",
    "CHECKSUMS_KEY": "qusi_lab.models.bundle",
    "BundleError": "qusi_lab.models.bundle",
    "BundleDamagedError": "qusi_lab.models.bundle",
    "save_bundle": "qusi_lab.models.bundle",
    "load": "qusi_lab.models.bundle",
    "load_bundle_info": "qusi_lab.models.bundle",
    "versions_compatible": "qusi_lab.models.bundle",
    "TASKS": "qusi_lab.models.trained",
    "BundleInfo": "qusi_lab.models.trained:Model",
    "bundle_of": "qusi_lab.models.trained",
    "scores_from_outputs": "qusi_lab.models.trained",
})
