"""ResNets as :class:`SplitBackbone` s: CIFAR-style (3×3 stem, no max-pool) and torchvision's.

Stages are ``stem``, then one stage per residual block (``layer2.1`` is the second block of
``layer2``), then ``head`` (global average pool + linear). ``layerN`` is accepted as an alias for
the last block of that layer, so ``split_after: layer2`` means "after the whole of layer2".

CIFAR-style variants (for 28×28 and 32×32 inputs):

=============  ===================  =============  =========
name           block                blocks/layer   widths
=============  ===================  =============  =========
resnet-small   basic                1, 1, 1        16, 32, 64
resnet18       basic                2, 2, 2, 2     64, 128, 256, 512
resnet50       bottleneck (×4)      3, 4, 6, 3     64, 128, 256, 512
=============  ===================  =============  =========

``resnet50-imagenet`` is torchvision's ResNet-50 (7×7 stem with max-pool) for ImageNet-size
input, re-cut into the same stage names. Weights are never downloaded: pass a local checkpoint.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.backbones.base import Normalize, SplitBackbone


class BasicBlock(nn.Module):
    """Two 3×3 convs with a residual connection; ``[B, C_in, H, W] → [B, C_out, H/s, W/s]``."""

    expansion = 1

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = self.projection(in_ch, out_ch, stride)

    @staticmethod
    def projection(in_ch: int, out_ch: int, stride: int) -> nn.Module:
        """The shortcut where the shape changes: 1×1 conv + BN (option B)."""
        return nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class BottleneckBlock(nn.Module):
    """1×1 → 3×3 → 1×1 (×4 expansion) residual block."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + self.shortcut(x))


class ClassifierHead(nn.Module):
    """Global average pool + linear: ``[B, C, H, W] → [B, num_classes]``."""

    def __init__(self, in_ch: int, num_classes: int) -> None:
        super().__init__()
        self.fc = nn.Linear(in_ch, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


CIFAR_VARIANTS: dict[str, tuple[type[nn.Module], tuple[int, ...], tuple[int, ...]]] = {
    "resnet-small": (BasicBlock, (1, 1, 1), (16, 32, 64)),
    "resnet18": (BasicBlock, (2, 2, 2, 2), (64, 128, 256, 512)),
    "resnet50": (BottleneckBlock, (3, 4, 6, 3), (64, 128, 256, 512)),
}


def cifar_resnet(
    name: str,
    in_channels: int,
    num_classes: int,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> SplitBackbone:
    """A CIFAR-style ResNet (3×3 stem, stride 1, no max-pool) as a :class:`SplitBackbone`.

    Args:
        name: one of ``resnet-small``, ``resnet18``, ``resnet50``.
        in_channels: image channels (1 for Fashion-MNIST, 3 for CIFAR-10).
        num_classes: output logits.
        mean, std: per-channel input normalisation (defaults 0.5 / 0.25).

    >>> net = cifar_resnet("resnet-small", 1, 10)
    >>> net(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> net.feature_shape("layer2", (1, 28, 28))
    (32, 14, 14)
    """
    if name not in CIFAR_VARIANTS:
        raise ValueError(
            f"unknown CIFAR-style ResNet {name!r}; allowed: {', '.join(CIFAR_VARIANTS)}"
        )
    block, depths, widths = CIFAR_VARIANTS[name]
    return resnet_stages(block, depths, widths, in_channels, num_classes, mean, std)


def resnet_stages(
    block: type[nn.Module],
    depths: tuple[int, ...],
    widths: tuple[int, ...],
    in_channels: int,
    num_classes: int,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> SplitBackbone:
    """A CIFAR-style ResNet of ``block`` s: the ``stem`` (normalisation, 3×3 conv to
    ``widths[0]``, BN, ReLU), ``depths[i]`` blocks of ``widths[i]`` per layer (the first block of
    every layer after the first at stride 2), named ``layer<i>.<j>`` with ``layer<i>`` aliases,
    and the ``head`` (global average pool + linear)."""
    mean = mean or (0.5,) * in_channels
    std = std or (0.25,) * in_channels
    stem_ch = widths[0]
    stages: list[tuple[str, nn.Module]] = [
        (
            "stem",
            nn.Sequential(
                Normalize(mean, std),
                nn.Conv2d(in_channels, stem_ch, 3, 1, 1, bias=False),
                nn.BatchNorm2d(stem_ch),
                nn.ReLU(inplace=True),
            ),
        )
    ]
    aliases: dict[str, str] = {}
    ch = stem_ch
    for layer_index, (depth, width) in enumerate(zip(depths, widths, strict=True), start=1):
        for block_index in range(depth):
            stride = 2 if (layer_index > 1 and block_index == 0) else 1
            blk = block(ch, width, stride)
            ch = width * block.expansion  # type: ignore[attr-defined]
            stages.append((f"layer{layer_index}.{block_index}", blk))
        aliases[f"layer{layer_index}"] = f"layer{layer_index}.{depth - 1}"
    stages.append(("head", ClassifierHead(ch, num_classes)))
    return SplitBackbone(stages, aliases)


def torchvision_resnet50(in_channels: int, num_classes: int) -> SplitBackbone:
    """torchvision's ResNet-50 (random init; load weights from a local file) cut into stages.

    ImageNet normalisation is applied inside the ``stem`` stage.
    """
    import torchvision  # its models pull in torchvision.ops (and torch._dynamo): when used

    if in_channels != 3:
        raise ValueError(f"resnet50-imagenet takes 3-channel images (data has {in_channels})")
    net = torchvision.models.resnet50(weights=None, num_classes=num_classes)
    stages: list[tuple[str, nn.Module]] = [
        (
            "stem",
            nn.Sequential(
                Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
                net.conv1,
                net.bn1,
                net.relu,
                net.maxpool,
            ),
        )
    ]
    aliases: dict[str, str] = {}
    for layer_index in range(1, 5):
        layer = getattr(net, f"layer{layer_index}")
        for block_index, blk in enumerate(layer):
            stages.append((f"layer{layer_index}.{block_index}", blk))
        aliases[f"layer{layer_index}"] = f"layer{layer_index}.{len(layer) - 1}"
    stages.append(("head", nn.Sequential(net.avgpool, nn.Flatten(1), net.fc)))
    return SplitBackbone(stages, aliases)
