"""Column-name resolution and metadata (de)serialisation shared by the CSV and NPZ readers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.core.jsonable import dumps
from qusi_lab.defaults import DEFAULT_FLUX_COLUMN
from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io.quality import resolve_quality_bitmask
from qusi_lab.lightcurve import LightCurve

#: Accepted names of the time column (case-insensitive), in order of preference.
TIME_ALIASES = ("time", "btjd", "bkjd", "bjd", "bjd_tdb", "jd", "mjd", "t")
#: Tried when the default flux column (pdcsap_flux) is absent.
FLUX_ALIASES = ("flux", "pdcsap_flux", "kspsap_flux", "det_flux", "sap_flux", "relative_flux", "normalized_flux")
QUALITY_ALIASES = ("quality", "sap_quality")
_TIME_FORMAT_OF_COLUMN = {"btjd": "btjd", "bkjd": "bkjd", "jd": "jd", "mjd": "mjd"}


def _find(names: Mapping[str, str], candidates: Iterable[str]) -> str | None:
    for candidate in candidates:
        if candidate in names:
            return names[candidate]
    return None


def resolve_columns(
    available: Iterable[str], flux_column: str, path: Path
) -> tuple[str, str, str | None, str | None]:
    """Pick the (time, flux, flux_err, quality) column names among ``available``, case-insensitively.

    The requested ``flux_column`` wins; with the default (``"pdcsap_flux"``) the
    aliases ``flux``, ``kspsap_flux``, ``det_flux``, ``sap_flux`` ... are tried.
    Missing time or flux raises :class:`LightCurveReadError` listing the columns.
    """
    available = list(available)
    lowered = {str(name).strip().lower(): str(name) for name in available}
    listing = ", ".join(str(name) for name in available) or "(none)"
    time_name = _find(lowered, TIME_ALIASES)
    if time_name is None:
        raise LightCurveReadError(
            f"no time column (looked for {', '.join(TIME_ALIASES)}); the columns are: {listing}", path
        )
    candidates = [flux_column.lower()]
    if flux_column.lower() == DEFAULT_FLUX_COLUMN:
        candidates += [alias for alias in FLUX_ALIASES if alias not in candidates]
    flux_name = _find(lowered, candidates)
    if flux_name is None:
        raise LightCurveReadError(
            f"no flux column (looked for {', '.join(candidates)}); the columns are: {listing}", path
        )
    error_name = _find(lowered, (f"{flux_name.strip().lower()}_err", "flux_err"))
    quality_name = _find(lowered, QUALITY_ALIASES)
    return time_name, flux_name, error_name, quality_name


def time_format_of(column_name: str) -> str | None:
    """``'btjd'`` for a column called BTJD, etc.; None for a plain ``time``."""
    return _TIME_FORMAT_OF_COLUMN.get(column_name.strip().lower())


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
    return LightCurve(time, flux, flux_err, meta, validate=False)
