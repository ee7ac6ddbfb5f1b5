"""``ffmnet-jscc``: FFMNet split across an analog link by deep joint source-channel coding, after
Wang et al., "Deep Joint Source-Channel Coding for Multi-Task Network" (IEEE SPL 2021).

Device: FFMNet up to ``backbone.split_after`` → :class:`~semcom.nn.feature_jscc.FeatureJSCCEncoder`
(``channels`` planes at ``1 / downsample`` of the split's positions, told the SNR) → complex
symbols, unit power per sample (:class:`~semcom.nn.jscc.JSCCLink`). Channel: AWGN, or block
Rayleigh with perfect CSI (zero-forcing) or without CSI. Edge:
:class:`~semcom.nn.feature_jscc.FeatureJSCCDecoder` (told the SNR) → the rest of FFMNet → boxes and
a mask.

Training draws one SNR per sample, uniformly over ``train_snr_db`` (or takes the stage's), through
the link channel ``channel``. The paper's stages map onto the experiment's: the multi-task network
(``train.backbone`` with ``backbone.reference: ffmnet``), the codec alone with the network frozen
(``trainable: [encoder, decoder]``, losses ``task`` + ``feature``), then everything together.

Ratio (analog): the split feature's real elements per complex channel use; ``cbr`` is channel uses
per input element.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from pydantic import Field

from semcom import sharded_batch
from semcom.channels import as_per_sample_snr
from semcom.nn.feature_jscc import FeatureJSCCDecoder, FeatureJSCCEncoder
from semcom.nn.jscc import JSCCLink
from semcom.systems.backbone_split import EncoderDecoderSplit
from semcom.systems.ffmnet.family import FFMNetFamily, FFMNetParams
from semcom.systems.registry import SystemConfigError, register_system
from semcom.transports import AnalogTransport, Transport


class FFMNetJSCCParams(FFMNetParams):
    """FFMNet's network fields and the JSCC code's."""

    channels: int = Field(4, ge=1, le=256, description="real planes of the code")
    downsample: Literal[1, 2, 4] = Field(2, description="spatial reduction of the code")
    snr_adaptive: bool = Field(True, description="SNR-adaptive gates in encoder and decoder")
    channel: Literal["awgn", "rayleigh", "rayleigh-nocsi"] = Field(
        "awgn", description="the training link's channel"
    )
    train_snr_db: tuple[float, float] = Field(
        (0.0, 20.0), description="training SNR range (dB) when a stage gives none"
    )


@register_system("ffmnet-jscc")
class FFMNetJSCC(FFMNetFamily, EncoderDecoderSplit):
    """See the module docstring."""

    Params = FFMNetJSCCParams
    params: FFMNetJSCCParams
    transport_kinds = ("analog",)
    contract_params = (
        {"channels": 2, "downsample": 2, "width": 8, "head_channels": 32, "head_convs": 1},
    )

    def __init__(self, params: FFMNetJSCCParams, ctx: Any) -> None:
        super().__init__(params, ctx)
        width, h, w = self.feature_shape
        d = params.downsample
        if h % d or w % d:
            raise SystemConfigError(
                f"ffmnet-jscc.downsample: {d} does not divide the split's {h}x{w} positions"
            )
        if math.prod(self.code_shape()) % 2:
            raise SystemConfigError(
                "ffmnet-jscc.channels: the code needs an even number of reals (pairs form "
                f"complex symbols); {'x'.join(map(str, self.code_shape()))} is odd"
            )
        self.encoder = FeatureJSCCEncoder(width, params.channels, d, params.snr_adaptive)
        self.decoder = FeatureJSCCDecoder(width, params.channels, d, params.snr_adaptive)
        self.jscc = JSCCLink(params.channel)

    def make_transport(self) -> Transport:
        return AnalogTransport()

    def code_shape(self) -> tuple[int, int, int]:
        """``(channels, h / downsample, w / downsample)``: the reals of one sample's code."""
        d = self.params.downsample
        return (self.params.channels, self.feature_shape[1] // d, self.feature_shape[2] // d)

    def channel_uses(self) -> int:
        return JSCCLink.channel_uses(self.code_shape())

    def _snr(self, snr_db: torch.Tensor | None, b: int, device: torch.device) -> torch.Tensor:
        """Per-sample SNR ``[B]`` (dB): the given one, or drawn from ``train_snr_db``."""
        if snr_db is not None:
            return as_per_sample_snr(snr_db, b, device=device)
        lo, hi = self.params.train_snr_db
        return lo + (hi - lo) * sharded_batch.rand((b,), device=device)

    def link_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None
    ) -> tuple[torch.Tensor, None, dict[str, torch.Tensor]]:
        snr = self._snr(snr_db, len(feature), feature.device)
        received = self.jscc(self.encoder(feature, snr), snr)
        feature_hat = self.decoder(received, snr)
        return feature_hat, None, {"feature": feature, "feature_hat": feature_hat}

    @torch.no_grad()
    def analog_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Device side: inputs ``[B, C, H, W]`` → unit-power complex symbols
        ``[B, channel_uses()]`` for the SNR ``snr_db`` ``[B]`` (dB) it is told."""
        snr = as_per_sample_snr(snr_db, len(x), device=x.device)
        return JSCCLink.encode(self.encoder(self.head(x), snr))

    @torch.no_grad()
    def analog_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> Any:
        """Edge side: received symbols ``[B, channel_uses()]`` → boxes and masks."""
        b = len(received)
        code = JSCCLink.decode(received, (b, *self.code_shape())).to(torch.float32)
        snr = as_per_sample_snr(snr_db, b, device=received.device)
        return self.finish(self.decoder(code, snr))

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["code_shape"] = list(self.code_shape())
        out["channel_uses"] = self.channel_uses()
        return out
