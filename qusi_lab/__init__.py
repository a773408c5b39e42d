"""qusi_lab: neural networks that sift photometric surveys, and panels to vet what they find.

Import one name::

    import qusi_lab as ql
    lc = ql.read_light_curve("tess-s0001-..._lc.fits")
"""

from __future__ import annotations

__version__ = "0.1.0"

from qusi_lab.errors import LabelError, LightCurveError, LightCurveReadError, QusiLabError
from qusi_lab.lightcurve import LightCurve

__all__ = [
    "__version__",
    "LightCurve",
    "QusiLabError",
    "LightCurveError",
    "LightCurveReadError",
    "LabelError",
]
