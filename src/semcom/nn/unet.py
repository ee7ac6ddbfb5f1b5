"""A UNet deep-JSCC codec with a configurable number of downsampling stages, CBAM attention and a
channel-use budget (the codec of LSSC, arXiv 2401.07329, and its UNet baseline).

**Encoder** (device), for ``depth`` ``k`` in ``1..4`` and widths ``w_i = min(width · 2^i,
max_width)``::

    x [B, C, H, W] in [0, 1] → pad to a multiple of 2^k → 2x - 1
    stage 0:          ConvBlock(C → w_0)                      [B, w_0, H', W']
    stage i = 1..k:   MaxPool 2×2 → ConvBlock(w_{i-1} → w_i)  [B, w_i, H'/2^i, W'/2^i]
    (CBAM after every stage when ``cbam``; an SNR gate after stage k when ``snr_adaptive``)
    code:             1×1 conv w_k → c                       [B, c, H'/2^k, W'/2^k]

``ConvBlock`` is two (3×3 conv → batch norm → ReLU). **Decoder** (edge) mirrors it: 3×3 conv
``c → w_k`` (+ the SNR gate), then for ``i = k..1`` a 2×2 transposed conv ``w_i → w_{i-1}``, the
stage-``i-1`` skip concatenated when skips are transmitted, and a ``ConvBlock`` back to
``w_{i-1}``; a 1×1 conv gives ``out_channels`` maps, cropped back to ``H × W``: an image through
a sigmoid (``output="image"``, values in ``[0, 1]``) or raw per-pixel class logits
(``output="logits"``, segmentation).

**Sizes not divisible by 2^k** (e.g. 28×28 at ``k = 3``): the encoder pads the input on the
bottom/right by edge replication to ``H' = 2^k ceil(H / 2^k)`` (same for ``W``); the decoder
crops its output back to ``H × W``. Channel uses are budgeted on the *unpadded* image.

**Channel uses** (complex symbols per sample; two reals make one symbol):

* the code's budget is ``S = round(cbr · C · H · W)`` symbols, i.e. ``2S`` reals; the code has
  ``c = ceil(2S / (h_k · w_k))`` channels over the ``h_k × w_k`` bottleneck positions, and exactly
  its first ``2S`` reals (row-major ``c, h, w``) are sent — when ``h_k · w_k`` does not divide
  ``2S`` the last channel is only partly sent and the decoder fills its unsent tail with zeros;
* ``skips="dropped"``: nothing else is sent, so ``channel_uses = S`` for every depth;
* ``skips="transmitted"``: each encoder stage ``i < k`` output is compressed by a 1×1 conv to
  ``skip_channels`` planes and all of them are sent too, so ``channel_uses = ceil((2S + Σ_i
  skip_channels · h_i · w_i) / 2)``; the decoder expands them back with 1×1 convs.

Everything crosses the link as one real vector ``[B, reals]`` (code first, then the skips from
the highest resolution down), power-normalised as a whole by :class:`~semcom.nn.jscc.JSCCLink`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from semcom.nn.cbam import CBAM
from semcom.nn.jscc import JSCCLink, bandwidth_ratio, channel_uses_for
from semcom.nn.snr_adaptive import SNRAdaptiveGate

SkipMode = Literal["dropped", "transmitted"]
OutputKind = Literal["image", "logits"]
DEPTHS = (1, 2, 3, 4)
SKIP_MODES = ("dropped", "transmitted")
#: SNR (dB) an SNR-adaptive gate is told when the codec runs without a channel.
NOISELESS_SNR_DB = 40.0
#: bottleneck factor of the CBAM channel MLPs inside the codec.
CBAM_REDUCTION = 8


@dataclass(frozen=True)
class UNetLayout:
    """Geometry and channel-use budget of a :class:`UNetCodec` (see the module docstring).

    Attributes:
        in_channels, image_size: the source image ``C``, ``(H, W)``.
        depth: downsampling stages ``k``.
        widths: ``(w_0, ..., w_k)``, feature planes of encoder stages ``0..k``.
        padded_size: ``(H', W')``, the input padded to a multiple of ``2^k``.
        code_channels: ``c``, planes of the code at the bottleneck.
        code_reals: reals of the code that are sent (``2S``).
        skip_channels: planes sent per skip (0 when skips are dropped).
    """

    in_channels: int
    image_size: tuple[int, int]
    depth: int
    widths: tuple[int, ...]
    padded_size: tuple[int, int]
    code_channels: int
    code_reals: int
    skip_channels: int

    def stage_size(self, i: int) -> tuple[int, int]:
        """``(h_i, w_i)`` of encoder stage ``i`` (``0`` = full padded resolution)."""
        return self.padded_size[0] >> i, self.padded_size[1] >> i

    @property
    def bottleneck_size(self) -> tuple[int, int]:
        """``(h_k, w_k)``: positions of the code."""
        return self.stage_size(self.depth)

    @property
    def code_shape(self) -> tuple[int, int, int]:
        """``(c, h_k, w_k)``: the encoder's last layer output for one sample."""
        return (self.code_channels, *self.bottleneck_size)

    @property
    def skip_shapes(self) -> tuple[tuple[int, int, int], ...]:
        """Per-sample shapes of the transmitted skips, stage ``0..k-1`` (empty when dropped)."""
        if not self.skip_channels:
            return ()
        return tuple((self.skip_channels, *self.stage_size(i)) for i in range(self.depth))

    @property
    def skip_reals(self) -> int:
        """Reals of the transmitted skips per sample (0 when dropped)."""
        return sum(math.prod(s) for s in self.skip_shapes)

    @property
    def reals(self) -> int:
        """Reals sent per sample: code + skips."""
        return self.code_reals + self.skip_reals

    @property
    def code_channel_uses(self) -> int:
        """Complex symbols of the code alone (``S``)."""
        return channel_uses_for(self.code_reals)

    @property
    def channel_uses(self) -> int:
        """Complex symbols per sample of the whole transmission (code + skips)."""
        return channel_uses_for(self.reals)

    @property
    def source_elements(self) -> int:
        """``C·H·W`` of the unpadded source image."""
        return self.in_channels * self.image_size[0] * self.image_size[1]

    @property
    def bandwidth_ratio(self) -> float:
        """Actual channel bandwidth ratio: channel uses per source element."""
        return bandwidth_ratio(self.channel_uses, self.source_elements)


