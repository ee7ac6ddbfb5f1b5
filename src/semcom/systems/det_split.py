"""``det-split``: object detection over a digital link — the quantised split of a small FCOS
detector.

Device: two 3×3 conv + BN + ReLU layers at stride 2 each → the ``quantized-split`` code (1×1 conv
to ``channels`` planes → sigmoid → ``bits``-bit quantiser → factorised entropy model → ANS bytes).
Edge: ANS decode → dequantise → 1×1 conv back to ``width`` planes → an anchor-free FCOS head at
stride 4 (:class:`~semcom.nn.fcos_head.SingleLevelFCOS`: torchvision's head, matching, losses and
post-processing). In training the system is given the targets and returns torchvision's loss
terms (``classification``, ``bbox_regression``, ``bbox_ctrness``), which the detection task sums;
at evaluation it returns boxes, scores and labels per image, scored by mAP. Trained from scratch.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from semcom.data.info import TaskSpec
from semcom.systems.base import SystemOutput
from semcom.systems.quantized_split import QuantizedSplit, QuantizedSplitParams
from semcom.systems.registry import SystemConfigError, register_system
from semcom.systems.seg_split import conv_bn_relu
from semcom.tasks import Task, build_task


class DetSplitParams(QuantizedSplitParams):
    """Parameters of ``det-split``: those of ``quantized-split``, the network's width and the
    detection head's depth."""

    width: int = Field(
        32,
        ge=32,
        le=512,
        multiple_of=32,
        description="planes of the detector's layers (a multiple of 32: the FCOS group norm)",
    )
    head_convs: int = Field(2, ge=1, le=4, description="convolutions in each FCOS tower")
    score_thresh: float = Field(0.05, ge=0, lt=1, description="lowest score kept")


@register_system("det-split")
class DetSplit(QuantizedSplit):
    """See the module docstring. Input ``[B, C, H, W]`` in ``[0, 1]`` (``H``, ``W`` multiples of
    4) → a list of ``{"boxes", "scores", "labels"}`` (or the loss terms in training)."""

    Params = DetSplitParams
    params: DetSplitParams
    wants_targets = True
    shares_backbone = False  # its network is its own
    contract_params = ({"channels": 4, "bits": 2, "width": 32, "head_convs": 1},)

    def make_task(self) -> Task:
        names = self.ctx.task.classes
        names = names if len(names) == self.ctx.num_classes else ()
        return build_task(TaskSpec("detection", self.ctx.num_classes, names))

    def build_network(self) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
        if len(self.ctx.input_shape) != 3:
            raise SystemConfigError(
                f"det-split takes images (C, H, W); the inputs are {list(self.ctx.input_shape)}"
            )
        c, (h, w) = self.ctx.in_channels, self.ctx.image_size
        if h % 4 or w % 4:
            raise SystemConfigError(f"det-split needs an input size divisible by 4, got {h}x{w}")
        from semcom.nn.fcos_head import SingleLevelFCOS  # torchvision.ops: imported when used

        width = self.params.width
        head = nn.Sequential(*conv_bn_relu(c, width, 2), *conv_bn_relu(width, width, 2))
        tail = SingleLevelFCOS(
            width,
            self.task.num_classes,
            num_convs=self.params.head_convs,
            score_thresh=self.params.score_thresh,
        )
        return head, tail, (width, h // 4, w // 4)

    def finish(self, feature_hat: torch.Tensor) -> Any:
        return self.tail(feature_hat, self.ctx.image_size)

    def forward(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor | None = None,
        path: str = "full",
        targets: list[dict[str, torch.Tensor]] | None = None,
    ) -> SystemOutput:
        """Detections, or with ``targets`` in training mode the loss terms; ``bypass`` skips the
        code."""
        self.check_path(path)
        feature = self.head(x)
        rate = None
        extras: dict[str, torch.Tensor] = {}
        feature_hat = feature
        if path != "bypass":
            feature_hat, rate = self.coded(feature)
            extras = {"feature": feature, "feature_hat": feature_hat}
        given = targets if self.training else None
        return SystemOutput(self.tail(feature_hat, self.ctx.image_size, given), rate, extras)
