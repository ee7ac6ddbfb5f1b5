"""Systems that send the input and run the whole network at the edge (offloading, separate
source–channel coding): the shared structure."""

from __future__ import annotations

import math

from torch import nn

from semcom.systems.backbone_split import BackboneSplitSystem
from semcom.systems.base import BuildContext, SystemParams


class WholeModelAtEdge(BackboneSplitSystem):
    """The experiment's backbone, unsplit, at the edge; the device runs no network.

    Roles ``head`` and ``tail`` (the shared backbone loads as is); ``device_modules()`` is empty;
    the source at the split is the input ``(C, H, W)`` (:attr:`image_shape`). The training graph
    is the backbone on clean inputs (every path): what the link does to them is not trained.
    :attr:`feature_shape` is the backbone's feature at the split (for systems that code it).
    """

    def __init__(self, params: SystemParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        self.image_shape = tuple(ctx.input_shape)

    def device_modules(self) -> list[nn.Module]:
        return []

    def edge_modules(self) -> list[nn.Module]:
        return [self.head, self.tail]

    def split_elements(self) -> int:
        return math.prod(self.image_shape)
