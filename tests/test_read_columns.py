"""Reading real-world tables: columns by name or position, files without a header, magnitudes (issue 14 item 9).

Every test writes a real file and reads it through ``read_light_curve`` (or a dataset that calls it).
"""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qusi_lab.data import LightCurveDataset
from qusi_lab.errors import LightCurveError, LightCurveReadError
from qusi_lab.io import light_curve_reader, read_light_curve, write_spoc_fits
from qusi_lab.io.text import is_headerless
from qusi_lab.lightcurve import LightCurve

TIME = 1325.0 + np.arange(50) / 720
FLUX = 1000.0 + np.sin(np.arange(50))
ERR = np.full(50, 0.5)
LN10_04 = 0.4 * math.log(10.0)


def rows(*columns: object, separator: str = ",", end: str = "\n") -> str:
    """The columns as text rows, each value at full precision (repr of the Python float)."""
    return "".join(separator.join(repr(float(value)) for value in row) + end
                   for row in zip(*columns, strict=True))  # type: ignore[call-overload]


def relative(magnitudes: np.ndarray) -> np.ndarray:
    """What the reader must give for these magnitudes (written independently of qusi_lab.io.units)."""
    return np.asarray([10.0 ** (-0.4 * (m - float(np.nanmedian(magnitudes)))) for m in magnitudes])


# ------------------------------------------------------------------ files without a header
def test_headerless_csv_from_savetxt_reads_time_and_flux_by_position(tmp_path: Path) -> None:
    """The issue's file: numpy.savetxt output, whose first row was taken for a header."""
    path = tmp_path / "star.csv"
    np.savetxt(path, np.c_[TIME, FLUX], delimiter=",")
    assert path.read_text().startswith("1.325000000000000000e+03,")
    lc = read_light_curve(path)
    np.testing.assert_array_equal(lc.time, TIME)
    np.testing.assert_array_equal(lc.flux, FLUX)
    assert lc.flux_err is None
    assert lc.meta["flux_column"] == "column 1"
    assert "time_format" not in lc.meta  # a position says nothing about the time system


def test_headerless_whitespace_text_takes_column_two_as_flux_error(tmp_path: Path) -> None:
    path = tmp_path / "star.txt"
    np.savetxt(path, np.c_[TIME, FLUX, ERR], header="BJD-2457000 flux error")  # a '#' comment, then data
    lc = read_light_curve(path)
    np.testing.assert_array_equal(lc.flux, FLUX)
    assert lc.flux_err is not None
    np.testing.assert_array_equal(lc.flux_err, ERR)


def test_headerless_tab_separated_dat_with_trailing_tabs(tmp_path: Path) -> None:
    path = tmp_path / "star.dat"
    path.write_text(rows(TIME, FLUX, separator="\t", end="\t\n"))
    lc = read_light_curve(path)
    np.testing.assert_array_equal(lc.flux, FLUX)
    assert lc.flux_err is None


def test_headerless_trailing_comma_is_not_an_error_column(tmp_path: Path) -> None:
    path = tmp_path / "star.csv"
    path.write_text(rows(TIME, FLUX, end=",\n"))
    lc = read_light_curve(path)
    np.testing.assert_array_equal(lc.flux, FLUX)
    assert lc.flux_err is None


def test_headerless_columns_chosen_by_position_as_int_or_digit_string(tmp_path: Path) -> None:
    path = tmp_path / "star.csv"
    other = FLUX * 2
    np.savetxt(path, np.c_[TIME, FLUX, ERR, other], delimiter=",")
    for choice in (3, "3"):
        lc = read_light_curve(path, flux_column=choice, flux_err_column=2)
        np.testing.assert_array_equal(lc.flux, other)
        assert lc.flux_err is not None
        np.testing.assert_array_equal(lc.flux_err, ERR)
    # Flux moved to column 2: column 2 is not also taken as its error.
    assert read_light_curve(path, flux_column=2).flux_err is None


