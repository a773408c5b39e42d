"""Evaluate a trained network on a labelled dataset: metrics, per-curve scores, plots.

:func:`evaluate` is scoring plus metrics: it goes through every curve of the dataset once
(``dataset.iterate()``, in order, bad files skipped and listed), runs the network through the one
scoring path (:func:`qusi_lab.models.scoring.forward_stream`, also behind ``infer``) and returns
an :class:`EvaluationResult`.

Example
-------
>>> result = evaluate(model, test_set)          # doctest: +SKIP
>>> result                                      # doctest: +SKIP
EvaluationResult(binary: 400 curves, 80 positive, 0 skipped)
  auc_roc                0.9812
  ...
  recall_at_top_10%      0.4400  (ceiling 0.5000: 40 places in the top 10% for 80 positives)
  recall_at_k_positives  0.8000  (recall = precision in the top 80, the number of positives)
>>> result.scores.sort_values("score", ascending=False).head()   # doctest: +SKIP
>>> result.plot()                               # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from qusi_lab.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_FRACTION
from qusi_lab.errors import QusiLabError
from qusi_lab.models.scoring import forward_stream
from qusi_lab.models.trained import Model, as_model, check_compatible, description_of, input_shape_of
from qusi_lab.progress import ProgressBar
from qusi_lab.training.metrics import (
    CEILING_SUFFIX,
    confusion_matrix,
    metrics_for_task,
    precision_recall_curve,
    roc_curve,
)

__all__ = ["evaluate", "EvaluationResult", "NonFiniteScoreError", "predict_outputs", "evaluation_batches"]


def evaluation_batches(dataset: Any, *, batch_size: int = 256, num_workers: int = 0) -> DataLoader:
    """A DataLoader of ``(x, y, index)`` batches covering every curve of ``dataset`` once.

    The loader gets its own generator, so creating it does not consume the global torch random state
    (training stays reproducible whether or not it validates).
    """
    return DataLoader(
        dataset.iterate(),
        batch_size=int(batch_size),
        num_workers=int(num_workers),
        generator=torch.Generator().manual_seed(0),
    )


def predict_outputs(
    model: nn.Module | Model,
    batches: Iterable[Sequence[torch.Tensor]],
    *,
    device: torch.device | str | None = None,
    progress: ProgressBar | None = None,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Run ``model`` over ``(x, y, index)`` batches: ``(outputs, targets, indices)`` sorted by index.

    Outputs are the raw float32 logits on the CPU, shape ``(n, n_outputs)``. The forward loop is the
    one scoring path (:func:`qusi_lab.models.scoring.forward_stream`): the model is in eval mode for
    the pass and back in its previous mode afterwards.
    """
    network = model.network if isinstance(model, Model) else model
    assert network is not None, "a Model description without weights cannot predict"
    outputs, targets, indices = [], [], []
    for (_, y, index), logits in forward_stream(network, batches, device=device, progress=progress):
        assert logits is not None
        outputs.append(logits)
        targets.append(y.cpu())
        indices.append(torch.as_tensor(index).reshape(-1).cpu())
    if not outputs:
        return torch.empty(0, 1), torch.empty(0), np.empty(0, dtype=np.int64)
    index_array = torch.cat(indices).numpy().astype(np.int64)
    # DataLoader workers interleave their batches: restore dataset order.
    order = np.argsort(index_array, kind="stable")
    order_tensor = torch.from_numpy(order)
    return torch.cat(outputs)[order_tensor], torch.cat(targets)[order_tensor], index_array[order]


