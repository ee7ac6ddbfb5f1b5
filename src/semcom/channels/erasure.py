"""Erasure channels: per-symbol erasures on tensors, and packet losses on byte strings.

* :class:`BitErasureChannel` erases each element of a tensor independently with probability ``p``
  and puts ``fill_value`` in its place. Elements may be bits, integer symbols (e.g. 8-bit
  quantised features stored as floats in ``[0, 255]`` or ``[0, 1]``), or complex symbols. For
  training, the default straight-through estimator makes the output
  ``x + (fill_value - x).detach()`` at erased positions (forward value ``fill_value``, gradient 1
  everywhere); with ``straight_through=False`` erased positions pass no gradient.
* :class:`PacketErasureChannel` cuts a payload (``bytes``) into packets of ``packet_bytes`` bytes
  and loses each packet independently with probability ``p``. A payload always takes at least
  one packet (an empty payload is one empty packet), so it arrives intact with probability
  ``(1 - p)^ceil(max(N, 1) / packet_bytes)`` (:func:`payload_intact_probability`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from semcom import sharded_batch
from semcom.channels._validate import check_bool, check_int, check_real
from semcom.channels.base import Channel
from semcom.channels.snr import Number


def _per_sample_p(p: Number, x: torch.Tensor) -> torch.Tensor:
    """Erasure probability broadcastable to ``x``: a number, or ``[B]`` (one per sample)."""
    t = torch.as_tensor(p, dtype=torch.float32, device=x.device)
    if t.dim() > 0:
        if t.dim() > x.dim():
            raise ValueError(f"p of shape {list(t.shape)} has more dims than x {list(x.shape)}")
        t = t.reshape(*t.shape, *([1] * (x.dim() - t.dim())))
    if bool(((t < 0) | (t > 1)).any()):
        raise ValueError("p must be a probability in [0, 1]")
    return t


class BitErasureChannel(Channel):
    """Independent erasure of tensor elements with probability ``p``.

    Args:
        p: erasure probability in ``[0, 1]`` (overridable per call, also per sample).
        fill_value: value placed at erased positions (default 0).
        straight_through: if true (default), gradients pass through erased positions as if they
            had not been erased (straight-through estimator); else they are zero there.

    ``forward(x, snr_db=None, generator=None, *, p=None, return_mask=False)``: ``x`` any shape
    ``[B, ...]`` (real, integer or complex); ``snr_db`` is accepted for interface compatibility
    with the noise channels and ignored. Returns a tensor like ``x`` and, with ``return_mask``,
    the bool erasure mask (``True`` = erased) of the same shape.

    >>> ch = BitErasureChannel(p=0.5)
    >>> x = torch.arange(8.0).reshape(2, 4)
    >>> y, mask = ch(x, generator=torch.Generator().manual_seed(0), return_mask=True)
    >>> bool((y[mask] == 0).all()) and bool((y[~mask] == x[~mask]).all())
    True
    """

    def __init__(self, p: float, fill_value: float = 0.0, straight_through: bool = True) -> None:
        super().__init__()
        self.p = check_real("p", p, low=0.0, high=1.0)
        self.fill_value = check_real("fill_value", fill_value)
        self.straight_through = check_bool("straight_through", straight_through)

    def extra_repr(self) -> str:
        st = self.straight_through
        return f"p={self.p:g}, fill_value={self.fill_value:g}, straight_through={st}"

    def forward(
        self,
        x: torch.Tensor,
        snr_db: Number | None = None,
        generator: torch.Generator | None = None,
        *,
        p: Number | None = None,
        return_mask: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        prob = _per_sample_p(self.p if p is None else p, x)
        gen_device = generator.device if generator is not None else x.device
        draws = sharded_batch.rand(x.shape, generator=generator, device=gen_device)
        mask = (draws < prob).to(x.device)
        fill = torch.full((), self.fill_value, dtype=x.dtype, device=x.device)
        if self.straight_through and (x.is_floating_point() or x.is_complex()):
            zero = torch.zeros((), dtype=x.dtype, device=x.device)
            out = x + torch.where(mask, fill - x, zero).detach()
        else:
            out = torch.where(mask, fill, x)
        return (out, mask) if return_mask else out


def num_packets(num_bytes: int, packet_bytes: int) -> int:
    """Packets needed for a payload of ``num_bytes`` bytes (at least one).

    >>> num_packets(0, 100), num_packets(100, 100), num_packets(101, 100)
    (1, 1, 2)
    """
    return max(1, math.ceil(num_bytes / packet_bytes))


def payload_intact_probability(num_bytes: int, p: float, packet_bytes: int) -> float:
    """Probability that all packets of a ``num_bytes``-byte payload arrive: ``(1 - p)^packets``.

    >>> round(payload_intact_probability(250, 0.1, 100), 6)  # 3 packets
    0.729
    """
    check_real("p", p, low=0.0, high=1.0)
    check_int("packet_bytes", packet_bytes)
    return (1.0 - p) ** num_packets(int(num_bytes), packet_bytes)


class PacketErasureChannel(Channel):
    """Packet loss on byte payloads: each ``packet_bytes``-byte packet is lost with prob. ``p``.

    ``forward(payload, generator=None) -> list[bytes | None]``: the packets in order, ``None``
    for each lost one. :meth:`reassemble` turns that back into the payload (or ``None`` if any
    packet was lost); :meth:`deliver` does both for a batch of payloads.

    >>> ch = PacketErasureChannel(p=0.0, packet_bytes=4)
    >>> ch(b"hello world")
    [b'hell', b'o wo', b'rld']
    >>> ch.intact_probability(11)
    1.0
    """

    def __init__(self, p: float, packet_bytes: int = 1500) -> None:
        super().__init__()
        self.p = check_real("p", p, low=0.0, high=1.0)
        self.packet_bytes = check_int("packet_bytes", packet_bytes)

    def extra_repr(self) -> str:
        return f"p={self.p:g}, packet_bytes={self.packet_bytes}"

    def packetize(self, payload: bytes) -> list[bytes]:
        """Split ``payload`` into packets of ``packet_bytes`` (the last may be shorter)."""
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
        data = bytes(payload)
        step = self.packet_bytes
        return [data[i : i + step] for i in range(0, len(data), step)] or [b""]

    def forward(
        self, payload: bytes, generator: torch.Generator | None = None
    ) -> list[bytes | None]:
        packets = self.packetize(payload)
        lost = torch.rand(len(packets), generator=generator) < self.p
        return [None if gone else pkt for pkt, gone in zip(packets, lost.tolist(), strict=True)]

    @staticmethod
    def reassemble(packets: Sequence[bytes | None]) -> bytes | None:
        """Concatenate received packets, or ``None`` if any was lost."""
        if any(pkt is None for pkt in packets):
            return None
        return b"".join(packets)  # type: ignore[arg-type]

    def deliver(
        self, payloads: Sequence[bytes], generator: torch.Generator | None = None
    ) -> list[bytes | None]:
        """Send each payload; return it if all its packets arrived, else ``None``."""
        return [self.reassemble(self(p, generator)) for p in payloads]

    def intact_probability(self, num_bytes: int) -> float:
        """Probability that a payload of ``num_bytes`` bytes arrives complete."""
        return payload_intact_probability(num_bytes, self.p, self.packet_bytes)