def unet_layout(
    in_channels: int,
    image_size: tuple[int, int],
    *,
    depth: int,
    width: int = 16,
    max_width: int = 256,
    cbr: float = 0.25,
    skips: SkipMode = "dropped",
    skip_channels: int = 1,
) -> UNetLayout:
    """The :class:`UNetLayout` for a codec of the given configuration.

    >>> lay = unet_layout(3, (32, 32), depth=2, cbr=0.25)
    >>> lay.code_shape, lay.channel_uses, lay.widths
    ((24, 8, 8), 768, (16, 32, 64))
    >>> unet_layout(1, (28, 28), depth=3, cbr=0.25).code_shape  # 392 reals over 4×4: 24.5 planes
    (25, 4, 4)
    """
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {', '.join(map(str, DEPTHS))}, got {depth!r}")
    if skips not in SKIP_MODES:
        raise ValueError(f"skips must be one of {', '.join(SKIP_MODES)}, got {skips!r}")
    if width < 1 or max_width < width:
        raise ValueError(f"need 1 <= width <= max_width, got width={width}, max_width={max_width}")
    if not cbr > 0:
        raise ValueError(f"cbr must be > 0 (complex symbols per source element), got {cbr}")
    if skips == "transmitted" and skip_channels < 1:
        raise ValueError(f"skip_channels must be >= 1 with transmitted skips, got {skip_channels}")
    h, w = (int(s) for s in image_size)
    unit = 2**depth
    padded = (unit * math.ceil(h / unit), unit * math.ceil(w / unit))
    symbols = max(1, round(cbr * in_channels * h * w))
    positions = (padded[0] // unit) * (padded[1] // unit)
    return UNetLayout(
        in_channels=int(in_channels),
        image_size=(h, w),
        depth=depth,
        widths=tuple(min(width * 2**i, max_width) for i in range(depth + 1)),
        padded_size=padded,
        code_channels=math.ceil(2 * symbols / positions),
        code_reals=2 * symbols,
        skip_channels=skip_channels if skips == "transmitted" else 0,
    )


class ConvBlock(nn.Sequential):
    """Two (3×3 conv → batch norm → ReLU): ``[B, in_ch, H, W] → [B, out_ch, H, W]``."""

    def __init__(self, in_ch: int, out_ch: int) -> None:
        super().__init__(
            nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_ch),
            nn.ReLU(inplace=True),
        )


def _snr_or_noiseless(snr_db: float | torch.Tensor | None) -> float | torch.Tensor:
    return NOISELESS_SNR_DB if snr_db is None else snr_db


