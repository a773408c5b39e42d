"""CSV light curves: columns ``time``, ``flux`` and optionally ``flux_err``, ``quality``.

Numbers beyond the float range (``1e400``) read as ``inf``, like the text ``inf``:
non-finite fluxes are missing measurements (dropped before scoring).

Column names are matched case-insensitively, with aliases (``TIME``/``BJD``/``BTJD``
for time; ``flux``/``pdcsap_flux``/``sap_flux``/``kspsap_flux`` for flux; see
:data:`qusi_lab.io._columns.FLUX_ALIASES`). Metadata may precede the table as
comment lines ``# key: value`` whose values are JSON (a plain string that is not
JSON is kept as a string)::

    # mission: "TESS"
    # sector: 1
    # target_id: "TIC 25155310"
    time,flux,flux_err
    1325.30,1.0002,0.0004
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.core.jsonable import dumps
from qusi_lab.errors import LightCurveReadError
from qusi_lab.io._columns import (
    DEFAULT_FLUX_COLUMN,
    ColumnChoice,
    finish_table_light_curve,
    quality_flags,
    quality_mask,
    resolve_columns,
)
from qusi_lab.io._files import regular_file_size
from qusi_lab.lightcurve import LightCurve

__all__ = ["is_headerless", "read_csv_light_curve", "write_csv"]


def _split_comments(text: str) -> tuple[dict[str, Any], list[str], int]:
    """Metadata from the leading ``# key: value`` lines, the remaining lines, and how many lines were skipped."""
    lines = text.splitlines()
    meta: dict[str, Any] = {}
    skipped = 0
    for line in lines:
        stripped = line.strip()
        if not stripped:
            skipped += 1
            continue
        if not stripped.startswith("#"):
            break
        skipped += 1
        key, separator, value = stripped.lstrip("#").partition(":")
        if not separator or not key.strip():
            continue  # a free-text comment
        try:
            meta[key.strip()] = json.loads(value.strip())
        except json.JSONDecodeError:
            meta[key.strip()] = value.strip()
    return meta, lines[skipped:], skipped


def _check_field_counts(lines: list[str], first_line_number: int, path: Path, *, whitespace: bool = False,
                        headerless: bool = False) -> None:
    """Every row must have as many fields as the first (quoted fields are left to pandas)."""
    if not lines or any('"' in line for line in lines[:2]):
        return
    if whitespace:
        counts = np.fromiter((len(line.split()) - 1 for line in lines), dtype=np.int64, count=len(lines))
    else:
        counts = np.fromiter((line.count(",") for line in lines), dtype=np.int64, count=len(lines))
    expected = counts[0]
    blank = np.fromiter((not line.strip() for line in lines), dtype=bool, count=len(lines))
    wrong = np.flatnonzero((counts != expected) & ~blank)
    if wrong.size:
        row = int(wrong[0])
        first = "first row" if headerless else "header"
        raise LightCurveReadError(
            f"mismatched column lengths: line {first_line_number + row} has {counts[row] + 1} fields but the "
            f"{first} has {expected + 1} ({wrong.size} row(s) with a wrong field count)",
            path,
        )


# A number as text: decimal with optional exponent, inf/infinity or nan (what float() reads, minus its
# '1_000' underscores and the control characters str.strip() would remove).
_NUMBER = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)", re.IGNORECASE)


def _fields(line: str, whitespace: bool) -> list[str]:
    return line.split() if whitespace else [field.strip(" \t") for field in line.split(",")]


def is_headerless(first_line: str, *, whitespace: bool = False) -> bool:
    """Whether a table's first row is data, not a header: every field of it is a number.

    This is the header-detection rule of the CSV/text reader. A header row names its
    columns, and a name is never a number, so a first row made only of numbers
    (``1325.0,1.0002``; ``nan`` and ``inf`` count as numbers, empty fields are
    missing values) means there is no header: the columns are then chosen by
    0-based position. (A header whose every name is a number, ``0,1,2``, is read
    as data: pass such a file's columns by position.)

    Example
    -------
    >>> is_headerless("1.325000000000000000e+03,9.9e-01"), is_headerless("BJD,mag")
    (True, False)
    >>> is_headerless("1325.0  0.99  0.01", whitespace=True)
    True
    """
    fields = [field for field in _fields(first_line, whitespace) if field]  # an empty field is a missing value
    return bool(fields) and all(_NUMBER.fullmatch(field) for field in fields)


