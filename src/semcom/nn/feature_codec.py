"""A learned, quantised and entropy-coded code of a split feature, sendable as *truncated* bytes.

``FeatureCodec(width, channels, bits, downsample)`` maps a split feature ``[B, width, H, W]`` to
``channels`` planes at ``H/s × W/s`` (1×1 conv, optional stride-``s`` 3×3 conv, BN, sigmoid), a
uniform ``bits``-bit quantiser on ``[0, 1]`` and a factorised entropy model per plane; the decoder
undoes it (optional transposed conv, 1×1 conv + BN + ReLU back to ``width``).

**Plane prefixes.** A digital link may have room for only part of the code, so the planes are
ordered by importance *by training*: in training mode, for half of the samples a random number
``m`` of leading planes is kept and the rest is replaced by :data:`MISSING_FILL` (nested
dropout), exactly what the receiver substitutes for planes it did not get. The coder then sends
the longest prefix that fits a byte budget (:meth:`fit_prefix`): one byte ``m`` followed by the
ANS stream of planes ``0..m-1`` under their own tables. Missing planes are marked ``-1`` in the
decoded symbols.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from semcom import sharded_batch
from semcom.coding import FactorizedEntropyModel, UniformQuantizer
from semcom.coding.ans import CategoricalCoder, CodingError

#: encoder-output value (in ``[0, 1]``) that stands in for a plane that was not received.
MISSING_FILL = 0.5
#: fraction of training samples whose code is truncated to a random plane prefix.
PREFIX_DROPOUT = 0.5


class FeatureCodec(nn.Module):
    """See the module docstring.

    Args:
        width: channels of the split feature.
        channels: planes of the code (at most 255, the prefix length is one byte).
        bits: quantiser bits per element.
        downsample: spatial stride ``s`` of the code (1, 2 or 4; must divide ``H`` and ``W``).
    """

    def __init__(self, width: int, channels: int, bits: int, downsample: int = 1) -> None:
        super().__init__()
        if not 1 <= channels <= 255:
            raise ValueError(f"channels must be in 1..255, got {channels}")
        self.channels, self.bits, self.downsample = channels, bits, downsample
        enc: list[nn.Module] = [nn.Conv2d(width, channels, 1)]
        dec: list[nn.Module] = []
        if downsample > 1:
            enc.append(nn.Conv2d(channels, channels, 3, stride=downsample, padding=1))
            dec += [
                nn.ConvTranspose2d(channels, channels, downsample, stride=downsample),
                nn.ReLU(inplace=True),
            ]
        self.encoder = nn.Sequential(*enc, nn.BatchNorm2d(channels), nn.Sigmoid())
        self.quantizer = UniformQuantizer(bits, 0.0, 1.0)
        self.entropy = FactorizedEntropyModel(channels, 2**bits)
        self.decoder = nn.Sequential(
            *dec, nn.Conv2d(channels, width, 1), nn.BatchNorm2d(width), nn.ReLU(inplace=True)
        )
        self._prefix_coders: dict[int, CategoricalCoder] = {}
        self._coder_key: tuple[int, int] | None = None

    def code_shape(self, feature_hw: tuple[int, int]) -> tuple[int, int, int]:
        """``(channels, H/s, W/s)`` of the code of a feature with spatial size ``feature_hw``."""
        s = self.downsample
        return (self.channels, feature_hw[0] // s, feature_hw[1] // s)

    # --- training graph ------------------------------------------------------------------------
    def forward(self, feature: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Feature ``[B, width, H, W]`` → (reconstruction ``[B, width, H, W]`` through the
        straight-through quantiser, estimated bits ``[B]`` of the whole code). In training mode
        half of the samples lose a random suffix of planes (module docstring)."""
        z = self.encoder(feature)
        rate = self.entropy.estimate_bits(self.quantizer(z, mode="noise"))
        z_hat = self.quantizer.dequantize(self.quantizer(z, mode="ste"))
        if self.training:
            b, c = z.shape[:2]
            keep = sharded_batch.randint(1, c + 1, (b, 1), device=z.device)
            dropped = sharded_batch.rand((b, 1), device=z.device) < PREFIX_DROPOUT
            keep = torch.where(dropped, keep, c)
            present = torch.arange(c, device=z.device)[None, :] < keep
            z_hat = torch.where(present[:, :, None, None], z_hat, MISSING_FILL)
        return self.decoder(z_hat), rate

    # --- real coding -----------------------------------------------------------------------------
    @torch.no_grad()
    def symbols(self, feature: torch.Tensor) -> torch.Tensor:
        """Integer symbols int32 ``[B, channels, H/s, W/s]`` of a feature (eval mode)."""
        return self.quantizer.symbols(self.encoder(feature))

    @torch.no_grad()
    def reconstruct(self, symbols: torch.Tensor) -> torch.Tensor:
        """Symbols ``[B, channels, h, w]`` (``-1`` = plane not received) → feature
        ``[B, width, H, W]``."""
        z = self.quantizer.dequantize(symbols.clamp(min=0).float())
        return self.decoder(torch.where(symbols >= 0, z, MISSING_FILL))

    def _coder(self, m: int) -> CategoricalCoder:
        self.entropy._get_coder()  # raises the "call update()" error when tables are missing
        table = self.entropy.pmf_table
        key = (table.data_ptr(), table._version)
        if key != self._coder_key:
            self._prefix_coders, self._coder_key = {}, key
        if m not in self._prefix_coders:
            pmf = table[:m].cpu().numpy()
            self._prefix_coders[m] = CategoricalCoder(pmf, self.entropy.precision)
        return self._prefix_coders[m]

    def fit_prefix(self, symbols: torch.Tensor, budget: int) -> tuple[bytes | None, int]:
        """The longest plane prefix of one sample's symbols ``[channels, h, w]`` whose bytes (one
        byte ``m`` + ANS stream) fit ``budget`` bytes → ``(bytes, m)``; ``(None, 0)`` if not even
        one plane fits."""
        sym = symbols.reshape(self.channels, -1).cpu().numpy().astype(np.int32)
        m = self.channels
        while m >= 1 and budget >= 2:
            data = bytes([m]) + self._coder(m).encode(sym[:m])
            if len(data) <= budget:
                return data, m
            m -= 1
        return None, 0

    def parse_prefix(self, data: bytes, shape: tuple[int, int, int]) -> torch.Tensor | None:
        """Bytes from :meth:`fit_prefix` → symbols int32 ``shape`` with ``-1`` for planes not
        sent; ``None`` if the bytes are not such a stream (damaged or foreign)."""
        c, h, w = shape
        if len(data) < 1 or not 1 <= data[0] <= c:
            return None
        m = data[0]
        try:
            sym = self._coder(m).decode(data[1:], h * w)
        except (CodingError, ValueError):
            return None
        out = np.full((c, h * w), -1, dtype=np.int32)
        out[:m] = np.asarray(sym).reshape(m, h * w)
        return torch.from_numpy(out).reshape(c, h, w)

    def extra_repr(self) -> str:
        return f"channels={self.channels}, bits={self.bits}, downsample={self.downsample}"


def code_elements(shape: tuple[int, int, int]) -> int:
    """Symbols in one sample's code of ``shape``."""
    return math.prod(shape)
