"""SNR-adaptive channel gating, in the spirit of the attention-feature (AF) modules of ADJSCC
(Xu et al., "Wireless Image Transmission Using Deep Source Channel Coding With Attention Modules",
2021).

The channel state enters the network as a per-channel gate: the feature is average-pooled to one
value per channel, the SNR (dB) is appended, and a two-layer MLP with a sigmoid output gives a
weight in ``(0, 1)`` per channel::

    s = [avgpool(x) (C values), snr_db * snr_scale]  →  w = sigmoid(W2 relu(W1 s))  →  x * w

so the same encoder (decoder) can spend its code differently at low and high SNR. ``snr_scale``
(default ``1 / 20``) keeps the SNR input of order one over the usual ``-10 .. 20`` dB range.
"""

from __future__ import annotations

import torch
from torch import nn


class SNRAdaptiveGate(nn.Module):
    """Channel-wise gate of a feature ``[B, C, H, W]`` from its pooled values and the SNR.

    Args:
        channels: ``C``.
        reduction: the MLP's hidden width is ``max(4, C // reduction)``.
        snr_scale: factor applied to ``snr_db`` before it enters the MLP (1/dB).

    ``forward(x, snr_db)``: ``x`` ``[B, C, H, W]``, ``snr_db`` float or ``[B]`` (dB) → gated
    ``x`` (same shape). :meth:`weights` gives the gate ``[B, C]``.

    >>> gate = SNRAdaptiveGate(8)
    >>> x = torch.rand(2, 8, 4, 4)
    >>> gate(x, torch.tensor([0.0, 20.0])).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, channels: int, reduction: int = 4, snr_scale: float = 0.05) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels}, {reduction}")
        hidden = max(4, channels // reduction)
        self.snr_scale = float(snr_scale)
        self.mlp = nn.Sequential(
            nn.Linear(channels + 1, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, channels)
        )

    def weights(self, x: torch.Tensor, snr_db: float | torch.Tensor) -> torch.Tensor:
        """Gate ``[B, C]`` in ``(0, 1)`` for ``x`` ``[B, C, H, W]`` at ``snr_db`` (float or
        ``[B]``, dB)."""
        b = x.shape[0]
        snr = torch.as_tensor(snr_db, dtype=x.dtype, device=x.device).reshape(-1)
        snr = snr.expand(b) if snr.numel() == 1 else snr
        if snr.shape != (b,):
            raise ValueError(f"snr_db must be a number or [B={b}], got {list(snr.shape)}")
        s = torch.cat([x.mean(dim=(2, 3)), (snr * self.snr_scale)[:, None]], dim=1)
        return torch.sigmoid(self.mlp(s))

    def forward(self, x: torch.Tensor, snr_db: float | torch.Tensor) -> torch.Tensor:
        return x * self.weights(x, snr_db)[:, :, None, None]
