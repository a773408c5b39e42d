"""The FITS layout cache: a file of a cached layout reads exactly as a full parse would, any other misses.

Every test compares a read through the cache with the same read with the cache off (the full header
parse), and checks the cache's hit/miss counters, so a test cannot pass by never using the cache.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io import read_light_curve, write_spoc_fits
from qusi_lab.io._fitsfile import LAYOUT_CACHE, format_card
from qusi_lab.io.fits import _write_kepler_fits, _write_qlp_fits
from qusi_lab.lightcurve import LightCurve

ROWS = 300


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    LAYOUT_CACHE.clear()
    LAYOUT_CACHE.enabled = True
    yield
    LAYOUT_CACHE.clear()
    LAYOUT_CACHE.enabled = True


def _write(path: Path, seed: int, rows: int = ROWS, **header: Any) -> Path:
    """A SPOC file whose every per-target value differs with ``seed`` (flux, errors, quality, TIC, mags)."""
    rng = np.random.default_rng(seed)
    time = 1325.0 + np.arange(rows) / 720.0
    time[rows // 2 : rows // 2 + 5] = np.nan
    quality = np.zeros(rows, dtype=np.int32)
    quality[seed % 7 :: 50] = 32
    lc = LightCurve(time, 1000.0 + seed + rng.normal(0, 1, rows), validate=False)
    options: dict[str, Any] = {"tic_id": 100 + seed, "sector": 1 + seed % 3, "tess_mag": 8.0 + seed / 10}
    options.update(header)
    return write_spoc_fits(lc, path, flux_err=rng.uniform(0.5, 1.5, rows), sap_flux=rng.normal(900, 1, rows),
                           quality=quality, **options)


def _uncached(path: Path, **options: Any) -> Any:
    """The read (or the error) with the cache off: the full parse of every header card."""
    LAYOUT_CACHE.enabled = False
    try:
        return _outcome(lambda: read_light_curve(path, **options))
    finally:
        LAYOUT_CACHE.enabled = True


def _outcome(read: Callable[[], LightCurve]) -> Any:
    try:
        return read()
    except (LightCurveError, LightCurveReadError) as error:
        return (type(error), str(error))


def _assert_same(result: Any, expected: Any) -> None:
    if isinstance(expected, tuple):
        assert result == expected
        return
    assert isinstance(result, LightCurve)
    np.testing.assert_array_equal(result.time, expected.time)
    np.testing.assert_array_equal(result.flux, expected.flux)
    if expected.flux_err is None:
        assert result.flux_err is None
    else:
        np.testing.assert_array_equal(result.flux_err, expected.flux_err)
    assert result.meta == expected.meta


def _read_through_cache(path: Path, **options: Any) -> Any:
    return _outcome(lambda: read_light_curve(path, **options))


def _card_offset(content: bytes, keyword: str, hdu_start: int = 0, occurrence: int = 0) -> int:
    """Byte offset of the ``occurrence``-th card ``keyword`` from ``hdu_start`` on."""
    found = -1
    for offset in range(hdu_start, len(content), 80):
        if content[offset : offset + 8].decode("latin-1").rstrip() == keyword:
            found += 1
            if found == occurrence:
                return offset
    raise KeyError(keyword)


def _replace_card(content: bytes, offset: int, card: str) -> bytes:
    assert len(card) == 80
    return content[:offset] + card.encode("ascii") + content[offset + 80 :]


@pytest.fixture()
def primed(tmp_path: Path) -> Path:
    """A cached SPOC layout: one file read (a miss that remembers its layout)."""
    first = _write(tmp_path / "first.fits", 0)
    read_light_curve(first)
    assert (LAYOUT_CACHE.hits, LAYOUT_CACHE.misses) == (0, 0)  # an empty cache is not even looked up
    return first


# =========================================================================== hits
@pytest.mark.parametrize("options", [
    {},
    {"flux_column": "sap_flux"},
    {"quality_bitmask": "none"},
    {"quality_bitmask": "hardest", "flux_err_column": "sap_flux_err"},
    {"time_column": 0, "flux_column": 7},
])
def test_files_of_one_layout_hit_and_read_as_the_full_parse(primed: Path, tmp_path: Path,
                                                            options: dict[str, Any]) -> None:
    for seed in (1, 2, 3):
        path = _write(tmp_path / f"star{seed}.fits", seed, extra_header={"RA_OBJ": 10.0 + seed, "OBJECT": f"S{seed}"})
        hits = LAYOUT_CACHE.hits
        result = _read_through_cache(path, **options)
        assert LAYOUT_CACHE.hits == hits + 1
        _assert_same(result, _uncached(path, **options))
        if isinstance(result, LightCurve):  # the metadata are this file's, not the cached one's
            assert result.meta["target_id"] == f"TIC {100 + seed}"
            assert result.meta["ra"] == 10.0 + seed


def test_a_gzip_compressed_file_of_the_layout_hits(primed: Path, tmp_path: Path) -> None:
    plain = _write(tmp_path / "star.fits", 5)
    packed = tmp_path / "star.fits.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    result = _read_through_cache(packed)
    assert LAYOUT_CACHE.hits == 1
    _assert_same(result, _uncached(packed))


def test_a_changed_value_outside_the_layout_hits_and_is_read_from_this_file(primed: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "star.fits", 4)
    content = path.read_bytes()
    offset = _card_offset(content, "TIMEDEL", _card_offset(content, "XTENSION"))
    path.write_bytes(_replace_card(content, offset, format_card("TIMEDEL", 0.5, "[d] time resolution of data")))
    result = _read_through_cache(path)
    assert LAYOUT_CACHE.hits == 1
    _assert_same(result, _uncached(path))
    assert result.meta["cadence"] == 0.5


# =========================================================================== misses
def test_a_different_row_count_misses(primed: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "short.fits", 1, rows=ROWS - 1)
    result = _read_through_cache(path)
    assert (LAYOUT_CACHE.hits, LAYOUT_CACHE.misses) == (0, 1)
    _assert_same(result, _uncached(path))
    assert len(_uncached(path).time) < ROWS


def test_a_different_column_order_misses(primed: Path, tmp_path: Path) -> None:
    """SAP_FLUX and PDCSAP_FLUX swapped by name (both float32): same cards, same sizes, other columns."""
    path = _write(tmp_path / "swapped.fits", 1)
    original = read_light_curve(path)  # a hit, before the swap
    sap = read_light_curve(path, flux_column="sap_flux")
    content = path.read_bytes()
    table = _card_offset(content, "XTENSION")
    names = {}
    for number in range(1, 30):
        offset = _card_offset(content, f"TTYPE{number}", table)
        names[content[offset + 11 : offset + 30].decode().split("'")[0].strip()] = (number, offset)
        if "SAP_FLUX" in names and "PDCSAP_FLUX" in names:
            break
    (sap_number, sap_offset), (pdc_number, pdc_offset) = names["SAP_FLUX"], names["PDCSAP_FLUX"]
    content = _replace_card(content, sap_offset, format_card(f"TTYPE{sap_number}", "PDCSAP_FLUX"))
    content = _replace_card(content, pdc_offset, format_card(f"TTYPE{pdc_number}", "SAP_FLUX"))
    path.write_bytes(content)
    hits, misses = LAYOUT_CACHE.hits, LAYOUT_CACHE.misses
    result = _read_through_cache(path)
    assert (LAYOUT_CACHE.hits, LAYOUT_CACHE.misses) == (hits, misses + 1)
    _assert_same(result, _uncached(path))
    np.testing.assert_array_equal(result.flux, sap.flux)  # PDCSAP_FLUX now names the former SAP column
    assert not np.array_equal(result.flux, original.flux)


def test_a_changed_column_format_misses_and_raises_as_the_full_parse(primed: Path, tmp_path: Path) -> None:
    """QUALITY's TFORM J -> E: the row size is unchanged, but the flags are no longer integers."""
    path = _write(tmp_path / "float_quality.fits", 1)
    content = path.read_bytes()
    table = _card_offset(content, "XTENSION")
    number = next(n for n in range(1, 30)
                  if b"'QUALITY " in content[_card_offset(content, f"TTYPE{n}", table):][:80])
    offset = _card_offset(content, f"TFORM{number}", table)
    path.write_bytes(_replace_card(content, offset, format_card(f"TFORM{number}", "E", "column format")))
    result = _read_through_cache(path)
    assert (LAYOUT_CACHE.hits, LAYOUT_CACHE.misses) == (0, 1)
    assert isinstance(result, tuple) and "QUALITY does not hold whole numbers" in result[1]
    _assert_same(result, _uncached(path))


