"""Make user functions usable in DataLoader worker processes, whatever the start method.

A DataLoader with ``num_workers > 0`` sends its dataset to each worker. With the
"fork" start method (the Linux default) the worker is a copy of the parent and
everything just works. With "spawn" (macOS and Windows default) or "forkserver",
the dataset is pickled, and plain pickle stores a function *by reference*
(``__main__.load_times_and_fluxes``). A function defined in a notebook cell or in
an interactive session cannot be found again in the fresh worker, which fails with::

    AttributeError: Can't get attribute 'load_times_and_fluxes' on <module '__main__' (built-in)>

:class:`WorkerSafeCallable` pickles the function with cloudpickle instead:
functions of importable modules still go by reference, functions of ``__main__``
(and lambdas, closures) go *by value*, so the worker rebuilds them. The datasets
wrap every user callable in it; nothing changes the start method.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import cloudpickle

__all__ = ["WorkerSafeCallable", "worker_safe"]


class WorkerSafeCallable:
    """A callable that survives pickling into "spawn"/"forkserver" worker processes.

    Parameters
    ----------
    function:
        Any callable. Calling the wrapper calls it with the same arguments.

    Example
    -------
    >>> import pickle
    >>> square = WorkerSafeCallable(lambda x: x * x)   # plain pickle refuses lambdas
    >>> pickle.loads(pickle.dumps(square))(3)
    9
    """

    __slots__ = ("function",)
    function: Callable[..., Any]

    def __init__(self, function: Callable[..., Any]) -> None:
        if isinstance(function, WorkerSafeCallable):
            function = function.function
        if not callable(function):
            raise TypeError(f"expected a callable, got {type(function).__name__}: {function!r}")
        self.function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # The wrapper itself is rebuilt by reference (this module is importable); only the
        # wrapped function travels through cloudpickle.
        return (_rebuild, (cloudpickle.dumps(self.function),))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, WorkerSafeCallable):
            return self.function == other.function
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.function)

    def __repr__(self) -> str:
        name = getattr(self.function, "__qualname__", None) or repr(self.function)
        module = getattr(self.function, "__module__", None)
        return f"WorkerSafeCallable({module}.{name})" if module else f"WorkerSafeCallable({name})"


def _rebuild(payload: bytes) -> WorkerSafeCallable:
    # cloudpickle output is ordinary pickle data: plain pickle reads it (no cloudpickle needed here).
    return WorkerSafeCallable(pickle.loads(payload))


def worker_safe(function: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """Wrap ``function`` in :class:`WorkerSafeCallable` (``None`` stays ``None``; wrapping twice is a no-op).

    Example
    -------
    >>> worker_safe(len)("abc")
    3
    """
    if function is None:
        return None
    return WorkerSafeCallable(function)
