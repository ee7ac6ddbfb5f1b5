"""Splittable backbones. ``build_backbone(name, in_channels, num_classes)`` by name.

CIFAR-style ResNets (``resnet-small``, ``resnet18``, ``resnet50``; He et al.'s ``resnet20`` /
``32`` / ``56`` / ``110``), torchvision's ResNet-50 re-cut into stages (``resnet50-imagenet``),
and any torchvision classification model as ``tv:<name>`` (``tv:resnet18``, ``tv:vit_b_16``),
split at a graph node.

>>> print(", ".join(name for name in sorted(BACKBONES) if not name.startswith("tv:")))
resnet-small, resnet110, resnet18, resnet20, resnet32, resnet50, resnet50-imagenet, resnet56
>>> {"tv:resnet18", "tv:mobilenet_v3_small", "tv:vit_b_16"} <= set(BACKBONES)
True
>>> build_backbone("resnet20", 3, 10).feature_shape("layer3", (3, 32, 32))
(64, 8, 8)
"""

from __future__ import annotations

from collections.abc import Callable

from semcom.backbones.base import Normalize, SplitBackbone
from semcom.backbones.cifar_resnet_he import HE_CIFAR_DEPTHS, he_cifar_resnet
from semcom.backbones.resnet import cifar_resnet, torchvision_resnet50
from semcom.backbones.torchvision_split import (
    EXAMPLES,
    TorchvisionSplitBackbone,
    torchvision_backbone,
    torchvision_builders,
)
from semcom.backbones.weights import BackboneWeightsError, load_backbone_weights, weights_help


def _he_builder(name: str) -> Callable[[int, int], SplitBackbone]:
    return lambda c, k: he_cifar_resnet(name, c, k)


BACKBONES: dict[str, Callable[[int, int], SplitBackbone]] = {
    "resnet-small": lambda c, k: cifar_resnet("resnet-small", c, k),
    "resnet18": lambda c, k: cifar_resnet("resnet18", c, k),
    "resnet50": lambda c, k: cifar_resnet("resnet50", c, k),
    "resnet50-imagenet": torchvision_resnet50,
    **{name: _he_builder(name) for name in HE_CIFAR_DEPTHS},
    **torchvision_builders(),
}


def build_backbone(name: str, in_channels: int, num_classes: int) -> SplitBackbone:
    """Build backbone ``name`` for ``in_channels``-channel images and ``num_classes`` classes.

    ``tv:<name>`` builds any torchvision classification model, also one not listed in
    :data:`BACKBONES` when it was imported.
    """
    if name in BACKBONES:
        return BACKBONES[name](in_channels, num_classes)
    if name.startswith("tv:"):
        return torchvision_backbone(name[3:], in_channels, num_classes)
    own = [n for n in BACKBONES if not n.startswith("tv:")]
    raise ValueError(
        f"backbone.name={name!r} is unknown; allowed: {', '.join(own)}, or "
        f"tv:<any torchvision classification model> (e.g. {', '.join(EXAMPLES)})"
    )


__all__ = [
    "BACKBONES",
    "BackboneWeightsError",
    "Normalize",
    "SplitBackbone",
    "TorchvisionSplitBackbone",
    "build_backbone",
    "cifar_resnet",
    "he_cifar_resnet",
    "load_backbone_weights",
    "torchvision_backbone",
    "weights_help",
]
