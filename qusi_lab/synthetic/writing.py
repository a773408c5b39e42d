"""A synthetic sector on disk: one SPOC light-curve FITS file per star and the ``truth.csv`` of what is in each.

:func:`make_sector` draws the sector's stars (:mod:`~qusi_lab.synthetic.population`), renders each one
(:mod:`~qusi_lab.synthetic.rendering`) in worker processes, writes the files and the truth table;
:func:`load_truth` reads the table back.

Example
-------
>>> spoc_file_name(12345678, 1)
'tess2018204190155-s0001-0000000012345678-0121-s_lc.fits'
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import sys
import time as time_module
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qusi_lab._deprecation import warn_deprecated
from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import LightCurve
from qusi_lab.synthetic.physical import DEFAULT_POPULATION, check_population
from qusi_lab.synthetic.population import (
    DEFAULT_SNR_RANGE,
    SPLITS,
    STAR_KINDS,
    _assign_labels,
    _assign_splits,
    _draw_star,
    _normalise_mix,
    _snr_bounds,
    _Star,
    _tic_id,
)
from qusi_lab.synthetic.rendering import _render_star, _Rendered
from qusi_lab.synthetic.timeline import BTJD_OFFSET, SectorTimeline, sector_start_btjd, sector_timeline

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TRUTH_FILENAME", "SectorResult", "load_truth", "make_sector", "spoc_file_name"]

TRUTH_FILENAME = "truth.csv"
_UNIX_EPOCH_JD = 2440587.5


def _btjd_to_timestamp(btjd: float) -> str:
    """``yyyydddhhmmss`` of a BTJD, the date stamp SPOC puts in file names."""
    seconds = (btjd + BTJD_OFFSET - _UNIX_EPOCH_JD) * 86400.0
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y%j%H%M%S")


def spoc_file_name(tic_id: int, sector: int, cadence_minutes: float = 2.0) -> str:
    """A SPOC-style light-curve file name, e.g. ``tess2018206190142-s0001-0000000012345678-0120-s_lc.fits``."""
    stamp = _btjd_to_timestamp(sector_start_btjd(sector) - 2.0)
    suffix = "fast-lc" if cadence_minutes < 1.0 else "lc"
    return f"tess{stamp}-s{int(sector):04d}-{int(tic_id):016d}-{120 + int(sector):04d}-s_{suffix}.fits"


def _write_star(path: Path, star: _Star, rendered: _Rendered, timeline: SectorTimeline) -> None:
    from qusi_lab.io import write_spoc_fits

    path.parent.mkdir(parents=True, exist_ok=True)
    extra_header = {
        "OBJECT": f"TIC {star.tic_id}",
        "RA_OBJ": star.ra,
        "DEC_OBJ": star.dec,
        "CROWDSAP": star.crowding,
        "FLFRCSAP": star.flux_fraction,
        "TIMEDEL": timeline.cadence_days,
        "EXPOSURE": float(np.sum(~timeline.in_gap) * timeline.cadence_days),
        "TSTART": float(timeline.time[0]),
        "TSTOP": float(timeline.time[-1]),
    }
    write_spoc_fits(
        LightCurve(rendered.time, rendered.pdcsap_flux.astype(np.float32), validate=False),
        path,
        flux_err=rendered.pdcsap_flux_err.astype(np.float32),
        sap_flux=rendered.sap_flux.astype(np.float32),
        sap_flux_err=rendered.sap_flux_err.astype(np.float32),
        quality=rendered.quality,
        tic_id=star.tic_id,
        sector=timeline.sector,
        camera=star.camera,
        ccd=star.ccd,
        tess_mag=star.tess_mag,
        extra_header=extra_header,
    )


def _work_chunk(task: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Worker: render and write the stars ``(index, label, relative path)`` of one chunk.

    ``task`` is ``(directory, sector, seed, cadence_minutes, snr_range, items[, population])``.
    """
    directory, sector, seed, cadence_minutes, snr_range, items = task[:6]
    population = task[6] if len(task) > 6 else DEFAULT_POPULATION
    timeline = sector_timeline(sector, cadence_minutes)
    rows = []
    for index, label, relative in items:
        star = _draw_star(seed, index, label, snr_range=snr_range, population=population)
        rendered = _render_star(star, timeline, seed)
        _write_star(Path(directory) / relative, star, rendered, timeline)
        row = {"path": relative, **rendered.truth}
        rows.append(row)
    return rows


