"""Column-name resolution and metadata (de)serialisation shared by the CSV and NPZ readers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.core.jsonable import dumps
from qusi_lab.defaults import DEFAULT_FLUX_COLUMN
from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io.quality import resolve_quality_bitmask
from qusi_lab.lightcurve import LightCurve

#: Accepted names of the time column (case-insensitive), in order of preference. Names that start with
#: one of the Julian-date words and go on with an offset or a suffix (``BJD-2457000``, ``HJD_UTC``,
#: ``JD (UTC)``) are recognised too (:data:`_JULIAN_DATE_NAME`).
TIME_ALIASES = ("time", "btjd", "bkjd", "bjd", "bjd_tdb", "hjd", "jd", "mjd", "t")
#: Tried when the default flux column (pdcsap_flux) is absent.
FLUX_ALIASES = ("flux", "pdcsap_flux", "kspsap_flux", "det_flux", "sap_flux", "relative_flux", "normalized_flux")
#: Tried after :data:`FLUX_ALIASES` (a file of magnitudes, e.g. ``BJD,mag``); a column found this way is
#: converted from magnitudes to relative flux (see :func:`qusi_lab.io.read_light_curve`).
MAGNITUDE_ALIASES = ("mag", "magnitude", "mags", "magnitudes")
QUALITY_ALIASES = ("quality", "sap_quality")
# Time format (and scale, when the name says it) of a time column, by its name.
_TIME_FORMAT_OF_COLUMN = {"btjd": "btjd", "bkjd": "bkjd", "bjd": "bjd", "bjd_tdb": "bjd", "hjd": "hjd",
                          "jd": "jd", "mjd": "mjd"}
_TIME_SCALE_OF_COLUMN = {"bjd": "tdb", "bjd_tdb": "tdb"}
_JULIAN_DATE_NAME = re.compile(r"(btjd|bkjd|bjd|hjd|mjd|jd)(?:[ _(+-].*)?")
# A magnitude column: "mag", "magnitude", "V_mag", "Vmag", "mag_auto" ... but never an error column.
_MAGNITUDE_NAME = re.compile(r"(?:.*[_ ]?)mag(?:nitude)?s?(?:[_ (].*)?")
_ERROR_WORDS = re.compile(r"(?:^|[_ (])(?:e|err|error|errs|errors|sig|sigma|unc|uncertainty)(?:$|[_ )])|err")

#: What a column is chosen by: a name (case-insensitive), a 0-based position, or None for the default.
ColumnChoice = str | int | None


def _find(names: Mapping[str, str], candidates: Iterable[str]) -> str | None:
    for candidate in candidates:
        if candidate in names:
            return names[candidate]
    return None


def is_magnitude_name(name: str) -> bool:
    """Whether a column name says magnitudes (``mag``, ``Vmag``, ``V_mag``, ``magnitude``), not their errors.

    Example
    -------
    >>> [is_magnitude_name(name) for name in ("mag", "Vmag", "g_mag", "magnitude", "mag_err", "magerr", "image")]
    [True, True, True, True, False, False, False]
    """
    lowered = str(name).strip().lower()
    return bool(_MAGNITUDE_NAME.fullmatch(lowered)) and not _ERROR_WORDS.search(lowered) and "image" not in lowered


def _check_position(choice: int, role: str, available: list[str], path: Path, listing: str) -> str:
    if 0 <= choice < len(available):
        return available[choice]
    raise LightCurveReadError(
        f"no column at position {choice} for the {role} ({role}_column={choice}: positions count from 0); "
        f"the file has {len(available)} column(s): {listing}",
        path,
    )


def _chosen(
    choice: str | int, role: str, available: list[str], lowered: Mapping[str, str], headerless: bool,
    path: Path, listing: str,
) -> str:
    """The column ``choice`` names (a name, or a 0-based position); a missing one raises listing the columns."""
    if isinstance(choice, bool) or not isinstance(choice, (str, int, np.integer)):
        raise ValueError(f"{role}_column must be a column name or a 0-based position, got {choice!r}")
    if isinstance(choice, (int, np.integer)):
        return _check_position(int(choice), role, available, path, listing)
    name = choice.strip().lower()
    if name in lowered:
        return lowered[name]
    if headerless and name.isdigit():  # "2" from a command line or a config file: a position
        return _check_position(int(name), role, available, path, listing)
    if headerless:
        raise LightCurveReadError(
            f"no {role} column {choice!r}: the file has no header row (its first row is all numbers), so columns "
            f"are chosen by 0-based position: {role}_column=0 ... {len(available) - 1}",
            path,
        )
    raise LightCurveReadError(f"no {role} column {choice!r}; the columns are: {listing}", path)


def resolve_columns(
    available: Iterable[str],
    flux_column: ColumnChoice,
    path: Path,
    *,
    time_column: ColumnChoice = None,
    flux_err_column: ColumnChoice = None,
    headerless: bool = False,
) -> tuple[str, str, str | None, str | None]:
    """Pick the (time, flux, flux_err, quality) column names among ``available``, case-insensitively.

    Each of ``time_column``, ``flux_column`` and ``flux_err_column`` is a name or
    a 0-based position; a requested column must exist. With the defaults: time is
    the first of :data:`TIME_ALIASES` (or a ``BJD-2457000``-like name); flux is
    ``pdcsap_flux``, else the first of :data:`FLUX_ALIASES`, else of
    :data:`MAGNITUDE_ALIASES` or another magnitude name (``Vmag``, ``g_mag``);
    flux_err is ``<flux>_err`` (``<flux>err``, ``e_<flux>``, ``<flux>_error``,
    ``flux_err`` for a flux column).

    A ``headerless`` table (columns named ``"0"``, ``"1"`` ...) defaults to time
    = column 0, flux = column 1 and flux_err = column 2 when there is one.
    Missing time or flux raises :class:`LightCurveReadError` listing the columns.

    Example
    -------
    >>> resolve_columns(["BJD", "mag", "mag_err"], None, Path("star.csv"))
    ('BJD', 'mag', 'mag_err', None)
    >>> resolve_columns(["0", "1"], None, Path("star.csv"), headerless=True)
    ('0', '1', None, None)
    """
    available = [str(name) for name in available]
    lowered = {name.strip().lower(): name for name in available}
    if headerless:
        listing = f"{', '.join(available)} (no header row: columns are chosen by 0-based position)"
    else:
        listing = ", ".join(available) or "(none)"
    hint = " (name it with time_column=, a column name or 0-based position)"
    if time_column is not None:
        time_name = _chosen(time_column, "time", available, lowered, headerless, path, listing)
    elif headerless:
        time_name = _check_position(0, "time", available, path, listing)
    else:
        found_time = _find(lowered, TIME_ALIASES) or next(
            (name for low, name in lowered.items() if _JULIAN_DATE_NAME.fullmatch(low)), None
        )
        if found_time is None:
            raise LightCurveReadError(
                f"no time column (looked for {', '.join(TIME_ALIASES)}){hint}; the columns are: {listing}", path
            )
        time_name = found_time
    if flux_column is None:
        flux_column = DEFAULT_FLUX_COLUMN
    if headerless and flux_column == DEFAULT_FLUX_COLUMN:
        flux_name = _check_position(1, "flux", available, path, listing)
    elif isinstance(flux_column, str) and flux_column.strip().lower() == DEFAULT_FLUX_COLUMN:
        candidates = [DEFAULT_FLUX_COLUMN] + [alias for alias in FLUX_ALIASES if alias != DEFAULT_FLUX_COLUMN]
        found = _find(lowered, candidates + list(MAGNITUDE_ALIASES)) or next(
            (name for low, name in lowered.items() if name != time_name and is_magnitude_name(low)), None
        )
        if found is None:
            raise LightCurveReadError(
                f"no flux column (looked for {', '.join(candidates)} and magnitudes: "
                f"{', '.join(MAGNITUDE_ALIASES)}, *_mag) (name it with flux_column=, a column name or 0-based "
                f"position); the columns are: {listing}",
                path,
            )
        flux_name = found
    else:
        flux_name = _chosen(flux_column, "flux", available, lowered, headerless, path, listing)
    used = {time_name, flux_name}
    if flux_err_column is not None:
        error_name: str | None = _chosen(flux_err_column, "flux_err", available, lowered, headerless, path, listing)
    elif headerless:
        error_name = available[2] if len(available) > 2 and available[2] not in used else None
    else:
        flux = flux_name.strip().lower()
        candidates = [f"{flux}_err", f"{flux}err", f"e_{flux}", f"{flux}_error", f"{flux}_unc", f"sigma_{flux}"]
        if not is_magnitude_name(flux):
            candidates.append("flux_err")
        elif flux in MAGNITUDE_ALIASES:
            candidates += ["mag_err", "magerr", "e_mag", "mag_error", "err", "error"]
        error_name = _find(lowered, candidates)
    quality_name = None if headerless else _find(lowered, QUALITY_ALIASES)
    return time_name, flux_name, error_name, quality_name


def time_format_of(column_name: str) -> str | None:
    """``'btjd'`` for a column called BTJD, ``'bjd'`` for BJD or BJD_TDB, ``'bjd-2457000'`` for BJD-2457000 ...;
    None for a plain ``time`` (or a column chosen by position).

    Example
    -------
    >>> time_format_of("BJD"), time_format_of("HJD - 2450000"), time_format_of("time")
    ('bjd', 'hjd-2450000', None)
    """
    lowered = column_name.strip().lower()
    if lowered in _TIME_FORMAT_OF_COLUMN:
        return _TIME_FORMAT_OF_COLUMN[lowered]
    if _JULIAN_DATE_NAME.fullmatch(lowered):
        return re.sub(r"\s+", "", lowered)
    return None


def time_scale_of(column_name: str) -> str | None:
    """``'tdb'`` for BJD/BJD_TDB columns (barycentric dynamical time); None when the name does not say.

    Example
    -------
    >>> time_scale_of("BJD_TDB"), time_scale_of("HJD")
    ('tdb', None)
    """
    lowered = re.sub(r"\s+", "", column_name.strip().lower())
    if lowered in _TIME_SCALE_OF_COLUMN or lowered.startswith(("bjd_tdb", "bjd-", "bjd(tdb")):
        return "tdb"
    return None


def quality_flags(values: np.ndarray, name: str, path: Path) -> np.ndarray:
    """A quality column as int64 flags: NaN (no flag recorded) becomes 0; fractions or values beyond int64 raise."""
    if values.dtype.kind in "iub":
        return values.astype(np.int64, copy=False)
    finite = np.isfinite(values)
    wrong = ~finite & ~np.isnan(values)
    wrong[finite] = (values[finite] != np.round(values[finite])) | (np.abs(values[finite]) >= 2.0**63)
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise LightCurveReadError(
            f"the quality column {name!r} holds {float(values[row])!r} (row {row + 1}): quality flags are whole "
            f"numbers below 2**63 ({int(wrong.sum())} value(s) are not)",
            path,
        )
    return np.where(finite, values, 0.0).astype(np.int64)


def quality_mask(quality: np.ndarray, quality_bitmask: str | int, mission: str | None) -> np.ndarray:
    """True for cadences to keep."""
    bitmask = resolve_quality_bitmask(quality_bitmask, mission)
    return (quality.astype(np.int64) & bitmask) == 0


def meta_to_json(meta: Mapping[str, Any]) -> str:
    """The metadata as a JSON object string (strict JSON: NaN and inf are written as null)."""
    return dumps(dict(meta), sort_keys=True)


def meta_from_json(text: str, path: Path) -> dict[str, Any]:
    """Parse a JSON metadata object; a malformed one raises :class:`LightCurveReadError`."""
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as error:
        raise LightCurveReadError(f"the stored metadata is not valid JSON ({error})", path) from None
    if not isinstance(meta, dict):
        raise LightCurveReadError("the stored metadata is not a JSON object", path)
    return meta


def finish_table_light_curve(
    time: np.ndarray,
    flux: np.ndarray,
    flux_err: np.ndarray | None,
    keep: np.ndarray,
    meta: dict[str, Any],
    path: Path,
    flux_name: str,
    time_name: str,
) -> LightCurve:
    """The shared last step of the CSV and NPZ readers: drop masked cadences, record provenance in ``meta``."""
    if time.size and not keep.any():
        # Say why nothing is left, instead of "the light curve is empty".
        bad_time = int((~np.isfinite(time)).sum())
        flagged = time.size - bad_time
        reasons = [f"{bad_time} have a NaN or infinite time"] if bad_time else []
        if flagged:
            reasons.append(f"{flagged} have a quality flag in the bitmask (read with quality_bitmask='none' to keep "
                           "them)")
        raise LightCurveError(f"no cadence left: of {time.size} row(s), " + " and ".join(reasons), path)
    if not keep.all():
        time, flux = time[keep], flux[keep]
        flux_err = None if flux_err is None else flux_err[keep]
    meta["path"] = str(path)
    if flux_name.lower() != "flux" or "flux_column" not in meta:
        meta["flux_column"] = flux_name.lower()
    time_format = time_format_of(time_name)
    if time_format is not None:
        meta["time_format"] = time_format
        time_scale = time_scale_of(time_name)
        if time_scale is not None:
            meta.setdefault("time_scale", time_scale)
    return LightCurve(time, flux, flux_err, meta, validate=False)
