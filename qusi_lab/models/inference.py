"""Fast CPU inference: fold batch norm into convolutions, drop dropout, optionally compile; count FLOPs.

Typical use::

    model = models.from_config(name, config); model.load_state_dict(state)
    fast = models.optimize_for_inference(model)          # fused copy, chunked batches, no grad
    scores = models.scores_from_logits(models.predict_logits(fast, curves), task)

Save the *unfused* model: the fused copy has no batch-norm entries in its ``state_dict``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from qusi_lab.models.base import ConvNormAct

__all__ = ["fuse_conv_batch_norm", "fuse_for_inference", "optimize_for_inference", "InferenceModel",
           "activation_bytes_per_curve", "predict_logits", "count_flops"]


def _input_length(model: nn.Module, input_length: int | None) -> int:
    if input_length is not None:
        return int(input_length)
    length = getattr(model, "input_length", None)
    if length is None:
        raise ValueError(f"{type(model).__name__} has no input_length attribute; pass input_length=")
    return int(length)


def fuse_conv_batch_norm(conv: nn.Conv1d, norm: nn.BatchNorm1d) -> nn.Conv1d:
    """A new ``Conv1d`` equal to ``norm(conv(x))`` with ``norm`` in eval mode (running statistics).

    ``w' = w * gamma / sqrt(var + eps)`` per output channel, ``b' = (b - mean) * gamma / sqrt(var + eps) + beta``.

    Example
    -------
    >>> conv, norm = nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3).eval()
    >>> _ = norm.running_mean.uniform_(), norm.running_var.uniform_(1, 2)
    >>> x = torch.randn(4, 2, 20)
    >>> bool(torch.allclose(fuse_conv_batch_norm(conv, norm)(x), norm(conv(x)), atol=1e-6))
    True
    """
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError("cannot fold a BatchNorm1d without running statistics (track_running_stats=False)")
    fused = nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size,  # type: ignore[arg-type]
                      stride=conv.stride, padding=conv.padding, dilation=conv.dilation,  # type: ignore[arg-type]
                      groups=conv.groups, bias=True, padding_mode=conv.padding_mode)
    with torch.no_grad():
        scale = torch.rsqrt(norm.running_var + norm.eps)
        if norm.weight is not None:
            scale = scale * norm.weight
        bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
        shift = (bias - norm.running_mean) * scale
        if norm.bias is not None:
            shift = shift + norm.bias
        fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1))
        assert fused.bias is not None
        fused.bias.copy_(shift)
    return fused.to(conv.weight.device)


def _sequential_pairs(module: nn.Module) -> Iterator[tuple[nn.Sequential, int]]:
    for child in module.modules():
        if isinstance(child, nn.Sequential):
            for index in range(len(child) - 1):
                if isinstance(child[index], nn.Conv1d) and isinstance(child[index + 1], nn.BatchNorm1d):
                    yield child, index


def fuse_for_inference(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """An eval-mode copy of ``model`` with every BatchNorm folded into the conv before it and no dropout.

    Works on the blocks of this package (:class:`~qusi_lab.models.base.ConvNormAct`) and on any
    ``Conv1d`` directly followed by a ``BatchNorm1d`` in an ``nn.Sequential``. Outputs equal the eval-mode
    outputs of the original to float rounding (~1e-6). Parameters of the copy do not require gradients.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> model = Hadryss(input_length=1000).eval()
    >>> fast = fuse_for_inference(model)
    >>> any(isinstance(m, nn.BatchNorm1d) for m in fast.modules())
    False
    >>> x = torch.randn(2, 1000)
    >>> bool(torch.allclose(fast(x), model(x), atol=1e-5))
    True
    """
    fused = model if inplace else copy.deepcopy(model)
    fused.eval()
    for module in list(fused.modules()):
        if (isinstance(module, ConvNormAct) and isinstance(module.norm, nn.BatchNorm1d)
                and module.norm.track_running_stats):
            module.conv = fuse_conv_batch_norm(module.conv, module.norm)
            module.norm = nn.Identity()
    for sequential, index in list(_sequential_pairs(fused)):
        conv, norm = sequential[index], sequential[index + 1]
        if isinstance(conv, nn.Conv1d) and isinstance(norm, nn.BatchNorm1d) and norm.track_running_stats:
            sequential[index] = fuse_conv_batch_norm(conv, norm)
            sequential[index + 1] = nn.Identity()
    # Dropout is a no-op in eval mode; replacing it saves a call per layer and guards against .train().
    for parent in list(fused.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, (nn.Dropout, nn.Dropout1d)) and not isinstance(parent, nn.TransformerEncoderLayer):
                setattr(parent, child_name, nn.Identity())
    for parameter in fused.parameters():
        parameter.requires_grad_(False)
    return fused


def activation_bytes_per_curve(model: nn.Module, input_length: int | None = None) -> int:
    """Bytes of the largest intermediate tensor one curve produces in a forward pass (float32).

    Found by running one curve with forward hooks on every leaf module.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> activation_bytes_per_curve(Hadryss(input_length=4096))  # 8 channels x 4096 samples x 4 bytes
    131072
    """
    length = _input_length(model, input_length)
    largest = [length]

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(output, Tensor):
            largest[0] = max(largest[0], output.numel())

    handles = [module.register_forward_hook(record) for module in model.modules()
               if not any(True for _ in module.children())]
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model(torch.zeros(1, length))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return 4 * largest[0]


class InferenceModel(nn.Module):
    """A fused model that runs large batches in cache-sized chunks under ``torch.inference_mode``.

    A batch of 256 curves of 4096 samples makes 32 MB intermediate tensors in Hadryss's first block:
    more than the CPU caches hold, and (above glibc's allocation threshold) freshly page-faulted on
    every call. Running the same forward pass on chunks whose largest tensor fits ``cache_bytes``
    gives the same numbers faster. ``name``, ``config``, ``input_length`` and ``n_outputs`` are those
    of the wrapped model.

    Parameters
    ----------
    model:
        The (already fused) network.
    chunk_size:
        Curves per chunk; ``None`` picks ``cache_bytes // activation_bytes_per_curve(model)``, kept
        within 8 to 64 (measured best on a 2-core Zen machine: 32-64 curves of 4096 samples).
    cache_bytes:
        Budget for the largest intermediate tensor of one chunk (default 8 MiB).
    """

    def __init__(self, model: nn.Module, *, chunk_size: int | None = None, cache_bytes: int = 8 * 2**20) -> None:
        super().__init__()
        self.model = model
        if chunk_size is None:
            chunk_size = min(64, max(8, cache_bytes // activation_bytes_per_curve(model)))
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.chunk_size = int(chunk_size)
        for attribute in ("name", "config", "input_length", "n_outputs"):
            if hasattr(model, attribute):
                setattr(self, attribute, getattr(model, attribute))

    def forward(self, x: Tensor, *other_inputs: Tensor) -> Tensor:
        """Logits of ``model(x, *other_inputs)``; every input is chunked along the batch axis."""
        with torch.inference_mode():
            if len(x) <= self.chunk_size:
                return self.model(x, *other_inputs)
            chunks = zip(x.split(self.chunk_size), *(other.split(self.chunk_size) for other in other_inputs),
                         strict=True)
            return torch.cat([self.model(*inputs) for inputs in chunks])

    def extra_repr(self) -> str:
        return f"chunk_size={self.chunk_size}"


def optimize_for_inference(model: nn.Module, *, chunk_size: int | None = None, compile: bool = False,
                           example_input: Tensor | None = None) -> nn.Module:
    """The fastest CPU inference version of ``model``: fused, chunked, optionally compiled.

    :func:`fuse_for_inference`, then :class:`InferenceModel` (cache-sized chunks,
    ``torch.inference_mode``). With ``compile=True`` the fused network is also passed to
    ``torch.compile``; that needs a C++ compiler and tens of seconds per input shape, is tried on
    ``example_input`` (required then) and is skipped with a warning when it fails. On the 2-core
    test machine compiling did not beat the eager fused model, so it is off by default.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> model = Hadryss(input_length=1000).eval()
    >>> fast = optimize_for_inference(model)
    >>> x = torch.randn(300, 1000)
    >>> bool(torch.allclose(fast(x), model(x), atol=1e-5)), fast.config == model.config
    (True, True)
    """
    fused = fuse_for_inference(model)
    if compile:
        if example_input is None:
            raise ValueError("compile=True needs example_input (a batch of the shape you will run)")
        try:
            compiled = torch.compile(fused, dynamic=False)
            with torch.inference_mode():
                compiled(example_input)
            fused = compiled  # type: ignore[assignment]
        except Exception as error:  # noqa: BLE001 - any backend failure means "use the eager model"
            warnings.warn(f"torch.compile failed ({type(error).__name__}: {error}); using the eager fused model",
                          RuntimeWarning, stacklevel=2)
    return InferenceModel(fused, chunk_size=chunk_size)


def predict_logits(model: nn.Module, curves: Tensor, *, batch_size: int = 256) -> Tensor:
    """Logits for ``curves`` (``(n, length)``), in batches, under ``torch.inference_mode``.

    Puts ``model`` in eval mode. Example: ``predict_logits(model, torch.zeros(10, 4096)).shape == (10, 1)``.
    """
    model.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(curves), batch_size):
            outputs.append(model(curves[start:start + batch_size].contiguous()))
    return torch.cat(outputs) if outputs else torch.empty(0)


def count_flops(model: nn.Module, input_length: int | None = None) -> int:
    """Floating-point operations of one forward pass of one curve (2 per multiply-add).

    Counted with :class:`torch.utils.flop_counter.FlopCounterMode`: convolutions, matrix products and
    attention; element-wise work (activations, pooling, normalisation) is not counted.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> count_flops(Hadryss(input_length=1000)) > 0
    True
    """
    length = _input_length(model, input_length)
    was_training = model.training
    model.eval()
    fastpath = torch.backends.mha.get_fastpath_enabled()
    # The fused attention fast path is invisible to the counter; count the plain path instead.
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.zeros(1, length))
        return int(counter.get_total_flops())
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        model.train(was_training)
