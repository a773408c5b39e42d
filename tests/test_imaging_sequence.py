"""AdiSequence: validation messages, the centring check, FITS in the VIP/EIDC layouts, plot."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from astropy.io import fits
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.sequence import AdiSequence, estimate_fwhm, read_fits, write_fits

matplotlib.use("Agg")

N, FRAMES, FWHM = 41, 12, 4.0
ANGLES = np.linspace(-30.0, 40.0, FRAMES)


def gaussian_psf(size: int = 11, fwhm: float = FWHM) -> np.ndarray:
    yy, xx = np.indices((size, size)) - size // 2
    return np.exp(-(yy**2 + xx**2) / (2 * (fwhm / 2.3548) ** 2))


def halo_cube(shift: tuple[float, float] = (0.0, 0.0), *, dark_core: bool = False, seed: int = 0) -> np.ndarray:
    """A Moffat halo (beta 1.5) around ``centre + shift``, noise on top; optionally a coronagraph's dark core."""
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((N, N), dtype=np.float64)
    r2 = (yy - 20.0 - shift[0]) ** 2 + (xx - 20.0 - shift[1]) ** 2
    halo = 1000.0 / (1 + r2 / 9.0) ** 1.5
    if dark_core:
        halo *= 1 - np.exp(-r2 / (2 * 2.0**2))
    return halo[None] + rng.normal(scale=0.5, size=(FRAMES, N, N))


def sequence(**changes) -> AdiSequence:
    arguments = {"cube": halo_cube(), "angles": ANGLES, "psf": gaussian_psf(), "pixel_scale": 0.0125,
                 "fwhm": FWHM, "path": "star.fits"}
    arguments.update(changes)
    return AdiSequence(**arguments)


def write_primary(path: Path, data, **header) -> Path:
    hdu = fits.PrimaryHDU(np.asarray(data))
    for key, value in header.items():
        hdu.header[key] = value
    hdu.writeto(path)
    return path


def eidc_files(folder: Path, cube=None, angles=None, psf=None) -> Path:
    """EIDC layout: instrument_cube_1.fits, instrument_pa_1.fits, instrument_psf_1.fits, instrument_pxscale_1.fits."""
    write_primary(folder / "sphere_pa_1.fits", ANGLES if angles is None else angles)
    write_primary(folder / "sphere_psf_1.fits", gaussian_psf() if psf is None else psf)
    write_primary(folder / "sphere_pxscale_1.fits", [0.01225])
    return write_primary(folder / "sphere_cube_1.fits", halo_cube() if cube is None else cube)


# ------------------------------------------------------------------------------------------ validation
def test_a_good_sequence_keeps_its_fields_and_the_default_centre():
    seq = sequence()
    assert seq.n_frames == FRAMES and seq.shape == (N, N) and seq.center == (20.0, 20.0)
    assert seq.cube.dtype == np.float64


@pytest.mark.parametrize(("changes", "problem"), [
    ({"cube": np.ones((N, N))}, "the cube must be 3-D (frames, y, x), got shape (41, 41)"),
    ({"angles": ANGLES[:-1]}, "12 frames but 11 parallactic angles"),
    ({"cube": np.ones((1, N, N)), "angles": [0.0]}, "1 frame(s): ADI needs at least 2"),
    ({"pixel_scale": 0.0}, "pixel_scale must be a positive number, got 0.0"),
    ({"fwhm": -1.0}, "fwhm must be a positive number, got -1.0"),
    ({"fwhm": float("nan")}, "fwhm must be a positive number"),
    ({"center": (20.0, 45.0)}, "center (y, x) = (20, 45) is outside the 41x41 frame"),
    ({"angles": np.where(np.arange(FRAMES) == 4, np.nan, ANGLES)}, "non-finite parallactic angles at frames 4"),
    ({"angles": np.radians(np.linspace(0, 50, FRAMES))},
     "angles look like radians (span 0.87, all within +-2 pi); pass degrees (np.degrees)"),
    ({"psf": np.ones((3, 3, 3))}, "the PSF must be 2-D, got shape (3, 3, 3)"),
    ({"psf": np.ones((10, 10))}, "the PSF is 10x10: an odd size is needed"),
    ({"psf": gaussian_psf(43)}, "the PSF (43x43) is larger than a frame (41x41)"),
    ({"psf": np.where(gaussian_psf() > 0.9, np.inf, gaussian_psf())}, "the PSF has 1 non-finite pixels"),
    ({"psf": np.roll(gaussian_psf(), 3, axis=1)}, "the PSF peaks at (5, 8), not at its centre (5, 5)"),
    ({"fwhm": 12.5}, "fwhm 12.5 px is wider than the PSF template (11x11)"),
])
def test_each_bad_input_is_refused_with_the_file_and_the_problem(changes, problem):
    with pytest.raises(ImagingError) as caught:
        sequence(**changes)
    assert str(caught.value).startswith("star.fits: ") and problem in str(caught.value)