def _run_tasks(tasks: list[Any], workers: int) -> list[dict[str, Any]]:
    """Run the chunk tasks in order, in ``workers`` processes when there is more than one chunk."""
    rows: list[dict[str, Any]] = []
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            rows.extend(_work_chunk(task))
        return rows
    # fork where it exists: workers start in milliseconds and a script needs no
    # ``if __name__ == "__main__"`` guard. The workers use only numpy and file I/O, never torch
    # or OpenMP, so the parent's threads do not matter. Elsewhere, spawn.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    context = multiprocessing.get_context(method)
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as executor:
            for chunk_rows in executor.map(_work_chunk, tasks):
                rows.extend(chunk_rows)
    except BrokenProcessPool:
        # Typically spawn re-running an unguarded script; writing the files again is harmless.
        warnings.warn(
            "make_sector: the worker processes died (with the 'spawn' start method, put the call under "
            "`if __name__ == \"__main__\":`); writing the sector in this process instead",
            RuntimeWarning,
            stacklevel=3,
        )
        rows = []
        for task in tasks:
            rows.extend(_work_chunk(task))
    return rows


@dataclass
class SectorResult:
    """What :func:`make_sector` wrote: the truth table of this sector and where the files are.

    Attributes
    ----------
    directory:
        The directory given to :func:`make_sector` (``truth.csv`` lives there).
    truth:
        One row per file: ``path`` (relative to ``directory``), ``tic_id``, ``label`` ...
    seconds:
        Wall time taken.
    num_workers:
        Processes used (formerly ``n_workers``: that name still reads, with a ``DeprecationWarning``, until 0.2).
    experiment_directory:
        ``directory / experiment_name`` when ``experiment=True``, else None.
    """

    directory: Path
    truth: pd.DataFrame
    seconds: float
    num_workers: int
    experiment_directory: Path | None = None

    @property
    def n_workers(self) -> int:
        """Deprecated name of :attr:`num_workers` (removed in 0.2)."""
        warn_deprecated("SectorResult.n_workers is now SectorResult.num_workers")
        return self.num_workers

    @property
    def paths(self) -> list[Path]:
        """Absolute paths of the files written."""
        return [self.directory / relative for relative in self.truth["path"]]

    def split_directory(self, split: str) -> Path:
        """``experiment_directory / split`` (``train``, ``validation`` or ``test``)."""
        if self.experiment_directory is None:
            raise ValueError("this sector was not laid out as an experiment (experiment=False)")
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        return self.experiment_directory / split

    def __len__(self) -> int:
        return len(self.truth)

    def __repr__(self) -> str:
        sectors = sorted(set(int(s) for s in self.truth["sector"]))
        rate = len(self) / self.seconds if self.seconds > 0 else float("inf")
        lines = [
            f"SectorResult(sector {', '.join(map(str, sectors))}: {len(self)} stars written in "
            f"{self.seconds:.1f} s ({rate:.0f} files/s, {self.num_workers} worker(s)) to {str(self.directory)!r})"
        ]
        counts = self.truth["label"].value_counts()
        lines.append("  " + ", ".join(f"{label} {int(counts.get(label, 0))}" for label in STAR_KINDS if label in counts))
        if self.experiment_directory is not None and "split" in self.truth:
            table = self.truth.groupby(["split", "class"]).size()
            parts = []
            for split in SPLITS:
                positive = int(table.get((split, "positive"), 0))
                negative = int(table.get((split, "negative"), 0))
                parts.append(f"{split} {positive}+/{negative}-")
            lines.append(f"  experiment {self.experiment_directory.name}: " + ", ".join(parts))
        return "\n".join(lines)


def _experiment_name(positive_kinds: Sequence[str]) -> str:
    if tuple(positive_kinds) == ("planet",):
        return "spoc_transit_experiment"
    return "spoc_" + "_".join(positive_kinds) + "_experiment"


