"""Framing of one sample's source bytes into the fixed payload of its codewords, and back.

A sample's payload is ``capacity_bytes`` bytes (see :class:`~semcom.sscc.layout.BlockLayout`),
split in order over its ``C`` codewords of ``bytes_per_block`` bytes each::

    [ length L (header_bytes, big-endian) | L source bytes | zero padding ]

On reception each codeword's CRC says whether its bytes are right. :func:`deframe` then behaves
as a receiver would:

* the source bytes are **intact** when the codewords holding the header and the ``L`` source bytes
  all pass their CRC (failures in padding-only codewords do not matter);
* otherwise, with ``on_error="drop"`` the sample gets no data (``None``); with
  ``on_error="zero-fill"`` the bytes of the failed codewords are replaced by zeros and handed to
  the source decoder anyway — all ``source_bytes`` of them if the header itself was lost.

Bits are most-significant first within a byte (``numpy.unpackbits`` order).

>>> from semcom.sscc.layout import plan_layout
>>> from semcom.sscc.mcs import MCS
>>> lay = plan_layout(200, MCS(4, 0.5))
>>> p = frame(b"hello", lay)
>>> len(p) == lay.capacity_bytes, deframe(p, [True] * lay.num_blocks, lay, "drop")
(True, Deframed(data=b'hello', intact=True))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from semcom.sscc.layout import BlockLayout

OnError = Literal["drop", "zero-fill"]
ON_ERROR_MODES: tuple[str, ...] = ("drop", "zero-fill")


def bytes_to_bits(data: np.ndarray) -> torch.Tensor:
    """uint8 array ``[..., L]`` → float32 bits ``[..., 8 L]`` (0./1., MSB first)."""
    return torch.from_numpy(np.unpackbits(np.asarray(data, dtype=np.uint8), axis=-1)).float()


def bits_to_bytes(bits: torch.Tensor) -> np.ndarray:
    """Bits ``[..., 8 L]`` (any real dtype, values 0/1) → uint8 array ``[..., L]``."""
    b = bits.detach().cpu().numpy() > 0.5
    return np.packbits(b, axis=-1)


def frame(data: bytes, layout: BlockLayout) -> np.ndarray:
    """The payload ``uint8 [capacity_bytes]`` carrying ``data`` (header + data + zero padding).

    Raises ``ValueError`` if ``data`` is longer than ``layout.source_bytes``.
    """
    if len(data) > layout.source_bytes:
        raise ValueError(
            f"{len(data)} source bytes do not fit the layout's {layout.source_bytes}-byte budget"
        )
    out = np.zeros(layout.capacity_bytes, dtype=np.uint8)
    h = layout.header_bytes
    out[:h] = np.frombuffer(len(data).to_bytes(h, "big"), dtype=np.uint8)
    out[h : h + len(data)] = np.frombuffer(data, dtype=np.uint8)
    return out


def frame_batch(datas: Sequence[bytes | None], layout: BlockLayout) -> np.ndarray:
    """Payloads ``uint8 [B, capacity_bytes]``; ``None`` (nothing sent) gives an all-zero row."""
    out = np.zeros((len(datas), layout.capacity_bytes), dtype=np.uint8)
    for i, data in enumerate(datas):
        if data is not None:
            out[i] = frame(data, layout)
    return out


@dataclass(frozen=True)
class Deframed:
    """What the receiver makes of one sample's payload.

    Attributes:
        data: the source bytes handed to the source decoder, or ``None`` (dropped).
        intact: whether those bytes are exactly what was sent (all needed CRCs passed).
    """

    data: bytes | None
    intact: bool


def _blocks_ok(block_ok: np.ndarray, layout: BlockLayout, start: int, stop: int) -> bool:
    """Whether every codeword holding payload bytes ``[start, stop)`` passed its CRC."""
    if stop <= start:
        return True
    first, last = layout.block_of_byte(start), layout.block_of_byte(stop - 1)
    return bool(block_ok[first : last + 1].all())


def deframe(
    payload: np.ndarray | Sequence[int],
    block_ok: np.ndarray | Sequence[bool],
    layout: BlockLayout,
    on_error: OnError = "drop",
) -> Deframed:
    """Recover the source bytes from a received payload ``uint8 [capacity_bytes]`` and its
    per-codeword CRC results ``bool [num_blocks]`` (see the module docstring)."""
    if on_error not in ON_ERROR_MODES:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR_MODES)}, got {on_error!r}")
    payload = np.asarray(payload, dtype=np.uint8)
    ok = np.asarray(block_ok, dtype=bool)
    h = layout.header_bytes
    header_ok = _blocks_ok(ok, layout, 0, h)
    length = int.from_bytes(payload[:h].tobytes(), "big") if header_ok else -1
    if length > layout.source_bytes:  # only after a CRC false positive
        header_ok, length = False, -1
    if header_ok and _blocks_ok(ok, layout, h, h + length):
        return Deframed(payload[h : h + length].tobytes(), True)
    if on_error == "drop":
        return Deframed(None, False)
    filled = payload.copy()
    bpb = layout.bytes_per_block
    for block in np.flatnonzero(~ok):
        filled[block * bpb : (block + 1) * bpb] = 0
    stop = h + length if header_ok else layout.capacity_bytes
    return Deframed(filled[h:stop].tobytes(), False)
