"""Classical ADI baselines: derotation, median-ADI, PCA-ADI and the Mawet S/N (contrast curves: :mod:`.contrast`).

The reference implementations are VIP (Gomez Gonzalez et al. 2017, AJ 154, 7); the methods are ADI
(Marois et al. 2006, ApJ 641, 556), PCA-ADI / KLIP (Amara & Quanz 2012, MNRAS 427, 948; Soummer et al.
2012, ApJ 755, L28) and the small-sample statistics of Mawet et al. (2014, ApJ 792, 97).

Conventions (VIP's): ``angles`` are parallactic angles in degrees; a sky point at position angle ``phi``
(counter-clockwise from +x, with y the row index) appears in frame ``k`` at ``phi - angles[k]``, and
:func:`derotate` moves it back to ``phi``. Every final frame is collapsed with :func:`collapse` and
``method="median"`` (SODINN mixed a mean in training with a median in prediction; we use one).
Final frames are NaN outside the disk inscribed in the frame (there derotation runs out of field).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from collections.abc import Sequence as SequenceType
from typing import TYPE_CHECKING, Literal, cast, overload

import numpy as np
from scipy import ndimage, sparse

if TYPE_CHECKING:

    from qusi_lab.imaging.sequence import AdiSequence

__all__ = ["collapse", "derotate", "median_adi", "pca_adi", "snr", "snr_map"]

CollapseMethod = Literal["median", "mean"]
Engine = Literal["numpy", "torch"]


# --------------------------------------------------------------------------------------------- derotation
def _spline_weights(s: np.ndarray, n: int, order: int,
                    dtype: type[np.floating] = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Taps ``(..., order + 1)`` (mirrored into ``[0, n)``) and B-spline weights at coordinates ``s``."""
    floor = np.floor(s)
    t = (s - floor).astype(dtype, copy=False)
    if order == 1:
        index = floor[..., None].astype(np.int32) + np.arange(2, dtype=np.int32)
        weights = np.stack([1 - t, t], axis=-1)
    else:  # cubic B-spline basis
        index = floor[..., None].astype(np.int32) + np.arange(-1, 3, dtype=np.int32)
        t2 = t * t
        t3 = t2 * t
        weights = np.stack([(1 - t) ** 3 / 6, (3 * t3 - 6 * t2 + 4) / 6, (-3 * t3 + 3 * t2 + 3 * t + 1) / 6,
                            t3 / 6], axis=-1)
    if index.min() >= 0 and index.max() <= n - 1:  # no tap leaves the frame (a disk well inside it)
        return index, weights
    index = np.abs(index)  # mirror about 0 and n - 1
    index = np.where(index > n - 1, 2 * (n - 1) - index, index)
    return np.clip(index, 0, n - 1), weights


