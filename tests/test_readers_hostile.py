"""Hostile input for ``read_light_curve``: it returns the light curve the file holds or raises a
:class:`LightCurveReadError`/:class:`LightCurveError` whose message starts with the path and says
what is wrong. Never another exception type, never a hang, never misleading words.

Two parts: a table of specific broken files with the expected wording, and hypothesis properties
(truncation, byte flips, bytes appended or prepended, random header values) over a valid FITS,
CSV and NPZ file. The properties are derandomized (the same examples every run) so CI cannot flake.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io import read_light_curve, write_csv, write_npz, write_spoc_fits
from qusi_lab.io._fitsfile import HDUInfo, OpenedFits, format_card, iter_hdus
from qusi_lab.io.fits import _write_qlp_fits
from qusi_lab.lightcurve import LightCurve

ROWS = 40
TIME = 1325.0 + np.arange(ROWS) * 2.0 / 1440.0
FLUX = 1000.0 + np.sin(np.arange(ROWS) / 3.0)


def _spoc(path: Path) -> Path:
    return write_spoc_fits(LightCurve(TIME, FLUX, validate=False), path, flux_err=np.full(ROWS, 0.5), tic_id=7, sector=1,
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


def _table_hdu(content: bytes) -> HDUInfo:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.fits"
        path.write_bytes(content)
        with OpenedFits(path) as opened:
            return next(hdu for hdu in iter_hdus(opened.stream, path, opened.size) if hdu.index == 1)


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
    ("naxis2_smaller.fits", _fits_with("NAXIS2", "10"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) is corrupt: its size keywords (BITPIX = 8, NAXIS1 = 100, NAXIS2 = 10) end its data at "
      "byte 20160, but no HDU starts there", "a size keyword is wrong")),
    ("naxis1_negative.fits", _fits_with("NAXIS1", "-3"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has NAXIS1 = -3", "not a valid number of bytes per table row")),
    ("tfields_text.fits", _fits_with("TFIELDS", "'x'"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has TFIELDS = 'x'", "not a valid number of table columns")),
    ("tfields_huge.fits", _fits_with("TFIELDS", "99999999"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has TFIELDS = 99999999", "from 0 to 999")),
    ("bitpix_wrong.fits", _fits_with("BITPIX", "7"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has BITPIX = 7", "8, 16, 32, 64, -32 or -64")),
    ("bitpix_float.fits", _fits_with("BITPIX", "8.0"), LightCurveReadError, ("HDU 1 (LIGHTCURVE) has BITPIX = 8.0",)),
    ("pcount_negative.fits", _fits_with("PCOUNT", "-1"), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has PCOUNT = -1", "heap size")),
    ("tscal_text.fits", lambda path: _with_card(path, format_card("TSCAL2", "abc")), LightCurveReadError,
     ("HDU 1 (LIGHTCURVE) has TSCAL2 = 'abc'", "not a finite number")),
    ("float_quality.fits", _fits_with("TFORM10", "'E'"), LightCurveReadError,
     ("column QUALITY does not hold whole numbers (TFORM E); quality flags must be integers",)),
    ("cut_in_primary_header_padding.fits", _cut_fits(4000), LightCurveReadError,
     ("truncated FITS file: the header of HDU 0 is cut short", "the file ends at byte 4000",
      "inside the PRIMARY header", "before the light-curve table could be read")),
    ("cut_in_primary_header.fits", _cut_fits(2000), LightCurveReadError,
     ("truncated FITS file: the header of HDU 0 has no END card", "the file ends at byte 2000")),
    ("cut_in_table_header.fits", _cut_fits(6000), LightCurveReadError,
     ("truncated FITS file: the header of HDU 1 has no END card", "the file ends at byte 6000")),
    ("cut_after_primary.fits", _cut_fits(5760), LightCurveReadError,
     ("no LIGHTCURVE binary-table extension: truncated FITS file, it ends at byte 5760 after 1 HDU(s) "
      "(PRIMARY (primary)) but its primary header announces NEXTEND = 2 extensions",)),
    ("cut_in_table.fits", _cut_in_table, LightCurveReadError,
     ("truncated FITS file: the LIGHTCURVE table needs 4000 bytes (40 rows) but the file holds only 2000",
      "inside the table (HDU 1 (LIGHTCURVE), NAXIS2 = 40 rows of NAXIS1 = 100 bytes")),
    ("words.csv", _text("time,flux\n1.0,abc\n2.0,5.0\n"), LightCurveReadError,
     ("column 'flux' has a non-numeric value 'abc' on line 2",)),
    ("nul.csv", _text("time,flux\n1.0,2.0\n2.0,3\x005\n"), LightCurveReadError,
     ("the CSV file holds a NUL byte (line 3): it is binary or corrupt",)),
    ("huge_time.csv", _text("time,flux\n" + "1" * 400 + ",2.0\n"), LightCurveError,
     ("no cadence left: of 1 row(s), 1 have a NaN or infinite time",)),
    ("flagged.csv", _text("time,flux,quality\n1.0,2.0,1\n2.0,3.0,32\n"), LightCurveError,
     ("no cadence left: of 2 row(s), 2 have a quality flag in the bitmask",)),
    ("fraction_quality.csv", _text("time,flux,quality\n1.0,2.0,0\n2.0,3.0,0.5\n"), LightCurveReadError,
     ("the quality column 'quality' holds 0.5 (row 2): quality flags are whole numbers",)),
    ("semicolons.csv", _text("time;flux\n1.0;2.0\n"), LightCurveReadError,
     ("the table's values are separated by semicolons, not commas",)),
    ("quality_2d.npz", lambda path: np.savez(path, time=TIME, flux=FLUX, quality=np.zeros((ROWS, 1))),
     LightCurveReadError, ("array 'quality' must be 1-D, but has shape (40, 1)",)),
    ("quality_text.npz", lambda path: np.savez(path, time=TIME, flux=FLUX, quality=np.array(["a"] * ROWS)),
     LightCurveReadError, ("array 'quality' is not numeric",)),
    ("quality_huge.npz", lambda path: np.savez(path, time=TIME, flux=FLUX, quality=np.full(ROWS, 1e300)),
     LightCurveReadError, ("the quality column 'quality' holds 1e+300 (row 1)",)),
    ("corrupt_gzip_without_suffix", lambda path: path.write_bytes(
        gzip.compress(b"SIMPLE  =" + b" " * 100)[:10] + b"\xff" * 40), LightCurveReadError,
     ("unknown light-curve format",)),
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
    # 1e3888888889: an exponent beyond 2**31, which crashes pandas.to_numeric (pandas 2.3) with a segfault.
    overflow.write_text("time,flux\n1.0,1e400\n2.0,-1e3888888889\n3.0,6.0\n")
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


def test_csv_reader_called_directly_on_an_empty_or_blank_file_says_so(tmp_path: Path) -> None:
    from qusi_lab.io import read_csv_light_curve

    for content, words in (("", "the CSV file is empty (0 bytes)"), ("\n  \n", "the CSV file holds only blank lines"),
                           ("# sector: 1\n", "no header row or data (only comments)")):
        path = tmp_path / "star.csv"
        path.write_text(content)
        with pytest.raises(LightCurveReadError, match=re.escape(words)):
            read_csv_light_curve(path)


def test_readers_called_directly_refuse_a_fifo(tmp_path: Path) -> None:
    from qusi_lab.io import detect_format, read_csv_light_curve, read_fits_light_curve, read_npz_light_curve

    path = tmp_path / "pipe"
    os.mkfifo(path)
    for reader in (read_csv_light_curve, read_fits_light_curve, read_npz_light_curve, detect_format):
        with pytest.raises(LightCurveReadError, match="named pipe"):
            reader(path)


# =========================================================================== hypothesis properties
# Every property runs the same examples on every run (derandomize), with no deadline (CI machines vary).
# To hunt for new defects, run with e.g. QUSI_HOSTILE_EXAMPLES=5000: more examples, drawn at random.
_HUNT = int(os.environ.get("QUSI_HOSTILE_EXAMPLES", "0"))
PROPERTY = settings(max_examples=_HUNT or 200, deadline=None, derandomize=not _HUNT, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
HANG_SECONDS = 10


class _Originals(dict):  # type: ignore[type-arg]
    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example: not 30 KB of bytes
        return "originals"


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[bytes, LightCurve]]:
    """Valid files written by the project's writers, their bytes and the light curve each reads as."""
    folder = tmp_path_factory.mktemp("originals")
    quality = np.zeros(ROWS, dtype=np.int32)
    fits = write_spoc_fits(LightCurve(TIME, FLUX, validate=False), folder / "star.fits", flux_err=np.full(ROWS, 0.5), quality=quality,
                           tic_id=7, sector=1, extra_header={"DATE": "2024-01-01"})
    memory = LightCurve(TIME, FLUX, np.full(ROWS, 0.5), mission="TESS", sector=1, target_id="TIC 7")
    csv = write_csv(memory, folder / "star.csv")
    npz = write_npz(memory, folder / "star.npz")
    compressed = folder / "star.fits.gz"
    compressed.write_bytes(gzip.compress(fits.read_bytes(), mtime=0))
    # QLP: the light-curve table is the last HDU (nothing after it to check its size against).
    qlp = _write_qlp_fits(LightCurve(TIME, FLUX, np.full(ROWS, 0.5)), folder / "star_qlp.fits", sap_flux=FLUX,
                          tic_id=7, sector=20)
    files = {".fits": fits, ".csv": csv, ".npz": npz, ".fits.gz": compressed, "_qlp.fits": qlp}
    return _Originals({key: (path.read_bytes(), read_light_curve(path)) for key, path in files.items()})


