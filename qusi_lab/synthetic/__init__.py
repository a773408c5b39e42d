"""A realistic synthetic TESS sector on disk: the data qusi_lab ships instead of downloads.

:func:`make_sector` writes one SPOC-format light-curve FITS file per star (files that
``lightkurve.read`` and :func:`qusi_lab.read_light_curve` open) and a ``truth.csv``
listing what was put into each one. A sector looks like the real thing:

* 2-minute cadence over ~27.4 days, starting at the sector's BTJD (sector 1: 1325.29),
  with the ~1-day data-downlink gap between the two orbits (rows whose TIME is NaN,
  as in early SPOC products);
* momentum dumps every ~2.5-3.1 days: the desaturation cadences carry QUALITY bit 32
  ("Desat", some also bit 4 "Coarse point") and the SAP flux jumps and relaxes after each;
* a thermal-settling ramp at the start of each orbit, scattered light towards the end of
  each orbit (bits 2048/4096, kept by the default mask), one or two Argabrightening events
  (bit 16), a few manual-exclude (bit 128) and impulsive-outlier (bit 512) cadences;
* photon + instrument white noise from the magnitude, red noise (a damped random walk)
  and stellar variability (rotation or quasi-periodic) for every star;
* SAP_FLUX with those systematics, crowding and aperture losses; PDCSAP_FLUX with the
  systematics mostly removed, both in e-/s from the TESS magnitude.

Each star is one of a labelled mix: ``planet`` (transits), ``eclipsing_binary``,
``heartbeat``, ``flare`` (a spotted flare star) or ``quiet``. Planets get at least two
transits in good data and radius ratios drawn so that their signal-to-noise ratio runs
log-uniformly from the detection threshold (7) to obvious (100). Heartbeat stars reach the same
range: in the default ``population="physical"`` their amplitude is the tide of their orbit and their
magnitude is chosen for the SNR; in ``population="stress"`` (the sky of qusi_lab 0.1) the amplitude is
scaled to it. (``snr_range=(3, 100)`` adds marginal signals that nobody could
confirm; see :data:`DEFAULT_SNR_RANGE`.) The SNR is the matched-filter SNR of the whole signal
in the star's white and red noise over the usable cadences (:func:`matched_filter_snr`); the
stellar variability of each star makes the effective SNR somewhat lower.

Modules
-------
* :mod:`~qusi_lab.synthetic.population`: which stars, which signals (every draw from the seed);
* :mod:`~qusi_lab.synthetic.physical`: the physical population (the default; ``population="stress"`` keeps
  the sky of qusi_lab 0.1): heartbeat orbits and amplitudes, rotators and red noise, each with its source;
* :mod:`~qusi_lab.synthetic.plotting`: :func:`population_plot`, the populations drawn;
* :mod:`~qusi_lab.synthetic.timeline`: the spacecraft timeline (cadences, gap, momentum dumps, flags);
* :mod:`~qusi_lab.synthetic.noise`: the TESS noise model (Stassun et al. 2018) and matched-filter SNR;
* :mod:`~qusi_lab.synthetic.rendering`: a light curve from a star and its signals;
* :mod:`~qusi_lab.synthetic.writing`: sectors on disk (:func:`make_sector`, :func:`load_truth`).

Every public name is importable from ``qusi_lab.synthetic`` itself.

Reproducibility: every star draws from its own generator seeded by ``(seed, star index)``
(and the sector for sector-dependent noise), so the same arguments give byte-identical
files however many worker processes write them. The spacecraft timeline (gap, momentum
dumps, shared flags) depends on the sector only, as it would for real stars observed
together.

Example
-------
>>> import tempfile
>>> result = make_sector(tempfile.mkdtemp(), n_stars=4, seed=1)   # doctest: +SKIP
>>> result.truth[["tic_id", "label", "tess_mag"]]                 # doctest: +SKIP
"""

from qusi_lab._deprecation import renamed
from qusi_lab.synthetic.noise import (
    TESS_ZERO_POINT_FLUX,
    matched_filter_snr,
    tess_flux_from_magnitude,
    tess_noise_ppm,
)
from qusi_lab.synthetic.physical import DEFAULT_POPULATION, POPULATIONS
from qusi_lab.synthetic.plotting import population_data, population_plot
from qusi_lab.synthetic.population import (
    DEFAULT_MIX,
    DEFAULT_SNR_RANGE,
    SIGNAL_KIND_OF_LABEL,
    SPLITS,
    STAR_KINDS,
)
from qusi_lab.synthetic.rendering import synthetic_light_curve
from qusi_lab.synthetic.timeline import (
    BTJD_OFFSET,
    MINUTES_PER_DAY,
    SECTOR_DAYS,
    SECTOR_ONE_START_BTJD,
    SECTOR_STEP_DAYS,
    TESS_DEFAULT_QUALITY_BITMASK,
    QualityFlags,
    SectorTimeline,
    sector_start_btjd,
    sector_timeline,
)
from qusi_lab.synthetic.writing import TRUTH_FILENAME, SectorResult, load_truth, make_sector, spoc_file_name

__all__ = [
    "DEFAULT_MIX",
    "DEFAULT_POPULATION",
    "POPULATIONS",
    "population_data",
    "population_plot",
    "DEFAULT_SNR_RANGE",
    "STAR_KINDS",
    "SIGNAL_KIND_OF_LABEL",
    "TESS_DEFAULT_QUALITY_BITMASK",
    "QualityFlags",
    "SectorResult",
    "SectorTimeline",
    "make_sector",
    "synthetic_light_curve",
    "make_light_curve",
    "matched_filter_snr",
    "load_truth",
    "sector_timeline",
    "sector_start_btjd",
    "spoc_file_name",
    "tess_noise_ppm",
    "tess_flux_from_magnitude",
    # Constants that synthetic.py defined (importable, not in its __all__ before the split).
    "BTJD_OFFSET",
    "MINUTES_PER_DAY",
    "SECTOR_DAYS",
    "SECTOR_ONE_START_BTJD",
    "SECTOR_STEP_DAYS",
    "SPLITS",
    "TESS_ZERO_POINT_FLUX",
    "TRUTH_FILENAME",
]

#: Deprecated name of :func:`synthetic_light_curve` (removed in 0.2).
make_light_curve = renamed(synthetic_light_curve, "qusi_lab.synthetic.make_light_curve")