class UNetEncoder(nn.Module):
    """Device half: images ``[B, C, H, W]`` in ``[0, 1]`` → the reals sent, ``[B, layout.reals]``
    (code first, then the compressed skips). See the module docstring."""

    def __init__(self, layout: UNetLayout, *, cbam: bool = True, snr_adaptive: bool = False):
        super().__init__()
        self.layout = layout
        widths = layout.widths
        stages: list[nn.Module] = [ConvBlock(layout.in_channels, widths[0])]
        stages += [
            nn.Sequential(nn.MaxPool2d(2), ConvBlock(widths[i - 1], widths[i]))
            for i in range(1, layout.depth + 1)
        ]
        self.stages = nn.ModuleList(stages)
        self.attention = nn.ModuleList(
            CBAM(w, reduction=CBAM_REDUCTION) if cbam else nn.Identity() for w in widths
        )
        self.gate = SNRAdaptiveGate(widths[-1]) if snr_adaptive else None
        self.to_code = nn.Conv2d(widths[-1], layout.code_channels, 1)
        self.skip_proj = nn.ModuleList(
            nn.Conv2d(widths[i], layout.skip_channels, 1) for i in range(len(layout.skip_shapes))
        )

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Outputs of encoder stages ``0..k`` for images ``[B, C, H, W]`` (padded internally)."""
        lay = self.layout
        if tuple(x.shape[1:]) != (lay.in_channels, *lay.image_size):
            raise ValueError(
                f"UNet encoder built for [B, {lay.in_channels}, {lay.image_size[0]}, "
                f"{lay.image_size[1]}] images, got {list(x.shape)}"
            )
        pad_h, pad_w = lay.padded_size[0] - x.shape[2], lay.padded_size[1] - x.shape[3]
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        h = x * 2.0 - 1.0
        feats = []
        for stage, attention in zip(self.stages, self.attention, strict=True):
            h = attention(stage(h))
            feats.append(h)
        return feats

    def forward(self, x: torch.Tensor, snr_db: float | torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``[B, C, H, W]`` in ``[0, 1]``; ``snr_db`` (float or ``[B]``, dB) only matters
        with ``snr_adaptive`` (``None``: the noiseless setting) → reals ``[B, layout.reals]``."""
        feats = self.features(x)
        h = feats[-1]
        if self.gate is not None:
            h = self.gate(h, _snr_or_noiseless(snr_db))
        parts = [self.to_code(h).flatten(1)[:, : self.layout.code_reals]]
        parts += [proj(f).flatten(1) for proj, f in zip(self.skip_proj, feats, strict=False)]
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]


