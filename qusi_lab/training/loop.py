"""The training loop: plain PyTorch, resumable, reproducible.

:func:`train` draws batches from ``train.stream(...)`` through a DataLoader, minimises the task's
loss, validates every ``validation_every`` steps, keeps the best weights, stops early when asked,
and writes checkpoints it can resume from.

**Reproducibility.** The run is cut into *chunks* of ``checkpoint_every`` steps. Each chunk draws
its batches from a fresh iterator over the training stream seeded by ``(seed, chunk)`` and starts
with the torch random generator (dropout) seeded the same way, so what happens after any chunk
boundary depends only on the seed, the chunk number and the weights. A run killed and resumed from
its last checkpoint therefore continues with exactly the batches and dropout masks the
uninterrupted run would have used, and ends with the same weights (on the same machine and number
of threads). A checkpoint written mid-chunk (a ``max_time`` stop, Ctrl-C) records the random states
and the number of batches already taken from the chunk, which are replayed on resume. A fresh start
first re-draws the model's initial weights from the seed (``initialize``; not for a trained model
from :func:`qusi_lab.load`), so with or without a ``checkpoint_dir``, the same seed and data give
the same weights, however the model was built.

**Ctrl-C.** With a ``checkpoint_dir``, an interrupt while a batch is being loaded is taken at once;
one during the update or a validation lets that step finish first (a second Ctrl-C stops at once).
Either way ``last.pt`` then holds every step done, DataLoader workers are stopped rather than waited
for, and a warning says at which step the checkpoint was saved (or that none was written); the same
call continues exactly where the interrupted one stopped. Workers ignore Ctrl-C themselves: the
main process saves and then ends them.

The loop runs inside :func:`torch.random.fork_rng` (your global torch random state is left as it
was) with ``torch.use_deterministic_algorithms(True, warn_only=True)`` (restored afterwards).

Example
-------
>>> from qusi_lab.models import model_for_task
>>> model = model_for_task("hadryss", train_set.input_length, train_set.task)      # doctest: +SKIP
>>> result = train(model, train_set, validation_set, max_steps=2000,               # doctest: +SKIP
...                checkpoint_dir="runs/transits", early_stopping_patience=5)
>>> result.history.tail()                                                          # doctest: +SKIP
>>> result.plot()                                                                  # doctest: +SKIP
>>> result.save("models/transits")                                                 # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from qusi_lab._deprecation import moved_names
from qusi_lab.defaults import DEFAULT_THRESHOLD, DEFAULT_TOP_FRACTION
from qusi_lab.errors import CheckpointError
from qusi_lab.models.trained import Model
from qusi_lab.training.cache import CachedTrainingView
from qusi_lab.training.checkpoints import (
    BEST_CHECKPOINT,
    CHECKPOINT_FORMAT_VERSION,
    LAST_CHECKPOINT,
    START_OVER,
    atomic_torch_save,
    load_checkpoint,
    random_states,
    restore_random_states,
)
from qusi_lab.training.distributed import (
    all_reduce_mean,
    autocast_dtype,
    barrier,
    broadcast_buffers,
    broadcast_object,
    choose_device,
    is_distributed,
    process_group,
    rank,
    shard_batch,
    synchronised_layers,
)
from qusi_lab.training.interrupts import (
    DeferredInterrupt,
    ignore_interrupts,
    install_interrupt_handler,
    interrupted_message,
    interrupts_held,
    restore_interrupt_handler,
    stop_workers,
)
from qusi_lab.training.progress import CSVLogger, ProgressBar, make_loggers
from qusi_lab.training.result import TrainingResult, problems_table, trained_model
from qusi_lab.training.resume import LoopState, check_data, check_fingerprint, plain
from qusi_lab.training.schedules import OPTIMIZERS, SCHEDULERS
from qusi_lab.training.settings import (
    OPTION_NAMES,
    Options,
    Setup,
    derived_seed,
    deterministic_algorithms,
    initialize_weights,
    network_to_train,
    prepare,
    use_cache,
)
from qusi_lab.training.validation import (
    VALIDATION_CACHE_BYTES as VALIDATION_CACHE_BYTES,  # importable here as before
)
from qusi_lab.training.validation import Validator, keep_best

__all__ = ["train", "TrainingResult", "OPTIMIZERS", "SCHEDULERS"]


# ---------------------------------------------------------------- the loop
def train(
    model: nn.Module | Model,
    train: Any,
    validation: Any = None,
    *,
    max_steps: int = 2000,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-2,
    optimizer: str | Callable[..., torch.optim.Optimizer] = "adamw",
    scheduler: str | None = "cosine",
    warmup_steps: int | None = None,
    balance: Any = None,
    class_weights: Any = None,
    regression_loss: str = "mse",
    gradient_clip_norm: float | None = 1.0,
    validation_every: int = 100,
    checkpoint_every: int | None = None,
    early_stopping_patience: int | None = None,
    monitor: str | None = None,
    min_delta: float = 0.0,
    seed: int = 0,
    num_workers: int = 0,
    augment: bool = True,
    checkpoint_dir: str | Path | None = None,
    resume: bool = True,
    loggers: Any = (),
    progress: bool = True,
    max_time: float | None = None,
    device: str | torch.device | None = None,
    deterministic: bool = True,
    threshold: float = DEFAULT_THRESHOLD,
    top_fraction: float = DEFAULT_TOP_FRACTION,
    cache: bool | None = None,
    initialize: bool | None = None,
    precision: str | None = None,
    global_batch: bool = True,
) -> TrainingResult:
    """Train ``model`` on ``train`` (a labelled :class:`~qusi_lab.data.LightCurveDataset`).

    Parameters
    ----------
    model:
        A network returning logits with as many outputs as the task needs (e.g. from
        :func:`qusi_lab.models.model_for_task`). Trained in place.
    train, validation:
        Datasets. Training batches come from ``train.stream(seed, balance, augment)``: random,
        augmented, bad files skipped (listed in ``result.problems``). The validation set is gone
        through completely, without augmentation, every ``validation_every`` steps.
    max_steps:
        Number of optimisation steps (batches).
    batch_size, learning_rate, weight_decay:
        The usual.
    optimizer:
        ``"adamw"`` (default), ``"adam"``, ``"sgd"`` (Nesterov momentum 0.9), or a function
        ``parameters -> torch.optim.Optimizer``.
    scheduler, warmup_steps:
        ``"cosine"`` (decay to 5% of ``learning_rate`` at ``max_steps``, or at ``max_time`` when that
        comes first) or ``"constant"``, after a
        linear warm-up of ``warmup_steps`` (default ``min(100, max_steps // 20)``).
    balance:
        Class shares of the training stream: None (natural), ``"equal"``, or e.g.
        ``{"positive": 0.3, "negative": 0.7}``.
    class_weights:
        Loss weights against imbalance: None, ``"auto"`` (``train.class_weights()``), a binary
        ``pos_weight``, ``(w_negative, w_positive)``, or one weight per class. Use this *or* ``balance``.
    regression_loss:
        ``"mse"`` or ``"huber"``. Regression targets are standardised with the training set's mean and
        standard deviation (stored as ``result.model.target_scaler``; predictions are reported in the
        original units).
    gradient_clip_norm:
        Clip the total gradient norm to this value before each update (None: no clipping).
    validation_every:
        Validate (and add a history row) every this many steps, and at the end.
    checkpoint_every:
        Write ``last.pt`` every this many steps (default ``validation_every``); also the length of
        the reproducibility chunks (see the module docstring), so it is part of what makes a run.
    early_stopping_patience:
        Stop after this many validations in a row without improvement of ``monitor`` (None: never).
    monitor, min_delta:
        Validation metric choosing the best weights: ``"auc_roc"`` (default for classification,
        macro one-vs-rest for multiclass), ``"loss"`` (default for regression), or any metric name
        (``"auc_pr"``, ``"recall_at_top_10%"``, ``"r2"``, ...); an improvement must exceed ``min_delta``.
        An exact tie of the metric (a saturated AUC of 1.0, say) counts as an improvement when the
        validation loss is lower.
    seed:
        Seed of the initial weights (see ``initialize``), the batches, augmentations and dropout:
        the same seed and the same data give the same trained weights.
    initialize:
        Whether a fresh start (not a resume) first re-draws the model's weights from ``seed``:
        every submodule with a ``reset_parameters`` method (``Conv1d``, ``Linear``, ``BatchNorm1d``,
        ``LayerNorm``, attention ...) calls it under ``torch.manual_seed`` of a seed derived from
        ``seed``, so its weights no longer depend on the global random state when the model was built.
        None (default): re-initialise unless the model is a trained :class:`~qusi_lab.models.Model`
        (from :func:`qusi_lab.load` or an earlier ``train``, or its network), whose weights are
        fine-tuned as they are. Pass ``initialize=False`` to keep weights you loaded yourself (``load_state_dict``), and
        ``True`` to re-draw a loaded model's. Parameters held by a module without
        ``reset_parameters`` keep their values (a warning names them). ``result.config["initialize"]``
        says what was done.
    num_workers:
        DataLoader worker processes (0 loads in the main process). The same seed and number of
        workers give the same batches, whatever the workers' speed; another number of workers draws
        other batches, hence other weights.
    augment:
        Use the dataset's augmentation for training batches.
    checkpoint_dir:
        Folder for ``last.pt``, ``best.pt`` and ``metrics.csv``. With ``resume=True`` (default) a
        run that finds ``last.pt`` there continues from it, giving the same result as an
        uninterrupted run; a finished run returns at once.
    resume:
        Continue from ``checkpoint_dir/last.pt`` when there is one (default). A checkpoint made with
        other settings, on other data (another list of files or labels, in the training or the
        validation set: ``last.pt`` records them) or for another network raises
        :class:`~qusi_lab.errors.CheckpointError` saying what differs, rather than continuing some other
        run. ``resume=False`` (``qusi-lab train --fresh``) deletes ``last.pt`` and ``best.pt`` there and
        starts over.
    loggers:
        ``"csv"``, ``"tensorboard"``, ``"wandb"`` or objects with ``log(metrics, step)``; a CSV logger is
        always used when there is a ``checkpoint_dir``.
    progress:
        Show a progress bar (a widget in notebooks) with the latest loss and validation metrics.
    max_time:
        Stop after this many seconds in this call (writing ``last.pt`` first, so the same call
        continues the run). The result holds the best weights validated so far. When ``max_steps``
        cannot be reached in the time, the cosine decay follows the clock and the weights depend on the
        machine's speed (a warning says so at the step where that starts).
    device:
        ``"cpu"``, ``"cuda"``, ... (default: CUDA when available, this rank's GPU ``cuda:LOCAL_RANK``
        under torchrun, else CPU). ``result.config["device"]`` says which.
    precision:
        ``"fp32"``, ``"bf16"`` or ``"fp16"`` (CUDA only, with a gradient scaler): the autocast dtype of
        the training steps. None (default): bf16 on a CUDA device that supports it, else fp16 there,
        fp32 on the CPU. ``result.config["precision"]`` says which. Validation runs in float32.
    global_batch:
        Under torchrun: BatchNorm statistics and dropout masks over the whole global batch (default), so
        N processes train the model one process would, to rounding. False: per process, as plain DDP,
        equivalent but not equal; on CPUs it is the faster choice (2 gloo processes on 2 cores: 1.5-1.6x one
        process, against 0.80x for the global batch, whose small all-reduces cost more than the second
        core gives; ``benchmarks/bench_distributed.py``). ``result.config["global_batch"]`` says which.
    deterministic:
        Use ``torch.use_deterministic_algorithms`` during training.
    threshold, top_fraction:
        For the binary validation metrics (accuracy/precision/recall/F1 and ``recall_at_top_<k>%``).
    cache:
        Keep the deterministic part of the training preprocessing (reading, binning, normalising)
        in memory, computed once before the first step, so that each step only augments
        (:class:`~qusi_lab.training.cache.CachedTrainingView`; the batches are the same). None
        (default): when it fits in 1 GiB (about 20,000 curves of 2048 bins). Its time counts
        towards ``max_time``.

    Several processes (``torchrun``)
    --------------------------------
    Run the same script under ``torchrun --nproc-per-node N script.py`` (or ``torchrun --nproc-per-node N
    -m qusi_lab train ...``; SLURM and Kubernetes launch it the same way). When ``WORLD_SIZE`` > 1, this
    function initialises the process group (gloo on CPU, nccl on CUDA; a group you made yourself is used
    and left alone), wraps the network in ``DistributedDataParallel`` and each rank trains on items
    ``rank::N`` of every global batch of ``batch_size`` (which N must divide), BatchNorm statistics and
    dropout masks taken over the global batch (:mod:`qusi_lab.training.distributed`). The same seed
    then gives the weights of one process up to floating-point summation order (class-weighted losses
    included; not for dropout a warning names). Rank 0 validates
    (the metrics go to every rank, so best steps and early stopping agree) and alone writes
    checkpoints and logs; every rank returns the same result with the same weights. Resuming reads
    rank 0's ``last.pt`` on every rank. Each rank reads the whole stream and keeps its share, so the
    data loading is not divided (the network's work is).

    Returns
    -------
    TrainingResult
        ``.model`` (a :class:`~qusi_lab.models.Model`: best weights, eval mode), ``.history``, ``.best_step``,
        ``.best_metrics``, ``.plot()``, ``.save(path)``.

    Example
    -------
    >>> result = train(model, train_set, validation_set, max_steps=1000, balance="equal")   # doctest: +SKIP
    >>> result.best_metrics["auc_roc"]                                                     # doctest: +SKIP

    The same call in ``train.py``, run as ``torchrun --nproc-per-node 2 train.py``, trains on two processes.
    """
    # The keyword arguments as given (the signature above is the public API; Options holds the same names).
    options = Options(**{name: value for name, value in locals().items() if name in OPTION_NAMES})
    started = time.monotonic()
    network, already_trained = network_to_train(model)
    # Under torchrun (WORLD_SIZE > 1) the process group exists for the run; otherwise this does nothing.
    with process_group(choose_device(options.device)):
        setup = prepare(network, train, validation, options, already_trained)
        run = _Run(network, train, validation, options, setup, started)
        devices = [setup.device.index or 0] if setup.device.type == "cuda" else []
        with (
            torch.random.fork_rng(devices=devices),
            deterministic_algorithms(options.deterministic),
            synchronised_layers(network, rank=run.rank, world=run.world if options.global_batch else 1) as inexact,
        ):
            if inexact:
                warnings.warn(
                    f"{', '.join(inexact[:3])}: dropout-like layers draw their masks per process, so a run on "
                    f"{run.world} processes differs from one on a single process by more than rounding",
                    UserWarning,
                    stacklevel=2,
                )
            torch.manual_seed(derived_seed(options.seed, 0))
            run.resume_or_start()
            run.open()
            run.steps()
        result = run.finish()
        barrier()  # rank 0's last files are written before any rank returns
    return result


# ---------------------------------------------------------------- stages 2-5: the run
class _Run:
    """One call of :func:`train`: the loop's state, and the stages that change it, in the order
    :func:`train` calls them: :meth:`resume_or_start`, :meth:`open`, :meth:`steps`, :meth:`finish`.
    """

    def __init__(
        self, model: nn.Module, train_set: Any, validation: Any, options: Options, setup: Setup, started: float
    ) -> None:
        self.model, self.train_set, self.validation = model, train_set, validation
        self.options, self.setup, self.started = options, setup, started
        self.folder = setup.folder
        # Under torchrun every rank reads checkpoints from the folder but only rank 0 writes there.
        self.world, self.rank = (setup.world_size, rank()) if is_distributed() else (1, 0)
        self.main = self.rank == 0
        self.writes = self.folder if self.main else None
        self.trainee: nn.Module = model  # the network, or its DistributedDataParallel wrapper
        self.autocast = autocast_dtype(setup.precision)
        self.grad_scaler = torch.amp.GradScaler("cuda") if setup.precision == "fp16" else None
        self.state = LoopState()
        self.resumed_from: int | None = None
        self.saved_at: int | None = None  # step of the newest last.pt
        self.smoothed_loss: float | None = None
        # Where a Ctrl-C lands decides what can be saved (see DeferredInterrupt).
        self.interrupt = DeferredInterrupt()
        self.step_start_rng: torch.Tensor | None = None
        self.iterator: Iterator[Any] | None = None
        self.iterator_chunk = -1
        self.loss_share: float | None = None  # see _loss_share

    # ------------------------------------------------------------ stage 2: resume, or a fresh start
    def resume_or_start(self) -> None:
        """Continue from ``last.pt`` when there is one (and ``resume``), else start afresh."""
        folder, setup = self.folder, self.setup
        # Rank 0 decides (every rank must take the same branch), then every rank reads its last.pt.
        resuming = broadcast_object(
            folder is not None and self.options.resume and (folder / LAST_CHECKPOINT).exists()
        )
        if folder is not None and resuming:
            self._resume(folder / LAST_CHECKPOINT)
            return
        if self.writes is not None:
            # A fresh start: a best.pt left by an earlier run in this folder must not pass for this run's,
            # nor its last.pt be resumed by the next call if this run stops before its first checkpoint.
            (self.writes / BEST_CHECKPOINT).unlink(missing_ok=True)
            (self.writes / LAST_CHECKPOINT).unlink(missing_ok=True)
        barrier()
        if setup.config["initialize"]:
            # initialize_weights <- resume_or_start <- train <- the caller
            initialize_weights(self.model, derived_seed(self.options.seed, 3), stacklevel=4)

    def _resume(self, path: Path) -> None:
        setup = self.setup
        checkpoint = load_checkpoint(path)
        check_fingerprint(checkpoint, setup.fingerprint, path)
        check_data(checkpoint, setup.data_record, path, stacklevel=5)  # <- _resume <- resume_or_start <- train
        try:
            self.model.load_state_dict(checkpoint["model"])
        except RuntimeError as error:
            first_line = (str(error).strip().splitlines() or [""])[0]
            raise CheckpointError(
                f"{path}: does not fit this model ({first_line}); use another checkpoint_dir or {START_OVER}"
            ) from error
        setup.optimizer.load_state_dict(checkpoint["optimizer"])
        setup.scheduler.load_state_dict(checkpoint["scheduler"])
        if self.grad_scaler is not None and checkpoint.get("grad_scaler"):
            self.grad_scaler.load_state_dict(checkpoint["grad_scaler"])
        restore_random_states(checkpoint["random_states"])
        state = self.state = LoopState.from_checkpoint(checkpoint)
        self.resumed_from = self.saved_at = state.step
        # A run stopped by its time budget continues; one that ran out of steps continues if
        # max_steps was raised; one stopped early stays stopped (same patience).
        if state.stopped_reason == "max_time" or (
            state.stopped_reason == "max_steps" and state.step < setup.max_steps
        ):
            state.stopped_reason = None
        if (
            state.stopped_reason == "early_stopping"
            and checkpoint.get("patience") != self.options.early_stopping_patience
        ):
            state.stopped_reason = None

    # ------------------------------------------------------------ stage 3: loggers, validation, data
    def open(self) -> None:
        """Loggers, the validator, the training stream (cached when it fits) and the progress bar."""
        options, setup, state = self.options, self.setup, self.state
        # Loggers and the progress bar belong to rank 0; the other ranks only train.
        self.loggers = make_loggers(options.loggers, self.folder, setup.config) if self.main else []
        for logger in self.loggers:
            if isinstance(logger, CSVLogger):
                logger.restore(state.history)
        self.validator = None
        if self.validation is not None and self.main:
            self.validator = Validator(self.validation, max(setup.batch_size, 128), int(options.num_workers))
        source = self.train_set
        if state.stopped_reason is None and use_cache(options.cache, self.train_set):
            source = CachedTrainingView(self.train_set, augment=bool(options.augment))
        self.stream = source.stream(seed=int(options.seed), balance=options.balance, augment=bool(options.augment))
        self.bar = ProgressBar(
            setup.max_steps,
            initial=min(state.step, setup.max_steps),
            enabled=options.progress and state.stopped_reason is None and self.main,
        )
        self.parameters = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel

            # Made after a resume or the initial weights (it broadcasts rank 0's, identical anyway).
            device_ids = [setup.device.index] if setup.device.type == "cuda" else None
            self.trainee = DistributedDataParallel(self.model, device_ids=device_ids)
        self.elapsed_before = state.elapsed

    def _elapsed(self) -> float:
        return self.elapsed_before + (time.monotonic() - self.started)

    def _seconds(self) -> float:
        """Seconds since the call started; rank 0's on every rank (time decisions must agree)."""
        seconds = time.monotonic() - self.started
        if self.world > 1:
            seconds = float(broadcast_object(seconds))
        return seconds

    # ------------------------------------------------------------ stage 4: the steps
    def steps(self) -> None:
        """Train until a stop (max_steps, early stopping, max_time); a Ctrl-C saves what it can."""
        state, setup = self.state, self.setup
        # Under torchrun a Ctrl-C reaches the ranks at different steps and the launcher stops them all:
        # no deferred saving there (the run resumes from its last periodic checkpoint).
        deferred = self.folder is not None and self.world == 1
        previous_handler = install_interrupt_handler(self.interrupt) if deferred else None
        try:
            while state.stopped_reason is None and state.step < setup.max_steps:
                self.interrupt.phase = "loading"
                self.step_start_rng = torch.get_rng_state()
                x, y = self._next_batch()
                self.interrupt.phase = "computing"
                loss_value, grad_norm = self._update(x, y)
                self.interrupt.phase = "bookkeeping"
                self._bookkeeping(loss_value, grad_norm)
                if self.interrupt.requested:
                    self.interrupt.phase = "saved"
                    raise KeyboardInterrupt
            self.interrupt.phase = "idle"
            if state.stopped_reason is None:  # resumed at or beyond max_steps
                state.stopped_reason = "max_steps"
        except KeyboardInterrupt:
            stop_workers(self.iterator)  # workers would otherwise finish the batches they are reading first
            if deferred and self.interrupt.phase == "loading" and self.step_start_rng is not None:
                states = random_states()
                states["torch"] = self.step_start_rng
                self._save_last(states)
            warnings.warn(interrupted_message(state.step, self.folder, self.saved_at), UserWarning, stacklevel=3)
            raise
        except BaseException:
            stop_workers(self.iterator)
            raise
        finally:
            restore_interrupt_handler(previous_handler)
            self.iterator = None
            self.bar.close()
            for logger in self.loggers:
                close = getattr(logger, "close", None)
                if callable(close):
                    close()

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training batch; a new chunk (or a resume) opens a new seeded DataLoader iterator."""
        seed, checkpoint_every = self.options.seed, self.setup.checkpoint_every
        chunk = self.state.step // checkpoint_every
        if self.iterator is None or chunk != self.iterator_chunk:
            into_chunk = self.state.step - chunk * checkpoint_every
            if into_chunk == 0:
                # Everything from a chunk boundary on depends only on (seed, chunk) and the weights.
                torch.manual_seed(derived_seed(seed, chunk, 1))
            self.stream.set_epoch(chunk)
            # Each worker draws its own seeded sequence (TrainingStream) and the workers' random
            # states come from this generator; with in_order the DataLoader takes one batch from
            # each worker in turn, so the batches do not depend on which worker is faster.
            loader = DataLoader(
                self.stream,
                batch_size=self.setup.batch_size,
                num_workers=int(self.options.num_workers),
                generator=torch.Generator().manual_seed(derived_seed(seed, chunk, 2)),
                in_order=True,
                worker_init_fn=ignore_interrupts,
            )
            with interrupts_held():  # a Ctrl-C while workers are forked is taken once they exist
                self.iterator = iter(loader)
            self.iterator_chunk = chunk
            for _ in range(into_chunk):  # replay the part of the chunk done before the checkpoint
                next(self.iterator)
        x, y = next(self.iterator)
        self.loss_share = None
        if self.world > 1:
            # Every rank drew the same global batch; each trains on its rows (see distributed.py).
            local = shard_batch(y, rank=self.rank, world=self.world)
            self.loss_share = self._loss_share(y, local)
            x, y = shard_batch(x, rank=self.rank, world=self.world), local
        return x, y

    def _loss_share(self, global_y: torch.Tensor, local_y: torch.Tensor) -> float | None:
        """The factor that makes a rank's class-weighted loss its share of the global batch's (None: not needed).

        Multiclass class weights make the loss a weighted mean, sum(w l) / sum(w), per rank; DDP averages the
        ranks' gradients, so each rank scales its loss by N sum(w, rank) / sum(w, global batch) (every rank
        holds the global batch's labels) and the average is the one-process loss's gradient.
        """
        weight = getattr(getattr(self.setup.loss_function, "loss", None), "weight", None)
        if self.setup.task != "multiclass" or weight is None:
            return None
        weight = weight.detach().cpu()
        total = float(weight[global_y.long()].sum())
        return float(weight[local_y.long()].sum()) * self.world / total if total > 0 else None

    def _update(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """One optimisation step; returns the loss and the gradient norm (before clipping)."""
        setup, clip = self.setup, self.options.gradient_clip_norm
        x, y = x.to(setup.device), y.to(setup.device)
        if setup.scaler is not None:
            y = (y - setup.scaler["mean"]) / setup.scaler["std"]
        self.trainee.train()  # the DDP wrapper too, when there is one
        setup.optimizer.zero_grad(set_to_none=True)
        if self.autocast is None:
            loss = setup.loss_function(self.trainee(x), y)
        else:
            with torch.autocast(setup.device.type, dtype=self.autocast):
                loss = setup.loss_function(self.trainee(x), y)
        if self.loss_share is not None:
            loss = loss * self.loss_share
        # The batch's loss (the mean of the ranks' equal shares): every rank logs and checks the same value.
        batch_loss = all_reduce_mean(loss.detach().float())
        if not torch.isfinite(batch_loss):
            raise FloatingPointError(
                f"the training loss became {float(batch_loss)} at step {self.state.step + 1}; lower the learning_rate "
                "or check the inputs (see dataset.plot(i))"
            )
        if self.grad_scaler is not None:
            self.grad_scaler.scale(loss).backward()
            self.grad_scaler.unscale_(setup.optimizer)  # clip the true gradients
        else:
            loss.backward()
        if clip is not None and clip > 0:
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.parameters, float(clip)))
        else:
            grad_norm = float(
                torch.nn.utils.get_total_norm([p.grad for p in self.parameters if p.grad is not None])
            )
        if self.grad_scaler is not None:
            self.grad_scaler.step(setup.optimizer)
            self.grad_scaler.update()
        else:
            setup.optimizer.step()
        setup.scheduler.step()
        self.state.step += 1
        if setup.time_budget is not None:
            setup.time_budget(self._seconds(), self.state.step)
        return float(batch_loss), grad_norm

    def _bookkeeping(self, loss_value: float, grad_norm: float) -> None:
        """Running sums and the bar; validate, decide whether to stop, write last.pt when due."""
        state, setup, options = self.state, self.setup, self.options
        state.loss_sum += loss_value
        state.grad_norm_sum += grad_norm
        state.steps_since_row += 1
        smoothed = self.smoothed_loss
        self.smoothed_loss = loss_value if smoothed is None else 0.9 * smoothed + 0.1 * loss_value
        self.bar.update(1, loss=self.smoothed_loss)

        out_of_time = options.max_time is not None and self._seconds() >= float(options.max_time)
        # No extra validation when the time budget stops the run: a resumed run then makes exactly
        # the validations (best weights, early stopping) of an uninterrupted one.
        if state.step % setup.validation_every == 0 or state.step >= setup.max_steps:
            self._add_row()
            patience = options.early_stopping_patience
            if patience is not None and state.bad_validations >= int(patience):
                state.stopped_reason = "early_stopping"
        if state.stopped_reason is None:
            if state.step >= setup.max_steps:
                state.stopped_reason = "max_steps"
            elif out_of_time:
                state.stopped_reason = "max_time"
        if (
            state.step % setup.checkpoint_every == 0
            or state.stopped_reason is not None
            or self.interrupt.requested
        ):
            self._save_last()

    def _add_row(self) -> None:
        """A history row: the training averages since the last one, and a validation (best weights, best.pt)."""
        state, setup = self.state, self.setup
        steps = state.steps_since_row
        row: dict[str, Any] = {
            "step": state.step,
            "train_loss": state.loss_sum / steps if steps else math.nan,
            "learning_rate": float(setup.optimizer.param_groups[0]["lr"]),
            "grad_norm": state.grad_norm_sum / steps if steps else math.nan,
            "elapsed": self._elapsed(),
        }
        state.loss_sum, state.grad_norm_sum, state.steps_since_row = 0.0, 0.0, 0
        metrics: dict[str, float] | None = None
        if self.validator is not None:
            metrics = self.validator(
                self.model,
                setup.loss_function,
                setup.task,
                setup.scaler,
                setup.device,
                float(self.options.threshold),
                float(self.options.top_fraction),
            )
        if self.world > 1:
            # Rank 0 validated: its row and metrics on every rank, so best steps and early stopping agree.
            row, metrics = broadcast_object((row, metrics))
        if metrics is not None:
            row.update({f"val_{name}": float(value) for name, value in metrics.items()})
            keep_best(state, metrics, setup.monitor_name, float(self.options.min_delta), self.model, self.writes)
            self.bar.set(**{name: row[f"val_{name}"] for name in dict.fromkeys(["loss", setup.monitor_name])})
        state.history.append(plain(row))
        for logger in self.loggers:
            logger.log(state.history[-1], state.step)

    def _save_last(self, rng: dict[str, Any] | None = None) -> None:
        """Write ``last.pt``: everything a later call needs to continue exactly (see checkpoints.py)."""
        if self.folder is None:
            return
        state, setup, seed = self.state, self.setup, int(self.options.seed)
        if self.writes is None:  # another rank than 0: rank 0 writes the same state
            self.saved_at = state.step
            return
        self.saved_at = None  # a failed write below leaves last.pt as it was, but say nothing about it
        atomic_torch_save(
            {
                "format_version": CHECKPOINT_FORMAT_VERSION,
                "qusi_lab_version": _version(),
                "step": state.step,
                "model": self.model.state_dict(),
                "optimizer": setup.optimizer.state_dict(),
                "scheduler": setup.scheduler.state_dict(),
                "random_states": random_states() if rng is None else rng,
                "stream": {
                    "seed": seed,
                    "chunk": state.step // setup.checkpoint_every,
                    "batches_into_chunk": state.step % setup.checkpoint_every,
                    "checkpoint_every": setup.checkpoint_every,
                },
                **state.checkpoint_entries(),  # history, best, best weights, running sums, stop reason
                "patience": self.options.early_stopping_patience,
                "elapsed": self._elapsed(),
                "fingerprint": setup.fingerprint,
                "data": setup.data_record,
                "target_scaler": setup.scaler,
                **({"grad_scaler": self.grad_scaler.state_dict()} if self.grad_scaler is not None else {}),
            },
            self.folder / LAST_CHECKPOINT,
        )
        self.saved_at = state.step

    # ------------------------------------------------------------ stage 5: the result
    def finish(self) -> TrainingResult:
        """The best weights in the network, its :class:`~qusi_lab.models.Model`, and the result."""
        model, state, setup = self.model, self.state, self.setup
        if self.validation is not None and state.best_weights is not None:
            model.load_state_dict(state.best_weights)
        if self.world > 1 and not self.options.global_batch:
            broadcast_buffers(model)  # per-process BatchNorm statistics: every rank returns rank 0's
        if self.validation is None or state.best_step is None:
            state.best_step = state.step
            state.best_metrics = {"train_loss": state.history[-1]["train_loss"]} if state.history else {}
        model.eval()
        train_set = self.train_set
        trained = trained_model(
            model, train_set, setup.task, setup.architecture, setup.config, setup.scaler, state, _version()
        )
        import pandas as pd

        return TrainingResult(
            model=trained,
            history=pd.DataFrame(state.history),
            best_step=state.best_step,
            best_metrics=dict(state.best_metrics),
            steps=state.step,
            stopped_reason=str(state.stopped_reason),
            monitor=setup.monitor_name,
            checkpoint_dir=self.folder,
            problems=problems_table(train_set, self.validation),
            config=setup.config,
            resumed_from=self.resumed_from,
            elapsed=time.monotonic() - self.started,
        )


def _version() -> str:
    from qusi_lab._version import __version__

    return __version__


# Helpers that lived here before the loop was split by job: their old private names still resolve here.
_MOVED = {
    "settings": "derived_seed deterministic_algorithms initialize_weights resolve_class_weights use_cache",
    "schedules": "make_optimizer make_scheduler cosine_factor PACE_STEPS time_budget_schedule",
    "validation": "check_inputs monitor_name improved Validator",
    "interrupts": "install_interrupt_handler restore_interrupt_handler ignore_interrupts stop_workers "
    "interrupted_message",
    "resume": "RESUME_KEYS plain check_fingerprint data_record check_data curve_names curve_keys common_folder "
    "unpack_curves describe_difference",
}
__getattr__ = moved_names(
    __name__,
    {
        "_problems": "qusi_lab.training.result:problems_table",
        "_LoopState": "qusi_lab.training.resume:LoopState",
        **{f"_{name}": f"qusi_lab.training.{module}:{name}" for module, names in _MOVED.items() for name in names.split()},
    },
)
