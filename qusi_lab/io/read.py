"""``read_light_curve``: one entry point for FITS, CSV and NPZ light curves."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io._columns import ColumnChoice, is_magnitude_name
from qusi_lab.io._files import regular_file_size
from qusi_lab.io.fits import DEFAULT_FLUX_COLUMN, read_fits_light_curve
from qusi_lab.io.npz import read_npz_light_curve
from qusi_lab.io.quality import check_quality_bitmask
from qusi_lab.io.text import read_csv_light_curve
from qusi_lab.io.units import flux_unit_kind, magnitudes_to_relative_flux
from qusi_lab.lightcurve import LightCurve

__all__ = ["FORMATS", "LightCurveReader", "detect_format", "light_curve_reader", "read_light_curve"]

#: Format names accepted by ``read_light_curve(format=...)``.
FORMATS: tuple[str, ...] = ("fits", "csv", "npz")
_SUFFIX_FORMATS = ((".fits", "fits"), (".fits.gz", "fits"), (".fit", "fits"), (".fit.gz", "fits"),
                   (".fts", "fits"), (".csv", "csv"), (".npz", "npz"))
# Text tables under these names are read as CSV (comma or whitespace separated) unless their first bytes
# say FITS or NPZ (a FITS file saved as .dat is still FITS).
_TEXT_SUFFIXES = (".txt", ".dat", ".tsv", ".tbl", ".ascii")
_SUPPORTED = "FITS (.fits, .fit, .fits.gz), CSV (.csv), text tables (.txt, .dat, .tsv) and NPZ (.npz)"


def detect_format(path: str | os.PathLike[str]) -> str:
    """``'fits'``, ``'csv'`` or ``'npz'`` from the file name, else from the first bytes.

    Example
    -------
    >>> detect_format("kplr008462852-2011073133259_llc.fits")
    'fits'
    """
    path = path if isinstance(path, Path) else Path(path)  # a Path is not parsed again (per file of a survey)
    name = path.name.lower()
    for suffix, file_format in _SUFFIX_FORMATS:
        if name.endswith(suffix):
            return file_format
    regular_file_size(path)  # never open a named pipe (it would block) or a device
    try:
        with open(path, "rb") as handle:
            magic = handle.read(10)
    except OSError as error:
        raise LightCurveReadError(f"cannot open the file ({error.strerror or error})", path) from None
    if magic.startswith(b"SIMPLE  ="):
        return "fits"
    if magic.startswith(b"\x1f\x8b"):
        import gzip

        try:
            with gzip.open(path, "rb") as handle:
                if handle.read(10).startswith(b"SIMPLE  ="):
                    return "fits"
        except (OSError, EOFError, zlib.error):  # a corrupt stream: not recognisably FITS
            pass
    if magic.startswith(b"PK\x03\x04"):
        return "npz"
    if name.endswith(_TEXT_SUFFIXES):
        return "csv"
    raise LightCurveReadError(
        f"unknown light-curve format (suffix {path.suffix or 'none'!r}, and the content is not FITS or NPZ); "
        f"supported formats are {_SUPPORTED}; pass format='csv' for a CSV file with another suffix",
        path,
    )


def read_light_curve(
    path: str | os.PathLike[str],
    *,
    time_column: ColumnChoice = None,
    flux_column: ColumnChoice = DEFAULT_FLUX_COLUMN,
    flux_err_column: ColumnChoice = None,
    flux_unit: Any = None,
    time_format: str | None = None,
    quality_bitmask: str | int = "default",
    format: str | None = None,
) -> LightCurve:
    """Read a light curve from a FITS, CSV, text-table or NPZ file.

    FITS: TESS SPOC (2-min and 20-s), TESS-SPOC and QLP FFI light curves, Kepler
    and K2 light curves, and generic tables with TIME and a flux column (see
    :mod:`qusi_lab.io.fits`). The FITS reader is a fast path that reads only the
    needed columns: ~0.5-1.5 ms per 20,000-cadence file, about 100x faster than
    ``lightkurve.read`` (``benchmarks/bench_read.py``). Files of a product it has
    read before (same header cards, sizes and columns, checked byte for byte) reuse
    the parsed layout and parse only the header cards they need. CSV, whitespace-separated text
    (``.txt``, ``.dat``) and NPZ: columns/arrays ``time``, ``flux``, ``flux_err``
    with metadata (see :mod:`qusi_lab.io.text`, :mod:`qusi_lab.io.npz`).

    Columns are found by name (case-insensitive): time is ``time``, ``BTJD``,
    ``BKJD``, ``BJD``, ``BJD_TDB``, ``HJD``, ``JD``, ``MJD`` or a name such as
    ``BJD-2457000``; flux is ``pdcsap_flux``, ``flux``, ``sap_flux`` ... or, failing
    those, a magnitude column (``mag``, ``magnitude``, ``Vmag``, ``g_mag``). The
    keywords below choose them instead, as ``lightkurve``'s readers do.

    **Files without a header row.** A first row made only of numbers
    (``1325.0,0.9998``) is data, not a header: the columns are then chosen by
    0-based position, time = column 0, flux = column 1 and flux_err = column 2
    when there is one.

    **Magnitudes.** A flux column named like a magnitude, or ``flux_unit="mag"``,
    is converted to relative flux about the median magnitude ``m0``:
    ``flux = 10**(-0.4 (m - m0))`` (1 at the median; a dip when the star fades),
    ``flux_err = 0.4 ln(10) flux mag_err``; a non-finite magnitude gives a NaN
    flux. ``meta`` records ``flux_converted_from="mag"``, ``reference_magnitude``
    (``m0``), ``flux_unit="relative"`` and the column in ``flux_column``.

    Parameters
    ----------
    path:
        The file.
    time_column:
        Time column: a name (case-insensitive) or a 0-based position; default
        found by name (see above), column 0 in a file without a header.
    flux_column:
        Flux column, a name or 0-based position. Default ``"pdcsap_flux"``
        (falling back to QLP's ``kspsap_flux``/``det_flux``, a plain ``flux``
        column, then a magnitude column when absent); column 1 without a header.
        ``"sap_flux"`` or any other column name chooses that column.
    flux_err_column:
        Flux-error column, a name or 0-based position. Default
        ``<flux column>_err`` (also ``magerr``, ``e_mag`` ... for magnitudes);
        column 2, when there is one, without a header.
    flux_unit:
        ``None``: magnitudes when the flux column's name says so, else as stored.
        ``"mag"`` (or ``astropy.units.mag``): the column holds magnitudes, converted
        to relative flux. ``"flux"``: as stored, never converted. ``"relative"``
        or an astropy unit (``"electron/s"``, ``u.Jy``): as stored, the unit
        recorded in ``meta["flux_unit"]``.
    time_format:
        What the times are (``"btjd"``, ``"bjd"``, ``"mjd"`` ...), recorded in
        ``meta["time_format"]``; default from the file (FITS headers) or the time
        column's name (``BJD`` -> ``"bjd"`` with ``meta["time_scale"] = "tdb"``,
        ``HJD`` -> ``"hjd"``, ``MJD`` -> ``"mjd"``).
    quality_bitmask:
        Cadences whose quality flags intersect the bitmask are REMOVED:
        ``"none"``, ``"default"`` (lightkurve's default: the cadences that are
        certainly bad), ``"hard"``, ``"hardest"`` or an int. Named masks are the
        mission's (:data:`qusi_lab.io.QUALITY_BITMASKS`, equal to lightkurve's).
    format:
        ``"fits"``, ``"csv"`` (also ``"txt"``: comma- or whitespace-separated text)
        or ``"npz"``; default: from the suffix, else from the file's first bytes
        (``.txt``, ``.dat``, ``.tsv`` files that are not FITS or NPZ are read as text
        tables).

    Returns
    -------
    LightCurve
        Times in the mission's system (BTJD/BKJD), fluxes as stored (not
        normalised; NaN and infinite fluxes kept, cadences with NaN or
        infinite times removed) or converted from magnitudes, and ``meta`` with
        ``target_id``, ``mission``, ``sector``/``quarter``/``campaign``, ``cadence``
        (days), ``path``, ``flux_column``, ``time_format``, ``magnitude``, ``ra``,
        ``dec``, ``author`` and ``quality_bitmask`` where known.

    Raises
    ------
    LightCurveReadError
        The file is missing, not a regular file (a directory, named pipe, socket
        or device: refused without opening it), empty, truncated, not a
        light-curve file, lacks the (chosen) time or flux column (the message
        lists the columns it has), or holds malformed values (e.g.
        a FITS size keyword that is not a non-negative integer, or declares more
        data than the file holds); the message starts with the file's path.
    LightCurveError
        The content is unusable: no cadences, no finite flux (all NaN or
        infinite), every cadence flagged, times not increasing.
    ValueError
        An unknown ``quality_bitmask``, ``format`` or ``flux_unit``, or a column
        choice that is neither a name nor a position.

    Notes
    -----
    A non-finite flux (NaN, ``inf``, or a CSV value such as ``1e400`` that
    overflows to ``inf``) is a missing measurement throughout qusi_lab: the
    light curve keeps it, and preprocessing drops it before scoring
    (:class:`~qusi_lab.transforms.RemoveNonFinite`, which also refuses curves
    with fewer than 10 finite cadences or a constant flux).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from qusi_lab.io import write_spoc_fits
    >>> lc = LightCurve(1325 + np.arange(4) / 720, [100.0, 101.0, 99.0, 100.0], target_id="TIC 42", sector=1)
    >>> path = write_spoc_fits(lc, tempfile.mkdtemp() + "/star_lc.fits", quality=[0, 0, 32, 0])
    >>> lc = read_light_curve(path)
    >>> len(lc), lc.meta["target_id"], lc.meta["sector"], lc.meta["time_format"]
    (3, 'TIC 42', 1, 'btjd')

    A file of magnitudes (``BJD,mag,mag_err``) reads as relative flux:

    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "star.csv").write_text("BJD,mag,mag_err\\n2459000.1,12.0,0.01\\n2459000.2,12.5,0.01\\n"
    ...                                      "2459000.3,11.5,0.01\\n")
    >>> lc = read_light_curve(folder / "star.csv")
    >>> np.round(lc.flux, 3).tolist(), lc.meta["reference_magnitude"], lc.meta["time_format"]
    ([1.0, 0.631, 1.585], 12.0, 'bjd')

    A file without a header, columns chosen by position:

    >>> _ = (folder / "star.txt").write_text("1325.0 7.0 1000.0\\n1325.1 7.0 1001.0\\n")
    >>> read_light_curve(folder / "star.txt", flux_column=2).flux.tolist()
    [1000.0, 1001.0]
    """
    check_quality_bitmask(quality_bitmask)
    for role, choice in (("time", time_column), ("flux", flux_column), ("flux_err", flux_err_column)):
        if choice is not None and (
            isinstance(choice, bool) or not isinstance(choice, (str, int, np.integer)) or choice == ""
            or (not isinstance(choice, str) and choice < 0)
        ):
            raise ValueError(f"{role}_column must be a column name or a 0-based position (>= 0), got {choice!r}")
    unit_kind, unit_name = ("auto", None) if flux_unit is None else flux_unit_kind(flux_unit)
    path = path if isinstance(path, Path) else Path(path)
    size = regular_file_size(path)  # before any open: a named pipe would block the reader forever
    if size == 0:
        raise LightCurveReadError("the file is empty (0 bytes)", path)
    if format is None:
        file_format = detect_format(path)
    else:
        file_format = format.lower()
        file_format = "csv" if file_format in ("txt", "text", "tsv", "dat", "ascii") else file_format  # text tables
        if file_format not in FORMATS:
            raise ValueError(f"unknown format {format!r}; choose one of {FORMATS}")
    reader = {"fits": read_fits_light_curve, "csv": read_csv_light_curve, "npz": read_npz_light_curve}
    columns: dict[str, Any] = {"time_column": time_column, "flux_err_column": flux_err_column}
    try:
        lc = reader[file_format](
            path, flux_column=DEFAULT_FLUX_COLUMN if flux_column is None else flux_column,
            quality_bitmask=quality_bitmask, **columns,
        )
    except LightCurveError:
        raise
    except OSError as error:
        raise LightCurveReadError(f"cannot read the file ({error.strerror or error})", path) from None
    except MemoryError:
        raise LightCurveReadError(
            f"the {file_format.upper()} file declares more data than fits in memory (a corrupt size field?)", path
        ) from None
    except Exception as error:  # noqa: BLE001 - last resort: whatever a malformed file provokes names the file
        raise LightCurveReadError(
            f"cannot read the file as {file_format.upper()} ({type(error).__name__}: {error}); the file is "
            "malformed in a way the reader does not describe yet: please report it",
            path,
        ) from error
    # Auto: the flux column's name says magnitudes, and the file does not say it holds converted flux already
    # (a converted curve written with write_csv/write_npz keeps flux_column="mag" in its metadata).
    auto = unit_kind == "auto" and "flux_converted_from" not in lc.meta
    if unit_kind == "mag" or (auto and is_magnitude_name(str(lc.meta.get("flux_column", "")))):
        lc = _from_magnitudes(lc, path)
    elif unit_name is not None:
        lc.meta["flux_unit"] = unit_name
    if time_format is not None:
        lc.meta["time_format"] = str(time_format)
    return lc.validate()


# It validates what it returns and puts the path in the meta: a dataset need not check its curves again
# (LightCurveDataset.light_curve).
read_light_curve._returns_validated = True  # type: ignore[attr-defined]


def _from_magnitudes(lc: LightCurve, path: Path) -> LightCurve:
    """``lc`` with its magnitudes turned into relative flux (see :func:`read_light_curve`)."""
    if not np.isfinite(lc.flux).any():
        column = lc.meta.get("flux_column", "flux")
        raise LightCurveError(f"no finite magnitude in column {column!r} (all NaN or infinite)", path)
    flux, flux_err, reference = magnitudes_to_relative_flux(lc.flux, lc.flux_err)
    meta = {**lc.meta, "flux_unit": "relative", "flux_converted_from": "mag", "reference_magnitude": reference}
    return LightCurve(lc.time, flux, flux_err, meta, validate=False)


def light_curve_reader(**options: Any) -> LightCurveReader:
    """``read_light_curve`` with options fixed, for datasets and anything else that takes ``load=``.

    The result is picklable (DataLoader workers) and named in problem tables.

    Example
    -------
    >>> load = light_curve_reader(time_column="BJD", flux_unit="mag")
    >>> load
    light_curve_reader(time_column='BJD', flux_unit='mag')
    >>> # LightCurveDataset.from_directory("my_stars", load=load)
    """
    return LightCurveReader(options)


class LightCurveReader:
    """``read_light_curve(path, **options)`` as a picklable callable (see :func:`light_curve_reader`)."""

    __slots__ = ("options",)

    def __init__(self, options: dict[str, Any]) -> None:
        import inspect

        known = set(inspect.signature(read_light_curve).parameters) - {"path"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"read_light_curve has no option {', '.join(unknown)}; its options are {sorted(known)}")
        if "flux_unit" in options and options["flux_unit"] is not None:
            flux_unit_kind(options["flux_unit"])  # an unknown unit fails now, not in every worker
        self.options = dict(options)

    @property
    def __name__(self) -> str:  # how datasets name their loader in messages
        return "read_light_curve"

    def __call__(self, path: str | os.PathLike[str]) -> LightCurve:
        return read_light_curve(path, **self.options)

    def __repr__(self) -> str:
        return f"light_curve_reader({', '.join(f'{key}={value!r}' for key, value in self.options.items())})"

    def __eq__(self, other: object) -> bool:
        return self.options == other.options if isinstance(other, LightCurveReader) else NotImplemented

    def __hash__(self) -> int:
        return hash(repr(self))

    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]:
        return (LightCurveReader, (self.options,))
