"""Training on several processes with ``torch.distributed`` (launched by ``torchrun``), and the device choice.

:func:`~qusi_lab.training.train` needs nothing from you: run the same script or command under
``torchrun`` and, when the launcher's environment says ``WORLD_SIZE`` > 1, it initialises the
process group itself (:func:`process_group`: gloo on CPU, nccl on CUDA), wraps the network in
:class:`~torch.nn.parallel.DistributedDataParallel` and gives each rank its share of every batch.
Without those variables nothing here does anything: one process, no setup.

**Same model on 1 and N processes.** Every rank draws the *same* seeded global stream (global
batches of ``batch_size``) and trains on its slice of each batch, items ``rank::world_size``
(:func:`shard_batch`), so the averaged gradient is the one-process gradient. Two layers would
otherwise break that equality, and :func:`synchronised_layers` makes them see the global batch:

- BatchNorm in training mode normalises with the statistics of the *global* batch (sums all-reduced
  with gradients flowing back through the reduction, as :class:`torch.nn.SyncBatchNorm` does; that
  class only runs on accelerators, this one on CPU/gloo too);
- Dropout draws the mask of the whole global batch from the (identically seeded) generator and
  keeps its rows of it, so each item gets the mask the one-process run gives it.

What remains is floating-point summation order (per-rank sums, then a sum over ranks): about 3e-7
absolute on the weights of a small Hadryss after 40 Adam steps (tests/test_distributed_training.py).
Dropout called as a function inside a model's ``forward`` (``F.dropout``), alpha dropout and attention
dropout draw per-rank masks (a warning names such layers): those runs are equivalent, not equal.
(Multiclass ``class_weights`` make the loss a weighted mean, which the loop scales per rank to its
share of the batch's weights, so those stay exact.) On CUDA one process uses the fused
dropout kernel, whose masks are not ``bernoulli_``'s, so there too 1 and N processes are equivalent only
(untested here: no GPU). Without this synchronisation the weights of the test run differ by up to 0.18
after 40 steps (per-rank BatchNorm statistics of 8 curves, per-rank masks), and the ranks' BatchNorm
running statistics differ from one another.
Each rank reads the whole global stream and keeps its share (the data loading is not divided, the
network's work is; with the preprocessing cache reading is the cheap part).

Example
-------
>>> from qusi_lab.training.distributed import shard_indices, world_size, is_main_process
>>> shard_indices(10, rank=1, world=3).tolist()
[1, 4, 7]
>>> world_size(), is_main_process()      # outside torchrun
(1, True)
"""

from __future__ import annotations

import contextlib
import datetime
import os
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "world_size",
    "rank",
    "local_rank",
    "is_distributed",
    "is_main_process",
    "launched_by_torchrun",
    "backend_for",
    "process_group",
    "barrier",
    "broadcast_buffers",
    "broadcast_object",
    "all_reduce_mean",
    "shard_indices",
    "shard_batch",
    "check_batch_size",
    "choose_device",
    "choose_precision",
    "PRECISIONS",
    "synchronised_layers",
]

PRECISIONS = ("fp32", "bf16", "fp16")


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip().lstrip("-").isdigit() else default


def world_size() -> int:
    """Number of training processes: the process group's, else ``$WORLD_SIZE`` (torchrun), else 1."""
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_world_size())
    return max(1, _env_int("WORLD_SIZE", 1))


def rank() -> int:
    """This process's rank (0 .. world_size - 1): the process group's, else ``$RANK``, else 0."""
    if dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    return _env_int("RANK", 0)


def local_rank() -> int:
    """This process's rank on its machine (``$LOCAL_RANK``; chooses its GPU)."""
    return _env_int("LOCAL_RANK", 0)


def launched_by_torchrun() -> bool:
    """Whether the launcher's variables ask for more than one process."""
    return _env_int("WORLD_SIZE", 1) > 1 and "MASTER_ADDR" in os.environ and "MASTER_PORT" in os.environ