def make_sector(
    directory: str | os.PathLike[str],
    *,
    n_stars: int = 1000,
    sector: int = 1,
    seed: int = 0,
    mix: Mapping[str, float] | None = None,
    experiment: bool = False,
    positive_kinds: Sequence[str] = ("planet",),
    experiment_name: str | None = None,
    split_fractions: Sequence[float] = (0.8, 0.1, 0.1),
    num_workers: int | None = None,
    cadence_minutes: float = 2.0,
    chunk_size: int = 25,
    snr_range: Sequence[float] = DEFAULT_SNR_RANGE,
    n_workers: int | None = None,
    population: str = DEFAULT_POPULATION,
) -> SectorResult:
    """Write a synthetic TESS sector of ``n_stars`` SPOC light-curve files and its ``truth.csv``.

    Parameters
    ----------
    directory:
        Where to write. Files go to ``directory/sector_NN/`` or, with ``experiment=True``, to
        ``directory/<experiment_name>/{train,validation,test}/{positive,negative}/``.
        ``truth.csv`` (all sectors written there so far) is kept in ``directory``.
    n_stars:
        Number of stars (one file each).
    sector:
        TESS sector number: sets the start time and the spacecraft timeline.
    seed:
        Everything random follows from it; the same arguments give byte-identical files.
        Stars (ids, magnitudes, kinds, orbits) depend on ``(seed, n_stars, mix)``, not on
        the sector, so several sectors made with one seed observe the same stars.
    mix:
        Fraction of each kind in :data:`STAR_KINDS` (default :data:`DEFAULT_MIX`); counts are
        rounded so that they add up to ``n_stars``.
    experiment:
        Lay the files out for training as in qusi's tutorial: split *by star* into
        train/validation/test (``split_fractions``, stratified by class) with ``positive``
        (the ``positive_kinds``) and ``negative`` (everything else) folders, ready for
        ``LightCurveDataset.from_directory(result.split_directory("train"))``.
    positive_kinds:
        The labels that count as positive, e.g. ``("heartbeat",)``.
    experiment_name:
        Folder name; default ``spoc_transit_experiment`` for planets, ``spoc_<kinds>_experiment``
        otherwise.
    split_fractions:
        Train, validation and test fractions.
    num_workers:
        Worker processes (default ``min(2, cpu count)``; 1 writes in this process). The files are the
        same whatever the number.
    cadence_minutes:
        Cadence (2 for SPOC 2-minute data, 1/3 for 20-second data).
    chunk_size:
        Stars per task handed to a worker.
    snr_range:
        ``(low, high)``: transit and heartbeat signal-to-noise ratios are drawn log-uniformly
        between them (default :data:`DEFAULT_SNR_RANGE`, 7 to 100). The same seed gives the same
        stars, orbits and noise whatever the range: only the depths and amplitudes change.
    n_workers:
        Deprecated name of ``num_workers`` (as everywhere else in qusi_lab); removed in 0.2.
    population:
        ``"physical"`` (default): heartbeat orbits under the tidal-circularisation envelope with
        amplitudes from the tide's physics, rotators and red noise as the TESS catalogues show them
        (every distribution and its source: :mod:`qusi_lab.synthetic.physical`; drawn by
        :func:`population_plot`). ``"stress"``: the population of qusi_lab 0.1, byte-identical for the
        same seed (heartbeat periods 1.5-12 d with e = 0.3-0.8 whatever the period, many fast
        rotators): a hard sky to report on, not the bar. A physical heartbeat star keeps the amplitude
        of its orbit; its magnitude (or, failing that, its orbit) is chosen so that its SNR lies in
        ``snr_range`` for the sector written.

    Returns
    -------
    SectorResult
        Its ``truth`` DataFrame has ``path`` (relative to ``directory``), ``tic_id``, ``target_id``,
        ``sector``, ``tess_mag``, ``label``, ``kind`` (the signal model), ``period``, ``epoch``,
        ``depth``, ``duration_hours``, ``radius_ratio``, ``snr``, ``n_events``, ``noise_ppm``,
        ``parameters`` (JSON: every injected parameter) and, for experiments, ``split`` and ``class``.

    Example
    -------
    >>> import tempfile
    >>> result = make_sector(tempfile.mkdtemp(), n_stars=10, seed=3, num_workers=1)  # doctest: +SKIP
    >>> result.truth.label.value_counts().to_dict()                               # doctest: +SKIP
    {'quiet': 4, 'planet': 2, 'eclipsing_binary': 2, 'heartbeat': 1, 'flare': 1}
    """
    import pandas as pd

    started = time_module.perf_counter()
    if n_workers is not None:
        if num_workers is not None:
            raise TypeError("make_sector: give num_workers only (n_workers is its deprecated name)")
        warn_deprecated("make_sector(n_workers=) is now make_sector(num_workers=)")
        num_workers = n_workers
    if n_stars < 1:
        raise ValueError(f"n_stars must be at least 1, got {n_stars}")
    population = check_population(population)
    mixture = _normalise_mix(mix)
    positive_kinds = tuple(positive_kinds)
    unknown = set(positive_kinds) - set(STAR_KINDS)
    if experiment and (unknown or not positive_kinds):
        raise ValueError(f"positive_kinds must be labels from {STAR_KINDS}, got {positive_kinds}")
    snr_bounds = _snr_bounds(snr_range)
    fractions = tuple(float(value) for value in split_fractions)
    if len(fractions) != 3 or min(fractions) < 0 or sum(fractions) <= 0:
        raise ValueError(f"split_fractions must be three non-negative numbers, got {split_fractions}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    labels = _assign_labels(n_stars, mixture, seed)
    splits = _assign_splits(labels, positive_kinds, fractions, seed) if experiment else None
    name = experiment_name or _experiment_name(positive_kinds)
    items: list[tuple[int, str, str]] = []
    for index, label in enumerate(labels):
        file_name = spoc_file_name(_tic_id(seed, index), sector, cadence_minutes)
        if splits is not None:
            category = "positive" if label in positive_kinds else "negative"
            relative = f"{name}/{splits[index]}/{category}/{file_name}"
        else:
            relative = f"sector_{int(sector):02d}/{file_name}"
        items.append((index, label, relative))

    # Regenerating a sector replaces it: remove the files the truth table says it wrote before.
    truth_path = directory / TRUTH_FILENAME
    previous = None
    if truth_path.exists():
        previous = pd.read_csv(truth_path)
        stale = previous[previous["sector"] == int(sector)]
        for relative in stale["path"]:
            (directory / relative).unlink(missing_ok=True)
        previous = previous[previous["sector"] != int(sector)]

    workers = min(2, os.cpu_count() or 1) if num_workers is None else max(1, int(num_workers))
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    tasks = [
        (str(directory), int(sector), int(seed), float(cadence_minutes), snr_bounds, chunk, population)
        for chunk in chunks
    ]
    rows = _run_tasks(tasks, workers)

    truth = pd.DataFrame(rows)
    if splits is not None:
        truth["split"] = splits
        truth["class"] = ["positive" if label in positive_kinds else "negative" for label in labels]
    combined = truth if previous is None or previous.empty else pd.concat([previous, truth], ignore_index=True)
    combined.to_csv(truth_path, index=False)
    return SectorResult(
        directory=directory,
        truth=truth,
        seconds=time_module.perf_counter() - started,
        num_workers=1 if workers == 1 or len(chunks) == 1 else min(workers, len(chunks)),
        experiment_directory=(directory / name) if experiment else None,
    )


def load_truth(directory: str | os.PathLike[str], *, parse_parameters: bool = True) -> pd.DataFrame:
    """The truth table of a directory written by :func:`make_sector` (``parameters`` decoded to dicts).

    Adds an ``absolute_path`` column.

    Example
    -------
    >>> truth = load_truth("data/synthetic")                # doctest: +SKIP
    >>> truth[truth.label == "planet"][["path", "period", "depth", "snr"]]  # doctest: +SKIP
    """
    import pandas as pd

    directory = Path(directory)
    path = directory / TRUTH_FILENAME
    if not path.exists():
        raise LightCurveError("no truth table here; was this directory written by make_sector?", path)
    truth = pd.read_csv(path)
    if parse_parameters and "parameters" in truth:
        truth["parameters"] = [json.loads(value) for value in truth["parameters"]]
    truth["absolute_path"] = [str(directory / relative) for relative in truth["path"]]
    return truth
