"""``bottlenet++``: channel-aware feature compression, after Shao & Zhang, "BottleNet++: An
End-to-End Approach for Feature Compression in Device-Edge Co-Inference Systems" (arXiv 1910.14315).

Device: backbone head → encoder = conv (3×3, ``stride``) + BN + sigmoid over the feature **with the
channel condition concatenated as one extra constant input plane** → ``hidden`` planes in (0, 1).
Link, a non-trainable channel layer chosen by ``channel``:

* ``awgn`` — analog: the planes become complex symbols (pairs of reals), are power-normalised per
  sample and cross an AWGN channel (or whatever channel the evaluation configures), through the
  shared deep-JSCC link :class:`semcom.nn.jscc.JSCCLink`. The condition
  plane carries the noise standard deviation ``sigma = 10**(-snr_db / 20)``.
* ``erasure`` — digital: the planes are quantised to 8 bits (straight-through gradient) and each
  8-bit symbol is erased (set to zero) with probability ``p``; the condition plane carries ``p``.
  What crosses the link is the raw 8-bit symbols (no entropy coding, as in the paper).

Edge: decoder = (transposed) conv + BN + ReLU back to the feature's shape → backbone tail.

While training, the noise level (``sigma`` or ``p``) is drawn once per forward pass uniformly from
``[0, max_noise]``, as the paper does; a stage with ``snr_db: [lo, hi]`` instead draws an SNR per
sample (noise-aware training, AWGN only). The paper's three phases are the shared backbone, the
compressor alone with the backbone frozen, and joint fine-tuning, all with Adam at 1e-4.

Two bugs of the published code are *not* reproduced: the erasure mask is applied, and each encoder
is paired with the decoder of its own channel mode.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from semcom import sharded_batch
from semcom.channels import snr_db_to_n0
from semcom.coding import Payload, PayloadLayout
from semcom.nn.jscc import JSCCLink
from semcom.systems.backbone_split import EncoderDecoderSplit
from semcom.systems.base import BuildContext, SystemOutput, SystemParams
from semcom.systems.registry import SystemConfigError, register_system
from semcom.transports import AnalogTransport, PayloadTransport, Transport


class BottleNetParams(SystemParams):
    """Parameters of ``bottlenet++``."""

    channel: Literal["awgn", "erasure"] = "awgn"
    hidden: int = Field(8, ge=1, le=1024, description="encoder output planes")
    stride: Literal[1, 2, 4] = Field(1, description="spatial reduction of the encoder conv")
    max_noise: float = Field(
        0.5, ge=0, description="training noise drawn from [0, max]: sigma (awgn) or p (erasure)"
    )
    erasure_p: float = Field(
        0.0, ge=0, lt=1, description="erasure probability the device assumes at evaluation"
    )


def _erase(u: torch.Tensor, p: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Zero each element of ``u`` ``[B, ...]`` independently with probability ``p`` ``[B]``."""
    gen_device = generator.device if generator is not None else u.device
    draws = sharded_batch.rand(u.shape, generator=generator, device=gen_device).to(u.device)
    keep = draws >= p.to(u.device).view(-1, *[1] * (u.dim() - 1))
    return u * keep


def _sigma_to_snr_db(sigma: torch.Tensor) -> torch.Tensor:
    """Noise standard deviation per complex symbol (unit signal power) → SNR in dB
    (``sigma = 0`` → ``+inf``, no noise)."""
    return -20.0 * torch.log10(sigma)


