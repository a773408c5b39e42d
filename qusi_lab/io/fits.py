"""Read Kepler/K2/TESS light-curve FITS files; write TESS SPOC-format files.

Readable products (detected from the headers, not the file name):

* TESS SPOC light curves, 2-minute (``*_lc.fits``) and 20-second (``*_fast-lc.fits``);
* TESS-SPOC FFI light curves (``hlsp_tess-spoc_*``: same layout, 200 s to 30 min cadence);
* QLP FFI light curves (``hlsp_qlp_*``: ``ORIGIN = 'MIT/QLP'``, columns SAP_FLUX,
  KSPSAP_FLUX (sectors 1-55) or DET_FLUX (sectors 56+), QUALITY);
* Kepler and K2 long- and short-cadence light curves (``kplr*_llc.fits``,
  ``ktwo*_llc.fits``: BKJD times, SAP_QUALITY);
* any other FITS file whose binary table has TIME (or T) and the requested flux column
  (e.g. ``lightkurve.LightCurve.to_fits`` output, whose flux column is FLUX).

Flux column: ``flux_column`` is matched case-insensitively. With the default,
``"pdcsap_flux"``, a file without PDCSAP_FLUX falls back to KSPSAP_FLUX, then
DET_FLUX (QLP's detrended fluxes), then FLUX; an explicitly requested other
column (``"sap_flux"``, ``"kspsap_flux"`` ...) must exist. Note that lightkurve
reads QLP's SAP_FLUX by default; we prefer QLP's detrended flux, the analogue
of PDCSAP. The flux error is ``<flux column>_ERR`` (for QLP's SAP_FLUX, which
has none, the detrended flux error, as lightkurve does).
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab._deprecation import warn_deprecated
from qusi_lab.core.robust import MAD_TO_SIGMA
from qusi_lab.defaults import DEFAULT_FLUX_COLUMN
from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io._files import regular_file_size
from qusi_lab.io._fitsfile import (
    LAYOUT_CACHE,
    Card,
    HDUInfo,
    OpenedFits,
    TableColumn,
    bintable_hdu,
    check_next_hdu,
    image_hdu,
    iter_hdus,
    merge_cards,
    primary_hdu,
    read_table_columns,
    table_layout,
    write_file,
)
from qusi_lab.io.quality import (
    QLP_LOW_PRECISION_BIT_EARLY,
    QLP_LOW_PRECISION_BIT_LATE,
    resolve_quality_bitmask,
)
from qusi_lab.lightcurve import LightCurve


def creation_date() -> str:
    """The DATE keyword of written files: today, or ``SOURCE_DATE_EPOCH`` (seconds since 1970, UTC) when set.

    ``SOURCE_DATE_EPOCH`` is the reproducible-builds convention (https://reproducible-builds.org/specs/
    source-date-epoch/): with it a seeded synthetic sector is the same bytes on any day.

    >>> import os; os.environ["SOURCE_DATE_EPOCH"] = "0"; creation_date()
    '1970-01-01'
    >>> del os.environ["SOURCE_DATE_EPOCH"]
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.UTC).date().isoformat()
        except (ValueError, OverflowError, OSError):
            raise ValueError(f"SOURCE_DATE_EPOCH must be whole seconds since 1970, got {epoch!r}") from None
    return datetime.date.today().isoformat()

__all__ = ["read_fits_light_curve", "write_spoc_fits"]

# Tried in order when the default flux column is absent (QLP sectors 1-55, QLP 56+, generic tables).
_DEFAULT_FLUX_FALLBACKS = ("PDCSAP_FLUX", "KSPSAP_FLUX", "DET_FLUX", "FLUX")
_QUALITY_COLUMNS = ("QUALITY", "SAP_QUALITY")

TESS_BJD_REFERENCE = 2457000
KEPLER_BJD_REFERENCE = 2454833
_TIME_FORMATS = {TESS_BJD_REFERENCE: "btjd", KEPLER_BJD_REFERENCE: "bkjd"}


# =========================================================================== reading
def _find_light_curve_table(opened: OpenedFits) -> tuple[HDUInfo, HDUInfo]:
    """The primary HDU and the light-curve table: EXTNAME LIGHTCURVE, else the first binary table."""
    primary: HDUInfo | None = None
    first_table: HDUInfo | None = None
    seen: list[HDUInfo] = []
    for hdu in iter_hdus(opened.stream, opened.path, opened.size):
        seen.append(hdu)
        if hdu.index == 0:
            primary = hdu
            continue
        if hdu.kind == "BINTABLE":
            if hdu.name == "LIGHTCURVE":
                assert primary is not None
                return primary, hdu
            if first_table is None:
                first_table = hdu
    if primary is not None and first_table is not None:
        return primary, first_table
    described = ", ".join(hdu.describe() for hdu in seen)
    announced = primary.header.get("NEXTEND") if primary is not None else None
    if isinstance(announced, int) and not isinstance(announced, bool) and announced > len(seen) - 1:
        # Cut at an HDU boundary: every HDU read is whole, but the primary header announced more.
        raise LightCurveReadError(
            f"no LIGHTCURVE binary-table extension: truncated FITS file, it ends at byte {opened.size} after "
            f"{len(seen)} HDU(s) ({described}) but its primary header announces NEXTEND = {announced} "
            "extensions (interrupted download?)",
            opened.path,
        )
    raise LightCurveReadError(
        f"no LIGHTCURVE binary-table extension (the file holds: {described})", opened.path
    )


