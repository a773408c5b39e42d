"""Checks made before a reader opens a file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from qusi_lab.errors import LightCurveReadError

# What a non-regular file is, for the error message.
_KINDS = (
    (stat.S_ISDIR, "is a directory, not a light-curve file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file; copy its content to a file to read it"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
)


def regular_file_size(path: Path) -> int:
    """The size in bytes of ``path``, which must be an existing regular file (symbolic links followed).

    One ``stat`` call and no ``open``: opening a named pipe for reading blocks until
    a writer appears, and reading a device or socket is never what was meant.

    Raises
    ------
    LightCurveReadError
        Missing, inaccessible, or not a regular file (directory, FIFO, socket,
        device); the message names the file and says which.
    """
    try:
        status = os.stat(path)
    except FileNotFoundError:
        raise LightCurveReadError("file not found", path) from None
    except OSError as error:
        raise LightCurveReadError(f"cannot access the file ({error.strerror or error})", path) from None
    if not stat.S_ISREG(status.st_mode):
        for test, words in _KINDS:
            if test(status.st_mode):
                raise LightCurveReadError(words, path)
        raise LightCurveReadError("is not a regular file", path)
    return status.st_size