@dataclass
class EvaluationResult:
    """What :func:`evaluate` found.

    Attributes
    ----------
    metrics:
        Metric name to value (see :mod:`qusi_lab.training.metrics`). Binary tasks include
        ``recall_at_top_<k>%_ceiling``, the best ``recall_at_top_<k>%`` any ranking reaches on this
        set (``min(1, places in the top fraction / positives)``: 0.5 when 20% of the curves are
        positive and the top 10% is vetted); the repr, HTML view and :meth:`to_frame` show the recall
        next to it.
    scores:
        One row per evaluated curve: ``index``, ``path``, ``target_id``, ``label`` and ``score``
        (binary: probability of the positive class; regression: prediction), plus for multiclass
        ``predicted`` and one probability column per class.
    confusion_matrix:
        DataFrame of counts, rows the true class, columns the predicted class (None for regression).
    problems:
        Curves that could not be loaded or preprocessed (path, error, stage); they are not scored.
    task, label_names, threshold, top_fraction:
        How the metrics were computed.
    """

    metrics: dict[str, float]
    scores: Any
    confusion_matrix: Any
    problems: Any
    task: str
    label_names: tuple[str, ...] = ()
    threshold: float = DEFAULT_THRESHOLD
    top_fraction: float = DEFAULT_TOP_FRACTION
    positive_class: str | None = field(default=None)

    def _ceilings(self) -> dict[str, float]:
        """Metric name to its ceiling, for the metrics that have one in :attr:`metrics`."""
        return {name: self.metrics[name + CEILING_SUFFIX] for name in self.metrics
                if name + CEILING_SUFFIX in self.metrics}

    def _note(self, name: str) -> str:
        """What bounds a metric on this set, in words ("" for most metrics)."""
        if self.task != "binary" or not len(self.scores):
            return ""
        positives = int((self.scores["label"] == self.positive_class).sum())
        ceilings = self._ceilings()
        if name in ceilings and not math.isnan(ceilings[name]):
            places = min(len(self.scores), max(1, math.ceil(self.top_fraction * len(self.scores) - 1e-9)))
            return (f"ceiling {ceilings[name]:.4f}: {places:,} place{'s' * (places != 1)} in the top "
                    f"{self.top_fraction * 100:g}% for {positives:,} positive{'s' * (positives != 1)}")
        if name == "recall_at_k_positives" and positives:
            return f"recall = precision in the top {positives:,}, the number of positives"
        return ""

    def to_frame(self) -> Any:
        """The metrics as a DataFrame: ``value``, and ``ceiling`` (the best value any ranking reaches on this
        set) for ``recall_at_top_<k>%``; its ``..._ceiling`` entry of :attr:`metrics` is that cell, not a row.

        Example
        -------
        >>> result.to_frame().loc["recall_at_top_10%"]          # doctest: +SKIP
        value      0.44
        ceiling    0.50
        """
        import pandas as pd

        ceilings = self._ceilings()
        shown = {name: value for name, value in self.metrics.items()
                 if not (name.endswith(CEILING_SUFFIX) and name.removesuffix(CEILING_SUFFIX) in self.metrics)}
        frame = pd.DataFrame({"value": shown}).rename_axis("metric")
        if ceilings:
            frame["ceiling"] = [ceilings.get(name, math.nan) for name in frame.index]
        return frame

    def _header(self) -> str:
        count = len(self.scores)
        parts = [f"{count:,} curves"]
        if self.task == "binary" and count:
            parts.append(
                f"{int((self.scores['label'] == self.positive_class).sum()):,} {self.positive_class}"
            )
        parts.append(f"{len(self.problems):,} skipped")
        return f"EvaluationResult({self.task}: {', '.join(parts)})"

    def __repr__(self) -> str:
        values = self.to_frame()["value"]
        width = max((len(str(name)) for name in values.index), default=0)
        lines = [self._header()]
        for name, value in values.items():
            line = f"  {name:<{width}}  {value:.4f}" if not math.isnan(value) else f"  {name:<{width}}  nan"
            note = self._note(str(name))
            lines.append(f"{line}  ({note})" if note else line)
        if self.confusion_matrix is not None and self.task == "binary":
            lines.append(
                f"  confusion matrix at threshold {self.threshold:g} (rows: true, columns: predicted):"
            )
            lines.extend("    " + line for line in self.confusion_matrix.to_string().splitlines())
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        html = f"<p><b>{self._header()}</b></p>" + self.to_frame().to_html(float_format=lambda v: f"{v:.4f}",
                                                                           na_rep="")
        notes = [f"<li><code>{name}</code>: {self._note(name)}</li>" for name in self.metrics if self._note(name)]
        if notes:
            html += f"<ul>{''.join(notes)}</ul>"
        if self.confusion_matrix is not None:
            html += (
                "<p>Confusion matrix (rows: true, columns: predicted)</p>" + self.confusion_matrix.to_html()
            )
        return html

    def plot(self, ax: Any = None) -> Any:
        """ROC and precision-recall curves (binary), the confusion matrix (multiclass), or predicted
        against true values (regression). Returns the matplotlib Figure.

        ``ax``: where to draw, as everywhere in qusi_lab: two Axes for a binary model (ROC, precision-recall),
        one otherwise; default a new figure.

        Example
        -------
        >>> figure = report.plot()                        # doctest: +SKIP
        """
        from qusi_lab.core.plotting import panel_axes

        if self.task == "binary":
            figure, (roc_axis, pr_axis) = panel_axes(ax, 2, figsize=(10, 4.5), what="EvaluationResult.plot")
            scores = self.scores["score"].to_numpy()
            labels = (self.scores["label"] == self.positive_class).to_numpy()
            fpr, tpr, _ = roc_curve(scores, labels)
            roc_axis.plot(
                fpr, tpr, color="tab:blue", label=f"AUC = {self.metrics.get('auc_roc', math.nan):.3f}"
            )
            roc_axis.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="chance")
            roc_axis.set(
                xlabel="false positive rate",
                ylabel="true positive rate",
                title="ROC curve",
                xlim=(0, 1),
                ylim=(0, 1.01),
            )
            roc_axis.legend(loc="lower right")
            precision, recall, _ = precision_recall_curve(scores, labels)
            pr_axis.step(
                np.r_[0.0, recall],
                np.r_[precision[:1], precision],
                where="pre",
                color="tab:orange",
                label=f"average precision = {self.metrics.get('auc_pr', math.nan):.3f}",
            )
            base_rate = float(labels.mean()) if labels.size else math.nan
            pr_axis.axhline(
                base_rate, color="0.6", linestyle="--", linewidth=1, label=f"base rate = {base_rate:.3f}"
            )
            pr_axis.set(
                xlabel="recall",
                ylabel="precision",
                title="Precision-recall curve",
                xlim=(0, 1),
                ylim=(0, 1.01),
            )
            pr_axis.legend(loc="lower left")
            return figure
        if self.task == "multiclass":
            figure, (axis,) = panel_axes(
                ax, 1, figsize=(1.2 * len(self.label_names) + 3, 1.1 * len(self.label_names) + 2),
                what="EvaluationResult.plot",
            )
            counts = self.confusion_matrix.to_numpy()
            image = axis.imshow(counts, cmap="Blues")
            for row in range(counts.shape[0]):
                for column in range(counts.shape[1]):
                    colour = "white" if counts[row, column] > counts.max() / 2 else "black"
                    axis.text(column, row, f"{counts[row, column]:,}", ha="center", va="center", color=colour)
            axis.set_xticks(range(len(self.label_names)), self.label_names, rotation=45, ha="right")
            axis.set_yticks(range(len(self.label_names)), self.label_names)
            axis.set(
                xlabel="predicted class",
                ylabel="true class",
                title=f"Confusion matrix (accuracy {self.metrics.get('accuracy', math.nan):.3f})",
            )
            figure.colorbar(image, ax=axis, shrink=0.8)
            return figure
        figure, (axis,) = panel_axes(ax, 1, figsize=(5.5, 5), what="EvaluationResult.plot")
        truth = self.scores["label"].to_numpy(dtype=float)
        predicted = self.scores["score"].to_numpy(dtype=float)
        axis.scatter(truth, predicted, s=8, alpha=0.6, color="tab:blue")
        if truth.size:
            low = float(min(truth.min(), predicted.min()))
            high = float(max(truth.max(), predicted.max()))
            axis.plot(
                [low, high], [low, high], color="0.5", linestyle="--", linewidth=1, label="predicted = true"
            )
            axis.legend(loc="upper left")
        axis.set(
            xlabel="true value",
            ylabel="predicted value",
            title=f"R² = {self.metrics.get('r2', math.nan):.3f}, RMSE = {self.metrics.get('rmse', math.nan):.3g}",
        )
        return figure


