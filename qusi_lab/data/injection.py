"""Inject synthetic signals into real light curves: positives (and false-positive negatives) from real hosts.

A real light curve carries the noise, gaps and systematics of its instrument; multiply a
transit model into it and you have a positive example that no simulator has to get right.
Everything here works in *relative* flux on the host's own cadence: the signal model
(1.0 = no signal, from :mod:`qusi_lab.signals`) is evaluated at the host's time stamps and
multiplies the host flux. Gap cadences (NaN times or fluxes) are left as they are, the
injected parameters are recorded in ``lc.meta["injected"]`` and the input is never modified.

* :func:`inject` and the wrappers :func:`inject_transit`, :func:`inject_heartbeat`,
  :func:`inject_eclipsing_binary`, :func:`inject_flare`, :func:`inject_variability`.
* :class:`Injector`: a picklable ``load`` function for :class:`~qusi_lab.data.LightCurveDataset`
  that loads a host and injects a signal drawn deterministically from ``(seed, item index)``.
* :func:`make_injected_dataset`: a labelled dataset (``positive``/``negative``) from host files.

Example
-------
>>> from qusi_lab.synthetic import synthetic_light_curve
>>> host = synthetic_light_curve("quiet", seed=1)
>>> planet = inject_transit(host, rng=7, period=3.0, radius_ratio=0.1)
>>> planet.meta["injected"]["kind"], planet.meta["injected"]["period"]
('transit', 3.0)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qusi_lab.errors import LightCurveError
from qusi_lab.lightcurve import LightCurve

__all__ = [
    "inject",
    "inject_transit",
    "inject_heartbeat",
    "inject_eclipsing_binary",
    "inject_flare",
    "inject_variability",
    "InjectionSource",
    "Injector",
    "make_injected_dataset",
]

# The parameter that places each kind of signal in time: drawn at a cadence that holds data,
# so the signal (at least one transit, eclipse, periastron or flare) lands inside the host's data.
_TIME_PARAMETER = {
    "transit": "epoch",
    "eclipsing_binary": "epoch",
    "heartbeat": "epoch_periastron",
    "flare": "peak_time",
}
# Cadences longer than this (days) average the model over the exposure (Kipping 2010).
_SUPERSAMPLE_ABOVE = 0.01


def _as_rng(rng: np.random.Generator | int | Sequence[int] | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _record(meta: Mapping[str, Any], entry: dict[str, Any]) -> dict[str, Any]:
    """``meta`` with ``entry`` added to ``injected`` (a dict for one injection, a list for several)."""
    result = dict(meta)
    previous = result.get("injected")
    if previous is None or (isinstance(previous, list) and not previous):
        result["injected"] = entry
    elif isinstance(previous, list):
        result["injected"] = [*previous, entry]
    else:
        result["injected"] = [previous, entry]
    return result


def _check_relative(lc: LightCurve) -> None:
    finite = lc.flux[np.isfinite(lc.flux)]
    if finite.size == 0:
        raise LightCurveError("cannot inject into a light curve with no finite flux", lc.path)
    if not np.median(finite) > 0:
        raise LightCurveError(
            "inject multiplies the flux by a relative signal, so the host's median flux must be positive "
            f"(got {np.median(finite):.4g}); inject before a zero-centring normalisation such as median_mad",
            lc.path,
        )


def draw_parameters(
    lc: LightCurve,
    kind: str,
    rng: np.random.Generator | int | None = None,
    ranges: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Random parameters of ``kind`` for ``lc``, placed inside its data (``{"kind": ..., **parameters}``).

    ``ranges`` overrides :func:`qusi_lab.signals.random_parameters`' ranges (a number fixes a value,
    a ``(low, high)`` pair replaces a range). Unless ``ranges`` fixes it, the epoch (transit,
    eclipsing binary), periastron (heartbeat) or peak (flare) is the time of a cadence with data.
    Transits on cadences longer than ~15 minutes are integrated over the exposure.

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve
    >>> parameters = draw_parameters(synthetic_light_curve("quiet"), "transit", rng=0, ranges={"period": 2.0})
    >>> parameters["kind"], parameters["period"]
    ('transit', 2.0)
    """
    from qusi_lab.signals import random_parameters

    generator = _as_rng(rng)
    overrides = dict(ranges or {})
    finite = np.isfinite(lc.time) & np.isfinite(lc.flux)
    if not finite.any():
        raise LightCurveError("cannot place a signal: no cadence has a finite time and flux", lc.path)
    time_parameter = _TIME_PARAMETER.get(kind)
    if time_parameter is not None and time_parameter not in overrides:
        overrides[time_parameter] = float(lc.time[finite][int(generator.integers(int(finite.sum())))])
    parameters = random_parameters(kind, generator, time=lc.time[finite], **overrides)
    cadence = lc.cadence
    if kind == "transit" and np.isfinite(cadence) and cadence > _SUPERSAMPLE_ABOVE:
        parameters["exposure_time"] = float(cadence)
    return parameters


