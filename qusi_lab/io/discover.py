"""Find light-curve files in a folder tree."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

__all__ = ["LIGHT_CURVE_SUFFIXES", "find_light_curve_files", "has_light_curve_suffix"]

#: File-name endings :func:`qusi_lab.io.read_light_curve` recognises (case-insensitive).
LIGHT_CURVE_SUFFIXES: tuple[str, ...] = (".fits", ".fits.gz", ".fit", ".csv", ".npz")

_SKIPPED_FOLDERS = frozenset({".ipynb_checkpoints", "__pycache__"})


def has_light_curve_suffix(name: str) -> bool:
    """Whether a file name ends with one of :data:`LIGHT_CURVE_SUFFIXES`.

    Example
    -------
    >>> has_light_curve_suffix("tess-s0001_lc.FITS"), has_light_curve_suffix("notes.txt")
    (True, False)
    """
    return name.lower().endswith(LIGHT_CURVE_SUFFIXES)


def find_light_curve_files(
    directory: str | os.PathLike[str],
    *,
    recursive: bool = True,
    unreadable: list[tuple[Path, OSError]] | None = None,
) -> list[Path]:
    """Light-curve files (by suffix) under ``directory``, sorted.

    Hidden files and folders (names starting with ``.``), ``.ipynb_checkpoints``
    and ``__pycache__`` are skipped. Symbolic links to folders are not followed.

    A sub-folder that cannot be listed (no permission, I/O error) is never skipped
    silently: it is appended with its error to ``unreadable`` when that list is given
    (:func:`qusi_lab.inference.infer` reports them in ``table.problems``), and warned
    about otherwise.

    Raises
    ------
    FileNotFoundError
        If ``directory`` does not exist; NotADirectoryError if it is a file;
        PermissionError (or another OSError) if ``directory`` itself cannot be listed.

    Example
    -------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("b/star2.fits", "a/star1.csv", "a/.hidden.fits", ".ipynb_checkpoints/x.fits", "notes.txt"):
    ...     (root / name).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / name).write_text("")
    >>> [str(p.relative_to(root)) for p in find_light_curve_files(root)]
    ['a/star1.csv', 'b/star2.fits']
    """
    root = Path(directory)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such directory")
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory")
    failures: list[tuple[Path, OSError]] = []

    def note(error: OSError) -> None:  # os.walk's default is to skip the folder without a word
        failures.append((Path(error.filename) if error.filename is not None else root, error))

    found: list[Path] = []
    for folder, subfolders, files in os.walk(root, onerror=note):
        subfolders[:] = [] if not recursive else [
            name for name in subfolders if not name.startswith(".") and name not in _SKIPPED_FOLDERS
        ]
        found.extend(
            Path(folder) / name for name in files if not name.startswith(".") and has_light_curve_suffix(name)
        )
    for unlisted, error in failures:
        if unlisted == root:  # nothing at all can be found: not a per-folder problem
            raise type(error)(error.errno, f"{root}: cannot list the folder ({error.strerror or error})")
        if unreadable is not None:
            unreadable.append((unlisted, error))
        else:
            warnings.warn(f"{unlisted}: cannot list the folder ({type(error).__name__}: {error.strerror or error}); "
                          "its files are left out", UserWarning, stacklevel=2)
    return sorted(found)
