"""``ffmnet-digital``: FFMNet's digital split — the ``quantized-split`` code on its split feature.

Device: FFMNet up to ``backbone.split_after`` → 1×1 conv to ``channels`` planes → sigmoid →
``bits``-bit quantiser → factorised entropy model → ANS bytes (a real, bit-exact payload). Edge:
ANS decode → dequantise → 1×1 conv + BN + ReLU back to the split's planes → the rest of FFMNet →
boxes and a mask. The ratio is the float32 split feature's bits over the payload's bits, header
included. Served by ``semcom serve`` like any payload system.
"""

from __future__ import annotations

import torch

from semcom.systems.ffmnet.family import FFMNetFamily, FFMNetParams
from semcom.systems.quantized_split import QuantizedSplit, QuantizedSplitParams
from semcom.systems.registry import register_system


class FFMNetDigitalParams(FFMNetParams, QuantizedSplitParams):
    """FFMNet's network fields and the code's (``channels``, ``bits``, ``lambda``)."""


@register_system("ffmnet-digital")
class FFMNetDigital(FFMNetFamily, QuantizedSplit):
    """See the module docstring."""

    Params = FFMNetDigitalParams
    params: FFMNetDigitalParams
    contract_params = (
        {"channels": 2, "bits": 2, "width": 8, "head_channels": 32, "head_convs": 1},
    )

    def link_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, torch.Tensor]]:
        """The code's training graph: straight-through reconstruction and estimated bits."""
        feature_hat, rate = self.coded(feature)
        return feature_hat, rate, {"feature": feature, "feature_hat": feature_hat}