def _is_whitespace_separated(first_line: str) -> bool:
    """A first row without commas but with several space- or tab-separated fields: a whitespace table."""
    return "," not in first_line and len(first_line.split()) > 1


def _numeric(frame: Any, column: str, first_data_line: int, path: Path) -> np.ndarray:
    """A column as float64; a non-numeric entry raises naming its line and value.

    A number too large for a float (``1e400``) is numeric: it reads as ``inf``
    (``-1e400`` as ``-inf``), exactly like the text ``inf``, and non-finite fluxes
    are missing measurements everywhere in qusi_lab (never scored; see
    :class:`~qusi_lab.transforms.RemoveNonFinite`).
    """
    values = frame[column]
    if values.dtype.kind in "fiub":
        return values.to_numpy(dtype=np.float64)
    # pandas left text in the column (only malformed files get here). Converted in Python, not with
    # pd.to_numeric: that crashes the interpreter on exponents beyond 2**31 (pandas 2.3: "1e3888888889")
    # and silently reads "1.0<NUL>x" as 1.0.
    result = np.empty(len(values), dtype=np.float64)
    bad: list[int] = []
    for row, value in enumerate(values.tolist()):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            result[row] = np.nan
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            result[row] = float(value)
        else:
            text = str(value).strip(" \t")
            if not text:
                result[row] = np.nan
            elif _NUMBER.fullmatch(text):
                result[row] = float(text)  # 1e400 -> inf, like the text "inf"
            else:
                bad.append(row)
    if bad:
        row = bad[0]
        raise LightCurveReadError(
            f"column {column!r} has a non-numeric value {values.iloc[row]!r} on line {first_data_line + row} "
            f"({len(bad)} non-numeric values in that column)",
            path,
        )
    return result


