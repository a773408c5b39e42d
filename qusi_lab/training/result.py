"""What :func:`~qusi_lab.training.train` returns: :class:`TrainingResult`, and the table of skipped files.

Example
-------
>>> from qusi_lab.training.result import TrainingResult
>>> sorted(TrainingResult.__dataclass_fields__)[:3]
['best_metrics', 'best_step', 'checkpoint_dir']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from qusi_lab.models.trained import Model, input_shape_of
from qusi_lab.training.resume import LoopState

__all__ = ["TrainingResult", "problems_table", "trained_model"]


@dataclass
class TrainingResult:
    """What :func:`train` returns.

    Attributes
    ----------
    model:
        The trained :class:`~qusi_lab.models.Model`: the network that was passed to :func:`train`
        (``model.network``) with the best validation weights loaded (the last weights without a
        validation set), in eval mode, and its description (preprocessing, classes, task, ...).
        ``result.model.save(path)`` writes it; ``result.model(x)`` runs the network.
    history:
        DataFrame, one row per validation: ``step``, ``train_loss`` (mean since the previous row),
        ``learning_rate``, ``grad_norm`` (mean norm before clipping), ``elapsed`` (seconds), and with a
        validation set ``val_loss`` and ``val_<metric>`` for every metric of the task.
    best_step, best_metrics:
        Step of the saved best weights and their validation metrics (``loss`` and the task's metrics).
    steps:
        Steps completed.
    stopped_reason:
        ``"max_steps"``, ``"early_stopping"`` or ``"max_time"``.
    monitor:
        The validation metric that chose the best weights.
    checkpoint_dir:
        Where checkpoints and ``metrics.csv`` went (None if not written).
    problems:
        Light curves skipped during training and validation (``dataset``, ``path``, ``error``, ``stage``).
    config:
        The training settings (also stored in saved bundles).
    resumed_from:
        Step of the checkpoint this call continued from (None for a fresh start).
    elapsed:
        Wall-clock seconds spent in this call.
    """

    model: Model
    history: Any
    best_step: int | None
    best_metrics: dict[str, float]
    steps: int
    stopped_reason: str
    monitor: str
    checkpoint_dir: Path | None = None
    problems: Any = None
    config: dict[str, Any] = field(default_factory=dict)
    resumed_from: int | None = None
    elapsed: float = 0.0

    def save(self, path: str | Path) -> Path:
        """Write the model as a bundle folder (same as ``result.model.save(path)``); returns it.

        Example
        -------
        >>> result.save("models/transits")   # doctest: +SKIP
        """
        return self.model.save(path)

    def plot(self, ax: Any = None) -> Any:
        """Loss curves (training and validation) and the validation metric curves; returns the Figure.

        ``ax``: where to draw, as everywhere in qusi_lab: two matplotlib Axes (loss, validation metric) when
        there is a validation metric, else one; default a new figure.

        Example
        -------
        >>> figure = result.plot()                          # doctest: +SKIP
        >>> figure, axes = plt.subplots(1, 2); result.plot(ax=axes)   # doctest: +SKIP
        """
        from qusi_lab.core.plotting import panel_axes

        history = self.history
        has_validation = "val_loss" in history.columns
        metric_columns = [column for column in ("val_auc_roc", "val_auc_pr") if column in history.columns]
        if not metric_columns and has_validation:
            if self.monitor != "loss" and f"val_{self.monitor}" in history.columns:
                metric_columns = [f"val_{self.monitor}"]
            elif "val_r2" in history.columns:
                metric_columns = ["val_r2"]
        panels = 2 if metric_columns else 1
        figure, axes = panel_axes(ax, panels, figsize=(5.5 * panels, 4), what="TrainingResult.plot")
        loss_axis = axes[0]
        if len(history):
            loss_axis.plot(history["step"], history["train_loss"], marker=".", label="training")
            if has_validation:
                loss_axis.plot(history["step"], history["val_loss"], marker=".", label="validation")
        loss_axis.set(xlabel="step", ylabel="loss", title="Loss")
        loss_axis.legend()
        axes_with_best = [loss_axis]
        if metric_columns:
            metric_axis = axes[1]
            for column in metric_columns:
                metric_axis.plot(
                    history["step"], history[column], marker=".", label=column.removeprefix("val_")
                )
            metric_axis.set(xlabel="step", ylabel="validation metric", title="Validation")
            metric_axis.legend()
            axes_with_best.append(metric_axis)
        if self.best_step is not None and has_validation:
            for axis in axes_with_best:
                axis.axvline(self.best_step, color="0.5", linestyle="--", linewidth=1)
        return figure

    def __repr__(self) -> str:
        task = getattr(self.model, "task", "?")
        total = self.config.get("max_steps", self.steps)
        parts = [f"{task}", f"{self.steps:,}/{total:,} steps", f"stopped: {self.stopped_reason}"]
        shown = [name for name in dict.fromkeys([self.monitor, "loss"]) if name in self.best_metrics]
        if self.best_step is not None and shown:
            values = ", ".join(f"val {name}={self.best_metrics[name]:.4f}" for name in shown)
            parts.append(f"best step {self.best_step:,}: {values}")
        elif "train_loss" in self.best_metrics:
            parts.append(f"final train loss={self.best_metrics['train_loss']:.4f}")
        if self.problems is not None and len(self.problems):
            parts.append(f"{len(self.problems)} problem files")
        parts.append(f"{self.elapsed:.1f} s")
        return f"TrainingResult({', '.join(parts)})"


def problems_table(train_set: Any, validation: Any) -> Any:
    import pandas as pd

    frames = []
    for name, dataset in (("train", train_set), ("validation", validation)):
        if dataset is None:
            continue
        frame = dataset.problems
        if len(frame):
            frames.append(frame.assign(dataset=name)[["dataset", *frame.columns]])
    if not frames:
        return pd.DataFrame(columns=["dataset", "path", "error", "stage"])
    return pd.concat(frames, ignore_index=True)


def trained_model(
    network: nn.Module,
    train_set: Any,
    task: str,
    architecture: str,
    config: dict[str, Any],
    scaler: dict[str, float] | None,
    state: LoopState,
    version: str,
) -> Model:
    """The :class:`~qusi_lab.models.Model` of a finished run: ``network`` with the training set's description.

    The network keeps it too as ``network.bundle`` (code holding the network it passed to train()).
    """
    preprocessing = train_set.preprocessing
    trained = Model(
        network,
        task=task,
        label_names=tuple(train_set.label_names),
        positive_class=train_set.positive_class,
        input_length=int(train_set.input_length),
        input_shape=input_shape_of(train_set),
        preprocessing=preprocessing.copy() if hasattr(preprocessing, "copy") else preprocessing,
        architecture=architecture,
        model_config=config["model_config"],
        target_scaler=scaler,
        training_config={
            **config,
            "steps": state.step,
            "best_step": state.best_step,
            "stopped_reason": state.stopped_reason,
        },
        data_config=dict(getattr(train_set, "data_config", None) or {}),
        metrics=dict(state.best_metrics),
        qusi_lab_version=version,
    )
    setattr(network, "bundle", trained)  # noqa: B010 - nn.Module types attribute assignment as Tensor|Module
    return trained
