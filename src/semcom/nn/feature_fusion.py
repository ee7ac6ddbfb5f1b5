"""Ways to turn a backbone's multi-scale maps into the maps a detection and a segmentation head
read (FFMNet's feature fusion, and the no-fusion baseline it is compared with).

Every module here takes the backbone's maps ``[B, C_l, h_l, w_l]`` (finest first, each level half
the size of the one before, e.g. strides 8, 16, 32) and returns as many maps ``[B, D, h_l, w_l]``
of one width ``D``, finest first:

* :class:`TopDownFusion` (``fpn``) — torchvision's
  :class:`~torchvision.ops.FeaturePyramidNetwork`: a 1×1 lateral per level, the coarser result
  upsampled (nearest) and added, then a 3×3 convolution per level. Each output mixes its own
  level with every coarser one.
* :class:`ConcatFusion` (``concat``) — concatenate-and-convolve: a 1×1 lateral per level, every
  level upsampled (bilinear) to the finest size, concatenated, a 3×3 convolution (+ BN + ReLU) to
  ``D``; the coarser outputs are stride-2 3×3 convolutions of the fused map. Every output comes
  from one map that mixes all levels.
* :class:`NoFusion` (``none``) — the hard-sharing baseline: the same laterals and 3×3 convolutions
  as :class:`TopDownFusion` (the same parameters, to the last one), with nothing added between
  levels. Each output sees its own level only.

``build_fusion(kind, in_channels, out_channels)`` builds one by name.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FeaturePyramidNetwork

#: fusion names → what they are.
FUSIONS = {
    "fpn": "top-down + lateral (torchvision's FeaturePyramidNetwork)",
    "concat": "concatenate every level at the finest size, then convolve",
    "none": "per-level laterals and convolutions, no information between levels (hard sharing)",
}


class TopDownFusion(nn.Module):
    """``fpn`` (module docstring): maps ``[B, C_l, h_l, w_l]`` → ``[B, D, h_l, w_l]``."""

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        self.fpn = FeaturePyramidNetwork(list(in_channels), out_channels)

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        named = {str(i): f for i, f in enumerate(features)}
        return list(self.fpn(named).values())


class NoFusion(TopDownFusion):
    """``none`` (module docstring): :class:`TopDownFusion`'s layers, no top-down path."""

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for i, f in enumerate(features):
            lateral = self.fpn.get_result_from_inner_blocks(f, i)
            out.append(self.fpn.get_result_from_layer_blocks(lateral, i))
        return out


class ConcatFusion(nn.Module):
    """``concat`` (module docstring): maps ``[B, C_l, h_l, w_l]`` → ``[B, D, h_l, w_l]``."""

    def __init__(self, in_channels: Sequence[int], out_channels: int) -> None:
        super().__init__()
        d = out_channels
        self.laterals = nn.ModuleList(nn.Conv2d(c, d, 1) for c in in_channels)
        self.fuse = nn.Sequential(
            nn.Conv2d(d * len(in_channels), d, 3, padding=1, bias=False),
            nn.BatchNorm2d(d),
            nn.ReLU(inplace=True),
        )
        self.down = nn.ModuleList(
            nn.Conv2d(d, d, 3, stride=2, padding=1) for _ in range(len(in_channels) - 1)
        )

    def forward(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        size = features[0].shape[-2:]
        lifted = [
            F.interpolate(lat(f), size=size, mode="bilinear", align_corners=False) if i else lat(f)
            for i, (lat, f) in enumerate(zip(self.laterals, features, strict=True))
        ]
        out = [self.fuse(torch.cat(lifted, dim=1))]
        for down in self.down:
            out.append(down(out[-1]))
        return out


def build_fusion(kind: str, in_channels: Sequence[int], out_channels: int) -> nn.Module:
    """The fusion ``kind`` (``fpn``, ``concat`` or ``none``) over maps of ``in_channels``.

    >>> maps = [torch.zeros(1, 8, 8, 8), torch.zeros(1, 16, 4, 4)]
    >>> [tuple(m.shape) for m in build_fusion("concat", [8, 16], 32)(maps)]
    [(1, 32, 8, 8), (1, 32, 4, 4)]
    """
    classes = {"fpn": TopDownFusion, "concat": ConcatFusion, "none": NoFusion}
    if kind not in classes:
        raise ValueError(f"fusion must be one of {', '.join(classes)}, got {kind!r}")
    return classes[kind](in_channels, out_channels)
