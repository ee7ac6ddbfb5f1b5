"""``stae``: ViT_STAE — spatiotemporal attention-based semantic compression of clips for action
recognition at the edge (Li, Bennis, Iosifidis, Zhang, Globecom Workshops 2023, arXiv 2305.12796).

Device (input clip ``[B, C, T, H, W]`` in ``[0, 1]``):

1. frame attention (:class:`~semcom.nn.spatiotemporal_attention.FrameAttention`) scores the ``T``
   frames; the ``frames`` best are kept;
2. patch attention (:class:`~semcom.nn.spatiotemporal_attention.PatchAttention`) scores the
   ``patch × patch`` cells of every frame; the ``patches`` best of each kept frame are kept;
3. the encoder (:class:`STAEEncoder`: a 3×3×3 trunk conv at half resolution that the two
   attention modules share, so a kept frame can carry its neighbours' motion, then a strided conv
   to ``channels`` planes and a sigmoid) gives one latent vector per cell, quantised to ``bits``
   bits; the kept cells' symbols are entropy-coded (factorised model, ANS).

Payload: the ANS body, the ``T``-bit frame mask and one ``P``-bit cell mask per kept frame
(``P = H/patch · W/patch``); its shape ``(channels, kept frames, cells per kept frame)`` is
bounded by ``(channels, Dim(1, frames), Dim(1, patches))``.

Edge: the kept symbols are scattered into the latent grid (zeros elsewhere) →
:class:`~semcom.systems.stae.decoder.Conv3d2dDecoder` restores the clip → the experiment's video
backbone (a ViT, ``video-vit``) classifies it.

Training paths (the paper trains step by step: ViT; frame attention; spatial attention;
decoder; joint — each a stage of roles on one of these graphs):

* ``bypass`` — the backbone on the clean clip (the ViT stage);
* ``frames`` — frame selection only (every cell of a kept frame arrives);
* ``full`` — frames and cells selected.

Both selecting paths quantise with additive noise for the rate and straight-through for the
reconstruction, and multiply what arrives by the straight-through top-k masks, so the task loss
reaches the attention scores. The rate is the kept symbols' −log2 likelihood plus the mask bits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

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
from semcom.nn.spatiotemporal_attention import (
    FrameAttention,
    PatchAttention,
    straight_through_top_k,
    top_k_mask,
)
from semcom.systems.base import BuildContext, RateWeightedParams, SystemOutput
from semcom.systems.registry import SystemConfigError, register_system
from semcom.systems.stae.decoder import Conv3d2dDecoder
from semcom.systems.video_codec_at_edge import VideoCodecAtEdge


class STAEParams(RateWeightedParams):
    """Parameters of ``stae``."""

    frames: int = Field(4, ge=1, description="frames kept per clip (frame attention's top-k)")
    patches: int = Field(
        16, ge=1, description="cells kept per kept frame (patch attention's top-k)"
    )
    patch: int = Field(4, ge=1, le=32, description="cell side in pixels (a power of two)")
    channels: int = Field(8, ge=1, le=64, description="latent planes per cell")
    bits: int = Field(4, ge=1, le=8, description="quantiser bits per latent element")
    width: int = Field(16, ge=1, le=256, description="planes of the attention and encoder convs")
    decoder_width: int = Field(64, ge=4, le=512, description="planes of the edge decoder")


def hold_dropped_frames(latent: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    """``latent`` ``[B, c, T, ...]`` with each frame not in ``kept`` (bool ``[B, T]``, at least
    one per row) replaced by the nearest kept frame before it, or after it where none is before.
    Differentiable in ``latent`` (a gather)."""
    b, t = kept.shape
    positions = torch.arange(t, device=kept.device).expand(b, t)
    before = torch.where(kept, positions, torch.full_like(positions, -1)).cummax(dim=1).values
    first = torch.where(kept, positions, torch.full_like(positions, t)).min(dim=1).values
    source = torch.where(before >= 0, before, first[:, None].expand(b, t))
    index = source.view(b, 1, t, *([1] * (latent.dim() - 3))).expand_as(latent)
    return latent.gather(2, index)


class STAEEncoder(nn.Module):
    """The device's trunk and code: ``trunk`` = a 3×3×3 conv at spatial stride 2 + GELU
    (``[B, C, T, H, W] → [B, width, T, H/2, W/2]``, shared with the attention modules);
    ``code`` = a ``patch/2``-strided conv to ``channels`` planes + sigmoid
    (``→ [B, channels, T, H/patch, W/patch]`` in ``(0, 1)``)."""

    def __init__(self, in_channels: int, width: int, channels: int, patch: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Conv3d(in_channels, width, 3, (1, 2, 2), 1), nn.GELU())
        half = patch // 2
        self.code = nn.Sequential(
            nn.Conv3d(width, channels, (1, half, half), (1, half, half)), nn.Sigmoid()
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x - 0.5)


@register_system("stae")
class STAE(VideoCodecAtEdge):
    """See the module docstring. Input ``[B, C, T, H, W]`` in ``[0, 1]`` → logits ``[B, K]``."""

    Params = STAEParams
    params: STAEParams
    has_rate = True
    paths: ClassVar[tuple[str, ...]] = ("full", "bypass", "frames")
    contract_params = ({"frames": 2, "patches": 3, "patch": 4, "channels": 2, "bits": 2,
                        "width": 4, "decoder_width": 8},)  # fmt: skip
    contract_input_shape = (3, 4, 8, 8)

    def __init__(self, params: STAEParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)  # refuses anything but clips
        c, _, h, w = ctx.input_shape
        p = params.patch
        if p < 2 or p & (p - 1) or h % p or w % p:
            raise SystemConfigError(
                f"stae: patch must be a power of two dividing the frame size {h}x{w}, got {p}"
            )
        self.encoder = STAEEncoder(c, params.width, params.channels, p)
        self.frame_attention = FrameAttention(params.width)
        self.spatial_attention = PatchAttention(params.width, p // 2)
        self.quantizer = UniformQuantizer(params.bits, 0.0, 1.0)
        self.entropy = FactorizedEntropyModel(params.channels, 2**params.bits)
        self.decoder = Conv3d2dDecoder(params.channels, c, p, params.decoder_width)

    # --- structure -----------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self.image_shape[1]

    @property
    def grid(self) -> tuple[int, int]:
        """``(h, w)``: the cells of a frame."""
        return self.image_shape[2] // self.params.patch, self.image_shape[3] // self.params.patch

    @property
    def cells(self) -> int:
        return math.prod(self.grid)

    @property
    def kept_frames(self) -> int:
        return min(self.params.frames, self.frames)

    @property
    def kept_cells(self) -> int:
        return min(self.params.patches, self.cells)

    def coder_roles(self) -> dict[str, nn.Module]:
        return {
            "frame_attention": self.frame_attention,
            "spatial_attention": self.spatial_attention,
            "encoder": self.encoder,
            "entropy": self.entropy,
            "decoder": self.decoder,
        }

    def export_refusal(self) -> str:
        return (
            "its device side selects frames and cells by top-k and entropy-codes the kept cells "
            "(a clip-dependent set) in Python; device_tensors_of is tensor code, but the gather "
            "and coding are not split into device_tensors + pack_payloads yet"
        )

    def device_modules(self) -> list[nn.Module]:
        return [self.encoder, self.frame_attention, self.spatial_attention]

    def edge_modules(self) -> list[nn.Module]:
        return [self.decoder, self.head, self.tail]

    def mask_bits(self, kept_frames: int) -> int:
        """Bits of the frame mask and the kept frames' cell masks, in whole bytes."""
        return 8 * (math.ceil(self.frames / 8) + math.ceil(kept_frames * self.cells / 8))

    def describe(self) -> dict[str, Any]:
        """The parameters, and what every clip sends: ``frames_kept`` of the ``T`` frames and
        ``patches_kept`` cells of each kept frame (top-k selection: the same for every clip, so
        each range is that one value) and the share of the clip's pixels they cover."""
        k, p = self.kept_frames, self.kept_cells
        return {
            **super().describe(),
            "frames_kept": k,
            "frames_kept_range": [k, k],
            "patches_kept": p,
            "patches_kept_range": [p, p],
            "kept_pixel_fraction": k * p / (self.frames * self.cells),
        }

    # --- selection -------------------------------------------------------------------------------
    def select(
        self, features: torch.Tensor, cells: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(hard, st)`` masks ``[B, T, P]`` of the cells that are sent, from the trunk's
        ``features`` (bool, and the straight-through float version; ``cells=False`` keeps every
        cell of a kept frame)."""
        scores = self.frame_attention(features)
        frame_hard, frame_st = straight_through_top_k(scores, self.kept_frames)
        if not cells:
            ones = torch.ones(*scores.shape, self.cells, device=scores.device, dtype=frame_st.dtype)
            return frame_hard[:, :, None].expand_as(ones), frame_st[:, :, None] * ones
        cell_hard, cell_st = straight_through_top_k(
            self.spatial_attention(features), self.kept_cells
        )
        return frame_hard[:, :, None] & cell_hard, frame_st[:, :, None] * cell_st

    @torch.no_grad()
    def device_tensors_of(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """What the device computes: the cells it sends, bool ``[B, T, P]`` (the top frames,
        then the top cells of each), and every cell's symbols, int32 ``[B, c, T, P]``."""
        features = self.encoder.features(x)
        frames = top_k_mask(self.frame_attention(features), self.kept_frames)
        cells = top_k_mask(self.spatial_attention(features), self.kept_cells)
        levels = self.quantizer.symbols(self.encoder.code(features)).flatten(3)
        return frames[:, :, None] & cells, levels

    def _grid(self, flat: torch.Tensor) -> torch.Tensor:
        """``[B, ..., T, P]`` → ``[B, ..., T, h, w]``."""
        return flat.unflatten(-1, self.grid)

    def restore(self, latent: torch.Tensor, arrived: torch.Tensor) -> torch.Tensor:
        """The edge's clip ``[B, C, T, H, W]`` from the dequantised latent ``[B, c, T, h, w]``
        (zero where nothing arrived) and the arrival mask ``[B, T, P]``: each dropped frame
        starts as the nearest kept frame before it (after it for leading ones) — a clip that
        holds what it saw — and the decoder, told which cells arrived, restores from there."""
        return self.decoder(
            hold_dropped_frames(latent, arrived.any(dim=2)), self._grid(arrived)[:, None]
        )

    # --- training graph ------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, snr_db: torch.Tensor | None = None, path: str = "full"
    ) -> SystemOutput:
        self.check_path(path)
        if path == "bypass":
            return SystemOutput(self.classify(x))
        features = self.encoder.features(x)
        hard, st = self.select(features, cells=path == "full")
        z = self.encoder.code(features)  # [B, c, T, h, w]
        u_noisy = self.quantizer(z, mode="noise")
        u_hard = self.quantizer(z, mode="ste")
        arrived = self._grid(st)[:, None]
        latent = self.quantizer.dequantize(u_hard) * arrived
        x_hat = self.restore(latent, hard)
        bits = self.entropy.likelihood(u_noisy).clamp_min(1e-9).log2().neg().sum(1)  # [B,T,h,w]
        rate = (bits.flatten(2) * hard).sum(dim=(1, 2)) + float(self.mask_bits(self.kept_frames))
        return self.restored_output(x, x_hat, rate)

    # --- the real thing --------------------------------------------------------------------------
    @torch.no_grad()
    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        keep, levels = self.device_tensors_of(x)
        payloads = []
        for sample, mask in zip(levels, keep, strict=True):
            frames = mask.any(dim=1)  # [T]
            cells = mask[frames]  # [k, P]
            per_frame = int(cells[0].sum())
            kept = sample[:, frames][:, cells].reshape(sample.shape[0], -1, per_frame)
            (body,) = self.entropy.compress(kept[None].contiguous())
            frame_bits = np.packbits(frames.cpu().numpy()).tobytes()
            cell_bits = np.packbits(cells.flatten().cpu().numpy()).tobytes()
            shape = (self.params.channels, int(frames.sum()), per_frame)
            payloads.append(
                Payload(self.name, (shape,), {"b": self.params.bits}, (body, frame_bits, cell_bits))
            )
        return payloads

    @torch.no_grad()
    def estimate_payload_bits(self, x: torch.Tensor) -> torch.Tensor:
        keep, levels = self.device_tensors_of(x)
        u = levels.to(torch.float32)
        bits = self.entropy.likelihood(u).clamp_min(1e-9).log2().neg().sum(1)
        return (bits * keep).sum(dim=(1, 2)) + float(self.mask_bits(self.kept_frames))

    def payload_layout(self) -> PayloadLayout:
        shape = (self.params.channels, Dim(1, self.kept_frames), Dim(1, self.kept_cells))
        most = (self.params.channels, self.kept_frames, self.kept_cells)
        return PayloadLayout(
            self.name,
            (shape,),
            3,
            {"b": self.params.bits},
            {"b": "quantiser bits"},
            chunk_bytes=(
                Dim(0, self.entropy.max_stream_bytes(most)),
                math.ceil(self.frames / 8),
                Dim(1, math.ceil(self.kept_frames * self.cells / 8)),
            ),
        )

    def _masks(self, payload: Payload) -> tuple[torch.Tensor, torch.Tensor]:
        """The payload's frame mask bool ``[T]`` and the cell masks of its ``k`` kept frames
        (``k`` from its shape) bool ``[k, P]``; :meth:`check_payload_body` has checked both."""
        kept = payload.shapes[0][1]
        frames = np.unpackbits(np.frombuffer(payload.chunks[1], dtype=np.uint8))[: self.frames]
        bits = np.unpackbits(np.frombuffer(payload.chunks[2], dtype=np.uint8))
        cells = bits[: kept * self.cells].reshape(kept, self.cells)
        return torch.from_numpy(frames.astype(bool)), torch.from_numpy(cells.astype(bool))

    def check_payload_body(self, payload: Payload) -> None:
        _, kept, per_frame = payload.shapes[0]
        expected = math.ceil(kept * self.cells / 8)
        if len(payload.chunks[2]) != expected:
            raise PayloadError(
                f"cell masks have {len(payload.chunks[2])} bytes, expected {expected} for "
                f"{kept} kept frames of {self.cells} cells"
            )
        frames, cells = self._masks(payload)
        if int(frames.sum()) != kept:
            raise PayloadError(
                f"frame mask keeps {int(frames.sum())} frames; the payload shape says {kept}"
            )
        counts = cells.sum(dim=1)
        if bool((counts != per_frame).any()):
            raise PayloadError(
                f"cell masks keep {counts.tolist()} cells per frame; the payload shape says "
                f"{per_frame} each"
            )

    @torch.no_grad()
    def edge_restore(self, payloads: Sequence[Payload]) -> tuple[torch.Tensor, torch.Tensor]:
        """What the edge makes of ``payloads`` before the classifier: the cells that arrived,
        bool ``[B, T, P]``, and the restored clip ``[B, C, T, H, W]`` in ``[0, 1]``."""
        for p in payloads:
            self.check_payload(p)
        c, t, p_cells = self.params.channels, self.frames, self.cells
        levels = torch.zeros(len(payloads), c, t, p_cells, dtype=torch.int32)
        arrived = torch.zeros(len(payloads), t, p_cells, dtype=torch.bool)
        for i, p in enumerate(payloads):
            frames, cells = self._masks(p)
            kept = self.entropy.decompress([p.chunks[0]], p.shapes[0])[0]  # [c, k, n]
            full = torch.zeros(c, int(frames.sum()), p_cells, dtype=torch.int32)
            full[:, cells] = kept.reshape(c, -1)
            levels[i][:, frames] = full
            arrived[i][frames] = cells
        device = self.model_device
        mask = arrived.to(device)
        latent = self.quantizer.dequantize(levels.to(device)) * mask[:, None]  # [B, c, T, P]
        return mask, self.restore(self._grid(latent), mask)

    @torch.no_grad()
    def edge_decode(self, payloads: Sequence[Payload]) -> Any:
        return self.classify(self.edge_restore(payloads)[1])

    @torch.no_grad()
    def restoration(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Through the real bytes: the cells sent ``[B, T, P]``, the edge's clip
        ``[B, C, T, H, W]`` and its logits ``[B, K]`` (for the report's picture)."""
        mask, clip = self.edge_restore(self.device_encode(x))
        return mask, clip, self.classify(clip)
