"""A small video vision transformer for clips ``[B, C, T, H, W]`` as a :class:`SplitBackbone`.

The classifier of issue 18 (ViT_STAE) — the network every video system ends in. Stages:

* ``stem`` — :class:`Normalize` (0.5 / 0.25) and a 3×3×3 conv + BN + GELU at spatial stride 2
  (``[B, C, T, H, W] → [B, w, T, H/2, W/2]``): a convolutional stem makes a ViT train faster and
  more stably on little data than a linear patch embedding (Xiao et al., "Early convolutions help
  transformers see better", 2021);
* ``embed`` — tubelets of ``tubelet`` = ``(t, p, p)`` voxels of the stem's map, a linear projection
  to ``dim`` and fixed 3-D sine-cosine position codes (MAE-style, so any ``T × H × W`` whose sides
  divide works without resizing a learned table) → tokens ``[B, N, dim]``,
  ``N = T/t · H/(2p) · W/(2p)``;
* ``block1`` … ``block<depth>`` — pre-norm transformer encoder layers of
  :class:`torch.nn.TransformerEncoderLayer` (joint space-time attention, GELU MLP of ``4·dim``);
* ``head`` — layer norm, mean over the tokens, linear → logits ``[B, K]``.

Registered (:data:`semcom.backbones.OWN_BACKBONES`):

* ``video-vit`` (the default, for 16 × 32 × 32 clips): stem width 32, tubelet (2, 4, 4) →
  8 × 4 × 4 = 128 tokens of width 128, 4 layers of 4 heads; 0.93 M parameters;
* ``video-vit-tiny``: width 16, 64-wide tokens, 2 layers of 2 heads (tests, quick runs);
* ``frame-vit-16``: the per-frame control of ``video-vit`` for 16-frame clips (no temporal
  model: a 1×3×3 stem, one-frame tubelets, attention within frames, a bag-of-frames head), the
  evidence that motion, not appearance, decides a video set.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.backbones.base import Normalize, SplitBackbone

#: the input statistics every video backbone assumes (inputs in [0, 1]).
VIDEO_MEAN, VIDEO_STD = 0.5, 0.25


def sincos_position_codes(grid: tuple[int, int, int], dim: int) -> torch.Tensor:
    """Fixed 3-D sine-cosine position codes ``[T·H·W, dim]`` of a token grid ``(T, H, W)``
    (row-major, time slowest): a third of the channels (rounded down to an even number) per
    axis, the rest zero.

    >>> sincos_position_codes((2, 3, 4), 48).shape
    torch.Size([24, 48])
    """
    per_axis = (dim // 3) // 2 * 2
    codes = []
    axes = torch.meshgrid(*[torch.arange(n, dtype=torch.float32) for n in grid], indexing="ij")
    for position in axes:
        freq = 1.0 / (10000 ** (torch.arange(per_axis // 2, dtype=torch.float32) / (per_axis // 2)))
        angle = position.reshape(-1, 1) * freq[None]
        codes += [angle.sin(), angle.cos()]
    out = torch.cat(codes, dim=1)
    return nn.functional.pad(out, (0, dim - out.shape[1]))


class ConvStem(nn.Module):
    """Normalise, then 3×3×3 conv (spatial stride 2) + BN + GELU:
    ``[B, C, T, H, W] → [B, width, T, H/2, W/2]``."""

    def __init__(self, in_channels: int, width: int, temporal: bool = True) -> None:
        super().__init__()
        self.normalize = Normalize((VIDEO_MEAN,) * in_channels, (VIDEO_STD,) * in_channels)
        kernel = (3 if temporal else 1, 3, 3)
        padding = (1 if temporal else 0, 1, 1)
        self.conv = nn.Conv3d(in_channels, width, kernel, (1, 2, 2), padding, bias=False)
        self.bn = nn.BatchNorm3d(width)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"a video backbone takes clips [B, C, T, H, W], got {list(x.shape)}")
        return self.act(self.bn(self.conv(self.normalize(x))))


class TubeletEmbedding(nn.Module):
    """Tubelets of ``tubelet`` voxels → tokens ``[B, N, dim]`` with position codes added."""

    def __init__(
        self, width: int, dim: int, tubelet: tuple[int, int, int], temporal: bool = True
    ) -> None:
        super().__init__()
        self.tubelet = tubelet
        self.proj = nn.Conv3d(width, dim, tubelet, tubelet)
        self.dim = dim
        #: ``False``: every frame gets the same codes (no token knows its time).
        self.temporal = temporal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = x.shape[2:]
        if any(s % k for s, k in zip(sizes, self.tubelet, strict=True)):
            raise ValueError(
                f"the stem's map {list(sizes)} (T, H/2, W/2) is not divisible by the tubelet "
                f"{list(self.tubelet)}: use clips whose frames and sides divide"
            )
        tokens = self.proj(x)  # [B, dim, t, h, w]
        t, h, w = tokens.shape[2:]
        codes = sincos_position_codes((t if self.temporal else 1, h, w), self.dim)
        codes = codes.repeat(1 if self.temporal else t, 1).to(tokens.device, tokens.dtype)
        return tokens.flatten(2).transpose(1, 2) + codes


class FrameWiseLayer(nn.Module):
    """A transformer layer applied to each frame's tokens on their own: ``[B, t·n, dim]`` with
    ``frames = t`` → attention only among the ``n`` tokens of one frame."""

    def __init__(self, layer: nn.Module, frames: int) -> None:
        super().__init__()
        self.layer = layer
        self.frames = frames

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        b, n, d = tokens.shape
        t = self.frames
        if n % t:
            raise ValueError(f"{n} tokens are not {t} frames of equal size")
        return self.layer(tokens.reshape(b * t, n // t, d)).reshape(b, n, d)


class TokenPoolHead(nn.Module):
    """Layer norm, mean over tokens, linear: ``[B, N, dim] → [B, K]``."""

    def __init__(self, dim: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(tokens).mean(dim=1))


def video_vit(
    in_channels: int,
    num_classes: int,
    *,
    width: int = 32,
    dim: int = 128,
    depth: int = 4,
    heads: int = 4,
    tubelet: tuple[int, int, int] = (2, 4, 4),
    dropout: float = 0.0,
    frames: int | None = None,
) -> SplitBackbone:
    """The video ViT of the module docstring. ``frames`` set: the per-frame control (no temporal
    model): the stem is 1×3×3, tubelets one frame deep, no temporal position codes, attention
    within each of the ``frames`` frames, and the head's mean over tokens is a bag of frames —
    the order of the frames cannot matter.

    >>> net = video_vit(3, 10)
    >>> net(torch.zeros(2, 3, 16, 32, 32)).shape
    torch.Size([2, 10])
    >>> net.feature_shape("embed", (3, 16, 32, 32))
    (128, 128)
    """
    if dim % heads:
        raise ValueError(f"dim {dim} is not a multiple of heads {heads}")
    per_frame = frames is not None
    if per_frame:
        tubelet = (1, tubelet[1], tubelet[2])
    stages: list[tuple[str, nn.Module]] = [
        ("stem", ConvStem(in_channels, width, temporal=not per_frame)),
        ("embed", TubeletEmbedding(width, dim, tubelet, temporal=not per_frame)),
    ]
    for i in range(depth):
        layer: nn.Module = nn.TransformerEncoderLayer(
            dim, heads, 4 * dim, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        if frames is not None:
            layer = FrameWiseLayer(layer, frames)
        stages.append((f"block{i + 1}", layer))
    stages.append(("head", TokenPoolHead(dim, num_classes)))
    net = SplitBackbone(stages)
    for module in net.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
    return net
