"""Known signals of the curves the tuner shows: where their transits (eclipses, periastra) are, to mark them.

A signal is known from, first found first:

* a truth table: ``truth.csv`` of :func:`qusi_lab.synthetic.make_sector` beside the files (or one given),
  matched by path or target id, with ``period``, ``epoch``, ``duration_hours``, ``snr``, ``depth``;
* ``lc.meta["injected"]``: the signal of :func:`~qusi_lab.synthetic.synthetic_light_curve` and of the
  injection functions of :mod:`qusi_lab.data` (the first periodic one; a planet's duration is computed from its
  orbit);
* ``lc.meta`` keys ``period``, ``epoch`` and ``duration`` (days) or ``duration_hours``: give your own
  curves these to see their transits marked.

Augmented examples move the signal: :func:`follow_augmentations` replays the recorded
``RandomRoll``/``Flip``/``TimeStretch`` on the in-transit mask.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FOLLOWED_STEPS", "KnownSignal", "known_signal", "signal_mask", "follow_augmentations", "mask_intervals"]

# A periastron passage has no duration: mark this share of the period around it.
HEARTBEAT_WINDOW = 0.04


@dataclass(frozen=True)
class KnownSignal:
    """A periodic signal: ``epoch`` and ``period`` in the curve's time units (days), ``duration`` in days."""

    kind: str
    period: float
    epoch: float
    duration: float
    snr: float = math.nan
    depth: float = math.nan
    source: str = ""

    @property
    def label(self) -> str:
        """What the shaded times are, for a legend."""
        return {"heartbeat": "periastron", "eclipsing_binary": "eclipse"}.get(self.kind, "transit")


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _planet_duration(parameters: Mapping[str, Any]) -> float:
    """Total transit duration (days) of a circular orbit from ``a_over_rstar``, ``radius_ratio``, ``inclination``."""
    period = _number(parameters.get("period"))
    a = _number(parameters.get("a_over_rstar"))
    k = _number(parameters.get("radius_ratio"))
    inclination = _number(parameters.get("inclination"))
    if not all(math.isfinite(v) for v in (period, a, k, inclination)) or a <= 0:
        return math.nan
    sine = math.sin(math.radians(inclination))
    impact = a * math.cos(math.radians(inclination))
    chord = (1 + k) ** 2 - impact**2
    if chord <= 0 or sine <= 0:
        return math.nan
    return period / math.pi * math.asin(min(1.0, math.sqrt(chord) / (a * sine)))


def _from_parameters(entry: Mapping[str, Any], source: str) -> KnownSignal | None:
    kind = str(entry.get("kind", ""))
    period = _number(entry.get("period"))
    epoch = _number(entry.get("epoch", entry.get("epoch_periastron")))
    if not (math.isfinite(period) and period > 0 and math.isfinite(epoch)):
        return None
    duration = _number(entry.get("duration"))
    if not math.isfinite(duration):
        duration = _number(entry.get("duration_hours")) / 24.0
    if not math.isfinite(duration) and kind == "transit":
        duration = _planet_duration(entry)
    if not math.isfinite(duration) or duration <= 0:
        duration = HEARTBEAT_WINDOW * period
    depth = _number(entry.get("depth", entry.get("primary_depth")))
    return KnownSignal(kind or "transit", period, epoch, min(duration, 0.5 * period), _number(entry.get("snr")),
                       depth, source)


def known_signal(meta: Mapping[str, Any], truth_row: Mapping[str, Any] | None = None) -> KnownSignal | None:
    """The periodic signal of a curve, from its truth row or its ``meta`` (None when none is known).

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve
    >>> signal = known_signal(synthetic_light_curve("planet", seed=1).meta)
    >>> signal.kind, round(signal.period, 2), round(signal.duration * 24, 1)
    ('transit', 10.6, 2.9)
    >>> known_signal({"period": 3.0, "epoch": 1.0, "duration_hours": 2.0}).duration * 24
    2.0
    """
    if truth_row:
        kind = str(truth_row.get("kind", "") or "")
        row = dict(truth_row)
        if kind != "none":  # a candidate table has no kind: its period is a transit's
            row["kind"] = kind or "transit"
            found = _from_parameters(row, "truth table")
            if found is not None:
                return found
    injected = meta.get("injected")
    entries: Sequence[Any] = injected if isinstance(injected, list) else [injected] if injected else []
    truth = meta.get("truth") if isinstance(meta.get("truth"), Mapping) else {}
    for entry in entries:
        if isinstance(entry, Mapping):
            merged = dict(entry)
            # synthetic_light_curve keeps the summary (duration, SNR, depth) in meta["truth"]
            if truth and _number(truth.get("period")) == _number(entry.get("period")):
                for key in ("duration_hours", "snr", "depth"):
                    merged.setdefault(key, truth.get(key))
            found = _from_parameters(merged, "meta['injected']")
            if found is not None:
                return found
    if "period" in meta:
        return _from_parameters({"kind": "transit", **meta}, "meta")
    return None


