"""Progress display and metric loggers for the training loop.

The progress bar (:class:`qusi_lab.progress.ProgressBar`, re-exported here) is ``tqdm.auto``: a widget in Jupyter, a text bar in a terminal, with the latest
training loss and validation metrics in its postfix.

Loggers receive one row of metrics per validation: ``logger.log(metrics, step)``. Built in:

- ``"csv"`` — :class:`CSVLogger`, ``metrics.csv`` in the checkpoint folder (always on when a
  ``checkpoint_dir`` is given);
- ``"tensorboard"`` — :class:`TensorBoardLogger` (needs the ``tensorboard`` package);
- ``"wandb"`` — :class:`WandbLogger` (needs ``wandb``; uses the active run or starts one).

Any object with ``log(metrics: dict, step: int)`` (and optionally ``close()``) works too. The
optional packages are imported only when asked for; qusi_lab never requires them.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from qusi_lab.progress import ProgressBar  # the one progress bar, in a leaf module every layer can use
from qusi_lab.training.checkpoints import METRICS_FILE, atomic_write_bytes

__all__ = ["MetricLogger", "CSVLogger", "TensorBoardLogger", "WandbLogger", "make_loggers", "ProgressBar"]


@runtime_checkable
class MetricLogger(Protocol):
    """What the training loop calls: ``log(metrics, step)`` once per validation."""

    def log(self, metrics: Mapping[str, float], step: int) -> None: ...


class CSVLogger:
    """Rows of metrics in a CSV file, rewritten atomically after each row (so it is always complete).

    On resume the loop calls :meth:`restore` with the checkpoint's history, which drops rows logged
    after that checkpoint by the interrupted run.

    Example
    -------
    >>> import tempfile
    >>> logger = CSVLogger(tempfile.mkdtemp() + "/metrics.csv")
    >>> logger.log({"train_loss": 0.5}, step=100)
    >>> logger.path.read_text().splitlines()
    ['step,train_loss', '100,0.5']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []

    def restore(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace the logged rows (and the file) with ``rows``."""
        self.rows = [dict(row) for row in rows]
        self._write()

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.rows.append(
            {"step": int(step), **{key: value for key, value in metrics.items() if key != "step"}}
        )
        self._write()

    def _write(self) -> None:
        import pandas as pd

        buffer = io.StringIO()
        pd.DataFrame(self.rows).to_csv(buffer, index=False)
        atomic_write_bytes(self.path, buffer.getvalue().encode("utf-8"))

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"CSVLogger('{self.path}')"


class TensorBoardLogger:
    """Scalars to TensorBoard event files in ``log_dir`` (needs ``pip install tensorboard``)."""

    def __init__(self, log_dir: str | os.PathLike[str]) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as error:
            raise ImportError(
                "the 'tensorboard' logger needs the tensorboard package: pip install tensorboard"
            ) from error
        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(log_dir=str(self.log_dir))

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        for name, value in metrics.items():
            if isinstance(value, (int, float)) and name != "step" and math.isfinite(float(value)):
                self.writer.add_scalar(name, float(value), int(step))
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


class WandbLogger:
    """Metrics to Weights & Biases (needs ``pip install wandb``); uses ``wandb.run`` or starts one."""

    def __init__(self, project: str = "qusi_lab", config: Mapping[str, Any] | None = None) -> None:
        try:
            import wandb
        except ImportError as error:
            raise ImportError("the 'wandb' logger needs the wandb package: pip install wandb") from error
        self.wandb = wandb
        self.run = (
            wandb.run if wandb.run is not None else wandb.init(project=project, config=dict(config or {}))
        )

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        self.run.log({key: value for key, value in metrics.items() if key != "step"}, step=int(step))

    def close(self) -> None:
        pass  # the run belongs to the user (or lives until the process ends)


def make_loggers(
    loggers: str | MetricLogger | Sequence[str | MetricLogger] | None,
    checkpoint_dir: Path | None,
    config: Mapping[str, Any] | None = None,
) -> list[Any]:
    """Logger objects for the ``loggers`` argument of ``train`` (names or objects).

    A CSV logger is added automatically when there is a ``checkpoint_dir``.
    """
    if loggers is None:
        requested: list[Any] = []
    elif isinstance(loggers, (str, MetricLogger)) and not isinstance(loggers, (list, tuple)):
        requested = [loggers]
    else:
        requested = list(loggers)
    result: list[Any] = []
    names = [item.lower() for item in requested if isinstance(item, str)]
    if checkpoint_dir is not None and "csv" not in names:
        names.insert(0, "csv")
    for name in names:
        if name == "csv":
            if checkpoint_dir is None:
                raise ValueError(
                    "the 'csv' logger writes metrics.csv in checkpoint_dir; give a checkpoint_dir"
                )
            result.append(CSVLogger(checkpoint_dir / METRICS_FILE))
        elif name == "tensorboard":
            result.append(TensorBoardLogger((checkpoint_dir or Path("runs")) / "tensorboard"))
        elif name == "wandb":
            result.append(WandbLogger(config=config))
        else:
            raise ValueError(
                f"unknown logger {name!r}; use 'csv', 'tensorboard', 'wandb' or an object with log()"
            )
    for item in requested:
        if isinstance(item, str):
            continue
        if not callable(getattr(item, "log", None)):
            raise TypeError(f"a logger needs a log(metrics, step) method; got {item!r}")
        result.append(item)
    return result
