"""What the vetting panel shows of one candidate, computed without any widget (numpy only).

:func:`prepare_view` loads a candidate's light curve and computes everything the panel draws:
the relative flux (raw and binned), the network's saliency, the period/epoch/duration to fold
at (from the table, or a box-least-squares search when the table has none) and any injected
truth. :func:`fold_transit` and :func:`fold_heartbeat` then give the folded views for a period
multiplier (the ×2 / ÷2 buttons): odd and even transits with their depths, and the deepest
secondary dip away from the transit with its phase.

A :class:`Preloader` computes views of the next candidates in a background thread, so the next
one appears at once.

Example
-------
>>> import numpy as np
>>> from qusi_lab import LightCurve
>>> time = np.arange(0.0, 27.0, 10 / 1440)
>>> flux = 1 + np.random.default_rng(0).normal(0, 5e-4, time.size)
>>> flux[np.abs((time - 1.0 + 1.5) % 3.0 - 1.5) < 0.05] -= 3e-3       # 3-day, 2.4-hour, 3,000 ppm
>>> view = view_from_light_curve(LightCurve(time, flux), period=3.0, epoch=1.0, duration=0.1)
>>> fold = fold_transit(view)
>>> abs(fold.odd_depth_ppm - 3000) < 300, abs(fold.even_depth_ppm - 3000) < 300, fold.odd_even_sigma < 3
(True, True, True)
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.core.binning import bin_means
from qusi_lab.core.folding import fold_phase
from qusi_lab.core.robust import robust_scale
from qusi_lab.core.running_median import running_median_over_time
from qusi_lab.inference.heartbeat_fit import HeartbeatFit, fit_heartbeat
from qusi_lab.lightcurve import LightCurve

__all__ = [
    "CandidateView",
    "FoldedView",
    "Preloader",
    "TruthLookup",
    "HEARTBEAT_COLUMNS",
    "fold_heartbeat",
    "fold_transit",
    "is_heartbeat_table",
    "prepare_view",
    "view_from_light_curve",
]

#: Most raw points drawn in the full light curve (a 20-second sector has ~110,000).
MAX_RAW_POINTS = 25_000
#: Bin width (minutes) of the dark curve drawn over the raw points.
DISPLAY_BIN_MINUTES = 30.0
#: Bin width (minutes) of the points folded (fine enough for a 1-hour transit).
FOLD_BIN_MINUTES = 10.0
#: The columns a heartbeat search gives a candidate table besides ``period`` and ``epoch`` (a periastron time),
#: and the keys of :attr:`CandidateView.heartbeat` they fill (amplitude relative, not in ppm).
HEARTBEAT_COLUMNS: dict[str, str] = {
    "heartbeat_amplitude_ppm": "amplitude",
    "heartbeat_snr": "snr",
    "heartbeat_eccentricity": "eccentricity",
    "heartbeat_passages": "passages",
}


def is_heartbeat_table(table: Any) -> bool:
    """Whether a candidate table's periods come from a heartbeat search (:func:`qusi_lab.search_heartbeat`).

    True when ``attrs["period_method"]`` is ``"heartbeat"`` or the table has ``heartbeat_*`` columns:
    its ``period`` is then an orbital period and its ``epoch`` a time of periastron, not a transit's.

    >>> import pandas as pd
    >>> is_heartbeat_table(pd.DataFrame({"score": [0.9], "period": [5.7], "heartbeat_snr": [14.0]}))
    True
    >>> transit = pd.DataFrame({"score": [0.9], "period": [5.7], "duration_hours": [3.0]})
    >>> transit.attrs["period_method"] = "bls"
    >>> is_heartbeat_table(transit)
    False
    """
    attrs = getattr(table, "attrs", None) or {}
    if str(attrs.get("period_method") or "").lower() == "heartbeat":
        return True
    return any(str(column).startswith("heartbeat_") for column in getattr(table, "columns", ()))


@dataclass
class CandidateView:
    """Everything the panel draws of one candidate (arrays float32/float64, no widgets).

    Attributes
    ----------
    time, flux:
        The light curve, relative flux (median 1), at most :data:`MAX_RAW_POINTS` points.
    binned_time, binned_flux:
        The same in :data:`DISPLAY_BIN_MINUTES` bins.
    fold_time, fold_flux:
        Relative flux in :data:`FOLD_BIN_MINUTES` bins, detrended (running median) for the
        transit view.
    raw_fold_time, raw_fold_flux:
        The same, not detrended (heartbeat view: the features last longer than the detrending window).
    saliency_time, saliency:
        The network's saliency per input cadence (None without a model).
    period, epoch, duration:
        Days; NaN when unknown. ``period_source`` says where they came from.
    period_method:
        ``"heartbeat"`` when ``period`` and ``epoch`` are a heartbeat search's (``epoch`` a time of
        periastron: the candidate table's, or the panel's own search when the table had none), else ``""``.
    heartbeat:
        The heartbeat search's other values (``amplitude`` relative, ``snr``, ``eccentricity``,
        ``passages``; those known), for the candidate card and to start the heartbeat fit from.
    meta:
        The light curve's metadata (target id, mission, sector, magnitude ...).
    truth:
        Injected parameters when the curve is synthetic (``truth.csv`` or ``meta['injected']``).
    problems:
        What could not be computed, for the panel to say (``"saliency: ..."``).
    seconds:
        Time taken to prepare it.
    """

    key: str
    time: np.ndarray
    flux: np.ndarray
    binned_time: np.ndarray
    binned_flux: np.ndarray
    fold_time: np.ndarray
    fold_flux: np.ndarray
    raw_fold_time: np.ndarray
    raw_fold_flux: np.ndarray
    saliency_time: np.ndarray | None = None
    saliency: np.ndarray | None = None
    period: float = math.nan
    epoch: float = math.nan
    duration: float = math.nan
    period_source: str = ""
    period_method: str = ""
    heartbeat: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    truth: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def has_period(self) -> bool:
        return math.isfinite(self.period) and self.period > 0 and math.isfinite(self.epoch)


@dataclass
class FoldedView:
    """A folded light curve at one period (transit or heartbeat view).

    ``phase`` runs from -0.25 to 0.75 (transit at 0, a circular-orbit secondary eclipse at 0.5);
    ``odd`` marks points of odd-numbered transits. Zoom arrays are in hours from mid-transit.
    Depths are in ppm with their 1-sigma errors; ``odd_even_sigma`` is their difference over its
    error. ``secondary_phase`` is the deepest dip away from the transit.

    Heartbeat view: ``model_*`` is the injected model (synthetic data), ``fit_*`` a fitted model
    (``fit`` its parameters when the panel's own heartbeat fit made it; ``fit_problem`` why it failed).
    ``centre`` says what phase 0 is: ``"feature"`` (the largest departure of the fold) or ``"periastron"``
    (the epoch of a heartbeat search); ``feature_phase`` is where the largest departure lies.
    """

    period: float
    epoch: float
    duration: float
    phase: np.ndarray
    flux: np.ndarray
    odd: np.ndarray
    binned_phase: np.ndarray
    binned_flux: np.ndarray
    odd_hours: np.ndarray = field(default_factory=lambda: np.empty(0))
    odd_flux: np.ndarray = field(default_factory=lambda: np.empty(0))
    even_hours: np.ndarray = field(default_factory=lambda: np.empty(0))
    even_flux: np.ndarray = field(default_factory=lambda: np.empty(0))
    secondary_hours: np.ndarray = field(default_factory=lambda: np.empty(0))
    secondary_flux: np.ndarray = field(default_factory=lambda: np.empty(0))
    odd_depth_ppm: float = math.nan
    odd_depth_error_ppm: float = math.nan
    even_depth_ppm: float = math.nan
    even_depth_error_ppm: float = math.nan
    odd_even_sigma: float = math.nan
    secondary_phase: float = math.nan
    secondary_depth_ppm: float = math.nan
    secondary_depth_error_ppm: float = math.nan
    model_phase: np.ndarray | None = None
    model_flux: np.ndarray | None = None
    model_label: str = ""
    feature_phase: float = math.nan
    fit_phase: np.ndarray | None = None
    fit_flux: np.ndarray | None = None
    fit_label: str = ""
    fit: HeartbeatFit | None = None
    fit_problem: str = ""
    centre: str = ""


# ----------------------------------------------------------------------------- helpers


def _bin_with_width(time: np.ndarray, flux: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean flux in ``width``-day bins (empty bins dropped)."""
    binned = bin_means(time, flux, width=width)
    return binned.centers, binned.means


def _binned_fold(phase: np.ndarray, flux: np.ndarray, bins: int, start: float = -0.25) -> tuple[np.ndarray, np.ndarray]:
    """Mean flux in ``bins`` equal bins over one cycle of phase from ``start`` (empty bins dropped)."""
    binned = bin_means(phase, flux, bins=bins, span=(start, start + 1.0))
    return binned.centers, binned.means


def _break_gaps(time: np.ndarray, values: np.ndarray, max_step: float) -> tuple[np.ndarray, np.ndarray]:
    """Insert a NaN wherever consecutive times are more than ``max_step`` apart, so lines break at gaps."""
    if time.size < 2:
        return time, values
    gaps = np.flatnonzero(np.diff(time) > max_step)
    if gaps.size == 0:
        return time, values
    where = gaps + 1
    return (np.insert(time, where, time[gaps] + 0.5 * np.diff(time)[gaps]),
            np.insert(values.astype(np.float64), where, np.nan))


def _float(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _depth(inside: np.ndarray, outside: np.ndarray) -> tuple[float, float]:
    """Depth (ppm) of ``inside`` below the median of ``outside``, and its error (ppm)."""
    if inside.size < 2 or outside.size < 5:
        return math.nan, math.nan
    level = float(np.median(outside))
    scatter = robust_scale(outside)
    depth = (level - float(np.mean(inside))) * 1e6
    error = scatter / math.sqrt(inside.size) * 1e6 if scatter > 0 else math.nan
    return depth, error


# ----------------------------------------------------------------------------- preparing a view


def view_from_light_curve(
    light_curve: LightCurve,
    *,
    key: str = "",
    period: float = math.nan,
    epoch: float = math.nan,
    duration: float = math.nan,
    search_period: bool = False,
    period_method: str = "bls",
    heartbeat: Mapping[str, float] | None = None,
) -> CandidateView:
    """The display arrays of a light curve (relative flux, binned, detrended) and its period.

    ``search_period=True`` runs a period search when no period is given: box least squares
    (:func:`qusi_lab.inference.search_period`) or, with ``period_method="heartbeat"``, the heartbeat
    search (:func:`qusi_lab.search_heartbeat`). ``period_method="heartbeat"`` says that ``period`` and
    ``epoch`` given are a heartbeat search's (``epoch`` a periastron), with its other values in ``heartbeat``
    (keys of :attr:`CandidateView.heartbeat`).
    """
    if period_method not in ("bls", "heartbeat"):
        raise ValueError(f"period_method must be 'bls' or 'heartbeat', got {period_method!r}")
    lc = light_curve.remove_nans()
    time = np.asarray(lc.time, dtype=np.float64)
    flux = np.asarray(lc.flux, dtype=np.float64)
    median = float(np.median(flux)) if flux.size else 1.0
    relative = flux / median if median not in (0.0,) and math.isfinite(median) else flux - median + 1.0
    stride = max(1, int(math.ceil(time.size / MAX_RAW_POINTS)))
    binned_time, binned_flux = _bin_with_width(time, relative, DISPLAY_BIN_MINUTES / 1440.0)
    binned_time, binned_flux = _break_gaps(binned_time, binned_flux, 3 * DISPLAY_BIN_MINUTES / 1440.0)
    cadence = float(np.median(np.diff(time))) if time.size > 1 else 1.0
    fold_width = FOLD_BIN_MINUTES / 1440.0
    if cadence * 1.5 < fold_width:
        raw_fold_time, raw_fold_flux = _bin_with_width(time, relative, fold_width)
    else:
        raw_fold_time, raw_fold_flux = time, relative
    trend = running_median_over_time(raw_fold_time, raw_fold_flux, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        detrended = np.where(trend != 0, raw_fold_flux / trend, raw_fold_flux)
    view = CandidateView(
        key=key,
        time=time[::stride].astype(np.float64),
        flux=relative[::stride].astype(np.float32),
        binned_time=binned_time,
        binned_flux=binned_flux.astype(np.float32),
        fold_time=raw_fold_time,
        fold_flux=detrended.astype(np.float64),
        raw_fold_time=raw_fold_time,
        raw_fold_flux=raw_fold_flux.astype(np.float64),
        period=_float(period),
        epoch=_float(epoch),
        duration=_float(duration),
        period_source="table" if math.isfinite(_float(period)) else "",
        meta=dict(lc.meta),
    )
    if period_method == "heartbeat":
        if view.has_period:
            view.period_method = "heartbeat"
            view.heartbeat = {name: float(value) for name, value in (heartbeat or {}).items()
                              if math.isfinite(_float(value))}
        elif search_period and time.size >= 10:
            _search_heartbeat_into(view, lc)
    elif not view.has_period and search_period and time.size >= 10:
        try:
            from qusi_lab.inference.periods import search_period as bls

            result = bls(lc)
            view.period, view.epoch, view.duration = result.period, result.epoch, result.duration
            view.period_source = "box least squares (panel)"
        except (ValueError, ArithmeticError) as error:
            view.problems.append(f"period search: {error}")
    if not math.isfinite(view.duration) or view.duration <= 0:
        view.duration = 0.1 if not view.has_period else min(0.1, 0.1 * view.period)
    return view


def _search_heartbeat_into(view: CandidateView, light_curve: LightCurve) -> None:
    """The panel's own heartbeat search, for a heartbeat table's row without a period."""
    try:
        from qusi_lab.inference import search_heartbeat  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        view.problems.append("period search: no heartbeat search in this qusi_lab version")
        return
    try:
        result = search_heartbeat(light_curve)
    except (ValueError, ArithmeticError) as error:
        view.problems.append(f"heartbeat search: {error}")
        return
    view.period, view.epoch = float(result.period), float(result.epoch)
    if not view.has_period:
        view.problems.append("heartbeat search: no period found")
        return
    view.period_source, view.period_method = "heartbeat search (panel)", "heartbeat"
    found = {"amplitude": getattr(result, "amplitude", math.nan), "snr": getattr(result, "snr", math.nan),
             "eccentricity": getattr(result, "eccentricity", math.nan),
             "passages": getattr(result, "passages", math.nan)}
    view.heartbeat = {name: float(value) for name, value in found.items() if math.isfinite(_float(value))}


class TruthLookup:
    """Injected truth of synthetic light curves: rows of ``truth.csv`` files (:func:`qusi_lab.synthetic.make_sector`).

    Parameters
    ----------
    truth:
        ``"auto"``: look for a ``truth.csv`` in the light curve's folder and up to three folders
        above it; a DataFrame (with ``path``/``absolute_path`` or ``target_id``); a ``truth.csv``
        file or its folder; or None (no truth).
    """

    def __init__(self, truth: Any = "auto") -> None:
        self.auto = isinstance(truth, str) and truth == "auto"
        self._by_path: dict[str, dict[str, Any]] = {}
        self._by_target: dict[tuple[str, str], dict[str, Any]] = {}
        self._seen_directories: set[Path] = set()
        self._lock = threading.Lock()
        if truth is None or self.auto:
            return
        import pandas as pd

        if isinstance(truth, pd.DataFrame):
            self._add_frame(truth, None)
        else:
            path = Path(os.fspath(truth))
            if path.is_dir():
                path = path / "truth.csv"
            self._add_frame(pd.read_csv(path), path.parent)

    def _add_frame(self, frame: Any, directory: Path | None) -> None:
        for row in frame.to_dict("records"):
            clean = {key: value for key, value in row.items() if not _is_missing(value)}
            for name in ("absolute_path", "path"):
                if name in clean:
                    path = Path(str(clean[name]))
                    if directory is not None and not path.is_absolute():
                        path = directory / path
                    self._by_path[os.path.normpath(str(path))] = clean
            if "target_id" in clean:
                sector = clean.get("sector")
                self._by_target[(str(clean["target_id"]), _sector_text(sector))] = clean

    def _discover(self, path: Path) -> None:
        import pandas as pd

        for directory in list(path.parents)[:4]:
            if directory in self._seen_directories:
                continue
            self._seen_directories.add(directory)
            candidate = directory / "truth.csv"
            if candidate.is_file():
                try:
                    self._add_frame(pd.read_csv(candidate), directory)
                except (OSError, ValueError):
                    continue

    def find(self, path: str, target_id: str = "", sector: Any = "") -> dict[str, Any]:
        """The truth row of a light curve ({} when none), ``parameters`` decoded from JSON."""
        with self._lock:
            if path and not path.startswith("<"):
                if self.auto:
                    self._discover(Path(path).resolve())
                row = self._by_path.get(os.path.normpath(str(Path(path).resolve())))
                if row is None:
                    row = self._by_path.get(os.path.normpath(path))
            else:
                row = None
            if row is None and target_id:
                row = self._by_target.get((str(target_id), _sector_text(sector)))
        if row is None:
            return {}
        row = dict(row)
        if isinstance(row.get("parameters"), str):
            try:
                row["parameters"] = json.loads(row["parameters"])
            except ValueError:
                pass
        return row


def _is_missing(value: Any) -> bool:
    try:
        return bool(value is None or (isinstance(value, float) and math.isnan(value)))
    except TypeError:
        return False


def _sector_text(value: Any) -> str:
    from qusi_lab.vetting.store import _integer_text

    return "" if _is_missing(value) else _integer_text(value)


def prepare_view(
    candidate: Any,
    *,
    load: Callable[[Any], LightCurve] | None = None,
    model: Any = None,
    saliency_options: Mapping[str, Any] | None = None,
    truth: TruthLookup | None = None,
    search_period: bool = True,
    period_method: str = "bls",
) -> CandidateView:
    """Load a :class:`~qusi_lab.vetting.queue.Candidate`'s light curve and compute its view.

    ``period_method="heartbeat"``: the candidate comes from a heartbeat table (:func:`is_heartbeat_table`):
    its ``period`` and ``epoch`` are a heartbeat search's, its ``heartbeat_*`` columns go into
    :attr:`CandidateView.heartbeat`, and a row without a period gets the heartbeat search, not box least
    squares.

    Never raises for a bad file or a failing step: the view then carries ``error`` (nothing to
    draw) or ``problems`` (what is missing), for the panel to show.
    """
    import time as time_module

    started = time_module.perf_counter()
    if load is None:
        from qusi_lab.io import read_light_curve

        load = read_light_curve
    source = candidate.path or candidate.key
    try:
        light_curve = load(source)
        if not isinstance(light_curve, LightCurve):
            light_curve = LightCurve.from_lightkurve(light_curve)
        heartbeat = None
        if period_method == "heartbeat":
            heartbeat = {key: _float(candidate.get(column)) for column, key in HEARTBEAT_COLUMNS.items()}
            heartbeat["amplitude"] *= 1e-6  # ppm in the table
        view = view_from_light_curve(
            light_curve, key=candidate.key, period=_float(candidate.get("period")),
            epoch=_float(candidate.get("epoch")), duration=_float(candidate.get("duration_hours")) / 24.0,
            search_period=search_period, period_method=period_method, heartbeat=heartbeat,
        )
    except Exception as error:  # a panel shows the problem and lets the user move on
        empty = np.empty(0)
        view = CandidateView(candidate.key, empty, empty, empty, empty, empty, empty, empty, empty,
                             error=f"{type(error).__name__}: {error}")
        view.seconds = time_module.perf_counter() - started
        return view
    if truth is not None:
        view.truth = truth.find(candidate.path, candidate.target_id, candidate.sector)
    injected = light_curve.meta.get("injected")
    if not view.truth and isinstance(injected, Mapping):
        view.truth = {"parameters": dict(injected), "kind": injected.get("kind", "")}
    elif not view.truth and isinstance(injected, list) and injected:  # several injections (qusi_lab.data)
        signals = [dict(entry) for entry in injected if isinstance(entry, Mapping)]
        view.truth = {"parameters": {"signals": signals},
                      "kind": ", ".join(str(entry.get("kind", "")) for entry in signals)}
    if model is not None:
        try:
            from qusi_lab.inference import saliency

            options = dict(saliency_options or {})
            view.saliency_time, view.saliency = saliency(model, light_curve, return_time=True, **options)
        except Exception as error:  # saliency is an aid: its failure must not hide the light curve
            view.problems.append(f"saliency: {type(error).__name__}: {error}")
    view.seconds = time_module.perf_counter() - started
    return view


# ----------------------------------------------------------------------------- folding


def fold_transit(view: CandidateView, multiplier: float = 1.0) -> FoldedView | None:
    """The transit view at ``multiplier`` x the candidate's period; None without a period.

    Odd/even depths use the central 80% of the transit against a local baseline of 1.5-3
    durations from mid-transit; the secondary is the deepest transit-long box at least three
    durations from the transit.
    """
    if not view.has_period or view.fold_time.size < 10:
        return None
    period = view.period * multiplier
    epoch, duration = view.epoch, min(view.duration, 0.25 * period)
    time, flux = view.fold_time, view.fold_flux
    phase = fold_phase(time, period, epoch, start=-0.25)
    cycle = np.floor((time - epoch) / period + 0.5).astype(np.int64)
    odd = (cycle % 2) == 1
    bins = int(min(400, max(50, round(4 * period / max(duration, 1e-3)))))
    binned_phase, binned_flux = _binned_fold(phase, flux, bins)
    hours = phase * period * 24.0
    half_hours = duration * 24.0 / 2
    window = np.abs(hours) < 3 * duration * 24.0
    inside = np.abs(hours) < 0.8 * half_hours
    baseline = window & (np.abs(hours) > 1.5 * duration * 24.0)
    odd_depth, odd_error = _depth(flux[inside & odd], flux[baseline & odd])
    even_depth, even_error = _depth(flux[inside & ~odd], flux[baseline & ~odd])
    combined = math.hypot(odd_error, even_error)
    sigma = abs(odd_depth - even_depth) / combined if combined > 0 else math.nan

    # Secondary: the deepest box of one transit duration, at least 2 durations from the transit.
    duration_phase = duration / period
    boxes = max(20, int(round(1.0 / max(duration_phase, 1e-3))))
    centres = (np.arange(boxes) + 0.5) / boxes  # 0..1
    wrapped = np.mod(phase, 1.0)
    index = np.clip((wrapped * boxes).astype(np.int64), 0, boxes - 1)
    counts = np.bincount(index, minlength=boxes)
    sums = np.bincount(index, weights=flux, minlength=boxes)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    far = (np.minimum(centres, 1 - centres) > 3 * duration_phase) & (counts >= 3)
    folded = FoldedView(period=period, epoch=epoch, duration=duration, phase=phase, flux=flux, odd=odd,
                        binned_phase=binned_phase, binned_flux=binned_flux,
                        odd_hours=hours[window & odd], odd_flux=flux[window & odd],
                        even_hours=hours[window & ~odd], even_flux=flux[window & ~odd],
                        odd_depth_ppm=odd_depth, odd_depth_error_ppm=odd_error,
                        even_depth_ppm=even_depth, even_depth_error_ppm=even_error, odd_even_sigma=sigma)
    if far.any():
        candidates = np.flatnonzero(far)
        best = candidates[int(np.nanargmin(means[candidates]))]
        secondary = float(centres[best])
        offset_hours = (np.mod(wrapped - secondary + 0.5, 1.0) - 0.5) * period * 24.0
        near = np.abs(offset_hours) < 3 * duration * 24.0
        in_box = np.abs(offset_hours) < 0.8 * half_hours
        out_box = near & (np.abs(offset_hours) > 1.5 * duration * 24.0)
        depth, error = _depth(flux[in_box], flux[out_box | baseline])
        folded.secondary_phase = secondary if secondary < 0.75 else secondary - 1.0
        folded.secondary_depth_ppm, folded.secondary_depth_error_ppm = depth, error
        folded.secondary_hours, folded.secondary_flux = offset_hours[near], flux[near]
    return folded


def fold_heartbeat(
    view: CandidateView,
    multiplier: float = 1.0,
    model_curve: tuple[np.ndarray, np.ndarray] | None = None,
    model_label: str = "model fit",
    *,
    fit: bool = False,
    center: str = "feature",
    guess: Mapping[str, Any] | None = None,
) -> FoldedView | None:
    """The heartbeat view: the curve folded with the periastron feature (or the periastron) at phase 0.

    The curve is flattened by a running median one orbital period wide (at least half a day), so
    that slower variability does not bury the feature.

    ``center="feature"`` (a period from a transit search or typed in): phase 0 is the largest departure of
    the binned fold from its median. ``center="epoch"`` (a heartbeat search's table, whose ``epoch`` is a
    time of periastron): phase 0 is the view's epoch, so the predicted periastra sit at phase 0 whatever
    the shape. Drawn over the fold: an injected heartbeat model when the truth has its parameters
    (synthetic data), and a fitted model: ``model_curve`` (times, relative flux; folded the same way,
    called ``model_label``) or, with ``fit=True``, the heartbeat model fitted to the fold here
    (:func:`qusi_lab.inference.heartbeat_fit.fit_heartbeat`, ~10-30 ms), started from ``guess`` too (the
    search's ``epoch_periastron``, ``eccentricity``, ``amplitude``) when given.
    """
    if center not in ("feature", "epoch"):
        raise ValueError(f"center must be 'feature' or 'epoch', got {center!r}")
    if not view.has_period or view.raw_fold_time.size < 10:
        return None
    period = view.period * multiplier
    time, flux = view.raw_fold_time, view.raw_fold_flux
    # Remove variability slower than the orbit: a running median one period wide keeps the brief
    # periastron feature (it fills a small part of every window) and drops spots and red noise.
    baseline = float(time[-1] - time[0]) if time.size else 0.0
    window = max(0.5, min(period, 0.25 * baseline)) if baseline > 0 else 0.0
    if window > 0:
        trend = _heartbeat_trend(time, flux, window, period=period, epoch=view.epoch,
                                 eccentricity=_float((guess or {}).get("eccentricity")) if center == "epoch"
                                 else math.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            flux = np.where(trend != 0, flux / trend, flux)
    phase = fold_phase(time, period, view.epoch, start=-0.5)
    binned_phase, binned_flux = _binned_fold(phase, flux, 200, start=-0.5)
    if binned_flux.size == 0:
        return None
    feature = float(binned_phase[int(np.argmax(np.abs(binned_flux - np.median(binned_flux))))])
    epoch = view.epoch
    if center == "feature":
        epoch += feature * period
        phase = fold_phase(time, period, epoch, start=-0.5)
        binned_phase, binned_flux = _binned_fold(phase, flux, 200, start=-0.5)
    cycle = np.floor((time - epoch) / period + 0.5).astype(np.int64)
    folded = FoldedView(period=period, epoch=epoch, duration=view.duration, phase=phase, flux=flux,
                        odd=(cycle % 2) == 1, binned_phase=binned_phase, binned_flux=binned_flux,
                        feature_phase=0.0 if center == "feature" else feature,
                        centre="feature" if center == "feature" else "periastron")
    injected = _injected_heartbeat(view, time)
    if injected is not None:
        folded.model_phase, folded.model_flux = _fold_curve(injected, period, epoch)
        folded.model_label = "injected model"
    if model_curve is not None:
        folded.fit_phase, folded.fit_flux = _fold_curve(model_curve, period, epoch)
        folded.fit_label = model_label
    elif fit:
        fit_phase, fit_flux = _binned_fold(phase, flux, 400, start=-0.5)
        try:
            result = fit_heartbeat(fit_phase, fit_flux, period=period, epoch=epoch, guess=guess)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as error:
            folded.fit_problem = f"{type(error).__name__}: {error}"
        else:
            grid = np.linspace(-0.5, 0.5, 801)
            folded.fit = result
            folded.fit_phase, folded.fit_flux = grid, result(epoch + grid * period)
            folded.fit_label = "heartbeat fit"
    return folded


def periastron_half_width(eccentricity: float) -> float:
    """Half the width (orbital phase) of the tidal pulse at periastron: where ``(a / r)^3`` has fallen to half
    its excess over its minimum. 0.25 for a circular orbit, ~0.018 at e = 0.75.

    >>> round(periastron_half_width(0.75), 3), periastron_half_width(0.0)
    (0.018, 0.25)
    """
    if not 0.0 < eccentricity < 1.0:
        return 0.25
    phase = np.linspace(0.0, 0.5, 2001)
    from qusi_lab.signals.orbits import solve_kepler

    eccentric = solve_kepler(2.0 * np.pi * phase, eccentricity)
    tide = (1.0 - eccentricity * np.cos(eccentric)) ** -3
    excess = tide - tide[-1]
    below = np.flatnonzero(excess < 0.5 * excess[0])
    return float(min(0.25, phase[below[0]])) if below.size else 0.25


#: Periastron passages masked from the heartbeat view's trend: this many half-widths of the tidal pulse on
#: each side (the Kumar et al. bracket spreads the pulse beyond the half-width of ``(a / r)^3``).
_PERIASTRON_MASK = 3.0


def _heartbeat_trend(time: np.ndarray, flux: np.ndarray, window: float, *, period: float, epoch: float,
                     eccentricity: float) -> np.ndarray:
    """The slow trend divided out of the heartbeat view.

    Without a known eccentricity: a running median ``window`` days wide (one orbit, at most a quarter of the
    data). With a heartbeat search's periastron time and eccentricity, when the pulse is brief (less than
    ~40 % of the orbit masked): a running median of the data outside the predicted periastron passages,
    twice as wide as a masked passage (at least half a day), interpolated across them. It follows spots
    faster than the orbit, which a one-orbit window leaves in the fold, without eating the pulse.
    """
    if not (math.isfinite(eccentricity) and math.isfinite(epoch)):
        return running_median_over_time(time, flux, window)
    half_width = min(0.5, _PERIASTRON_MASK * periastron_half_width(eccentricity))
    if half_width >= 0.2:
        return running_median_over_time(time, flux, window)
    phase = fold_phase(time, period, epoch, start=-0.5)
    outside = np.abs(phase) > half_width
    if outside.sum() < 10:
        return running_median_over_time(time, flux, window)
    masked_window = min(window, max(0.5, 2.0 * 2.0 * half_width * period))
    trend = running_median_over_time(time[outside], flux[outside], masked_window)
    return np.interp(time, time[outside], trend)


def _fold_curve(curve: tuple[np.ndarray, np.ndarray], period: float, epoch: float) -> tuple[np.ndarray, np.ndarray]:
    """A model curve (times, flux) folded like the data and binned finely (ordered by phase, for a line)."""
    model_time, model_flux = (np.asarray(part, dtype=np.float64) for part in curve)
    model_phase = fold_phase(model_time, period, epoch, start=-0.5)
    order = np.argsort(model_phase)
    return _binned_fold(model_phase[order], model_flux[order], 400, start=-0.5)


def injected_signals(truth: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The injected signals of a truth row: ``parameters["signals"]`` (make_sector) or ``parameters`` itself."""
    parameters = truth.get("parameters") if truth else None
    if not isinstance(parameters, Mapping):
        return []
    if isinstance(parameters.get("signals"), list):
        return [dict(item) for item in parameters["signals"] if isinstance(item, Mapping)]
    if parameters.get("kind"):
        return [dict(parameters)]
    return []


def _injected_heartbeat(view: CandidateView, time: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    for parameters in injected_signals(view.truth):
        if parameters.get("kind") != "heartbeat":
            continue
        try:
            from qusi_lab.signals import signal

            accepted = {key: value for key, value in parameters.items() if key != "kind"}
            grid = np.linspace(float(time[0]), float(time[-1]), 20_000)
            return grid, np.asarray(signal("heartbeat", grid, **accepted), dtype=np.float64)
        except Exception:  # parameters of another signals version: no overlay rather than no panel
            return None
    return None


# ----------------------------------------------------------------------------- preloading


class Preloader:
    """Computes views in a background thread and keeps the most recent ones.

    Parameters
    ----------
    compute:
        ``compute(candidate) -> view``.
    capacity:
        Views kept (least recently used dropped first).
    """

    def __init__(self, compute: Callable[[Any], CandidateView], *, capacity: int = 12) -> None:
        self._compute = compute
        self._capacity = max(2, int(capacity))
        self._futures: OrderedDict[str, Future[CandidateView]] = OrderedDict()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qusi-vetting-preload")
        self._lock = threading.Lock()

    def request(self, candidates: list[Any]) -> None:
        """Start computing the views of ``candidates`` (those not cached yet), in order."""
        with self._lock:
            for candidate in candidates:
                if candidate.key in self._futures:
                    self._futures.move_to_end(candidate.key)
                    continue
                self._futures[candidate.key] = self._executor.submit(self._compute, candidate)
            self._trim()

    def get(self, candidate: Any) -> CandidateView:
        """The view of ``candidate``: cached, being computed (waits), or computed now in this thread."""
        with self._lock:
            future = self._futures.get(candidate.key)
            if future is not None:
                self._futures.move_to_end(candidate.key)
                # Not started yet: do it here rather than wait behind other preloads.
                if future.cancel():
                    future = None
                    del self._futures[candidate.key]
        if future is not None:
            return future.result()
        view = self._compute(candidate)
        done: Future[CandidateView] = Future()
        done.set_result(view)
        with self._lock:
            self._futures[candidate.key] = done
            self._trim()
        return view

    def is_ready(self, candidate: Any) -> bool:
        future = self._futures.get(candidate.key)
        return future is not None and future.done()

    def _trim(self) -> None:
        while len(self._futures) > self._capacity:
            _, oldest = self._futures.popitem(last=False)
            oldest.cancel()

    def clear(self) -> None:
        with self._lock:
            for future in self._futures.values():
                future.cancel()
            self._futures.clear()

    def close(self) -> None:
        self.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)