@pytest.mark.parametrize("card", [
    format_card("TSCAL4", 2.0),  # a scaling card in place of a descriptive one: the keywords differ
    format_card("EXTNAME", "OTHER"),  # the table is no longer LIGHTCURVE
])
def test_a_modified_structural_card_misses(primed: Path, tmp_path: Path, card: str) -> None:
    path = _write(tmp_path / "modified.fits", 1)
    content = path.read_bytes()
    table = _card_offset(content, "XTENSION")
    if card.startswith("EXTNAME"):
        offset = _card_offset(content, "EXTNAME", table)
    else:  # the card before the table header's END (PDCMETHD), which sizes nothing
        offset = _card_offset(content, "END", table) - 80
        assert content[offset : offset + 8] == b"PDCMETHD"
    path.write_bytes(_replace_card(content, offset, card))
    result = _read_through_cache(path)
    assert (LAYOUT_CACHE.hits, LAYOUT_CACHE.misses) == (0, 1)
    _assert_same(result, _uncached(path))


@pytest.mark.parametrize("product", ["kepler", "qlp"])
def test_another_product_misses_then_is_cached_too(primed: Path, tmp_path: Path, product: str) -> None:
    def write(index: int) -> Path:
        lc = LightCurve(1325.0 + np.arange(ROWS) / 48.0, 1.0 + np.arange(ROWS) * 1e-5 * (index + 1),
                        np.full(ROWS, 1e-3), validate=False)
        path = tmp_path / f"{product}{index}.fits"
        if product == "kepler":
            return _write_kepler_fits(lc, path, kepler_id=10 + index, quarter=3)
        return _write_qlp_fits(lc, path, sap_flux=lc.flux * 2, tic_id=10 + index, sector=12)

    first, second = write(0), write(1)
    result = _read_through_cache(first)
    assert (LAYOUT_CACHE.hits, LAYOUT_CACHE.misses) == (0, 1)
    _assert_same(result, _uncached(first))
    result = _read_through_cache(second)  # its layout is remembered now, beside SPOC's
    assert LAYOUT_CACHE.hits == 1
    _assert_same(result, _uncached(second))
    assert _read_through_cache(primed).meta["author"] == "SPOC" and LAYOUT_CACHE.hits == 2


