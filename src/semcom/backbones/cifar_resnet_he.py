"""The CIFAR ResNets of He et al. (2016), section 4.2: ResNet-20/32/56/110 (``6n + 2`` layers).

A 3×3 convolution with 16 filters, then three layers of ``n`` basic blocks each (two 3×3 convs)
with 16, 32 and 64 filters on 32×32, 16×16 and 8×8 maps (the first block of layers 2 and 3 has
stride 2), then global average pooling and a linear classifier:

=========  ===  ==========================
name       n    parameters (10 classes)
=========  ===  ==========================
resnet20   3    0.27 M
resnet32   5    0.46 M
resnet56   9    0.85 M
resnet110  18   1.7 M
=========  ===  ==========================

Shortcuts are the paper's option A: the identity, and where a block halves the map and doubles
the width, the input subsampled with stride 2 and zero-padded with the extra channels: no
parameters. Convolutions are initialised as in the paper (He et al. 2015, normal, ``fan_out``).

Stages and split points are those of :func:`semcom.backbones.resnet.cifar_resnet`: ``stem``
(input normalisation inside the model, conv, BN, ReLU), ``layer1.0`` ... ``layer3.<n-1>``,
``head``; ``layerN`` stands for the last block of that layer.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.backbones.base import Normalize, SplitBackbone
from semcom.backbones.resnet import ClassifierHead

#: name → blocks per layer ``n`` (depth ``6n + 2``).
HE_CIFAR_DEPTHS: dict[str, int] = {"resnet20": 3, "resnet32": 5, "resnet56": 9, "resnet110": 18}

#: filters of the three layers.
HE_CIFAR_WIDTHS: tuple[int, int, int] = (16, 32, 64)


class ShortcutA(nn.Module):
    """Option-A shortcut, parameter-free: ``[B, C_in, H, W] → [B, C_out, ceil(H/s), ceil(W/s)]``.

    Keeps every ``stride``-th pixel and appends ``C_out - C_in`` all-zero channels.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        if out_ch < in_ch:
            raise ValueError(f"option-A shortcut cannot narrow {in_ch} to {out_ch} channels")
        self.extra = out_ch - in_ch
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = nn.functional.pad(x, (0, 0, 0, 0, 0, self.extra))
        return x


class OptionABasicBlock(nn.Module):
    """Two 3×3 convs (BN, ReLU) plus an option-A shortcut:
    ``[B, C_in, H, W] → [B, width, H/s, W/s]``."""

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != width:
            self.shortcut = ShortcutA(in_ch, width, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def he_cifar_resnet(
    name: str,
    in_channels: int,
    num_classes: int,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
) -> SplitBackbone:
    """ResNet-20/32/56/110 for 32×32 (or 28×28) images as a :class:`SplitBackbone`.

    Args:
        name: one of ``resnet20``, ``resnet32``, ``resnet56``, ``resnet110``.
        in_channels: image channels ``C`` of the ``[B, C, H, W]`` input in ``[0, 1]``.
        num_classes: output logits ``[B, num_classes]``.
        mean, std: per-channel input normalisation (defaults 0.5 / 0.25, as ``cifar_resnet``).

    >>> net = he_cifar_resnet("resnet20", 3, 10)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 10])
    >>> net.feature_shape("layer2", (3, 32, 32)), net.split_points[-3:]
    ((32, 16, 16), ['layer1', 'layer2', 'layer3'])
    """
    if name not in HE_CIFAR_DEPTHS:
        raise ValueError(
            f"unknown He et al. CIFAR ResNet {name!r}; allowed: {', '.join(HE_CIFAR_DEPTHS)}"
        )
    depth = HE_CIFAR_DEPTHS[name]
    stem_ch = HE_CIFAR_WIDTHS[0]
    stages: list[tuple[str, nn.Module]] = [
        (
            "stem",
            nn.Sequential(
                Normalize(mean or (0.5,) * in_channels, std or (0.25,) * in_channels),
                nn.Conv2d(in_channels, stem_ch, 3, 1, 1, bias=False),
                nn.BatchNorm2d(stem_ch),
                nn.ReLU(inplace=True),
            ),
        )
    ]
    aliases: dict[str, str] = {}
    ch = stem_ch
    for layer_index, width in enumerate(HE_CIFAR_WIDTHS, start=1):
        for block_index in range(depth):
            stride = 2 if (layer_index > 1 and block_index == 0) else 1
            stages.append(
                (f"layer{layer_index}.{block_index}", OptionABasicBlock(ch, width, stride))
            )
            ch = width
        aliases[f"layer{layer_index}"] = f"layer{layer_index}.{depth - 1}"
    stages.append(("head", ClassifierHead(ch, num_classes)))
    net = SplitBackbone(stages, aliases)
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return net
