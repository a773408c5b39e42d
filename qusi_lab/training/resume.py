"""What a run records in ``last.pt`` so that a resume continues the same run, and the checks on resume.

The *fingerprint* holds the settings that decide which batches and updates a run makes
(:data:`RESUME_KEYS`); the *data record* names the curves and labels of the training and validation
sets. A checkpoint whose fingerprint or data differ raises :class:`~qusi_lab.errors.CheckpointError`
saying what differs.

Example
-------
>>> from qusi_lab.training.resume import describe_difference
>>> describe_difference(["a: 0", "b: 1"], ["b: 1", "a: 0"])
'the same curves in another order'
"""

from __future__ import annotations

import hashlib
import os
import warnings
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qusi_lab.errors import CheckpointError
from qusi_lab.training.checkpoints import START_OVER

__all__ = ["LoopState", "RESUME_KEYS", "plain", "check_fingerprint", "data_record", "check_data", "describe_difference"]

# cannot continue this run exactly.
RESUME_KEYS: tuple[str, ...] = (
    "task",
    "label_names",
    "seed",
    "batch_size",
    "balance",
    "augment",
    "num_workers",
    "checkpoint_every",
    "optimizer",
    "learning_rate",
    "weight_decay",
    "scheduler",
    "class_weights",
    "regression_loss",
    "gradient_clip_norm",
    "architecture",
    "model_config",
)


