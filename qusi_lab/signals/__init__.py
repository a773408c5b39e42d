"""Physical signal models: pure functions of time (days) returning relative flux (1.0 = no signal).

Every model returns float64 of the shape of ``time``; NaN times give NaN. Gaps need no care: the models
are evaluated on whatever times they are given.

* :func:`transit` - planetary transit (batman), with exposure-time integration for long cadence.
* :func:`heartbeat` - eccentric-binary tidal "heartbeat" (Kumar et al. 1995; Thompson et al. 2012).
* :func:`eclipsing_binary` - detached eclipsing binary, primary and secondary eclipses.
* :func:`flare` - stellar flare (Davenport et al. 2014 or Mendoza et al. 2022 template).
* :func:`sinusoidal_variability`, :func:`quasi_periodic_variability`, :func:`starspot_variability` - rotation,
  spot evolution, differential rotation.
* :func:`random_parameters` draws parameters of a kind; :func:`signal` replays them::

    parameters = random_parameters("heartbeat", np.random.default_rng(7), time=lc.time)
    flux = signal(parameters.pop("kind"), lc.time, **parameters)
"""

from __future__ import annotations

from qusi_lab.signals.eclipsing_binary import eclipsing_binary
from qusi_lab.signals.flare import FLARE_MODELS, flare
from qusi_lab.signals.heartbeat import heartbeat
from qusi_lab.signals.orbits import (
    a_over_rstar_from_density,
    impact_parameter,
    inclination_from_impact_parameter,
    secondary_eclipse_phase,
    solve_kepler,
    stellar_density_from_a_over_rstar,
    transit_duration,
)
from qusi_lab.signals.parameters import SIGNAL_FUNCTIONS, SIGNAL_KINDS, random_parameters, signal
from qusi_lab.signals.transit import LIMB_DARKENING_LAWS, transit
from qusi_lab.signals.variability import (
    quasi_periodic_variability,
    sinusoidal_variability,
    starspot_variability,
)

__all__ = [
    "transit",
    "heartbeat",
    "eclipsing_binary",
    "flare",
    "sinusoidal_variability",
    "quasi_periodic_variability",
    "starspot_variability",
    "random_parameters",
    "signal",
    "SIGNAL_KINDS",
    "SIGNAL_FUNCTIONS",
    "FLARE_MODELS",
    "LIMB_DARKENING_LAWS",
    "solve_kepler",
    "secondary_eclipse_phase",
    "a_over_rstar_from_density",
    "stellar_density_from_a_over_rstar",
    "impact_parameter",
    "inclination_from_impact_parameter",
    "transit_duration",
]
