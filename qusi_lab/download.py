"""Download TESS SPOC light curves from MAST, for machines with internet.

Two helpers, built on lightkurve (which queries MAST through astroquery); both are
imported only when called, so ``import qusi_lab`` never needs them:

* :func:`spoc_light_curves` downloads the SPOC light-curve files of some stars.
* :func:`download_spoc_transit_experiment` builds the dataset of qusi's transit tutorial
  on disk: ``spoc_transit_experiment/{train,validation,test}/{positive,negative}/``, positives
  being hosts of TESS Objects of Interest (TOIs) that are not false positives, negatives other
  SPOC 2-minute targets, split by star.

Without internet, :func:`qusi_lab.synthetic.make_sector` writes the same layout from a
simulated sector (``experiment=True``).

Example
-------
>>> from qusi_lab.download import spoc_light_curves
>>> paths = spoc_light_curves(["TIC 25155310"], sectors=[1])  # doctest: +SKIP
>>> manifest = download_spoc_transit_experiment("data", n_positive=100, n_negative=300)  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
import re
import shutil
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_TOI_TABLE_URL",
    "spoc_light_curves",
    "spoc_target_tic_ids",
    "load_toi_table",
    "download_spoc_transit_experiment",
]

#: ExoFOP's TOI list as CSV (columns "TIC ID", "TFOPWG Disposition", ...). The NASA Exoplanet
#: Archive's TOI table (columns "tid", "tfopwg_disp") works too: pass its CSV URL or a file.
DEFAULT_TOI_TABLE_URL = "https://exofop.ipac.caltech.edu/tess/download_toi.php?sort=toi&output=csv"
#: TFOPWG dispositions that are not planets: false positive, false alarm.
NOT_PLANET_DISPOSITIONS = ("FP", "FA")
#: Sectors the qusi tutorial drew its light curves from.
TUTORIAL_SECTORS = tuple(range(27, 56))
_TIC_COLUMNS = ("TIC ID", "TIC", "tic_id", "tid", "TICID")
_DISPOSITION_COLUMNS = ("TFOPWG Disposition", "tfopwg_disp", "disposition", "Disposition")


def _target_name(target: Any) -> str:
    """``"TIC 123"`` for TIC numbers (ints or digit strings); other names (``"Pi Men"``) unchanged."""
    if isinstance(target, (int, np.integer)):
        return f"TIC {int(target)}"
    text = str(target).strip()
    return f"TIC {int(text)}" if text.isdigit() else text


def _tic_number(target: Any) -> int | None:
    match = re.fullmatch(r"(?:tic|tess)?\s*(\d+)", str(target).strip(), re.IGNORECASE)
    return int(match.group(1)) if match else None


def _search(target: Any, sectors: Sequence[int] | None, author: str, exptime: Any) -> Any:
    import lightkurve

    sector = None if sectors is None else [int(value) for value in sectors]
    return lightkurve.search_lightcurve(
        _target_name(target), mission="TESS", author=author, exptime=exptime, sector=sector
    )


def spoc_light_curves(
    targets: Iterable[Any],
    *,
    sectors: Sequence[int] | None = None,
    directory: str | os.PathLike[str] = "data/downloads",
    author: str = "SPOC",
    exptime: int | str = 120,
    quality_bitmask: str | int = "default",
) -> list[Path]:
    """Download the TESS light-curve files of ``targets`` from MAST; return their paths.

    A thin layer over ``lightkurve.search_lightcurve(...).download_all(download_dir=...)``:
    files land in ``directory/mastDownload/TESS/<obs_id>/`` and are not downloaded again
    when already there.

    Parameters
    ----------
    targets:
        TIC numbers (``25155310``, ``"25155310"``, ``"TIC 25155310"``) or names MAST resolves (``"Pi Men"``).
    sectors:
        Only these sectors (default: all).
    directory:
        Download directory.
    author:
        Pipeline: ``"SPOC"`` (2-minute and 20-second), ``"TESS-SPOC"`` (full-frame images), ``"QLP"`` ...
    exptime:
        Exposure time in seconds (120 = 2-minute cadence) or ``"short"``/``"fast"``/``"long"``.
    quality_bitmask:
        Passed to lightkurve when it opens each file (the files themselves are unchanged).

    Returns
    -------
    list of Path
        One per file, in the order found. Targets without data (or names MAST cannot resolve)
        contribute nothing but a warning.

    Example
    -------
    >>> spoc_light_curves([25155310], sectors=[1, 2])  # doctest: +SKIP
    [PosixPath('data/downloads/mastDownload/TESS/tess2018206045859-s0001-0000000025155310-0120-s/...')]
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for target in targets:
        # lightkurve logs names MAST cannot resolve and returns an empty result: one bad name
        # does not stop a long list.
        result = _search(target, sectors, author, exptime)
        if result is None or len(result) == 0:
            where = "" if sectors is None else f" in sectors {list(sectors)}"
            warnings.warn(f"{_target_name(target)}: no {author} light curves found{where}", UserWarning, stacklevel=2)
            continue
        collection = result.download_all(download_dir=str(directory), quality_bitmask=quality_bitmask)
        for light_curve in collection or []:
            path = Path(light_curve.meta["FILENAME"])
            if path not in paths:
                paths.append(path)
    return paths