class _Derotator:
    """Derotation of a stack of cubes as ONE sparse matrix (B-spline weights; exact ``map_coordinates``).

    Why not ``ndimage.affine_transform`` frame by frame: a 20-level PCA stack is 20 x 61 rotations
    (~0.8 s); the interpolation weights depend only on the angles, so we build them once and apply them
    to all levels with one sparse product (~0.1 s). Spline coefficients are linear in the image, so
    prefiltering commutes with the PCA algebra. Boundary: mirror taps (as ``mode="mirror"``); an output
    pixel whose source lies outside the frame is NaN.
    """

    def __init__(self, shape: tuple[int, int], angles: np.ndarray, center: tuple[float, float],
                 order: int = 3, pixels: np.ndarray | None = None) -> None:
        if order not in (1, 3):
            raise ValueError(f"order must be 1 (bilinear) or 3 (bicubic spline), not {order}")
        ny, nx = shape
        self.shape, self.order, self.n_frames = (ny, nx), order, len(angles)
        self.pixels = np.arange(ny * nx) if pixels is None else np.asarray(pixels)
        cy, cx = center
        dy = (self.pixels // nx - cy)[None, :]
        dx = (self.pixels % nx - cx)[None, :]
        theta = np.deg2rad(np.asarray(angles, dtype=np.float64))[:, None]
        # out(p) = in(R(-theta) p): content turns counter-clockwise by +theta (phi -> phi + theta).
        source_x = cx + dx * np.cos(theta) + dy * np.sin(theta)
        source_y = cy - dx * np.sin(theta) + dy * np.cos(theta)
        eps = 1e-9
        self.outside = ((source_y < -eps) | (source_y > ny - 1 + eps)
                        | (source_x < -eps) | (source_x > nx - 1 + eps))  # (frames, pixels)
        iy, wy = _spline_weights(np.clip(source_y, 0, ny - 1), ny, order)
        ix, wx = _spline_weights(np.clip(source_x, 0, nx - 1), nx, order)
        taps = (order + 1) ** 2
        source_pixel = (iy[..., :, None] * nx + ix[..., None, :]).reshape(self.n_frames, len(self.pixels), taps)
        values = (wy[..., :, None] * wx[..., None, :]).reshape(source_pixel.shape)
        rows = self.n_frames * len(self.pixels)
        # Only the source pixels some output reads are kept as columns (a patch reads an arc, not a frame):
        # callers pass coefficients of ``self.source`` pixels.
        present = np.zeros(ny * nx, dtype=bool)
        present[source_pixel.ravel()] = True
        self.source = np.flatnonzero(present)
        compact = (np.cumsum(present) - 1).astype(np.int32)  # pixel -> its source column (O(n), no sort)
        columns = compact[source_pixel] + (np.arange(self.n_frames, dtype=np.int32) * len(self.source))[:, None, None]
        # CSR built directly (duplicate mirrored columns are summed by the product)
        self.matrix = sparse.csr_matrix(
            (values.ravel(), columns.ravel(), np.arange(0, rows * taps + 1, taps)),
            shape=(rows, self.n_frames * len(self.source)))

    def coefficients(self, images: np.ndarray) -> np.ndarray:
        """Spline coefficients of images ``(..., ny, nx)`` (identity for order 1)."""
        if self.order == 1:
            return np.asarray(images, dtype=np.float64)
        return _prefilter(images)

    def apply_coefficients(self, coefficients: np.ndarray) -> np.ndarray:
        """Derotate spline coefficients ``(levels, frames, ny * nx)`` or ``(levels, frames, source)``
        (only the :attr:`source` pixels) -> ``(levels, frames, pixels)``."""
        levels = coefficients.shape[0]
        if coefficients.shape[-1] != len(self.source):
            coefficients = coefficients[..., self.source]
        flat = np.ascontiguousarray(coefficients.reshape(levels, -1).T)
        out = (self.matrix @ flat).reshape(self.n_frames, len(self.pixels), levels)
        out = out.transpose(2, 0, 1)
        if self.outside.any():
            out = np.where(self.outside[None], np.nan, out)
        return out


_DEROTATORS: dict[tuple, _Derotator | _BandDerotator] = {}


def _derotator(shape: tuple[int, int], angles: np.ndarray, center: tuple[float, float], order: int = 3,
               pixels: np.ndarray | None = None) -> _Derotator:
    """A :class:`_Derotator`, cached: a probability map or a sample set derotates the same angles many
    times, and building the operator is half the cost of one PCA stack."""
    angles = np.asarray(angles, dtype=np.float64)
    key = (shape, angles.tobytes(), tuple(float(c) for c in center), order,
           None if pixels is None else np.asarray(pixels, dtype=np.int64).tobytes())
    rotator = _DEROTATORS.get(key)
    if rotator is None:
        if len(_DEROTATORS) >= 8:  # a few operators of tens of MB each at most
            _DEROTATORS.pop(next(iter(_DEROTATORS)))
        rotator = _DEROTATORS[key] = _Derotator(shape, angles, center, order, pixels)
    return cast(_Derotator, rotator)


class _BandDerotator:
    """Bicubic derotation of the output pixels of many annuli as one sparse matrix, one row block each.

    Why: the MLAR annuli of a cube share the angles, and their output bands overlap about threefold;
    one operator for their union costs a third of one per annulus. Rows are ``(pixel, frame)`` in the
    order of ``pixels`` (by radius, so an annulus is a contiguous block), columns ``(source pixel,
    frame)`` with the source pixels ordered by ``column_order`` (by radius too, so a block reads a
    contiguous range of columns). Weights are float32 (relative error 1e-7, far below the noise);
    the same B-spline weights and mirror taps as :class:`_Derotator`.
    """

    def __init__(self, shape: tuple[int, int], angles: np.ndarray, center: tuple[float, float],
                 pixels: np.ndarray, column_order: np.ndarray) -> None:
        ny, nx = shape
        self.shape, self.n_frames, self.pixels = (ny, nx), len(angles), np.asarray(pixels)
        self.column_order = np.asarray(column_order)
        cy, cx = center
        dy = (self.pixels // nx - cy)[:, None]
        dx = (self.pixels % nx - cx)[:, None]
        theta = np.deg2rad(np.asarray(angles, dtype=np.float64))[None, :]
        cos, sin = np.cos(theta), np.sin(theta)
        source_x = cx + dx * cos + dy * sin  # (pixels, frames), as _Derotator
        source_y = cy - dx * sin + dy * cos
        eps = 1e-9
        self.outside = ((source_y < -eps) | (source_y > ny - 1 + eps)
                        | (source_x < -eps) | (source_x > nx - 1 + eps))
        iy, wy = _spline_weights(np.clip(source_y, 0, ny - 1), ny, 3, np.float32)
        ix, wx = _spline_weights(np.clip(source_x, 0, nx - 1), nx, 3, np.float32)
        rank = np.empty(ny * nx, dtype=np.int32)
        rank[self.column_order] = np.arange(ny * nx, dtype=np.int32)
        columns = rank.reshape(ny, nx)[iy[..., :, None], ix[..., None, :]]  # (pixels, frames, 4, 4)
        columns *= self.n_frames
        columns += np.arange(self.n_frames, dtype=np.int32)[None, :, None, None]
        self.indices = columns.reshape(-1)
        self.values = (wy[..., :, None] * wx[..., None, :]).reshape(-1)
        self.taps = 16
        self._sources: dict[tuple[int, int], tuple[int, int]] = {}

    def sources(self, start: int, stop: int) -> tuple[int, int]:
        """The range ``[first, last)`` of ``column_order`` that the rows of ``pixels[start:stop]`` read."""
        if (start, stop) not in self._sources:
            block = self.indices[start * self.n_frames * self.taps:stop * self.n_frames * self.taps]
            self._sources[start, stop] = (int(block.min()) // self.n_frames, int(block.max()) // self.n_frames + 1)
        return self._sources[start, stop]

    def apply(self, start: int, stop: int, coefficients: np.ndarray) -> np.ndarray:
        """Derotate spline coefficients ``(source pixels of the block, frames, levels)`` (float32, the
        source pixels ``column_order[first:last]`` of :meth:`sources`) at ``pixels[start:stop]`` ->
        ``(stop - start, frames, levels)`` float32, NaN where a source leaves the frame."""
        n_frames, taps = self.n_frames, self.taps
        first, last = self.sources(start, stop)
        levels = coefficients.shape[-1]
        if coefficients.shape != (last - first, n_frames, levels):
            raise ValueError(f"coefficients of shape {coefficients.shape}, expected {(last - first, n_frames, levels)}")
        low, high = start * n_frames * taps, stop * n_frames * taps
        matrix = sparse.csr_matrix(
            (self.values[low:high], self.indices[low:high] - np.int32(first * n_frames),
             np.arange(0, high - low + 1, taps, dtype=np.int32)),
            shape=((stop - start) * n_frames, (last - first) * n_frames))
        out = np.asarray(matrix @ coefficients.reshape(-1, levels)).reshape(stop - start, n_frames, levels)
        outside = self.outside[start:stop]
        if outside.any():
            out[outside] = np.nan
        return out


def _band_derotator(shape: tuple[int, int], angles: np.ndarray, center: tuple[float, float],
                    pixels: np.ndarray, column_order: np.ndarray) -> _BandDerotator:
    """A :class:`_BandDerotator`, cached with the :class:`_Derotator` s (a sample set reuses it)."""
    angles = np.asarray(angles, dtype=np.float64)
    key = ("band", shape, angles.tobytes(), tuple(float(c) for c in center),
           np.asarray(pixels, dtype=np.int64).tobytes(), np.asarray(column_order, dtype=np.int64).tobytes())
    rotator = _DEROTATORS.get(key)
    if rotator is None:
        if len(_DEROTATORS) >= 8:
            _DEROTATORS.pop(next(iter(_DEROTATORS)))
        rotator = _DEROTATORS[key] = _BandDerotator(shape, angles, center, pixels, column_order)
    return cast(_BandDerotator, rotator)


def _inscribed_radius(shape: tuple[int, int], center: tuple[float, float]) -> float:
    cy, cx = center
    return float(min(cy, cx, shape[0] - 1 - cy, shape[1] - 1 - cx))


def _radius_map(shape: tuple[int, int], center: tuple[float, float]) -> np.ndarray:
    yy, xx = np.indices(shape, dtype=np.float64)
    return np.hypot(yy - center[0], xx - center[1])


def derotate(cube: np.ndarray, angles: np.ndarray, *, center: tuple[float, float] | None = None,
             order: int = 3) -> np.ndarray:
    """Rotate frame ``k`` by ``-angles[k]`` (VIP's ``cube_derotate``): north up in every frame.

    Parameters
    ----------
    cube:
        ``(frames, ny, nx)``.
    angles:
        Parallactic angles in degrees, one per frame.
    center:
        ``(y, x)`` rotation centre; default ``((ny - 1) / 2, (nx - 1) / 2)``.
    order:
        3: cubic B-spline (``scipy.ndimage`` ``order=3``, mirror boundary); 1: bilinear.

    Returns
    -------
    numpy.ndarray
        The derotated cube; NaN where the source falls outside the frame.

    Notes
    -----
    A point at position angle ``phi`` (counter-clockwise from +x; y is the row index) moves to
    ``phi + angles[k]``; a companion injected at ``phi - angles[k]`` in frame ``k`` (VIP's
    ``cube_inject_companions``) ends at ``phi`` in all frames.

    Examples
    --------
    A point on the +x axis in a frame of angle 90 lands on the +y axis (larger row index):

    >>> frame = np.zeros((1, 11, 11)); frame[0, 5, 8] = 1.0
    >>> out = derotate(frame, np.array([90.0]))
    >>> [int(i) for i in np.unravel_index(np.nanargmax(out[0]), (11, 11))]
    [8, 5]
    """
    cube = np.asarray(cube, dtype=np.float64)
    if cube.ndim != 3 or len(angles) != cube.shape[0]:
        raise ValueError(f"need a (frames, y, x) cube and one angle per frame, got {cube.shape}, {len(angles)}")
    shape = (cube.shape[1], cube.shape[2])
    center = ((shape[0] - 1) / 2.0, (shape[1] - 1) / 2.0) if center is None else center
    rotator = _derotator(shape, np.asarray(angles), center, order)
    out = rotator.apply_coefficients(rotator.coefficients(cube).reshape(1, cube.shape[0], -1))
    return out[0].reshape(cube.shape)


def collapse(cube: np.ndarray, method: CollapseMethod = "median", axis: int = 0) -> np.ndarray:
    """Combine frames: the one collapse of the package (median by default, NaN ignored).

    Examples
    --------
    >>> collapse(np.array([[1.0, 5.0], [2.0, np.nan], [9.0, 7.0]])).tolist()
    [2.0, 6.0]
    """
    cube = np.asarray(cube)
    if cube.dtype != np.float32:  # float32 stays float32: half the memory traffic of a big stack
        cube = cube.astype(np.float64, copy=False)
    if method not in ("median", "mean"):
        raise ValueError(f"method must be 'median' or 'mean', not {method!r}")
    if cube.size and np.isnan(cube.min()):  # min propagates NaN: one pass, no boolean copy
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
            return np.nanmedian(cube, axis=axis) if method == "median" else np.nanmean(cube, axis=axis)
    if method == "mean":
        return cube.mean(axis=axis)
    n = cube.shape[axis]
    # partition (np.median's NaN check made it ~4x slower) along a contiguous last axis: cheaper than along
    # a strided one even with the copy; then basic indexing (np.take copied the whole partitioned array)
    part = np.array(np.moveaxis(cube, axis, -1), order="C")
    part.partition([n // 2] if n % 2 else [n // 2 - 1, n // 2], axis=-1)
    return part[..., n // 2].copy() if n % 2 else 0.5 * (part[..., n // 2 - 1] + part[..., n // 2])


# -------------------------------------------------------------------------------------------- pipelines
def median_adi(sequence: AdiSequence) -> np.ndarray:
    """Median-ADI (Marois et al. 2006): subtract the median frame, derotate, collapse.

    Returns the final frame, NaN outside the disk inscribed in the frame.
    """
    cube = sequence.cube
    center = sequence.star_position
    residuals = cube - collapse(cube)
    final = collapse(derotate(residuals, sequence.angles, center=center))
    final[_radius_map(sequence.shape, center) > _inscribed_radius(sequence.shape, center)] = np.nan
    return final



def _components(matrix: np.ndarray, count: int, engine: Engine) -> np.ndarray:
    """The ``count`` leading right singular vectors (rows) of a mean-centred ``(frames, pixels)`` matrix."""
    if count == 0:
        return np.zeros((0, matrix.shape[1]))
    if engine == "torch":
        import torch

        _, _, vh = torch.linalg.svd(torch.from_numpy(matrix), full_matrices=False)
        return vh[:count].numpy()
    if engine != "numpy":
        raise ValueError(f"engine must be 'numpy' or 'torch', not {engine!r}")
    # SVD through the (frames x frames) Gram matrix (VIP's svd_mode="eigen"): LAPACK on the wide matrix
    # took ~1 s under OpenBLAS threading on 2 shared cores, the Gram eigh takes ~1 ms; same subspace.
    eigenvalues, eigenvectors = np.linalg.eigh(matrix @ matrix.T)
    order = np.argsort(eigenvalues)[::-1][:count]
    singular = np.sqrt(np.clip(eigenvalues[order], 0.0, None))
    keep = singular > singular.max(initial=0.0) * 1e-10
    vectors = np.zeros((count, matrix.shape[1]))
    vectors[keep] = (eigenvectors[:, order[keep]].T @ matrix) / singular[keep, None]
    return vectors


def residual_stack(cube: np.ndarray, angles: np.ndarray, center: tuple[float, float],
                   regions: SequenceType[np.ndarray], counts: SequenceType[SequenceType[int]],
                   output: np.ndarray, *, engine: Engine = "numpy") -> np.ndarray:
    """Derotated PCA-ADI residuals at several numbers of components: the core of PCA-ADI and of MLAR.

    ``regions`` are flat pixel indices, one SVD each (mean-centred in time per pixel); region ``r`` at
    level ``l`` has ``counts[r][l]`` components projected out. Only the ``output`` pixels are derotated
    (a patch costs what a patch needs). Returns ``(levels, frames, len(output))``; pixels outside every
    region contribute zero to the interpolation.
    """
    n_frames, ny, nx = cube.shape
    levels = len(counts[0])
    if any(len(c) != levels for c in counts) or len(counts) != len(regions):
        raise ValueError("one list of component counts per region, all of the same length")
    flat = cube.reshape(n_frames, -1)
    rotator = _derotator((ny, nx), angles, center, 3, output)
    source = rotator.source  # only the pixels the derotation reads
    (by, bx), boxed = _box((ny, nx), [source, *regions])
    centred = np.zeros((n_frames, by * bx))  # zero outside the regions: what gets derotated there
    scores, vector_images, level_of, region_of = [], [], [], []
    for index, pixels in enumerate(regions):
        kmax = max(counts[index])
        block = flat[:, pixels] - flat[:, pixels].mean(axis=0)
        inside = boxed(pixels)
        centred[:, inside] = block
        vectors = _components(block, kmax, engine)
        image = np.zeros((kmax, by * bx))
        image[:, inside] = vectors
        scores.append(block @ vectors.T)  # (frames, kmax)
        vector_images.append(image)
        level_of.append(np.arange(kmax))
        region_of.append(np.full(kmax, index))
    # Residual_k = centred - sum_j<k score_j v_j; prefiltering is linear, so filter each piece once.
    columns = boxed(source)
    coefficients_centred = _prefilter(centred.reshape(n_frames, by, bx)).reshape(n_frames, -1)[:, columns]
    score_all = np.concatenate(scores, axis=1)  # (frames, sum of kmax)
    coefficients_vectors = _prefilter(
        np.concatenate(vector_images, axis=0).reshape(-1, by, bx)).reshape(score_all.shape[1], -1)[:, columns]
    level_index, region_index = np.concatenate(level_of), np.concatenate(region_of)
    count_table = np.asarray(counts)  # (regions, levels)
    stack = np.empty((levels, n_frames, source.size))
    if (np.diff(count_table, axis=1) >= 0).all():
        # counts rise with the level: each level subtracts only the components the previous one kept
        current, previous = coefficients_centred.copy(), np.zeros(len(regions), dtype=np.int64)
        for index in range(levels):
            new = (level_index >= previous[region_index]) & (level_index < count_table[region_index, index])
            if new.any():
                current -= score_all[:, new] @ coefficients_vectors[new]
            stack[index] = current
            previous = count_table[:, index]
    else:
        for index in range(levels):
            used = level_index < count_table[region_index, index]
            stack[index] = coefficients_centred - score_all[:, used] @ coefficients_vectors[used]
    return rotator.apply_coefficients(stack)


def _box(shape: tuple[int, int], pixel_sets: SequenceType[np.ndarray],
         margin: int = 12) -> tuple[tuple[int, int], Callable[[np.ndarray], np.ndarray]]:
    """The box around flat pixel sets plus ``margin`` (its shape, and flat pixel -> box pixel).

    Residuals are prefiltered in this box with zeros around the regions: the spline prefilter of
    zero-extended data decays by 0.268 per pixel, so 12 pixels keep it exact to ~1e-7 of the data.
    """
    ny, nx = shape
    rows, cols = np.divmod(np.concatenate(list(pixel_sets)), nx)
    y0, y1 = max(0, int(rows.min()) - margin), min(ny, int(rows.max()) + margin + 1)
    x0, x1 = max(0, int(cols.min()) - margin), min(nx, int(cols.max()) + margin + 1)
    bx = x1 - x0

    def boxed(pixels: np.ndarray) -> np.ndarray:
        r, c = np.divmod(pixels, nx)
        return (r - y0) * bx + (c - x0)

    return (y1 - y0, bx), boxed


def _frame_basis(block: np.ndarray, engine: Engine) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues of ``block @ block.T`` (decreasing) and a complete orthonormal basis ``(frames,
    frames)`` of frame space for a mean-centred ``(frames, pixels)`` block: its left singular vectors by
    decreasing singular value, then the rest. One Gram matrix serves the MLAR levels and the residuals."""
    n_frames = block.shape[0]
    gram = block @ block.T
    if engine == "torch":
        import torch

        basis = torch.linalg.svd(torch.from_numpy(block), full_matrices=False)[0].numpy()
        if basis.shape[1] < n_frames:  # fewer pixels than frames: complete the basis (any complement)
            basis = np.linalg.qr(np.hstack([basis, np.eye(n_frames)]))[0][:, :n_frames]
        return np.linalg.eigvalsh(gram)[::-1], basis
    if engine != "numpy":
        raise ValueError(f"engine must be 'numpy' or 'torch', not {engine!r}")
    eigenvalues, eigenvectors = np.linalg.eigh(gram)  # as _components (Gram, ~1 ms)
    order = np.argsort(eigenvalues, kind="stable")[::-1]
    return eigenvalues[order], eigenvectors[:, order]


def _band_residual_coefficients(cube: np.ndarray, region: np.ndarray, basis: np.ndarray,
                                counts: SequenceType[int], source: np.ndarray) -> np.ndarray:
    """Spline coefficients of one region's PCA-ADI residuals at ``source``: ``(source, frames, levels)``
    float32, the layout :class:`_BandDerotator` reads (:func:`residual_stack`'s values for one region).

    ``basis`` is :func:`_frame_basis` ``E`` of the region. With ``Z = E^T P(centred)`` (``P`` the linear
    prefilter), the residual at ``k`` components is ``sum_{j >= k} E_j Z_j``: all levels in ONE matrix
    product (float32 is safe: the kept terms are the residual's own components, nothing of the removed
    speckles cancels), and no vector is prefiltered.
    """
    n_frames, ny, nx = cube.shape
    flat = cube.reshape(n_frames, -1)
    (by, bx), boxed = _box((ny, nx), [source, region])
    centred = np.zeros((n_frames, by * bx))  # zero outside the region: what gets derotated there
    centred[:, boxed(region)] = flat[:, region] - flat[:, region].mean(axis=0)
    coefficients = _prefilter(centred.reshape(n_frames, by, bx)).reshape(n_frames, -1)[:, boxed(source)]
    projections = (basis.T @ coefficients).astype(np.float32)  # Z: (directions, source)
    kept = np.arange(n_frames)[:, None] >= np.asarray(counts)[None, :]  # (directions, levels)
    weights = (basis.T[:, :, None] * kept[:, None, :]).astype(np.float32)  # (directions, frames, levels)
    out = np.empty((len(source), n_frames, len(counts)), dtype=np.float32)
    np.matmul(projections.T, weights.reshape(n_frames, -1), out=out.reshape(len(source), -1))
    return out


def _prefilter(images: np.ndarray) -> np.ndarray:
    """Cubic B-spline coefficients of images ``(..., ny, nx)`` (mirror boundary, as ``map_coordinates``)."""
    coefficients = ndimage.spline_filter1d(images, 3, axis=-1, mode="mirror")
    return ndimage.spline_filter1d(coefficients, 3, axis=-2, mode="mirror")


@overload
def pca_adi(sequence: AdiSequence, n_components: int | SequenceType[int], *,
            mode: Literal["full", "annular"] = ..., annulus_width: float | None = ...,
            mask_center: float | None = ..., engine: Engine = ...,
            return_residuals: Literal[False] = ...) -> np.ndarray: ...


@overload
def pca_adi(sequence: AdiSequence, n_components: int | SequenceType[int], *,
            mode: Literal["full", "annular"] = ..., annulus_width: float | None = ...,
            mask_center: float | None = ..., engine: Engine = ...,
            return_residuals: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...


def pca_adi(sequence: AdiSequence, n_components: int | SequenceType[int], *,
            mode: Literal["full", "annular"] = "full", annulus_width: float | None = None,
            mask_center: float | None = None, engine: Engine = "numpy",
            return_residuals: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """PCA-ADI (Amara & Quanz 2012; Soummer et al. 2012 KLIP; VIP's ``pca``): final frame(s).

    Pixels of the disk inscribed in the frame (minus a central ``mask_center`` px) are flattened per
    frame, mean-centred in time per pixel, the leading principal components (one SVD) projected out,
    the residuals derotated and collapsed (median). ``mode="annular"``: the same with one SVD per
    annulus of ``annulus_width`` px (default ``2 * fwhm``); no rotation-threshold frame selection.

    Parameters
    ----------
    n_components:
        An int (one frame) or a list of ints (a stack, one frame per count, from ONE SVD per region).
    engine:
        "numpy" (eigendecomposition of the frames x frames Gram matrix) or "torch"
        (``torch.linalg.svd``); the same subspace.
    return_residuals:
        Also return the derotated residual cubes ``(frames, ny, nx)`` (``(levels, frames, ny, nx)`` for
        a list), whose :func:`collapse` is the final frame.

    Returns
    -------
    numpy.ndarray or tuple
        ``(ny, nx)`` or ``(levels, ny, nx)``; NaN outside the analysed region.

    Examples
    --------
    >>> from qusi_lab.imaging import AdiSequence
    >>> rng = np.random.default_rng(0)
    >>> sequence = AdiSequence(rng.normal(size=(8, 15, 15)), np.linspace(0, 40, 8), np.ones((3, 3)), 0.01, 3.0)
    >>> pca_adi(sequence, [1, 2]).shape
    (2, 15, 15)
    """
    single = isinstance(n_components, int | np.integer)
    if isinstance(n_components, int | np.integer):
        counts = [int(n_components)]
    else:
        counts = [int(c) for c in n_components]
    cube, shape, center = sequence.cube, sequence.shape, sequence.star_position
    n_frames = sequence.n_frames
    radius = _radius_map(shape, center).ravel()
    inner = 0.0 if mask_center is None else float(mask_center)
    outer = _inscribed_radius(shape, center)
    region = (radius <= outer) & (radius >= inner)
    if mode == "full":
        regions = [np.flatnonzero(region)]
    elif mode == "annular":
        width = 2.0 * sequence.fwhm if annulus_width is None else float(annulus_width)
        if width <= 0:
            raise ValueError(f"annulus_width must be positive, got {width}")
        edges = list(np.arange(inner, outer, width)) + [outer + 1e-9]
        if len(edges) > 2 and edges[-1] - edges[-2] < width / 2:  # no thin last annulus
            del edges[-2]
        regions = [np.flatnonzero(region & (radius >= lo) & (radius < hi))
                   for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
        regions = [r for r in regions if r.size]
    else:
        raise ValueError(f"mode must be 'full' or 'annular', not {mode!r}")
    limit = min([n_frames - 1] + [r.size for r in regions])
    if not counts or min(counts) < 0 or max(counts) > limit:
        raise ValueError(f"n_components must be between 0 and {limit} (frames - 1, pixels), got {counts}")
    output = np.flatnonzero(region)
    derotated = residual_stack(cube, sequence.angles, center, regions, [counts] * len(regions), output,
                               engine=engine)  # (levels, frames, region pixels)
    flat_finals = np.full((len(counts), shape[0] * shape[1]), np.nan)
    flat_finals[:, output] = collapse(derotated, axis=1)
    finals = flat_finals.reshape(len(counts), *shape)
    if not return_residuals:
        return finals[0] if single else finals
    flat_residuals = np.full((len(counts), n_frames, shape[0] * shape[1]), np.nan)
    flat_residuals[:, :, output] = derotated
    residuals = flat_residuals.reshape(len(counts), n_frames, *shape)
    return (finals[0], residuals[0]) if single else (finals, residuals)


# ---------------------------------------------------------------------------------------------- S/N
def _aperture_mean_map(frame: np.ndarray, fwhm: float) -> np.ndarray:
    """Mean of the pixels whose centres lie within ``fwhm / 2`` of each pixel (NaN-aware)."""
    half = fwhm / 2.0
    size = int(math.ceil(half))
    yy, xx = np.mgrid[-size:size + 1, -size:size + 1]
    kernel = (np.hypot(yy, xx) <= half).astype(np.float64)
    valid = np.isfinite(frame)
    total = ndimage.correlate(np.where(valid, frame, 0.0), kernel, mode="constant")
    count = ndimage.correlate(valid.astype(np.float64), kernel, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / count
    out[count < kernel.sum()] = np.nan  # an aperture reaching out of the field or into NaN
    return out


def _aperture_fluxes(mean_map: np.ndarray, ys: np.ndarray, xs: np.ndarray, fwhm: float) -> np.ndarray:
    """Aperture fluxes at sub-pixel centres: the mean map, bilinearly sampled, times the aperture area."""
    values = ndimage.map_coordinates(mean_map, [ys.ravel(), xs.ravel()], order=1, mode="constant",
                                     cval=np.nan)
    return values.reshape(ys.shape) * (math.pi * fwhm**2 / 4.0)


def _ring_positions(center: tuple[float, float], radius: np.ndarray, angle: np.ndarray, n: int,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Centres of ``n`` apertures around each ring, the first at ``angle`` (radians): ``(points, n)``."""
    phases = angle[:, None] + 2 * np.pi * np.arange(n)[None, :] / n
    return center[0] + radius[:, None] * np.sin(phases), center[1] + radius[:, None] * np.cos(phases)


def _student_snr(fluxes: np.ndarray, correction: bool) -> np.ndarray:
    """Mawet et al. (2014) eq. 9 on ``(points, n)`` aperture fluxes, the first being the test aperture."""
    test, others = fluxes[:, 0], fluxes[:, 1:]
    n2 = others.shape[1]
    spread = others.std(axis=1, ddof=1) * (math.sqrt(1 + 1 / n2) if correction else 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (test - others.mean(axis=1)) / spread


def snr(frame: np.ndarray, position: tuple[float, float], fwhm: float, *,
        center: tuple[float, float] | None = None, correction: bool = True) -> float:
    """S/N of the aperture at ``position`` ``(y, x)`` (Mawet et al. 2014, small-sample statistics).

    At separation ``r`` the ``n = floor(2 pi r / fwhm)`` non-overlapping apertures of diameter ``fwhm``
    around the annulus: the test one against the other ``n2 = n - 1``:
    ``(x1 - mean(x2)) / (std(x2, ddof=1) * sqrt(1 + 1 / n2))``, a Student t with ``n - 2`` degrees of
    freedom (``correction=False`` drops the ``sqrt(1 + 1/n2)``: the Gaussian version). Photometry: the
    mean of the pixels whose centres lie within ``fwhm / 2`` (bilinear between pixels) times the
    aperture area, not sub-pixel exact. NaN when ``n < 3`` or an aperture leaves the field.

    Examples
    --------
    >>> frame = np.random.default_rng(1).normal(size=(41, 41)); frame[20, 32] += 30
    >>> bool(snr(frame, (20, 32), 3.0) > 5)
    True
    """
    frame = np.asarray(frame, dtype=np.float64)
    center = ((frame.shape[0] - 1) / 2.0, (frame.shape[1] - 1) / 2.0) if center is None else center
    dy, dx = position[0] - center[0], position[1] - center[1]
    radius = math.hypot(dy, dx)
    n = int(math.floor(2 * math.pi * radius / fwhm))
    if n < 3:
        return float("nan")
    ys, xs = _ring_positions(center, np.array([radius]), np.array([math.atan2(dy, dx)]), n)
    fluxes = _aperture_fluxes(_aperture_mean_map(frame, fwhm), ys, xs, fwhm)
    return float(_student_snr(fluxes, correction)[0])


def snr_map(frame: np.ndarray, fwhm: float, *, center: tuple[float, float] | None = None,
            correction: bool = True, mask_center: float | None = None) -> np.ndarray:
    """:func:`snr` at every pixel (vectorised over the pixels sharing an aperture count ``n``).

    ``mask_center``: NaN within this many pixels of the star (default one FWHM: the core's residuals give
    meaningless values of hundreds there); 0 keeps every pixel.

    Examples
    --------
    >>> frame = np.random.default_rng(1).normal(size=(41, 41)); frame[20, 32] += 30
    >>> values = snr_map(frame, 3.0)
    >>> bool(np.isclose(values[20, 32], snr(frame, (20, 32), 3.0)))
    True
    """
    frame = np.asarray(frame, dtype=np.float64)
    center = ((frame.shape[0] - 1) / 2.0, (frame.shape[1] - 1) / 2.0) if center is None else center
    mean_map = _aperture_mean_map(frame, fwhm)
    yy, xx = np.indices(frame.shape, dtype=np.float64)
    dy, dx = (yy - center[0]).ravel(), (xx - center[1]).ravel()
    radius, angle = np.hypot(dy, dx), np.arctan2(dy, dx)
    counts = np.floor(2 * np.pi * radius / fwhm).astype(np.int64)
    out = np.full(frame.size, np.nan)
    for n in np.unique(counts[counts >= 3]):
        chosen = np.flatnonzero(counts == n)
        ys, xs = _ring_positions(center, radius[chosen], angle[chosen], int(n))
        out[chosen] = _student_snr(_aperture_fluxes(mean_map, ys, xs, fwhm), correction)
    inner = float(fwhm if mask_center is None else mask_center)
    out[radius < inner] = np.nan
    return out.reshape(frame.shape)
