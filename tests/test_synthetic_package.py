"""qusi_lab.synthetic as a package: same bytes from the same seed, the public names, the renamed names.

The module was split into population / timeline / noise / rendering / writing; these tests hold what the
split must not change: every public name importable from ``qusi_lab.synthetic``, the worker function
picklable (by reference) for worker processes, byte-identical files for one seed, and the deprecated
spellings (``n_workers=``, ``make_light_curve``, ``transforms.base.make_lightcurve``) still working.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import qusi_lab as ql
import qusi_lab.synthetic as synthetic
from qusi_lab.synthetic import make_sector, synthetic_light_curve
from qusi_lab.synthetic.writing import _work_chunk

# Everything qusi_lab/synthetic.py exported (its __all__) or defined as a public constant before the split.
PUBLIC_BEFORE_SPLIT = [
    "DEFAULT_MIX", "DEFAULT_SNR_RANGE", "STAR_KINDS", "SIGNAL_KIND_OF_LABEL", "TESS_DEFAULT_QUALITY_BITMASK",
    "QualityFlags", "SectorResult", "SectorTimeline", "make_sector", "make_light_curve", "matched_filter_snr",
    "load_truth", "sector_timeline", "sector_start_btjd", "spoc_file_name", "tess_noise_ppm",
    "tess_flux_from_magnitude", "MINUTES_PER_DAY", "SECTOR_DAYS", "SECTOR_ONE_START_BTJD", "SECTOR_STEP_DAYS",
    "TESS_ZERO_POINT_FLUX", "BTJD_OFFSET", "TRUTH_FILENAME", "SPLITS",
]


def file_digests(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory`` (FITS files and truth.csv), by relative path."""
    return {
        str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def test_every_public_name_is_importable_from_the_package() -> None:
    for name in PUBLIC_BEFORE_SPLIT:
        assert getattr(synthetic, name) is getattr(ql.synthetic, name), name
    assert set(synthetic.__all__) <= set(dir(synthetic))
    # The sub-modules are the homes of the objects the package shows.
    assert synthetic.make_sector.__module__ == "qusi_lab.synthetic.writing"
    assert synthetic.synthetic_light_curve.__module__ == "qusi_lab.synthetic.rendering"
    assert synthetic.sector_timeline is synthetic.timeline.sector_timeline


def test_same_seed_gives_byte_identical_files_whatever_the_workers(tmp_path: Path) -> None:
    arguments = dict(n_stars=6, seed=7, mix={"planet": 0.3, "eclipsing_binary": 0.2, "heartbeat": 0.2,
                                             "flare": 0.1, "quiet": 0.2})
    make_sector(tmp_path / "one", num_workers=1, **arguments)
    make_sector(tmp_path / "two", num_workers=2, chunk_size=3, **arguments)
    one = file_digests(tmp_path / "one")
    assert len(one) == 7 and "truth.csv" in one  # 6 FITS files and the truth table
    assert file_digests(tmp_path / "two") == one
    make_sector(tmp_path / "other", num_workers=1, **{**arguments, "seed": 8})
    assert set(file_digests(tmp_path / "other").values()).isdisjoint(set(one.values()) - {one["truth.csv"]})


@pytest.mark.slow  # a spawned interpreter imports numpy, scipy and astropy: a few seconds
def test_the_worker_function_pickles_by_reference_and_runs_in_a_spawned_process(tmp_path: Path) -> None:
    # Worker processes receive _work_chunk by its module path: it must be importable there after the split.
    assert pickle.loads(pickle.dumps(_work_chunk)) is _work_chunk
    task = (str(tmp_path / "spawned"), 1, 3, 2.0, (7.0, 100.0), [(0, "planet", "a.fits"), (1, "quiet", "b.fits")])
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as executor:
        spawned_rows = executor.submit(_work_chunk, task).result()
    local_rows = _work_chunk((str(tmp_path / "local"), *task[1:]))
    assert [row["tic_id"] for row in spawned_rows] == [row["tic_id"] for row in local_rows]
    for name in ("a.fits", "b.fits"):
        assert (tmp_path / "spawned" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


def test_n_workers_is_the_deprecated_spelling_of_num_workers(tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning, match=r"make_sector\(n_workers=\) is now make_sector\(num_workers=\)"):
        old = make_sector(tmp_path / "old", n_stars=4, seed=2, n_workers=2, chunk_size=2)
    new = make_sector(tmp_path / "new", n_stars=4, seed=2, num_workers=2, chunk_size=2)
    assert old.num_workers == new.num_workers == 2
    assert file_digests(tmp_path / "old") == file_digests(tmp_path / "new")
    with pytest.warns(DeprecationWarning, match="SectorResult.n_workers is now SectorResult.num_workers"):
        assert new.n_workers == 2
    with pytest.raises(TypeError, match="num_workers only"):
        make_sector(tmp_path / "both", n_stars=4, num_workers=1, n_workers=1)


def test_make_light_curve_is_the_deprecated_name_of_synthetic_light_curve() -> None:
    with pytest.warns(DeprecationWarning, match="make_light_curve is now qusi_lab.synthetic.rendering"):
        old = synthetic.make_light_curve("heartbeat", seed=3)
    new = synthetic_light_curve("heartbeat", seed=3)
    assert old.time.tobytes() == new.time.tobytes() and old.flux.tobytes() == new.flux.tobytes()
    assert old.meta["injected"] == new.meta["injected"]


def test_make_lightcurve_is_the_deprecated_name_of_with_flux() -> None:
    from qusi_lab.transforms.base import make_lightcurve, with_flux

    lc = ql.LightCurve([0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [0.1, 0.1, 0.1], {"target_id": "x"})
    with pytest.warns(DeprecationWarning, match="make_lightcurve is now qusi_lab.transforms.base.with_flux"):
        old = make_lightcurve(lc, lc.flux * 2, time=lc.time + 1)
    new = with_flux(lc, lc.flux * 2, time=lc.time + 1)
    assert np.array_equal(old.flux, new.flux) and np.array_equal(old.time, new.time)
    assert old.flux_err is None and new.flux_err is None and new.meta == lc.meta and new.meta is not lc.meta