def inject(
    lc: LightCurve,
    kind_or_flux: str | np.ndarray | Callable[[np.ndarray], np.ndarray],
    *,
    parameters: Mapping[str, Any] | None = None,
    rng: np.random.Generator | int | None = None,
    ranges: Mapping[str, Any] | None = None,
) -> LightCurve:
    """A copy of ``lc`` with a signal multiplied into its flux (``flux * model``, relative model).

    Parameters
    ----------
    lc:
        The host. Its flux may be in e-/s or normalised around 1, not zero-centred.
    kind_or_flux:
        A signal kind of :data:`qusi_lab.signals.SIGNAL_KINDS` (``"transit"``, ``"heartbeat"``,
        ``"eclipsing_binary"``, ``"flare"``, ``"sinusoidal"``, ``"quasi_periodic"``), or a relative
        flux array of ``len(lc)``, or a function ``time -> relative flux``.
    parameters:
        The exact parameters of the signal function (as recorded in ``meta["injected"]``; a
        ``"kind"`` key is allowed). Default: drawn with :func:`draw_parameters` from ``rng``.
    rng:
        Generator or seed for the drawn parameters.
    ranges:
        Overrides of the drawn parameters' ranges (see :func:`draw_parameters`).

    Returns
    -------
    LightCurve
        Flux and flux errors multiplied by the model where the model is finite; NaN fluxes and
        cadences with NaN times are untouched. ``meta["injected"]`` holds ``{"kind": ..., **parameters}``
        (a list when the host already had injections).

    Example
    -------
    >>> lc = LightCurve(np.linspace(0, 10, 2000), np.full(2000, 100.0))
    >>> dimmed = inject(lc, "transit", parameters={"period": 5.0, "epoch": 2.0, "radius_ratio": 0.1,
    ...                                            "a_over_rstar": 15.0})
    >>> round(float(dimmed.flux.min()), 1), lc.flux.min()
    (98.8, np.float64(100.0))
    """
    _check_relative(lc)
    if isinstance(kind_or_flux, str):
        from qusi_lab.signals import signal

        kind = kind_or_flux
        if parameters is None:
            record = draw_parameters(lc, kind, rng, ranges)
        else:
            record = dict(parameters)
            recorded_kind = record.pop("kind", kind)
            if recorded_kind != kind:
                raise ValueError(f"parameters are for a {recorded_kind!r} signal, not {kind!r}")
            record = {"kind": kind, **record}
        arguments = {key: value for key, value in record.items() if key != "kind"}
        model = np.asarray(signal(kind, lc.time, **arguments), dtype=np.float64)
    elif callable(kind_or_flux):
        model = np.asarray(kind_or_flux(lc.time.copy()), dtype=np.float64)
        record = {"kind": getattr(kind_or_flux, "__name__", "custom"), **dict(parameters or {})}
    else:
        model = np.asarray(kind_or_flux, dtype=np.float64)
        record = {"kind": "custom", **dict(parameters or {})}
    if model.shape != lc.flux.shape:
        raise ValueError(f"the signal has shape {model.shape} but the light curve has {lc.flux.shape}")
    # Only cadences with a time and a model value change: the gaps stay exactly as they were.
    applies = np.isfinite(lc.time) & np.isfinite(model)
    flux = lc.flux.copy()
    flux[applies] *= model[applies]
    flux_err = None
    if lc.flux_err is not None:
        flux_err = lc.flux_err.copy()
        flux_err[applies] *= model[applies]
    return LightCurve(lc.time.copy(), flux, flux_err, _record(lc.meta, record), validate=False)


def inject_transit(
    lc: LightCurve, *, rng: np.random.Generator | int | None = None, **parameters: Any
) -> LightCurve:
    """Inject a planetary transit; keyword arguments fix parameters (``period=3.0``) or ranges (``radius_ratio=(0.01, 0.05)``).

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve
    >>> inject_transit(synthetic_light_curve("quiet"), rng=0, period=4.0).meta["injected"]["period"]
    4.0
    """
    return inject(lc, "transit", rng=rng, ranges=parameters)


def inject_heartbeat(
    lc: LightCurve, *, rng: np.random.Generator | int | None = None, **parameters: Any
) -> LightCurve:
    """Inject an eccentric-binary heartbeat; keyword arguments fix parameters or ranges (see :func:`inject_transit`)."""
    return inject(lc, "heartbeat", rng=rng, ranges=parameters)


