"""``local``: the whole, unsplit model runs on the device; nothing crosses the link.

The reference every split system is measured against: its accuracy is the backbone's, its device
cost is the whole network's, and its latency is compute only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom.backbones import build_backbone
from semcom.systems.base import BuildContext, SplitSystem, SystemOutput, SystemParams
from semcom.systems.registry import register_system


class LocalParams(SystemParams):
    """``local`` has no parameters."""


@register_system("local")
class LocalInference(SplitSystem):
    """Backbone head and tail both on the device; ``[B, C, H, W] → [B, K]``."""

    link = "none"
    Params = LocalParams

    def __init__(self, params: LocalParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        backbone = build_backbone(ctx.backbone, ctx.in_channels, ctx.num_classes)
        self.head, self.tail = backbone.split(ctx.split_after)

    def roles(self) -> dict[str, nn.Module]:
        return {"head": self.head, "tail": self.tail}

    def device_modules(self) -> list[nn.Module]:
        return [self.head, self.tail]

    def edge_modules(self) -> list[nn.Module]:
        return []

    def split_elements(self) -> int:
        return self.ctx.in_channels * math.prod(self.ctx.image_size)

    def forward(
        self, x: torch.Tensor, snr_db: torch.Tensor | None = None, path: str = "full"
    ) -> SystemOutput:
        return SystemOutput(self.tail(self.head(x)))
