"""Quality-flag bitmasks of TESS and Kepler/K2, the same integers lightkurve uses.

The values are copied from ``lightkurve.utils.TessQualityFlags`` and
``lightkurve.utils.KeplerQualityFlags`` (lightkurve 2.6) rather than imported,
because importing lightkurve takes seconds. ``tests/test_io.py`` checks they
still match.

* ``"none"``: keep every cadence.
* ``"default"``: drop cadences that are certainly bad (attitude tweaks, safe mode,
  coarse/Earth point, desaturations, manual excludes ...; TESS also impulsive
  outliers and bad calibration, Kepler also detector anomalies, no data and
  thruster firings).
* ``"hard"``: also cosmic rays, stray light (TESS) or sensitivity dropouts and
  possible thruster firings (Kepler). Removes some good data.
* ``"hardest"``: drop every flagged cadence. Not recommended.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

TESS_QUALITY_BITMASKS: Final = MappingProxyType({"none": 0, "default": 17087, "hard": 24319, "hardest": 65535})
KEPLER_QUALITY_BITMASKS: Final = MappingProxyType(
    {"none": 0, "default": 1130799, "hard": 1664431, "hardest": 2096639}
)

#: Bitmasks by mission and name: ``QUALITY_BITMASKS["TESS"]["default"] == 17087``.
QUALITY_BITMASKS: Final = MappingProxyType(
    {"TESS": TESS_QUALITY_BITMASKS, "Kepler": KEPLER_QUALITY_BITMASKS, "K2": KEPLER_QUALITY_BITMASKS}
)

#: The QLP "low precision" flag, added to "hard" and "hardest" for QLP files as lightkurve does
#: (bit 13 in sectors 1-55, bit 31 from sector 56).
QLP_LOW_PRECISION_BIT_EARLY: Final = 2**12
QLP_LOW_PRECISION_BIT_LATE: Final = 2**30


def check_quality_bitmask(quality_bitmask: str | int) -> None:
    """Raise ValueError unless ``quality_bitmask`` is a known name or a non-negative int."""
    if isinstance(quality_bitmask, bool) or not isinstance(quality_bitmask, (str, int)):
        raise ValueError(f"quality_bitmask must be a name or an int, got {quality_bitmask!r}")
    if isinstance(quality_bitmask, str) and quality_bitmask not in TESS_QUALITY_BITMASKS:
        raise ValueError(
            f"unknown quality_bitmask {quality_bitmask!r}; choose one of {tuple(TESS_QUALITY_BITMASKS)} "
            "or give an int"
        )
    if isinstance(quality_bitmask, int) and quality_bitmask < 0:
        raise ValueError(f"quality_bitmask must be non-negative, got {quality_bitmask}")


def resolve_quality_bitmask(quality_bitmask: str | int, mission: str | None) -> int:
    """The integer bitmask for ``quality_bitmask`` on ``mission`` (TESS flags unless Kepler or K2).

    Example
    -------
    >>> resolve_quality_bitmask("default", "TESS"), resolve_quality_bitmask("default", "K2")
    (17087, 1130799)
    >>> resolve_quality_bitmask(5, "TESS")
    5
    """
    check_quality_bitmask(quality_bitmask)
    if isinstance(quality_bitmask, int):
        return quality_bitmask
    table = KEPLER_QUALITY_BITMASKS if mission in ("Kepler", "K2") else TESS_QUALITY_BITMASKS
    return table[quality_bitmask]
