"""ViT_STAE's edge decoder: a 3-D then 2-D CNN that restores a clip from what arrived.

Input: the dequantised latent grid ``[B, c, T, h, w]`` (zero where nothing arrived) and the
arrival mask ``[B, 1, T, h, w]`` (1 where a latent arrived). The 3-D part (3×3×3 residual
convolutions over time and space at the latent grid) carries what arrived into the dropped
frames and cells — learning the clip's temporal and spatial structure; the 2-D part upsamples
each frame by ``patch`` (``log2(patch)`` stride-2 transposed convolutions) to pixels. Output: the
clip ``[B, C, T, h·patch, w·patch]`` in ``[0, 1]``.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class _Residual3d(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv3d(width, width, 3, 1, 1, bias=False),
            nn.BatchNorm3d(width),
            nn.GELU(),
            nn.Conv3d(width, width, 3, 1, 1, bias=False),
            nn.BatchNorm3d(width),
        )
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(x + self.body(x))


class Conv3d2dDecoder(nn.Module):
    """See the module docstring. ``patch`` must be a power of two."""

    def __init__(
        self, latent_channels: int, out_channels: int, patch: int, width: int = 64, blocks: int = 2
    ) -> None:
        super().__init__()
        ups = int(math.log2(patch))
        if 2**ups != patch:
            raise ValueError(f"patch must be a power of two, got {patch}")
        self.entry = nn.Sequential(
            nn.Conv3d(latent_channels + 1, width, 3, 1, 1, bias=False),
            nn.BatchNorm3d(width),
            nn.GELU(),
        )
        self.fill = nn.Sequential(*[_Residual3d(width) for _ in range(blocks)])
        layers: list[nn.Module] = []
        c = width
        for _ in range(ups):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.GELU(),
            ]
            c //= 2
        layers += [nn.Conv2d(c, out_channels, 3, 1, 1), nn.Sigmoid()]
        self.upsample = nn.Sequential(*layers)

    def forward(self, latent: torch.Tensor, arrived: torch.Tensor) -> torch.Tensor:
        """``latent`` ``[B, c, T, h, w]``, ``arrived`` ``[B, 1, T, h, w]`` → ``[B, C, T, H, W]``."""
        b, _, t, h, w = latent.shape
        z = self.fill(self.entry(torch.cat([latent, arrived.to(latent.dtype)], dim=1)))
        frames = z.transpose(1, 2).reshape(b * t, -1, h, w)
        out = self.upsample(frames)
        return out.reshape(b, t, *out.shape[1:]).transpose(1, 2)
