"""FFMNet's network: a small ResNet trunk, a feature fusion, a detection and a segmentation head,
cut in two at a trunk stage.

Trunk (from scratch; torchvision's :class:`~torchvision.models.resnet.BasicBlock`): ``stem`` (3×3
conv at stride 2 + BN + ReLU, ``width`` planes) → ``layer1`` … ``layer4``, ``blocks`` basic blocks
each, the first at stride 2; planes ``width · (1, 2, 4, 8)``; strides 4, 8, 16, 32. ``C3``, ``C4``,
``C5`` (the outputs of ``layer2``–``layer4``, strides 8–32) feed the fusion
(:mod:`semcom.nn.feature_fusion`: ``fpn``, ``concat`` or ``none``), whose maps (``head_channels``
planes each) feed

* the detection head — FCOS over the three fused maps (:class:`~semcom.nn.fcos_head.FCOSDetector`,
  ``head_convs`` convolutions per tower);
* the segmentation head — on the finest fused map (stride 8): 3×3 conv + BN + ReLU → 1×1 conv to
  the classes → bilinear upsampling to the input size: logits ``[B, K, H, W]``.

:class:`MultiTaskNetwork` holds the pieces; ``split(after)`` gives the device part (input
normalisation and the trunk up to ``after``: ``layer1`` or ``layer2``) and the edge part
(:class:`EdgeTail`: the rest of the trunk, the fusion and the heads). Splitting later than
``layer2`` would leave ``C3`` on the device, which the fusion needs, so it is refused. Inputs must
be multiples of 32 in both sides (the stride of ``C5``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torchvision.models.resnet import BasicBlock

from semcom.backbones.base import Normalize
from semcom.nn.fcos_head import FCOSDetector
from semcom.nn.feature_fusion import build_fusion
from semcom.systems.ffmnet.names import DETECTION, SEGMENTATION, SPLIT_POINTS, STAGES


def _stage(c_in: int, c_out: int, blocks: int) -> nn.Sequential:
    """``blocks`` basic blocks, the first at stride 2 (with a 1×1 projection shortcut)."""
    down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=2, bias=False), nn.BatchNorm2d(c_out))
    layers: list[nn.Module] = [BasicBlock(c_in, c_out, stride=2, downsample=down)]
    layers += [BasicBlock(c_out, c_out) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def trunk_stages(in_channels: int, width: int, blocks: int) -> list[tuple[str, nn.Module]]:
    """The trunk's named stages (module docstring)."""
    planes = [width, width, 2 * width, 4 * width, 8 * width]
    stem = nn.Sequential(
        nn.Conv2d(in_channels, width, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
    )
    out: list[tuple[str, nn.Module]] = [("stem", stem)]
    for i in range(1, 5):
        out.append((f"layer{i}", _stage(planes[i - 1], planes[i], blocks)))
    return out


def stage_planes(width: int, stage: str) -> int:
    """Planes of the trunk's output after ``stage``."""
    return width * {"stem": 1, "layer1": 1, "layer2": 2, "layer3": 4, "layer4": 8}[stage]


class SegmentationHead(nn.Module):
    """Finest fused map ``[B, D, h, w]`` → logits ``[B, K, H, W]`` at the input size."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, num_classes, 1),
        )

    def forward(self, feature: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
        return nn.functional.interpolate(
            self.body(feature), size=image_size, mode="bilinear", align_corners=False
        )


class EdgeTail(nn.Module):
    """The edge part: trunk stages after the split, the fusion and the heads.

    ``forward(feature, image_size, targets=None)``: the split feature ``[B, C, h, w]`` → a dict
    over the heads built (``detection``: the FCOS loss terms when ``targets`` are given, else one
    ``{"boxes", "scores", "labels"}`` dict per image; ``segmentation``: logits ``[B, K, H, W]``).
    ``targets`` is the multi-task target dict (its ``detection`` entry is read).
    """

    def __init__(
        self,
        stages: Sequence[tuple[str, nn.Module]],
        fusion: nn.Module,
        detection: FCOSDetector | None,
        segmentation: SegmentationHead | None,
    ) -> None:
        super().__init__()
        self.stage_names = [n for n, _ in stages]
        self.stages = nn.ModuleDict(dict(stages))
        self.fusion = fusion
        self.detection = detection
        self.segmentation = segmentation

    def forward(
        self,
        feature: torch.Tensor,
        image_size: tuple[int, int],
        targets: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        maps = {"split": feature}
        x = feature
        for name in self.stage_names:
            x = self.stages[name](x)
            maps[name] = x
        c3 = maps.get("layer2", feature)
        fused = self.fusion([c3, maps["layer3"], maps["layer4"]])
        out: dict[str, Any] = {}
        if self.detection is not None:
            given = targets[DETECTION] if targets is not None else None
            out[DETECTION] = self.detection(fused, image_size, given)
        if self.segmentation is not None:
            out[SEGMENTATION] = self.segmentation(fused[0], image_size)
        return out


class MultiTaskNetwork(nn.Module):
    """Trunk + fusion + heads (module docstring).

    Args:
        in_channels: input planes.
        detection_classes, segmentation_classes: classes of each head; ``0`` leaves the head out
            (single-task networks).
        width: the trunk's first planes (64 channels at ``C3`` for ``width = 32``).
        blocks: basic blocks per trunk stage.
        fusion: ``fpn``, ``concat`` or ``none``.
        head_channels: planes of the fused maps and of both heads (a multiple of 32).
        head_convs: convolutions in each FCOS tower.
        score_thresh: lowest detection score kept.
    """

    def __init__(
        self,
        in_channels: int,
        detection_classes: int,
        segmentation_classes: int,
        *,
        width: int = 32,
        blocks: int = 1,
        fusion: str = "fpn",
        head_channels: int = 64,
        head_convs: int = 2,
        score_thresh: float = 0.05,
    ) -> None:
        super().__init__()
        if not (detection_classes or segmentation_classes):
            raise ValueError("a multi-task network needs at least one head")
        mean = (0.485, 0.456, 0.406) if in_channels == 3 else (0.5,) * in_channels
        std = (0.229, 0.224, 0.225) if in_channels == 3 else (0.25,) * in_channels
        self.normalize = Normalize(mean, std)
        self.trunk = nn.ModuleDict(dict(trunk_stages(in_channels, width, blocks)))
        self.width = width
        levels = [stage_planes(width, s) for s in ("layer2", "layer3", "layer4")]
        self.fusion = build_fusion(fusion, levels, head_channels)
        self.detection = (
            FCOSDetector(
                head_channels,
                detection_classes,
                num_convs=head_convs,
                score_thresh=score_thresh,
            )
            if detection_classes
            else None
        )
        self.segmentation = (
            SegmentationHead(head_channels, segmentation_classes) if segmentation_classes else None
        )

    def split(self, after: str) -> tuple[nn.Module, EdgeTail]:
        """``(device part, edge part)`` cut after trunk stage ``after`` (``layer1`` or
        ``layer2``); the parts share this network's modules."""
        if after not in SPLIT_POINTS:
            raise ValueError(
                f"split_after must be one of {', '.join(SPLIT_POINTS)} (the fusion needs the "
                f"stride-8 map at the edge), got {after!r}"
            )
        cut = STAGES.index(after) + 1
        head = nn.Sequential(self.normalize, *(self.trunk[s] for s in STAGES[:cut]))
        tail = EdgeTail(
            [(s, self.trunk[s]) for s in STAGES[cut:]],
            self.fusion,
            self.detection,
            self.segmentation,
        )
        return head, tail

    def split_shape(self, after: str, image_size: tuple[int, int]) -> tuple[int, int, int]:
        """Shape ``(C, h, w)`` of one sample's feature after ``after`` for inputs of
        ``image_size``."""
        stride = 2 ** (STAGES.index(after) + 1)
        h, w = image_size
        return (stage_planes(self.width, after), h // stride, w // stride)
