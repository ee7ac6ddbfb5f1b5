"""``aecnn``: attention-based feature compression for CNN inference offloading.

After "Attention-based Feature Compression for CNN Inference Offloading in Edge Computing"
(arXiv 2211.13745). Device: backbone head → squeeze-and-excitation channel attention → keep the
``k`` most important channels → optional 1×1 mixing (``mix`` output planes) and strided
downsampling → BN + sigmoid → uniform quantiser (``bits``) → factorised entropy model → ANS bytes
(``entropy_model: channel-context``: each symbol's table is chosen by the symbols at its position
in the ``context_channels`` preceding planes, :mod:`semcom.coding.context_model`).
``fit_context: d`` codes with a channel-context model whose tables are fitted to the codes of the
training images after training (:meth:`AECNN.fit_coding`, maximum likelihood); the trained model
is then only the rate term of training. The fit changes the bits, never the symbols.
``encoder_blocks`` residual blocks (default 0) may run on the kept channels before the mixing.
Edge: decode → undo the downsampling and mixing → put the ``k`` channels back at their positions
(zeros elsewhere) → light decoder (3×3 conv + BN + ReLU, then ``decoder_blocks`` residual blocks,
default 0) → backbone tail. With ``decoder: inverse`` the edge first undoes the encoder's sigmoid
(logit of the dequantised code, then a learned per-plane affine that can undo its batch norm) and
the 3×3 conv becomes a residual branch whose BN scale starts at 0: training starts from a decoder
close to the identity rather than from a random map of squashed values.

Channel selection, ``selection``:

* ``global`` — one learned ranking for all inputs: an exponential moving average of the attention
  weights over the training data (buffer ``importance``). :meth:`prepare_for_coding` freezes its
  top-``k`` into ``global_index`` (state dict), so device and edge agree without sending indices.
* ``per-sample`` — each input keeps its own top-``k`` attention weights; the indices travel in the
  payload as a ``C``-bit mask (second chunk, ``ceil(C / 8)`` bytes, counted in the payload bits).

Training paths (``paths``): ``bypass`` (backbone unsplit), ``attention`` (attention + hard top-k
mask → tail, no coder: the attention learns to concentrate what the task needs into ``k``
channels), ``full`` (everything, with noisy quantisation for the rate and straight-through
quantisation for the task). The paper's four stages map to ``bypass`` (the shared backbone),
``attention``, ``full`` with the backbone frozen (task + λ·rate, optional feature MSE) and ``full``
with everything trainable.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from semcom import sharded_batch
from semcom.backbones.resnet import BasicBlock
from semcom.coding import (
    Dim,
    FactorizedEntropyModel,
    Payload,
    PayloadError,
    PayloadLayout,
    UniformQuantizer,
)
from semcom.coding.context_model import ChannelContextEntropyModel
from semcom.nn.channel_attention import ChannelAttention
from semcom.nn.inverse_decoder import Unsquash, ZeroInitResidualConv
from semcom.systems.backbone_split import BackboneSplitSystem
from semcom.systems.base import BuildContext, RateWeightedParams, SystemOutput
from semcom.systems.registry import SystemConfigError, register_system


class AECNNParams(RateWeightedParams):
    """Parameters of ``aecnn`` (the trade-off curve is swept by ``k``, ``bits`` and ``lambda``)."""

    k: int = Field(8, ge=1, description="channels kept after attention (<= the split's width)")
    selection: Literal["global", "per-sample"] = "global"
    bits: int = Field(4, ge=1, le=8, description="quantiser bits per element")
    mix: int | None = Field(None, ge=1, le=1024, description="1x1 mixing to this many planes")
    downsample: Literal[1, 2, 4] = Field(1, description="spatial stride before quantisation")
    reduction: int = Field(16, ge=1, description="SE bottleneck reduction")
    encoder_blocks: int = Field(
        0, ge=0, le=8, description="residual blocks on the kept channels before mixing (device)"
    )
    decoder_blocks: int = Field(
        0, ge=0, le=8, description="residual blocks after the edge decoder's conv (edge only)"
    )
    decoder: Literal["plain", "inverse"] = Field(
        "plain",
        description="plain: conv + BN + ReLU on the dequantised code; inverse: the edge first "
        "undoes the sigmoid (logit + per-plane affine) and the conv is a zero-initialised "
        "residual branch, so training starts from an identity-like decoder",
    )
    momentum: float = Field(0.01, gt=0, le=1, description="EMA momentum of the global ranking")
    entropy_model: Literal["factorized", "channel-context"] = Field(
        "factorized",
        description="factorized: one learned density per plane; channel-context: each symbol's "
        "table chosen by the symbols at its position in the preceding planes "
        "(semcom.coding.context_model; integer contexts, bit-exact)",
    )
    context_channels: int = Field(
        1, ge=1, le=3, description="channel-context: how many preceding planes choose the table"
    )
    fit_context: int | None = Field(
        None,
        ge=0,
        le=3,
        description="code with a channel-context model (d preceding planes choose the table; 0 = "
        "one free pmf per plane) whose tables are fitted to the training codes after training; "
        "null: code with the trained entropy model",
    )


def _scatter_channels(sel: torch.Tensor, index: torch.Tensor, channels: int) -> torch.Tensor:
    """Place ``sel`` ``[B, k, H, W]`` at channel positions ``index`` (``[B, k]``) of a zero
    ``[B, channels, H, W]`` tensor."""
    b, k, h, w = sel.shape
    out = sel.new_zeros(b, channels, h, w)
    return out.scatter(1, index[:, :, None, None].expand(b, k, h, w), sel)


@register_system("aecnn")
class AECNN(BackboneSplitSystem):
    """See the module docstring. Input ``[B, C, H, W]`` in ``[0, 1]`` → logits ``[B, K]``."""

    Params = AECNNParams
    has_rate = True
    params: AECNNParams
    paths = ("full", "bypass", "attention")
    contract_params = (
        {"k": 4, "bits": 4},
        {"k": 4, "bits": 2, "selection": "per-sample"},
        {"k": 8, "mix": 3, "downsample": 2, "decoder": "inverse", "decoder_blocks": 1},
        {"k": 4, "mix": 3, "bits": 2, "entropy_model": "channel-context", "context_channels": 2},
        {"k": 4, "mix": 3, "bits": 2, "fit_context": 2},
    )
    importance: torch.Tensor  # buffers (registered in __init__)
    global_index: torch.Tensor
    coder_fitted: torch.Tensor

    def __init__(self, params: AECNNParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        if len(self.feature_shape) != 3:
            raise SystemConfigError(
                f"aecnn needs a [C, H, W] feature at the split; {ctx.backbone} after "
                f"{ctx.split_after} gives {list(self.feature_shape)}"
            )
        width, height, wide = self.feature_shape
        k = params.k
        if k > width:
            raise SystemConfigError(
                f"aecnn.k: {k} channels cannot be kept from a {width}-channel split "
                f"({ctx.backbone} after {ctx.split_after}); allowed: 1..{width}"
            )
        s = params.downsample
        if height % s or wide % s:
            raise SystemConfigError(
                f"aecnn.downsample: {s} does not divide the split's {height}x{wide} positions"
            )
        m = params.mix or k
        self.planes = m
        self.attention = ChannelAttention(width, params.reduction)
        self.register_buffer("importance", torch.full((width,), 0.5))
        self.register_buffer("global_index", torch.arange(k, dtype=torch.int64))

        enc: list[nn.Module] = [BasicBlock(k, k) for _ in range(params.encoder_blocks)]
        if params.mix:
            enc.append(nn.Conv2d(k, m, 1))
        if s > 1:
            enc.append(nn.Conv2d(m, m, 3, stride=s, padding=1))
        enc += [nn.BatchNorm2d(m), nn.Sigmoid()]
        self.encoder = nn.Sequential(*enc)
        self.quantizer = UniformQuantizer(params.bits, 0.0, 1.0)
        self.entropy: FactorizedEntropyModel | ChannelContextEntropyModel
        if params.entropy_model == "channel-context":
            if 2**params.bits > 16:
                raise SystemConfigError(
                    f"aecnn.entropy_model: channel-context takes bits 1..4, got {params.bits}"
                )
            self.entropy = ChannelContextEntropyModel(m, 2**params.bits, params.context_channels)
        else:
            self.entropy = FactorizedEntropyModel(m, 2**params.bits)
        # the model the bytes are coded with: the trained one, or one fitted after training
        self.coder: ChannelContextEntropyModel | None = None
        if params.fit_context is not None:
            if 2**params.bits > 16:
                raise SystemConfigError(
                    f"aecnn.fit_context: a fitted channel-context coder takes bits 1..4, got "
                    f"{params.bits}"
                )
            self.coder = ChannelContextEntropyModel(m, 2**params.bits, params.fit_context)
            self.coder.logits.requires_grad_(False)
            # only with a coder, so models stored before fit_context existed load unchanged
            self.register_buffer("coder_fitted", torch.zeros((), dtype=torch.bool))

        unmix: list[nn.Module] = []
        if params.decoder == "inverse":
            unmix.append(Unsquash(m, eps=0.5 / 2**params.bits))
        if s > 1:
            unmix += [nn.ConvTranspose2d(m, m, s, stride=s), nn.ReLU(inplace=True)]
        if params.mix:
            unmix.append(nn.Conv2d(m, k, 1))
        self.unmix = nn.Sequential(*unmix)
        first: list[nn.Module]
        if params.decoder == "inverse":
            first = [ZeroInitResidualConv(width)]
        else:
            first = [nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        self.decoder = nn.Sequential(
            *first, *(BasicBlock(width, width) for _ in range(params.decoder_blocks))
        )

    # --- structure -----------------------------------------------------------------------------
    def coder_roles(self) -> dict[str, nn.Module]:
        return {
            "attention": self.attention,
            "encoder": self.encoder,
            "entropy": self.entropy,
            "decoder": nn.ModuleList([self.unmix, self.decoder]),
        }

    def device_modules(self) -> list[nn.Module]:
        return [self.head, self.attention, self.encoder]

    def edge_modules(self) -> list[nn.Module]:
        return [self.unmix, self.decoder, self.tail]

    def code_shape(self) -> tuple[int, int, int]:
        """Shape ``(planes, H / s, W / s)`` of the quantised symbols of one sample."""
        s = self.params.downsample
        return (self.planes, self.feature_shape[1] // s, self.feature_shape[2] // s)

    def mask_bytes(self) -> int:
        """Bytes of the per-sample channel mask (0 for global selection)."""
        return math.ceil(self.feature_shape[0] / 8) if self.params.selection == "per-sample" else 0

    # --- selection -----------------------------------------------------------------------------
    def _select(self, w: torch.Tensor) -> torch.Tensor:
        """Indices ``[B, k]`` (ascending) of the kept channels for attention weights ``[B, C]``."""
        k = self.params.k
        if self.params.selection == "per-sample":
            idx = w.detach().topk(k, dim=1).indices
        else:
            idx = self.global_index.expand(w.shape[0], k)  # symbolic batch under export
        return idx.sort(dim=1).values

    def _attend(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Rescaled and selected channels ``[B, k, H, W]`` and their indices ``[B, k]``."""
        scaled, w = self.attention(feature)
        if self.training:
            with torch.no_grad():
                self.importance.lerp_(
                    sharded_batch.batch_mean(w).to(self.importance.dtype), self.params.momentum
                )
                # keep the frozen ranking in step, so eval-mode passes between stages (batch-norm
                # recalibration, validation) select the channels training is using
                self.global_index.copy_(self.importance.topk(self.params.k).indices.sort().values)
        idx = self._select(w)
        h, wd = feature.shape[2:]
        sel = scaled.gather(1, idx[:, :, None, None].expand(-1, -1, h, wd))
        return sel, idx

    # --- training graph ------------------------------------------------------------------------
    def split_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None, path: str
    ) -> SystemOutput:
        sel, idx = self._attend(feature)
        width = self.feature_shape[0]
        if path == "attention":
            return SystemOutput(self.tail(_scatter_channels(sel, idx, width)))
        z = self.encoder(sel)
        u_noisy = self.quantizer(z, mode="noise")
        u_hard = self.quantizer(z, mode="ste")
        feature_hat = self._reconstruct(self.quantizer.dequantize(u_hard), idx)
        rate = self.entropy.estimate_bits(u_noisy) + 8.0 * self.mask_bytes()
        return SystemOutput(
            output=self.tail(feature_hat),
            rate_bits=rate,
            extras={"feature": feature, "feature_hat": feature_hat},
        )

    def _reconstruct(self, z_hat: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return self.decoder(_scatter_channels(self.unmix(z_hat), idx, self.feature_shape[0]))

    # --- the real thing --------------------------------------------------------------------------
    @property
    def code_model(self) -> FactorizedEntropyModel | ChannelContextEntropyModel:
        """The entropy model the payload bytes are coded with (and the estimate comes from)."""
        return self.entropy if self.coder is None else self.coder

    @torch.no_grad()
    def prepare_for_coding(self) -> None:
        self.global_index.copy_(self.importance.topk(self.params.k).indices.sort().values)
        self.entropy.update()
        if self.coder is not None and not bool(self.coder_fitted):
            # not fitted (yet): the coder codes with the trained density in every context
            log_pmf = self.entropy.pmf().clamp_min(1e-12).log().to(self.coder.logits.dtype)
            self.coder.logits.copy_(log_pmf[:, None, :].expand_as(self.coder.logits))
            self.coder.update()

    @torch.no_grad()
    def fit_coding(self, inputs: Iterable[torch.Tensor]) -> dict[str, float] | None:
        """With ``fit_context``: fit the coder's tables to the codes of ``inputs`` (training
        batches ``[B, C, H, W]``), by maximum likelihood. Returns the number of images fitted and
        their mean ideal code length under the trained and the fitted tables (bits)."""
        if self.coder is None:
            return None
        was_training = self.training
        self.eval()
        self.prepare_for_coding()
        device = self.model_device
        codes = [self.device_tensors(x.to(device))["symbols"].cpu() for x in inputs]
        if not codes:
            raise ValueError("aecnn.fit_coding: no training inputs to fit the coder's tables to")
        symbols = torch.cat(codes)
        trained_bits = float(self.entropy.table_bits(symbols).mean())
        self.coder.fit_tables(symbols)
        self.coder_fitted.fill_(True)
        self.train(was_training)
        return {
            "fitted_images": float(len(symbols)),
            "trained_table_bits": trained_bits,
            "fitted_table_bits": float(self.coder.table_bits(symbols).mean()),
        }

    @torch.no_grad()
    def device_tensors(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Head → attention → selection → encoder → quantiser on ``x`` ``[B, C, H, W]`` (eval
        mode): ``symbols`` int32 ``[B, *code_shape()]`` in ``0..2**bits - 1``, ``latent``
        float32 (same shape, the encoder output in ``[0, 1]`` before quantisation) and, for
        per-sample selection, ``index`` int64 ``[B, k]`` (kept channels, ascending)."""
        sel, idx = self._attend(self.head(x))
        latent = self.encoder(sel)
        out = {"symbols": self.quantizer.symbols(latent), "latent": latent}
        if self.params.selection == "per-sample":
            out["index"] = idx
        return out

    @torch.no_grad()
    def pack_payloads(self, tensors: dict[str, torch.Tensor]) -> list[Payload]:
        """ANS-code ``tensors["symbols"]`` (and pack ``tensors["index"]`` into a ``C``-bit mask
        for per-sample selection): one :class:`Payload` per sample."""
        per_sample = self.params.selection == "per-sample"
        self.require_tensors(tensors, ["symbols", "index"] if per_sample else ["symbols"])
        symbols = tensors["symbols"]
        if tuple(symbols.shape[1:]) != self.code_shape():
            raise ValueError(
                f"{self.name}: symbols of shape {tuple(symbols.shape)}, expected "
                f"[B, {', '.join(map(str, self.code_shape()))}]"
            )
        bodies = self.code_model.compress(symbols)
        params = {"b": self.params.bits, "k": self.params.k}
        shape = (self.code_shape(),)
        if not per_sample:
            return [Payload(self.name, shape, dict(params), (b,)) for b in bodies]
        idx = tensors["index"].cpu().numpy()
        width = self.feature_shape[0]
        bad = idx.size > 0 and (idx.min() < 0 or idx.max() >= width)
        if idx.shape != (len(bodies), self.params.k) or bad:
            raise ValueError(
                f"{self.name}: index must be [B, {self.params.k}] channel numbers in "
                f"0..{width - 1}, got shape {idx.shape}"
            )
        masks = np.zeros((len(idx), width), dtype=bool)
        np.put_along_axis(masks, idx, True, axis=1)
        if not (masks.sum(axis=1) == self.params.k).all():
            raise ValueError(f"{self.name}: index repeats a channel within a sample")
        packed = np.packbits(masks, axis=1)
        return [
            Payload(self.name, shape, dict(params), (b, packed[i].tobytes()))
            for i, b in enumerate(bodies)
        ]

    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        return self.pack_payloads(self.device_tensors(x))

    @torch.no_grad()
    def estimate_payload_bits(self, x: torch.Tensor) -> torch.Tensor:
        sel, _ = self._attend(self.head(x))
        u = self.quantizer(self.encoder(sel), mode="round")
        return self.code_model.estimate_bits(u) + 8.0 * self.mask_bytes()

    def _payload_index(self, payload: Payload) -> torch.Tensor:
        """Kept channel indices ``[k]`` of one validated payload."""
        if self.params.selection == "global":
            return self.global_index
        width = self.feature_shape[0]
        mask = np.unpackbits(np.frombuffer(payload.chunks[1], dtype=np.uint8))[:width]
        idx = np.flatnonzero(mask)
        if len(idx) != self.params.k:
            raise PayloadError(
                f"channel mask selects {len(idx)} channels, expected {self.params.k}"
            )
        return torch.from_numpy(idx.astype(np.int64))

    def payload_layout(self) -> PayloadLayout:
        chunks = 2 if self.params.selection == "per-sample" else 1
        params = {"b": self.params.bits, "k": self.params.k}
        labels = {"b": "quantiser bits", "k": "kept channels"}
        stream = self.code_model.max_stream_bytes(self.code_shape())
        bounds: tuple[Dim | int, ...] = (Dim(0, stream),)
        if chunks == 2:
            bounds += (self.mask_bytes(),)
        return PayloadLayout(
            self.name, (self.code_shape(),), chunks, params, labels, chunk_bytes=bounds
        )

    def check_payload_body(self, payload: Payload) -> None:
        if len(payload.chunks) == 2 and len(payload.chunks[1]) != self.mask_bytes():
            raise PayloadError(
                f"channel mask has {len(payload.chunks[1])} bytes, expected {self.mask_bytes()}"
            )

    @torch.no_grad()
    def edge_decode(self, payloads: Sequence[Payload]) -> torch.Tensor:
        for p in payloads:
            self.check_payload(p)
        device = self.model_device
        idx = torch.stack([self._payload_index(p).to(device) for p in payloads])
        symbols = self.code_model.decompress([p.chunks[0] for p in payloads], self.code_shape())
        return self.tail(self._reconstruct(self.quantizer.dequantize(symbols.to(device)), idx))

    def describe(self) -> dict:
        d = super().describe()
        d["payload_mask_bits"] = 8 * self.mask_bytes()
        return d
