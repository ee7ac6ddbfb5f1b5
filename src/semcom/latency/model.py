"""The latency model of one co-inference: ``T = T_device + bits / R + T_edge + T_overhead``.

Compute times are FLOPs ÷ the profile's effective FLOP/s; the transmission time is
:func:`~semcom.latency.transmit_time_s`. ``T_overhead`` is a fixed cost per request that no
FLOP or bit count explains (protocol framing, serialisation, scheduling, a round trip); it is 0
in simulation and is calibrated from a real link when one is measured (``bench_runtime.py``
measures it over loopback). Inputs may be numbers or per-sample tensors ``[N]``.

>>> from semcom.latency import get_profile
>>> lat = latency(1e9, 1e9, 8e5, get_profile(1e9), get_profile(1e10), 1e6)
>>> round(lat.device, 3), round(lat.transmit, 3), round(lat.edge, 3), round(lat.total, 3)
(1.0, 0.8, 0.1, 1.9)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from semcom.latency.profile import ComputeProfile
from semcom.latency.profiles import get_profile
from semcom.latency.rate import Number, TensorOrFloat, transmit_time_s


@dataclass
class LatencyBreakdown:
    """Seconds per stage of one inference.

    Each field is a float, or a float64 tensor ``[N]`` (one value per sample) when an input was
    per sample; ``total = device + transmit + edge + overhead``.
    """

    device: TensorOrFloat
    transmit: TensorOrFloat
    edge: TensorOrFloat
    total: TensorOrFloat
    overhead: float = 0.0


def latency(
    device_flops: torch.Tensor | Number,
    edge_flops: torch.Tensor | Number,
    bits: torch.Tensor | Number,
    device: ComputeProfile | str | float,
    edge: ComputeProfile | str | float,
    rate_bps: torch.Tensor | Number,
    overhead_s: float = 0.0,
) -> LatencyBreakdown:
    """End-to-end latency: device compute, transmission, edge compute, overhead, in seconds.

    Args:
        device_flops: FLOPs run on the device (number, or ``[N]``).
        edge_flops: FLOPs run on the edge server (number, or ``[N]``).
        bits: payload bits per sample (number, or ``[N]``); 0 means nothing is sent.
        device: device profile (or anything :func:`~semcom.latency.get_profile` accepts).
        edge: edge profile (likewise).
        rate_bps: link rate, bit/s (number, or ``[N]``); ``inf`` means a free link (0 s),
            ``0`` an outage (``inf`` s whenever bits are sent).
        overhead_s: fixed seconds per request besides compute and transmission (>= 0).
    """
    if not overhead_s >= 0:
        raise ValueError(f"overhead_s must be >= 0 seconds, got {overhead_s}")
    t_dev = get_profile(device).compute_time_s(device_flops)
    t_edge = get_profile(edge).compute_time_s(edge_flops)
    t_tx = transmit_time_s(bits, rate_bps)
    total = t_dev + t_tx + t_edge + overhead_s
    return LatencyBreakdown(t_dev, t_tx, t_edge, total, float(overhead_s))