@register_system("bottlenet++")
class BottleNetPP(EncoderDecoderSplit):
    """See the module docstring. Input ``[B, C, H, W]`` in ``[0, 1]`` → logits ``[B, K]``."""

    Params = BottleNetParams
    params: BottleNetParams
    transport_kinds = ("analog", "digital")
    contract_params = (
        {"channel": "awgn", "hidden": 2, "stride": 2},
        {"channel": "erasure", "hidden": 1, "stride": 2},
    )

    def __init__(self, params: BottleNetParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        if len(self.feature_shape) != 3:
            raise SystemConfigError(
                "bottlenet++ needs a [C, H, W] feature at the split, got "
                f"{list(self.feature_shape)}"
            )
        width, h, w = self.feature_shape
        s, c = params.stride, params.hidden
        if h % s or w % s:
            raise SystemConfigError(
                f"bottlenet++.stride: {s} does not divide the split's {h}x{w} positions"
            )
        if params.channel == "awgn" and (c * (h // s) * (w // s)) % 2:
            raise SystemConfigError(
                "bottlenet++.hidden: the analog code needs an even number of reals per sample "
                f"(pairs form complex symbols); {c}x{h // s}x{w // s} is odd"
            )
        self.encoder = nn.Sequential(
            nn.Conv2d(width + 1, c, 3, stride=s, padding=1), nn.BatchNorm2d(c), nn.Sigmoid()
        )
        up: nn.Module = (
            nn.ConvTranspose2d(c, width, s, stride=s)
            if s > 1
            else nn.Conv2d(c, width, 3, padding=1)
        )
        self.decoder = nn.Sequential(up, nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        #: the analog link of ``awgn`` mode (the shared deep-JSCC machinery; no parameters)
        self.jscc = JSCCLink("awgn")

    def make_transport(self) -> Transport:
        """``awgn``: analog symbols; ``erasure``: 8-bit symbols as payload bytes."""
        return AnalogTransport() if self.params.channel == "awgn" else PayloadTransport()

    # --- structure -----------------------------------------------------------------------------
    def code_shape(self) -> tuple[int, int, int]:
        """``(hidden, H / stride, W / stride)``: the reals (or 8-bit symbols) of one sample."""
        s = self.params.stride
        return (self.params.hidden, self.feature_shape[1] // s, self.feature_shape[2] // s)

    def channel_uses(self) -> int | None:
        """Complex channel symbols per sample of the analog code (pairs of reals); ``None`` in
        erasure mode (a digital link)."""
        return math.prod(self.code_shape()) // 2 if self.params.channel == "awgn" else None

    # --- pieces --------------------------------------------------------------------------------
    def _encode(self, feature: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        """Encoder output ``[B, hidden, H', W']`` in (0, 1) for per-sample noise levels ``[B]``."""
        b, _, h, w = feature.shape
        cond = level.to(feature.device, feature.dtype).view(b, 1, 1, 1).expand(b, 1, h, w)
        return self.encoder(torch.cat([feature, cond], dim=1))

    @staticmethod
    def _quantize8(z: torch.Tensor) -> torch.Tensor:
        """8-bit quantisation of ``z`` in [0, 1] with a straight-through gradient."""
        return z + ((z * 255).round() / 255 - z).detach()

    def _sigma(self, snr_db: torch.Tensor) -> torch.Tensor:
        return snr_db_to_n0(snr_db).sqrt()

    # --- training graph ------------------------------------------------------------------------
    def split_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None, path: str
    ) -> SystemOutput:
        b = len(feature)
        if self.params.channel == "awgn":
            if snr_db is not None:
                sigma = self._sigma(torch.as_tensor(snr_db, dtype=torch.float32).expand(b))
            elif self.training:
                sigma = (torch.rand(()) * self.params.max_noise).expand(b)
            else:
                sigma = torch.zeros(b)
            z = self._encode(feature, sigma)
            y = self.jscc(z, _sigma_to_snr_db(sigma))
        else:
            if self.training:
                p = (torch.rand(()) * self.params.max_noise).clamp(max=0.999).expand(b)
            else:
                p = torch.full((b,), self.params.erasure_p)
            z = self._encode(feature, p)
            y = _erase(self._quantize8(z), p, None) if self.training else self._quantize8(z)
        feature_hat = self.decoder(y)
        return SystemOutput(
            self.tail(feature_hat), extras={"feature": feature, "feature_hat": feature_hat}
        )

    # --- the real thing: analog ----------------------------------------------------------------
    @torch.no_grad()
    def analog_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Device side: unit-power complex symbols ``[B, channel_uses()]``; the encoder is told
        the nominal noise level of ``snr_db`` ``[B]``."""
        if self.params.channel != "awgn":
            return super().analog_encode(x, snr_db)
        snr = torch.as_tensor(snr_db, dtype=torch.float32).expand(len(x))
        return self.jscc.encode(self._encode(self.head(x), self._sigma(snr)))

    @torch.no_grad()
    def analog_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Edge side: received (equalised) symbols ``[B, channel_uses()]`` → logits."""
        if self.params.channel != "awgn":
            return super().analog_decode(received, snr_db)
        z = self.jscc.decode(received, (len(received), *self.code_shape()))
        return self.tail(self.decoder(z))

    # --- the real thing: digital (erasure mode) --------------------------------------------------
    @torch.no_grad()
    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        if self.params.channel != "erasure":
            return super().device_encode(x)
        p = torch.full((len(x),), self.params.erasure_p)
        symbols = (self._encode(self.head(x), p) * 255).round().to(torch.uint8).cpu().numpy()
        shape = (self.code_shape(),)
        return [Payload(self.name, shape, {"b": 8}, (s.tobytes(),)) for s in symbols]

    def payload_layout(self) -> PayloadLayout:
        if self.params.channel != "erasure":
            return super().payload_layout()
        return PayloadLayout(
            self.name,
            (self.code_shape(),),
            1,
            {"b": 8},
            {"b": "symbol bits"},
            chunk_bytes=(math.prod(self.code_shape()),),
        )

    @torch.no_grad()
    def edge_decode(self, payloads: Sequence[Payload]) -> torch.Tensor:
        if self.params.channel != "erasure":
            return super().edge_decode(payloads)
        for p in payloads:
            self.check_payload(p)
        raw = np.stack([np.frombuffer(p.chunks[0], dtype=np.uint8) for p in payloads])
        u = torch.from_numpy(raw.astype(np.float32) / 255).reshape(
            len(payloads), *self.code_shape()
        )
        return self.tail(self.decoder(u.to(self.model_device)))
