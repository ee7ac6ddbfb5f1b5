"""Device energy of one inference: compute power × compute time + radio power × airtime.

>>> from semcom.latency import PROFILES
>>> energy_j(5.9e9, PROFILES["jetson-nano"])  # 0.1 s at 10 W
1.0
>>> energy_j(0, PROFILES["jetson-nano"], bits=1e6, rate_bps=1e6, tx_power_w=0.5)
0.5
"""

from __future__ import annotations

import math

import torch

from semcom.latency.profile import ComputeProfile
from semcom.latency.profiles import get_profile
from semcom.latency.rate import Number, TensorOrFloat, transmit_time_s


def energy_j(
    device_flops: torch.Tensor | Number,
    device: ComputeProfile | str | float,
    bits: torch.Tensor | Number = 0.0,
    rate_bps: torch.Tensor | Number = math.inf,
    tx_power_w: float = 0.0,
) -> TensorOrFloat:
    """Joules the device spends on one inference.

    ``device.power_w · device_flops / device.flops_per_s + tx_power_w · bits / rate_bps``: the
    device is assumed to draw its profile's ``power_w`` while computing and ``tx_power_w`` (W,
    the radio's consumption, not its radiated power) while transmitting. Idle power is not
    counted. Raises ``ValueError`` when the profile has no sourced ``power_w``.
    Numbers give a float; per-sample tensors ``[N]`` give a float64 tensor ``[N]``.
    """
    profile = get_profile(device)
    if profile.power_w is None:
        raise ValueError(f"compute profile {profile.name!r} has no power figure (power_w)")
    if not tx_power_w >= 0:
        raise ValueError(f"tx_power_w must be >= 0, got {tx_power_w}")
    compute = profile.power_w * profile.compute_time_s(device_flops)
    if tx_power_w == 0:
        return compute
    return compute + tx_power_w * transmit_time_s(bits, rate_bps)