# =========================================================================== broken files of a cached layout
@pytest.mark.parametrize("cut", [5000, 10000, 18000, -3000])
def test_a_truncated_file_of_the_layout_reads_as_the_full_parse(primed: Path, tmp_path: Path, cut: int) -> None:
    """Cut inside the primary header, the table header, the table (errors naming the file) and after the
    table, inside the APERTURE image the reader never needs (a curve, as with the full parse)."""
    path = _write(tmp_path / "cut.fits", 1)
    content = path.read_bytes()
    path.write_bytes(content[:cut])
    result = _read_through_cache(path)
    if cut > 0:
        assert isinstance(result, tuple) and str(path) in result[1] and "truncated" in result[1]
    _assert_same(result, _uncached(path))


def test_bytes_after_the_table_that_are_not_fits_raise_as_the_full_parse(primed: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "junk.fits", 1)
    content = path.read_bytes()
    aperture = _card_offset(content, "XTENSION", occurrence=1)
    path.write_bytes(content[:aperture] + b"NOTFITS!" + content[aperture + 8 :])
    result = _read_through_cache(path)
    assert LAYOUT_CACHE.hits == 1  # the headers match: the check of what follows the table still runs
    assert isinstance(result, tuple) and "no HDU starts there" in result[1]
    _assert_same(result, _uncached(path))


def test_non_finite_values_in_a_cached_layout_raise_as_the_full_parse(primed: Path, tmp_path: Path) -> None:
    path = tmp_path / "nan.fits"
    time = 1325.0 + np.arange(ROWS) / 720.0
    write_spoc_fits(LightCurve(time, np.full(ROWS, np.nan), validate=False), path, tic_id=9, sector=1,
                    flux_err=np.ones(ROWS), sap_flux=np.ones(ROWS), quality=np.zeros(ROWS, dtype=np.int32),
                    tess_mag=8.0)
    result = _read_through_cache(path)
    assert LAYOUT_CACHE.hits == 1
    assert isinstance(result, tuple) and "NaN or infinite" in result[1]
    _assert_same(result, _uncached(path))


def test_the_cache_keeps_a_few_layouts(tmp_path: Path) -> None:
    for rows in range(ROWS, ROWS + LAYOUT_CACHE.capacity + 3):
        read_light_curve(_write(tmp_path / f"rows{rows}.fits", 1, rows=rows))
    assert len(LAYOUT_CACHE._templates) == LAYOUT_CACHE.capacity
