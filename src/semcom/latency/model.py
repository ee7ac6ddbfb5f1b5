"""The latency model: ``T = T_device + bits / R + T_edge`` with ``R = B · log2(1 + SNR)``.

All functions take floats or tensors ``[N]`` (per sample) and broadcast.

>>> shannon_rate_bps(1e6, 0.0)
1000000.0
>>> lat = latency(1e9, 1e9, 8e5, get_profile(1e9), get_profile(1e10), 1e6)
>>> round(lat.device, 3), round(lat.transmit, 3), round(lat.edge, 3), round(lat.total, 3)
(1.0, 0.8, 0.1, 1.9)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from semcom.latency.profiles import ComputeProfile, get_profile

Number = float | int
TensorOrFloat = torch.Tensor | float


def shannon_rate_bps(bandwidth_hz: float, snr_db: torch.Tensor | Number) -> TensorOrFloat:
    """Capacity ``B · log2(1 + 10^(snr_db / 10))`` in bit/s; float in → float out."""
    if not bandwidth_hz > 0:
        raise ValueError(f"bandwidth_hz must be > 0, got {bandwidth_hz}")
    if isinstance(snr_db, torch.Tensor):
        snr = torch.pow(10.0, snr_db.double() / 10.0)
        return bandwidth_hz * torch.log2(1.0 + snr)
    return bandwidth_hz * math.log2(1.0 + 10.0 ** (float(snr_db) / 10.0))


@dataclass
class LatencyBreakdown:
    """Seconds per stage (floats, or tensors ``[N]`` when any input was per sample)."""

    device: TensorOrFloat
    transmit: TensorOrFloat
    edge: TensorOrFloat
    total: TensorOrFloat


def transmit_time_s(bits: torch.Tensor | Number, rate_bps: torch.Tensor | Number) -> TensorOrFloat:
    """``bits / rate``: zero when nothing is sent, infinite at zero rate with bits to send."""
    if isinstance(bits, torch.Tensor) or isinstance(rate_bps, torch.Tensor):
        b = torch.as_tensor(bits, dtype=torch.float64)
        r = torch.as_tensor(rate_bps, dtype=torch.float64)
        if bool((r < 0).any()):
            raise ValueError("rate_bps must be >= 0")
        t = b / r
        return torch.where(b == 0, torch.zeros_like(t), t)
    if rate_bps < 0:
        raise ValueError(f"rate_bps must be >= 0, got {rate_bps}")
    if bits == 0:
        return 0.0
    return math.inf if rate_bps == 0 else float(bits) / float(rate_bps)


def latency(
    device_flops: Number,
    edge_flops: Number,
    bits: torch.Tensor | Number,
    device: ComputeProfile | str | float,
    edge: ComputeProfile | str | float,
    rate_bps: torch.Tensor | Number,
) -> LatencyBreakdown:
    """End-to-end latency of one inference: device compute, transmission, edge compute."""
    dev, edg = get_profile(device), get_profile(edge)
    t_dev = dev.compute_time_s(device_flops)
    t_edge = edg.compute_time_s(edge_flops)
    t_tx = transmit_time_s(bits, rate_bps)
    return LatencyBreakdown(t_dev, t_tx, t_edge, t_dev + t_tx + t_edge)


def accuracy_within_deadline(
    correct: torch.Tensor, total_latency_s: torch.Tensor | Number, deadline_s: float
) -> float:
    """Fraction of samples that are correct **and** finish within ``deadline_s`` seconds.

    ``correct``: bool ``[N]``; ``total_latency_s``: ``[N]`` or one value for all samples.
    """
    ok = torch.as_tensor(correct, dtype=torch.bool)
    if ok.numel() == 0:
        raise ValueError("accuracy_within_deadline of no samples is undefined")
    on_time = torch.as_tensor(total_latency_s, dtype=torch.float64) <= deadline_s
    return float((ok & on_time).double().mean())


def crossover_rate_bps(
    compute_a_s: float, bits_a: float, compute_b_s: float, bits_b: float
) -> float | None:
    """Link rate at which ``compute_a + bits_a / R`` equals ``compute_b + bits_b / R``.

    ``None`` when the two never cross at a positive finite rate (one dominates everywhere).

    >>> round(crossover_rate_bps(0.010, 1e3, 0.001, 1e5))  # split system vs offloading
    11000000
    """
    if compute_a_s == compute_b_s:
        return None
    rate = (bits_a - bits_b) / (compute_b_s - compute_a_s)
    return rate if rate > 0 else None
