"""Separate source and channel coding for FFMNet: ``ffmnet-sscc`` (CRC + 5G LDPC + QAM, the
``sscc`` PHY) and ``ffmnet-capacity`` (an ideal code at capacity), each with

* ``source: features`` — the main baseline: the split feature coded by a learned, quantised,
  entropy-coded :class:`~semcom.nn.feature_codec.FeatureCodec` (trained like ``sscc``'s, with the
  FFMNet network frozen or jointly), the longest plane prefix that fits the MCS's byte budget;
  the edge reconstructs the feature and runs the rest of FFMNet;
* ``source: jpeg`` / ``webp`` — the image, coded to fit, and the whole FFMNet at the edge.

Everything but what the edge runs on the decoded source is ``sscc`` / ``capacity`` (the same
classes, PHY, budgets and records). A sample whose source did not fit or was not decoded counts
as an empty prediction (no box, every pixel wrong).
"""

from __future__ import annotations

from typing import Any, cast

import torch

from semcom.systems.ffmnet.family import FFMNetFamily, FFMNetParams
from semcom.systems.registry import register_system
from semcom.systems.separate_coding.baseline import FEATURE_VARIANTS
from semcom.systems.separate_coding.features import FeatureCapacity, FeatureSSCC
from semcom.systems.separate_coding.links import SSCC, CapacityBound
from semcom.systems.separate_coding.params import CapacityParams, SSCCParams

_SMALL = {"width": 8, "head_channels": 32, "head_convs": 1}


class FFMNetSSCCParams(FFMNetParams, SSCCParams):
    """FFMNet's network fields and ``sscc``'s."""


class FFMNetCapacityParams(FFMNetParams, CapacityParams):
    """FFMNet's network fields and ``capacity``'s."""


class _DecodedImage(FFMNetFamily):
    """What the edge runs on a decoded image: the whole FFMNet."""

    def _classify(self, images: list[torch.Tensor | None]) -> tuple[Any, torch.Tensor]:
        """Decoded uint8 images ``[C, H, W]`` (``None``: nothing arrived) → the batched
        multi-task output (mid-grey stand-ins where nothing arrived) and ``valid`` ``[B]``."""
        valid = torch.tensor([img is not None for img in images], dtype=torch.bool)
        grey = cast(Any, self).source.placeholder()
        batch = torch.stack([grey if img is None else img for img in images])
        ref = next(self.parameters())
        return self.infer_local(batch.to(ref.device, torch.float32) / 255.0), valid


class _DecodedFeature(FFMNetFamily):
    """What the edge runs on decoded feature symbols: the feature decoder and FFMNet's tail."""

    def link_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """The feature code's training graph (noisy-quantisation rate, straight-through
        reconstruction, random plane prefixes)."""
        feature_hat, rate = cast(Any, self).codec(feature)
        return feature_hat, rate, {"feature": feature, "feature_hat": feature_hat}

    def _classify(self, decoded: list[torch.Tensor | None]) -> tuple[Any, torch.Tensor]:
        """Decoded symbols (``None``: nothing usable) → the batched multi-task output and
        ``valid`` ``[B]``."""
        valid = torch.tensor([d is not None for d in decoded], dtype=torch.bool)
        me = cast(Any, self)
        empty = me.source.placeholder()
        symbols = torch.stack([empty if d is None else d for d in decoded])
        return self.finish(me.codec.reconstruct(symbols)), valid


@register_system("ffmnet-sscc")
class FFMNetSSCC(_DecodedImage, SSCC):
    """``sscc`` for FFMNet (module docstring)."""

    Params = FFMNetSSCCParams
    params: FFMNetSSCCParams
    transport_kinds = ("phy",)
    contract_params = (
        {"source": "webp", "qam": 16, "ldpc_rate": 0.5, "cbr": 0.1, "bp_iterations": 4, **_SMALL},
        {"source": "features", "qam": 4, "ldpc_rate": 0.5, "cbr": 0.02, "bp_iterations": 4,
         "channels": 2, **_SMALL},
    )  # fmt: skip


class FFMNetFeatureSSCC(_DecodedFeature, FeatureSSCC):
    """``ffmnet-sscc`` with ``source: features``."""

    name = "ffmnet-sscc"

    Params = FFMNetSSCCParams
    params: FFMNetSSCCParams


@register_system("ffmnet-capacity")
class FFMNetCapacity(_DecodedImage, CapacityBound):
    """``capacity`` for FFMNet (module docstring)."""

    Params = FFMNetCapacityParams
    params: FFMNetCapacityParams
    transport_kinds = ("phy",)
    contract_params = (
        {"source": "jpeg", "cbr": 0.1, **_SMALL},
        {"source": "features", "cbr": 0.02, "channels": 2, **_SMALL},
    )


class FFMNetFeatureCapacity(_DecodedFeature, FeatureCapacity):
    """``ffmnet-capacity`` with ``source: features``."""

    name = "ffmnet-capacity"

    Params = FFMNetCapacityParams
    params: FFMNetCapacityParams


FEATURE_VARIANTS[FFMNetSSCC] = FFMNetFeatureSSCC
FEATURE_VARIANTS[FFMNetCapacity] = FFMNetFeatureCapacity
