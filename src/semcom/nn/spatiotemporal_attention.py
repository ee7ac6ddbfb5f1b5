"""Spatiotemporal attention for semantic video compression (ViT_STAE's device side).

Both score from the device's shared trunk features ``[B, w, T, h', w']`` (a 3-D conv of the
clip, so they see motion between neighbouring frames), which keeps the device's cost small:

* :class:`FrameAttention` scores the frames ``→ [B, T]``;
* :class:`PatchAttention` scores the cells of every frame ``→ [B, T, P]``.
* :func:`straight_through_top_k` keeps the ``k`` best-scored entries of the last dimension: the
  forward value is the hard 0/1 mask, the gradient that of a sigmoid of the score's margin over
  the keep threshold (straight-through estimator), so a loss downstream of the masked content
  teaches the scores what is worth keeping.
"""

from __future__ import annotations

import torch
from torch import nn


class FrameAttention(nn.Module):
    """Importance of each frame from per-frame features ``[B, w, T, h, w'] → [B, T]``: a
    spatial mean, then two temporal convolutions (so a frame is scored against its
    neighbours)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.score = nn.Sequential(
            nn.Conv1d(width, width, 3, padding=1), nn.GELU(), nn.Conv1d(width, 1, 3, padding=1)
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.score(features.mean(dim=(3, 4)))[:, 0]


class PatchAttention(nn.Module):
    """Importance of each cell of each frame from per-frame features ``[B, w, T, h', w']`` →
    ``[B, T, P]``: average-pooled by ``pool`` to the cell grid, a 3×3×3 conv (a cell is scored
    in its spatial and temporal neighbourhood), a 1×1×1 conv; ``P`` cells in row-major order."""

    def __init__(self, width: int, pool: int) -> None:
        super().__init__()
        self.score = nn.Sequential(
            nn.AvgPool3d((1, pool, pool)),
            nn.Conv3d(width, width, 3, 1, 1),
            nn.GELU(),
            nn.Conv3d(width, 1, 1),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.score(features)[:, 0].flatten(2)


def top_k_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Bool mask of the ``k`` largest entries of the last dimension (ties: the lower index)."""
    k = min(k, scores.shape[-1])
    index = scores.topk(k, dim=-1, sorted=False).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(-1, index, True)


def straight_through_top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(hard, st)``: the bool top-``k`` mask of the last dimension and its straight-through
    float version (value ``hard``, gradient of ``sigmoid(score - threshold)``, the threshold
    halfway between the ``k``-th and the ``(k+1)``-th score)."""
    hard = top_k_mask(scores.detach(), k)
    n = scores.shape[-1]
    if k >= n:
        return hard, hard.to(scores.dtype) + 0.0 * scores
    top = scores.detach().topk(k + 1, dim=-1).values
    threshold = 0.5 * (top[..., k - 1 : k] + top[..., k : k + 1])
    soft = torch.sigmoid(scores - threshold)
    return hard, hard.to(scores.dtype) + soft - soft.detach()
