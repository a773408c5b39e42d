"""Find light-curve files in a folder tree."""

from __future__ import annotations

import os
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


def find_light_curve_files(directory: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Light-curve files (by suffix) under ``directory``, sorted.

    Hidden files and folders (names starting with ``.``), ``.ipynb_checkpoints``
    and ``__pycache__`` are skipped. Symbolic links to folders are not followed.

    Raises
    ------
    FileNotFoundError
        If ``directory`` does not exist; NotADirectoryError if it is a file.

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
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [] if not recursive else [
            name for name in subfolders if not name.startswith(".") and name not in _SKIPPED_FOLDERS
        ]
        found.extend(
            Path(folder) / name for name in files if not name.startswith(".") and has_light_curve_suffix(name)
        )
    return sorted(found)