def plain(value: Any) -> Any:
    """Plain Python values (for checkpoints loadable with weights_only=True, and JSON)."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, torch.Tensor):
        return plain(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def check_fingerprint(checkpoint: Mapping[str, Any], fingerprint: Mapping[str, Any], path: Path) -> None:
    saved = checkpoint.get("fingerprint", {})
    differing = [key for key in fingerprint if plain(saved.get(key)) != plain(fingerprint[key])]
    if differing:
        details = "; ".join(
            f"{key}: checkpoint {saved.get(key)!r}, now {fingerprint[key]!r}" for key in differing
        )
        raise CheckpointError(
            f"{path}: cannot resume, the run was started with other settings ({details}); "
            f"use the same settings, another checkpoint_dir, or {START_OVER}"
        )


def curve_names(dataset: Any) -> list[str]:
    """Where each curve comes from (its path, usually), in dataset order."""
    if dataset is None:
        return []
    name_of = getattr(dataset, "source_name", None)
    target_ids = getattr(dataset, "target_ids", None)
    names = []
    for index in range(len(dataset)):
        name = str(name_of(index)) if callable(name_of) else f"<curve {index}>"
        if name.startswith("<") and target_ids is not None and index < len(target_ids):
            name = f"{name[:-1]}, {target_ids[index]}>"  # in-memory curves: the star tells them apart
        names.append(name)
    return names


def curve_keys(names: list[str], dataset: Any, root: str | None) -> list[str]:
    """One line per curve: its name (relative to ``root``, so a moved data folder is the same data) and label."""
    labels = dataset.labels if dataset is not None and getattr(dataset, "is_labelled", False) else None
    keys = []
    for index, name in enumerate(names):
        if root is not None and not name.startswith("<"):
            name = Path(os.path.relpath(name, root)).as_posix()
        keys.append(name if labels is None else f"{name}: {labels[index]}")
    return keys


def common_folder(names: list[str]) -> str | None:
    paths = [name for name in names if not name.startswith("<")]
    if not paths:
        return None
    try:
        return os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in paths])
    except ValueError:  # paths on different Windows drives
        return None


def data_record(train_set: Any, validation: Any) -> dict[str, Any]:
    """What a run learns from, stored in ``last.pt`` so that a resume can check it has the same data.

    Per set: the number of curves, a sha256 over the (source name, label) lines in dataset order (the
    order decides which curve each draw of the stream is), and the lines themselves, zlib-compressed
    into a uint8 tensor (so the file still loads with ``weights_only=True``), to name what differs.
    File names are taken relative to the folder holding both sets, so a data folder that was moved
    or copied elsewhere is still the same data.
    """
    sets = {"train": train_set, "validation": validation}
    names = {name: curve_names(dataset) for name, dataset in sets.items()}
    root = common_folder(names["train"] + names["validation"])
    record: dict[str, Any] = {}
    for name, dataset in sets.items():
        text = "\n".join(curve_keys(names[name], dataset, root)).encode("utf-8")
        record[name] = {
            "count": 0 if dataset is None else len(dataset),
            "sha256": hashlib.sha256(text).hexdigest(),
            "curves": torch.frombuffer(bytearray(zlib.compress(text, 6)), dtype=torch.uint8),
        }
    return record


def unpack_curves(entry: Mapping[str, Any]) -> list[str] | None:
    try:
        text = zlib.decompress(bytes(entry["curves"].numpy().tobytes())).decode("utf-8")
    except (KeyError, AttributeError, zlib.error, UnicodeDecodeError):
        return None
    return text.split("\n") if text else []


def describe_difference(old: list[str] | None, new: list[str]) -> str:
    if old is None:
        return "the checkpoint's list of curves is unreadable"
    if sorted(old) == sorted(new):
        return "the same curves in another order"
    for position, (before, now) in enumerate(zip(old, new, strict=False)):
        if before != now:
            return f"first difference at curve {position}: checkpoint {before!r}, now {now!r}"
    if len(old) > len(new):
        return f"the checkpoint also has {old[len(new)]!r} ..."
    return f"now also {new[len(old)]!r} ..."


def check_data(
    checkpoint: Mapping[str, Any], record: Mapping[str, Any], path: Path, *, stacklevel: int = 3
) -> None:
    """Refuse to resume a run on data other than the data it was started on."""
    saved = checkpoint.get("data")
    if not isinstance(saved, Mapping):
        warnings.warn(
            f"{path} was written by a qusi_lab that did not record the training data, so this resume "
            f"cannot check it is the same; if the data changed, {START_OVER}",
            UserWarning,
            stacklevel=stacklevel,
        )
        return
    details = []
    for name, label in (("train", "training set"), ("validation", "validation set")):
        before, now = saved.get(name, {}), record[name]
        if before.get("sha256") == now["sha256"]:
            continue
        old_keys = unpack_curves(before)
        details.append(
            f"{label}: checkpoint {before.get('count', '?')} curves, now {now['count']}, "
            + describe_difference(old_keys, unpack_curves(now) or [])
        )
    if details:
        raise CheckpointError(
            f"{path}: cannot resume, the checkpoint was made on other data ({'; '.join(details)}); "
            f"use the same data, another checkpoint_dir (CLI: another --out), or {START_OVER}"
        )


@dataclass
class LoopState:
    """Where a run is: its step, history, best validation so far (and its weights), early-stopping count,
    stop reason, and the training-loss and gradient-norm sums of the next history row.
    """

    step: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_step: int | None = None
    best_value: float | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    bad_validations: int = 0
    stopped_reason: str | None = None
    elapsed: float = 0.0
    best_weights: dict[str, torch.Tensor] | None = None
    loss_sum: float = 0.0
    grad_norm_sum: float = 0.0
    steps_since_row: int = 0

    @classmethod
    def from_checkpoint(cls, checkpoint: Mapping[str, Any]) -> LoopState:
        """The state ``last.pt`` recorded (as the training loop writes it)."""
        return cls(
            step=int(checkpoint["step"]),
            history=[dict(row) for row in checkpoint["history"]],
            best_step=checkpoint["best"]["step"],
            best_value=checkpoint["best"]["value"],
            best_metrics=dict(checkpoint["best"]["metrics"]),
            bad_validations=int(checkpoint["best"]["bad_validations"]),
            stopped_reason=checkpoint["stopped_reason"],
            elapsed=float(checkpoint["elapsed"]),
            best_weights=checkpoint.get("best_model"),
            # The training-loss average of the next history row continues too.
            loss_sum=float(checkpoint["running"]["loss_sum"]),
            grad_norm_sum=float(checkpoint["running"]["grad_norm_sum"]),
            steps_since_row=int(checkpoint["running"]["steps"]),
        )

    def checkpoint_entries(self) -> dict[str, Any]:
        """The entries of ``last.pt`` that :meth:`from_checkpoint` reads back (but ``step`` and ``elapsed``)."""
        return {
            "history": self.history,
            "best": {
                "step": self.best_step,
                "value": self.best_value,
                "metrics": self.best_metrics,
                "bad_validations": self.bad_validations,
            },
            # The best weights travel inside last.pt too, so the two can never disagree after a crash
            # between writing best.pt and last.pt.
            "best_model": self.best_weights,
            "running": {"loss_sum": self.loss_sum, "grad_norm_sum": self.grad_norm_sum, "steps": self.steps_since_row},
            "stopped_reason": self.stopped_reason,
        }