def test_text_tables_under_other_names_are_read_as_text(tmp_path: Path) -> None:
    path = tmp_path / "star.lc"
    np.savetxt(path, np.c_[TIME, FLUX])
    with pytest.raises(LightCurveReadError, match="unknown light-curve format"):
        read_light_curve(path)
    for name in ("txt", "csv", "TEXT"):
        np.testing.assert_array_equal(read_light_curve(path, format=name).flux, FLUX)


def test_header_detection_rule() -> None:
    assert is_headerless("1.325000000000000000e+03,1.000000000000000000e+00")
    assert is_headerless("1325.0,nan,inf,")
    assert is_headerless("1325.0 -0.5  +1e-3", whitespace=True)
    assert not is_headerless("time,flux")
    assert not is_headerless("1325.0,bad")
    assert not is_headerless("BJD mag", whitespace=True)


# ------------------------------------------------------------------ named columns and time systems
@pytest.mark.parametrize(
    ("header", "time_format", "time_scale"),
    [("BJD", "bjd", "tdb"), ("BJD_TDB", "bjd", "tdb"), ("HJD", "hjd", None), ("JD", "jd", None),
     ("MJD", "mjd", None), ("BTJD", "btjd", None), ("BJD - 2457000", "bjd-2457000", "tdb"),
     ("HJD-2450000", "hjd-2450000", None), ("time", None, None)],
)
def test_time_columns_are_recognised_and_their_system_recorded(
    tmp_path: Path, header: str, time_format: str | None, time_scale: str | None
) -> None:
    path = tmp_path / "star.csv"
    path.write_text(f"{header},flux\n" + rows(TIME, FLUX))
    lc = read_light_curve(path)
    np.testing.assert_array_equal(lc.time, TIME)
    assert lc.meta.get("time_format") == time_format
    assert lc.meta.get("time_scale") == time_scale


def test_columns_chosen_by_name_or_position_in_a_file_with_a_header(tmp_path: Path) -> None:
    path = tmp_path / "star.csv"
    path.write_text("exposure,obs_time,counts,counts_sigma\n" + rows(np.full(50, 30.0), TIME, FLUX, ERR))
    by_name = read_light_curve(path, time_column="OBS_TIME", flux_column="counts", flux_err_column="counts_sigma",
                               time_format="btjd")
    by_position = read_light_curve(path, time_column=1, flux_column=2, flux_err_column=3, time_format="btjd")
    for lc in (by_name, by_position):
        np.testing.assert_array_equal(lc.time, TIME)
        np.testing.assert_array_equal(lc.flux, FLUX)
        assert lc.flux_err is not None
        np.testing.assert_array_equal(lc.flux_err, ERR)
        assert lc.meta["flux_column"] == "counts"
        assert lc.meta["time_format"] == "btjd"


def test_fits_and_npz_columns_by_name_and_position(tmp_path: Path) -> None:
    from astropy.io import fits

    lc = LightCurve(TIME, FLUX, ERR, target_id="TIC 3", sector=1)
    fits_path = write_spoc_fits(lc, tmp_path / "star_lc.fits")
    names = [name.upper() for name in fits.getdata(fits_path, 1).columns.names]
    sap = read_light_curve(fits_path, flux_column="sap_flux")
    by_position = read_light_curve(fits_path, flux_column=names.index("SAP_FLUX"),
                                   flux_err_column=names.index("SAP_FLUX_ERR"), time_column=names.index("TIME"))
    np.testing.assert_array_equal(by_position.flux, sap.flux)
    np.testing.assert_array_equal(by_position.flux_err, sap.flux_err)
    np.testing.assert_array_equal(by_position.time, sap.time)

    npz_path = tmp_path / "star.npz"
    np.savez(npz_path, when=TIME, brightness=FLUX, noise=ERR)
    from_npz = read_light_curve(npz_path, time_column="when", flux_column="brightness", flux_err_column="noise")
    np.testing.assert_array_equal(from_npz.flux, FLUX)
    np.testing.assert_array_equal(from_npz.flux_err, ERR)


# ------------------------------------------------------------------ wrong columns: clear errors
def _message(path: Path, **options: object) -> str:
    with pytest.raises(LightCurveReadError) as caught:
        read_light_curve(path, **options)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


