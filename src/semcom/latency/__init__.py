"""Latency of device–edge co-inference: ``T = T_device + bits / R + T_edge``.

* :mod:`~semcom.latency.profile` — :class:`ComputeProfile` (effective FLOP/s, source, power).
* :mod:`~semcom.latency.profiles` — shipped, sourced profiles; :func:`get_profile`.
* :mod:`~semcom.latency.measure` — :func:`measure_cpu_profile` (``this-cpu``).
* :mod:`~semcom.latency.rate` — :func:`shannon_rate_bps`, :func:`transmit_time_s`.
* :mod:`~semcom.latency.model` — :func:`latency` → :class:`LatencyBreakdown`.
* :mod:`~semcom.latency.deadline` — :func:`accuracy_within_deadline`.
* :mod:`~semcom.latency.crossover` — :func:`crossover_rate_bps`.
* :mod:`~semcom.latency.energy` — :func:`energy_j`.
"""

from semcom.latency.crossover import crossover_rate_bps
from semcom.latency.deadline import accuracy_within_deadline
from semcom.latency.energy import energy_j
from semcom.latency.measure import measure_cpu_profile
from semcom.latency.model import LatencyBreakdown, latency
from semcom.latency.profile import ComputeProfile
from semcom.latency.profiles import PROFILES, THIS_CPU, get_profile, profile_names
from semcom.latency.rate import shannon_rate_bps, transmit_time_s
from semcom.latency.slotted import slotted_delivery_time

__all__ = [
    "PROFILES",
    "THIS_CPU",
    "ComputeProfile",
    "LatencyBreakdown",
    "accuracy_within_deadline",
    "crossover_rate_bps",
    "energy_j",
    "get_profile",
    "latency",
    "measure_cpu_profile",
    "profile_names",
    "shannon_rate_bps",
    "slotted_delivery_time",
    "transmit_time_s",
]
