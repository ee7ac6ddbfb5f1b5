"""Splittable backbones. ``build_backbone(name, in_channels, num_classes)`` by name.

>>> sorted(BACKBONES)
['resnet-small', 'resnet18', 'resnet50', 'resnet50-imagenet']
"""

from __future__ import annotations

from collections.abc import Callable

from semcom.backbones.base import Normalize, SplitBackbone
from semcom.backbones.resnet import cifar_resnet, torchvision_resnet50
from semcom.backbones.weights import BackboneWeightsError, load_backbone_weights, weights_help

BACKBONES: dict[str, Callable[[int, int], SplitBackbone]] = {
    "resnet-small": lambda c, k: cifar_resnet("resnet-small", c, k),
    "resnet18": lambda c, k: cifar_resnet("resnet18", c, k),
    "resnet50": lambda c, k: cifar_resnet("resnet50", c, k),
    "resnet50-imagenet": torchvision_resnet50,
}


def build_backbone(name: str, in_channels: int, num_classes: int) -> SplitBackbone:
    """Build backbone ``name`` for ``in_channels``-channel images and ``num_classes`` classes."""
    if name not in BACKBONES:
        raise ValueError(f"backbone.name={name!r} is unknown; allowed: {', '.join(BACKBONES)}")
    return BACKBONES[name](in_channels, num_classes)


__all__ = [
    "BACKBONES",
    "BackboneWeightsError",
    "Normalize",
    "SplitBackbone",
    "build_backbone",
    "cifar_resnet",
    "load_backbone_weights",
    "weights_help",
]