def is_distributed() -> bool:
    """Whether training runs on several processes (the process group exists, with more than one)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def is_main_process() -> bool:
    """True on rank 0 (and in a plain single process): the one that writes files and prints."""
    return rank() == 0


def backend_for(device: torch.device) -> str:
    """``"nccl"`` for CUDA devices, ``"gloo"`` otherwise (CPU)."""
    return "nccl" if device.type == "cuda" else "gloo"


@contextlib.contextmanager
def process_group(device: torch.device, *, timeout_minutes: float = 30.0) -> Iterator[bool]:
    """Initialise the process group from torchrun's environment for the duration of the block.

    Yields whether training is distributed. Does nothing outside torchrun, or when a group exists
    already (yours: it is left alone); a group made here is destroyed at the end.

    Example
    -------
    >>> with process_group(torch.device("cpu")) as distributed:
    ...     distributed
    False
    """
    created = False
    if dist.is_available() and not dist.is_initialized() and launched_by_torchrun():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(
            backend=backend_for(device),
            timeout=datetime.timedelta(minutes=timeout_minutes),
            # nccl wants to know the device of this rank up front (avoids a guess and a warning).
            device_id=device if device.type == "cuda" else None,
        )
        created = True
    try:
        yield is_distributed()
    finally:
        if created and dist.is_initialized():
            dist.destroy_process_group()


def barrier() -> None:
    """Wait for every rank (no-op in one process)."""
    if is_distributed():
        dist.barrier()


def broadcast_object(value: Any, source: int = 0) -> Any:
    """``value`` as rank ``source`` has it, on every rank (no-op in one process)."""
    if not is_distributed():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=source)
    return box[0]


def broadcast_buffers(model: nn.Module, source: int = 0) -> None:
    """Every rank takes rank ``source``'s buffers (running statistics that per-process BatchNorm kept apart).

    DDP broadcasts buffers before each forward pass, so after the last step they differ by that step's
    update; the result every rank returns must be rank 0's model.
    """
    if not is_distributed() or world_size() == 1:
        return
    for buffer in model.buffers():
        dist.broadcast(buffer.data, src=source)


def all_reduce_mean(value: torch.Tensor) -> torch.Tensor:
    """The mean over ranks of ``value`` (a detached copy; ``value`` itself in one process)."""
    if not is_distributed():
        return value
    reduced = value.detach().clone()
    dist.all_reduce(reduced, op=dist.ReduceOp.SUM)
    return reduced / dist.get_world_size()


# ---------------------------------------------------------------- sharding
def shard_indices(size: int, *, rank: int, world: int) -> np.ndarray:
    """Positions ``rank, rank + world, ...`` of ``range(size)``: the ranks' shares are disjoint and cover it.

    Example
    -------
    >>> [shard_indices(5, rank=r, world=2).tolist() for r in range(2)]
    [[0, 2, 4], [1, 3]]
    """
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"rank {rank} is not in 0..{world - 1}")
    return np.arange(rank, int(size), world, dtype=np.int64)


def shard_batch(batch: torch.Tensor, *, rank: int, world: int) -> torch.Tensor:
    """This rank's rows of a global batch: ``batch[rank::world]``.

    Example
    -------
    >>> shard_batch(torch.arange(6), rank=1, world=2).tolist()
    [1, 3, 5]
    """
    if world == 1:
        return batch
    return batch[shard_indices(batch.shape[0], rank=rank, world=world)]


def check_batch_size(batch_size: int, world: int) -> None:
    """Each rank must get an equal share of every global batch, or the averaged gradient is not the batch's."""
    if batch_size % world:
        raise ValueError(
            f"batch_size {batch_size} is not divisible by the {world} training processes; each takes an equal share "
            f"of every batch (choose e.g. {batch_size - batch_size % world or world})"
        )


# ---------------------------------------------------------------- device and precision
def choose_device(requested: str | torch.device | None = None) -> torch.device:
    """The training device: ``requested``, else this rank's GPU (``cuda:LOCAL_RANK``) when CUDA exists, else CPU.

    Example
    -------
    >>> choose_device("cpu")
    device(type='cpu')
    """
    if requested is not None:
        device = torch.device(requested)
        if device.type == "cuda" and device.index is None and launched_by_torchrun():
            device = torch.device("cuda", local_rank())  # one GPU per rank
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank() % max(1, torch.cuda.device_count()))
    return torch.device("cpu")


