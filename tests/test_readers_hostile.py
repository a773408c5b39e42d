"""Hostile input for ``read_light_curve``: it returns the light curve the file holds or raises a
:class:`LightCurveReadError`/:class:`LightCurveError` whose message starts with the path and says
what is wrong. Never another exception type, never a hang, never misleading words.

Two parts: a table of specific broken files with the expected wording, and hypothesis properties
(truncation, byte flips, bytes appended or prepended, random header values) over a valid FITS,
CSV and NPZ file. The properties are derandomized (the same examples every run) so CI cannot flake.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io import read_light_curve, write_spoc_fits
from qusi_lab.io._fitsfile import OpenedFits, format_card, iter_hdus

ROWS = 40
TIME = 1325.0 + np.arange(ROWS) * 2.0 / 1440.0
FLUX = 1000.0 + np.sin(np.arange(ROWS) / 3.0)


def _spoc(path: Path) -> Path:
    return write_spoc_fits(path, TIME, FLUX, flux_err=np.full(ROWS, 0.5), tic_id=7, sector=1,
                           extra_header={"DATE": "2024-01-01"})


def _set_card(content: bytes, hdu_index: int, keyword: str, raw_value: str) -> bytes:
    """``content`` with the value field of ``keyword`` in HDU ``hdu_index``'s header replaced by ``raw_value``."""
    start = _header_start(content, hdu_index)
    position = start
    while True:
        card = content[position : position + 80]
        if card[:8].decode("latin-1").rstrip() == keyword:
            new = f"{keyword:<8}= {raw_value:>20}".ljust(80).encode("latin-1")
            return content[:position] + new + content[position + 80 :]
        if card[:8] == b"END     ":
            raise KeyError(keyword)
        position += 80


