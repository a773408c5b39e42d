"""Fast CPU inference: fold batch norm into convolutions, drop dropout, run conv blocks channels-last,
spread chunks over single-threaded workers, optionally compile; count FLOPs.

Typical use::

    model = models.from_config(name, config); model.load_state_dict(state)
    fast = models.optimize_for_inference(model)          # fused, channels-last, chunked, no grad
    scores = models.scores_from_logits(models.predict_logits(fast, curves), task)

Save the *unfused* model: the fused copy has no batch-norm entries in its ``state_dict``.
"""

from __future__ import annotations

import copy
import math
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from qusi_lab.models.base import ConvNormAct

__all__ = ["fuse_conv_batch_norm", "fuse_for_inference", "optimize_for_inference", "InferenceModel",
           "ChannelsLastConvBlock", "to_channels_last", "activation_bytes_per_curve", "predict_logits",
           "count_flops"]


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


def _pool_rows(rows: Tensor, pooling: int, kind: str) -> Tensor:
    """``MaxPool1d(pooling)`` (``kind="max"``) or ``AvgPool1d(pooling)`` along dim 1 of a contiguous
    ``(batch, length, channels)`` tensor.

    An element-wise maximum (or sum) of ``pooling`` strided views whose rows are contiguous runs of
    channels: vectorised, unlike ``max_pool1d`` over a channels-last tensor. Floor mode, NaN propagates.
    """
    batch, length, channels = rows.shape
    windows = length // pooling
    grouped = rows[:, : windows * pooling].view(batch, windows, pooling, channels)
    combine = torch.maximum if kind == "max" else torch.add
    pooled = combine(grouped[:, :, 0], grouped[:, :, 1])
    for offset in range(2, pooling):
        combine(pooled, grouped[:, :, offset], out=pooled)
    return pooled if kind == "max" else pooled.mul_(1.0 / pooling)