def _choose_named_column(choice: str | int, role: str, names: list[str], path: Path) -> str:
    """A column chosen by the user (a name, case-insensitive, or a 0-based position); missing raises naming them."""
    if isinstance(choice, bool) or not isinstance(choice, (str, int, np.integer)):
        raise ValueError(f"{role}_column must be a column name or a 0-based position, got {choice!r}")
    if isinstance(choice, (int, np.integer)):
        if 0 <= int(choice) < len(names):
            return names[int(choice)]
        raise LightCurveReadError(
            f"no column at position {choice} for the {role} ({role}_column={choice}: positions count from 0); the "
            f"light-curve table has {len(names)} column(s): {', '.join(names)}",
            path,
        )
    upper = {name.upper(): name for name in names}
    if choice.strip().upper() in upper:
        return upper[choice.strip().upper()]
    raise LightCurveReadError(
        f"no {role} column {choice.strip().upper()!r} in the light-curve table; its columns are: {', '.join(names)}",
        path,
    )


def _choose_flux_column(flux_column: str | int, names: list[str], path: Path) -> str:
    if not isinstance(flux_column, str):
        return _choose_named_column(flux_column, "flux", names, path)
    requested = flux_column.upper()
    if requested in names:
        return requested
    if flux_column.lower() == DEFAULT_FLUX_COLUMN:
        for candidate in _DEFAULT_FLUX_FALLBACKS:
            if candidate in names:
                return candidate
    raise LightCurveReadError(
        f"no flux column {flux_column.upper()!r} in the light-curve table; its columns are: {', '.join(names)}",
        path,
    )


def _choose_error_column(flux_name: str, names: list[str]) -> str | None:
    for candidate in (f"{flux_name}_ERR", "KSPSAP_FLUX_ERR", "DET_FLUX_ERR"):
        if candidate in names:
            return candidate
    return None


def _header_value(primary: HDUInfo, table: HDUInfo, keyword: str) -> Any:
    value = primary.header.get(keyword)
    return table.header.get(keyword) if value is None else value


def _mission_and_product(primary: HDUInfo, table: HDUInfo, path: Path) -> tuple[str | None, str | None]:
    """Mission ("TESS", "Kepler", "K2") and producing pipeline ("SPOC", "TESS-SPOC", "QLP", "Kepler", "K2")."""
    telescope = str(_header_value(primary, table, "TELESCOP") or "").strip()
    mission_keyword = str(_header_value(primary, table, "MISSION") or "").strip()
    origin = str(primary.header.get("ORIGIN") or "")
    if telescope.upper() == "TESS" or mission_keyword.upper() == "TESS":
        mission: str | None = "TESS"
    elif mission_keyword.upper() == "K2" or _header_value(primary, table, "CAMPAIGN") is not None:
        mission = "K2"
    elif telescope.upper() == "KEPLER" or mission_keyword.upper() == "KEPLER":
        mission = "Kepler"
    else:
        mission = mission_keyword or telescope or None
    if "MIT/QLP" in origin.upper():
        return mission or "TESS", "QLP"
    if mission == "TESS":
        hlsp = str(primary.header.get("HLSPID") or "").upper()
        is_tess_spoc = hlsp == "TESS-SPOC" or "tess-spoc" in path.name.lower()
        return mission, "TESS-SPOC" if is_tess_spoc else "SPOC"
    return mission, mission


def _target_id(primary: HDUInfo, table: HDUInfo, mission: str | None) -> str | None:
    """"TIC n" / "KIC n" / "EPIC n" from TICID, KEPLERID, TARGETID (lightkurve's to_fits) or OBJECT."""
    catalogue = {"TESS": "TIC", "K2": "EPIC", "Kepler": "KIC"}.get(mission or "")
    tic = _header_value(primary, table, "TICID")
    if isinstance(tic, int) and not isinstance(tic, bool):
        return f"TIC {tic}"
    kepler_id = _header_value(primary, table, "KEPLERID")
    if isinstance(kepler_id, int) and not isinstance(kepler_id, bool):
        return f"{'EPIC' if mission == 'K2' else 'KIC'} {kepler_id}"
    number = _header_value(primary, table, "TARGETID")
    name = _header_value(primary, table, "OBJECT")
    if not isinstance(number, int) and isinstance(name, (int, str)) and str(name).strip().isdigit():
        number = int(str(name).strip())
    if isinstance(number, int) and not isinstance(number, bool):
        return f"{catalogue} {number}" if catalogue else str(number)
    return str(name).strip() if name else None


