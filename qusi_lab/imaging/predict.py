"""The predictor: a probability map over the field, annulus by annulus, and the candidates in it.

For each annulus (every FWHM, see :func:`~qusi_lab.imaging.samples.default_separations`) the cube's MLAR
stack is computed once (one SVD, the component counts chosen on this cube as in training), every pixel
whose distance to the star is nearest that annulus' centre is described by its patch, and the network
scores all of them in batches (SODINN, Gomez Gonzalez et al. 2018, sect. 3.4). Detection: the map above a
threshold is segmented with photutils (``detect_sources``); each segment is reported at its most probable
pixel, and a segment whose peak lies within 2 FWHM of a more probable one is the same source (the
2-FWHM overlap rule of SODINN's evaluation).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from qusi_lab.errors import ImagingError
from qusi_lab.imaging.samples import default_separations, mlar_stacks

if TYPE_CHECKING:
    import pandas as pd
    from torch import nn

    from qusi_lab.imaging.sequence import AdiSequence

__all__ = ["ProbabilityMap", "estimate_flux", "find_sources", "probability_map", "trained_separations"]

CANDIDATE_COLUMNS = ["x", "y", "separation_px", "separation_fwhm", "separation_arcsec", "angle",
                     "position_angle", "probability", "n_pixels", "flux", "contrast"]
#: Components of the annular ADI-PCA behind the flux estimate.
FLUX_COMPONENTS = 5


def estimate_flux(sequence: AdiSequence, y: float, x: float, *, n_components: int = FLUX_COMPONENTS) -> float:
    """A companion's flux at ``(y, x)`` in the PSF template's units (its FWHM-aperture flux).

    The FWHM-aperture flux of the annular ADI-PCA final frame there, divided by the throughput that a fake
    companion at the same separation, 180 degrees away, measures in the same reduction (VIP's
    ``contrast_curve`` throughput; PCA removes part of every companion).
    """
    from qusi_lab.imaging.baselines import _aperture_fluxes, _aperture_mean_map, pca_adi
    from qusi_lab.imaging.injection import inject_companions

    fwhm = float(sequence.fwhm)
    center = sequence.star_position
    separation = math.hypot(y - center[0], x - center[1])
    angle = math.degrees(math.atan2(y - center[0], x - center[1]))
    fake_angle = math.radians(angle + 180.0)
    fake = (center[0] + separation * math.sin(fake_angle), center[1] + separation * math.cos(fake_angle))

    def aperture(frame: np.ndarray, where: tuple[float, float]) -> float:
        return float(_aperture_fluxes(_aperture_mean_map(frame, fwhm), np.array([where[0]]), np.array([where[1]]),
                                      fwhm)[0])

    base = pca_adi(sequence, n_components, mode="annular")
    raw = aperture(base, (y, x))
    # the fake as bright as the candidate (PCA's self-subtraction depends on brightness), at least clearly
    # above the ring's noise
    ring = np.abs(np.hypot(*(np.indices(sequence.shape) - np.asarray(center)[:, None, None])) - separation) < fwhm
    noise = float(np.nanstd(base[ring])) * math.pi * fwhm**2 / 4.0
    injected_flux = max(abs(raw), 5.0 * noise, 1e-12)
    with_fake = pca_adi(inject_companions(sequence, separation, angle + 180.0, injected_flux), n_components,
                        mode="annular")
    throughput = (aperture(with_fake, fake) - aperture(base, fake)) / injected_flux
    return raw / throughput if throughput > 0.05 else float("nan")  # under 5 %: no estimate


def find_sources(image: np.ndarray, threshold: float, fwhm: float, *, min_pixels: int = 1,
                 overlap_fwhm: float = 2.0) -> list[tuple[int, int, float, int]]:
    """Sources in a map (probabilities or S/N): ``(y, x, peak value, pixels)``, strongest first.

    The map above ``threshold`` is segmented (photutils ``detect_sources``, 8-connected, NaN masked);
    each segment is reported at its highest pixel, and a peak within ``overlap_fwhm`` FWHM of a stronger
    one is dropped (the same source).

    >>> image = np.zeros((21, 21)); image[5, 5] = image[15, 12] = 3.0; image[5, 7] = 2.0
    >>> find_sources(image, 1.0, 2.0)
    [(5, 5, 3.0, 1), (15, 12, 3.0, 1)]
    """

    from photutils.segmentation import detect_sources

    finite = np.isfinite(image)
    floor = float(np.nanmin(image)) if finite.any() else 0.0
    data = np.where(finite, image, min(floor, threshold) - 1.0)
    peaks: list[tuple[int, int, float, int]] = []
    if finite.any() and (data > threshold).any():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NoDetectionsWarning: an empty list says it
            segments = detect_sources(data, threshold, n_pixels=int(min_pixels), mask=~finite)
        if segments is not None:
            flat_labels, flat = segments.data.ravel(), data.ravel()
            order = np.argsort(flat_labels, kind="stable")
            starts = np.searchsorted(flat_labels[order], segments.labels)
            ends = np.searchsorted(flat_labels[order], segments.labels, side="right")
            for start, end in zip(starts, ends, strict=True):
                pixels = order[start:end]
                best = int(pixels[np.argmax(flat[pixels])])
                y, x = divmod(best, data.shape[1])
                peaks.append((y, x, float(flat[best]), int(end - start)))
    peaks.sort(key=lambda peak: (-peak[2], peak[0], peak[1]))
    kept: list[tuple[int, int, float, int]] = []
    for peak in peaks:  # the 2-FWHM overlap rule: the stronger peak stands for both
        if all(math.hypot(peak[0] - k[0], peak[1] - k[1]) > overlap_fwhm * fwhm for k in kept):
            kept.append(peak)
    return kept


def _network(model: Any) -> nn.Module:
    network = getattr(model, "network", model)  # a trained ql.Model or a bare nn.Module
    config = getattr(network, "config", {}) or {}
    if "levels" not in config or "patch_size" not in config:
        raise ImagingError(f"{type(network).__name__} is not an MLAR network (no levels/patch_size in its "
                           f"config); train one of qusi_lab.models.available('mlar')")
    return network


def trained_separations(model: Any) -> tuple[float, float] | None:
    """The range of separations (in FWHM) a trained MLAR model learnt from (``Model.data_config``), or None.

    >>> from qusi_lab.models import Model
    >>> from qusi_lab.models.mlar import MlarConv3D
    >>> model = Model(MlarConv3D(levels=4, patch_size=9), task="binary", label_names=("no", "yes"),
    ...               data_config={"kind": "mlar", "separations_fwhm": [1.0, 2.0, 4.0]})
    >>> trained_separations(model), trained_separations(model.network)
    ((1.0, 4.0), None)
    """
    separations = _trained_data(model).get("separations_fwhm")
    if not separations:
        return None
    values = [float(r) for r in separations]
    return min(values), max(values)


def _trained_data(model: Any) -> dict[str, Any]:
    """``model.data_config`` of a trained :class:`ql.Model` (empty for a bare network or none recorded)."""
    data = getattr(model, "data_config", None)
    return data if isinstance(data, dict) else {}


def _trained_max_variance(model: Any) -> float:
    from qusi_lab.imaging.samples import DEFAULT_MAX_VARIANCE

    value = _trained_data(model).get("max_variance")
    return DEFAULT_MAX_VARIANCE if value is None else float(value)


def _trained_setting(model: Any, key: str, known: tuple[str, ...], before: str, default: str) -> str:
    """An MLAR setting the model was trained with: ``before`` for a model whose record predates the key
    (the only value there was then), ``default`` without a record (a bare network)."""
    data = _trained_data(model)
    value = data.get(key)
    if value is None:
        return before if data.get("kind") == "mlar" else default
    if value not in known:
        raise ImagingError(f"the model was trained with the MLAR {key} {value!r}, which this version does not know "
                           f"({', '.join(known)})")
    return str(value)


@dataclass
class ProbabilityMap:
    """The network's probability of a companion at each pixel (NaN where no patch fits).

    Attributes
    ----------
    probability:
        ``(ny, nx)`` in [0, 1].
    separations:
        The annulus centres (pixels) that were scored.
    counts:
        The MLAR component counts of each annulus, as computed on this cube.
    """

    probability: np.ndarray
    center: tuple[float, float]
    fwhm: float
    pixel_scale: float
    separations: list[float]
    counts: dict[float, list[int]] = field(default_factory=dict)
    path: str | None = None
    sequence: AdiSequence | None = field(default=None, repr=False)

    def candidates(self, threshold: float = 0.9, *, min_pixels: int = 1, overlap_fwhm: float = 2.0,
                   flux: bool = True) -> pd.DataFrame:
        """The sources above ``threshold``: one row each, most probable first.

        Columns: ``x``, ``y`` (the most probable pixel), ``separation_px``/``_fwhm``/``_arcsec``,
        ``angle`` (degrees counter-clockwise from +x, VIP's ``theta``), ``position_angle`` (degrees east of
        north for a derotated, north-up east-left frame: ``angle - 90``), ``probability``, ``n_pixels``
        (of the segment above the threshold), ``flux`` (:func:`estimate_flux`, in the PSF template's
        units; NaN without the map's sequence or with ``flux=False``) and ``contrast`` (``flux`` over
        ``sequence.meta["star_flux"]`` when known).
        """
        import pandas as pd

        if not 0.0 <= threshold < 1.0:
            raise ValueError(f"threshold must lie in [0, 1), got {threshold}")
        peaks = find_sources(self.probability, threshold, self.fwhm, min_pixels=min_pixels,
                             overlap_fwhm=overlap_fwhm)
        kept = [self._row(y, x, value, n) for y, x, value, n in peaks]
        star = None if self.sequence is None else self.sequence.meta.get("star_flux")
        for row in kept:
            estimate = (estimate_flux(self.sequence, row["y"], row["x"]) if flux and self.sequence is not None
                        else float("nan"))
            row["flux"] = estimate
            row["contrast"] = estimate / float(star) if star else float("nan")
        return pd.DataFrame(kept, columns=CANDIDATE_COLUMNS)

    def _row(self, y: int, x: int, probability: float, n_pixels: int) -> dict[str, float]:
        dy, dx = y - self.center[0], x - self.center[1]
        separation = math.hypot(dy, dx)
        angle = math.degrees(math.atan2(dy, dx)) % 360.0
        return {"x": x, "y": y, "separation_px": separation, "separation_fwhm": separation / self.fwhm,
                "separation_arcsec": separation * self.pixel_scale, "angle": angle,
                "position_angle": (angle - 90.0) % 360.0, "probability": probability, "n_pixels": n_pixels}

    def plot(self, ax: Any = None, *, threshold: float | None = None) -> Any:
        """Show the map (and circles of 1 FWHM on the candidates above ``threshold``); returns the axes."""
        if ax is None:  # pyplot, so that a notebook shows it (as AdiSequence.plot)
            import matplotlib.pyplot as plt

            _, ax = plt.subplots(figsize=(5, 4.5))
        image = ax.imshow(self.probability, origin="lower", vmin=0.0, vmax=1.0, cmap="viridis")
        ax.figure.colorbar(image, ax=ax, label="probability")
        ax.plot(self.center[1], self.center[0], "+", color="white")
        if threshold is not None:
            from matplotlib.patches import Circle

            for row in self.candidates(threshold).itertuples():
                ax.add_patch(Circle((row.x, row.y), self.fwhm, fill=False, color="red"))
        ax.set_xlabel("x (pixels)")
        ax.set_ylabel("y (pixels)")
        return ax


def probability_map(model: Any, sequence: AdiSequence, *, separations: list[float] | None = None,
                    batch_size: int = 1024, device: str | torch.device = "cpu") -> ProbabilityMap:
    """Score every pixel of the field with an MLAR network (a trained :class:`ql.Model` or its network).

    By default the annuli are those of :func:`~qusi_lab.imaging.samples.default_separations` that lie within
    the separations the model was trained on (``model.data_config["separations_fwhm"]``, in FWHM, +-0.5),
    and no pixel closer to the star than the closest companion it was shown
    (``data_config["min_separation_fwhm"]``) is scored (NaN): there it only ever saw negatives, and the
    core's residuals of another instrument are nothing it learnt. A bare network, or a model without those
    records, scores the whole field. ``separations=`` (pixels)
    outside the trained range gives a warning: the probabilities there are extrapolations.

    Examples
    --------
    >>> from qusi_lab.imaging import AdiSequence
    >>> from qusi_lab.models.mlar import MlarConv3D
    >>> rng = np.random.default_rng(0)
    >>> sequence = AdiSequence(rng.normal(size=(20, 41, 41)), np.linspace(0, 60, 20), np.ones((5, 5)),
    ...                        0.0272, 4.0)
    >>> result = probability_map(MlarConv3D(levels=4, patch_size=9, filters=(4, 8), dense_units=8), sequence)
    >>> result.probability.shape, bool(np.nanmax(result.probability) <= 1)
    ((41, 41), True)
    """
    network = _network(model)
    config: dict[str, Any] = dict(network.config)  # type: ignore[arg-type]
    levels, size = int(config["levels"]), int(config["patch_size"])
    fwhm = float(sequence.fwhm)
    trained = trained_separations(model)
    from qusi_lab.imaging.samples import DEFAULT_FIT_REGION, DEFAULT_LADDER, FIT_REGIONS, LADDERS

    max_variance = _trained_max_variance(model)
    ladder = _trained_setting(model, "ladder", LADDERS, "variance", DEFAULT_LADDER)
    fit_region = _trained_setting(model, "fit_region", FIT_REGIONS, "band", DEFAULT_FIT_REGION)
    if separations is None:
        radii = default_separations(sequence, size)
        if trained is not None:  # score what the network learnt, not the whole field
            low, high = trained
            radii = [r for r in radii if low - 0.5 <= r / fwhm <= high + 0.5]
            if not radii:
                raise ImagingError(f"the model was trained on {low:g}-{high:g} FWHM, where no annulus of this "
                                   f"cube fits; pass separations= to score others", path=sequence.path)
    else:
        radii = [float(r) for r in separations]
        if trained is not None:
            outside = [r for r in radii if not trained[0] - 0.5 <= r / fwhm <= trained[1] + 0.5]
            if outside:
                warnings.warn(f"{sequence.path or 'the cube'}: separations {[round(r, 1) for r in outside]} px "
                              f"lie outside the {trained[0]:g}-{trained[1]:g} FWHM the model was trained on; "
                              f"its probabilities there are extrapolations", UserWarning, stacklevel=2)
    if not radii:
        raise ImagingError("no annulus fits in the frame", path=sequence.path)
    center = sequence.star_position
    yy, xx = np.indices(sequence.shape)
    radius = np.hypot(yy - center[0], xx - center[1])
    nearest = np.abs(radius[None] - np.asarray(radii)[:, None, None]).argmin(axis=0)
    out = np.full(sequence.shape, np.nan)
    counts: dict[float, list[int]] = {}
    network = network.to(device).eval()
    half = size // 2
    annuli = mlar_stacks(sequence, radii, patch_size=size, n_levels=levels, width=fwhm,
                         max_variance=max_variance, ladder=ladder,
                         fit_region=fit_region)  # one derotation operator for all annuli
    for index, (separation, annulus) in enumerate(zip(radii, annuli, strict=True)):
        counts[separation] = annulus.counts
        chosen = (nearest == index) & (np.abs(radius - separation) <= fwhm / 2.0 + 1e-9)
        pixels = np.argwhere(chosen)
        # all patches of the annulus at once: a strided view, then the chosen centres
        padded = np.pad(np.nan_to_num(annulus.stack, nan=0.0), ((0, 0), (half, half), (half, half)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, (size, size), axis=(1, 2))
        for start in range(0, len(pixels), batch_size):
            block = pixels[start:start + batch_size]
            patches = windows[:, block[:, 0], block[:, 1]].transpose(1, 0, 2, 3)  # (n, levels, size, size)
            with torch.inference_mode():
                logits = network(torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float32)).to(device))
            out[block[:, 0], block[:, 1]] = torch.sigmoid(logits[:, 0]).double().cpu().numpy()
    inner = _trained_data(model).get("min_separation_fwhm")
    if separations is None and inner is not None:
        out[radius < float(inner) * fwhm] = np.nan
    return ProbabilityMap(out, center, fwhm, float(sequence.pixel_scale), radii, counts, sequence.path, sequence)
