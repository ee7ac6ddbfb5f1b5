"""Link rate and transmission time: ``R = B · log2(1 + SNR)`` bit/s and ``t = bits / R`` s.

Floats in give floats out; any tensor in gives a float64 tensor out (elementwise, broadcast).

>>> shannon_rate_bps(1e6, 0.0)
1000000.0
>>> transmit_time_s(8e5, 1e6)
0.8
>>> transmit_time_s(0.0, 0.0), transmit_time_s(1.0, float("inf")), transmit_time_s(1.0, 0.0)
(0.0, 0.0, inf)
"""

from __future__ import annotations

import math

import torch

Number = float | int
TensorOrFloat = torch.Tensor | float

_LN2 = math.log(2.0)


def shannon_rate_bps(
    bandwidth_hz: torch.Tensor | Number, snr_db: torch.Tensor | Number
) -> TensorOrFloat:
    """Capacity ``B · log2(1 + 10^(snr_db / 10))`` of an AWGN link, bit/s.

    Args:
        bandwidth_hz: ``B``, Hz (> 0); a number or a tensor broadcastable with ``snr_db``.
        snr_db: SNR in dB; a number or a tensor (e.g. ``[N]``, one instantaneous SNR
            ``snr + 10 log10 |h|^2`` per sample on a fading link). ``+inf`` gives an infinite rate,
            ``-inf`` a zero rate.

    Returns:
        bit/s: a float when both inputs are numbers, else a float64 tensor of the broadcast shape.
    """
    if isinstance(bandwidth_hz, torch.Tensor) or isinstance(snr_db, torch.Tensor):
        b = torch.as_tensor(bandwidth_hz, dtype=torch.float64)
        if not bool((b > 0).all()):
            raise ValueError("bandwidth_hz must be > 0")
        snr = torch.pow(10.0, torch.as_tensor(snr_db, dtype=torch.float64) / 10.0)
        return b * torch.log1p(snr) / _LN2
    if not bandwidth_hz > 0:
        raise ValueError(f"bandwidth_hz must be > 0, got {bandwidth_hz}")
    snr_db = float(snr_db)
    if snr_db == math.inf:
        return math.inf
    return float(bandwidth_hz) * math.log1p(10.0 ** (snr_db / 10.0)) / _LN2


def transmit_time_s(bits: torch.Tensor | Number, rate_bps: torch.Tensor | Number) -> TensorOrFloat:
    """Seconds to send ``bits`` at ``rate_bps``: ``bits / rate``.

    Nothing to send takes 0 s whatever the rate; an infinite rate takes 0 s; bits over a zero rate
    take ``inf`` s. Works for any unit over its rate (e.g. complex symbols at symbols/s).
    Negative bits or rates raise ``ValueError``. Tensors ``[N]`` give a float64 tensor ``[N]``.
    """
    if isinstance(bits, torch.Tensor) or isinstance(rate_bps, torch.Tensor):
        b = torch.as_tensor(bits, dtype=torch.float64)
        r = torch.as_tensor(rate_bps, dtype=torch.float64)
        if bool((r < 0).any()):
            raise ValueError("rate_bps must be >= 0")
        if bool((b < 0).any()):
            raise ValueError("bits must be >= 0")
        t = b / r
        return torch.where(b == 0, torch.zeros_like(t), t)
    if rate_bps < 0:
        raise ValueError(f"rate_bps must be >= 0, got {rate_bps}")
    if bits < 0:
        raise ValueError(f"bits must be >= 0, got {bits}")
    if bits == 0:
        return 0.0
    return math.inf if rate_bps == 0 else float(bits) / float(rate_bps)
