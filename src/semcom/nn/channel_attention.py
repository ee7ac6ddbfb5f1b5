"""Squeeze-and-excitation channel attention (Hu et al., "Squeeze-and-Excitation Networks", 2018).

``w = sigmoid(W2 · relu(W1 · avgpool(x)))``: one weight in ``(0, 1)`` per channel and sample, used
both to rescale the feature and, by AECNN, to rank channels by importance.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """SE attention over ``C`` channels with a bottleneck of ``max(1, C // reduction)`` units.

    ``forward(x)`` takes ``[B, C, H, W]`` and returns ``(x * w, w)`` with weights ``w`` ``[B, C]``.

    Example:
        >>> att = ChannelAttention(8, reduction=4)
        >>> y, w = att(torch.rand(2, 8, 5, 5))
        >>> tuple(y.shape), tuple(w.shape), bool(((w > 0) & (w < 1)).all())
        ((2, 8, 5, 5), (2, 8), True)
    """

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        if channels < 1 or reduction < 1:
            raise ValueError(f"channels and reduction must be >= 1, got {channels}, {reduction}")
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights ``[B, C]`` in ``(0, 1)`` for a feature ``[B, C, H, W]``."""
        s = x.mean(dim=(2, 3))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.weights(x)
        return x * w[:, :, None, None], w