def test_frames_with_nan_or_inf_are_named_and_can_be_dropped():
    cube = halo_cube()
    cube[3, 0, 0], cube[7] = np.inf, np.nan
    with pytest.raises(ImagingError, match=r"star.fits: frames 3, 7 have non-finite .*drop_bad_frames=True"):
        sequence(cube=cube)
    cube[:, 0, 0] = np.nan  # a NaN mask in every frame: dropping would leave nothing
    with pytest.raises(ImagingError, match="every frame has non-finite.*np.nan_to_num"):
        sequence(cube=cube)
    many = halo_cube()
    many[[0, 1, 2, 4, 5, 6, 8]] = np.nan
    with pytest.raises(ImagingError, match=r"frames 0, 1, 2, 4, 5 \(and 2 more\)"):
        sequence(cube=many)


def test_degrees_that_hug_zero_pass_when_declared():
    small = np.linspace(-3.0, 3.0, FRAMES)
    with pytest.raises(ImagingError, match="look like radians"):
        sequence(angles=small)
    assert sequence(angles=small, meta={"angle_unit": "deg"}).angles.tolist() == small.tolist()
    assert sequence(angles=np.zeros(FRAMES)).n_frames == FRAMES  # no rotation is not a unit mistake


def test_validate_false_keeps_the_shape_checks_only():
    cube = halo_cube()
    cube[0, 0, 0] = np.nan
    assert sequence(cube=cube, validate=False).n_frames == FRAMES
    with pytest.raises(ImagingError, match="12 frames but 3"):
        sequence(angles=[0.0, 1.0, 2.0], validate=False)


def test_drop_frames_removes_frames_and_angles_and_records_them():
    seq = sequence().drop_frames([0, -1])
    assert seq.n_frames == FRAMES - 2 and seq.angles.tolist() == ANGLES[1:-1].tolist()
    assert seq.meta["dropped_frames"] == [0, FRAMES - 1] and seq.path == "star.fits"


# ------------------------------------------------------------------------------------------- centring
def test_a_centred_halo_passes_and_is_measured_at_the_centre():
    measured = sequence().check_centering()
    assert measured is not None and np.hypot(measured[0] - 20, measured[1] - 20) < 0.1


@pytest.mark.parametrize("dark_core", [False, True])
def test_a_halo_off_by_3_px_is_refused(dark_core):
    seq = sequence(cube=halo_cube((3.0, 0.0), dark_core=dark_core))
    with pytest.raises(ImagingError, match=r"star.fits: the star is at \(y, x\) = \(2[23]\.\d\d, 20\.\d\d\), "
                                           r"[23]\.\d\d px from center \(20, 20\) \(tolerance 0.5 px\)"):
        seq.check_centering()
    measured = seq.measure_center()
    assert measured is not None and abs(measured[0] - 23.0) < 0.1 and abs(measured[1] - 20.0) < 0.1
    assert sequence(cube=seq.cube, center=measured).check_centering() is not None  # the advice works


def test_a_small_offset_within_tolerance_passes():
    assert sequence(cube=halo_cube((0.3, -0.2))).check_centering() is not None
    with pytest.raises(ImagingError, match="tolerance 0.1 px"):
        sequence(cube=halo_cube((0.3, -0.2))).check_centering(tolerance=0.1)