def read_csv_light_curve(
    path: Path,
    *,
    flux_column: ColumnChoice = DEFAULT_FLUX_COLUMN,
    quality_bitmask: str | int = "default",
    time_column: ColumnChoice = None,
    flux_err_column: ColumnChoice = None,
) -> LightCurve:
    """Read a CSV (or whitespace-separated text) light curve; the curve is not yet validated.

    Rows with NaN times are removed; a ``quality`` column, when present, is masked
    with the mission's bitmask (TESS unless the metadata says Kepler or K2).

    Columns are chosen by name or 0-based position (``time_column``,
    ``flux_column``, ``flux_err_column``; see
    :func:`qusi_lab.io._columns.resolve_columns`). A first row made only of
    numbers means the file has no header (:func:`is_headerless`): then time is
    column 0, flux column 1 and flux_err column 2 (when there is one) unless
    chosen otherwise. A first row with no comma but several fields separated by
    spaces or tabs makes a whitespace-separated table (``.txt``, ``.dat``).

    Example
    -------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "star.csv"
    >>> _ = path.write_text("# mission: TESS\\nTIME,PDCSAP_FLUX\\n1.0,10.0\\n2.0,11.0\\n")
    >>> lc = read_csv_light_curve(path)
    >>> lc.meta["mission"], lc.flux.tolist(), lc.meta["flux_column"]
    ('TESS', [10.0, 11.0], 'pdcsap_flux')
    >>> _ = path.write_text("1.0 10.0 0.5\\n2.0 11.0 0.5\\n")  # no header, whitespace-separated
    >>> lc = read_csv_light_curve(path)
    >>> lc.flux.tolist(), lc.flux_err.tolist(), lc.meta["flux_column"]
    ([10.0, 11.0], [0.5, 0.5], 'column 1')
    """
    import pandas as pd

    regular_file_size(path)  # never open a named pipe (it would block) or a device
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise LightCurveReadError("not a text (UTF-8) CSV file", path) from None
    if "\0" in text:  # pandas' parser silently ends a field at a NUL byte ("2<NUL>5" would read as 2)
        line = text.count("\n", 0, text.index("\0")) + 1
        raise LightCurveReadError(f"the CSV file holds a NUL byte (line {line}): it is binary or corrupt", path)
    meta, lines, skipped = _split_comments(text)
    if not lines:
        if not text.strip():
            what = "is empty (0 bytes)" if not text else "holds only blank lines"
            raise LightCurveReadError(f"the CSV file {what}: no header row, no data", path)
        raise LightCurveReadError("the CSV file has no header row or data (only comments)", path)
    whitespace = _is_whitespace_separated(lines[0])
    headerless = is_headerless(lines[0], whitespace=whitespace)
    _check_field_counts(lines, skipped + 1, path, whitespace=whitespace, headerless=headerless)
    options: dict[str, Any] = {"sep": r"\s+"} if whitespace else {"skipinitialspace": True}
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines)), header=None if headerless else "infer",
                            float_precision="round_trip", **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise LightCurveReadError(f"cannot parse the CSV table ({str(error).strip()})", path) from None
    if headerless:  # a trailing separator on every row ("1325.0,1.0,") makes an empty last column: not data
        while len(frame.columns) > 2 and frame.iloc[:, -1].isna().all():
            frame = frame.iloc[:, :-1]
    frame.columns = [str(name).strip() for name in frame.columns]  # headerless: "0", "1", "2" ...
    if len(frame.columns) == 1 and not headerless:
        for separator, words in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")):
            if separator in frame.columns[0]:
                raise LightCurveReadError(
                    f"the table's values are separated by {words}, not commas; save it as comma-separated CSV "
                    f"(its header row is {frame.columns[0]!r})",
                    path,
                )
    time_name, flux_name, error_name, quality_name = resolve_columns(
        frame.columns, flux_column, path, time_column=time_column, flux_err_column=flux_err_column,
        headerless=headerless,
    )
    first_data_line = skipped + (1 if headerless else 2)
    time = _numeric(frame, time_name, first_data_line, path)
    flux = _numeric(frame, flux_name, first_data_line, path)
    flux_err = None if error_name is None else _numeric(frame, error_name, first_data_line, path)
    keep = np.isfinite(time)
    if quality_name is not None:
        quality = quality_flags(_numeric(frame, quality_name, first_data_line, path), quality_name, path)
        keep &= quality_mask(quality, quality_bitmask, meta.get("mission"))
    if headerless:  # name the columns by position in meta and messages
        flux_name, time_name = f"column {flux_name}", f"column {time_name}"
    return finish_table_light_curve(time, flux, flux_err, keep, meta, path, flux_name, time_name)


def write_csv(lc: LightCurve, path: str | os.PathLike[str]) -> Path:
    """Write ``lc`` as CSV (``time,flux[,flux_err]``) with its metadata as ``# key: json`` comment lines.

    Values are written at full precision (``read_light_curve`` gives back the
    same floats); NaN is written as ``nan``. ``meta["path"]`` is not written
    (reading sets it to the file read). Metadata values are JSON, with NaN written as ``null``
    (:mod:`qusi_lab.core.jsonable`).

    Example
    -------
    >>> import tempfile
    >>> lc = LightCurve([1.0, 2.0], [10.0, 11.0], mission="TESS", sector=3)
    >>> path = write_csv(lc, Path(tempfile.mkdtemp()) / "star.csv")
    >>> print(path.read_text())
    # mission: "TESS"
    # sector: 3
    time,flux
    1.0,10.0
    2.0,11.0
    <BLANKLINE>
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    header = "".join(
        f"# {key}: {dumps(value, sort_keys=True)}\n"
        for key, value in lc.meta.items()
        if key != "path" and "\n" not in str(key) and ":" not in str(key)
    )
    frame = lc.to_pandas()
    with open(target, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(header)
        frame.to_csv(handle, index=False, na_rep="nan", lineterminator="\n")
    return target