def inject_eclipsing_binary(
    lc: LightCurve, *, rng: np.random.Generator | int | None = None, **parameters: Any
) -> LightCurve:
    """Inject an eclipsing binary (a transit false positive); keyword arguments fix parameters or ranges."""
    return inject(lc, "eclipsing_binary", rng=rng, ranges=parameters)


def inject_flare(lc: LightCurve, *, rng: np.random.Generator | int | None = None, **parameters: Any) -> LightCurve:
    """Inject one stellar flare; keyword arguments fix parameters or ranges (see :func:`inject_transit`)."""
    return inject(lc, "flare", rng=rng, ranges=parameters)


def inject_variability(
    lc: LightCurve,
    *,
    kind: str = "quasi_periodic",
    rng: np.random.Generator | int | None = None,
    **parameters: Any,
) -> LightCurve:
    """Inject stellar variability: ``kind`` ``"quasi_periodic"`` (evolving spots) or ``"sinusoidal"`` (rotation)."""
    if kind not in ("quasi_periodic", "sinusoidal"):
        raise ValueError(f"variability kind must be 'quasi_periodic' or 'sinusoidal', got {kind!r}")
    return inject(lc, kind, rng=rng, ranges=parameters)


# ----------------------------------------------------------------------------- datasets


@dataclass(frozen=True)
class InjectionSource:
    """One dataset item: a host (file path or light curve) and the kind of signal to inject into it.

    ``kind`` None means the plain host. ``index`` seeds the signal's parameters with the
    :class:`Injector`'s seed, so the item is the same in every epoch and every worker.
    """

    host: Any
    kind: str | None
    index: int

    @property
    def path(self) -> str | None:
        """The host's file (datasets name the item after it in errors and problem reports)."""
        if isinstance(self.host, (str, os.PathLike)):
            return str(self.host)
        if isinstance(self.host, LightCurve):
            return self.host.path
        return None

    def __str__(self) -> str:
        host = self.path or repr(self.host)
        return f"{host} + {self.kind}" if self.kind else host


def _default_loader(source: Any) -> LightCurve:
    from qusi_lab.io import read_light_curve

    return read_light_curve(source)