def _alarm(signum: int, frame: object) -> None:
    raise TimeoutError(f"read_light_curve took more than {HANG_SECONDS} s: it hangs")


def _read(path: Path) -> LightCurve | None:
    """The light curve read, or None after a proper error (type and message checked); anything else fails."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        lc = read_light_curve(path)
    except LightCurveError as error:  # LightCurveReadError is one too
        message = str(error)
        assert message.startswith(f"{path}: "), message
        assert "please report it" not in message, message  # the reader's catch-all: a defect to fix
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert lc.time.dtype == lc.flux.dtype == np.float64 and lc.time.shape == lc.flux.shape
    assert lc.flux_err is None or lc.flux_err.shape == lc.flux.shape
    return lc


def _same(lc: LightCurve, original: LightCurve) -> bool:
    def equal(a: np.ndarray | None, b: np.ndarray | None) -> bool:
        return (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b, equal_nan=True))

    def meta(curve: LightCurve) -> dict:
        return {key: value for key, value in curve.meta.items() if key != "path"}

    return (equal(lc.time, original.time) and equal(lc.flux, original.flux)
            and equal(lc.flux_err, original.flux_err) and meta(lc) == meta(original))


def _write(folder: Path, suffix: str, content: bytes) -> Path:
    path = folder / f"mutant{suffix}"
    path.write_bytes(content)
    return path


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mutants")


SUFFIXES = [".fits", ".csv", ".npz", ".fits.gz", "_qlp.fits"]


@pytest.mark.parametrize("suffix", SUFFIXES)
@PROPERTY
@given(data=st.data())
def test_truncated_files_read_whole_or_raise_naming_the_file(originals, scratch, suffix: str, data) -> None:
    content, original = originals[suffix]
    cut = data.draw(st.integers(0, len(content) - 1), label="cut")
    lc = _read(_write(scratch, suffix, content[:cut]))
    if lc is None or _same(lc, original):
        return
    # Only CSV has no length field: a cut between rows is a shorter file, a cut inside the last number a
    # shorter number. Everything before the last row read must be the original's.
    assert suffix == ".csv", f"a truncated {suffix} file read as a different light curve"
    rows = len(lc)
    assert rows <= len(original)
    assert np.array_equal(lc.time[: rows - 1], original.time[: rows - 1])
    assert np.array_equal(lc.flux[: rows - 1], original.flux[: rows - 1])


@pytest.mark.parametrize("suffix", SUFFIXES)
@PROPERTY
@given(data=st.data())
def test_flipped_bytes_read_as_a_valid_curve_or_raise_naming_the_file(originals, scratch, suffix: str,
                                                                     data) -> None:
    content, original = originals[suffix]
    position = data.draw(st.integers(0, len(content) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="xor")
    mutant = bytearray(content)
    mutant[position] ^= mask
    lc = _read(_write(scratch, suffix, bytes(mutant)))
    if lc is None or _same(lc, original):
        return
    if suffix in (".npz", ".fits.gz"):
        # Zip members and gzip streams carry a CRC-32: flipped data are refused, other flips (dates, flags)
        # change nothing.
        assert np.array_equal(lc.time, original.time) and np.array_equal(lc.flux, original.flux, equal_nan=True)
    elif suffix.endswith(".fits"):
        table = _table_hdu(content)
        if table.data_offset <= position < table.data_offset + table.data_size:
            # One row's bytes changed: that cadence may be dropped (time not finite, a quality flag set).
            assert len(lc) in (ROWS - 1, ROWS)
        else:  # a header flip may change metadata or a column's meaning, never add rows
            assert len(lc) <= ROWS
    else:
        assert len(lc) <= len(original) + 1  # a flipped newline can split a row in two


@pytest.mark.parametrize("suffix", SUFFIXES)
@PROPERTY
@given(extra=st.binary(min_size=1, max_size=3000), at_end=st.booleans())
def test_bytes_added_before_or_after_read_whole_or_raise_naming_the_file(originals, scratch, suffix: str,
                                                                        extra: bytes, at_end: bool) -> None:
    content, original = originals[suffix]
    lc = _read(_write(scratch, suffix, content + extra if at_end else extra + content))
    if lc is None or _same(lc, original):
        return
    assert suffix == ".csv", f"bytes added to a {suffix} file changed the light curve it reads as"
    if at_end:  # bytes glued to the last number change it; rows before stay
        assert np.array_equal(lc.time[: len(original) - 1], original.time[:-1])
    else:  # a prepended blank line or comment changes nothing in the table
        assert np.array_equal(lc.time, original.time) and np.array_equal(lc.flux, original.flux)


_HEADER_KEYWORDS = ["BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS", "TTYPE1", "TFORM1",
                    "TTYPE4", "TFORM4", "TFORM2", "EXTNAME", "TICID", "SECTOR", "BJDREFI", "TIMEDEL", "TELESCOP"]
_VALUES = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "-1", "1", "2", "3", "999", "1000", "8", "8.0", "2.0", "40.0", "-32", "40", "41", "39",
                     "30", "10", "1.5", "1E300", "1D2",
                     "NAN", "INF", "-INF", "T", "F", "", "'E'", "'D'", "'J'", "'2E'", "'0E'", "'TIME'",
                     "'PDCSAP_FLUX'", "'QUALITY'", "'LIGHTCURVE'", "''''", "'", "' '"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20),
)


@PROPERTY
@given(keyword=st.sampled_from(_HEADER_KEYWORDS), value=_VALUES, hdu=st.sampled_from([0, 1, 1, 1]))
def test_random_header_values_read_as_a_valid_curve_or_raise_naming_the_file(originals, scratch, keyword: str,
                                                                            value: str, hdu: int) -> None:
    content, _ = originals[".fits"]
    try:
        mutant = _set_card(content, hdu, keyword, value)
    except KeyError:  # the primary header lacks table keywords: add the card instead
        mutant = _insert_card(content, hdu, f"{keyword:<8}= {value:>20}".ljust(80)[:80])
    lc = _read(_write(scratch, ".fits", mutant))
    assert lc is None or len(lc) <= ROWS  # never garbage rows read from beyond the table


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=6,
)


@PROPERTY
@given(key=st.sampled_from(["mission", "sector", "target_id", "cadence", "path", "flux_column", "time_format",
                            "quality_bitmask", "x"]),
       value=_JSON_VALUES, suffix=st.sampled_from([".csv", ".npz"]))
def test_random_metadata_values_read_as_a_valid_curve_or_raise_naming_the_file(scratch, key: str, value,
                                                                              suffix: str) -> None:
    """Metadata (CSV comment lines, the NPZ's JSON) of any JSON type; a quality column makes ``mission`` count."""
    path = scratch / f"meta{suffix}"
    if suffix == ".csv":
        text = json.dumps(value) if not isinstance(value, float) or np.isfinite(value) else str(value)
        rows = "".join(f"{time!r},{flux!r},0\n" for time, flux in zip(TIME, FLUX, strict=True))
        path.write_text(f"# {key}: {text}\ntime,flux,quality\n{rows}")
    else:
        np.savez(path, time=TIME, flux=FLUX, quality=np.zeros(ROWS, dtype=np.int32),
                 meta=np.array(json.dumps({key: value})))
        path = path.with_name(path.name)  # np.savez keeps a name that already ends in .npz
    lc = _read(path)
    if lc is not None:
        assert np.array_equal(lc.time, TIME) and np.array_equal(lc.flux, FLUX)
        assert lc.meta["path"] == str(path)
