"""CBAM: convolutional block attention module (Woo et al., "CBAM: Convolutional Block Attention
Module", ECCV 2018).

Two gates applied in sequence to a feature ``x`` ``[B, C, H, W]``:

1. **channel attention** ``Mc = sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))`` ``[B, C, 1, 1]``
   (one MLP shared by both pooled descriptors, bottleneck ``C / reduction``), ``x' = x * Mc``;
2. **spatial attention** ``Ms = sigmoid(conv_k×k([mean_c(x'), max_c(x')]))`` ``[B, 1, H, W]``
   (a ``k×k`` conv, default ``7×7``, over the channel-wise average and maximum maps),
   ``x'' = x' * Ms``.

The output has the shape of the input.
"""

from __future__ import annotations

import torch
from torch import nn


class CBAMChannelGate(nn.Module):
    """Channel attention of CBAM: weights ``[B, C, 1, 1]`` in ``(0, 1)`` from average- and
    max-pooled descriptors through one shared MLP (``C → max(1, C // reduction) → C``)."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True), nn.Conv2d(hidden, channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = x.mean(dim=(2, 3), keepdim=True)
        peak = x.amax(dim=(2, 3), keepdim=True)
        return torch.sigmoid(self.mlp(avg) + self.mlp(peak))


class CBAMSpatialGate(nn.Module):
    """Spatial attention of CBAM: weights ``[B, 1, H, W]`` in ``(0, 1)`` from a ``k×k`` conv over
    the channel-average and channel-max maps."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {kernel_size}")
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        return torch.sigmoid(self.conv(maps))


class CBAM(nn.Module):
    """Channel then spatial attention; ``[B, C, H, W] → [B, C, H, W]``.

    Args:
        channels: ``C``.
        reduction: bottleneck factor of the channel MLP.
        kernel_size: side of the spatial attention conv (odd).

    >>> cbam = CBAM(16)
    >>> cbam(torch.rand(2, 16, 8, 8)).shape
    torch.Size([2, 16, 8, 8])
    """

    def __init__(self, channels: int, reduction: int = 16, kernel_size: int = 7) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels}, {reduction}")
        self.channel_gate = CBAMChannelGate(channels, reduction)
        self.spatial_gate = CBAMSpatialGate(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * self.channel_gate(x)
        return x * self.spatial_gate(x)
