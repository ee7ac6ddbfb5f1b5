"""``clip-split``: video classification over a digital link that sends a clip-dependent number of
frames — the core's clip fixture (inputs ``[B, C, T, H, W]``, variable payload dimensions).

Device: a 3-D conv + BN + ReLU stem (spatial stride 2) → per-frame features ``[w, T, H/2, W/2]``
→ 1×1×1 conv to ``channels`` planes → sigmoid → ``bits``-bit quantiser. The device keeps frame 0
and every later frame whose code differs from the last kept one by more than ``threshold``
(mean absolute difference in quantiser levels), at most ``max_frames``: a still clip sends one
frame, a busy one up to ``max_frames``. The kept frames are entropy-coded (factorised model over
the planes) and sent with a ``T``-bit mask of their positions; the payload layout declares the
frame dimension variable, ``Dim(1, max_frames)``. Edge: decode → each dropped frame repeats the
last kept one → 1×1×1 conv back to ``w`` planes → 3-D conv → global average pool → linear →
logits ``[B, K]``.

Training (``full``) runs the code on every frame (additive-noise rate, straight-through
reconstruction) and drops the same frames the device would, so the edge learns to work from
what arrives; ``bypass`` skips the code.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from pydantic import Field
from torch import nn

from semcom.coding import (
    Dim,
    FactorizedEntropyModel,
    Payload,
    PayloadError,
    PayloadLayout,
    UniformQuantizer,
)
from semcom.systems.backbone_split import BackboneSplitSystem
from semcom.systems.base import BuildContext, RateWeightedParams, SystemOutput
from semcom.systems.registry import SystemConfigError, register_system


class ClipSplitParams(RateWeightedParams):
    """Parameters of ``clip-split``."""

    width: int = Field(16, ge=1, le=256, description="planes of the 3-D conv layers")
    channels: int = Field(4, ge=1, le=64, description="code planes sent per kept frame")
    bits: int = Field(4, ge=1, le=8, description="quantiser bits per element")
    threshold: float = Field(
        0.5, ge=0, description="keep a frame whose code differs by more (mean |levels|)"
    )
    max_frames: int | None = Field(None, ge=1, description="most frames sent (default: all T)")


def conv3d_bn_relu(c_in: int, c_out: int, stride: tuple[int, int, int]) -> list[nn.Module]:
    """A 3×3×3 convolution, batch norm and ReLU."""
    return [nn.Conv3d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm3d(c_out), nn.ReLU()]


class ClipHead(nn.Module):
    """3-D conv → global average pool → linear: ``[B, w, T, h, w] → [B, K]``."""

    def __init__(self, width: int, num_classes: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(*conv3d_bn_relu(width, width, (1, 1, 1)))
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3, 4)))


@register_system("clip-split")
class ClipSplit(BackboneSplitSystem):
    """See the module docstring. Input ``[B, C, T, H, W]`` in ``[0, 1]`` → logits ``[B, K]``."""

    Params = ClipSplitParams
    params: ClipSplitParams
    has_rate = True
    shares_backbone = False  # its network is its own
    contract_params = ({"width": 4, "channels": 2, "bits": 2, "threshold": 0.2},)
    contract_input_shape = (1, 4, 8, 8)

    def __init__(self, params: ClipSplitParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        width = self.feature_shape[0]
        c = params.channels
        self.encoder = nn.Sequential(nn.Conv3d(width, c, 1), nn.BatchNorm3d(c), nn.Sigmoid())
        self.quantizer = UniformQuantizer(params.bits, 0.0, 1.0)
        self.entropy = FactorizedEntropyModel(c, 2**params.bits)
        self.decoder = nn.Sequential(nn.Conv3d(c, width, 1), nn.BatchNorm3d(width), nn.ReLU())

    def build_network(self) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
        shape = self.ctx.input_shape
        if len(shape) != 4:
            raise SystemConfigError(
                f"clip-split takes clips (C, T, H, W); the data's inputs are {list(shape)}"
            )
        c, t, h, w = shape
        if h % 2 or w % 2:
            raise SystemConfigError(f"clip-split needs an even frame size, got {h}x{w}")
        width = self.params.width
        head = nn.Sequential(*conv3d_bn_relu(c, width, (1, 2, 2)))
        tail = ClipHead(width, self.ctx.num_classes)
        return head, tail, (width, t, h // 2, w // 2)

    # --- structure -----------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self.feature_shape[1]

    @property
    def max_frames(self) -> int:
        return min(self.params.max_frames or self.frames, self.frames)

    def coder_roles(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "entropy": self.entropy, "decoder": self.decoder}

    def device_modules(self) -> list[nn.Module]:
        return [self.head, self.encoder]

    def edge_modules(self) -> list[nn.Module]:
        return [self.decoder, self.tail]

    def code_shape(self, kept: int) -> tuple[int, int, int, int]:
        """``(channels, kept, h, w)``: the symbols of one sample that keeps ``kept`` frames."""
        _, _, h, w = self.feature_shape
        return (self.params.channels, kept, h, w)

    # --- frame selection -----------------------------------------------------------------------
    @torch.no_grad()
    def keep_mask(self, levels: torch.Tensor) -> torch.Tensor:
        """Which frames to send, bool ``[B, T]``, from quantiser levels ``[B, c, T, h, w]``:
        frame 0, then each frame that differs from the last kept one by more than the threshold
        (mean absolute level difference), at most :attr:`max_frames`."""
        b, _, t, _, _ = levels.shape
        keep = torch.zeros(b, t, dtype=torch.bool, device=levels.device)
        keep[:, 0] = True
        last = levels[:, :, 0]
        count = torch.ones(b, dtype=torch.int64, device=levels.device)
        for i in range(1, t):
            change = (levels[:, :, i] - last).abs().flatten(1).mean(1)
            take = (change > self.params.threshold) & (count < self.max_frames)
            keep[:, i] = take
            count += take.long()
            last = torch.where(take[:, None, None, None], levels[:, :, i], last)
        return keep

    @staticmethod
    def fill_dropped(frames: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``frames`` ``[B, c, T, h, w]`` with every dropped frame (``keep`` bool ``[B, T]``
        false) replaced by the last kept one before it."""
        b, _, t, _, _ = frames.shape
        positions = torch.arange(t, device=frames.device).expand(b, t)
        last = torch.where(keep, positions, torch.zeros_like(positions)).cummax(dim=1).values
        index = last[:, None, :, None, None].expand_as(frames)
        return frames.gather(2, index)

    # --- training graph ------------------------------------------------------------------------
    def split_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None, path: str
    ) -> SystemOutput:
        z = self.encoder(feature)
        u_noisy = self.quantizer(z, mode="noise")
        u_hard = self.quantizer(z, mode="ste")
        keep = self.keep_mask(u_hard.detach())
        received = self.fill_dropped(self.quantizer.dequantize(u_hard), keep)
        feature_hat = self.decoder(received)
        per_frame = self.entropy.likelihood(u_noisy).clamp_min(1e-9).log2().neg()
        rate = (per_frame.sum(dim=(1, 3, 4)) * keep).sum(1) + float(math.ceil(self.frames / 8) * 8)
        return SystemOutput(
            self.tail(feature_hat),
            rate_bits=rate,
            extras={"feature": feature, "feature_hat": feature_hat},
        )

    # --- the real thing --------------------------------------------------------------------------
    @torch.no_grad()
    def prepare_for_coding(self) -> None:
        self.entropy.update()

    @torch.no_grad()
    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        levels = self.quantizer.symbols(self.encoder(self.head(x)))  # int32 [B, c, T, h, w]
        keep = self.keep_mask(levels.float())
        payloads = []
        for sample, mask in zip(levels, keep, strict=True):
            kept = sample[:, mask]
            (body,) = self.entropy.compress(kept[None].contiguous())
            bits = np.packbits(mask.cpu().numpy()).tobytes()
            shape = (self.code_shape(int(mask.sum())),)
            payloads.append(Payload(self.name, shape, {"b": self.params.bits}, (body, bits)))
        return payloads

    @torch.no_grad()
    def estimate_payload_bits(self, x: torch.Tensor) -> torch.Tensor:
        u = self.quantizer(self.encoder(self.head(x)), mode="round")
        keep = self.keep_mask(u)
        per_frame = self.entropy.likelihood(u).clamp_min(1e-9).log2().neg().sum(dim=(1, 3, 4))
        return (per_frame * keep).sum(1) + float(math.ceil(self.frames / 8) * 8)

    def payload_layout(self) -> PayloadLayout:
        c, _, h, w = self.code_shape(1)
        shape = (c, Dim(1, self.max_frames), h, w)
        body = Dim(0, self.entropy.max_stream_bytes(self.code_shape(self.max_frames)))
        return PayloadLayout(
            self.name,
            (shape,),
            2,
            {"b": self.params.bits},
            {"b": "quantiser bits"},
            chunk_bytes=(body, math.ceil(self.frames / 8)),
        )

    def _mask(self, payload: Payload) -> torch.Tensor:
        raw = np.unpackbits(np.frombuffer(payload.chunks[1], dtype=np.uint8))[: self.frames]
        return torch.from_numpy(raw.astype(bool))

    def check_payload_body(self, payload: Payload) -> None:
        expected = math.ceil(self.frames / 8)
        if len(payload.chunks[1]) != expected:
            raise PayloadError(
                f"frame mask has {len(payload.chunks[1])} bytes, expected {expected}"
            )
        mask = self._mask(payload)
        if not mask[0] or int(mask.sum()) != payload.shapes[0][1]:
            raise PayloadError(
                f"frame mask keeps {int(mask.sum())} frames (first: {bool(mask[0])}); the payload "
                f"shape says {payload.shapes[0][1]} and frame 0 is always kept"
            )

    @torch.no_grad()
    def edge_decode(self, payloads: Sequence[Payload]) -> Any:
        for p in payloads:
            self.check_payload(p)
        c, t, (h, w) = self.params.channels, self.frames, self.feature_shape[2:]
        frames = torch.zeros(len(payloads), c, t, h, w, dtype=torch.int32)
        keep = torch.zeros(len(payloads), t, dtype=torch.bool)
        for i, p in enumerate(payloads):
            mask = self._mask(p)
            kept = self.entropy.decompress([p.chunks[0]], p.shapes[0])[0]
            frames[i][:, mask] = kept
            keep[i] = mask
        device = self.model_device
        received = self.fill_dropped(self.quantizer.dequantize(frames.to(device)), keep.to(device))
        return self.tail(self.decoder(received))