def choose_precision(requested: str | None, device: torch.device) -> str:
    """``"fp32"``, ``"bf16"`` or ``"fp16"``: ``requested``, else bf16 on a CUDA device that has it, fp16 on an
    older one, fp32 on the CPU (CPU autocast gains little for these convolutions and changes the numbers).

    Example
    -------
    >>> choose_precision(None, torch.device("cpu"))
    'fp32'
    """
    if requested is not None:
        name = str(requested).lower()
        if name not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS} or None, got {requested!r}")
        if name == "fp16" and device.type != "cuda":
            raise ValueError("precision='fp16' needs a CUDA device (its gradient scaler is CUDA's); use 'bf16' or 'fp32'")
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The autocast dtype of a precision (None: no autocast)."""
    return {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)


# ---------------------------------------------------------------- layers that must see the global batch
class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum over ranks of the incoming gradients (every rank's loss
    depends on every rank's contribution)."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor, group: Any) -> torch.Tensor:
        ctx.group = group
        reduced = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM, group=group)
        return reduced

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        reduced = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(reduced, op=dist.ReduceOp.SUM, group=ctx.group)
        return reduced, None


def _global_batch_norm(self: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, group: Any) -> torch.Tensor:
    """BatchNorm with the statistics of the global batch (two passes: the mean, then the squared deviations)."""
    if not self.training:
        return type(self).forward(self, x)
    given = x.dtype
    if given in (torch.float16, torch.bfloat16):  # statistics in float32 under autocast, as BatchNorm's own
        x = x.float()
    dims = [0, *range(2, x.dim())]
    shape = [1, -1] + [1] * (x.dim() - 2)
    count = torch.tensor(float(x.numel() // x.shape[1]), dtype=x.dtype, device=x.device)
    total = _AllReduceSum.apply(torch.cat([x.sum(dim=dims), count.reshape(1)]), group)
    n = total[-1]
    mean = total[:-1] / n
    centred = x - mean.reshape(shape)
    var = _AllReduceSum.apply(centred.pow(2).sum(dim=dims), group) / n
    y = centred * torch.rsqrt(var + self.eps).reshape(shape)
    if self.affine:
        y = y * self.weight.reshape(shape) + self.bias.reshape(shape)
    if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
        with torch.no_grad():
            assert self.num_batches_tracked is not None
            self.num_batches_tracked.add_(1)
            momentum = (
                1.0 / float(self.num_batches_tracked) if self.momentum is None else float(self.momentum)
            )
            unbiased = var.detach() * (n / (n - 1)) if float(n) > 1 else var.detach()
            self.running_mean.mul_(1 - momentum).add_(mean.detach().to(self.running_mean.dtype), alpha=momentum)
            self.running_var.mul_(1 - momentum).add_(unbiased.to(self.running_var.dtype), alpha=momentum)
    return y.to(given)


def _global_batch_dropout(self: nn.modules.dropout._DropoutNd, x: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Dropout whose mask is this rank's rows of the mask the one-process run draws for the global batch."""
    if not self.training or self.p == 0:
        return type(self).forward(self, x)
    keep = 1.0 - float(self.p)
    # nn.Dropout masks elements; Dropout1d/2d/3d whole channels (mask shape (N, C, 1, ...)).
    per_channel = isinstance(self, (nn.Dropout1d, nn.Dropout2d, nn.Dropout3d))
    shape = [x.shape[0] * world, *x.shape[1:]]
    if per_channel:
        shape = shape[:2] + [1] * (x.dim() - 2)
    if keep == 0:
        return x * 0
    mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep).div_(keep)
    return x * mask[rank::world]


@contextlib.contextmanager
def synchronised_layers(model: nn.Module, *, rank: int, world: int) -> Iterator[list[str]]:
    """BatchNorm and Dropout layers of ``model`` see the global batch while the block runs (see the module).

    Their ``forward`` is replaced on the instances and restored afterwards (weights, buffers and
    state-dict keys are untouched). Yields the names of dropout-like layers it could not make
    exact (their masks are per rank). Without a process group of several ranks it changes nothing.
    """
    if world == 1 or not is_distributed():
        yield []
        return
    # Its own group: the statistics' all-reduces run inside forward and backward, beside DDP's bucket
    # all-reduces, and must never be matched against them.
    group = dist.new_group(backend=dist.get_backend())
    patched: list[nn.Module] = []
    inexact: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, nn.SyncBatchNorm):
            module.forward = types.MethodType(  # type: ignore[method-assign]
                lambda self, x, _group=group: _global_batch_norm(self, x, _group), module
            )
            patched.append(module)
        elif type(module) in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d):
            module.forward = types.MethodType(  # type: ignore[method-assign]
                lambda self, x: _global_batch_dropout(self, x, rank, world), module
            )
            patched.append(module)
        elif isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            inexact.append(name)  # alpha dropout and other kinds: masks per rank
        elif isinstance(module, nn.MultiheadAttention) and module.dropout > 0:
            inexact.append(name)
    try:
        yield inexact
    finally:
        for module in patched:
            del module.forward
        dist.destroy_process_group(group)
