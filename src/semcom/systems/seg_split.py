"""``seg-split``: semantic segmentation over a digital link — the quantised split of a small
fully-convolutional segmenter.

Device: two 3×3 conv + BN + ReLU layers (the first at stride 2) → the ``quantized-split`` code
(1×1 conv to ``channels`` planes → sigmoid → ``bits``-bit quantiser → factorised entropy model →
ANS bytes). Edge: ANS decode → dequantise → 1×1 conv back to ``width`` planes → 3×3 conv → ×2
bilinear upsampling → 3×3 conv → per-pixel class logits ``[B, K, H, W]``. Trained with per-pixel
cross-entropy (mask value 255 ignored) from scratch: the network is its own, not the
experiment's classifier backbone. A small, honest digital segmentation system whose records
carry ``miou`` and ``pixel_accuracy`` like any other.
"""

from __future__ import annotations

from pydantic import Field
from torch import nn

from semcom.data.info import TaskSpec
from semcom.systems.quantized_split import QuantizedSplit, QuantizedSplitParams
from semcom.systems.registry import SystemConfigError, register_system
from semcom.tasks import Task, build_task


class SegSplitParams(QuantizedSplitParams):
    """Parameters of ``seg-split``: those of ``quantized-split`` and the network's width."""

    width: int = Field(16, ge=1, le=512, description="planes of the segmenter's layers")


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    """A 3×3 convolution, batch norm and ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


@register_system("seg-split")
class SegSplit(QuantizedSplit):
    """See the module docstring. Input ``[B, C, H, W]`` in ``[0, 1]`` (even ``H``, ``W``) →
    logits ``[B, K, H, W]``."""

    Params = SegSplitParams
    params: SegSplitParams
    shares_backbone = False  # its network is its own
    contract_params = ({"channels": 4, "bits": 2, "width": 8},)

    def make_task(self) -> Task:
        return build_task(TaskSpec("segmentation", self.ctx.num_classes))

    def build_network(self) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
        if len(self.ctx.input_shape) != 3:
            raise SystemConfigError(
                f"seg-split takes images (C, H, W); the inputs are {list(self.ctx.input_shape)}"
            )
        c, (h, w) = self.ctx.in_channels, self.ctx.image_size
        if h % 2 or w % 2:
            raise SystemConfigError(f"seg-split needs an even input size, got {h}x{w}")
        width = self.params.width
        head = nn.Sequential(*conv_bn_relu(c, width, 2), *conv_bn_relu(width, width))
        tail = nn.Sequential(
            *conv_bn_relu(width, width),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            *conv_bn_relu(width, width),
            nn.Conv2d(width, self.ctx.num_classes, 1),
        )
        return head, tail, (width, h // 2, w // 2)