def load_toi_table(toi_table: Any = DEFAULT_TOI_TABLE_URL) -> Any:
    """The TOI table as a DataFrame with ``tic_id`` (int) and ``disposition`` (str) columns added.

    ``toi_table`` is a URL (fetched with requests), a CSV file path or a DataFrame, with the
    ExoFOP or NASA Exoplanet Archive column names.

    Example
    -------
    >>> toi = load_toi_table()  # doctest: +SKIP
    >>> toi[["tic_id", "disposition"]].head()  # doctest: +SKIP
    """
    import pandas as pd

    if isinstance(toi_table, pd.DataFrame):
        table = toi_table.copy()
    elif isinstance(toi_table, str) and toi_table.startswith(("http://", "https://")):
        import requests

        response = requests.get(toi_table, timeout=120)
        response.raise_for_status()
        # The Exoplanet Archive's CSV starts with "#" comment lines.
        table = pd.read_csv(io.StringIO(response.text), comment="#")
    else:
        table = pd.read_csv(toi_table, comment="#")
    tic_column = next((name for name in _TIC_COLUMNS if name in table.columns), None)
    if tic_column is None:
        raise ValueError(f"the TOI table has no TIC id column (looked for {_TIC_COLUMNS}); columns: {list(table.columns)}")
    disposition_column = next((name for name in _DISPOSITION_COLUMNS if name in table.columns), None)
    table["tic_id"] = table[tic_column].astype("int64")
    table["disposition"] = table[disposition_column].fillna("").astype(str) if disposition_column else ""
    return table


def spoc_target_tic_ids(
    sectors: Iterable[int], *, exptime: float = 120, author: str = "SPOC", minimum: int | None = None
) -> list[int]:
    """TIC numbers of the stars with SPOC light curves in ``sectors`` (one MAST query per sector).

    Stops after the sector that brings the count to ``minimum``, when given.

    Example
    -------
    >>> len(spoc_target_tic_ids([1]))  # doctest: +SKIP
    15889
    """
    from astroquery.mast import Observations

    found: dict[int, None] = {}
    for sector in sectors:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*continuous.*")
            table = Observations.query_criteria(
                project="TESS",
                provenance_name=author,
                dataproduct_type="timeseries",
                t_exptime=[float(exptime) - 1.0, float(exptime) + 1.0],
                sequence_number=int(sector),
            )
        for name in table["target_name"] if len(table) else []:
            number = _tic_number(name)
            if number is not None:
                found[number] = None
        if minimum is not None and len(found) >= minimum:
            break
    return list(found)


def _split_counts(total: int, fractions: Sequence[float]) -> list[int]:
    weights = np.asarray(fractions, dtype=np.float64)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    for position in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[position] += 1
    return counts.tolist()


def _download_target(
    tic_id: int,
    folder: Path,
    cache: Path,
    *,
    sectors: Sequence[int] | None,
    author: str,
    exptime: Any,
    files_per_target: int | None,
) -> list[Path]:
    """Download up to ``files_per_target`` light curves of one star into ``folder``; return the files."""
    result = _search(tic_id, sectors, author, exptime)
    if result is None or len(result) == 0:
        return []
    rows = range(len(result)) if files_per_target is None else range(min(files_per_target, len(result)))
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for row in rows:
        name = str(result.table["productFilename"][row])
        destination = folder / name
        if not destination.exists():
            light_curve = result[row].download(download_dir=str(cache), quality_bitmask="none")
            shutil.move(str(light_curve.meta["FILENAME"]), destination)
        written.append(destination)
    return written


