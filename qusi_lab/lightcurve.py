"""The one light-curve type of qusi_lab.

A :class:`LightCurve` holds times (days, in the mission's own time system:
BTJD for TESS, BKJD for Kepler/K2), fluxes, optional flux errors and a metadata
dict (target id, mission, sector/quarter/campaign, cadence, source path ...).
Its methods read like astronomy, in the manner of lightkurve::

    lc = ql.read_light_curve("tess2019-s0001-0000000012345678-0120-s_lc.fits")
    lc.remove_nans().normalize().fold(period=3.2, epoch_time=1326.1)

It converts to and from ``lightkurve.LightCurve`` and accepts astropy ``Time``
and ``Quantity`` inputs.

Files of your own (a headerless CSV, a ``BJD,mag`` table) are read by choosing
columns by name or 0-based position; magnitudes become relative flux
(``meta["flux_converted_from"] == "mag"``; see :func:`qusi_lab.io.read_light_curve`)::

    lc = ql.read_light_curve("star.txt", time_column=0, flux_column=1, flux_unit="mag")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from qusi_lab.core.binning import bin_means
from qusi_lab.core.folding import fold_time
from qusi_lab.core.robust import MAD_TO_SIGMA, fast_median, robust_scale
from qusi_lab.errors import LightCurveError

NormalizeMethod = Literal["median", "median_mad", "standard", "minmax"]
NORMALIZE_METHODS: tuple[str, ...] = ("median", "median_mad", "standard", "minmax")

__all__ = ["MAD_TO_SIGMA", "NORMALIZE_METHODS", "LightCurve", "NormalizeMethod", "normalization_constants", "normalize_flux"]


def _as_array(values: Any, name: str) -> tuple[np.ndarray, dict[str, Any]]:
    """Strip astropy Time/Quantity (and masked arrays) to a float ndarray; report what was stripped."""
    extra: dict[str, Any] = {}
    if type(values) is np.ndarray and values.dtype == np.float64:
        # A plain float64 array (every step of a pipeline makes one): nothing below applies to it (the exact
        # type: Quantity and masked arrays are subclasses and go through the checks).
        return values, extra
    if values is None:
        raise LightCurveError(f"{name} is None")
    # astropy Masked arrays/quantities (lightkurve uses them): masked values become NaN.
    if hasattr(values, "unmasked") and hasattr(values, "mask"):
        mask = np.asarray(values.mask)
        values = values.unmasked
        if mask.any():
            values = values.copy()
            values[mask] = np.nan
    # astropy Time: keep the value in its own format (btjd/bkjd/jd ...).
    if hasattr(values, "jd") and hasattr(values, "format"):
        extra["time_format"] = str(values.format)
        extra["time_scale"] = str(values.scale)
        values = values.value
    # astropy Quantity: keep the unit name.
    if hasattr(values, "unit") and hasattr(values, "value"):
        unit = values.unit
        if unit is not None and str(unit) != "":
            extra[f"{name}_unit"] = str(unit)
        values = values.value
    if isinstance(values, np.ma.MaskedArray):
        values = np.ma.filled(values.astype(float), np.nan)
    array = np.asarray(values)
    if array.dtype.kind not in "fiub":
        try:
            array = array.astype(np.float64)
        except (TypeError, ValueError) as error:
            raise LightCurveError(f"{name} is not numeric ({array.dtype})") from error
    return array, extra


def normalization_constants(flux: np.ndarray, method: str = "median") -> tuple[float, float]:
    """The ``(offset, scale)`` that normalise ``flux`` as ``(flux - offset) / scale``, ignoring NaNs.

    ``median``: offset 0, scale the median (relative flux around 1, as lightkurve does).
    ``median_mad``: offset the median, scale 1.4826 x MAD (robust to transits and flares).
    ``standard``: offset the mean, scale the standard deviation.
    ``minmax``: offset the minimum, scale the range (flux in [0, 1]).
    A curve with no spread gets scale 1 (it is only centred).

    Example
    -------
    >>> normalization_constants(np.array([1.0, 2.0, 3.0]), "median_mad")
    (2.0, 1.4826)
    """
    if method not in NORMALIZE_METHODS:
        raise ValueError(f"unknown normalisation method {method!r}; choose one of {NORMALIZE_METHODS}")
    flux = np.asarray(flux, dtype=np.float64)
    finite = flux[np.isfinite(flux)]
    if finite.size == 0:
        raise LightCurveError("cannot normalise: no finite flux values")
    if method == "median":
        median = fast_median(finite, overwrite=True)  # ``finite`` is a copy: it may be reordered
        if median == 0:
            raise LightCurveError("cannot normalise by the median: the median flux is 0")
        return 0.0, median
    if method == "median_mad":
        offset = fast_median(finite)  # computed once, and reused for the MAD
        scale = robust_scale(finite, median=offset)
    elif method == "standard":
        offset, scale = float(finite.mean()), float(finite.std())
    else:  # minmax
        offset = float(finite.min())
        scale = float(finite.max()) - offset
    return offset, (scale if scale > 0 else 1.0)


def normalize_flux(flux: np.ndarray, method: str = "median") -> np.ndarray:
    """Normalise a flux array (see :func:`normalization_constants` for the methods).

    Example
    -------
    >>> normalize_flux(np.array([1.0, 2.0, 3.0]), "median").tolist()
    [0.5, 1.0, 1.5]
    """
    offset, scale = normalization_constants(flux, method)
    return (np.asarray(flux, dtype=np.float64) - offset) / scale



# Writers by format, registered by qusi_lab.io when it loads (plugin registration: io comes after light curves
# in the flow, so LightCurve.to_fits/to_csv/to_npz find the writers here instead of importing io).
_WRITERS: dict[str, Any] = {}


def register_writer(format_name: str, writer: Any) -> None:
    """Make ``writer(lc, path, **options)`` the one ``LightCurve.to_<format_name>`` calls (qusi_lab.io does this)."""
    _WRITERS[format_name] = writer


def _writer(format_name: str) -> Any:
    if format_name not in _WRITERS:  # only if qusi_lab.io was never imported, which `import qusi_lab` does
        raise RuntimeError(f"no {format_name} writer is registered: import qusi_lab.io first")
    return _WRITERS[format_name]


class LightCurve:
    """Times and fluxes of one star, with flux errors and metadata.

    Parameters
    ----------
    time:
        Times in days (array, list or astropy ``Time``).
    flux:
        Fluxes (array, list or astropy ``Quantity``).
    flux_err:
        Optional flux uncertainties, same length as ``flux``.
    meta:
        Metadata: ``target_id``, ``mission``, ``sector``/``quarter``/``campaign``,
        ``cadence`` (days), ``path``, ``flux_column`` ... Extra keyword arguments
        are added to it.
    validate:
        Check lengths, emptiness and ordering now (default). Errors name
        ``meta["path"]`` when it is set.

    Example
    -------
    >>> import numpy as np
    >>> lc = LightCurve(np.arange(5.0), [1.0, 1.0, 0.99, 1.0, np.nan], target_id="TIC 1", mission="TESS")
    >>> len(lc.remove_nans())
    4
    """

    __slots__ = ("time", "flux", "flux_err", "meta")

    def __init__(
        self,
        time: Any,
        flux: Any,
        flux_err: Any | None = None,
        meta: Mapping[str, Any] | None = None,
        *,
        validate: bool = True,
        **meta_items: Any,
    ) -> None:
        merged: dict[str, Any] = dict(meta or {})
        merged.update(meta_items)
        time_array, time_extra = _as_array(time, "time")
        flux_array, flux_extra = _as_array(flux, "flux")
        for key, value in {**time_extra, **flux_extra}.items():
            merged.setdefault(key, value)
        self.time: np.ndarray = time_array.astype(np.float64, copy=False)
        self.flux: np.ndarray = flux_array.astype(np.float64, copy=False)
        self.flux_err: np.ndarray | None = None
        if flux_err is not None:
            err_array, _ = _as_array(flux_err, "flux_err")
            self.flux_err = err_array.astype(np.float64, copy=False)
        self.meta: dict[str, Any] = merged
        if validate:
            self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> LightCurve:
        """Raise :class:`LightCurveError` (naming the file) if the curve is unusable; return self.

        Unusable means: not 1-D, zero length, time and flux of different lengths,
        no finite flux at all, or finite times that do not increase.
        """
        path = self.meta.get("path")
        if self.time.ndim != 1 or self.flux.ndim != 1:
            raise LightCurveError(
                f"time and flux must be 1-D, got shapes {self.time.shape} and {self.flux.shape}", path
            )
        if self.time.shape != self.flux.shape:
            raise LightCurveError(
                f"time has {self.time.size} values but flux has {self.flux.size}", path
            )
        if self.flux_err is not None and self.flux_err.shape != self.flux.shape:
            raise LightCurveError(
                f"flux_err has {self.flux_err.size} values but flux has {self.flux.size}", path
            )
        if self.time.size == 0:
            raise LightCurveError("the light curve is empty (zero cadences)", path)
        finite_time = np.isfinite(self.time)
        if not (finite_time & np.isfinite(self.flux)).any():
            raise LightCurveError("no cadence has both a finite time and a finite flux (all NaN or infinite?)", path)
        # No copy when every time is finite (a read file's NaN times are already dropped); for finite values
        # b > a exactly when b - a > 0 (a difference of distinct doubles is never 0), so no np.diff either.
        finite_times = self.time if finite_time.all() else self.time[finite_time]
        increasing = finite_times[1:] > finite_times[:-1]
        if increasing.size and not increasing.all():
            where = int(np.argmin(increasing))
            raise LightCurveError(
                f"times do not increase (cadence {where + 1}: {float(finite_times[where])!r} -> "
                f"{float(finite_times[where + 1])!r}); sort the light curve or check the file",
                path,
            )
        return self

    # ------------------------------------------------------------ metadata
    @property
    def target_id(self) -> str | None:
        """The target's identifier (e.g. ``'TIC 25155310'``), when known."""
        value = self.meta.get("target_id")
        return None if value is None else str(value)

    @property
    def mission(self) -> str | None:
        """``'TESS'``, ``'Kepler'``, ``'K2'`` ... when known."""
        return self.meta.get("mission")

    @property
    def sector(self) -> int | None:
        """TESS sector, Kepler quarter or K2 campaign, whichever the mission uses."""
        for key in ("sector", "quarter", "campaign"):
            if self.meta.get(key) is not None:
                return int(self.meta[key])
        return None

    @property
    def path(self) -> str | None:
        """The file this light curve was read from, when any."""
        value = self.meta.get("path")
        return None if value is None else str(value)

    @property
    def cadence(self) -> float:
        """Cadence in days: ``meta['cadence']`` when set, else the median time step."""
        if self.meta.get("cadence") is not None:
            return float(self.meta["cadence"])
        steps = np.diff(self.time[np.isfinite(self.time)])
        return float(np.median(steps)) if steps.size else float("nan")

    @property
    def duration(self) -> float:
        """Time from first to last finite cadence, in days."""
        finite = self.time[np.isfinite(self.time)]
        return float(finite[-1] - finite[0]) if finite.size else 0.0

    # ------------------------------------------------------------ basics
    def __len__(self) -> int:
        return int(self.flux.size)

    def __repr__(self) -> str:
        parts = [f"{len(self)} cadences"]
        if self.time.size and np.isfinite(self.time).any():
            finite = self.time[np.isfinite(self.time)]
            parts.append(f"time {finite[0]:.3f}..{finite[-1]:.3f} d")
        for key in ("target_id", "mission", "sector", "quarter", "campaign"):
            if self.meta.get(key) is not None:
                parts.append(f"{key}={self.meta[key]}")
        if self.path:
            parts.append(f"path={Path(self.path).name}")
        return f"LightCurve({', '.join(parts)})"

    def __getitem__(self, index: Any) -> LightCurve:
        """Select cadences with a slice, boolean mask or index array."""
        flux_err = None if self.flux_err is None else self.flux_err[index]
        return LightCurve(
            np.atleast_1d(self.time[index]),
            np.atleast_1d(self.flux[index]),
            None if flux_err is None else np.atleast_1d(flux_err),
            dict(self.meta),
            validate=False,
        )

    def copy(self) -> LightCurve:
        """A deep copy (arrays and metadata)."""
        return LightCurve(
            self.time.copy(),
            self.flux.copy(),
            None if self.flux_err is None else self.flux_err.copy(),
            dict(self.meta),
            validate=False,
        )

    def replace(self, **changes: Any) -> LightCurve:
        """A new light curve with some of ``time``, ``flux``, ``flux_err``, ``meta`` replaced."""
        return LightCurve(
            changes.get("time", self.time),
            changes.get("flux", self.flux),
            changes.get("flux_err", self.flux_err),
            changes.get("meta", dict(self.meta)),
            validate=False,
        )

    # ------------------------------------------------------------ astronomy
    def remove_nans(self) -> LightCurve:
        """Drop cadences whose time or flux is NaN or infinite."""
        keep = np.isfinite(self.time) & np.isfinite(self.flux)
        return self if keep.all() else self[keep]

    def normalize(self, method: str = "median") -> LightCurve:
        """Normalise the flux (see :func:`normalize_flux` for the methods); errors scale alike.

        Example
        -------
        >>> LightCurve([0.0, 1.0, 2.0], [10.0, 20.0, 30.0]).normalize().flux.tolist()
        [0.5, 1.0, 1.5]
        """
        try:
            offset, scale = normalization_constants(self.flux, method)
        except LightCurveError as error:
            raise LightCurveError(error.reason, self.path) from None
        flux = (self.flux - offset) / scale
        flux_err = None if self.flux_err is None else self.flux_err / abs(scale)
        meta = dict(self.meta)
        meta["normalization"] = method
        return self.replace(flux=flux, flux_err=flux_err, meta=meta)

    def fold(self, period: float, epoch_time: float | None = None) -> LightCurve:
        """Phase-fold at ``period`` (days); times become days from mid-transit, in [-P/2, P/2).

        Example
        -------
        >>> lc = LightCurve(np.arange(0.0, 10.0, 0.5), np.ones(20))
        >>> folded = lc.fold(period=2.0, epoch_time=1.0)
        >>> float(folded.time.min()), float(folded.time.max())
        (-1.0, 0.5)
        """
        if not period > 0:
            raise ValueError(f"period must be positive, got {period!r}")
        epoch = float(self.time[np.isfinite(self.time)][0]) if epoch_time is None else float(epoch_time)
        phase = fold_time(self.time, period, epoch)
        order = np.argsort(phase, kind="stable")
        meta = dict(self.meta)
        meta.update(folded=True, period=float(period), epoch_time=epoch)
        return LightCurve(
            phase[order],
            self.flux[order],
            None if self.flux_err is None else self.flux_err[order],
            meta,
            validate=False,
        )

    def bin(self, bins: int | None = None, time_bin_size: float | None = None) -> LightCurve:
        """Average fluxes into equal-width time bins; empty bins (gaps) are NaN.

        Give either ``bins`` (the number of bins over the curve's span) or
        ``time_bin_size`` (days).

        Example
        -------
        >>> LightCurve(np.arange(8.0), np.arange(8.0)).bin(bins=4).flux.tolist()
        [0.5, 2.5, 4.5, 6.5]
        """
        finite = np.isfinite(self.time) & np.isfinite(self.flux)
        time, flux = self.time[finite], self.flux[finite]
        if time.size == 0:
            raise LightCurveError("cannot bin: no finite cadences", self.path)
        start, stop = float(time[0]), float(time[-1])
        if bins is None:
            if time_bin_size is None or time_bin_size <= 0:
                raise ValueError("give bins (a positive integer) or time_bin_size (positive days)")
            bins = max(1, int(np.ceil((stop - start) / time_bin_size)) or 1)
        if bins < 1:
            raise ValueError(f"bins must be at least 1, got {bins}")
        errors = None if self.flux_err is None else self.flux_err[finite]
        binned = bin_means(time, flux, bins=bins, errors=errors, keep_empty=True)
        meta = dict(self.meta)
        meta["cadence"] = (stop - start) / bins if stop > start else 1.0
        return LightCurve(binned.centers, binned.means, binned.errors, meta, validate=False)

    # ------------------------------------------------------------ interop
    @classmethod
    def from_lightkurve(cls, lc: Any, flux_column: str | None = None) -> LightCurve:
        """Convert a ``lightkurve.LightCurve`` (masked values become NaN).

        Example
        -------
        >>> import lightkurve as lk
        >>> LightCurve.from_lightkurve(lk.LightCurve(time=[1.0, 2.0], flux=[1.0, 1.1]))
        LightCurve(2 cadences, time 1.000..2.000 d)
        """
        flux = lc.flux if flux_column is None else lc[flux_column]
        flux_err = getattr(lc, "flux_err", None) if flux_column is None else None
        lk_meta = dict(getattr(lc, "meta", {}) or {})
        meta: dict[str, Any] = {}
        target = next(
            (lk_meta[key] for key in ("TARGET_ID", "TICID", "KEPLERID", "TARGETID", "OBJECT") if lk_meta.get(key)),
            None,
        )
        mission_name = str(lk_meta.get("MISSION") or lk_meta.get("TELESCOP") or "")
        if target is not None:
            upper = mission_name.upper()
            prefix = "TIC" if "TESS" in upper or lk_meta.get("TICID") else "EPIC" if upper == "K2" else "KIC"
            meta["target_id"] = target if isinstance(target, str) else f"{prefix} {int(target)}"
        if mission_name:
            meta["mission"] = mission_name
        for source, dest in (("SECTOR", "sector"), ("QUARTER", "quarter"), ("CAMPAIGN", "campaign")):
            if lk_meta.get(source) is not None:
                meta[dest] = int(lk_meta[source])
        if lk_meta.get("FILENAME"):
            meta["path"] = str(lk_meta["FILENAME"])
        time = lc.time
        time_values = time.value if hasattr(time, "value") else np.asarray(time)
        flux_values, extra = _as_array(flux, "flux")
        meta.update(extra)
        if hasattr(time, "format"):
            meta["time_format"] = str(time.format)
        err_values = None
        if flux_err is not None:
            err_values, _ = _as_array(flux_err, "flux_err")
            if not np.isfinite(err_values).any():
                err_values = None
        return cls(np.asarray(time_values, dtype=np.float64), flux_values, err_values, meta, validate=False)

    def to_lightkurve(self) -> Any:
        """Convert to a ``lightkurve.LightCurve`` (time format ``btjd``/``bkjd`` kept when known).

        Example
        -------
        >>> LightCurve([1.0, 2.0], [1.0, 1.1], mission="TESS").to_lightkurve().flux.value.tolist()
        [1.0, 1.1]
        """
        import lightkurve
        from astropy.time import Time

        time_format = self.meta.get("time_format")
        if time_format is None:
            mission = str(self.mission or "").upper()
            time_format = "btjd" if mission == "TESS" else "bkjd" if mission in ("KEPLER", "K2") else None
        time: Any = self.time
        if time_format in ("btjd", "bkjd", "jd", "mjd"):
            time = Time(self.time, format=time_format, scale=self.meta.get("time_scale", "tdb"))
        meta = {key.upper(): value for key, value in self.meta.items() if isinstance(value, (str, int, float))}
        return lightkurve.LightCurve(time=time, flux=self.flux, flux_err=self.flux_err, meta=meta)

    def to_pandas(self) -> Any:
        """A pandas DataFrame with columns ``time``, ``flux`` (and ``flux_err``)."""
        import pandas as pd

        columns = {"time": self.time, "flux": self.flux}
        if self.flux_err is not None:
            columns["flux_err"] = self.flux_err
        return pd.DataFrame(columns)

    # ------------------------------------------------------------ writing (the io writers, object first)
    def to_fits(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Write a TESS SPOC-format FITS file; ``options`` as :func:`qusi_lab.io.write_spoc_fits`.

        ``tic_id`` and ``sector`` default to the curve's ``target_id`` (``"TIC 7"``) and ``sector``.

        Example
        -------
        >>> import tempfile
        >>> from qusi_lab.io import read_light_curve
        >>> lc = LightCurve(1325.0 + np.arange(50) / 720, np.full(50, 900.0), target_id="TIC 7", sector=1)
        >>> back = read_light_curve(lc.to_fits(tempfile.mkdtemp() + "/star_lc.fits"))
        >>> back.target_id, back.sector, len(back)
        ('TIC 7', 1, 50)
        """
        return _writer("fits")(self, path, **options)

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write CSV (``time,flux[,flux_err]``, metadata as ``# key: json`` lines): :func:`qusi_lab.io.write_csv`.

        Example
        -------
        >>> import tempfile
        >>> from qusi_lab.io import read_light_curve
        >>> path = LightCurve([1.0, 2.0], [10.0, 11.0], sector=3).to_csv(tempfile.mkdtemp() + "/star.csv")
        >>> read_light_curve(path).flux.tolist()
        [10.0, 11.0]
        """
        return _writer("csv")(self, path)

    def to_npz(self, path: str | os.PathLike[str]) -> Path:
        """Write an uncompressed NPZ (arrays and JSON metadata): :func:`qusi_lab.io.write_npz`.

        Example
        -------
        >>> import tempfile
        >>> from qusi_lab.io import read_light_curve
        >>> path = LightCurve([1.0, 2.0], [10.0, 11.0]).to_npz(tempfile.mkdtemp() + "/star.npz")
        >>> read_light_curve(path).time.tolist()
        [1.0, 2.0]
        """
        return _writer("npz")(self, path)

    def plot(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot flux against time with matplotlib; returns the axes.

        Example
        -------
        >>> ax = LightCurve([1.0, 2.0], [1.0, 1.1]).plot()
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(10, 3))
        style = {"marker": ".", "linestyle": "none", "markersize": 2, "color": "k"}
        style.update(kwargs)
        ax.plot(self.time, self.flux, **style)
        if self.meta.get("folded"):
            ax.set_xlabel("time from epoch [days]")
        else:
            time_format = str(self.meta.get("time_format") or "days")
            ax.set_xlabel(f"time [{time_format.upper()}]" if time_format != "days" else "time [days]")
        ax.set_ylabel("flux")
        title = " ".join(str(x) for x in (self.target_id, self.mission, self.sector) if x is not None)
        if title:
            ax.set_title(title)
        return ax
