"""Regenerate the corpus of broken light-curve files in ``tests/data/bad/`` and its README.

Command (from the repository root)::

    .venv/bin/python tests/data/make_bad_files.py            # writes tests/data/bad/
    .venv/bin/python tests/data/make_bad_files.py OUT_DIR    # writes elsewhere

The output is deterministic (fixed dates and values), so ``tests/test_io.py``
checks that the committed files are what this script writes. Every file is
small (< 100 KB). :data:`BAD_FILES` lists each file, the error reading it must
raise and a fragment of that error's message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from qusi_lab.io import write_spoc_fits
from qusi_lab.io._fitsfile import (
    OpenedFits,
    TableColumn,
    bintable_hdu,
    image_hdu,
    iter_hdus,
    primary_hdu,
    write_file,
)
from qusi_lab.lightcurve import LightCurve

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "bad"
ROWS = 200  # ~20 KB of table per FITS file
FIXED_HEADER = {"DATE": "2024-01-01"}  # keeps the output byte-for-byte reproducible


def _time() -> np.ndarray:
    return 1325.0 + np.arange(ROWS) * 2.0 / 1440.0


def _flux() -> np.ndarray:
    return 1000.0 + np.sin(np.arange(ROWS) / 7.0)


def _spoc(path: Path, time: np.ndarray | None = None, flux: np.ndarray | None = None) -> Path:
    return write_spoc_fits(
        LightCurve(_time() if time is None else time, _flux() if flux is None else flux, validate=False), path,
        flux_err=np.full(ROWS if time is None else len(time), 0.5), tic_id=261136679, sector=1,
        tess_mag=5.1, extra_header=FIXED_HEADER,
    )


def _data_offset(path: Path, index: int) -> int:
    """Where the data of HDU ``index`` start (the end of its header)."""
    with OpenedFits(path) as opened:
        return next(hdu.data_offset for hdu in iter_hdus(opened.stream, path, opened.size) if hdu.index == index)


def make_truncated(path: Path) -> None:
    """A valid SPOC file cut half-way through its table data (an interrupted download)."""
    _spoc(path)
    content = path.read_bytes()
    path.write_bytes(content[: _data_offset(path, 1) + ROWS * 100 // 2])


def make_truncated_header(path: Path) -> None:
    """A valid SPOC file cut inside the LIGHTCURVE header."""
    _spoc(path)
    content = path.read_bytes()
    path.write_bytes(content[: _data_offset(path, 0) + 1000])


def make_no_flux_column(path: Path) -> None:
    """A TESS-like table with TIME, SAP_FLUX and QUALITY but no PDCSAP_FLUX (or FLUX) column."""
    columns = [
        TableColumn("TIME", "D", _time(), "BJD - 2457000, days"),
        TableColumn("SAP_FLUX", "E", _flux(), "e-/s"),
        TableColumn("QUALITY", "J", np.zeros(ROWS, dtype=np.int32)),
    ]
    primary = [("TELESCOP", "TESS", "telescope"), ("TICID", 261136679, "TIC id"), ("DATE", "2024-01-01", "")]
    table = [("EXTNAME", "LIGHTCURVE", "name of extension"), ("BJDREFI", 2457000, "")]
    write_file([primary_hdu(primary, 1), bintable_hdu(columns, ROWS, table)], path)


def make_no_table(path: Path) -> None:
    """A FITS file with only image HDUs (like a mis-filed aperture or FFI cut-out)."""
    primary = [("TELESCOP", "TESS", "telescope"), ("DATE", "2024-01-01", "")]
    write_file([primary_hdu(primary, 1), image_hdu(np.ones((11, 11)), [("EXTNAME", "APERTURE", "")])], path)


def make_all_nan(path: Path) -> None:
    """A SPOC file whose PDCSAP fluxes are all NaN."""
    _spoc(path, flux=np.full(ROWS, np.nan))


def make_times_not_increasing(path: Path) -> None:
    """A SPOC file whose times jump backwards half-way (two orbits concatenated in the wrong order)."""
    time = _time()
    half = ROWS // 2
    _spoc(path, time=np.concatenate([time[half:], time[:half]]))


def make_zero_length(path: Path) -> None:
    """A valid SPOC file whose LIGHTCURVE table has 0 rows."""
    write_spoc_fits(LightCurve(np.array([]), np.array([]), validate=False), path, tic_id=261136679, sector=1, extra_header=FIXED_HEADER)


def make_empty(path: Path) -> None:
    """A 0-byte file (a failed download)."""
    path.write_bytes(b"")


def make_mismatched_lengths(path: Path) -> None:
    """An NPZ whose flux array is shorter than its time array."""
    with open(path, "wb") as handle:
        np.savez(handle, time=_time(), flux=_flux()[:-10])


def make_missing_flux_column(path: Path) -> None:
    """A CSV with time and background columns but no flux (nor magnitude) column."""
    rows = "\n".join(f"{t:.6f},{10 + 0.01 * np.sin(t):.5f}" for t in _time()[:50])
    path.write_text(f"time,background\n{rows}\n")


def make_non_numeric(path: Path) -> None:
    """A CSV with a text value in the flux column."""
    lines = [f"{t:.6f},{f:.4f}" for t, f in zip(_time()[:50], _flux()[:50], strict=True)]
    lines[20] = f"{_time()[20]:.6f},n/a-saturated"
    path.write_text("time,flux\n" + "\n".join(lines) + "\n")


def make_mismatched_rows(path: Path) -> None:
    """A CSV where one row has fewer fields than the header."""
    lines = [f"{t:.6f},{f:.4f},0.5" for t, f in zip(_time()[:50], _flux()[:50], strict=True)]
    lines[30] = f"{_time()[30]:.6f},{_flux()[30]:.4f}"
    path.write_text("time,flux,flux_err\n" + "\n".join(lines) + "\n")


def make_not_fits(path: Path) -> None:
    """An HTML error page saved under a .fits name (what a failed archive request often leaves)."""
    path.write_text("<html><body><h1>503 Service Unavailable</h1></body></html>\n")


def make_unknown_format(path: Path) -> None:
    """A text file with a suffix no reader claims."""
    path.write_text("1325.0 1000.0\n1325.1 1001.0\n")


#: (file name, maker, expected error class name, fragment of the error message)
BAD_FILES: list[tuple[str, Callable[[Path], None], str, str]] = [
    ("truncated.fits", make_truncated, "LightCurveReadError",
     "truncated FITS file: the LIGHTCURVE table needs 20000 bytes (200 rows) but the file holds only 10000"),
    ("truncated_header.fits", make_truncated_header, "LightCurveReadError",
     "truncated FITS file: the header of HDU 1 has no END card"),
    ("no_flux_column.fits", make_no_flux_column, "LightCurveReadError",
     "no flux column 'PDCSAP_FLUX' in the light-curve table; its columns are: TIME, SAP_FLUX, QUALITY"),
    ("no_table.fits", make_no_table, "LightCurveReadError", "no LIGHTCURVE binary-table extension"),
    ("all_nan.fits", make_all_nan, "LightCurveError", "all fluxes in column PDCSAP_FLUX are NaN"),
    ("times_not_increasing.fits", make_times_not_increasing, "LightCurveError", "times do not increase"),
    ("zero_length.fits", make_zero_length, "LightCurveError", "has no rows (zero cadences)"),
    ("empty.fits", make_empty, "LightCurveReadError", "the file is empty (0 bytes)"),
    ("mismatched_lengths.npz", make_mismatched_lengths, "LightCurveReadError",
     "mismatched array lengths: 'time' has 200 values but 'flux' has 190"),
    ("missing_flux_column.csv", make_missing_flux_column, "LightCurveReadError",
     "no flux column (looked for pdcsap_flux, flux, kspsap_flux, det_flux, sap_flux, relative_flux, "
     "normalized_flux and magnitudes: mag, magnitude, mags, magnitudes, *_mag) (name it with flux_column=, a column "
     "name or 0-based position); the columns are: time, background"),
    ("non_numeric.csv", make_non_numeric, "LightCurveReadError",
     "column 'flux' has a non-numeric value 'n/a-saturated' on line 22"),
    ("mismatched_rows.csv", make_mismatched_rows, "LightCurveReadError",
     "mismatched column lengths: line 32 has 2 fields but the header has 3"),
    ("not_fits.fits", make_not_fits, "LightCurveReadError", "not a FITS file"),
    ("unknown_format.xyz", make_unknown_format, "LightCurveReadError", "unknown light-curve format"),
]


def write_readme(directory: Path) -> None:
    lines = [
        "# Broken light-curve files",
        "",
        "Generated by `tests/data/make_bad_files.py` (do not edit by hand; run",
        "`.venv/bin/python tests/data/make_bad_files.py`). `tests/test_io.py` reads each with",
        "`qusi_lab.io.read_light_curve` and checks the error class and that the message names the file",
        "and contains the fragment below. Both error classes live in `qusi_lab.errors`;",
        "`LightCurveReadError` (the file cannot be read as a light curve) is a subclass of",
        "`LightCurveError` (the light curve's content is unusable).",
        "",
        "| file | what is wrong | error | message contains |",
        "|---|---|---|---|",
    ]
    for name, maker, error, fragment in BAD_FILES:
        what = " ".join((maker.__doc__ or "").split())
        lines.append(f"| `{name}` | {what} | `{error}` | {fragment.replace('|', '/')} |")
    (directory / "README.md").write_text("\n".join(lines) + "\n")


def main(output: Path = DEFAULT_OUTPUT) -> None:
    output.mkdir(parents=True, exist_ok=True)
    for name, maker, _, _ in BAD_FILES:
        maker(output / name)
    write_readme(output)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT)
    print(f"wrote {len(BAD_FILES)} files and README.md to {sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT}")
