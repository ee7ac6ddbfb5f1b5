"""The unsplit networks compared in the FFMNet experiment: ``ffmnet`` (the multi-task network
whole on one side, the reference every FFMNet split is measured against), ``det-only`` and
``seg-only`` (the same trunk, fusion and head with one task) and ``mtl-hardshare`` (the same trunk
and heads with no fusion: ``fusion: none``, the same parameters as ``fpn``). Nothing crosses a
link; ``local``'s accounting (device cost = the whole network)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from semcom.systems.ffmnet.family import FFMNetFamily, FFMNetParams
from semcom.systems.ffmnet.names import DETECTION, SEGMENTATION
from semcom.systems.local import UnsplitOnDevice
from semcom.systems.registry import register_system

_SMALL = {"width": 8, "head_channels": 32, "head_convs": 1}


class _Unsplit(FFMNetFamily, UnsplitOnDevice):
    contract_params: ClassVar[tuple[dict[str, Any], ...]] = (_SMALL,)


@register_system("ffmnet")
class FFMNet(_Unsplit):
    """FFMNet unsplit: detection + segmentation."""

    contract_params = (_SMALL, {**_SMALL, "fusion": "concat"})


@register_system("det-only")
class DetectionOnly(_Unsplit):
    """The network with the detection head only."""

    TASKS = (DETECTION,)


@register_system("seg-only")
class SegmentationOnly(_Unsplit):
    """The network with the segmentation head only."""

    TASKS = (SEGMENTATION,)


class HardShareParams(FFMNetParams):
    """``mtl-hardshare``: FFMNet's fields with the fusion fixed to ``none``."""

    fusion: Literal["none"] = Field("none", description="hard sharing: no fusion")


@register_system("mtl-hardshare")
class HardSharing(_Unsplit):
    """Shared trunk, separate heads, no fusion."""

    Params = HardShareParams
