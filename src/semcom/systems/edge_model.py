"""Systems that send the image and run the whole network at the edge (offloading, separate
source–channel coding): the shared structure."""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom.backbones import build_backbone
from semcom.systems.base import BuildContext, SplitSystem, SystemOutput, SystemParams


class WholeModelAtEdge(SplitSystem):
    """The experiment's backbone, unsplit, at the edge; the device runs no network.

    Roles ``head`` and ``tail`` (the shared backbone loads as is); ``device_modules()`` is empty;
    the source at the split is the input image ``(C, H, W)`` (:attr:`image_shape`). The training
    graph is the backbone on clean images: what the link does to them is not trained.
    """

    def __init__(self, params: SystemParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        backbone = build_backbone(ctx.backbone, ctx.in_channels, ctx.num_classes)
        self.head, self.tail = backbone.split(ctx.split_after)
        self.image_shape = (ctx.in_channels, *ctx.image_size)
        #: ``(C, H, W)`` of the backbone's feature at the split (for systems that code it).
        self.feature_shape = tuple(backbone.feature_shape(ctx.split_after, self.image_shape))

    def roles(self) -> dict[str, nn.Module]:
        return {"head": self.head, "tail": self.tail}

    def device_modules(self) -> list[nn.Module]:
        return []

    def edge_modules(self) -> list[nn.Module]:
        return [self.head, self.tail]

    def split_elements(self) -> int:
        return math.prod(self.image_shape)

    def forward(
        self, x: torch.Tensor, snr_db: torch.Tensor | None = None, path: str = "full"
    ) -> SystemOutput:
        """Logits ``[B, K]`` of the backbone on ``x`` ``[B, C, H, W]``, whatever the path."""
        self.check_path(path)
        return SystemOutput(self.tail(self.head(x)))
