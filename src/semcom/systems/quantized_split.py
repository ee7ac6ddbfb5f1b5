"""``quantized-split``: the plainest learned split — the core's first end-to-end user.

Device: backbone head → 1×1 conv to ``channels`` planes → sigmoid → uniform quantiser (``bits``)
→ factorised entropy model → ANS bytes. Edge: ANS decode → dequantise → 1×1 conv + BN + ReLU back
to the backbone's width → backbone tail. It is what AECNN refines with channel attention and what
BottleNet++ replaces with a channel-aware analog code; alone it shows the full digital path
(real bitstreams, rate estimate, staged training) on any splittable backbone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from semcom.coding import Dim, FactorizedEntropyModel, Payload, PayloadLayout, UniformQuantizer
from semcom.systems.backbone_split import BackboneSplitSystem
from semcom.systems.base import BuildContext, RateWeightedParams, SystemOutput
from semcom.systems.registry import SystemConfigError, register_system


class QuantizedSplitParams(RateWeightedParams):
    """Parameters of ``quantized-split``."""

    channels: int = Field(8, ge=1, le=1024, description="planes sent per spatial position")
    bits: int = Field(4, ge=1, le=8, description="quantiser bits per element")


@register_system("quantized-split")
class QuantizedSplit(BackboneSplitSystem):
    """See the module docstring. Input ``[B, C, H, W]`` in ``[0, 1]`` → logits ``[B, K]``."""

    Params = QuantizedSplitParams
    has_rate = True
    params: QuantizedSplitParams
    contract_params: ClassVar[tuple[dict[str, Any], ...]] = (
        {"channels": 4, "bits": 2},
        {"channels": 2, "bits": 8},
    )

    def __init__(self, params: QuantizedSplitParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        if len(self.feature_shape) != 3:
            raise SystemConfigError(
                f"{self.name} codes a [C, H, W] feature; {ctx.backbone} after {ctx.split_after} "
                f"gives {list(self.feature_shape)} (a token output: split at a convolutional stage)"
            )
        width = self.feature_shape[0]
        c = params.channels
        self.encoder = nn.Sequential(nn.Conv2d(width, c, 1), nn.BatchNorm2d(c), nn.Sigmoid())
        self.quantizer = UniformQuantizer(params.bits, 0.0, 1.0)
        self.entropy = FactorizedEntropyModel(c, 2**params.bits)
        self.decoder = nn.Sequential(
            nn.Conv2d(c, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )

    def coder_roles(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "entropy": self.entropy, "decoder": self.decoder}

    def device_modules(self) -> list[nn.Module]:
        return [self.head, self.encoder]

    def edge_modules(self) -> list[nn.Module]:
        return [self.decoder, self.tail]

    def code_shape(self) -> tuple[int, int, int]:
        """Shape ``(channels, H, W)`` of the quantised symbols of one sample."""
        return (self.params.channels, *self.feature_shape[1:])  # type: ignore[return-value]

    def coded(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The training graph of the code: the edge's reconstruction of ``feature`` (through
        straight-through quantisation) and the estimated bits per sample ``[B]`` (through
        additive-noise quantisation)."""
        z = self.encoder(feature)
        u_noisy = self.quantizer(z, mode="noise")
        u_hard = self.quantizer(z, mode="ste")
        feature_hat = self.decoder(self.quantizer.dequantize(u_hard))
        return feature_hat, self.entropy.estimate_bits(u_noisy)

    def finish(self, feature_hat: torch.Tensor) -> Any:
        """The edge's task output from the reconstructed feature (the backbone's tail)."""
        return self.tail(feature_hat)

    def split_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None, path: str
    ) -> SystemOutput:
        feature_hat, rate = self.coded(feature)
        return SystemOutput(
            output=self.finish(feature_hat),
            rate_bits=rate,
            extras={"feature": feature, "feature_hat": feature_hat},
        )

    def prepare_for_coding(self) -> None:
        self.entropy.update()

    @torch.no_grad()
    def device_tensors(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Head → encoder → quantiser on ``x`` ``[B, C, H, W]`` (eval mode): ``symbols`` int32
        ``[B, *code_shape()]`` in ``0..2**bits - 1`` and ``latent`` float32 (same shape, the
        encoder output in ``[0, 1]`` before quantisation)."""
        latent = self.encoder(self.head(x))
        return {"symbols": self.quantizer.symbols(latent), "latent": latent}

    @torch.no_grad()
    def pack_payloads(self, tensors: dict[str, torch.Tensor]) -> list[Payload]:
        """ANS-code ``tensors["symbols"]``: one :class:`Payload` per sample."""
        self.require_tensors(tensors, ["symbols"])
        symbols = tensors["symbols"]
        shape = self.code_shape()
        if tuple(symbols.shape[1:]) != shape:
            raise ValueError(
                f"{self.name}: symbols of shape {tuple(symbols.shape)}, expected "
                f"[B, {', '.join(map(str, shape))}]"
            )
        bodies = self.entropy.compress(symbols)
        return [
            Payload(system=self.name, shapes=(shape,), params={"b": self.params.bits}, chunks=(b,))
            for b in bodies
        ]

    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        return self.pack_payloads(self.device_tensors(x))

    @torch.no_grad()
    def estimate_payload_bits(self, x: torch.Tensor) -> torch.Tensor:
        u = self.quantizer(self.encoder(self.head(x)), mode="round")
        return self.entropy.estimate_bits(u)

    def payload_layout(self) -> PayloadLayout:
        body = Dim(0, self.entropy.max_stream_bytes(self.code_shape()))
        return PayloadLayout(
            self.name,
            (self.code_shape(),),
            1,
            {"b": self.params.bits},
            {"b": "quantiser bits"},
            chunk_bytes=(body,),
        )

    @torch.no_grad()
    def edge_decode(self, payloads: Sequence[Payload]) -> Any:
        for p in payloads:
            self.check_payload(p)
        symbols = self.entropy.decompress([p.chunks[0] for p in payloads], self.code_shape())
        dequantized = self.quantizer.dequantize(symbols.to(self.model_device))
        return self.finish(self.decoder(dequantized))
