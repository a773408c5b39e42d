"""Multi-level low-rank residual (MLAR) samples: what the imaging networks see.

SODINN (Gomez Gonzalez, Absil & Van Droogenbroeck 2018, A&A 613, A71, sect. 3) describes a point of the
field by the stack of its PCA-ADI residual patches at many numbers of principal components: a companion
persists across the levels while speckle residuals change shape from one level to the next. Here:

- per annulus **one** SVD (:func:`~qusi_lab.imaging.baselines.residual_stack`), the numbers of components
  chosen by cumulative explained variance up to ``max_variance`` (0.99) in ``n_levels`` (20) steps;
- the residuals derotated and collapsed with **one** collapse (the median, in training and prediction:
  SODINN used a mean in one and a median in the other);
- each level divided by the robust standard deviation of its annulus, so a patch reads in units of the
  local noise (a sample does not depend on the star's brightness or the separation's speckle level);
- odd patches of about 2 FWHM.

Negatives come from the cube derotated with the opposite angles, where a real companion smears out
(SODINN sect. 3.2): the sky does not align, the quasi-static pupil-fixed speckles are treated alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from qusi_lab.core.jsonable import to_jsonable
from qusi_lab.errors import ImagingError
from qusi_lab.imaging.baselines import _band_derotator, _band_residual_coefficients, _frame_basis, collapse
from qusi_lab.imaging.sequence import AdiSequence

__all__ = ["MlarAnnulus", "MlarSamples", "default_separations", "make_samples", "mlar_annulus", "mlar_levels",
           "mlar_stacks", "patch_size_for"]

DEFAULT_LEVELS = 20
DEFAULT_MAX_VARIANCE = 0.99
LADDERS = ("variance", "distinct")
DEFAULT_LADDER = "variance"
# Where an annulus' principal components are fitted: "ring", the pixels within one ring width of its
# separation; "band", every pixel its patches reach (before 0.2: near the star that band holds the core,
# whose Strehl and transparency changes then take the components, and the speckles at the ring stay)
FIT_REGIONS = ("ring", "band")
DEFAULT_FIT_REGION = "ring"


def patch_size_for(fwhm: float) -> int:
    """The odd patch side of about 2 FWHM (SODINN), at least 5 pixels.

    >>> patch_size_for(4.0), patch_size_for(3.3)
    (9, 7)
    """
    size = int(round(2.0 * fwhm))
    return max(5, size + 1 - size % 2)



def mlar_levels(block: np.ndarray, *, n_levels: int = DEFAULT_LEVELS,
                max_variance: float = DEFAULT_MAX_VARIANCE, ladder: str = DEFAULT_LADDER) -> list[int]:
    """Numbers of components for ``n_levels`` steps of cumulative explained variance up to ``max_variance``.

    ``block`` is ``(frames, pixels)``. The steps are spread evenly in explained variance between that of
    one component and ``max_variance`` (SODINN's ``cevr`` ladder); a count may repeat when the spectrum is
    steep, so every annulus gives the same number of levels (the network's input depth).
    ``ladder="distinct"`` makes each level take at least one component more than the one before (up to
    the frames' limit): where the first component holds most of the variance (a star whose Strehl or
    transparency varies), the ``cevr`` ladder spends most levels on 2-3 components, which repeat the
    same residual.

    >>> rng = np.random.default_rng(0)
    >>> block = rng.normal(size=(30, 1)) * rng.normal(size=(1, 200)) * 10 + rng.normal(size=(30, 200))
    >>> levels = mlar_levels(block, n_levels=5)
    >>> levels[0], len(levels), levels == sorted(levels)
    (1, 5, True)
    >>> mlar_levels(block, n_levels=5, ladder="distinct") == sorted(set(mlar_levels(block, n_levels=5, ladder="distinct")))
    True
    """
    centred = block - block.mean(axis=0)
    return _levels(np.linalg.eigvalsh(centred @ centred.T)[::-1], block.shape[1], n_levels, max_variance, ladder)


def _levels(eigenvalues: np.ndarray, n_pixels: int, n_levels: int, max_variance: float,
            ladder: str = DEFAULT_LADDER) -> list[int]:
    """:func:`mlar_levels` from the decreasing eigenvalues of the centred block's Gram matrix."""
    if ladder not in LADDERS:
        raise ValueError(f"ladder must be one of {LADDERS}, got {ladder!r}")
    if not 0.0 < max_variance < 1.0:
        raise ValueError(f"max_variance must lie in (0, 1), got {max_variance}")
    if n_levels < 1:
        raise ValueError(f"n_levels must be at least 1, got {n_levels}")
    singular = np.sqrt(np.clip(eigenvalues, 0.0, None))
    variance = np.cumsum(singular**2) / max(float(np.sum(singular**2)), 1e-300)
    limit = min(len(eigenvalues) - 1, n_pixels)
    targets = np.linspace(variance[0], max_variance, n_levels)
    counts = np.clip(np.searchsorted(variance, targets - 1e-12) + 1, 1, limit)
    if ladder == "distinct":
        for index in range(1, len(counts)):
            counts[index] = min(max(counts[index], counts[index - 1] + 1), limit)
    return [int(c) for c in counts]


@dataclass
class MlarAnnulus:
    """The MLAR stack of one annulus: ``(levels, ny, nx)`` final frames, NaN outside the annulus.

    Attributes
    ----------
    stack:
        Per-level final frames in units of the annulus' robust noise.
    counts:
        Numbers of principal components of the levels.
    separation:
        Centre of the annulus in pixels; ``inner``/``outer`` its edges (where patches are complete).
    noise:
        The robust standard deviation of each level before normalisation.
    """

    stack: np.ndarray
    counts: list[int]
    separation: float
    inner: float
    outer: float
    center: tuple[float, float]
    noise: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def patch(self, y: float, x: float, size: int) -> np.ndarray:
        """The ``(levels, size, size)`` patch centred on the pixel nearest ``(y, x)``."""
        iy, ix, half = int(round(y)), int(round(x)), size // 2
        out = self.stack[:, iy - half:iy + half + 1, ix - half:ix + half + 1]
        if out.shape[1:] != (size, size) or iy < half or ix < half:
            raise ImagingError(f"a {size}-pixel patch at ({y:.1f}, {x:.1f}) leaves the frame")
        return out

    def positions(self, step: float = 1.0) -> np.ndarray:
        """Integer ``(y, x)`` pixels whose distance to the centre lies within ``separation +- step / 2``."""
        ny, nx = self.stack.shape[1:]
        yy, xx = np.indices((ny, nx))
        radius = np.hypot(yy - self.center[0], xx - self.center[1])
        chosen = np.abs(radius - self.separation) <= step / 2.0
        return np.argwhere(chosen)


def mlar_annulus(sequence: AdiSequence, separation: float, *, patch_size: int | None = None,
                 width: float | None = None, n_levels: int = DEFAULT_LEVELS,
                 max_variance: float = DEFAULT_MAX_VARIANCE, counts: list[int] | None = None,
                 opposite: bool = False, engine: str = "numpy", ladder: str = DEFAULT_LADDER,
                 fit_region: str = DEFAULT_FIT_REGION) -> MlarAnnulus:
    """The MLAR stack of the annulus at ``separation`` pixels.

    The patches are centred in the ring of width ``width`` (default: one FWHM) around ``separation``; the
    residuals are computed wherever they reach (half a patch further on each side), with one set of
    principal components: fitted on the pixels within ``width`` of ``separation`` (``fit_region="ring"``,
    an annular PCA-ADI of two ring widths) or on all the pixels the patches reach (``"band"``, the recipe
    before 0.2, which near the star fits the core's changes instead of the ring's speckles). ``opposite=True`` derotates with ``-angles`` (the negatives' cube: a real companion smears).
    For several annuli of one cube, :func:`mlar_stacks` is faster (one derotation operator for all).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sequence = AdiSequence(rng.normal(size=(20, 41, 41)), np.linspace(0, 60, 20), np.ones((5, 5)),
    ...                        0.0272, 4.0)
    >>> annulus = mlar_annulus(sequence, 10.0, n_levels=4)
    >>> annulus.stack.shape, annulus.patch(20, 30, 9).shape
    ((4, 41, 41), (4, 9, 9))
    """
    return mlar_stacks(sequence, [separation], patch_size=patch_size, width=width, n_levels=n_levels,
                       max_variance=max_variance, counts=None if counts is None else [counts], opposite=opposite,
                       engine=engine, ladder=ladder, fit_region=fit_region)[0]


def mlar_stacks(sequence: AdiSequence, separations: list[float], *, patch_size: int | None = None,
                width: float | None = None, n_levels: int = DEFAULT_LEVELS,
                max_variance: float = DEFAULT_MAX_VARIANCE, counts: list[list[int]] | None = None,
                opposite: bool = False, engine: str = "numpy", ladder: str = DEFAULT_LADDER,
                fit_region: str = DEFAULT_FIT_REGION) -> list[MlarAnnulus]:
    """The MLAR stacks of several annuli of one cube (:func:`mlar_annulus` of each, the same values).

    One derotation operator serves all the annuli (built once for the union of their pixels, applied
    block by block); each annulus keeps its own SVD and component counts (``counts``: one list per
    annulus, default chosen by :func:`mlar_levels`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sequence = AdiSequence(rng.normal(size=(20, 41, 41)), np.linspace(0, 60, 20), np.ones((5, 5)),
    ...                        0.0272, 4.0)
    >>> [annulus.separation for annulus in mlar_stacks(sequence, [4.0, 8.0], n_levels=4)]
    [4.0, 8.0]
    """
    size = patch_size_for(sequence.fwhm) if patch_size is None else int(patch_size)
    if size % 2 == 0 or size < 3:
        raise ValueError(f"patch_size must be odd and at least 3, got {size}")
    if fit_region not in FIT_REGIONS:
        raise ValueError(f"fit_region must be one of {FIT_REGIONS}, got {fit_region!r}")
    if counts is not None and len(counts) != len(separations):
        raise ValueError(f"one list of counts per separation: {len(counts)} lists for {len(separations)}")
    if not len(separations):
        return []
    ring = float(sequence.fwhm if width is None else width)
    center = sequence.star_position
    ny, nx = sequence.shape
    reach = min(center[0], center[1], ny - 1 - center[0], nx - 1 - center[1])
    half = size // 2
    # near the star the band reaches the centre (1 lambda/D patches hold the core's residuals, as SODINN's)
    corner = half * np.sqrt(2.0)  # a square patch reaches this far from its centre
    bands = []
    for separation in separations:
        inner, outer = max(0.0, separation - ring / 2.0 - corner - 1.0), separation + ring / 2.0 + corner + 1.0
        if outer > reach or separation <= 0:
            raise ImagingError(f"an annulus at {separation:.1f} px (patches reach {max(inner, 0):.1f}-{outer:.1f}"
                               f" px) does not fit in the frame (inscribed radius {reach:.1f} px)",
                               path=sequence.path)
        bands.append((inner, outer, inner + 1.0 if inner > 0 else 0.0, outer - 1.0))  # SVD and output edges
    yy, xx = np.indices((ny, nx))
    radius = np.hypot(yy - center[0], xx - center[1]).ravel()
    by_radius = np.argsort(radius, kind="stable")
    # every annulus' output pixels are a contiguous run of the union's pixels sorted by radius
    in_output = np.zeros((len(bands), ny * nx), dtype=bool)
    covered = np.zeros(ny * nx, dtype=bool)
    for index, (_, _, low, high) in enumerate(bands):
        in_output[index] = (radius >= low) & (radius <= high)
        covered |= in_output[index]
    union = by_radius[covered[by_radius]]
    angles = -sequence.angles if opposite else sequence.angles
    rotator = _band_derotator((ny, nx), angles, center, union, by_radius)
    cube = sequence.cube
    flat = cube.reshape(sequence.n_frames, -1)
    annuli = []
    # One BLAS thread: the products here take milliseconds, and on 2 shared cores the spin-waits of
    # OpenBLAS' second thread took the core from the sparse product and the median (2-4x slower at load 4).
    with threadpool_limits(limits=1, user_api="blas"):
        for index, (separation, (inner, outer, low, high)) in enumerate(zip(separations, bands, strict=True)):
            region = np.flatnonzero((radius >= inner) & (radius <= outer))
            # the frame-space components come from the fit pixels and are removed from every pixel
            fit = region if fit_region == "band" else region[np.abs(radius[region] - separation) <= ring]
            block = flat[:, fit] - flat[:, fit].mean(axis=0)
            eigenvalues, basis = _frame_basis(block, engine)  # type: ignore[arg-type]
            levels = (_levels(eigenvalues, len(fit), n_levels, max_variance, ladder) if counts is None
                      else list(counts[index]))
            rows = np.flatnonzero(in_output[index][union])
            start, stop = int(rows[0]), int(rows[-1]) + 1
            output = union[start:stop]
            first, last = rotator.sources(start, stop)
            coefficients = _band_residual_coefficients(cube, region, basis, levels, by_radius[first:last])
            derotated = rotator.apply(start, stop, coefficients)  # (output, frames, levels)
            finals = collapse(derotated, axis=1).T.astype(np.float64)  # (levels, output)
            # robust noise per level in the ring itself (MAD), so patches read as local S/N
            ring_pixels = np.abs(radius[output] - separation) <= ring / 2.0 + half  # the patches' radial reach
            median = np.median(finals[:, ring_pixels], axis=1, keepdims=True)
            noise = 1.4826 * np.median(np.abs(finals[:, ring_pixels] - median), axis=1)
            noise = np.where(noise > 0, noise, 1.0)
            stack = np.full((len(levels), ny * nx), np.nan)
            stack[:, output] = (finals - median) / noise[:, None]
            annuli.append(MlarAnnulus(stack.reshape(len(levels), ny, nx), list(levels), float(separation),
                                      float(low), float(high), center, noise,
                                      {"opposite": opposite, "patch_size": size, "width": ring}))
    return annuli


# ------------------------------------------------------------------------------------- labelled samples
@dataclass
class MlarSamples:
    """Labelled MLAR patches: ``x`` ``(n, levels, size, size)`` float32, ``y`` 1 (companion) or 0.

    ``separation``, ``position`` (``(y, x)`` pixel), ``flux`` (0 for negatives) per sample, and the
    ``provenance`` (the cube, the component counts per annulus, the parameters, the package version).
    Save with :meth:`save` (npz, written atomically) and read back with :meth:`load`.
    """

    x: np.ndarray
    y: np.ndarray
    separation: np.ndarray
    position: np.ndarray
    flux: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(len(self.y))

    @property
    def n_levels(self) -> int:
        return int(self.x.shape[1])

    @property
    def patch_size(self) -> int:
        return int(self.x.shape[2])

    @classmethod
    def concatenate(cls, parts: list[MlarSamples]) -> MlarSamples:
        """Samples of several cubes in one set (their provenances kept in order under ``"parts"``).

        >>> one = MlarSamples(np.zeros((2, 3, 5, 5), np.float32), np.array([0, 1]), np.ones(2),
        ...                   np.zeros((2, 2), np.int64), np.zeros(2), {"cube": "a.fits"})
        >>> both = MlarSamples.concatenate([one, one])
        >>> len(both), both.provenance["parts"][1]["cube"]
        (4, 'a.fits')
        """
        if not parts:
            raise ValueError("nothing to concatenate")
        shapes = {p.x.shape[1:] for p in parts}
        if len(shapes) != 1:
            raise ImagingError(f"samples of different shapes (levels, size, size) cannot be joined: {sorted(shapes)}")
        x, y, separation, position, flux = (np.concatenate([getattr(p, name) for p in parts]) for name in
                                            ("x", "y", "separation", "position", "flux"))
        # each part's length kept with its provenance, so a sample's cube and FWHM stay known
        return cls(x, y, separation, position, flux,
                   {"parts": [{**p.provenance, "n_samples": len(p)} for p in parts]})

    def subset(self, indices: Any) -> MlarSamples:
        """The samples at ``indices``; the provenance is kept (under ``"subset_of"``, with the indices).

        >>> one = MlarSamples(np.zeros((3, 2, 5, 5), np.float32), np.array([0, 1, 1]), np.ones(3),
        ...                   np.zeros((3, 2), np.int64), np.zeros(3), {"cube": "a.fits"})
        >>> part = one.subset([2, 0])
        >>> len(part), part.cubes
        (2, ['a.fits', 'a.fits'])
        """
        chosen = np.asarray(indices, dtype=np.int64).reshape(-1)
        return MlarSamples(self.x[chosen], self.y[chosen], np.asarray(self.separation)[chosen],
                           np.asarray(self.position)[chosen], np.asarray(self.flux)[chosen],
                           {"subset_of": self.provenance, "indices": chosen.tolist()})

    def per_sample(self, key: str) -> list[Any]:
        """``provenance[key]`` for each sample, through :meth:`concatenate` and :meth:`subset` (None: unknown).

        >>> one = MlarSamples(np.zeros((1, 2, 5, 5), np.float32), np.array([1]), np.ones(1),
        ...                   np.zeros((1, 2), np.int64), np.zeros(1), {"fwhm": 4.0})
        >>> MlarSamples.concatenate([one, one.subset([0, 0])]).per_sample("fwhm")
        [4.0, 4.0, 4.0]
        """
        values = _provenance_values(self.provenance, key)
        if values is None:
            return [None] * len(self)
        if len(values) == 1:
            return values * len(self)
        return values if len(values) == len(self) else [None] * len(self)

    @property
    def cubes(self) -> list[str]:
        """The cube each sample was cut from (its file, or ``""`` when the cube had none)."""
        return [str(cube or "") for cube in self.per_sample("cube")]

    @property
    def separation_fwhm(self) -> np.ndarray:
        """Each sample's separation in units of its cube's FWHM (NaN where the FWHM is not recorded).

        >>> samples = MlarSamples(np.zeros((2, 3, 5, 5), np.float32), np.array([0, 1]), np.array([4.0, 8.0]),
        ...                       np.zeros((2, 2), np.int64), np.zeros(2), {"fwhm": 4.0})
        >>> samples.separation_fwhm.tolist()
        [1.0, 2.0]
        """
        fwhm = np.array([np.nan if f is None else float(f) for f in self.per_sample("fwhm")], dtype=np.float64)
        return np.asarray(self.separation, dtype=np.float64) / fwhm

    def save(self, path: str | Path) -> Path:
        """Write an ``.npz`` (temporary file then rename: a killed write leaves no half file)."""
        import io
        import json

        from qusi_lab.training.checkpoints import atomic_write_bytes

        buffer = io.BytesIO()
        np.savez_compressed(buffer, x=self.x, y=self.y, separation=self.separation, position=self.position,
                            flux=self.flux, provenance=np.array(json.dumps(self.provenance)))
        return atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> MlarSamples:
        """Read :meth:`save`'s file; a missing, truncated or foreign file raises :class:`ImagingError`."""
        import json
        import zipfile

        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in ("x", "y", "separation", "position", "flux", "provenance")}
        except FileNotFoundError:
            raise ImagingError("no such MLAR sample file", path=path) from None
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
            raise ImagingError(f"not a readable MLAR sample file ({error})", path=path) from None
        except KeyError as error:
            raise ImagingError(f"not an MLAR sample file: no {error} array", path=path) from None
        x = arrays["x"]
        if x.ndim != 4 or len(x) != len(arrays["y"]):
            raise ImagingError(f"x of shape {x.shape} does not match {len(arrays['y'])} labels", path=path)
        return cls(x, arrays["y"], arrays["separation"], arrays["position"], arrays["flux"],
                   json.loads(str(arrays["provenance"])))


def _provenance_values(provenance: Any, key: str) -> list[Any] | None:
    """Per-sample values of ``key``: one value for a single cube's samples, a list through parts/subsets."""
    if not isinstance(provenance, dict):
        return None
    if "subset_of" in provenance:
        parent = _provenance_values(provenance["subset_of"], key)
        indices = provenance.get("indices") or []
        if parent is None:
            return None
        if len(parent) == 1:
            return parent
        try:
            return [parent[int(i)] for i in indices]
        except IndexError:
            return None
    parts = provenance.get("parts")
    if not parts:
        return [provenance.get(key)]
    values: list[Any] = []
    for part in parts:
        inner = _provenance_values(part, key)
        count = int(part.get("n_samples", -1)) if isinstance(part, dict) else -1
        if inner is None or count < 0:  # parts written before their lengths were recorded: unknown
            return None
        values += inner * count if len(inner) == 1 else inner
    return values


def default_separations(sequence: AdiSequence, patch_size: int | None = None) -> list[float]:
    """Annulus centres every FWHM from 1 FWHM (about lambda/D) to where a patch still fits."""
    size = patch_size_for(sequence.fwhm) if patch_size is None else patch_size
    fwhm, center = float(sequence.fwhm), sequence.star_position
    ny, nx = sequence.shape
    reach = min(center[0], center[1], ny - 1 - center[0], nx - 1 - center[1])
    first = fwhm  # 1 lambda/D: SODINN's gain over PCA is largest close in
    last = reach - fwhm / 2.0 - (size // 2) * np.sqrt(2.0) - 1.0
    return [float(r) for r in np.arange(first, last + 1e-9, fwhm)]


def _sky_pixel(center: tuple[float, float], separation: float, position_angle: float) -> tuple[float, float]:
    phi = np.deg2rad(position_angle)
    return center[0] + separation * np.sin(phi), center[1] + separation * np.cos(phi)


def make_samples(sequence: AdiSequence, fluxes: Any, *, separations: list[float] | None = None,
                 n_per_annulus: int = 20, patch_size: int | None = None, n_levels: int = DEFAULT_LEVELS,
                 max_variance: float = DEFAULT_MAX_VARIANCE, ladder: str = DEFAULT_LADDER,
                 fit_region: str = DEFAULT_FIT_REGION, spread: float = 1.0, min_separation: float = 1.0,
                 seed: int = 0) -> MlarSamples:
    """Balanced MLAR samples from one cube: injected companions (positives) and the opposite-angle cube.

    Parameters
    ----------
    fluxes:
        How bright the injected companions are: a ``(low, high)`` pair (the same for every annulus), the
        table of :func:`~qusi_lab.imaging.injection.calibrate_flux` (fluxes drawn by
        :func:`~qusi_lab.imaging.injection.sample_fluxes` at each injection's separation, so that they span
        an ADI-PCA S/N of 1-3; it must cover the injection bands, see ``spread``) or a function
        ``(separation, rng, n) -> fluxes``.
    separations:
        Annulus centres in pixels (default :func:`default_separations`).
    n_per_annulus:
        Positives per annulus, and as many negatives (balanced classes).
    spread:
        Width, in FWHM, of the band around each separation where companions are injected (uniform in
        radius), as wide as the ring the negatives come from (1, the default) and that
        :func:`~qusi_lab.imaging.predict.probability_map` scores with that annulus' stack. With 0 every
        positive sits on the separation while negatives fill the ring: a network then learns the patch's
        radial place (the noise gradient across it) as a cue, and misses companions between separations.
    min_separation:
        No companion is injected closer than this (in FWHM; default 1 lambda/D, where a companion and the
        star's core residuals part). Negatives still fill the ring, so inside it the network learns "no".

    Each positive costs one injection and one annulus SVD; the component counts of an annulus are
    chosen once, on the cube without injections, so positives and negatives share the same levels.
    """
    from qusi_lab._version import __version__
    from qusi_lab.imaging.injection import inject_companions

    rng = np.random.default_rng(seed)
    size = patch_size_for(sequence.fwhm) if patch_size is None else int(patch_size)
    radii = default_separations(sequence, size) if separations is None else [float(r) for r in separations]
    if not radii:
        raise ImagingError("no annulus fits in the frame for samples", path=sequence.path)
    if callable(fluxes):
        draw = fluxes
    elif hasattr(fluxes, "columns"):  # a calibrate_flux table
        from qusi_lab.imaging.injection import sample_fluxes

        table = fluxes
        missing = {"separation", "flux_low", "flux_high"} - set(table.columns)
        if missing:
            raise ValueError(f"a flux calibration needs the columns separation, flux_low, flux_high; "
                             f"{sorted(missing)} missing")

        def draw(separation: float, generator: np.random.Generator, n: int) -> np.ndarray:
            return sample_fluxes(table, separation, generator, n)
    else:
        low, high = (float(f) for f in fluxes)
        if not 0 < low <= high:
            raise ValueError(f"fluxes must be a (low, high) pair with 0 < low <= high, got {fluxes}")

        def draw(separation: float, generator: np.random.Generator, n: int) -> np.ndarray:
            return np.exp(generator.uniform(np.log(low), np.log(high), n))  # log-uniform

    if not 0.0 <= spread <= 1.0:
        raise ValueError(f"spread must lie in [0, 1] FWHM (the ring the negatives fill), got {spread}")
    fwhm = float(sequence.fwhm)
    center = sequence.star_position
    xs, ys, seps, positions, amounts, counts_of = [], [], [], [], [], {}
    # the cube's own stacks of all annuli at once (one derotation operator per sense of rotation)
    bases = mlar_stacks(sequence, radii, patch_size=size, n_levels=n_levels, max_variance=max_variance, ladder=ladder,
                        fit_region=fit_region)
    opposites = mlar_stacks(sequence, radii, patch_size=size, counts=[base.counts for base in bases], opposite=True,
                            fit_region=fit_region)
    for radius, base, negatives in zip(radii, bases, opposites, strict=True):
        counts_of[f"{radius:.3f}"] = base.counts
        ring = negatives.positions(step=fwhm)
        for index in rng.choice(len(ring), size=n_per_annulus, replace=len(ring) < n_per_annulus):
            py, px = ring[index]
            xs.append(negatives.patch(py, px, size))
            ys.append(0)
            seps.append(radius)
            positions.append((py, px))
            amounts.append(0.0)
        # Positives fill the same pixels of the ring as the negatives (outside min_separation), each at a
        # random sub-pixel offset: no radial or sub-pixel cue tells the classes apart.
        if spread > 0:
            band = base.positions(step=spread * fwhm)
            band = band[np.hypot(band[:, 0] - center[0], band[:, 1] - center[1]) >= min_separation * fwhm]
            if not len(band):
                raise ImagingError(f"no pixel of the ring at {radius:.1f} px lies outside min_separation "
                                   f"({min_separation:g} FWHM): no companion to inject there", path=sequence.path)
        for _ in range(n_per_annulus):
            if spread > 0:
                py, px = band[int(rng.integers(len(band)))]
                dy, dx = (float(py) + rng.uniform(-0.5, 0.5) - center[0], float(px) + rng.uniform(-0.5, 0.5) - center[1])
                # the offset may not take it out of the band (nor inside min_separation): the fluxes are
                # calibrated there
                where = min(max(math.hypot(dy, dx), min_separation * fwhm, radius - spread * fwhm / 2.0),
                            radius + spread * fwhm / 2.0)
                angle = math.degrees(math.atan2(dy, dx)) % 360.0
            else:  # on the separation itself, at a random angle
                where, angle = radius, float(rng.uniform(0.0, 360.0))
                py, px = _sky_pixel(center, where, angle)
            try:
                flux = float(np.asarray(draw(where, rng, 1), dtype=np.float64).reshape(-1)[0])
            except ImagingError as error:  # e.g. a calibration that does not reach the ring's edges
                raise ImagingError(f"the positives of the ring at {radius:.1f} px are injected up to "
                                   f"{spread / 2:g} FWHM from it and need fluxes there: {error}; calibrate at "
                                   "separations that cover the bands", path=sequence.path) from error
            injected = inject_companions(sequence, where, angle, flux)
            annulus = mlar_annulus(injected, radius, patch_size=size, counts=base.counts, fit_region=fit_region)
            xs.append(annulus.patch(py, px, size))
            ys.append(1)
            seps.append(radius)
            positions.append((int(round(py)), int(round(px))))
            amounts.append(flux)
    provenance = {
        "cube": sequence.path, "seed": seed, "n_per_annulus": n_per_annulus, "patch_size": size,
        "n_levels": n_levels, "max_variance": max_variance, "ladder": ladder, "fit_region": fit_region,
        "counts": counts_of, "fwhm": float(sequence.fwhm),
        "n_frames": sequence.n_frames, "shape": list(sequence.shape), "collapse": "median",
        "normalisation": "per level: (value - ring median) / ring MAD * 1.4826",
        "negatives": "opposite parallactic angles", "spread_fwhm": spread, "min_separation_fwhm": min_separation,
        "qusi_lab_version": __version__,
        "truth": sequence.meta.get("truth"),
    }
    return MlarSamples(np.asarray(xs, dtype=np.float32), np.asarray(ys, dtype=np.int64),
                       np.asarray(seps, dtype=np.float64), np.asarray(positions, dtype=np.int64),
                       np.asarray(amounts, dtype=np.float64), to_jsonable(provenance))

