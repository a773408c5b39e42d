"""A light curve is checked once on its way from a file to a dataset, and the check is the same as before.

``LightCurve.validate`` skips a copy and ``np.diff`` (compared here with the previous implementation on arrays
hypothesis draws, NaN, infinities, ties and reversals included), and ``LightCurveDataset.light_curve`` trusts
the built-in readers' already validated curves for path sources, while a user's loader is still checked.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qusi_lab import LightCurve, LightCurveDataset
from qusi_lab.data.dataset import as_light_curve
from qusi_lab.errors import LightCurveError
from qusi_lab.io import read_light_curve, write_spoc_fits


def old_validate(lc: LightCurve) -> None:
    """``LightCurve.validate`` as it was (0.1.0 to 2026-12-06), from the finite checks on."""
    path = lc.meta.get("path")
    if lc.time.size == 0:
        raise LightCurveError("the light curve is empty (zero cadences)", path)
    finite = np.isfinite(lc.time) & np.isfinite(lc.flux)
    if not finite.any():
        raise LightCurveError("no cadence has both a finite time and a finite flux (all NaN or infinite?)", path)
    finite_times = lc.time[np.isfinite(lc.time)]
    with np.errstate(over="ignore"):  # 1e308 - (-1e308): inf, still > 0
        steps = np.diff(finite_times)
    if steps.size and not (steps > 0).all():
        where = int(np.argmin(steps > 0))
        raise LightCurveError(
            f"times do not increase (cadence {where + 1}: {float(finite_times[where])!r} -> "
            f"{float(finite_times[where + 1])!r}); sort the light curve or check the file",
            path,
        )


def outcome(check, lc: LightCurve) -> str:
    try:
        check(lc)
    except LightCurveError as error:
        return str(error)
    return "ok"


values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.sampled_from([0.0, 1.0, 1.0, 2.0, -1.0, 5e-324, 1e308, -1e308]))


@settings(max_examples=400, deadline=None)
@given(pairs=st.integers(0, 12).flatmap(
    lambda n: st.tuples(hnp.arrays(np.float64, n, elements=values), hnp.arrays(np.float64, n, elements=values))),
    sort=st.booleans())
def test_validate_accepts_and_refuses_as_before(pairs, sort):
    time, flux = pairs
    if sort:
        time = np.sort(time)  # mostly increasing: the interesting case, with ties and NaN at the end
    lc = LightCurve(time, flux, validate=False, path="star.fits")
    assert outcome(LightCurve.validate, lc) == outcome(old_validate, lc)


def test_validate_names_the_first_step_back():
    lc = LightCurve([1.0, np.nan, 2.0, 2.0, 3.0], [1.0, 1.0, 1.0, 1.0, 1.0], validate=False, path="star.fits")
    with pytest.raises(LightCurveError, match=r"star.fits: times do not increase \(cadence 2: 2.0 -> 2.0\)"):
        lc.validate()


def test_a_read_file_reaches_the_dataset_as_read(tmp_path):
    path = write_spoc_fits(LightCurve(1500 + np.arange(50) / 720, 1 + 0.01 * np.sin(np.arange(50.0))),
                           tmp_path / "star.fits", tic_id=7, sector=9)
    dataset = LightCurveDataset([path])
    from_dataset, read = dataset.light_curve(0), read_light_curve(path)
    again = as_light_curve(read_light_curve(path), path)  # what the dataset did before: the same curve
    for lc in (read, again):
        np.testing.assert_array_equal(from_dataset.time, lc.time)
        np.testing.assert_array_equal(from_dataset.flux, lc.flux)
        assert from_dataset.meta == lc.meta
    assert from_dataset.meta["path"] == str(path)


def test_a_users_loader_is_still_checked(tmp_path):
    """Only the built-in readers are trusted: a loader returning an unchecked curve still gets the check,
    and the error names the file."""
    path = tmp_path / "star.txt"
    path.write_text("whatever the user's format is")

    def load(source):
        return LightCurve([2.0, 1.0], [1.0, 1.0], validate=False)

    dataset = LightCurveDataset([path], load=load)
    with pytest.raises(LightCurveError, match=r"star.txt: times do not increase"):
        dataset.light_curve(0)


def test_plain_float64_arrays_are_kept_as_given_and_still_checked():
    """The constructor's shortcut for plain float64 arrays gives what the general path gave (the same
    arrays, not copies), still validates, and leaves every other input to the general path."""
    time, flux, err = np.arange(4.0), np.ones(4), np.full(4, 0.1)
    lc = LightCurve(time, flux, err, {"target_id": "a"}, sector=3)
    assert lc.time is time and lc.flux is flux and lc.flux_err is err
    assert lc.meta == {"target_id": "a", "sector": 3}
    with pytest.raises(LightCurveError, match="times do not increase"):
        LightCurve(time[::-1].copy(), flux)
    single = LightCurve(time.astype(np.float32), [1, 2, 3, 4])  # not float64 arrays: converted as before
    assert single.time.dtype == np.float64 and single.flux.dtype == np.float64