def test_wrong_column_names_and_positions_name_the_file_and_list_its_columns(tmp_path: Path) -> None:
    named = tmp_path / "named.csv"
    named.write_text("BJD,mag,mag_err\n2459000.1,12.0,0.01\n2459000.2,12.1,0.01\n")
    message = _message(named, flux_column="flux")
    assert "no flux column 'flux'" in message and "the columns are: BJD, mag, mag_err" in message
    message = _message(named, time_column="HJD")
    assert "no time column 'HJD'" in message and "BJD, mag, mag_err" in message
    message = _message(named, flux_err_column=7)
    assert "no column at position 7 for the flux_err" in message
    assert "the file has 3 column(s): BJD, mag, mag_err" in message

    headerless = tmp_path / "headerless.csv"
    np.savetxt(headerless, np.c_[TIME, FLUX], delimiter=",")
    message = _message(headerless, flux_column="flux")
    assert "no flux column 'flux': the file has no header row (its first row is all numbers)" in message
    assert "flux_column=0 ... 1" in message
    message = _message(headerless, flux_column=2)
    assert "no column at position 2 for the flux" in message
    assert "2 column(s): 0, 1 (no header row: columns are chosen by 0-based position)" in message

    no_time = tmp_path / "no_time.csv"
    no_time.write_text("when,flux\n1.0,2.0\n")
    message = _message(no_time)
    assert "no time column (looked for time, btjd" in message
    assert "name it with time_column=" in message and "the columns are: when, flux" in message

    fits_path = write_spoc_fits(LightCurve(TIME, FLUX, target_id="TIC 3", sector=1), tmp_path / "star_lc.fits")
    assert "no flux column 'NOPE' in the light-curve table; its columns are: TIME" in _message(
        fits_path, flux_column="nope")
    assert "no column at position 99 for the time" in _message(fits_path, time_column=99)


@pytest.mark.parametrize("choice", [-1, 1.5, True, ""])
def test_a_column_choice_that_is_neither_name_nor_position_is_refused(tmp_path: Path, choice: object) -> None:
    path = tmp_path / "star.csv"
    np.savetxt(path, np.c_[TIME, FLUX], delimiter=",")
    with pytest.raises(ValueError, match="flux_column must be a column name or a 0-based position"):
        read_light_curve(path, flux_column=choice)  # type: ignore[arg-type]


# ------------------------------------------------------------------ magnitudes
def test_bjd_mag_file_reads_as_relative_flux(tmp_path: Path) -> None:
    magnitudes = 12.0 + 0.01 * np.sin(np.arange(50))
    magnitudes[20:25] += 0.02  # a transit: the star is fainter, the magnitude larger
    path = tmp_path / "star.csv"
    path.write_text("BJD,mag\n" + rows(2459000 + TIME, magnitudes))
    lc = read_light_curve(path)
    np.testing.assert_allclose(lc.flux, relative(magnitudes), rtol=1e-12)
    assert lc.flux_err is None
    assert lc.flux[20:25].max() < np.median(lc.flux)  # the transit is a dip in flux
    assert lc.meta["flux_converted_from"] == "mag"
    assert lc.meta["flux_unit"] == "relative"
    assert lc.meta["flux_column"] == "mag"
    assert lc.meta["reference_magnitude"] == pytest.approx(float(np.median(magnitudes)))
    assert (lc.meta["time_format"], lc.meta["time_scale"]) == ("bjd", "tdb")


@pytest.mark.parametrize(("names", "error_name"),
                         [("BJD,mag,mag_err", "mag_err"), ("mjd,mag,magerr", "magerr"), ("hjd,Vmag,e_Vmag", "e_Vmag"),
                          ("time,g_mag,g_mag_err", "g_mag_err")])
def test_magnitude_errors_are_propagated(tmp_path: Path, names: str, error_name: str) -> None:
    magnitudes = 11.0 + 0.05 * np.cos(np.arange(50))
    errors = np.linspace(0.001, 0.02, 50)
    path = tmp_path / "star.csv"
    path.write_text(names + "\n" + rows(TIME, magnitudes, errors))
    lc = read_light_curve(path)
    expected = relative(magnitudes)
    np.testing.assert_allclose(lc.flux, expected, rtol=1e-12)
    assert lc.flux_err is not None
    np.testing.assert_allclose(lc.flux_err, LN10_04 * expected * errors, rtol=1e-12)


