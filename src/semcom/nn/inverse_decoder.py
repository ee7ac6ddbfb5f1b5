"""The two parts of an edge decoder that starts close to the identity (AECNN's ``decoder:
inverse``): :class:`Unsquash` undoes the device's ``BN → sigmoid`` on the dequantised code, and
:class:`ZeroInitResidualConv` is a residual 3×3 conv whose branch starts at zero."""

from __future__ import annotations

import torch
from torch import nn


class Unsquash(nn.Module):
    """Edge-side inverse of the encoder's ``BN → sigmoid``: ``a · logit(clamp(z, eps, 1 - eps)) +
    b`` per plane, ``[B, m, H, W] → [B, m, H, W]``. ``a = 1``, ``b = 0`` at initialisation (gives
    back the encoder's batch-normalised pre-activation); learned so it can undo the BN as well."""

    def __init__(self, planes: int, eps: float) -> None:
        super().__init__()
        if not 0 < eps < 0.5:
            raise ValueError(f"eps must be in (0, 0.5), got {eps}")
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(1, planes, 1, 1))
        self.bias = nn.Parameter(torch.zeros(1, planes, 1, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.logit(z.clamp(self.eps, 1.0 - self.eps)) * self.weight + self.bias


class ZeroInitResidualConv(nn.Module):
    """``relu(x + BN(conv3x3(x)))`` with the BN scale initialised to 0: the identity (on
    non-negative ``x``) at the start of training. ``[B, C, H, W] → [B, C, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        nn.init.zeros_(self.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn(self.conv(x)))
