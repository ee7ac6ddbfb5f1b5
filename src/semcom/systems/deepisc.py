"""``deepisc``: the DeepISC baseline of ViT_STAE — per-frame ViT semantic codec, then the same
video ViT ("Deep image semantic communication model for 6G", Jiang, Peng, Dong, 2023).

DeepISC codes images; a clip is coded frame by frame with no temporal model (the baseline
ViT_STAE is measured against). Device, per frame ``[C, H, W]``:

* patch embedding (``patch × patch`` pixels → ``dim``, fixed 2-D sine-cosine codes), ``depth``
  pre-norm transformer layers, a linear map to ``channels`` planes per patch and a sigmoid — the
  semantic encoder (a ViT autoencoder's encoder);
* the latent is quantised to ``bits`` bits and entropy-coded (factorised model, ANS), as the
  issue asks for its accuracy-against-bits curve: every frame, every patch.

Edge: the semantic decoder (a linear map back to ``dim``, ``depth`` transformer layers, a linear
map to the patch's pixels, a sigmoid) restores each frame; the clip goes to the experiment's
video backbone. The paper's separate channel autoencoder (for an analog link) and its
discriminator (a perceptual term of the reconstruction) are not part of this digital variant:
over a bit pipe the entropy-coded latent is the channel input, and the task is judged by the
classifier, not by eye (README, "ViT_STAE").

Training paths: ``bypass`` (the backbone on the clean clip) and ``full`` (additive-noise rate,
straight-through reconstruction; ``feature`` / ``feature_hat`` are the clip and its
restoration for the pixel loss).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from pydantic import Field
from torch import nn

from semcom.backbones.video_vit import sincos_position_codes
from semcom.coding import FactorizedEntropyModel, Payload, PayloadLayout, UniformQuantizer
from semcom.coding.layout import Dim
from semcom.systems.base import BuildContext, RateWeightedParams, SystemOutput
from semcom.systems.registry import SystemConfigError, register_system
from semcom.systems.video_codec_at_edge import VideoCodecAtEdge


class DeepISCParams(RateWeightedParams):
    """Parameters of ``deepisc``."""

    patch: int = Field(4, ge=1, le=32, description="patch side in pixels")
    channels: int = Field(2, ge=1, le=64, description="latent planes per patch")
    bits: int = Field(2, ge=1, le=8, description="quantiser bits per latent element")
    dim: int = Field(64, ge=8, le=512, description="token width of the semantic codec")
    depth: int = Field(2, ge=1, le=12, description="transformer layers of encoder and decoder")
    heads: int = Field(2, ge=1, le=16, description="attention heads")


def _layers(dim: int, depth: int, heads: int) -> nn.Sequential:
    return nn.Sequential(*[
        nn.TransformerEncoderLayer(dim, heads, 2 * dim, 0.0, activation="gelu",
                                   batch_first=True, norm_first=True)
        for _ in range(depth)
    ])  # fmt: skip


class FrameViTCodec(nn.Module):
    """Per-frame ViT autoencoder halves: :meth:`encode` ``[N, C, H, W] → [N, channels, h, w]``
    in ``(0, 1)``; :meth:`decode` back to ``[N, C, H, W]`` in ``(0, 1)``."""

    def __init__(self, c: int, patch: int, dim: int, depth: int, heads: int, channels: int) -> None:
        super().__init__()
        self.patch = patch
        self.embed = nn.Conv2d(c, dim, patch, patch)
        self.encoder = _layers(dim, depth, heads)
        self.to_latent = nn.Linear(dim, channels)
        self.from_latent = nn.Linear(channels, dim)
        self.decoder = _layers(dim, depth, heads)
        self.to_pixels = nn.Linear(dim, c * patch * patch)
        self.dim = dim

    def _codes(self, h: int, w: int, like: torch.Tensor) -> torch.Tensor:
        return sincos_position_codes((1, h, w), self.dim).to(like.device, like.dtype)

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(frames - 0.5)  # [N, dim, h, w]
        n, _, h, w = tokens.shape
        tokens = tokens.flatten(2).transpose(1, 2) + self._codes(h, w, tokens)
        latent = torch.sigmoid(self.to_latent(self.encoder(tokens)))  # [N, h*w, channels]
        return latent.transpose(1, 2).reshape(n, -1, h, w)

    def decode(self, latent: torch.Tensor, out_channels: int) -> torch.Tensor:
        n, _, h, w = latent.shape
        tokens = self.from_latent(latent.flatten(2).transpose(1, 2)) + self._codes(h, w, latent)
        pixels = torch.sigmoid(self.to_pixels(self.decoder(tokens)))  # [N, h*w, C*p*p]
        p = self.patch
        pixels = pixels.reshape(n, h, w, out_channels, p, p).permute(0, 3, 1, 4, 2, 5)
        return pixels.reshape(n, out_channels, h * p, w * p)


@register_system("deepisc")
class DeepISC(VideoCodecAtEdge):
    """See the module docstring. Input ``[B, C, T, H, W]`` in ``[0, 1]`` → logits ``[B, K]``."""

    Params = DeepISCParams
    params: DeepISCParams
    has_rate = True
    contract_params = ({"patch": 4, "channels": 1, "bits": 2, "dim": 8, "depth": 1, "heads": 1},)
    contract_input_shape = (3, 4, 8, 8)

    def __init__(self, params: DeepISCParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)  # refuses anything but clips
        shape = tuple(ctx.input_shape)
        if shape[2] % params.patch or shape[3] % params.patch:
            raise SystemConfigError(
                f"deepisc: patch {params.patch} does not divide the frame size "
                f"{shape[2]}x{shape[3]}"
            )
        if params.dim % params.heads:
            raise SystemConfigError(f"deepisc: dim {params.dim} is not a multiple of heads")
        self.codec = FrameViTCodec(shape[0], params.patch, params.dim, params.depth,
                                   params.heads, params.channels)  # fmt: skip
        self.quantizer = UniformQuantizer(params.bits, 0.0, 1.0)
        self.entropy = FactorizedEntropyModel(params.channels, 2**params.bits)

    # --- structure -----------------------------------------------------------------------------
    def coder_roles(self) -> dict[str, nn.Module]:
        return {"encoder": self.codec, "entropy": self.entropy}

    def export_refusal(self) -> str:
        return (
            "its per-frame ViT encoder and entropy coder are not split into device_tensors + "
            "pack_payloads yet (the coding runs in Python)"
        )

    def device_modules(self) -> list[nn.Module]:
        return [self.codec.embed, self.codec.encoder, self.codec.to_latent]

    def edge_modules(self) -> list[nn.Module]:
        c = self.codec
        return [c.from_latent, c.decoder, c.to_pixels, self.head, self.tail]

    def code_shape(self) -> tuple[int, int, int, int]:
        """``(channels, T, h, w)``: the symbols of one clip."""
        c, t, h, w = self.image_shape
        p = self.params.patch
        return (self.params.channels, t, h // p, w // p)

    def _frames(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, T, H, W] → [B·T, C, H, W]``."""
        return x.transpose(1, 2).flatten(0, 1)

    def _latent(self, x: torch.Tensor) -> torch.Tensor:
        """The clip's latent ``[B, channels, T, h, w]``."""
        b, t = x.shape[0], x.shape[2]
        z = self.codec.encode(self._frames(x))  # [B*T, c, h, w]
        return z.unflatten(0, (b, t)).transpose(1, 2)

    def _restore(self, latent: torch.Tensor) -> torch.Tensor:
        """The clip ``[B, C, T, H, W]`` from the dequantised latent ``[B, c, T, h, w]``."""
        b, t = latent.shape[0], latent.shape[2]
        frames = self.codec.decode(latent.transpose(1, 2).flatten(0, 1), self.image_shape[0])
        return frames.unflatten(0, (b, t)).transpose(1, 2)

    # --- training graph ------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, snr_db: torch.Tensor | None = None, path: str = "full"
    ) -> SystemOutput:
        self.check_path(path)
        if path == "bypass":
            return SystemOutput(self.classify(x))
        z = self._latent(x)
        u_noisy = self.quantizer(z, mode="noise")
        x_hat = self._restore(self.quantizer.dequantize(self.quantizer(z, mode="ste")))
        rate = self.entropy.likelihood(u_noisy).clamp_min(1e-9).log2().neg().flatten(1).sum(1)
        return self.restored_output(x, x_hat, rate)

    # --- the real thing --------------------------------------------------------------------------
    @torch.no_grad()
    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        symbols = self.quantizer.symbols(self._latent(x))
        bodies = self.entropy.compress(symbols.contiguous())
        return [
            Payload(self.name, (self.code_shape(),), {"b": self.params.bits}, (body,))
            for body in bodies
        ]

    @torch.no_grad()
    def estimate_payload_bits(self, x: torch.Tensor) -> torch.Tensor:
        u = self.quantizer(self._latent(x), mode="round")
        return self.entropy.likelihood(u).clamp_min(1e-9).log2().neg().flatten(1).sum(1)

    def payload_layout(self) -> PayloadLayout:
        shape = self.code_shape()
        return PayloadLayout(
            self.name,
            (shape,),
            1,
            {"b": self.params.bits},
            {"b": "quantiser bits"},
            chunk_bytes=(Dim(0, self.entropy.max_stream_bytes(shape)),),
        )

    @torch.no_grad()
    def edge_restore(self, payloads: Sequence[Payload]) -> torch.Tensor:
        """The edge's clip ``[B, C, T, H, W]`` from ``payloads``."""
        for p in payloads:
            self.check_payload(p)
        symbols = self.entropy.decompress([p.chunks[0] for p in payloads], self.code_shape())
        return self._restore(self.quantizer.dequantize(symbols.to(self.model_device)))

    @torch.no_grad()
    def edge_decode(self, payloads: Sequence[Payload]) -> Any:
        return self.classify(self.edge_restore(payloads))

    @torch.no_grad()
    def restoration(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Through the real bytes: the cells sent (all, ``[B, T, P]``), the edge's clip
        ``[B, C, T, H, W]`` and its logits ``[B, K]`` (for the report's picture)."""
        clip = self.edge_restore(self.device_encode(x))
        _, t, h, w = self.code_shape()
        sent = torch.ones(len(x), t, h * w, dtype=torch.bool, device=clip.device)
        return sent, clip, self.classify(clip)
