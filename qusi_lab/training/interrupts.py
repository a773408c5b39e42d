"""Ctrl-C during training: the SIGINT handler, DataLoader workers that leave it to the main process,
stopping workers at once, and the message that says what was saved.

Example
-------
>>> from qusi_lab.training.interrupts import interrupted_message
>>> interrupted_message(12, None, None)
'training interrupted at step 12; no checkpoint was written (no checkpoint_dir)'
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = [
    "DeferredInterrupt",
    "install_interrupt_handler",
    "restore_interrupt_handler",
    "ignore_interrupts",
    "interrupts_held",
    "stop_workers",
    "interrupted_message",
]


def install_interrupt_handler(handler: Callable[[int, Any], None]) -> Any:
    """Put ``handler`` on SIGINT if Python's own is there (main thread only); returns what to restore."""
    if threading.current_thread() is not threading.main_thread():
        return None
    current = signal.getsignal(signal.SIGINT)
    if current is not signal.default_int_handler:  # someone else handles Ctrl-C: leave it to them
        return None
    signal.signal(signal.SIGINT, handler)
    return current


def restore_interrupt_handler(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def ignore_interrupts(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C to the main process, which saves and then stops them.

    A terminal's Ctrl-C reaches every process of the group: a worker dying of it mid-batch would turn
    the interrupt into "DataLoader worker exited unexpectedly" while the main process finishes its step.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextmanager
def interrupts_held() -> Iterator[None]:
    """Hold Ctrl-C while DataLoader workers are being forked, then deliver it.

    A terminal's Ctrl-C reaches every process of the group. A worker forked a moment before it arrives still
    has the parent's handler (``ignore_interrupts`` runs only once the worker starts): the KeyboardInterrupt
    then surfaced inside a fork hook of the logging module, was dropped ("Exception ignored"), and the
    run hung. Here the main process (and every child forked meanwhile) only records the signal; the main
    process hands it to its own handler once the workers exist, so the interrupt is taken as usual.

    Example
    -------
    >>> import os, signal
    >>> started_with = signal.signal(signal.SIGINT, signal.default_int_handler)  # Python's (a background job ignores it)
    >>> try:
    ...     with interrupts_held():
    ...         os.kill(os.getpid(), signal.SIGINT)   # recorded, not raised here ...
    ...         print("workers started")
    ... except KeyboardInterrupt:
    ...     print("... and delivered afterwards")
    workers started
    ... and delivered afterwards
    >>> _ = signal.signal(signal.SIGINT, started_with)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            if callable(previous):
                previous(signal.SIGINT, None)
            elif previous == signal.SIG_DFL:
                raise KeyboardInterrupt


def stop_workers(iterator: Any) -> None:
    """End a DataLoader iterator's worker processes now.

    Dropping the iterator lets each worker finish the batch it is reading and waits up to 5 s per
    worker, which after a Ctrl-C (workers reading big files, or a notebook interrupt that reaches the
    main process only) makes the user wait for nothing. This uses torch's private iterator fields;
    if they change, the DataLoader's own shutdown still happens when the iterator is dropped.
    """
    workers = getattr(iterator, "_workers", None)
    if not workers:
        return
    try:
        from torch.utils.data._utils import signal_handling

        if getattr(iterator, "_worker_pids_set", False):
            # Unregister first: torch's SIGCHLD handler would report the terminated workers as crashed.
            signal_handling._remove_worker_pids(id(iterator))
            iterator._worker_pids_set = False
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        iterator._shutdown_workers()
    except Exception:  # noqa: BLE001 - the normal shutdown still runs when the iterator is dropped
        pass


def interrupted_message(step: int, folder: Path | None, saved_step: int | None) -> str:
    """What a Ctrl-C left behind, truthfully."""
    again = "run the same call (or qusi-lab command) again to continue"
    if folder is None:
        return f"training interrupted at step {step}; no checkpoint was written (no checkpoint_dir)"
    if saved_step == step:
        return f"training interrupted at step {step}: saved a checkpoint at step {step} in {folder}; {again}"
    if saved_step is None:
        return f"training interrupted at step {step}; no checkpoint was written in {folder}"
    return (
        f"training interrupted at step {step}; the steps since the checkpoint at step {saved_step} in "
        f"{folder} were not saved; {again} from step {saved_step}"
    )


class DeferredInterrupt:
    """The SIGINT handler of a training run with a ``checkpoint_dir``; the loop sets :attr:`phase`.

    While the batch is being loaded (``"loading"``) nothing of the step has happened yet (the forward
    pass changes batch-norm statistics and the random state), so the weights are those of the last
    step and the random state the one captured when the step began: the interrupt is taken at once and
    that state saved. During the update and the bookkeeping (``"computing"``, ``"bookkeeping"``;
    validation included) the state is half-changed, so the interrupt is deferred to the end of the step
    (:attr:`requested`), which is saved as a time-budget stop would be; a second Ctrl-C stops at once
    (and saves nothing of that step).

    Example
    -------
    >>> handler = DeferredInterrupt()
    >>> handler.phase = "computing"
    >>> handler(2, None)  # the step finishes first
    >>> handler.requested  # a second Ctrl-C would raise KeyboardInterrupt at once
    True
    """

    def __init__(self) -> None:
        self.phase = "idle"
        self.requested = False

    def __call__(self, signum: int, frame: Any) -> None:
        if self.phase in ("computing", "bookkeeping") and not self.requested:
            self.requested = True
            print(
                "qusi_lab: interrupted; finishing this step, then saving a checkpoint "
                "(press Ctrl-C again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
            return
        raise KeyboardInterrupt