def test_non_finite_magnitudes_become_nan_flux_not_errors(tmp_path: Path) -> None:
    path = tmp_path / "star.csv"
    path.write_text("BJD,mag,mag_err\n2459000.1,12.0,0.01\n2459000.2,nan,0.01\n2459000.3,inf,0.01\n"
                    "2459000.4,,0.01\n2459000.5,12.2,0.01\n2459000.6,-1e400,0.01\n")
    lc = read_light_curve(path)
    assert len(lc) == 6
    assert np.isnan(lc.flux[[1, 2, 3, 5]]).all()
    assert lc.meta["reference_magnitude"] == pytest.approx(12.1)
    np.testing.assert_allclose(lc.flux[[0, 4]], [10 ** 0.04, 10 ** -0.04])


def test_a_file_of_only_non_finite_magnitudes_says_so(tmp_path: Path) -> None:
    path = tmp_path / "star.csv"
    path.write_text("BJD,mag\n2459000.1,nan\n2459000.2,inf\n")
    with pytest.raises(LightCurveError, match=re.escape(f"{path}: no finite magnitude in column 'mag'")):
        read_light_curve(path)


@pytest.mark.parametrize("unit", ["mag", "magnitude", u.mag, u.ABmag])
def test_flux_unit_mag_converts_a_column_of_any_name(tmp_path: Path, unit: object) -> None:
    magnitudes = 9.0 + 0.1 * np.sin(np.arange(50))
    path = tmp_path / "star.txt"
    np.savetxt(path, np.c_[TIME, magnitudes])
    lc = read_light_curve(path, flux_unit=unit)
    np.testing.assert_allclose(lc.flux, relative(magnitudes), rtol=1e-12)
    assert lc.meta["flux_converted_from"] == "mag"


def test_flux_unit_flux_keeps_a_mag_named_column_as_stored(tmp_path: Path) -> None:
    path = tmp_path / "star.csv"
    path.write_text("time,mag\n1.0,12.0\n2.0,13.0\n")
    lc = read_light_curve(path, flux_unit="flux")
    assert lc.flux.tolist() == [12.0, 13.0]
    assert "flux_converted_from" not in lc.meta


@pytest.mark.parametrize(("unit", "recorded"),
                         [("electron/s", "electron / s"), (u.electron / u.s, "electron / s"), ("Jy", "Jy"),
                          ("relative", "relative")])
def test_flux_units_are_recorded_and_fluxes_kept(tmp_path: Path, unit: object, recorded: str) -> None:
    path = tmp_path / "star.csv"
    np.savetxt(path, np.c_[TIME, FLUX], delimiter=",")
    lc = read_light_curve(path, flux_unit=unit)
    np.testing.assert_array_equal(lc.flux, FLUX)
    assert lc.meta["flux_unit"] == recorded


def test_an_unknown_flux_unit_is_refused_with_the_choices(tmp_path: Path) -> None:
    path = tmp_path / "star.csv"
    np.savetxt(path, np.c_[TIME, FLUX], delimiter=",")
    with pytest.raises(ValueError, match="unknown flux_unit 'furlongs': use 'mag'"):
        read_light_curve(path, flux_unit="furlongs")