def test_noise_without_a_halo_is_not_judged():
    noise = np.random.default_rng(1).normal(size=(FRAMES, N, N))
    with pytest.warns(UserWarning, match="star.fits: no stellar halo"):
        assert sequence(cube=noise).check_centering() is None


# ----------------------------------------------------------------------------------------------- FITS
def test_eidc_layout_with_neighbour_files_and_pxscale(tmp_path):
    seq = read_fits(eidc_files(tmp_path))
    assert seq.n_frames == FRAMES and seq.angles.tolist() == ANGLES.tolist()
    assert seq.pixel_scale == pytest.approx(0.01225) and seq.path == str(tmp_path / "sphere_cube_1.fits")
    assert seq.meta["fwhm_source"] == "2-D Gaussian fit to the PSF" and seq.fwhm == pytest.approx(FWHM, abs=0.05)
    assert seq.meta["angles_file"] == str(tmp_path / "sphere_pa_1.fits")


def test_vip_layout_with_explicit_paths_and_header_pixel_scale_in_mas(tmp_path):
    cube = write_primary(tmp_path / "data.fits", halo_cube(), PIXSCAL=12.25, FWHM=4.2)
    angles = write_primary(tmp_path / "angles.fits", ANGLES)
    psf = write_primary(tmp_path / "template.fits", gaussian_psf())
    seq = read_fits(cube, angles, psf)
    assert seq.pixel_scale == pytest.approx(0.01225) and seq.meta["pixel_scale_converted_from"] == "mas"
    assert seq.fwhm == 4.2 and seq.meta["fwhm_source"] == "header FWHM"
    seq = read_fits(cube, angles, psf, pixel_scale=str(write_primary(tmp_path / "px.fits", [0.02])), fwhm=3.0)
    assert seq.pixel_scale == 0.02 and seq.fwhm == 3.0


def test_one_file_with_angles_and_psf_extensions(tmp_path):
    primary = fits.PrimaryHDU(halo_cube())
    primary.header["PIXSCALE"] = 0.0272
    hdus = fits.HDUList([primary, fits.ImageHDU(ANGLES, name="ANGLES"), fits.ImageHDU(gaussian_psf(), name="PSF")])
    hdus.writeto(tmp_path / "all.fits")
    seq = read_fits(tmp_path / "all.fits", fwhm=FWHM)
    assert seq.pixel_scale == 0.0272 and seq.psf.shape == (11, 11)
    assert seq.meta["psf_file"] == f"{tmp_path / 'all.fits'}[PSF]"


def test_radian_angles_declared_by_bunit_are_converted(tmp_path):
    cube = eidc_files(tmp_path)
    (tmp_path / "sphere_pa_1.fits").unlink()
    write_primary(tmp_path / "sphere_pa_1.fits", np.radians(ANGLES), BUNIT="rad")
    seq = read_fits(cube)
    assert np.allclose(seq.angles, ANGLES) and seq.meta["angles_converted_from"] == "rad"


def test_4d_cubes_squeeze_one_channel_and_need_channel_for_more(tmp_path):
    one = eidc_files(tmp_path, cube=halo_cube()[None])
    assert read_fits(one).cube.shape == (FRAMES, N, N)
    two = write_primary(tmp_path / "ifs_cube.fits", np.stack([halo_cube(), 2 * halo_cube(seed=1)]))
    write_primary(tmp_path / "ifs_psf.fits", np.stack([gaussian_psf(), gaussian_psf(fwhm=5.0)]))
    kwargs = {"angles_path": tmp_path / "sphere_pa_1.fits", "pixel_scale": 0.0074}
    with pytest.raises(ImagingError, match=r"ifs_cube.fits: the cube has 2 wavelength channels .*channel=0..1"):
        read_fits(two, **kwargs)
    seq = read_fits(two, channel=1, **kwargs)
    assert seq.cube.max() > 1.5 * halo_cube().max() and seq.fwhm == pytest.approx(5.0, abs=0.05)
    with pytest.raises(ImagingError, match="ifs_cube.fits: channel=2 but the cube has 2 channels"):
        read_fits(two, channel=2, **kwargs)


