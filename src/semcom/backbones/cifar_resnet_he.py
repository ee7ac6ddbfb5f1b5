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

from semcom.backbones.base import SplitBackbone
from semcom.backbones.resnet import BasicBlock, resnet_stages

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


class OptionABasicBlock(BasicBlock):
    """A :class:`~semcom.backbones.resnet.BasicBlock` whose shortcut is the paper's option A
    (:class:`ShortcutA`, no parameters): ``[B, C_in, H, W] → [B, width, H/s, W/s]``."""

    @staticmethod
    def projection(in_ch: int, out_ch: int, stride: int) -> nn.Module:
        return ShortcutA(in_ch, out_ch, stride)


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
    net = resnet_stages(
        OptionABasicBlock, (depth,) * 3, HE_CIFAR_WIDTHS, in_channels, num_classes, mean, std
    )
    for module in net.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
    return net