@pytest.mark.parametrize("suffix", ["csv", "npz"])
def test_a_converted_curve_written_and_read_back_is_not_converted_twice(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / "star.csv"
    path.write_text("BJD,mag,mag_err\n2459000.1,12.0,0.01\n2459000.2,12.5,0.01\n2459000.3,11.5,0.01\n")
    lc = read_light_curve(path)
    written = lc.to_csv(tmp_path / "back.csv") if suffix == "csv" else lc.to_npz(tmp_path / "back.npz")
    back = read_light_curve(written)
    np.testing.assert_allclose(back.flux, lc.flux, rtol=1e-15)
    assert back.meta["flux_converted_from"] == "mag"


# ------------------------------------------------------------------ property tests
magnitude_arrays = hnp.arrays(np.float64, st.integers(3, 60).filter(lambda n: n % 2 == 1),
                              elements=st.floats(min_value=-2.0, max_value=25.0))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(magnitudes=magnitude_arrays, data=st.data())
def test_magnitudes_round_trip_and_brighter_means_more_flux(
    tmp_path: Path, magnitudes: np.ndarray, data: st.DataObject
) -> None:
    errors = data.draw(hnp.arrays(np.float64, magnitudes.size, elements=st.floats(0.0, 1.0)))
    path = tmp_path / "star.csv"
    path.write_text("BJD,mag,mag_err\n" + rows(2459000 + 0.01 * np.arange(magnitudes.size), magnitudes, errors))
    lc = read_light_curve(path)
    assert lc.flux_err is not None
    # Relative flux: 1 at the median magnitude (odd lengths: the median is one of the values).
    assert float(np.median(lc.flux)) == pytest.approx(1.0, rel=1e-12)
    # Brighter (smaller magnitude) never has less flux, and strictly more when the magnitudes differ visibly.
    order = np.argsort(magnitudes, kind="stable")
    assert (np.diff(lc.flux[order]) <= 0).all()
    clearly = np.diff(magnitudes[order]) > 1e-9
    assert (np.diff(lc.flux[order])[clearly] < 0).all()
    # The magnitudes come back from the fluxes, and the errors follow sigma_f = 0.4 ln10 f sigma_m.
    np.testing.assert_allclose(-2.5 * np.log10(lc.flux) + lc.meta["reference_magnitude"], magnitudes, atol=1e-9)
    np.testing.assert_allclose(lc.flux_err, LN10_04 * lc.flux * errors, rtol=1e-12, atol=0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    table=hnp.arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(2, 5)),
                     elements=st.floats(-1e6, 1e6, allow_subnormal=False)),
    whitespace=st.booleans(),
    data=st.data(),
)
def test_headerless_tables_read_back_exactly_by_position(
    tmp_path: Path, table: np.ndarray, whitespace: bool, data: st.DataObject
) -> None:
    table[:, 0] = np.arange(table.shape[0], dtype=np.float64)  # times must increase
    path = tmp_path / ("star.txt" if whitespace else "star.csv")
    np.savetxt(path, table, delimiter=" " if whitespace else ",")
    flux_position = data.draw(st.integers(1, table.shape[1] - 1))
    lc = read_light_curve(path, flux_column=flux_position)
    np.testing.assert_array_equal(lc.time, table[:, 0])
    np.testing.assert_array_equal(lc.flux, table[:, flux_position])
    if flux_position == 1 and table.shape[1] > 2:
        assert lc.flux_err is not None
        np.testing.assert_array_equal(lc.flux_err, table[:, 2])


# ------------------------------------------------------------------ the same options through datasets
def test_a_dataset_reads_magnitude_files_through_light_curve_reader(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for label in ("negative", "positive"):
        (tmp_path / label).mkdir()
        for star in range(2):
            magnitudes = 12.0 + rng.normal(0, 0.001, 200)
            np.savetxt(tmp_path / label / f"star{star}.csv", np.c_[np.arange(200) / 48, magnitudes], delimiter=",")
    load = light_curve_reader(flux_unit="mag", time_format="bjd")
    assert pickle.loads(pickle.dumps(load)).options == load.options  # DataLoader workers get a copy
    dataset = LightCurveDataset.from_directory(tmp_path, load=load, input_length=64)
    lc = dataset.light_curve(0)
    assert lc.meta["flux_converted_from"] == "mag" and lc.meta["time_format"] == "bjd"
    assert float(np.median(lc.flux)) == pytest.approx(1.0, abs=1e-3)
    x, _ = dataset[0]
    assert tuple(x.shape) == (64,)


def test_light_curve_reader_refuses_unknown_options_at_once() -> None:
    with pytest.raises(TypeError, match="read_light_curve has no option flux_col"):
        light_curve_reader(flux_col=1)
    with pytest.raises(ValueError, match="unknown flux_unit"):
        light_curve_reader(flux_unit="furlongs")