def download_spoc_transit_experiment(
    directory: str | os.PathLike[str] = "data",
    n_positive: int = 100,
    n_negative: int = 300,
    *,
    sectors: Sequence[int] | None = TUTORIAL_SECTORS,
    toi_table: Any = DEFAULT_TOI_TABLE_URL,
    negative_tic_ids: Sequence[int] | None = None,
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    files_per_target: int | None = 1,
    experiment_name: str = "spoc_transit_experiment",
    author: str = "SPOC",
    exptime: int = 120,
    progress: bool = True,
) -> Any:
    """Download the transit dataset of qusi's tutorial: TOI hosts (positive) and other SPOC stars (negative).

    Positives are stars of the TOI table whose TFOPWG disposition is not a false positive or
    false alarm (``FP``/``FA``); negatives are random SPOC 2-minute targets of ``sectors`` that
    are not positives (TOIs dispositioned as false positives may be among them, as in qusi's
    script). Stars are split into train/validation/test *before* downloading, so every file of a
    star is in one split. Stars without SPOC data in ``sectors`` are skipped and replaced by the
    next candidates. A ``manifest.csv`` of what was downloaded is written next to the splits.

    Parameters
    ----------
    directory:
        Root: files go to ``directory/experiment_name/{train,validation,test}/{positive,negative}/``,
        MAST downloads pass through ``directory/.mast_cache``.
    n_positive, n_negative:
        Number of stars (not files) of each class.
    sectors:
        Sectors to draw light curves (and the negative candidates) from; default 27-55, as qusi's
        tutorial; None for every sector.
    toi_table:
        The TOI list: URL (default ExoFOP's), CSV path or DataFrame (see :func:`load_toi_table`).
    negative_tic_ids:
        Candidate negatives; default: the SPOC targets of ``sectors`` from MAST (:func:`spoc_target_tic_ids`).
    split_fractions:
        Train, validation, test fractions of the stars of each class.
    seed:
        Seeds the choice of stars and their split.
    files_per_target:
        At most this many sectors per star (None: all).
    experiment_name, author, exptime:
        Folder name; pipeline and cadence of the light curves.
    progress:
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        The manifest: ``tic_id``, ``class``, ``split``, ``path`` (relative to ``directory``).

    Example
    -------
    >>> manifest = download_spoc_transit_experiment("data", n_positive=20, n_negative=60, sectors=[27])  # doctest: +SKIP
    >>> datasets = LightCurveDataset.from_experiment("data/spoc_transit_experiment")  # doctest: +SKIP
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if n_positive < 0 or n_negative < 0:
        raise ValueError("n_positive and n_negative must be non-negative")
    root = Path(directory)
    experiment = root / experiment_name
    cache = root / ".mast_cache"
    rng = np.random.default_rng(seed)

    toi = load_toi_table(toi_table)
    planet = ~toi["disposition"].str.upper().isin(NOT_PLANET_DISPOSITIONS)
    positive_pool = sorted(set(int(tic) for tic in toi.loc[planet, "tic_id"]))
    positive_set = set(positive_pool)
    if negative_tic_ids is None:
        if sectors is None:
            raise ValueError("give sectors (to find SPOC targets for negatives) or negative_tic_ids")
        sector_order = [int(value) for value in rng.permutation(list(sectors))]
        candidates = spoc_target_tic_ids(sector_order, exptime=exptime, author=author, minimum=3 * n_negative + 1)
    else:
        candidates = [int(value) for value in negative_tic_ids]
    negative_pool = sorted(set(candidates) - positive_set)

    rows: list[dict[str, Any]] = []
    for label, pool, wanted in (("positive", positive_pool, n_positive), ("negative", negative_pool, n_negative)):
        order = [pool[i] for i in rng.permutation(len(pool))]
        counts = _split_counts(wanted, split_fractions)
        plan = [split for split, count in zip(("train", "validation", "test"), counts, strict=True) for _ in range(count)]
        bar = tqdm(total=wanted, desc=f"{label} stars", disable=not progress)
        position = 0
        for split in plan:
            # Walk the shuffled pool until a star with data in the requested sectors turns up.
            while position < len(order):
                tic_id = order[position]
                position += 1
                files = _download_target(
                    tic_id,
                    experiment / split / label,
                    cache,
                    sectors=sectors,
                    author=author,
                    exptime=exptime,
                    files_per_target=files_per_target,
                )
                if files:
                    for path in files:
                        rows.append({"tic_id": tic_id, "class": label, "split": split,
                                     "path": str(path.relative_to(root))})
                    bar.update(1)
                    break
            else:
                break
        bar.close()
    manifest = pd.DataFrame(rows, columns=["tic_id", "class", "split", "path"])
    experiment.mkdir(parents=True, exist_ok=True)
    manifest.to_csv(experiment / "manifest.csv", index=False)
    return manifest
