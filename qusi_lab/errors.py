"""Exceptions raised by qusi_lab.

Every error about a file names the file, so a user scanning a traceback or a
dataset's problem report knows which file to look at.
"""

from __future__ import annotations

from pathlib import Path


class QusiLabError(Exception):
    """Base class of every error qusi_lab raises on purpose."""


class LightCurveError(QusiLabError, ValueError):
    """A light curve is unusable: empty, all NaN, mismatched lengths, unordered times.

    Parameters
    ----------
    message:
        What is wrong.
    path:
        The file the light curve came from, when there is one. It is put at the
        front of the message.

    Example
    -------
    >>> err = LightCurveError("all fluxes are NaN", path="star.fits")
    >>> str(err)
    'star.fits: all fluxes are NaN'
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(message if path is None else f"{path}: {message}")

    def __reduce__(self):  # keep path/reason through pickling (DataLoader workers)
        return (type(self), (self.reason, self.path))


class ImagingError(QusiLabError, ValueError):
    """An image sequence is unusable: mismatched cube and angles, NaN frames, a PSF larger than the frame ...

    Like :class:`LightCurveError`, the file (when there is one) is put at the front of the message.

    Example
    -------
    >>> str(ImagingError("61 frames but 60 parallactic angles", path="cube.fits"))
    'cube.fits: 61 frames but 60 parallactic angles'
    """

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(message if path is None else f"{path}: {message}")

    def __reduce__(self):  # keep path/reason through pickling
        return (type(self), (self.reason, self.path))


class LightCurveReadError(LightCurveError, OSError):
    """A file could not be read as a light curve (truncated, missing column, unknown format)."""


class LabelError(QusiLabError, ValueError):
    """A label is unknown or of the wrong kind for the dataset's task."""

    def __init__(self, message: str, path: str | Path | None = None) -> None:
        self.path = None if path is None else str(path)
        self.reason = message
        super().__init__(message if path is None else f"{path}: {message}")

    def __reduce__(self):
        return (type(self), (self.reason, self.path))


class CheckpointError(QusiLabError, ValueError):
    """A training checkpoint cannot be read, does not fit the model, or was made by another run.

    The message names the file, what differs, and how to start afresh instead
    (``resume=False`` in Python, ``--fresh`` on the command line).
    """


class CheckpointWriteError(QusiLabError, OSError):
    """A checkpoint could not be written (disk full, no permission ...); the previous one is intact."""