def signal_mask(time: np.ndarray, signal: KnownSignal) -> np.ndarray:
    """Which ``time`` values are within half a duration of an event of ``signal``.

    Example
    -------
    >>> signal_mask(np.arange(10.0), KnownSignal("transit", period=5.0, epoch=2.0, duration=1.0)).nonzero()[0]
    array([2, 7])
    """
    time = np.asarray(time, dtype=np.float64)
    offset = np.mod(time - signal.epoch + 0.5 * signal.period, signal.period) - 0.5 * signal.period
    return np.abs(offset) <= 0.5 * signal.duration


_STRETCH = re.compile(r"TimeStretch\(factor=([-+0-9.eE]+)\)")
_ROLL = re.compile(r"RandomRoll\(shift=(-?\d+)\)")
# Built-in augmentations that change values but leave every point where it was.
_IN_PLACE = ("AddNoise", "ScaleFlux", "CadenceDropout", "RandomGaps")
#: Steps whose effect on the in-transit times :func:`follow_augmentations` knows.
FOLLOWED_STEPS = frozenset({*_IN_PLACE, "RandomRoll", "Flip", "TimeStretch"})


def follow_augmentations(mask: np.ndarray, x: np.ndarray, records: Sequence[Any]) -> np.ndarray | None:
    """The in-transit ``mask`` moved as the recorded augmentations moved the flux (None: cannot tell).

    ``records`` is ``meta["augmentations"]`` in the order applied; ``x`` the time grid they worked on.

    Example
    -------
    >>> mask = np.array([False, True, False, False])
    >>> follow_augmentations(mask, np.arange(4.0), ["RandomRoll(shift=1)", "AddNoise(sigma=0.1)"]).tolist()
    [False, False, True, False]
    >>> follow_augmentations(mask, np.arange(4.0), ["Flip()"]).tolist()
    [False, False, True, False]
    """
    moved = np.asarray(mask, dtype=np.float64)
    grid = np.asarray(x, dtype=np.float64)
    if not np.isfinite(grid).all():
        grid = np.arange(moved.size, dtype=np.float64)
    for record in records:
        text = str(record)
        roll = _ROLL.fullmatch(text)
        stretch = _STRETCH.fullmatch(text)
        if roll is not None:
            moved = np.roll(moved, int(roll.group(1)))
        elif text == "Flip()":
            moved = moved[::-1].copy()
        elif stretch is not None:  # as TimeStretch resamples the flux
            factor = float(stretch.group(1))
            center = 0.5 * (grid[0] + grid[-1])
            moved = np.interp(center + (grid - center) / factor, grid, moved, left=0.0, right=0.0)
        elif not text.startswith(_IN_PLACE):
            return None  # an augmentation we do not know may have moved the points
    return moved >= 0.5


def mask_intervals(x: np.ndarray, mask: np.ndarray) -> tuple[list[float], list[float]]:
    """``(starts, ends)`` in ``x`` units of the runs of ``mask``, each widened by half a step on both sides.

    Example
    -------
    >>> mask_intervals(np.arange(6.0), np.array([0, 1, 1, 0, 0, 1], dtype=bool))
    ([0.5, 4.5], [2.5, 5.5])
    """
    x = np.asarray(x, dtype=np.float64)
    flags = np.asarray(mask, dtype=bool)
    if flags.size != x.size or not flags.any():
        return [], []
    half = 0.5 * (float(np.median(np.diff(x))) if x.size > 1 else 1.0)
    padded = np.concatenate([[False], flags, [False]]).astype(np.int8)
    edges = np.diff(padded)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    return [float(x[i] - half) for i in starts], [float(x[i] + half) for i in ends]