def _check_compatible(model: Model, dataset: Any) -> str:
    if not dataset.is_labelled:
        raise ValueError(
            "evaluate needs a labelled dataset (metrics compare scores with labels); "
            "to score unlabelled light curves use inference instead"
        )
    model.check(dataset)
    return str(model.task)


def _described(model: Any, dataset: Any) -> Model:
    """The Model to evaluate: ``model`` itself, its bundle folder, or a bare network taken with the dataset's task
    (so only the network's own input length and outputs are checked)."""
    if isinstance(model, (str, os.PathLike)) or description_of(model) is not None:
        return as_model(model)
    # A bare network: nothing says how it was trained, so the dataset's description is assumed.
    check_compatible(model, dataset, role="dataset")
    return Model(model, task=str(dataset.task), label_names=tuple(dataset.label_names),
                 input_length=int(dataset.input_length), input_shape=input_shape_of(dataset))


class NonFiniteScoreError(QusiLabError, ValueError):
    """The network gave NaN or infinite outputs: metrics computed from them would mean nothing."""


def _check_finite(outputs: np.ndarray, scores: np.ndarray, names: list[str]) -> None:
    """Refuse to compute metrics from non-finite outputs, naming the curves (dropping them would bias the metrics)."""
    finite = np.isfinite(outputs.reshape(len(outputs), -1)).all(axis=1) & np.isfinite(
        scores.reshape(len(scores), -1)).all(axis=1)
    if finite.all():
        return
    bad = [name for name, keep in zip(names, finite, strict=True) if not keep]
    if not finite.any():
        raise NonFiniteScoreError(
            f"the model is broken: the network gave a non-finite score (NaN or infinity) for every one of the "
            f"{len(bad):,} curves (are its weights finite? did training diverge?)")
    more = f" and {len(bad) - 3:,} more" if len(bad) > 3 else ""
    raise NonFiniteScoreError(
        f"the network gave a non-finite score (NaN or infinity) for {len(bad):,} of {len(names):,} curves "
        f"({', '.join(bad[:3])}{more}); the metrics would be meaningless")


