"""One JSON encoding for qusi_lab's files (bundle descriptions, table metadata, light-curve metadata).

NaN policy: a non-finite float (NaN, +inf, -inf) is written as ``null``, so every file is strict JSON
(RFC 8259) that any reader takes, ``pandas.read_json`` and JavaScript included; it reads back as
``None``. Python's own ``json.dumps`` would write the non-standard token ``NaN`` instead.

Besides: numpy and torch scalars and arrays become Python numbers and lists, tuples become lists,
paths become strings, mapping keys become strings, and anything else goes through ``default``
(``str`` unless told otherwise).

Example
-------
>>> import numpy as np
>>> dumps({"depth": np.float32(0.5), "period": float("nan"), "limb_darkening": (0.4, 0.25)})
'{"depth": 0.5, "period": null, "limb_darkening": [0.4, 0.25]}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["dumps", "to_jsonable"]


def to_jsonable(value: Any, *, default: Callable[[Any], Any] = str) -> Any:
    """``value`` as plain JSON values (dict, list, str, int, float, bool, None); NaN and inf -> None.

    ``default`` converts what is none of those (after numpy/torch scalars and arrays, tuples, sets
    and paths are converted): ``str`` by default; ``repr`` keeps more detail; an identity function
    keeps such objects as they are (for in-memory descriptions compared by equality).

    Example
    -------
    >>> import numpy as np
    >>> to_jsonable({1: np.array([1.0, np.inf]), "flag": np.bool_(True)})
    {'1': [1.0, None], 'flag': True}
    """
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item, default=default) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(item, default=default) for item in items]
    if isinstance(value, (str, bytes)) or value is None or isinstance(value, bool):
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if isinstance(value, PurePath):
        return str(value)
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays, torch tensors
        converted = value.tolist()
        if converted is not value:
            return to_jsonable(converted, default=default)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return value
    return default(value)


def dumps(value: Any, *, default: Callable[[Any], Any] = str, **options: Any) -> str:
    """``json.dumps(to_jsonable(value))``: strict JSON (no NaN token); ``options`` go to :func:`json.dumps`.

    Example
    -------
    >>> dumps({"b": float("inf"), "a": 1}, sort_keys=True)
    '{"a": 1, "b": null}'
    """
    return json.dumps(to_jsonable(value, default=default), allow_nan=False, **options)
