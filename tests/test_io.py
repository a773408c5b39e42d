"""Tests of qusi_lab.io: readers, writers, the broken-file corpus and agreement with lightkurve."""

from __future__ import annotations

import gzip
import importlib.util
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

import qusi_lab.errors as errors
from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io import (
    LIGHT_CURVE_SUFFIXES,
    QUALITY_BITMASKS,
    find_light_curve_files,
    read_light_curve,
    write_csv,
    write_npz,
    write_spoc_fits,
)
from qusi_lab.io._fitsfile import format_card, parse_value
from qusi_lab.io.fits import _write_kepler_fits, _write_qlp_fits
from qusi_lab.lightcurve import LightCurve

DATA = Path(__file__).resolve().parent / "data"
BAD = DATA / "bad"


def _load_bad_file_maker() -> Any:
    spec = importlib.util.spec_from_file_location("make_bad_files", DATA / "make_bad_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE_BAD_FILES = _load_bad_file_maker()


@pytest.fixture(scope="module")
def lightkurve() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import lightkurve

    return lightkurve


def lk_read(lightkurve: Any, path: Path, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lightkurve.read(str(path), **kwargs)


def tess_arrays(rows: int = 2000, cadence_days: float = 2.0 / 1440.0, seed: int = 0) -> dict[str, np.ndarray]:
    """A TESS-like sector: a gap with NaN times, flagged cadences, NaN fluxes, SAP differing from PDCSAP."""
    rng = np.random.default_rng(seed)
    time = 1325.3 + np.arange(rows) * cadence_days
    time[rows // 2 : rows // 2 + 20] = np.nan  # the mid-sector gap holds NaN times in SPOC files
    flux = 1500.0 + rng.normal(0, 2.0, rows)
    flux[7] = np.nan
    quality = np.zeros(rows, dtype=np.int32)
    quality[::50] = 32  # desaturation event: in the default mask
    quality[5::70] = 1024  # cosmic ray in collateral data: only in "hard"
    quality[9::300] = 8192  # planet-search exclude: only in "hardest"
    return {
        "time": time,
        "flux": flux,
        "flux_err": np.full(rows, 2.0),
        "sap_flux": flux * 1.05 + 30.0,
        "quality": quality,
    }


@pytest.fixture(scope="module")
def spoc_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, np.ndarray]]:
    arrays = tess_arrays()
    path = tmp_path_factory.mktemp("spoc") / "tess2018206045859-s0001-0000000025155310-0120-s_lc.fits"
    write_spoc_fits(
        LightCurve(arrays["time"], arrays["flux"]), path, flux_err=arrays["flux_err"], sap_flux=arrays["sap_flux"],
        quality=arrays["quality"], tic_id=25155310, sector=1, camera=3, ccd=2, tess_mag=10.333,
        extra_header={"RA_OBJ": 63.3739396231274, "DEC_OBJ": -69.2265473491974},
    )
    return path, arrays


# ---------------------------------------------------------------------------- broken files
@pytest.mark.parametrize(
    ("name", "error_name", "fragment"),
    [(name, error, fragment) for name, _, error, fragment in MAKE_BAD_FILES.BAD_FILES],
    ids=[name for name, *_ in MAKE_BAD_FILES.BAD_FILES],
)
def test_bad_file_raises_naming_file_and_problem(name: str, error_name: str, fragment: str) -> None:
    error_class = getattr(errors, error_name)
    with pytest.raises(error_class) as caught:
        read_light_curve(BAD / name)
    message = str(caught.value)
    assert name in message
    assert fragment in message
    assert caught.value.path == str(BAD / name)
    if error_class is LightCurveError:  # content errors are not reported as unreadable files
        assert not isinstance(caught.value, LightCurveReadError)


def test_bad_corpus_matches_its_generator_and_is_small(tmp_path: Path) -> None:
    MAKE_BAD_FILES.main(tmp_path)
    committed = sorted(path.name for path in BAD.iterdir())
    assert committed == sorted(path.name for path in tmp_path.iterdir())
    for name in committed:
        assert (BAD / name).stat().st_size < 100_000, name
        if name.endswith(".npz"):  # zip members carry timestamps: compare the arrays
            with np.load(BAD / name) as old, np.load(tmp_path / name) as new:
                assert sorted(old.files) == sorted(new.files)
                assert all(np.array_equal(old[key], new[key]) for key in old.files)
        else:
            assert (BAD / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LightCurveReadError, match="nothere.fits: file not found"):
        read_light_curve(tmp_path / "nothere.fits")
    with pytest.raises(LightCurveReadError, match="is a directory"):
        read_light_curve(tmp_path)


def test_every_cadence_flagged_names_the_bitmask(tmp_path: Path) -> None:
    path = write_spoc_fits(LightCurve(1325 + np.arange(10) / 720, np.ones(10)), tmp_path / "flagged.fits",
                           quality=np.full(10, 32), tic_id=1, sector=1)
    with pytest.raises(LightCurveError, match="flagged.fits: every cadence has a quality flag.*17087"):
        read_light_curve(path)
    assert len(read_light_curve(path, quality_bitmask="none")) == 10


def test_invalid_arguments_raise_value_error(spoc_file: tuple[Path, Any]) -> None:
    path, _ = spoc_file
    with pytest.raises(ValueError, match="unknown quality_bitmask 'strict'"):
        read_light_curve(path, quality_bitmask="strict")
    with pytest.raises(ValueError, match="non-negative"):
        read_light_curve(path, quality_bitmask=-1)
    with pytest.raises(ValueError, match="unknown format 'hdf5'"):
        read_light_curve(path, format="hdf5")


def test_explicit_flux_column_that_is_absent_lists_the_columns(spoc_file: tuple[Path, Any]) -> None:
    path, _ = spoc_file
    with pytest.raises(LightCurveReadError, match="no flux column 'KSPSAP_FLUX'.*TIME, TIMECORR, CADENCENO"):
        read_light_curve(path, flux_column="kspsap_flux")


# ---------------------------------------------------------------------------- SPOC writing and reading
def test_spoc_round_trip_equals_input_after_quality_mask(spoc_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, arrays = spoc_file
    lc = read_light_curve(path)
    keep = np.isfinite(arrays["time"]) & (arrays["quality"] & QUALITY_BITMASKS["TESS"]["default"] == 0)
    assert len(lc) == keep.sum() < len(arrays["time"])
    np.testing.assert_array_equal(lc.time, arrays["time"][keep])
    # Fluxes are stored as float32, like SPOC.
    np.testing.assert_array_equal(lc.flux, arrays["flux"][keep].astype(np.float32))
    np.testing.assert_array_equal(lc.flux_err, arrays["flux_err"][keep].astype(np.float32))
    assert lc.time.dtype == lc.flux.dtype == np.float64
    assert np.isnan(lc.flux).sum() == 1  # NaN fluxes are kept for the pipeline to drop
    assert lc.meta == {
        "target_id": "TIC 25155310", "mission": "TESS", "author": "SPOC", "path": str(path),
        "flux_column": "pdcsap_flux", "time_format": "btjd", "quality_bitmask": 17087, "sector": 1,
        "camera": 3, "ccd": 2, "cadence": pytest.approx(2 / 1440), "magnitude": pytest.approx(10.333),
        "ra": pytest.approx(63.3739396231274), "dec": pytest.approx(-69.2265473491974),
    }


def test_sap_and_pdcsap_columns_case_insensitive(spoc_file: tuple[Path, dict[str, np.ndarray]]) -> None:
    path, arrays = spoc_file
    pdcsap = read_light_curve(path, quality_bitmask="none")
    sap = read_light_curve(path, flux_column="SAP_FLUX", quality_bitmask="none")
    finite = np.isfinite(arrays["time"])
    np.testing.assert_array_equal(sap.flux, arrays["sap_flux"][finite].astype(np.float32))
    np.testing.assert_array_equal(pdcsap.flux, arrays["flux"][finite].astype(np.float32))
    assert sap.meta["flux_column"] == "sap_flux" and pdcsap.meta["flux_column"] == "pdcsap_flux"
    assert not np.allclose(sap.flux, pdcsap.flux, equal_nan=True)


@pytest.mark.parametrize("bitmask", ["none", "default", "hard", "hardest", 1024, 8192 | 32])
def test_quality_masks_remove_flagged_cadences(spoc_file: tuple[Path, Any], bitmask: str | int) -> None:
    path, arrays = spoc_file
    lc = read_light_curve(path, quality_bitmask=bitmask)
    value = QUALITY_BITMASKS["TESS"][bitmask] if isinstance(bitmask, str) else bitmask
    expected = np.isfinite(arrays["time"]) & ((arrays["quality"] & value) == 0)
    np.testing.assert_array_equal(lc.time, arrays["time"][expected])
    assert lc.meta["quality_bitmask"] == value


def test_quality_bitmasks_match_lightkurve(lightkurve: Any) -> None:
    from lightkurve.utils import KeplerQualityFlags, TessQualityFlags

    assert dict(QUALITY_BITMASKS["TESS"]) == TessQualityFlags.OPTIONS
    assert dict(QUALITY_BITMASKS["Kepler"]) == KeplerQualityFlags.OPTIONS
    assert dict(QUALITY_BITMASKS["K2"]) == KeplerQualityFlags.OPTIONS


def test_written_spoc_file_is_standard_fits_with_spoc_layout(spoc_file: tuple[Path, Any]) -> None:
    path, arrays = spoc_file
    with fits.open(path) as hdus:
        hdus.verify("exception")
        assert [hdu.name for hdu in hdus] == ["PRIMARY", "LIGHTCURVE", "APERTURE"]
        primary, table = hdus[0].header, hdus[1].header
        assert (primary["TELESCOP"], primary["OBJECT"], primary["TICID"], primary["SECTOR"]) == (
            "TESS", "TIC 25155310", 25155310, 1)
        assert (primary["CAMERA"], primary["CCD"], primary["ORIGIN"], primary["SIMDATA"]) == (3, 2, "NASA/Ames", True)
        assert primary["TESSMAG"] == pytest.approx(10.333)
        assert (table["TIMESYS"], table["BJDREFI"], table["BJDREFF"], table["TIMEUNIT"]) == ("TDB", 2457000, 0.0, "d")
        assert table["TIMEDEL"] == pytest.approx(2 / 1440)
        assert table["RA_OBJ"] == pytest.approx(63.3739396231274)
        assert table["TELAPSE"] == pytest.approx(table["TSTOP"] - table["TSTART"])
        columns = hdus[1].columns
        assert columns.names == [
            "TIME", "TIMECORR", "CADENCENO", "SAP_FLUX", "SAP_FLUX_ERR", "SAP_BKG", "SAP_BKG_ERR", "PDCSAP_FLUX",
            "PDCSAP_FLUX_ERR", "QUALITY", "PSF_CENTR1", "PSF_CENTR1_ERR", "PSF_CENTR2", "PSF_CENTR2_ERR",
            "MOM_CENTR1", "MOM_CENTR1_ERR", "MOM_CENTR2", "MOM_CENTR2_ERR", "POS_CORR1", "POS_CORR2"]
        assert columns["TIME"].format == "D" and columns["PDCSAP_FLUX"].format == "E"
        assert columns["QUALITY"].format == "J" and columns["SAP_FLUX"].unit == "e-/s"
        np.testing.assert_array_equal(hdus[1].data["QUALITY"], arrays["quality"])
        assert hdus[2].data.shape == (11, 11) and hdus[2].header["EXTNAME"] == "APERTURE"


def test_write_spoc_fits_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flux has 3 values but time has 4"):
        write_spoc_fits(LightCurve(np.arange(4.0), np.ones(3), validate=False), tmp_path / "x.fits", tic_id=1, sector=1)
    with pytest.raises(ValueError, match="invalid FITS keyword"):
        write_spoc_fits(LightCurve(np.arange(4.0), np.ones(4)), tmp_path / "x.fits", tic_id=1, sector=1,
                        extra_header={"TOO_LONG_KEY": 1})


def test_header_cards_round_trip_through_our_parser() -> None:
    for value in (1325.293656167129, -69.2265473491974, 1e-05, 3.0e300, 0, -7, True, False, "it's", ""):
        card = format_card("KEY", value, "comment")
        assert len(card) == 80
        parsed = parse_value(card[10:])
        assert parsed == value if not isinstance(value, str) else parsed == value.rstrip()
    assert parse_value(format_card("KEY", float("nan"))[10:]) is None


def test_gzip_and_suffixless_fits_are_detected(spoc_file: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = spoc_file
    expected = read_light_curve(path)
    compressed = tmp_path / "star_lc.fits.gz"
    compressed.write_bytes(gzip.compress(path.read_bytes()))
    no_suffix = tmp_path / "star.dat"
    shutil.copy(path, no_suffix)
    for other in (compressed, no_suffix):
        lc = read_light_curve(other)
        np.testing.assert_array_equal(lc.flux, expected.flux, strict=True)
        assert lc.meta["path"] == str(other)


def test_twenty_second_cadence(tmp_path: Path) -> None:
    arrays = tess_arrays(rows=3000, cadence_days=20 / 86400)
    path = write_spoc_fits(LightCurve(arrays["time"], arrays["flux"]), tmp_path / "tess-s0027-0000000000000009-a_fast-lc.fits",
                           quality=arrays["quality"], tic_id=9, sector=27)
    lc = read_light_curve(path)
    assert lc.meta["cadence"] == pytest.approx(20 / 86400)
    assert lc.cadence * 86400 == pytest.approx(20)


def test_generic_astropy_table_with_scaled_unsigned_quality(tmp_path: Path) -> None:
    """A table written by astropy: time column T, unsigned QUALITY (stored with TZERO), no mission keywords."""
    quality = np.array([0, 32, 40000, 0, 1], dtype=np.uint16)
    columns = [
        fits.Column(name="T", format="D", array=np.arange(5.0)),
        fits.Column(name="flux", format="E", array=np.array([1, 2, 3, 4, 5], dtype="<f4")),
        fits.Column(name="QUALITY", format="I", bzero=32768, array=quality),
    ]
    path = tmp_path / "generic.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(columns)]).writeto(path)
    assert fits.getheader(path, 1)["TZERO3"] == 32768
    assert read_light_curve(path, quality_bitmask="none").flux.tolist() == [1, 2, 3, 4, 5]
    lc = read_light_curve(path, quality_bitmask=32 | 1)  # 40000 = 0b1001110001000000 has neither bit
    assert lc.time.tolist() == [0.0, 2.0, 3.0]
    assert "mission" not in lc.meta and "time_format" not in lc.meta


# ---------------------------------------------------------------------------- agreement with lightkurve
def _write_product(kind: str, directory: Path) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """Write one product; return its path, our read kwargs and lightkurve's read kwargs."""
    rng = np.random.default_rng(3)
    rows = 1500
    if kind in ("spoc", "spoc-20s", "tess-spoc"):
        cadence = {"spoc": 2 / 1440, "spoc-20s": 20 / 86400, "tess-spoc": 600 / 86400}[kind]
        arrays = tess_arrays(rows, cadence)
        name = "hlsp_tess-spoc_tess_phot_0000000000000042-s0040_tess_v1_lc.fits" if kind == "tess-spoc" else "a_lc.fits"
        extra = {"HLSPID": "TESS-SPOC"} if kind == "tess-spoc" else None
        path = write_spoc_fits(LightCurve(arrays["time"], arrays["flux"]), directory / name, sap_flux=arrays["sap_flux"],
                               quality=arrays["quality"], tic_id=42, sector=40, extra_header=extra)
        return path, {}, {}
    if kind.startswith("qlp"):
        sector = 30 if kind == "qlp" else 60
        time_values = 2100 + np.arange(rows) * 600 / 86400
        quality = np.where(np.arange(rows) % 13 == 0, 4096, 0) | np.where(np.arange(rows) % 17 == 0, 32, 0)
        sap_flux = 1 + rng.normal(0, 1e-3, rows)
        detrended = LightCurve(time_values, 1 + rng.normal(0, 1e-3, rows), np.full(rows, 1e-3), validate=False)
        path = _write_qlp_fits(
            detrended, directory / f"hlsp_qlp_tess_ffi_s{sector:04d}-0000000012345678_tess_v01_llc.fits",
            sap_flux=sap_flux, tic_id=12345678, sector=sector, quality=quality, tess_mag=9.5)
        return path, {}, {"flux_column": "kspsap_flux" if sector < 56 else "det_flux"}
    campaign_or_quarter: dict[str, Any] = {"campaign": 8} if kind == "k2" else {"quarter": 5}
    quality = np.zeros(rows, dtype=np.int32)
    quality[::40] = 16384  # detector anomaly: default mask
    quality[3::60] = 128  # cosmic ray in the optimal aperture: hard mask
    flux = 5e4 + rng.normal(0, 10, rows)
    path = _write_kepler_fits(LightCurve(300 + np.arange(rows) * 0.0204, flux, validate=False),
                              directory / f"{kind}_llc.fits", sap_flux=flux * 1.02, quality=quality, kepler_id=8462852, kepler_mag=11.9,
                              **campaign_or_quarter)
    return path, {}, {}


@pytest.mark.parametrize("kind", ["spoc", "spoc-20s", "tess-spoc", "qlp", "qlp-late", "kepler", "k2"])
@pytest.mark.parametrize("bitmask", ["default", "hard"])
def test_reader_agrees_with_lightkurve(lightkurve: Any, tmp_path: Path, kind: str, bitmask: str) -> None:
    path, ours_kwargs, theirs_kwargs = _write_product(kind, tmp_path)
    ours = read_light_curve(path, quality_bitmask=bitmask, **ours_kwargs)
    theirs = lk_read(lightkurve, path, quality_bitmask=bitmask, **theirs_kwargs)
    np.testing.assert_array_equal(ours.time, theirs.time.value)
    np.testing.assert_array_equal(ours.flux, np.asarray(theirs.flux.value, dtype=np.float64))
    np.testing.assert_array_equal(ours.flux_err, np.asarray(theirs.flux_err.value, dtype=np.float64))
    assert ours.meta["time_format"] == theirs.time.format
    expected_mission = {"kepler": "Kepler", "k2": "K2"}.get(kind, "TESS")
    assert ours.mission == expected_mission == theirs.meta["MISSION"]
    converted = LightCurve.from_lightkurve(theirs)
    np.testing.assert_array_equal(ours.time, converted.time)
    np.testing.assert_array_equal(ours.flux, converted.flux)
    assert ours.sector == converted.sector
    if kind in ("kepler", "k2"):
        assert ours.target_id == ("EPIC 8462852" if kind == "k2" else "KIC 8462852")
    else:
        assert ours.target_id == converted.target_id == f"TIC {theirs.meta['TICID']}"
    author = {"spoc": "SPOC", "spoc-20s": "SPOC", "tess-spoc": "TESS-SPOC", "qlp": "QLP", "qlp-late": "QLP"}
    if kind in author:
        assert ours.meta["author"] == author[kind] == theirs.meta["AUTHOR"]


def test_qlp_default_flux_is_the_detrended_flux_and_sap_on_request(tmp_path: Path) -> None:
    path, _, _ = _write_product("qlp-late", tmp_path)
    with fits.open(path) as hdus:
        data = hdus[1].data
        finite_quality = (data["QUALITY"] & QUALITY_BITMASKS["TESS"]["default"]) == 0
        detrended, sap = data["DET_FLUX"][finite_quality], data["SAP_FLUX"][finite_quality]
    default = read_light_curve(path)
    assert default.meta["flux_column"] == "det_flux"
    np.testing.assert_array_equal(default.flux, detrended)
    np.testing.assert_array_equal(read_light_curve(path, flux_column="sap_flux").flux, sap)


def test_reads_lightkurve_to_fits_output(lightkurve: Any, spoc_file: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = spoc_file
    original = lk_read(lightkurve, path)
    written = tmp_path / "lightkurve_written.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        original.to_fits(str(written))
    lc = read_light_curve(written)
    np.testing.assert_array_equal(lc.time, original.time.value)
    np.testing.assert_array_equal(lc.flux, np.asarray(original.flux.value, dtype=np.float64))
    assert lc.meta["flux_column"] == "flux" and lc.target_id == "TIC 25155310"


# ---------------------------------------------------------------------------- CSV and NPZ
def _rich_light_curve() -> LightCurve:
    rng = np.random.default_rng(5)
    time_values = 1325.0 + np.sort(rng.uniform(0, 27, 500))
    flux = 1 + rng.normal(0, 1e-3, 500)
    flux[3] = np.nan
    return LightCurve(
        time_values, flux, np.full(500, 1e-3), target_id="TIC 7", mission="TESS", sector=4,
        cadence=2 / 1440, time_format="btjd", magnitude=np.float32(9.5), flux_column="pdcsap_flux",
        injected={"kind": "transit", "period": 3.2, "radius_ratio": np.float64(0.1), "limb_darkening": (0.4, 0.25)},
        path="/original/star.fits",
    )


@pytest.mark.parametrize(("writer", "suffix"), [(write_csv, ".csv"), (write_npz, ".npz")])
def test_csv_and_npz_round_trip_with_meta(tmp_path: Path, writer: Any, suffix: str) -> None:
    original = _rich_light_curve()
    path = writer(original, tmp_path / f"star{suffix}")
    assert path == tmp_path / f"star{suffix}"
    lc = read_light_curve(path)
    np.testing.assert_array_equal(lc.time, original.time)
    np.testing.assert_array_equal(lc.flux, original.flux)
    np.testing.assert_array_equal(lc.flux_err, original.flux_err)
    expected_meta = {key: value for key, value in original.meta.items() if key != "path"}
    expected_meta["injected"] = {"kind": "transit", "period": 3.2, "radius_ratio": 0.1, "limb_darkening": [0.4, 0.25]}
    expected_meta["magnitude"] = 9.5
    assert lc.meta == {**expected_meta, "path": str(path)}


def test_csv_aliases_quality_and_explicit_columns(tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    path.write_text(
        "# author: hand-written, not JSON\n# mission: \"Kepler\"\n"
        "BKJD, SAP_FLUX, PDCSAP_FLUX, PDCSAP_FLUX_ERR, SAP_QUALITY\n"
        "100.0, 10, 1.0, 0.1, 0\n100.1, 11, nan, 0.1, 0\n100.2, 12, 1.2, 0.1, 16384\n100.3, 13, , 0.1, 0\n"
    )
    lc = read_light_curve(path)
    assert lc.time.tolist() == [100.0, 100.1, 100.3]  # SAP_QUALITY 16384 is in Kepler's default mask
    np.testing.assert_array_equal(lc.flux, [1.0, np.nan, np.nan])
    assert lc.flux_err is not None and lc.flux_err.tolist() == [0.1, 0.1, 0.1]
    assert lc.meta["author"] == "hand-written, not JSON"
    assert (lc.meta["time_format"], lc.meta["flux_column"], lc.meta["mission"]) == ("bkjd", "pdcsap_flux", "Kepler")
    sap = read_light_curve(path, flux_column="sap_flux", quality_bitmask="none")
    assert sap.flux.tolist() == [10, 11, 12, 13] and sap.flux_err is None
    with pytest.raises(LightCurveReadError, match="no flux column.*kspsap_flux.*the columns are: BKJD, SAP_FLUX"):
        read_light_curve(path, flux_column="kspsap_flux")


def test_npz_with_other_array_names(tmp_path: Path) -> None:
    path = tmp_path / "arrays.bin"
    with open(path, "wb") as handle:
        np.savez(handle, BJD=np.arange(5.0), FLUX=np.ones(5), meta=np.array('{"target_id": "KIC 5"}'))
    lc = read_light_curve(path)  # no known suffix: detected as a zip archive
    assert lc.target_id == "KIC 5" and len(lc) == 5 and lc.flux_err is None


def test_npz_refuses_pickled_objects(tmp_path: Path) -> None:
    path = tmp_path / "objects.npz"
    with open(path, "wb") as handle:
        np.savez(handle, time=np.arange(3.0), flux=np.array([1.0, None, 2.0], dtype=object))
    with pytest.raises(LightCurveReadError, match="objects.npz: cannot load the NPZ arrays safely"):
        read_light_curve(path)


def test_npz_suffix_on_other_content(tmp_path: Path) -> None:
    single_array = tmp_path / "single.npz"
    with open(single_array, "wb") as handle:
        np.save(handle, np.arange(3.0))
    with pytest.raises(LightCurveReadError, match="single.npz: not an NPZ file"):
        read_light_curve(single_array)
    cut = tmp_path / "cut.npz"
    write_npz(LightCurve(np.arange(100.0), np.ones(100)), cut)
    cut.write_bytes(cut.read_bytes()[:900])
    with pytest.raises(LightCurveReadError, match="cut.npz: not a valid NPZ"):
        read_light_curve(cut)


def test_csv_format_can_be_forced(tmp_path: Path) -> None:
    path = tmp_path / "star.txt"
    path.write_text("time,flux\n1,2\n2,3\n")
    assert read_light_curve(path, format="csv").flux.tolist() == [2.0, 3.0]


# ---------------------------------------------------------------------------- discovery
def test_find_light_curve_files(tmp_path: Path) -> None:
    names = ["b/star2.fits", "a/star1.CSV", "a/deep/star3.npz", "a/star4.fits.gz", "c/star5.fit", "top.fits",
             "a/.hidden.fits", ".hidden_dir/star.fits", "a/.ipynb_checkpoints/star1-checkpoint.csv",
             "notes.txt", "b/star2.fits.bak"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = [path.relative_to(tmp_path).as_posix() for path in find_light_curve_files(tmp_path)]
    assert found == ["a/deep/star3.npz", "a/star1.CSV", "a/star4.fits.gz", "b/star2.fits", "c/star5.fit", "top.fits"]
    assert find_light_curve_files(tmp_path, recursive=False) == [tmp_path / "top.fits"]
    assert set(LIGHT_CURVE_SUFFIXES) == {".fits", ".fits.gz", ".fit", ".csv", ".npz"}
    with pytest.raises(FileNotFoundError, match="no such directory"):
        find_light_curve_files(tmp_path / "missing")


# ---------------------------------------------------------------------------- writer argument order
def test_write_spoc_fits_takes_the_light_curve_first_and_the_old_order_warns(tmp_path: Path) -> None:
    time, flux = 1325.0 + np.arange(50) / 720, 900.0 + np.arange(50.0)
    new = write_spoc_fits(LightCurve(time, flux, target_id="TIC 7", sector=2), tmp_path / "new_lc.fits")
    with pytest.warns(DeprecationWarning, match=r"write_spoc_fits\(LightCurve\(time, flux\), path\)"):
        old = write_spoc_fits(tmp_path / "old_lc.fits", time, flux, tic_id=7, sector=2)
    with pytest.warns(DeprecationWarning):
        old_str = write_spoc_fits(str(tmp_path / "old_str_lc.fits"), time, flux, tic_id=7, sector=2)
    assert old == tmp_path / "old_lc.fits" and old_str == tmp_path / "old_str_lc.fits"
    for path in (new, old, old_str):
        lc = read_light_curve(path)
        np.testing.assert_array_equal(lc.time, time)
        np.testing.assert_array_equal(lc.flux, flux)
        assert (lc.target_id, lc.sector) == ("TIC 7", 2)
    # The curve's own flux errors are written; keywords still override the metadata.
    with_errors = LightCurve(time, flux, np.full(50, 0.25), target_id="TIC 7", sector=2)
    lc = read_light_curve(with_errors.to_fits(tmp_path / "errors_lc.fits", tic_id=8, sector=3))
    assert lc.flux_err.tolist() == [0.25] * 50 and (lc.target_id, lc.sector) == ("TIC 8", 3)
    with pytest.raises(TypeError, match="needs tic_id= and sector="):
        write_spoc_fits(LightCurve(time, flux), tmp_path / "anonymous_lc.fits")
    with pytest.raises(TypeError, match="writes a LightCurve"):
        write_spoc_fits(time, tmp_path / "arrays_lc.fits", tic_id=1, sector=1)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        write_spoc_fits(LightCurve(time, flux), time, flux, tic_id=1, sector=1)


@pytest.mark.parametrize("method", ["to_fits", "to_csv", "to_npz"])
def test_light_curve_writes_itself_through_the_io_writers(tmp_path: Path, method: str) -> None:
    original = LightCurve(1325.0 + np.arange(20) / 720, np.linspace(1.0, 2.0, 20), np.full(20, 0.5),
                          target_id="TIC 11", sector=4, mission="TESS")
    suffix = {"to_fits": "_lc.fits", "to_csv": ".csv", "to_npz": ".npz"}[method]
    path = getattr(original, method)(tmp_path / f"star{suffix}")
    assert path == tmp_path / f"star{suffix}"
    lc = read_light_curve(path)
    np.testing.assert_allclose(lc.flux, original.flux, rtol=1e-6)  # FITS stores float32 fluxes
    np.testing.assert_array_equal(lc.time, original.time)
    assert (lc.target_id, lc.sector, lc.mission) == ("TIC 11", 4, "TESS")