def _header_start(content: bytes, hdu_index: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.fits"
        path.write_bytes(content)
        with OpenedFits(path) as opened:
            starts = [0]
            for hdu in iter_hdus(opened.stream, path, opened.size):
                starts.append(hdu.data_offset + -(-hdu.data_size // 2880) * 2880)
    return starts[hdu_index]


# =========================================================================== the table of specific cases
def _fits_with(keyword: str, raw_value: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        _spoc(path)
        path.write_bytes(_set_card(path.read_bytes(), 1, keyword, raw_value))

    return make


def _cut_fits(size: int) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        _spoc(path)
        path.write_bytes(path.read_bytes()[:size])

    return make


def _cut_in_table(path: Path) -> None:
    _spoc(path)
    content = path.read_bytes()
    path.write_bytes(content[: _header_start(content, 2) - 5760 + 2000])  # the 4,000-byte table fills 2 blocks


def _text(content: str) -> Callable[[Path], None]:
    def make(path: Path) -> None:
        path.write_text(content)

    return make


def _with_card(path: Path, card: str) -> None:
    _spoc(path)
    path.write_bytes(_insert_card(path.read_bytes(), 1, card))


def _fifo(path: Path) -> None:
    os.mkfifo(path)


# name, maker, exception type, fragments that must all appear in the message (after "<path>: ").
CASES: list[tuple[str, Callable[[Path], None], type[Exception], tuple[str, ...]]] = [
    ("empty.csv", _text(""), LightCurveReadError, ("the file is empty (0 bytes)",)),
    ("naxis2_negative.fits", _fits_with("NAXIS2", "-5"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has NAXIS2 = -5", "not a valid number of table rows", "whole number >= 0")),
    ("naxis2_text.fits", _fits_with("NAXIS2", "'abc'"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has NAXIS2 = 'abc'", "not a valid number of table rows")),
    ("naxis2_fraction.fits", _fits_with("NAXIS2", "1.5"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has NAXIS2 = 1.5", "not a valid number of table rows")),
    ("naxis2_huge.fits", _fits_with("NAXIS2", "99999999999"), LightCurveReadError,
     ("the LIGHTCURVE table needs 9999999999900 bytes (99999999999 rows)", "NAXIS2 = 99999999999 rows",
      "corrupt NAXIS2")),
    ("naxis1_negative.fits", _fits_with("NAXIS1", "-3"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has NAXIS1 = -3", "not a valid number of bytes per table row")),
    ("tfields_text.fits", _fits_with("TFIELDS", "'x'"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has TFIELDS = 'x'", "not a valid number of table columns")),
    ("tfields_huge.fits", _fits_with("TFIELDS", "99999999"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has TFIELDS = 99999999", "from 0 to 999")),
    ("bitpix_wrong.fits", _fits_with("BITPIX", "7"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has BITPIX = 7", "8, 16, 32, 64, -32 or -64")),
    ("pcount_negative.fits", _fits_with("PCOUNT", "-1"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has PCOUNT = -1", "heap size")),
    ("tscal_text.fits", lambda path: _with_card(path, format_card("TSCAL2", "abc")), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has TSCAL2 = 'abc'", "not a finite number")),
    ("cut_in_primary_header_padding.fits", _cut_fits(4000), LightCurveReadError,
     ("truncated FITS file: the header of HDU 0 is cut short", "the file ends at byte 4000",
      "inside the PRIMARY header", "before the light-curve table could be read")),
    ("cut_in_primary_header.fits", _cut_fits(2000), LightCurveReadError,
     ("truncated FITS file: the header of HDU 0 has no END card", "the file ends at byte 2000")),
    ("cut_in_table_header.fits", _cut_fits(6000), LightCurveReadError,
     ("truncated FITS file: the header of HDU 1 has no END card", "the file ends at byte 6000")),
    ("cut_in_table.fits", _cut_in_table, LightCurveReadError,
     ("truncated FITS file: the LIGHTCURVE table needs 4000 bytes (40 rows) but the file holds only 2000",
      "inside the table (HDU 1 (LIGHTCURVE), NAXIS2 = 40 rows of NAXIS1 = 100 bytes")),
    ("words.csv", _text("time,flux\n1.0,abc\n2.0,5.0\n"), LightCurveReadError,
     ("column 'flux' has a non-numeric value 'abc' on line 2",)),
    ("pipe.csv", _fifo, LightCurveReadError, ("is a named pipe (FIFO), not a regular file",)),
]


@pytest.mark.parametrize(("name", "make", "error", "fragments"), CASES, ids=[case[0] for case in CASES])
def test_specific_bad_files_are_named_and_described(
    tmp_path: Path, name: str, make: Callable[[Path], None], error: type[Exception], fragments: tuple[str, ...]
) -> None:
    path = tmp_path / name
    make(path)
    with pytest.raises(error) as caught:
        read_light_curve(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert "please report it" not in message  # the catch-all of read_light_curve is for the unforeseen only


def _insert_card(content: bytes, hdu_index: int, card: str) -> bytes:
    """``content`` with ``card`` inserted just before the END card of HDU ``hdu_index`` (room permitting)."""
    start = _header_start(content, hdu_index)
    end = content.index(b"END     ", start)
    assert content[end + 80 : end + 160].strip() == b"", "no room for one more card"
    return content[:end] + card.encode("ascii") + content[end : end + 80] + content[end + 160 :]


def test_overflowing_csv_value_reads_as_infinity_like_inf(tmp_path: Path) -> None:
    """``1e400`` is a number (too large for a float), read as inf exactly like the text ``inf``: not "non-numeric"."""
    overflow, infinite = tmp_path / "overflow.csv", tmp_path / "inf.csv"
    overflow.write_text("time,flux\n1.0,1e400\n2.0,-1e400\n3.0,6.0\n")
    infinite.write_text("time,flux\n1.0,inf\n2.0,-inf\n3.0,6.0\n")
    assert read_light_curve(overflow).flux.tolist() == read_light_curve(infinite).flux.tolist() == [
        np.inf, -np.inf, 6.0]


def test_all_infinite_flux_is_called_not_finite(tmp_path: Path) -> None:
    path = tmp_path / "inf.csv"
    path.write_text("time,flux\n1.0,1e400\n2.0,inf\n")
    with pytest.raises(LightCurveError, match="finite flux .all NaN or infinite"):
        read_light_curve(path)


@pytest.mark.parametrize("kind", ["directory", "fifo", "socket", "device"])
def test_non_regular_files_are_refused_without_opening(tmp_path: Path, kind: str) -> None:
    """A named pipe would block ``open`` forever: the reader must stat, not open (this test would hang)."""
    path = tmp_path / "star.fits"
    if kind == "directory":
        path.mkdir()
        words = "is a directory"
    elif kind == "fifo":
        os.mkfifo(path)
        words = "is a named pipe (FIFO), not a regular file"
    elif kind == "socket":
        if len(str(path)) > 100:
            pytest.skip("socket paths are limited to ~107 bytes")
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
        words = "is a socket, not a regular file"
    else:
        path = Path("/dev/null")
        words = "is a character device, not a regular file"
    try:
        for reader_format in (None, "fits", "csv", "npz"):
            with pytest.raises(LightCurveReadError, match=re.escape(words)) as caught:
                read_light_curve(path, format=reader_format)
            assert str(caught.value).startswith(f"{path}: ")
    finally:
        if kind == "socket":
            server.close()


def test_readers_called_directly_refuse_a_fifo(tmp_path: Path) -> None:
    from qusi_lab.io import detect_format, read_csv_light_curve, read_fits_light_curve, read_npz_light_curve

    path = tmp_path / "pipe"
    os.mkfifo(path)
    for reader in (read_csv_light_curve, read_fits_light_curve, read_npz_light_curve, detect_format):
        with pytest.raises(LightCurveReadError, match="named pipe"):
            reader(path)
