"""Splittable backbones. ``build_backbone(name, in_channels, num_classes)`` by name.

CIFAR-style ResNets (``resnet-small``, ``resnet18``, ``resnet50``; He et al.'s ``resnet20`` /
``32`` / ``56`` / ``110``), torchvision's ResNet-50 re-cut into stages (``resnet50-imagenet``),
small video ViTs for clips (``video-vit``, ``video-vit-tiny``, the per-frame control
``frame-vit-16``), and any torchvision classification model as ``tv:<name>`` (``tv:resnet18``,
``tv:vit_b_16``),
split at a graph node.

>>> print(", ".join(name for name in sorted(BACKBONES) if not name.startswith("tv:")))
... # doctest: +NORMALIZE_WHITESPACE
frame-vit-16, resnet-small, resnet110, resnet18, resnet20, resnet32, resnet50, resnet50-imagenet,
resnet56, video-vit, video-vit-tiny
>>> {"tv:resnet18", "tv:mobilenet_v3_small", "tv:vit_b_16"} <= set(BACKBONES)
True
>>> build_backbone("resnet20", 3, 10).feature_shape("layer3", (3, 32, 32))
(64, 8, 8)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from semcom.backbones.base import Normalize, SplitBackbone
from semcom.backbones.cifar_resnet_he import HE_CIFAR_DEPTHS, he_cifar_resnet
from semcom.backbones.resnet import cifar_resnet, torchvision_resnet50
from semcom.backbones.video_vit import video_vit
from semcom.backbones.weights import BackboneWeightsError, load_backbone_weights, weights_help

if TYPE_CHECKING:
    from semcom.backbones.torchvision_split import TorchvisionSplitBackbone

#: examples shown where a ``tv:`` name is expected.
TV_EXAMPLES = ("tv:resnet18", "tv:resnet50", "tv:mobilenet_v3_small", "tv:efficientnet_b0",
               "tv:vit_b_16")  # fmt: skip

Builder = Callable[[int, int], SplitBackbone]


def _he_builder(name: str) -> Builder:
    return lambda c, k: he_cifar_resnet(name, c, k)


#: the backbones defined here (no torchvision import needed to build or list them).
OWN_BACKBONES: dict[str, Builder] = {
    "resnet-small": lambda c, k: cifar_resnet("resnet-small", c, k),
    "resnet18": lambda c, k: cifar_resnet("resnet18", c, k),
    "resnet50": lambda c, k: cifar_resnet("resnet50", c, k),
    "resnet50-imagenet": torchvision_resnet50,
    **{name: _he_builder(name) for name in HE_CIFAR_DEPTHS},
    "video-vit": video_vit,
    "video-vit-tiny": lambda c, k: video_vit(c, k, width=16, dim=64, depth=2, heads=2),
    "frame-vit-16": lambda c, k: video_vit(c, k, frames=16),
}


class _Backbones(Mapping[str, Builder]):
    """Every backbone by name: :data:`OWN_BACKBONES`, then ``tv:<name>`` for each torchvision
    classification model. torchvision's model registry (whose import pulls in
    ``torchvision.ops`` and ``torch._dynamo``, about a second) is read only when a ``tv:`` name
    is looked up or the names are listed."""

    _listed: dict[str, Builder] | None = None

    def _tv(self) -> dict[str, Builder]:
        if self._listed is None:
            from semcom.backbones.torchvision_split import torchvision_builders

            self._listed = torchvision_builders()
        return self._listed

    def __getitem__(self, name: str) -> Builder:
        if name in OWN_BACKBONES:
            return OWN_BACKBONES[name]
        if name.startswith("tv:"):
            return self._tv()[name]
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        if name in OWN_BACKBONES:
            return True
        return isinstance(name, str) and name.startswith("tv:") and name in self._tv()

    def __iter__(self) -> Iterator[str]:
        yield from OWN_BACKBONES
        yield from self._tv()

    def __len__(self) -> int:
        return len(OWN_BACKBONES) + len(self._tv())


BACKBONES: Mapping[str, Builder] = _Backbones()


def torchvision_backbone(name: str, in_channels: int, num_classes: int) -> TorchvisionSplitBackbone:
    """torchvision's classification model ``name`` cut at graph nodes
    (:mod:`semcom.backbones.torchvision_split`, imported on first use)."""
    from semcom.backbones.torchvision_split import torchvision_backbone as build

    return build(name, in_channels, num_classes)


def build_backbone(name: str, in_channels: int, num_classes: int) -> SplitBackbone:
    """Build backbone ``name`` for ``in_channels``-channel images and ``num_classes`` classes.

    ``tv:<name>`` builds any torchvision classification model (its own error lists the names).
    """
    if name in OWN_BACKBONES:
        return OWN_BACKBONES[name](in_channels, num_classes)
    if name.startswith("tv:"):
        return torchvision_backbone(name[3:], in_channels, num_classes)
    raise ValueError(
        f"backbone.name={name!r} is unknown; allowed: {', '.join(OWN_BACKBONES)}, or "
        f"tv:<any torchvision classification model> (e.g. {', '.join(TV_EXAMPLES)})"
    )


def __getattr__(name: str) -> Any:
    if name == "TorchvisionSplitBackbone":  # the class, without importing torchvision early
        from semcom.backbones.torchvision_split import TorchvisionSplitBackbone

        return TorchvisionSplitBackbone
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BACKBONES",
    "BackboneWeightsError",
    "Normalize",
    "SplitBackbone",
    "OWN_BACKBONES",
    "TorchvisionSplitBackbone",
    "build_backbone",
    "cifar_resnet",
    "he_cifar_resnet",
    "load_backbone_weights",
    "torchvision_backbone",
    "weights_help",
]