@pytest.mark.parametrize(("make", "problem"), [
    (lambda folder: folder / "sphere_cube_1.fits", "no such file"),
    (lambda folder: write_primary(folder / "sphere_cube_1.fits", np.ones((N, N))), "the cube HDU is 2-D"),
    (lambda folder: write_primary(folder / "sphere_cube_1.fits", np.ones((2, 2, 3, N, N))), "is 5-D"),
])
def test_bad_cube_files_are_named(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(ImagingError, match=problem) as caught:
        read_fits(path)
    assert str(caught.value).startswith(str(path))


def test_empty_and_truncated_files_are_named(tmp_path):
    empty = tmp_path / "empty_cube.fits"
    empty.write_bytes(b"")
    with pytest.raises(ImagingError, match=f"^{empty}: cannot read it as FITS"):
        read_fits(empty)
    whole = write_fits(sequence(), tmp_path / "star")
    data = whole.read_bytes()
    whole.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImagingError, match=f"^{whole}: the file is truncated or corrupt"):
        read_fits(whole)
    only_header = tmp_path / "header_cube.fits"
    only_header.write_bytes(data[:1000])
    with pytest.raises(ImagingError, match=f"^{only_header}: "):
        read_fits(only_header)


def test_angle_file_problems_name_the_angles_file(tmp_path):
    cube = eidc_files(tmp_path, angles=ANGLES[:-1])
    angles = tmp_path / "sphere_pa_1.fits"
    with pytest.raises(ImagingError, match=f"^{angles}: 12 frames in sphere_cube_1.fits but 11 parallactic"):
        read_fits(cube)
    angles.unlink()
    write_primary(angles, np.radians(ANGLES))
    with pytest.raises(ImagingError, match=f"^{angles}: angles look like radians"):
        read_fits(cube)
    angles.unlink()
    with pytest.raises(ImagingError, match=f"^{cube}: no pa found: pass angles_path="):
        read_fits(cube)


def test_psf_file_problems_name_the_psf_file(tmp_path):
    cube = eidc_files(tmp_path, psf=np.ones((8, 8)))
    with pytest.raises(ImagingError, match=f"^{tmp_path / 'sphere_psf_1.fits'}: the PSF is 8x8"):
        read_fits(cube, fwhm=FWHM)


def test_missing_pixel_scale_is_asked_for(tmp_path):
    cube = eidc_files(tmp_path)
    (tmp_path / "sphere_pxscale_1.fits").unlink()
    with pytest.raises(ImagingError, match=f"^{cube}: no pixel scale: pass pixel_scale="):
        read_fits(cube)


def test_read_fits_checks_the_centring_unless_told_not_to(tmp_path):
    cube = eidc_files(tmp_path, cube=halo_cube((3.0, 0.0)))
    with pytest.raises(ImagingError, match=f"^{cube}: the star is at"):
        read_fits(cube)
    assert read_fits(cube, check_center=False).n_frames == FRAMES
    assert read_fits(cube, center=(23.0, 20.0)).center == (23.0, 20.0)


def test_read_fits_drops_bad_frames_on_request(tmp_path):
    bad = halo_cube()
    bad[[2, 5], 10, 10] = np.nan
    cube = eidc_files(tmp_path, cube=bad)
    with pytest.raises(ImagingError, match=f"^{cube}: frames 2, 5 have non-finite"):
        read_fits(cube)
    seq = read_fits(cube, drop_bad_frames=True)
    assert seq.n_frames == FRAMES - 2 and seq.meta["dropped_frames"] == [2, 5]
    assert seq.angles.tolist() == np.delete(ANGLES, [2, 5]).tolist()


