"""The package version, in a leaf module so that any layer can read it without importing the package face.

Example
-------
>>> from qusi_lab._version import __version__
>>> __version__.count(".") >= 1
True
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
