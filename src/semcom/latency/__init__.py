"""Latency of device–edge co-inference: compute profiles and ``T = T_device + bits/R + T_edge``."""

from semcom.latency.model import (
    LatencyBreakdown,
    accuracy_within_deadline,
    crossover_rate_bps,
    latency,
    shannon_rate_bps,
    transmit_time_s,
)
from semcom.latency.profiles import (
    PROFILES,
    ComputeProfile,
    get_profile,
    measure_cpu_profile,
    profile_names,
)

__all__ = [
    "PROFILES",
    "ComputeProfile",
    "LatencyBreakdown",
    "accuracy_within_deadline",
    "crossover_rate_bps",
    "get_profile",
    "latency",
    "measure_cpu_profile",
    "profile_names",
    "shannon_rate_bps",
    "transmit_time_s",
]