def test_write_fits_round_trips_and_never_overwrites_silently(tmp_path):
    seq = sequence(center=(20.5, 19.5))
    cube = write_fits(seq, tmp_path / "star")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["star_cube.fits", "star_pa.fits", "star_psf.fits"]
    back = read_fits(cube, check_center=False)
    assert np.array_equal(back.cube, seq.cube) and np.array_equal(back.angles, seq.angles)
    assert np.array_equal(back.psf, seq.psf) and back.center == (20.5, 19.5) and back.fwhm == FWHM
    before = cube.read_bytes()
    with pytest.raises(ImagingError, match=f"^{tmp_path / 'star_pa.fits'}: already exists .*overwrite=True"):
        write_fits(sequence(), tmp_path / "star")
    assert cube.read_bytes() == before
    write_fits(sequence(), tmp_path / "star", overwrite=True)
    assert read_fits(cube).center == (20.0, 20.0)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary left behind


def test_write_fits_into_a_folder_and_a_missing_folder(tmp_path):
    cube = write_fits(sequence(), tmp_path)
    assert cube == tmp_path / "cube.fits" and read_fits(cube).n_frames == FRAMES
    with pytest.raises(ImagingError, match="no such folder"):
        write_fits(sequence(), tmp_path / "nowhere" / "star")


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    cube = write_fits(sequence(), tmp_path / "star")
    before = cube.read_bytes()

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(ImagingError, match="could not write it .*No space left on device.*unchanged"):
        write_fits(sequence(cube=2 * halo_cube()), tmp_path / "star", overwrite=True)
    assert cube.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["star_cube.fits", "star_pa.fits", "star_psf.fits"]


@st.composite
def sequences(draw) -> AdiSequence:
    frames, ny, nx = draw(st.integers(2, 5)), draw(st.integers(5, 12)), draw(st.integers(5, 12))
    finite = st.floats(-1e6, 1e6, allow_nan=False, width=64)
    cube = np.array(draw(st.lists(finite, min_size=frames * ny * nx, max_size=frames * ny * nx)))
    angles = draw(st.lists(st.floats(-180, 180), min_size=frames, max_size=frames))
    psf = np.zeros((3, 3))
    psf[1, 1] = draw(st.floats(0.1, 10))
    center = (draw(st.floats(0, ny - 1)), draw(st.floats(0, nx - 1)))
    return AdiSequence(cube.reshape(frames, ny, nx), angles, psf, draw(st.floats(1e-4, 0.5)),
                       draw(st.floats(0.5, 3.0)), center=center, meta={"angle_unit": "deg"})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seq=sequences())
def test_round_trip_property(tmp_path, seq):
    cube = write_fits(seq, tmp_path / "prop", overwrite=True)
    back = read_fits(cube, check_center=False)
    assert np.array_equal(back.cube, seq.cube) and np.array_equal(back.angles, seq.angles)
    assert np.array_equal(back.psf, seq.psf)
    assert back.pixel_scale == pytest.approx(seq.pixel_scale, rel=1e-12)
    assert back.fwhm == pytest.approx(seq.fwhm, rel=1e-12)
    assert back.center == pytest.approx(seq.center, rel=1e-12, abs=1e-12)


def test_estimate_fwhm_of_a_gaussian_and_of_a_flat_top():
    assert estimate_fwhm(gaussian_psf(fwhm=3.0)) == pytest.approx(3.0, abs=0.02)
    with pytest.raises(ImagingError, match="psf.fits: cannot estimate the FWHM"):
        estimate_fwhm(-np.ones((5, 5)), "psf.fits")


# ----------------------------------------------------------------------------------------------- plot
def test_plot_draws_the_frame_the_centre_and_the_fwhm_circle():
    import matplotlib.pyplot as plt

    seq = sequence()
    ax = seq.plot()
    assert ax.images and ax.images[0].get_array().shape == (N, N)
    assert "median of 12 frames" in ax.get_title() and ax.get_title().startswith("star.fits")
    circle = ax.patches[0]
    assert circle.get_radius() == FWHM / 2 and tuple(circle.center) == (20.0, 20.0)
    assert ax.lines[0].get_xdata()[0] == 20.0
    ax.figure.canvas.draw()  # really renders (Agg)
    _, given_ax = plt.subplots()
    assert seq.plot(3, ax=given_ax) is given_ax and "frame 3" in given_ax.get_title()
    with pytest.raises(ValueError, match="frame must be 'median' or an index"):
        seq.plot(FRAMES)
    plt.close("all")
