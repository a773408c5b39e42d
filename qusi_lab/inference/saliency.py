"""Saliency: which part of a light curve drove the network's score.

Two methods, both giving one value per cadence of the network input (the binned curve),
positive where the data pushed the score *up*:

* ``"occlusion"`` (default; model-agnostic, no gradients): slide a window over the
  input, replace it with the curve's median (what "nothing happening" looks like after
  normalisation) and record how much the output drops. Each cadence gets the mean drop
  of the windows covering it. One batched forward pass per ~64 windows.
* ``"integrated_gradients"`` (Sundararajan et al. 2017): the gradient of the output
  averaged along the straight path from a flat baseline to the curve, times the curve
  minus the baseline. Attributions sum to ``f(x) - f(baseline)``.

The output used is the logit of the positive class (binary), the log-probability of the
chosen class (multiclass) or the prediction (regression): logits do not saturate, so a
confident detection still shows which transits it rests on.

Example
-------
>>> values = saliency(model, light_curve)                                # doctest: +SKIP
>>> time, values = saliency(model, light_curve, return_time=True)         # doctest: +SKIP
>>> plt.plot(time, values)   # peaks at the transits                      # doctest: +SKIP
>>> on_cadences = np.interp(light_curve.time, time, values)  # back on the raw cadences  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from qusi_lab.lightcurve import LightCurve
from qusi_lab.models.trained import Model, as_model, description_of

__all__ = ["saliency", "SALIENCY_METHODS"]

SALIENCY_METHODS: tuple[str, ...] = ("occlusion", "integrated_gradients")


def _prepare_input(model: Any, data: Any, preprocessing: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """The network input (float32) and, for a light curve, the time of each input cadence."""
    if isinstance(data, LightCurve) or (hasattr(data, "time") and hasattr(data, "flux")):
        described = as_model(model, preprocessing=preprocessing)
        pipeline = described.input_pipeline()
        lc = data if isinstance(data, LightCurve) else LightCurve.from_lightkurve(data)
        # The same generator seed as dataset[i] and infer() use for curve 0 is irrelevant for the default
        # (deterministic) preprocessing; a fixed seed keeps any random step reproducible here.
        processed = pipeline(lc, rng=np.random.default_rng(0))
        x = np.asarray(processed.flux, dtype=np.float32)
        if not np.isfinite(x).all():
            raise ValueError("the preprocessing left non-finite values; end it with FillGaps()")
        if x.shape != (described.input_length,):
            raise ValueError(f"preprocessing produced shape {x.shape}, the model expects {described.input_length}")
        return x, np.asarray(processed.time, dtype=np.float64)
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    x = np.asarray(data, dtype=np.float32).reshape(-1)
    if not np.isfinite(x).all():
        raise ValueError("the input has non-finite values")
    return x, None


def _target_function(model: nn.Module, described: Model | None, target: int | str | None,
                     x: torch.Tensor) -> tuple[Any, int]:
    """``f(batch) -> (batch,)`` of the explained output, and the chosen output index."""
    task = described.task if described is not None else None
    with torch.inference_mode():
        probe = model(x.unsqueeze(0))
    n_outputs = probe.shape[-1]
    if task is None:
        task = "binary" if n_outputs == 1 else "multiclass"
    if task == "multiclass":
        names = list(described.label_names) if described is not None else []
        if target is None:
            positive = described.positive_class if described is not None else None
            index = names.index(positive) if positive in names else int(probe.argmax(dim=-1).item())
        elif isinstance(target, str):
            if target not in names:
                raise ValueError(f"target {target!r} is not a class of this model; its classes are {names}")
            index = names.index(target)
        else:
            index = int(target)
        return (lambda outputs: torch.log_softmax(outputs, dim=-1)[:, index]), index
    index = 0 if target is None or isinstance(target, str) else int(target)
    if not 0 <= index < n_outputs:
        raise ValueError(f"target {target!r} out of range for {n_outputs} outputs")
    return (lambda outputs: outputs[:, index]), index


def _occlusion(model: nn.Module, x: np.ndarray, select: Any, window: int, stride: int, baseline: float,
               batch_size: int, device: torch.device) -> np.ndarray:
    length = x.size
    starts = list(range(0, max(1, length - window + 1), stride))
    if starts[-1] + window < length:
        starts.append(length - window)  # cover the end too
    reference = torch.from_numpy(x).to(device)
    with torch.inference_mode():
        base_value = float(select(model(reference.unsqueeze(0)))[0])
        drops = np.empty(len(starts), dtype=np.float64)
        for first in range(0, len(starts), batch_size):
            chunk = starts[first:first + batch_size]
            batch = reference.repeat(len(chunk), 1)
            for row, start in enumerate(chunk):
                batch[row, start:start + window] = baseline
            drops[first:first + len(chunk)] = base_value - select(model(batch)).double().cpu().numpy()
    totals = np.zeros(length, dtype=np.float64)
    counts = np.zeros(length, dtype=np.float64)
    for start, drop in zip(starts, drops, strict=True):
        totals[start:start + window] += drop
        counts[start:start + window] += 1
    return totals / np.maximum(counts, 1)


def _integrated_gradients(model: nn.Module, x: np.ndarray, select: Any, steps: int, baseline: float,
                          batch_size: int, device: torch.device) -> np.ndarray:
    reference = torch.from_numpy(x).double().to(device)
    start = torch.full_like(reference, baseline)
    # Midpoint rule along the path: alphas (k + 0.5) / steps.
    alphas = (torch.arange(steps, dtype=torch.float64, device=device) + 0.5) / steps
    gradient_sum = torch.zeros_like(reference)
    with torch.enable_grad():
        for first in range(0, steps, batch_size):
            chunk = alphas[first:first + batch_size].unsqueeze(1)
            path = (start + chunk * (reference - start)).float().requires_grad_(True)
            outputs = select(model(path))
            (gradient,) = torch.autograd.grad(outputs.sum(), path)
            gradient_sum += gradient.double().sum(dim=0)
    return ((reference - start) * gradient_sum / steps).cpu().numpy()


def saliency(
    model: nn.Module,
    light_curve_or_x: Any,
    *,
    method: str = "occlusion",
    window: int | None = None,
    stride: int | None = None,
    steps: int = 32,
    target: int | str | None = None,
    baseline: float | None = None,
    preprocessing: Any = None,
    return_time: bool = False,
    batch_size: int = 64,
) -> Any:
    """Per-cadence saliency of the network input: how much each part raised the output.

    Parameters
    ----------
    model:
        The network (with a ``.bundle`` when given a light curve, so it is preprocessed as
        in training).
    light_curve_or_x:
        A raw light curve (qusi_lab or lightkurve), preprocessed with the model's
        pipeline; or the network input itself (array or tensor of ``input_length`` values).
    method:
        ``"occlusion"`` or ``"integrated_gradients"``.
    window:
        Occlusion: cadences hidden at a time (default ``input_length // 64``, ~10 hours of
        a binned TESS sector: about a transit's width). Choose it near the width of
        the features you expect.
    stride:
        Occlusion: step between windows (default ``window // 4``).
    steps:
        Integrated gradients: points along the path.
    target:
        Which output to explain: class name or output index (multiclass; default the
        bundle's positive class, else the predicted class); output index otherwise.
    baseline:
        The "no signal" value (default: the median of the input, 0 after the default
        ``median_mad`` normalisation).
    preprocessing:
        Override the bundle's preprocessing.
    return_time:
        Also return the time of each input cadence (the bin centres; for an array input,
        the cadence index).
    batch_size:
        Curves per forward pass.

    Returns
    -------
    numpy.ndarray or (numpy.ndarray, numpy.ndarray)
        ``values`` (float64, ``input_length``), or ``(time, values)`` with ``return_time``.

    Example
    -------
    >>> import torch
    >>> from qusi_lab.models import Hadryss
    >>> model = Hadryss(input_length=128).eval()
    >>> saliency(model, torch.zeros(128), window=8).shape
    (128,)
    """
    if method not in SALIENCY_METHODS:
        raise ValueError(f"unknown saliency method {method!r}; choose one of {SALIENCY_METHODS}")
    x, time = _prepare_input(model, light_curve_or_x, preprocessing)
    # A Model (or a network a train() described) brings its task and classes; a bare network only itself.
    described = description_of(model)
    model = described.network if described is not None and described.network is not None else model
    length = x.size
    device = next((parameter.device for parameter in model.parameters()), torch.device("cpu"))
    was_training = model.training
    model.eval()
    try:
        select, _ = _target_function(model, described, target, torch.from_numpy(x).to(device))
        level = float(np.median(x)) if baseline is None else float(baseline)
        if method == "occlusion":
            size = max(1, min(length, int(window) if window is not None else max(4, length // 64)))
            step = max(1, int(stride) if stride is not None else max(1, size // 4))
            values = _occlusion(model, x, select, size, step, level, max(1, int(batch_size)), device)
        else:
            if int(steps) < 1:
                raise ValueError(f"steps must be at least 1, got {steps}")
            values = _integrated_gradients(model, x, select, int(steps), level, max(1, int(batch_size)), device)
    finally:
        model.train(was_training)
    if return_time:
        return (time if time is not None else np.arange(length, dtype=np.float64)), values
    return values
