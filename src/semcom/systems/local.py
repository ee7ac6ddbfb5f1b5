"""``local``: the whole, unsplit model runs on the device; nothing crosses the link.

The reference every split system is measured against: its accuracy is the backbone's, its device
cost is the whole network's, and its latency is compute only.
"""

from __future__ import annotations

import math

from torch import nn

from semcom.systems.backbone_split import BackboneSplitSystem
from semcom.systems.base import SystemParams
from semcom.systems.registry import register_system
from semcom.transports import NoTransport, Transport


class LocalParams(SystemParams):
    """``local`` has no parameters."""


class UnsplitOnDevice(BackboneSplitSystem):
    """The whole network on the device, nothing on a link: no transport, every module on the
    device, and the input's element count as the (unsplit) source size."""

    transport_kinds = ("none",)

    def make_transport(self) -> Transport:
        return NoTransport()

    def device_modules(self) -> list[nn.Module]:
        return [self.head, self.tail]

    def edge_modules(self) -> list[nn.Module]:
        return []

    def split_elements(self) -> int:
        """Nothing is split: the input's element count."""
        return math.prod(self.ctx.input_shape)


@register_system("local")
class LocalInference(UnsplitOnDevice):
    """Backbone head and tail both on the device; ``[B, C, H, W] → [B, K]``."""

    Params = LocalParams