class Injector:
    """``load`` function for :class:`~qusi_lab.data.LightCurveDataset`: a host with a signal injected.

    Called with an :class:`InjectionSource`, it loads the host (``load(host)``, default
    :func:`qusi_lab.io.read_light_curve`; light-curve hosts are used as they are) and injects a
    signal of ``source.kind`` whose parameters are drawn from ``default_rng([seed, source.index])``
    (:func:`draw_parameters`, with ``parameter_ranges[kind]``). Plain paths or light curves, and
    sources with ``kind=None``, come back without a signal. Picklable, so DataLoader workers can
    use it.

    Example
    -------
    >>> from qusi_lab.synthetic import synthetic_light_curve
    >>> injector = Injector(seed=3)
    >>> lc = injector(InjectionSource(synthetic_light_curve("quiet"), "transit", index=0))
    >>> lc.meta["injected"]["kind"]
    'transit'
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        parameter_ranges: Mapping[str, Mapping[str, Any]] | None = None,
        load: Callable[[Any], Any] | None = None,
    ) -> None:
        self.seed = int(seed)
        self.parameter_ranges = {kind: dict(ranges) for kind, ranges in (parameter_ranges or {}).items()}
        self.load = load

    def load_host(self, host: Any) -> LightCurve:
        """The host as a LightCurve (files through ``load``; in-memory curves copied)."""
        if isinstance(host, LightCurve):
            return host.copy()
        loaded = (self.load or _default_loader)(host)
        if isinstance(loaded, LightCurve):
            return loaded
        from qusi_lab.data.dataset import as_light_curve

        return as_light_curve(loaded, host)

    def __call__(self, source: Any) -> LightCurve:
        if not isinstance(source, InjectionSource):
            return self.load_host(source)
        host = self.load_host(source.host)
        if source.kind is None:
            return host
        rng = np.random.default_rng([self.seed, int(source.index)])
        return inject(host, source.kind, rng=rng, ranges=self.parameter_ranges.get(source.kind))

    def __repr__(self) -> str:
        load = getattr(self.load, "__name__", repr(self.load)) if self.load else "read_light_curve"
        return f"Injector(seed={self.seed}, parameter_ranges={self.parameter_ranges}, load={load})"


def _host_target_id(host: Any, position: int) -> str:
    if isinstance(host, LightCurve):
        return host.target_id or host.path or f"host {position}"
    from qusi_lab.data.dataset import target_id_from_filename

    return target_id_from_filename(host) or Path(host).name.split(".")[0]


def _ranges_by_kind(parameter_ranges: Mapping[str, Any] | None, positive: str) -> dict[str, dict[str, Any]]:
    """Accept ``{"period": (1, 5)}`` (for the positive kind) or ``{"transit": {...}, "eclipsing_binary": {...}}``."""
    from qusi_lab.signals import SIGNAL_KINDS

    if not parameter_ranges:
        return {}
    if all(key in SIGNAL_KINDS and isinstance(value, Mapping) for key, value in parameter_ranges.items()):
        return {kind: dict(value) for kind, value in parameter_ranges.items()}
    return {positive: dict(parameter_ranges)}


def make_injected_dataset(
    hosts: Sequence[Any],
    *,
    positive: str = "transit",
    negative: str | None = None,
    n_per_host: int = 1,
    positive_fraction: float = 0.5,
    seed: int = 0,
    parameter_ranges: Mapping[str, Any] | None = None,
    load: Callable[[Any], Any] | None = None,
    **dataset_kwargs: Any,
) -> Any:
    """A ``positive``/``negative`` :class:`~qusi_lab.data.LightCurveDataset` made by injecting into hosts.

    Parameters
    ----------
    hosts:
        Host light curves: file paths or :class:`~qusi_lab.lightcurve.LightCurve` objects.
    positive:
        Signal kind injected into positives (default ``"transit"``).
    negative:
        Signal kind injected into negatives, e.g. ``"eclipsing_binary"`` to teach the network a
        false positive; None (default) keeps negatives as the plain hosts.
    n_per_host:
        Items per host.
    positive_fraction:
        Fraction of items that are positive. Each host gets ``floor`` or ``ceil`` of
        ``n_per_host * positive_fraction`` positives (seeded), so with ``n_per_host=2`` and 0.5
        every host appears once with the signal and once without.
    seed:
        Seeds the assignment and, with the item index, each item's signal parameters.
    parameter_ranges:
        Overrides of the drawn parameters for the positive kind (``{"radius_ratio": (0.01, 0.1)}``),
        or per kind (``{"transit": {...}, "eclipsing_binary": {...}}``).
    load:
        How to read a host file (default :func:`qusi_lab.io.read_light_curve`).
    **dataset_kwargs:
        Passed to :class:`~qusi_lab.data.LightCurveDataset` (``preprocessing``, ``input_length`` ...).
        Each item's target id is its host's, so splits keep a host's items together.

    Example
    -------
    >>> import glob
    >>> dataset = make_injected_dataset(sorted(glob.glob("data/hosts/*.fits")), n_per_host=2)  # doctest: +SKIP
    >>> dataset.light_curve(0).meta["injected"]                                                 # doctest: +SKIP
    """
    from qusi_lab.data.dataset import LightCurveDataset
    from qusi_lab.signals import SIGNAL_KINDS

    hosts = list(hosts)
    if not hosts:
        raise ValueError("make_injected_dataset needs at least one host")
    for kind in (positive, negative):
        if kind is not None and kind not in SIGNAL_KINDS:
            raise ValueError(f"unknown signal kind {kind!r}; choose one of {SIGNAL_KINDS}")
    if n_per_host < 1:
        raise ValueError(f"n_per_host must be at least 1, got {n_per_host}")
    if not 0.0 <= positive_fraction <= 1.0:
        raise ValueError(f"positive_fraction must be in [0, 1], got {positive_fraction}")

    rng = np.random.default_rng([int(seed), len(hosts), n_per_host])
    total_positive = int(round(positive_fraction * len(hosts) * n_per_host))
    base = total_positive // len(hosts)
    positives_per_host = np.full(len(hosts), base)
    positives_per_host[rng.permutation(len(hosts))[: total_positive - base * len(hosts)]] += 1

    sources: list[InjectionSource] = []
    labels: list[str] = []
    target_ids: list[str] = []
    for position, host in enumerate(hosts):
        target_id = _host_target_id(host, position)
        flags = np.zeros(n_per_host, dtype=bool)
        flags[: positives_per_host[position]] = True
        for is_positive in rng.permutation(flags):
            sources.append(InjectionSource(host, positive if is_positive else negative, len(sources)))
            labels.append("positive" if is_positive else "negative")
            target_ids.append(target_id)
    injector = Injector(seed=seed, parameter_ranges=_ranges_by_kind(parameter_ranges, positive), load=load)
    dataset_kwargs.setdefault("label_names", ["negative", "positive"])
    dataset_kwargs.setdefault("target_ids", target_ids)
    return LightCurveDataset(sources, labels, load=injector, **dataset_kwargs)
