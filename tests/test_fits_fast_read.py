"""The chunked FITS table read and the cached card values give what the whole-table, uncached read gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qusi_lab.errors import LightCurveReadError
from qusi_lab.io import _fitsfile, read_light_curve, write_spoc_fits
from qusi_lab.io._fitsfile import LAYOUT_CACHE
from qusi_lab.lightcurve import LightCurve


def write_star(path: Path, cadences: int, seed: int, tic_id: int = 7) -> Path:
    rng = np.random.default_rng(seed)
    time = 1325.0 + np.arange(cadences) / 720
    flux = 1000.0 + rng.normal(0, 2, cadences)
    flux[3::17] = np.nan  # NaN fluxes and flagged cadences, never the first cadence
    quality = np.zeros(cadences, dtype=np.int32)
    quality[5::20] = 32
    lc = LightCurve(time, flux, validate=False)
    return write_spoc_fits(lc, path, flux_err=np.abs(rng.normal(2, 0.1, cadences)), quality=quality,
                           tic_id=tic_id, sector=3, tess_mag=9.5)


def whole_table_read(path: Path) -> LightCurve:
    """The reference: the layout cache off and one chunk holding the whole table (the old single read)."""
    LAYOUT_CACHE.enabled = False
    saved = _fitsfile._CHUNK_BYTES
    _fitsfile._CHUNK_BYTES = 2**40
    try:
        return read_light_curve(path)
    finally:
        _fitsfile._CHUNK_BYTES = saved
        LAYOUT_CACHE.enabled = True


def same_curve(a: LightCurve, b: LightCurve) -> None:
    np.testing.assert_array_equal(a.time, b.time)
    np.testing.assert_array_equal(a.flux, b.flux)
    assert a.flux_err is not None and b.flux_err is not None
    np.testing.assert_array_equal(a.flux_err, b.flux_err)
    assert a.meta == b.meta


@pytest.mark.parametrize("chunk_bytes", [100, 999, 4096, 512 * 1024])
@pytest.mark.parametrize("cadences", [1, 7, 5243, 12_000])
def test_chunked_cached_read_equals_whole_table(tmp_path: Path, chunk_bytes: int, cadences: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    paths = [write_star(tmp_path / f"s{i}_lc.fits", cadences, seed=i, tic_id=i + 1) for i in range(3)]
    expected = [whole_table_read(path) for path in paths]
    monkeypatch.setattr(_fitsfile, "_CHUNK_BYTES", chunk_bytes)
    LAYOUT_CACHE.clear()
    for _ in range(2):  # the first read of the layout parses in full, the others hit the cache
        for path, reference in zip(paths, expected, strict=True):
            same_curve(read_light_curve(path), reference)
    assert LAYOUT_CACHE.hits >= 3


def test_changed_layout_is_read_correctly(tmp_path: Path) -> None:
    """Another NAXIS2 (a longer sector) misses the cached layout and is read in full, correctly."""
    LAYOUT_CACHE.clear()
    short = write_star(tmp_path / "short_lc.fits", 500, seed=1)
    long = write_star(tmp_path / "long_lc.fits", 900, seed=2)
    read_light_curve(short)
    same_curve(read_light_curve(long), whole_table_read(long))
    assert LAYOUT_CACHE.misses >= 1


@pytest.mark.parametrize("missing", [1, 100, 5000])
def test_truncated_table_names_the_file(tmp_path: Path, missing: int,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A file cut inside its table (layout cached from a whole one, read in several chunks) raises naming it."""
    monkeypatch.setattr(_fitsfile, "_CHUNK_BYTES", 4096)
    LAYOUT_CACHE.clear()
    read_light_curve(write_star(tmp_path / "whole_lc.fits", 3000, seed=1))
    path = write_star(tmp_path / "cut_lc.fits", 3000, seed=2)
    content = path.read_bytes()
    template = LAYOUT_CACHE._templates[0]
    table_end = template.size + template.layout.rows * template.layout.row_bytes
    path.write_bytes(content[: table_end - missing])
    with pytest.raises(LightCurveReadError, match="truncated FITS file") as caught:
        read_light_curve(path)
    assert str(path) in str(caught.value)


def test_file_shrinking_while_read_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A short read in a later chunk (the file cut after its size was taken) raises, never reuses old bytes."""
    monkeypatch.setattr(_fitsfile, "_CHUNK_BYTES", 4096)
    path = write_star(tmp_path / "star_lc.fits", 3000, seed=3)
    original = _fitsfile._read_fully
    calls = {"n": 0}

    def short_second_chunk(stream, buffer):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        got = original(stream, buffer)
        return got // 2 if calls["n"] == 2 else got

    monkeypatch.setattr(_fitsfile, "_read_fully", short_second_chunk)
    with pytest.raises(LightCurveReadError, match="cut short while being read") as caught:
        read_light_curve(path)
    assert str(path) in str(caught.value)


def test_cached_card_values_are_the_parsed_ones() -> None:
    fields = ["'TESS    '           / telescope", "                    3 / sector", "   1.5D-03 / x", "     / u"]
    for field in fields:
        assert _fitsfile._parsed_value(field) == _fitsfile.parse_value(field)
        assert _fitsfile._parsed_value(field) == _fitsfile.parse_value(field)  # a cache hit
