"""Checkpoint files: atomic writes, random-number-generator states, and reading them back.

A training run with ``checkpoint_dir`` keeps two files there:

- ``last.pt`` — everything needed to continue: model, optimizer and scheduler states, the step, the
  data stream position, the torch/numpy/python random states, the history, the early-stopping
  state and the best weights so far. Written every ``checkpoint_every`` steps and when the run stops.
- ``best.pt`` — the model weights at the best validation so far, with their step and metrics
  (written as soon as a validation improves; ``torch.load(path, weights_only=True)["model"]``).

Every file is written to a temporary name in the same folder, flushed to disk, then renamed over
the old one with :func:`os.replace` (atomic on POSIX and Windows): a run killed mid-write leaves the
previous checkpoint intact, never a truncated one. A write that fails (a full disk, no permission)
removes the temporary file, leaves the previous checkpoint as it was and raises
:class:`~qusi_lab.errors.CheckpointWriteError` naming the file and the cause. Files hold only tensors
and plain Python values, so they load with ``torch.load(weights_only=True)``.

A checkpoint that cannot be read raises :class:`~qusi_lab.errors.CheckpointError` naming the file
and how to start afresh.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qusi_lab.errors import CheckpointError, CheckpointWriteError

__all__ = [
    "LAST_CHECKPOINT",
    "BEST_CHECKPOINT",
    "METRICS_FILE",
    "CHECKPOINT_FORMAT_VERSION",
    "START_OVER",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_torch_save",
    "load_checkpoint",
    "random_states",
    "restore_random_states",
]

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
METRICS_FILE = "metrics.csv"
CHECKPOINT_FORMAT_VERSION = 1
#: How every "cannot resume" message says to start afresh, in Python and on the command line.
START_OVER = "pass resume=False (CLI: --fresh) to start over"


def atomic_write(path: str | os.PathLike[str], write: Any) -> Path:
    """Write ``path`` atomically with ``write(file)`` (a binary file object): temporary file, fsync, rename.

    Readers see the old file or the new one, never half of one; on failure the temporary file is removed
    and an ``OSError`` becomes a :class:`~qusi_lab.errors.CheckpointWriteError` naming ``path``.

    Example
    -------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> atomic_write(target, lambda file: file.write(b"hello")).read_bytes()
    b'hello'
    """
    path = Path(path)
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        _remove(temporary)
        raise CheckpointWriteError(
            f"{path}: could not write it ({_cause(error)}); the previous file, if any, is unchanged"
        ) from error
    except BaseException:
        _remove(temporary)
        raise
    return path


def _remove(temporary: str | None) -> None:
    if temporary is not None:
        with contextlib.suppress(OSError):
            Path(temporary).unlink(missing_ok=True)


def _cause(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror if error.errno is None else f"[Errno {error.errno}] {error.strerror}"
    return f"{type(error).__name__}: {error}"


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, :func:`os.replace`).

    Example
    -------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> atomic_write_bytes(target, b"hello").read_bytes()
    b'hello'
    """
    return atomic_write(path, lambda file: file.write(data))


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj, path)``, atomically: readers see the old file or the new one, never half of one.

    The object is serialised in memory first and then written with plain file writes, so a full disk
    is reported as such (``No space left on device``) rather than as torch's
    ``RuntimeError: [enforce fail at inline_container.cc...]``. Any failure raises
    :class:`~qusi_lab.errors.CheckpointWriteError` naming the file; the previous file is untouched.
    """
    path = Path(path)
    buffer = io.BytesIO()
    try:
        torch.save(obj, buffer)
    except (OSError, RuntimeError) as error:
        raise CheckpointWriteError(
            f"{path}: could not write it ({_cause(error)}); the previous file, if any, is unchanged"
        ) from error
    data = buffer.getbuffer()
    return atomic_write(path, lambda file: file.write(data))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by the training loop (``weights_only=True``: no code is unpickled).

    Raises :class:`~qusi_lab.errors.CheckpointError` (a ``ValueError``) naming the file, with the
    cause on one line, when it cannot be read or is not a training checkpoint of this format.
    """
    path = Path(path)
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        # torch's messages run over many lines and sentences of advice (a zip-archive error, a weights_only
        # explanation): the first sentence says what is wrong.
        first_line = (str(error).strip().splitlines() or [""])[0].split(". ")[0]
        if not first_line:
            first_line = "the file is empty or cut short" if isinstance(error, EOFError) else "no details"
        raise CheckpointError(
            f"{path}: cannot read the checkpoint ({type(error).__name__}: {first_line}); "
            f"delete it or {START_OVER}"
        ) from error
    if not isinstance(checkpoint, dict) or "format_version" not in checkpoint:
        raise CheckpointError(f"{path}: not a qusi_lab training checkpoint; delete it or {START_OVER}")
    if checkpoint["format_version"] != CHECKPOINT_FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {checkpoint['format_version']!r} is not the one this qusi_lab writes "
            f"({CHECKPOINT_FORMAT_VERSION}); {START_OVER}"
        )
    return checkpoint


def random_states() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy-global and python ``random`` states, as plain storable values."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)  # type: ignore[misc]  # noqa: NPY002 - saving the global state is the point
    states: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [
            str(kind),
            torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            int(position),
            int(has_gauss),
            float(cached_gaussian),
        ],
        "python": _plain_python_state(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _plain_python_state(state: Any) -> Any:
    version, internal, gauss_next = state
    return [int(version), [int(value) for value in internal], gauss_next]


def restore_random_states(states: dict[str, Any]) -> None:
    """Set the generators back to :func:`random_states` output."""
    torch.set_rng_state(states["torch"])
    kind, keys, position, has_gauss, cached_gaussian = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, cached_gaussian))  # noqa: NPY002
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
