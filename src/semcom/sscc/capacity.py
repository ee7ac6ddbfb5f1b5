"""The capacity bound: an ideal, error-free channel code at the Shannon capacity.

A sample of ``n_cu`` channel uses at average SNR ``snr`` (linear) carries

    bits = n_cu · log2(1 + snr · |h|^2)

with ``|h|^2 = 1`` on AWGN and the sample's own gain on block fading; on fast fading (one gain per
symbol) the per-symbol capacities are averaged: ``bits = n_cu · mean_k log2(1 + snr · |h_k|^2)``
(:func:`capacity_bits`). The source is then coded at the best quality that fits
``floor(bits / 8)`` bytes, with no header or CRC overhead (the bound's idealisation).

Nothing physical crosses the channel in this bound, but the analog interface
(``analog_encode → symbols [B, n_cu] → analog_decode``) still needs a tensor of symbols. It is a
**genie container** (:func:`pack_bytes` / :func:`unpack_bytes`): the bytes, stored exactly as
integers below ``2^24`` in the float32 real and imaginary parts (3 bytes per real, so at most
``6 n_cu - 3`` bytes, i.e. 48 bits per channel use, which caps the bound at SNR ≈ 144 dB). It must
never cross a noisy channel: the capacity system's ``transmit`` only uses the channel to draw
the gains.

>>> [round(b, 3) for b in capacity_bits(100, torch.tensor([0.0, 10.0])).tolist()]
[100.0, 345.943]
>>> unpack_bytes(pack_bytes([b"abc", None], 4))
[b'abc', None]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

#: Bytes one complex genie symbol carries (3 per float32 part).
GENIE_BYTES_PER_SYMBOL = 6


def capacity_bits(
    n_cu: int, snr_db: torch.Tensor | float, gain: torch.Tensor | None = None
) -> torch.Tensor:
    """Ideal bits per sample, float64 ``[B]``: ``n_cu · mean_k log2(1 + 10^(snr_db/10) · g_k)``.

    ``snr_db``: float or ``[B]`` average SNR in dB; ``gain``: power gains ``|h|^2`` ``[B, 1]``
    (block) or ``[B, n]`` (fast fading, averaged over the symbols), ``None`` for AWGN.
    """
    snr = torch.as_tensor(snr_db, dtype=torch.float64).reshape(-1, 1)
    g = torch.ones(1, 1, dtype=torch.float64) if gain is None else gain.to(torch.float64)
    if g.dim() == 1:
        g = g[:, None]
    per_use = torch.log2(1.0 + torch.pow(10.0, snr / 10.0) * g)
    return n_cu * per_use.mean(dim=1)


def genie_capacity_bytes(n_cu: int) -> int:
    """Largest byte string :func:`pack_bytes` can store in ``n_cu`` symbols."""
    return max(0, 3 * (2 * n_cu - 1))


def pack_bytes(datas: Sequence[bytes | None], n_cu: int) -> torch.Tensor:
    """Genie container complex64 ``[B, n_cu]`` holding one byte string (or ``None``) per sample.

    Layout of the ``2 n_cu`` float32 parts (real, imag, real, ...): part 0 = ``len + 1``
    (``0`` = nothing sent), then 3 bytes per part as the integer ``b0·2^16 + b1·2^8 + b2``.
    """
    cap = genie_capacity_bytes(n_cu)
    out = np.zeros((len(datas), 2 * n_cu), dtype=np.float32)
    for i, data in enumerate(datas):
        if data is None:
            continue
        if len(data) > cap:
            raise ValueError(f"{len(data)} bytes exceed the genie container's {cap}")
        raw = np.zeros(3 * ((len(data) + 2) // 3), dtype=np.int64)
        raw[: len(data)] = np.frombuffer(data, dtype=np.uint8)
        words = (raw[0::3] << 16) | (raw[1::3] << 8) | raw[2::3]
        out[i, 0] = len(data) + 1
        out[i, 1 : 1 + len(words)] = words.astype(np.float32)
    return torch.view_as_complex(torch.from_numpy(out).reshape(len(datas), n_cu, 2).contiguous())


def unpack_bytes(container: torch.Tensor) -> list[bytes | None]:
    """Inverse of :func:`pack_bytes`: complex ``[B, n_cu]`` → one ``bytes`` (or ``None``) each."""
    parts = torch.view_as_real(container.to(torch.complex64)).reshape(len(container), -1)
    arr = parts.detach().cpu().numpy().astype(np.int64)
    out: list[bytes | None] = []
    for row in arr:
        length = int(row[0]) - 1
        if length < 0:
            out.append(None)
            continue
        words = row[1 : 1 + (length + 2) // 3]
        raw = np.stack([(words >> 16) & 255, (words >> 8) & 255, words & 255], axis=1)
        out.append(raw.reshape(-1)[:length].astype(np.uint8).tobytes())
    return out