class UNetDecoder(nn.Module):
    """Edge half: received reals ``[B, layout.reals]`` → ``[B, out_channels, H, W]`` (an image in
    ``[0, 1]`` for ``output="image"``, class logits for ``output="logits"``)."""

    def __init__(
        self,
        layout: UNetLayout,
        out_channels: int,
        *,
        output: OutputKind = "image",
        snr_adaptive: bool = False,
    ) -> None:
        super().__init__()
        if output not in ("image", "logits"):
            raise ValueError(f"output must be 'image' or 'logits', got {output!r}")
        self.layout = layout
        self.output = output
        widths = layout.widths
        self.from_code = nn.Sequential(
            nn.Conv2d(layout.code_channels, widths[-1], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[-1]),
            nn.ReLU(inplace=True),
        )
        self.gate = SNRAdaptiveGate(widths[-1]) if snr_adaptive else None
        skip = bool(layout.skip_channels)
        self.skip_unproj = nn.ModuleList(
            nn.Conv2d(layout.skip_channels, widths[i], 1) for i in range(len(layout.skip_shapes))
        )
        # index j of ups / blocks builds stage i = k - j (from the bottleneck up)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(widths[i], widths[i - 1], 2, stride=2)
            for i in range(layout.depth, 0, -1)
        )
        self.blocks = nn.ModuleList(
            ConvBlock(widths[i - 1] * (2 if skip else 1), widths[i - 1])
            for i in range(layout.depth, 0, -1)
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def unpack(self, reals: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Split ``[B, layout.reals]`` into the code ``[B, c, h_k, w_k]`` (unsent tail zeroed)
        and the skips ``[B, skip_channels, h_i, w_i]``, ``i = 0..k-1``."""
        lay = self.layout
        if reals.dim() != 2 or reals.shape[1] != lay.reals:
            raise ValueError(f"UNet decoder takes [B, {lay.reals}] reals, got {list(reals.shape)}")
        b = reals.shape[0]
        code = reals[:, : lay.code_reals]
        missing = math.prod(lay.code_shape) - lay.code_reals
        if missing:
            code = F.pad(code, (0, missing))
        skips = []
        start = lay.code_reals
        for shape in lay.skip_shapes:
            n = math.prod(shape)
            skips.append(reals[:, start : start + n].reshape(b, *shape))
            start += n
        return code.reshape(b, *lay.code_shape), skips

    def forward(
        self, reals: torch.Tensor, snr_db: float | torch.Tensor | None = None
    ) -> torch.Tensor:
        """``reals`` ``[B, layout.reals]`` (received, power-normalised domain); ``snr_db`` only
        matters with ``snr_adaptive`` → ``[B, out_channels, H, W]``."""
        code, skips = self.unpack(reals)
        h = self.from_code(code)
        if self.gate is not None:
            h = self.gate(h, _snr_or_noiseless(snr_db))
        for j, (up, block) in enumerate(zip(self.ups, self.blocks, strict=True)):
            h = up(h)
            i = self.layout.depth - 1 - j  # the stage this block rebuilds
            if skips:
                h = torch.cat([h, self.skip_unproj[i](skips[i])], dim=1)
            h = block(h)
        out = self.head(h)[:, :, : self.layout.image_size[0], : self.layout.image_size[1]]
        return torch.sigmoid(out) if self.output == "image" else out


class UNetCodec(nn.Module):
    """Encoder + analog link + decoder of one UNet deep-JSCC codec.

    Args:
        in_channels, image_size: source images ``[B, C, H, W]``.
        out_channels: decoder output planes (``C`` for an image, ``K`` classes for logits).
        depth: downsampling stages ``k`` in ``1..4``.
        width: planes of stage 0 (doubling per stage, capped at ``max_width``).
        cbam: CBAM after every encoder stage.
        skips: ``"dropped"`` (plain encoder-decoder) or ``"transmitted"`` (compressed skips sent
            and counted in the channel uses).
        skip_channels: planes per transmitted skip.
        cbr: target channel bandwidth ratio of the code (complex symbols per source element).
        snr_adaptive: SNR gates at the bottleneck of encoder and decoder.
        output: ``"image"`` (sigmoid) or ``"logits"``.
        channel: the link's channel (module or :func:`~semcom.nn.jscc.link_channel` name).

    >>> codec = UNetCodec(3, (32, 32), 3, depth=2)
    >>> codec(torch.rand(2, 3, 32, 32), torch.tensor([0.0, 10.0])).shape, codec.channel_uses
    (torch.Size([2, 3, 32, 32]), 768)
    """

    def __init__(
        self,
        in_channels: int,
        image_size: tuple[int, int],
        out_channels: int,
        *,
        depth: int,
        width: int = 16,
        max_width: int = 256,
        cbam: bool = True,
        skips: SkipMode = "dropped",
        skip_channels: int = 1,
        cbr: float = 0.25,
        snr_adaptive: bool = False,
        output: OutputKind = "image",
        channel: nn.Module | str = "awgn",
    ) -> None:
        super().__init__()
        self.layout = unet_layout(
            in_channels,
            image_size,
            depth=depth,
            width=width,
            max_width=max_width,
            cbr=cbr,
            skips=skips,
            skip_channels=skip_channels,
        )
        self.encoder = UNetEncoder(self.layout, cbam=cbam, snr_adaptive=snr_adaptive)
        self.decoder = UNetDecoder(
            self.layout, out_channels, output=output, snr_adaptive=snr_adaptive
        )
        self.link = JSCCLink(channel)

    @property
    def channel_uses(self) -> int:
        """Complex channel symbols per sample (code + transmitted skips)."""
        return self.layout.channel_uses

    def transmit(
        self,
        reals: torch.Tensor,
        snr_db: float | torch.Tensor | None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Encoder reals ``[B, reals]`` over the link at ``snr_db`` (float or ``[B]``, dB);
        ``None`` is a noiseless link (power normalisation only)."""
        if snr_db is None:
            return self.link.decode(self.link.encode(reals), reals.shape).to(reals.dtype)
        return self.link(reals, snr_db, generator=generator)

    def forward(
        self,
        x: torch.Tensor,
        snr_db: float | torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``x`` ``[B, C, H, W]`` in ``[0, 1]`` → decoder output ``[B, out_channels, H, W]``."""
        received = self.transmit(self.encoder(x, snr_db), snr_db, generator)
        return self.decoder(received, snr_db)