def _as_int(value: Any) -> int | None:
    """A whole-number header value as int; None for anything else (absent, text, 1.5, inf, T/F)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # 3.0 written by some pipelines; never inf/NaN
        return int(value)
    return None


def _as_float(value: Any) -> float | None:
    try:
        result = None if value is None or isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        return None
    return result if result is not None and np.isfinite(result) else None


def read_fits_light_curve(
    path: Path,
    *,
    flux_column: str | int = DEFAULT_FLUX_COLUMN,
    quality_bitmask: str | int = "default",
    time_column: str | int | None = None,
    flux_err_column: str | int | None = None,
) -> LightCurve:
    """Read a light-curve FITS file (see the module docstring); the curve is not yet validated.

    Cadences with NaN times and cadences whose quality flags intersect the
    bitmask are removed; NaN fluxes are kept.

    Example
    -------
    >>> import tempfile, numpy as np
    >>> lc = LightCurve(1500 + np.arange(3) / 720, np.array([10.0, 11.0, 12.0]))
    >>> path = write_spoc_fits(lc, tempfile.mkdtemp() + "/star.fits", tic_id=7, sector=9)
    >>> lc = read_fits_light_curve(path)
    >>> lc.meta["target_id"], lc.flux.tolist()
    ('TIC 7', [10.0, 11.0, 12.0])
    """
    regular_file_size(path)  # never open a named pipe (it would block) or a device
    with OpenedFits(path) as opened:
        # Files of one product share a layout: a cached one is applied after two array comparisons of the
        # header bytes (see LayoutCache); any other file is parsed in full.
        cached = LAYOUT_CACHE.lookup(opened.stream)
        if cached is None:
            primary, table = _find_light_curve_table(opened)
            layout = table_layout(table, path)
        else:
            primary, table, layout = cached
        names = layout.names
        if time_column is not None:
            time_name = _choose_named_column(time_column, "time", names, path)
        else:
            time_name = "TIME" if "TIME" in names or "T" not in names else "T"  # some old Kepler files say T
        if time_name not in names:
            raise LightCurveReadError(
                f"no TIME column in the light-curve table; its columns are: {', '.join(names)}", path
            )
        flux_name = _choose_flux_column(flux_column, names, path)
        if flux_err_column is not None:
            error_name: str | None = _choose_named_column(flux_err_column, "flux_err", names, path)
        else:
            error_name = _choose_error_column(flux_name, names)
        quality_name = next((name for name in _QUALITY_COLUMNS if name in names), None)
        wanted = [time_name, flux_name] + [name for name in (error_name, quality_name) if name is not None]
        columns = read_table_columns(opened.stream, opened.size, table, layout, wanted, path)
        check_next_hdu(opened.stream, opened.size, table, path)
        if cached is None:
            LAYOUT_CACHE.remember(opened.stream, primary, table, layout)

    mission, product = _mission_and_product(primary, table, path)
    time = columns[time_name]
    if time.size == 0:
        raise LightCurveError(f"the {table.name} table has no rows (zero cadences)", path)
    keep = np.isfinite(time)
    if not keep.any():
        raise LightCurveError(f"all {time.size} {time_name} values are NaN or infinite", path)
    sector = _as_int(_header_value(primary, table, "SECTOR"))
    bitmask = resolve_quality_bitmask(quality_bitmask, mission)
    if product == "QLP" and quality_bitmask in ("hard", "hardest"):
        bitmask |= QLP_LOW_PRECISION_BIT_LATE if (sector or 0) >= 56 else QLP_LOW_PRECISION_BIT_EARLY
    if quality_name is not None and bitmask:
        if columns[quality_name].dtype.kind != "i":
            column = layout.columns[quality_name]
            how = f"TFORM {column.code}" + (
                f" scaled by TSCAL = {column.scale:g}, TZERO = {column.zero:g}" if column.code not in "ED" else "")
            raise LightCurveReadError(
                f"column {quality_name} does not hold whole numbers ({how}); quality flags must be integers "
                "(read it with quality_bitmask='none' to ignore them)",
                path,
            )
        good_quality = (columns[quality_name] & bitmask) == 0
        if not (good_quality & keep).any():  # no compaction just to ask
            raise LightCurveError(
                f"every cadence has a quality flag in the bitmask ({quality_bitmask!r} = {bitmask}); "
                "read it with quality_bitmask='none' to keep them",
                path,
            )
        keep &= good_quality
    flux = columns[flux_name]
    if not (np.isfinite(flux) & keep).any():
        raise LightCurveError(
            f"all fluxes in column {flux_name} are NaN or infinite (after removing cadences with NaN times or bad quality)",
            path,
        )
    everything = bool(keep.all())
    time = time if everything else time[keep]
    flux = flux if everything else flux[keep]
    flux_err = None
    if error_name is not None:
        flux_err = columns[error_name] if everything else columns[error_name][keep]

    header = table.header
    bjd_reference = _as_int(header.get("BJDREFI"))
    time_format = _TIME_FORMATS.get(bjd_reference) if bjd_reference is not None else None
    if time_format is None and bjd_reference is None:
        time_format = {"TESS": "btjd", "Kepler": "bkjd", "K2": "bkjd"}.get(mission or "")
    meta: dict[str, Any] = {
        "target_id": _target_id(primary, table, mission),
        "mission": mission,
        "author": product,
        "path": str(path),
        "flux_column": flux_name.lower(),
        "time_format": time_format,
        "quality_bitmask": bitmask,
    }
    for keyword, key in (("SECTOR", "sector"), ("QUARTER", "quarter"), ("CAMPAIGN", "campaign"),
                         ("CAMERA", "camera"), ("CCD", "ccd")):
        number = _as_int(_header_value(primary, table, keyword))
        if number is not None:
            meta[key] = number
    cadence = _as_float(header.get("TIMEDEL"))
    if cadence is None or cadence <= 0:
        steps = np.diff(time)
        cadence = float(np.median(steps)) if steps.size else None
    meta["cadence"] = cadence
    magnitude = _as_float(_header_value(primary, table, "TESSMAG" if mission == "TESS" else "KEPMAG"))
    if magnitude is not None:
        meta["magnitude"] = magnitude
    for keyword, key in (("RA_OBJ", "ra"), ("DEC_OBJ", "dec")):
        coordinate = _as_float(_header_value(primary, table, keyword))
        if coordinate is not None:
            meta[key] = coordinate
    meta = {key: value for key, value in meta.items() if value is not None}
    return LightCurve(time, flux, flux_err, meta, validate=False)


# =========================================================================== writing
def _float_array(values: Any, name: str, length: int | None) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if length is not None and array.size != length:
        raise ValueError(f"{name} has {array.size} values but time has {length}")
    return array


def _estimated_error(flux: np.ndarray) -> np.ndarray:
    """A constant flux error from the point-to-point scatter (robust to transits and gaps)."""
    finite = flux[np.isfinite(flux)]
    steps = np.diff(finite)
    scatter = MAD_TO_SIGMA * float(np.median(np.abs(steps))) / np.sqrt(2.0) if steps.size else 0.0
    if not np.isfinite(scatter) or scatter <= 0:
        scatter = 1e-3 * float(np.median(np.abs(finite))) if finite.size else 0.0
    return np.full(flux.shape, scatter)


def _timing_cards(time: np.ndarray, bjd_reference: int, cadence: float, deadtime: float) -> list[Card]:
    system = "BTJD" if bjd_reference == TESS_BJD_REFERENCE else "BKJD"
    finite = time[np.isfinite(time)]
    start = float(finite[0]) - cadence / 2 if finite.size else None
    stop = float(finite[-1]) + cadence / 2 if finite.size else None
    elapsed = stop - start if start is not None and stop is not None else None
    cards: list[Card] = [
        ("TIMEREF", "SOLARSYSTEM", "barycentric correction applied to times"),
        ("TASSIGN", "SPACECRAFT", "where time is assigned"),
        ("TIMESYS", "TDB", "time system is Barycentric Dynamical Time (TDB)"),
        ("BJDREFI", bjd_reference, f"integer part of {system} reference date"),
        ("BJDREFF", 0.0, f"fraction of the day in {system} reference date"),
        ("TIMEUNIT", "d", "time unit for TIME, TSTART and TSTOP"),
        ("TELAPSE", elapsed, "[d] TSTOP - TSTART"),
        ("LIVETIME", None if elapsed is None else elapsed * deadtime, "[d] TELAPSE multiplied by DEADC"),
        ("TSTART", start, f"observation start time in {system}"),
        ("TSTOP", stop, f"observation stop time in {system}"),
        ("DATE-OBS", _iso_date(start, bjd_reference), "TSTART as UTC calendar date"),
        ("DATE-END", _iso_date(stop, bjd_reference), "TSTOP as UTC calendar date"),
        ("DEADC", deadtime, "deadtime correction"),
        ("TIMEPIXR", 0.5, "bin time beginning=0 middle=0.5 end=1"),
        ("TIERRELA", 1.16e-05, "[d] relative time error"),
        ("TIMEDEL", cadence, "[d] time resolution of data"),
    ]
    return cards


def _iso_date(day: float | None, bjd_reference: int) -> str | None:
    """ISO UTC date of a BTJD/BKJD time (TDB-UTC taken as 69.184 s; for information only)."""
    if day is None:
        return None
    unix_days = day + bjd_reference - 2440587.5
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(days=unix_days, seconds=-69.184)
    return moment.isoformat(timespec="milliseconds") + "Z"


def _median_cadence(time: np.ndarray, default: float) -> float:
    steps = np.diff(time[np.isfinite(time)])
    steps = steps[steps > 0]
    return float(np.median(steps)) if steps.size else default


def _aperture_image() -> np.ndarray:
    """An 11x11 SPOC-style aperture bitmask: all pixels collected (1), centre 3x3 in the optimal aperture (2)."""
    image = np.ones((11, 11), dtype=np.int32)
    image[4:7, 4:7] |= 2 | 8  # optimal aperture, used for the flux-weighted centroid
    image[0, :] |= 4  # background pixels
    image[-1, :] |= 4
    return image


_PIXEL_COLUMNS = ("PSF_CENTR1", "PSF_CENTR1_ERR", "PSF_CENTR2", "PSF_CENTR2_ERR", "MOM_CENTR1",
                  "MOM_CENTR1_ERR", "MOM_CENTR2", "MOM_CENTR2_ERR", "POS_CORR1", "POS_CORR2")


def _ames_columns(
    time: np.ndarray,
    time_unit: str,
    quality_name: str,
    flux: np.ndarray,
    flux_err: np.ndarray,
    sap_flux: np.ndarray,
    sap_flux_err: np.ndarray,
    quality: np.ndarray,
    first_cadence: int,
    centre: tuple[float, float],
) -> list[TableColumn]:
    """The LIGHTCURVE columns of Ames-pipeline (SPOC, Kepler, K2) files, in their order and formats."""
    rows = time.size
    zeros = np.zeros(rows)
    columns = [
        TableColumn("TIME", "D", time, time_unit, "D14.7", "data time stamps"),
        TableColumn("TIMECORR", "E", zeros, "d", "E14.7", "barycentric correction"),
        TableColumn("CADENCENO", "J", first_cadence + np.arange(rows), None, "I10", "unique cadence number"),
        TableColumn("SAP_FLUX", "E", sap_flux, "e-/s", "E14.7", "aperture photometry flux"),
        TableColumn("SAP_FLUX_ERR", "E", sap_flux_err, "e-/s", "E14.7", "aperture phot. flux error"),
        TableColumn("SAP_BKG", "E", zeros, "e-/s", "E14.7", "aperture phot. background flux"),
        TableColumn("SAP_BKG_ERR", "E", zeros, "e-/s", "E14.7", "aperture phot. background flux error"),
        TableColumn("PDCSAP_FLUX", "E", flux, "e-/s", "E14.7", "PDC corrected flux"),
        TableColumn("PDCSAP_FLUX_ERR", "E", flux_err, "e-/s", "E14.7", "PDC corrected flux error"),
        TableColumn(quality_name, "J", quality, None, "B16.16", "aperture photometry quality flag"),
    ]
    for name in _PIXEL_COLUMNS:
        is_error = name.endswith("_ERR")
        is_correction = name.startswith("POS_CORR")
        value = 0.0 if is_error or is_correction else centre[0] if name.endswith("1") else centre[1]
        code = "E" if is_error or is_correction else "D"
        unit = "pixels" if is_correction else "pixel"
        columns.append(TableColumn(name, code, value, unit, "E14.7" if code == "E" else "F10.5", name.lower()))
    return columns


def write_spoc_fits(
    lc: LightCurve | str | os.PathLike[str],
    path: str | os.PathLike[str] | Any,
    *old_flux: Any,
    flux_err: Any | None = None,
    sap_flux: Any | None = None,
    sap_flux_err: Any | None = None,
    quality: Any | None = None,
    tic_id: int | None = None,
    sector: int | None = None,
    camera: int = 1,
    ccd: int = 1,
    tess_mag: float | None = None,
    extra_header: dict[str, Any] | None = None,
) -> Path:
    """Write ``lc`` as a TESS SPOC-format light-curve FITS file (PRIMARY, LIGHTCURVE, APERTURE HDUs).

    The light curve first, the path second, as every writer of qusi_lab (and pandas) takes them;
    :meth:`LightCurve.to_fits <qusi_lab.LightCurve.to_fits>` does the same. The layout, column formats
    (float64 TIME, float32 fluxes, int32 QUALITY) and header keywords are those of SPOC ``*_lc.fits``
    files, so ``lightkurve.read`` opens the file as a ``TessLightCurve`` with its TICID, SECTOR and
    mission. The primary header says ``SIMDATA = T`` (simulated data).

    The old order ``write_spoc_fits(path, time, flux, ...)`` still works, with a ``DeprecationWarning``,
    until 0.2.

    Parameters
    ----------
    lc:
        The light curve: times in BTJD (BJD - 2457000), days (NaN times are allowed: SPOC files have
        them in gaps), and PDCSAP flux in e-/s (not normalised; stored as float32, like SPOC). Wrap
        plain arrays as ``LightCurve(time, flux, validate=False)``.
    path:
        Where to write (parent folders are created; an existing file is replaced).
    flux_err:
        PDCSAP flux errors; default: ``lc.flux_err``, else a constant estimated from the
        point-to-point scatter of the flux.
    sap_flux, sap_flux_err:
        SAP flux and errors; default: the flux and its errors.
    quality:
        Integer quality flags (TESS bits); default all 0.
    tic_id, sector:
        Target and sector, written to TICID/OBJECT and SECTOR; default: from ``lc.target_id``
        (``"TIC 7"``) and ``lc.sector``.
    camera, ccd, tess_mag:
        Pointing and magnitude, written to CAMERA, CCD, TESSMAG.
    extra_header:
        Keyword -> value (or ``(value, comment)``). Keywords already in the
        LIGHTCURVE header (TIMEDEL, CDPP2_0 ...) are replaced there; others go to
        the primary header (e.g. ``RA_OBJ``, ``DEC_OBJ``, ``TEFF``, ``HLSPID``).

    Returns
    -------
    pathlib.Path
        The path written.

    Example
    -------
    >>> import tempfile, numpy as np
    >>> lc = LightCurve(1325.0 + np.arange(1000) * 2 / 1440, np.full(1000, 1500.0), target_id="TIC 7", sector=1)
    >>> path = write_spoc_fits(lc, tempfile.mkdtemp() + "/tess-s0001-0000000000000007_lc.fits", tess_mag=10.5)
    >>> path.name
    'tess-s0001-0000000000000007_lc.fits'
    """
    if isinstance(lc, (str, os.PathLike)):  # the old order: (path, time, flux)
        if len(old_flux) != 1:
            raise TypeError("write_spoc_fits(path, time, flux) takes the flux as its third argument; "
                            "better: write_spoc_fits(LightCurve(time, flux), path)")
        warn_deprecated("write_spoc_fits(path, time, flux) is now write_spoc_fits(LightCurve(time, flux), path) "
                        "(light curve first, path second)")
        time, flux, target = path, old_flux[0], lc
    elif isinstance(lc, LightCurve):
        if old_flux or not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"write_spoc_fits(lc, path, ...): path must be a str or os.PathLike, got "
                            f"{type(path).__name__}" + (f" and {len(old_flux)} more positional argument(s)"
                                                          if old_flux else ""))
        time, flux, target = lc.time, lc.flux, path
        flux_err = lc.flux_err if flux_err is None else flux_err
        tic_id = _tic_number(lc) if tic_id is None else tic_id
        sector = lc.sector if sector is None else sector
    else:
        raise TypeError(f"write_spoc_fits writes a LightCurve, got {type(lc).__name__}")
    if tic_id is None or sector is None:
        missing = " and ".join(f"{name}=" for name, value in (("tic_id", tic_id), ("sector", sector)) if value is None)
        raise TypeError(f"write_spoc_fits needs {missing} (the light curve's target_id and sector do not give it)")
    return _write_spoc_arrays(target, time, flux, flux_err=flux_err, sap_flux=sap_flux, sap_flux_err=sap_flux_err,
                              quality=quality, tic_id=tic_id, sector=sector, camera=camera, ccd=ccd,
                              tess_mag=tess_mag, extra_header=extra_header)


def _tic_number(lc: LightCurve) -> int | None:
    """The TIC number of ``lc.target_id`` (``"TIC 7"``, ``"7"``), or None."""
    text = str(lc.target_id or "").upper().removeprefix("TIC").strip()
    return int(text) if text.isdigit() else None


def _write_spoc_arrays(
    path: str | os.PathLike[str],
    time: Any,
    flux: Any,
    *,
    flux_err: Any | None,
    sap_flux: Any | None,
    sap_flux_err: Any | None,
    quality: Any | None,
    tic_id: int,
    sector: int,
    camera: int,
    ccd: int,
    tess_mag: float | None,
    extra_header: dict[str, Any] | None,
) -> Path:
    """:func:`write_spoc_fits` on arrays (its parameters)."""
    time_array = _float_array(time, "time", None)
    rows = time_array.size
    flux_array = _float_array(flux, "flux", rows)
    flux_err_array = _estimated_error(flux_array) if flux_err is None else _float_array(flux_err, "flux_err", rows)
    sap_array = flux_array if sap_flux is None else _float_array(sap_flux, "sap_flux", rows)
    sap_err_array = flux_err_array if sap_flux_err is None else _float_array(sap_flux_err, "sap_flux_err", rows)
    quality_array = np.zeros(rows, dtype=np.int32) if quality is None else np.asarray(quality)
    if quality_array.shape != (rows,):
        raise ValueError(f"quality has shape {quality_array.shape} but time has {rows} values")
    if quality_array.dtype.kind not in "iub":
        raise ValueError(f"quality must hold integers, got {quality_array.dtype}")
    tic_id, sector, camera, ccd = int(tic_id), int(sector), int(camera), int(ccd)

    cadence = _median_cadence(time_array, 2.0 / 1440.0)
    cadence_seconds = cadence * 86400.0
    frames = max(1, round(cadence_seconds / 2.0))
    deadtime = 0.8 if cadence_seconds > 30 else 0.99  # 20-s data are co-added on board with less dead time
    target_cards: list[Card] = [
        ("TELESCOP", "TESS", "telescope"),
        ("INSTRUME", "TESS Photometer", "detector type"),
        ("OBJECT", f"TIC {tic_id}", "string version of target id"),
        ("TICID", tic_id, "unique tess target identifier"),
    ]
    primary_cards: list[Card] = [
        ("EXTNAME", "PRIMARY", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        ("SIMDATA", True, "file is based on simulated data"),
        ("ORIGIN", "NASA/Ames", "institution responsible for creating this file"),
        ("DATE", creation_date(), "file creation date."),
        ("CREATOR", "qusi_lab LightCurveExporterPipelineModule", "pipeline job and program used"),
        ("PROCVER", "qusi_lab", "SW version"),
        ("FILEVER", "1.0", "file format version"),
        ("TIMVERSN", "OGIP/93-003", "OGIP memo number for file format"),
        *target_cards[:2],
        ("DATA_REL", 0, "data release version number"),
        *target_cards[2:],
        ("SECTOR", sector, "Observing sector"),
        ("CAMERA", camera, "Camera number"),
        ("CCD", ccd, "CCD chip number"),
        ("PXTABLE", 0, "pixel table id"),
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("RA_OBJ", None, "[deg] right ascension"),
        ("DEC_OBJ", None, "[deg] declination"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
        ("PMRA", None, "[mas/yr] RA proper motion"),
        ("PMDEC", None, "[mas/yr] Dec proper motion"),
        ("PMTOTAL", None, "[mas/yr] total proper motion"),
        ("TESSMAG", None if tess_mag is None else float(tess_mag), "[mag] TESS magnitude"),
        ("TEFF", None, "[K] Effective temperature"),
        ("LOGG", None, "[cm/s2] log10 surface gravity"),
        ("MH", None, "[log10([M/H])] metallicity"),
        ("RADIUS", None, "[solar radii] stellar radius"),
        ("TICVER", 8, "TICVER"),
    ]
    lightcurve_cards: list[Card] = [
        ("INHERIT", True, "inherit the primary header"),
        ("EXTNAME", "LIGHTCURVE", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        ("SIMDATA", True, "file is based on simulated data"),
        *target_cards,
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("RA_OBJ", None, "[deg] right ascension"),
        ("DEC_OBJ", None, "[deg] declination"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
        ("EXPOSURE", rows * cadence * deadtime, "[d] time on source"),
        *_timing_cards(time_array, TESS_BJD_REFERENCE, cadence, deadtime),
        ("INT_TIME", 1.98, "[s] photon accumulation time per frame"),
        ("READTIME", 0.02, "[s] readout time per frame"),
        ("FRAMETIM", 2.0, "[s] frame time (INT_TIME + READTIME)"),
        ("NUM_FRM", frames, "number of frames per time stamp"),
        ("BACKAPP", True, "background is subtracted"),
        ("DEADAPP", True, "deadtime applied"),
        ("VIGNAPP", True, "vignetting or collimator correction applied"),
        ("GAINA", 5.2, "[electrons/count] CCD output A gain"),
        ("READNOIA", 9.5, "[electrons] read noise CCD output A"),
        ("NREADOUT", frames * 4 // 5, "number of read per cadence"),
        ("FXDOFF", 209700, "compression fixed offset"),
        ("CDPP0_5", None, "[ppm] RMS CDPP on 0.5-hr time scales"),
        ("CDPP1_0", None, "[ppm] RMS CDPP on 1.0-hr time scales"),
        ("CDPP2_0", None, "[ppm] RMS CDPP on 2.0-hr time scales"),
        ("CROWDSAP", 1.0, "Ratio of target flux to total flux in op. ap."),
        ("FLFRCSAP", 1.0, "Frac. of target flux w/in the op. aperture"),
        ("PDCVAR", None, "Target variability"),
        ("PDCMETHD", "msMAP", "PDC algorithm used for target"),
    ]
    aperture_cards: list[Card] = [
        ("INHERIT", True, "inherit the primary header"),
        ("EXTNAME", "APERTURE", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        *target_cards,
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("NPIXSAP", 9, "Number of pixels in optimal aperture"),
        ("NPIXMISS", 0, "Number of op. aperture pixels not collected"),
    ]
    extra = merge_cards([primary_cards, lightcurve_cards], extra_header)
    # Coordinates given for the primary header are repeated in the extensions, as SPOC does.
    for keyword in ("RA_OBJ", "DEC_OBJ"):
        value = next(card[1] for card in primary_cards if card[0] == keyword)
        merge_cards([lightcurve_cards], {keyword: value})
    primary_cards.extend(extra)

    columns = _ames_columns(
        time_array, "BJD - 2457000, days", "QUALITY", flux_array, flux_err_array, sap_array, sap_err_array,
        quality_array, 1000 * sector, (1000.0 + 10 * camera, 1000.0 + 10 * ccd),
    )
    return write_file(
        [
            primary_hdu(primary_cards, 2),
            bintable_hdu(columns, rows, lightcurve_cards),
            image_hdu(_aperture_image(), aperture_cards),
        ],
        path,
    )


def _write_kepler_fits(
    lc: LightCurve,
    path: str | os.PathLike[str],
    *,
    kepler_id: int,
    sap_flux: Any | None = None,
    quality: Any | None = None,
    quarter: int | None = None,
    campaign: int | None = None,
    kepler_mag: float | None = None,
    short_cadence: bool = False,
) -> Path:
    """Write a Kepler (``quarter``) or K2 (``campaign``) light-curve file in the Ames layout.

    Used by the tests to check the Kepler/K2 reader against ``lightkurve.read``.
    ``lc`` holds times in BKJD (BJD - 2454833), PDCSAP flux and its errors; quality flags go to
    SAP_QUALITY (Kepler bits).
    """
    time, flux, flux_err = lc.time, lc.flux, lc.flux_err
    if (quarter is None) == (campaign is None):
        raise ValueError("give exactly one of quarter (Kepler) or campaign (K2)")
    time_array = _float_array(time, "time", None)
    rows = time_array.size
    flux_array = _float_array(flux, "flux", rows)
    flux_err_array = _estimated_error(flux_array) if flux_err is None else _float_array(flux_err, "flux_err", rows)
    sap_array = flux_array if sap_flux is None else _float_array(sap_flux, "sap_flux", rows)
    quality_array = np.zeros(rows, dtype=np.int32) if quality is None else np.asarray(quality)
    is_k2 = campaign is not None
    cadence = (58.85 if short_cadence else 1765.46) / 86400.0
    name = f"{'EPIC' if is_k2 else 'KIC'} {int(kepler_id)}"
    target_cards: list[Card] = [
        ("TELESCOP", "Kepler", "telescope"),
        ("INSTRUME", "Kepler Photometer", "detector type"),
        ("OBJECT", name, "string version of target id"),
        ("KEPLERID", int(kepler_id), "unique Kepler target identifier"),
    ]
    primary_cards: list[Card] = [
        ("EXTNAME", "PRIMARY", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        ("ORIGIN", "NASA/Ames", "institution responsible for creating this file"),
        ("DATE", creation_date(), "file creation date."),
        ("CREATOR", "qusi_lab FluxExporter2PipelineModule", "pipeline job and program used"),
        ("PROCVER", "qusi_lab", "SW version"),
        ("FILEVER", "6.1", "file format version"),
        ("TIMVERSN", "OGIP/93-003", "OGIP memo number for file format"),
        *target_cards,
        ("CHANNEL", 45, "CCD channel"),
        ("SKYGROUP", 45, "roll-independent location of channel"),
        ("MODULE", 14, "CCD module"),
        ("OUTPUT", 1, "CCD output"),
    ]
    if is_k2:
        primary_cards += [("MISSION", "K2", "Mission name"), ("CAMPAIGN", int(campaign or 0), "Observing campaign")]
    else:
        primary_cards += [("QUARTER", int(quarter or 0), "Observing quarter"), ("SEASON", 2, "mission season")]
    primary_cards += [
        ("DATA_REL", 25, "data release version number"),
        ("OBSMODE", "short cadence" if short_cadence else "long cadence", "observing mode"),
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("RA_OBJ", 291.0, "[deg] right ascension"),
        ("DEC_OBJ", 41.0, "[deg] declination"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
        ("KEPMAG", None if kepler_mag is None else float(kepler_mag), "[mag] Kepler magnitude (Kp)"),
    ]
    lightcurve_cards: list[Card] = [
        ("INHERIT", True, "inherit the primary header"),
        ("EXTNAME", "LIGHTCURVE", "name of extension"),
        ("EXTVER", 1, "extension version number (not format version)"),
        *target_cards,
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("RA_OBJ", 291.0, "[deg] right ascension"),
        ("DEC_OBJ", 41.0, "[deg] declination"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
        ("EXPOSURE", rows * cadence * 0.92, "[d] time on source"),
        *_timing_cards(time_array, KEPLER_BJD_REFERENCE, cadence, 0.92),
        ("INT_TIME", 6.01980290327, "[s] photon accumulation time per frame"),
        ("NUM_FRM", 9 if short_cadence else 270, "number of frames per time stamp"),
    ]
    columns = _ames_columns(
        time_array, "BJD - 2454833", "SAP_QUALITY", flux_array, flux_err_array, sap_array, flux_err_array,
        quality_array, 1000, (500.0, 600.0),
    )
    aperture_cards: list[Card] = [
        ("INHERIT", True, "inherit the primary header"),
        ("EXTNAME", "APERTURE", "name of extension"),
        *target_cards,
    ]
    return write_file(
        [
            primary_hdu(primary_cards, 2),
            bintable_hdu(columns, rows, lightcurve_cards),
            image_hdu(_aperture_image(), aperture_cards),
        ],
        path,
    )


def _write_qlp_fits(
    lc: LightCurve,
    path: str | os.PathLike[str],
    *,
    sap_flux: Any,
    tic_id: int,
    sector: int,
    quality: Any | None = None,
    tess_mag: float | None = None,
) -> Path:
    """Write a QLP HLSP light-curve file (``ORIGIN = 'MIT/QLP'``), as MAST distributes them.

    Sectors 1-55 get KSPSAP_FLUX columns, sectors 56+ DET_FLUX columns (QLP
    renamed them). Fluxes are normalised (around 1), as in QLP. ``lc`` holds the times and the
    detrended flux with its errors (required). Used by the tests.
    """
    if lc.flux_err is None:
        raise ValueError("a QLP file stores the detrended flux errors: give the light curve a flux_err")
    time, detrended_flux, detrended_flux_err = lc.time, lc.flux, lc.flux_err
    time_array = _float_array(time, "time", None)
    rows = time_array.size
    sap_array = _float_array(sap_flux, "sap_flux", rows)
    detrended = _float_array(detrended_flux, "detrended_flux", rows)
    detrended_err = _float_array(detrended_flux_err, "detrended_flux_err", rows)
    quality_array = np.zeros(rows, dtype=np.int32) if quality is None else np.asarray(quality)
    prefix = "DET" if sector >= 56 else "KSPSAP"
    cadence = (200.0 if sector >= 56 else 600.0 if sector >= 27 else 1800.0) / 86400.0
    target_cards: list[Card] = [
        ("TELESCOP", "TESS", "telescope"),
        ("INSTRUME", "TESS Photometer", "detector type"),
        ("OBJECT", f"TIC {int(tic_id)}", "string version of target id"),
        ("TICID", int(tic_id), "unique tess target identifier"),
    ]
    primary_cards: list[Card] = [
        ("EXTNAME", "PRIMARY", "name of extension"),
        ("ORIGIN", "MIT/QLP", "institution responsible for creating this file"),
        ("DATE", creation_date(), "file creation date."),
        *target_cards,
        ("SECTOR", int(sector), "Observing sector"),
        ("CAMERA", 2, "Camera number"),
        ("CCD", 3, "CCD chip number"),
        ("RADESYS", "ICRS", "reference frame of celestial coordinates"),
        ("RA_OBJ", 120.5, "[deg] right ascension"),
        ("DEC_OBJ", -60.25, "[deg] declination"),
        ("EQUINOX", 2000.0, "equinox of celestial coordinate system"),
        ("TESSMAG", None if tess_mag is None else float(tess_mag), "[mag] TESS magnitude"),
        ("HLSPID", "QLP", "identifier of the high-level science product"),
        ("HLSPLEAD", "Chelsea X. Huang", "HLSP project lead"),
        ("HLSPVER", "1.0", "HLSP version"),
    ]
    lightcurve_cards: list[Card] = [
        ("EXTNAME", "LIGHTCURVE", "name of extension"),
        *target_cards,
        *_timing_cards(time_array, TESS_BJD_REFERENCE, cadence, 0.8),
    ]
    ones = np.ones(rows)
    columns = [
        TableColumn("TIME", "D", time_array, "BTJD = BJD - 2457000", "D14.7", "data time stamps"),
        TableColumn("CADENCENO", "J", np.arange(rows), None, "I10", "cadence number"),
        TableColumn("SAP_FLUX", "E", sap_array, "relative flux", "E14.7", "raw flux"),
        TableColumn(f"{prefix}_FLUX", "E", detrended, "relative flux", "E14.7", "detrended flux"),
        TableColumn(f"{prefix}_FLUX_ERR", "E", detrended_err, "relative flux", "E14.7", "detrended flux error"),
        TableColumn("QUALITY", "J", quality_array, None, "B16.16", "quality flags"),
        TableColumn("ORBITID", "J", np.where(np.arange(rows) < rows // 2, 1, 2), None, "I3", "orbit number"),
        TableColumn("SAP_X", "E", 1000.0 * ones, "pixel", "E14.7", "column centroid"),
        TableColumn("SAP_Y", "E", 1000.0 * ones, "pixel", "E14.7", "row centroid"),
        TableColumn("SAP_BKG", "E", np.zeros(rows), "relative flux", "E14.7", "background"),
        TableColumn("SAP_BKG_ERR", "E", np.zeros(rows), "relative flux", "E14.7", "background error"),
        TableColumn(f"{prefix}_FLUX_SML", "E", detrended, "relative flux", "E14.7", "small aperture"),
        TableColumn(f"{prefix}_FLUX_LAG", "E", detrended, "relative flux", "E14.7", "large aperture"),
    ]
    return write_file([primary_hdu(primary_cards, 1), bintable_hdu(columns, rows, lightcurve_cards)], path)