def evaluate(
    model: Model | nn.Module | str | os.PathLike[str],
    dataset: Any,
    *,
    batch_size: int = 256,
    num_workers: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    top_fraction: float = DEFAULT_TOP_FRACTION,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> EvaluationResult:
    """Score every curve of a labelled ``dataset`` with ``model`` and compute the task's metrics.

    Parameters
    ----------
    model:
        A :class:`~qusi_lab.models.Model` (from :func:`~qusi_lab.training.train` or ``ql.load``) or its
        bundle folder: its task, class names and regression scaler are used and checked against the
        dataset (:meth:`~qusi_lab.models.Model.check`). A bare network is taken with the dataset's task.
    dataset:
        A labelled :class:`~qusi_lab.data.LightCurveDataset`. Curves that fail to load or preprocess
        are skipped and listed in ``result.problems``.
    batch_size, num_workers:
        DataLoader settings.
    threshold:
        Binary tasks: a curve is called positive when its score is ``>= threshold`` (accuracy,
        precision, recall, F1, confusion matrix).
    top_fraction:
        Binary tasks: the fraction for ``recall_at_top_<k>%``; ``recall_at_top_<k>%_ceiling`` is the best
        value it can take on ``dataset`` (below 1 when the positives outnumber the places in the top).
    device:
        Where to run (default: where the model's parameters are).
    progress:
        Show a progress bar.

    Raises
    ------
    NonFiniteScoreError
        When the network gives NaN or infinite outputs for any curve (naming them): metrics
        over the other curves would look valid while hiding them.

    Example
    -------
    >>> result = evaluate(model, test_set, threshold=0.5, top_fraction=0.05)   # doctest: +SKIP
    >>> result.metrics["recall_at_top_5%"]                                     # doctest: +SKIP
    """
    import pandas as pd

    described = _described(model, dataset)
    task = _check_compatible(described, dataset)
    loader = evaluation_batches(dataset, batch_size=batch_size, num_workers=num_workers)
    bar = ProgressBar(len(dataset), enabled=progress, description="evaluating", unit="curve")
    try:
        outputs, targets, indices = predict_outputs(described, loader, device=device, progress=bar)
    finally:
        bar.close()
    if len(indices) == 0:  # metrics of nothing would be NaN or a reshape error, not an answer
        from qusi_lab.data.problems import NoUsableLightCurvesError

        problems = dataset.problems
        first = f"; the first: {problems['path'].iloc[0]}: {problems['error'].iloc[0]}" if len(problems) else ""
        raise NoUsableLightCurvesError(
            f"none of the {len(dataset)} light curves could be scored (listed in dataset.problems){first}"
        )
    scores = described.scores_from_outputs(outputs).numpy().astype(np.float64)
    label_names = tuple(dataset.label_names)
    names = [dataset.source_name(int(index)) for index in indices]
    _check_finite(outputs.numpy(), scores, names)
    frame = pd.DataFrame(
        {
            "index": indices,
            "path": names,
            "target_id": [dataset.target_ids[int(index)] for index in indices],
        }
    )
    matrix = None
    if task == "regression":
        truth = targets.numpy().astype(np.float64)
        frame["label"] = truth
        frame["score"] = scores
        metrics = metrics_for_task(task, scores, truth)
    else:
        class_indices = targets.numpy().astype(np.int64)
        frame["label"] = [label_names[index] for index in class_indices]
        if task == "binary":
            frame["score"] = scores
            predicted = (scores >= threshold).astype(np.int64)
            metrics = metrics_for_task(
                task, scores, class_indices, threshold=threshold, top_fraction=top_fraction
            )
        else:
            predicted = scores.argmax(axis=1) if scores.size else np.empty(0, dtype=np.int64)
            frame["predicted"] = [label_names[index] for index in predicted]
            frame["score"] = scores.max(axis=1) if scores.size else np.empty(0)
            for klass, name in enumerate(label_names):
                frame[f"score_{name}"] = scores[:, klass] if scores.size else np.empty(0)
            metrics = metrics_for_task(
                task, scores.reshape(len(frame), len(label_names)), class_indices, label_names=label_names
            )
        counts = confusion_matrix(predicted, class_indices, len(label_names))
        matrix = pd.DataFrame(
            counts, index=pd.Index(label_names, name="true"), columns=pd.Index(label_names, name="predicted")
        )
    evaluated = set(names)
    skipped = {dataset.source_name(index) for index in range(len(dataset))} - evaluated
    problems = dataset.problems
    problems = problems[problems["path"].isin(skipped)].reset_index(drop=True)
    return EvaluationResult(
        metrics=metrics,
        scores=frame,
        confusion_matrix=matrix,
        problems=problems,
        task=task,
        label_names=label_names,
        threshold=float(threshold),
        top_fraction=float(top_fraction),
        positive_class=dataset.positive_class,
    )
