"""Read and write light curves: FITS (TESS, Kepler, K2, QLP), CSV and NPZ.

Example
-------
>>> import tempfile, numpy as np
>>> from qusi_lab import LightCurve
>>> from qusi_lab.io import read_light_curve, write_spoc_fits
>>> lc = LightCurve(1325 + np.arange(100) / 720, np.full(100, 500.0))
>>> path = write_spoc_fits(lc, tempfile.mkdtemp() + "/star_lc.fits", tic_id=25155310, sector=1)
>>> read_light_curve(path)  # doctest: +ELLIPSIS
LightCurve(100 cadences, time 1325.000..1325.138 d, target_id=TIC 25155310, mission=TESS, sector=1, path=star_lc.fits)
"""

from __future__ import annotations

from qusi_lab.io.discover import LIGHT_CURVE_SUFFIXES, find_light_curve_files
from qusi_lab.io.fits import read_fits_light_curve, write_spoc_fits
from qusi_lab.io.npz import read_npz_light_curve, write_npz
from qusi_lab.io.quality import QUALITY_BITMASKS
from qusi_lab.io.read import FORMATS, LightCurveReader, detect_format, light_curve_reader, read_light_curve
from qusi_lab.io.text import read_csv_light_curve, write_csv
from qusi_lab.lightcurve import register_writer

# LightCurve.to_fits/to_csv/to_npz call these (registration keeps lightcurve.py from importing io).
register_writer("fits", write_spoc_fits)
register_writer("csv", write_csv)
register_writer("npz", write_npz)

__all__ = [
    "FORMATS",
    "LIGHT_CURVE_SUFFIXES",
    "LightCurveReader",
    "QUALITY_BITMASKS",
    "detect_format",
    "find_light_curve_files",
    "light_curve_reader",
    "read_csv_light_curve",
    "read_fits_light_curve",
    "read_light_curve",
    "read_npz_light_curve",
    "write_csv",
    "write_npz",
    "write_spoc_fits",
]
