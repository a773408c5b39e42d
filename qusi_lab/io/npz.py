"""NPZ light curves: arrays ``time``, ``flux``, optional ``flux_err`` and ``quality``, and ``meta`` (a JSON string).

Array names are matched like CSV column names (case-insensitive, with aliases).
Files are read with ``allow_pickle=False``: an NPZ holding Python objects is refused.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.errors import LightCurveReadError
from qusi_lab.io._columns import (
    DEFAULT_FLUX_COLUMN,
    ColumnChoice,
    finish_table_light_curve,
    meta_from_json,
    meta_to_json,
    quality_flags,
    quality_mask,
    resolve_columns,
)
from qusi_lab.io._files import regular_file_size
from qusi_lab.lightcurve import LightCurve

__all__ = ["read_npz_light_curve", "write_npz"]


def _array(arrays: dict[str, np.ndarray], name: str, path: Path) -> np.ndarray:
    array = arrays[name]
    if array.ndim != 1:
        raise LightCurveReadError(f"array {name!r} must be 1-D, but has shape {array.shape}", path)
    if array.dtype.kind not in "fiub":
        raise LightCurveReadError(f"array {name!r} is not numeric (dtype {array.dtype})", path)
    return array.astype(np.float64, copy=False)


def read_npz_light_curve(
    path: Path,
    *,
    flux_column: ColumnChoice = DEFAULT_FLUX_COLUMN,
    quality_bitmask: str | int = "default",
    time_column: ColumnChoice = None,
    flux_err_column: ColumnChoice = None,
) -> LightCurve:
    """Read an NPZ light curve; the curve is not yet validated.

    Example
    -------
    >>> import tempfile
    >>> path = write_npz(LightCurve([1.0, 2.0], [3.0, 4.0], target_id="TIC 5"), tempfile.mkdtemp() + "/a.npz")
    >>> lc = read_npz_light_curve(path)
    >>> lc.meta["target_id"], lc.flux.tolist()
    ('TIC 5', [3.0, 4.0])
    """
    regular_file_size(path)  # never open a named pipe (it would block) or a device
    with open(path, "rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            raise LightCurveReadError("not an NPZ file (it is not a zip archive)", path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError) as error:
        raise LightCurveReadError(f"not a valid NPZ (zip) archive ({error})", path) from None
    except (NotImplementedError, RuntimeError, zipfile.LargeZipFile, struct.error, zlib.error) as error:
        # zipfile's words for corrupt entry headers: "unsupported compression", "encrypted", "zip version".
        raise LightCurveReadError(
            f"not a valid NPZ (zip) archive: an entry's header is corrupt or uses an unsupported feature "
            f"({error})",
            path,
        ) from None
    except ValueError as error:
        if "allow_pickle" in str(error):  # object arrays need pickle
            raise LightCurveReadError(f"cannot load the NPZ arrays safely ({error})", path) from None
        raise LightCurveReadError(f"an array in the NPZ file is corrupt ({error})", path) from None
    except OSError as error:
        raise LightCurveReadError(f"cannot read the NPZ file ({error})", path) from None
    meta = {}
    if "meta" in arrays:
        stored = arrays.pop("meta")
        if stored.dtype.kind not in "US" or stored.size != 1:
            raise LightCurveReadError("the 'meta' array must be a single JSON string", path)
        meta = meta_from_json(str(stored.reshape(()).item()), path)
    time_name, flux_name, error_name, quality_name = resolve_columns(
        arrays, flux_column, path, time_column=time_column, flux_err_column=flux_err_column
    )
    time = _array(arrays, time_name, path)
    flux = _array(arrays, flux_name, path)
    flux_err = None if error_name is None else _array(arrays, error_name, path)
    for name, array in ((flux_name, flux), (error_name, flux_err)):
        if array is not None and array.size != time.size:
            raise LightCurveReadError(
                f"mismatched array lengths: {time_name!r} has {time.size} values but {name!r} has {array.size}",
                path,
            )
    keep = np.isfinite(time)
    if quality_name is not None:
        quality = _array(arrays, quality_name, path)
        if quality.shape != time.shape:
            raise LightCurveReadError(
                f"mismatched array lengths: {time_name!r} has {time.size} values but {quality_name!r} has "
                f"{quality.size}",
                path,
            )
        keep &= quality_mask(quality_flags(quality, quality_name, path), quality_bitmask, meta.get("mission"))
    return finish_table_light_curve(time, flux, flux_err, keep, meta, path, flux_name, time_name)


def write_npz(lc: LightCurve, path: str | os.PathLike[str]) -> Path:
    """Write ``lc`` as an uncompressed NPZ: ``time``, ``flux``, ``flux_err`` (if any) and ``meta`` (JSON).

    The path is used as given (numpy's habit of appending ``.npz`` is avoided).
    ``meta["path"]`` is not written.

    Example
    -------
    >>> import tempfile
    >>> path = write_npz(LightCurve([1.0, 2.0], [3.0, 4.0]), tempfile.mkdtemp() + "/star.npz")
    >>> sorted(np.load(path).files)
    ['flux', 'meta', 'time']
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {"time": lc.time, "flux": lc.flux}
    if lc.flux_err is not None:
        arrays["flux_err"] = lc.flux_err
    meta = {key: value for key, value in lc.meta.items() if key != "path"}
    with open(target, "wb") as handle:
        np.savez(handle, **arrays, meta=np.array(meta_to_json(meta)))
    return target