class ChannelsLastConvBlock(nn.Module):
    """A fused :class:`~qusi_lab.models.base.ConvNormAct` that runs channels-last: same outputs, faster on CPU.

    The convolution runs as a ``(k, 1)`` 2-D convolution on a channels-last tensor (oneDNN's native
    layout, so no reordering between layers), and the max- (or average-) pooling as an element-wise
    maximum (or mean) over rows of that layout. The block takes and returns ``(batch, channels, length)`` tensors; what it
    returns is a transposed view of a ``(batch, length, channels)`` tensor, which the next block
    uses without a copy (anything else reads it as an ordinary strided tensor).

    Build it with :func:`to_channels_last` on a model from :func:`fuse_for_inference`.

    Example
    -------
    >>> block = ConvNormAct(4, 8, kernel_size=3, pooling=2, batch_norm=False).eval()
    >>> fast = ChannelsLastConvBlock(block)
    >>> x = torch.randn(2, 4, 100)
    >>> bool(torch.allclose(fast(x), block(x), atol=1e-6)), tuple(fast(x).shape)
    (True, (2, 8, 50))
    """

    def __init__(self, block: ConvNormAct) -> None:
        super().__init__()
        if not _convertible(block):
            raise ValueError("ChannelsLastConvBlock needs a fused ConvNormAct (no batch norm, no dropout, "
                             "zero padding, MaxPool1d or AvgPool1d with stride = kernel)")
        conv = block.conv
        self.stride = int(conv.stride[0])
        self.padding = int(conv.padding[0])  # type: ignore[index]
        self.dilation = int(conv.dilation[0])
        self.groups = int(conv.groups)
        self.weight = nn.Parameter(conv.weight.detach().unsqueeze(-1).contiguous(memory_format=torch.channels_last),
                                   requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
        pool = block.pool
        self.pooling = 1 if isinstance(pool, nn.Identity) else _single(pool.kernel_size)
        self.pool_kind = "average" if isinstance(pool, nn.AvgPool1d) else "max"
        self.act = block.act
        self.pool_first = block.pool_first

    def _activate(self, rows: Tensor) -> Tensor:
        if not rows.requires_grad and isinstance(self.act, nn.LeakyReLU):
            return F.leaky_relu(rows, self.act.negative_slope, inplace=True)
        if not rows.requires_grad and isinstance(self.act, nn.ReLU):
            return F.relu(rows, inplace=True)
        return self.act(rows)

    def forward(self, x: Tensor) -> Tensor:
        x = x.unsqueeze(-1)
        if x.shape[1] == 1 and x.stride(2) == 1:
            # One channel: give it channels-last strides (a view) so oneDNN picks that layout for the output.
            x = x.as_strided(x.shape, (x.stride(0), 1, 1, 1), x.storage_offset())
        y = F.conv2d(x, self.weight, self.bias, (self.stride, 1), (self.padding, 0), (self.dilation, 1),
                     self.groups)
        rows = y.squeeze(-1).transpose(1, 2)  # (batch, length, channels): contiguous for a channels-last y
        if not rows.is_contiguous():
            rows = rows.contiguous()
        if self.pooling > 1:
            rows = (self._activate(_pool_rows(rows, self.pooling, self.pool_kind)) if self.pool_first
                    else _pool_rows(self._activate(rows), self.pooling, self.pool_kind))
        else:
            rows = self._activate(rows)
        return rows.transpose(1, 2)

    def extra_repr(self) -> str:
        out_channels, in_channels, kernel = self.weight.shape[:3]
        return (f"{in_channels * self.groups}, {out_channels}, kernel_size={kernel}, stride={self.stride}, "
                f"padding={self.padding}, pooling={self.pooling}" + (", average" if self.pool_kind == "average" else ""))


def _single(value: Any) -> int:
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def _convertible(block: nn.Module) -> bool:
    if not isinstance(block, ConvNormAct):
        return False
    conv, pool = block.conv, block.pool
    pool_ok = isinstance(pool, nn.Identity) or (
        isinstance(pool, nn.MaxPool1d) and pool.stride == pool.kernel_size and pool.padding == 0
        and pool.dilation == 1 and not pool.ceil_mode and not pool.return_indices) or (
        isinstance(pool, nn.AvgPool1d) and _single(pool.stride) == _single(pool.kernel_size)
        and _single(pool.padding) == 0 and not pool.ceil_mode)
    return (isinstance(conv, nn.Conv1d) and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and isinstance(block.norm, nn.Identity) and isinstance(block.dropout, nn.Identity) and pool_ok)


def to_channels_last(model: nn.Module, *, inplace: bool = False) -> nn.Module:
    """``model`` with every fused conv block replaced by a :class:`ChannelsLastConvBlock`.

    Apply to the output of :func:`fuse_for_inference` (blocks that still hold a batch norm or
    dropout are left as they are). Outputs equal the fused model's to float rounding; on a 2-core
    AMD EPYC (Zen 5) Hadryss runs ~1.4x faster per core this way at input lengths 3,500 to 10,000.

    Example
    -------
    >>> from qusi_lab.models import Hadryss
    >>> fused = fuse_for_inference(Hadryss(input_length=1000).eval())
    >>> fast = to_channels_last(fused)
    >>> sum(isinstance(m, ChannelsLastConvBlock) for m in fast.modules())
    9
    >>> x = torch.randn(3, 1000)
    >>> bool(torch.allclose(fast(x), fused(x), atol=1e-5))
    True
    """
    converted = model if inplace else copy.deepcopy(model)
    if _convertible(converted):
        assert isinstance(converted, ConvNormAct)
        return ChannelsLastConvBlock(converted)
    for parent in list(converted.modules()):
        for child_name, child in list(parent.named_children()):
            if _convertible(child):
                assert isinstance(child, ConvNormAct)
                setattr(parent, child_name, ChannelsLastConvBlock(child))
    return converted


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
    """A fused model that runs large batches in cache-sized chunks under ``torch.inference_mode``,
    spread over single-threaded worker threads.

    A batch of 256 curves of 4096 samples makes 32 MB intermediate tensors in Hadryss's first block:
    more than the CPU caches hold, and (above glibc's allocation threshold) freshly page-faulted on
    every call. Running the same forward pass on chunks whose largest tensor fits ``cache_bytes``
    gives the same numbers faster. With several threads, whole chunks go to worker threads that each
    use one torch thread, instead of splitting every small layer across threads: no synchronisation
    inside a forward pass, so a core taken by another process slows the batch down by its share
    only (with OpenMP's intra-op threads it can stall every layer). ``name``, ``config``,
    ``input_length`` and ``n_outputs`` are those of the wrapped model.

    Parameters
    ----------
    model:
        The (already fused) network.
    chunk_size:
        Curves per chunk; ``None`` picks ``cache_bytes // activation_bytes_per_curve(model)``, kept
        within 8 to 64 (measured best on a 2-core Zen machine: 32-64 curves of 4096 samples).
    cache_bytes:
        Budget for the largest intermediate tensor of one chunk (default 8 MiB).
    threads:
        Worker threads (each running whole chunks with one torch thread). ``None`` (default): torch's
        thread count at call time; 1 runs the chunks in the calling thread.
    """

    def __init__(self, model: nn.Module, *, chunk_size: int | None = None, cache_bytes: int = 8 * 2**20,
                 threads: int | None = None) -> None:
        super().__init__()
        self.model = model
        if chunk_size is None:
            chunk_size = min(64, max(8, cache_bytes // activation_bytes_per_curve(model)))
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1 (or None), got {threads}")
        self.chunk_size = int(chunk_size)
        self.threads = None if threads is None else int(threads)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._pool_lock = threading.Lock()
        for attribute in ("name", "config", "input_length", "n_outputs"):
            if hasattr(model, attribute):
                setattr(self, attribute, getattr(model, attribute))

    def _workers(self, count: int) -> ThreadPoolExecutor:
        """A pool of ``count`` threads that each run torch with one thread (made once, reused)."""
        with self._pool_lock:
            if self._pool is not None and self._pool_size == count:
                return self._pool
            if self._pool is not None:
                self._pool.shutdown(wait=False)
            previous = torch.get_num_threads()
            ready = threading.Barrier(count + 1)

            def single_threaded() -> None:
                torch.get_num_threads()  # this thread's lazy OpenMP set-up first, or it would undo the next line
                torch.set_num_threads(1)
                ready.wait()  # one set-up task per thread: each blocks until all have started

            pool = ThreadPoolExecutor(count, thread_name_prefix="qusi_lab-inference")
            for _ in range(count):
                pool.submit(single_threaded)
            ready.wait()
            # set_num_threads also sets the default of threads started later: restore the caller's.
            torch.set_num_threads(previous)
            self._pool, self._pool_size = pool, count
            return pool

    def _run(self, inputs: tuple[Tensor, ...]) -> Tensor:
        with torch.inference_mode():  # per thread: worker threads start with gradients on
            return self.model(*inputs)

    def forward(self, x: Tensor, *other_inputs: Tensor) -> Tensor:
        """Logits of ``model(x, *other_inputs)``; every input is chunked along the batch axis."""
        threads = self.threads if self.threads is not None else torch.get_num_threads()
        threads = max(1, min(threads, math.ceil(len(x) / 8)))  # a worker needs a few curves to be worth it
        with torch.inference_mode():
            if threads == 1 and len(x) <= self.chunk_size:
                return self.model(x, *other_inputs)
            size = min(self.chunk_size, math.ceil(len(x) / threads))
            chunks = list(zip(x.split(size), *(other.split(size) for other in other_inputs), strict=True))
            if threads == 1:
                return torch.cat([self.model(*inputs) for inputs in chunks])
            return torch.cat(list(self._workers(threads).map(self._run, chunks)))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"], state["_pool_size"], state["_pool_lock"] = None, 0, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._pool_lock = threading.Lock()

    def extra_repr(self) -> str:
        return f"chunk_size={self.chunk_size}, threads={self.threads if self.threads is not None else 'auto'}"


def optimize_for_inference(model: nn.Module, *, chunk_size: int | None = None, compile: bool = False,
                           example_input: Tensor | None = None, channels_last: bool = True,
                           threads: int | None = None) -> nn.Module:
    """The fastest CPU inference version of ``model``: fused, channels-last, chunked, optionally compiled.

    :func:`fuse_for_inference`, then (``channels_last=True``) :func:`to_channels_last`, then
    :class:`InferenceModel` (cache-sized chunks, ``torch.inference_mode``, ``threads`` single-threaded
    workers; default: torch's thread count). With ``compile=True`` the fused network is also passed to
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
    if channels_last:
        fused = to_channels_last(fused, inplace=True)
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
    return InferenceModel(fused, chunk_size=chunk_size, threads=threads)


def predict_logits(model: nn.Module, curves: Tensor, *, batch_size: int = 256) -> Tensor:
    """Logits for ``curves`` (``(n, length)``), in batches, under ``torch.inference_mode``: float32, on the CPU.

    Puts ``model`` in eval mode. The forward loop of :mod:`qusi_lab.models.scoring`, the one every
    scorer shares. Example: ``predict_logits(model, torch.zeros(10, 4096)).shape == (10, 1)``.
    """
    from qusi_lab.models.scoring import forward_in_chunks

    model.eval()
    if not len(curves):
        return torch.empty(0)
    with torch.inference_mode():
        return forward_in_chunks(model, curves.contiguous(), int(batch_size))


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
