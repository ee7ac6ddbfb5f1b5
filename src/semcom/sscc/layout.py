"""How LDPC codewords fill a channel-use budget, and hence how many source bytes a sample carries.

Given ``n_cu`` complex channel uses per sample and an :class:`~semcom.sscc.mcs.MCS` with
``m = log2(M)`` bits per symbol and nominal rate ``r``, :func:`plan_layout` lays out ``C``
equal codewords of ``(k, n)`` bits (the 5G idea of code-block segmentation):

1. ``G = n_cu · m`` coded bits are available; they would carry ``floor(G · r)`` information bits.
2. ``C = ceil(floor(G · r) / 8448)`` codewords (8448 = the largest 5G LDPC information block).
3. Each codeword gets ``floor(n_cu / C)`` symbols, i.e. ``n = m · floor(n_cu / C)`` coded bits
   (a multiple of ``m``: a codeword never shares a symbol with another).
4. Its information block is a CRC (CRC24A, 24 bits) plus a whole number of source bytes:
   ``k = 24 + 8 · floor((floor(n · r) - 24) / 8)``, so ``k / n <= r`` (the effective rate is at
   most the nominal one, lower by under ``8 / n``).

The sample then carries ``C · (k - 24) / 8`` bytes. The ``n_cu - C · n / m`` channel uses left
over (fewer than ``C``) are sent as **zero symbols** (no energy): the sample's mean energy per
channel use is ``C · n / (m · n_cu) <= 1`` rather than exactly 1, a negligible and conservative
loss. If not even one byte fits (``floor(n · r) < 32``), the layout is empty: nothing can be sent.

The first ``header_bytes`` of the carried bytes hold the length of the source stream (big-endian,
as few bytes as can count up to the capacity); the rest is the source budget
(:attr:`BlockLayout.source_bytes`), see :mod:`semcom.sscc.framing`.

>>> from semcom.sscc.mcs import MCS
>>> lay = plan_layout(768, MCS(16, 0.5))
>>> lay.num_blocks, lay.k, lay.n, lay.capacity_bytes, lay.used_symbols
(1, 1536, 3072, 189, 768)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from semcom.sscc.mcs import MCS, rate_fraction

#: Largest information block of a 5G NR LDPC codeword (base graph 1), bits.
MAX_INFO_BITS = 8448
#: CRC appended to every codeword (3GPP 38.212 CRC24A) and its length in bits.
CRC_POLY = "CRC24A"
CRC_BITS = 24


def length_header_bytes(capacity_bytes: int) -> int:
    """Bytes of the big-endian length field that can count ``0 .. capacity_bytes`` (at least 1).

    >>> length_header_bytes(255), length_header_bytes(256)
    (1, 2)
    """
    return max(1, math.ceil(int(capacity_bytes).bit_length() / 8))


@dataclass(frozen=True)
class BlockLayout:
    """The codeword layout of one sample (see the module docstring).

    Attributes:
        n_cu: channel-use budget, complex symbols per sample.
        mcs: the modulation and coding scheme.
        num_blocks: ``C``, LDPC codewords per sample (0 if nothing fits).
        k: information bits per codeword, CRC included (0 if empty).
        n: coded bits per codeword, a multiple of ``mcs.bits_per_symbol`` (0 if empty).
        crc_bits: CRC bits inside ``k``.
    """

    n_cu: int
    mcs: MCS
    num_blocks: int
    k: int
    n: int
    crc_bits: int = CRC_BITS

    @property
    def bytes_per_block(self) -> int:
        """Payload bytes per codeword, ``(k - crc_bits) / 8``."""
        return (self.k - self.crc_bits) // 8 if self.num_blocks else 0

    @property
    def symbols_per_block(self) -> int:
        """Complex symbols per codeword, ``n / log2(M)``."""
        return self.n // self.mcs.bits_per_symbol if self.num_blocks else 0

    @property
    def used_symbols(self) -> int:
        """Channel uses that carry codeword symbols; the rest of ``n_cu`` are zeros."""
        return self.num_blocks * self.symbols_per_block

    @property
    def capacity_bytes(self) -> int:
        """Bytes the sample carries (length header + source budget)."""
        return self.num_blocks * self.bytes_per_block

    @property
    def header_bytes(self) -> int:
        """Bytes of the length header (0 for an empty layout)."""
        return length_header_bytes(self.capacity_bytes) if self.capacity_bytes else 0

    @property
    def source_bytes(self) -> int:
        """Source budget: bytes available to the source coder per sample."""
        return max(0, self.capacity_bytes - self.header_bytes)

    @property
    def effective_rate(self) -> float:
        """``k / n`` of each codeword (0 if empty)."""
        return self.k / self.n if self.num_blocks else 0.0

    @property
    def fill(self) -> float:
        """Fraction of the channel-use budget that carries codeword symbols."""
        return self.used_symbols / self.n_cu if self.n_cu else 0.0

    def block_of_byte(self, index: int) -> int:
        """Codeword index carrying payload byte ``index`` (``0 <= index < capacity_bytes``)."""
        return index // self.bytes_per_block


def plan_layout(n_cu: int, mcs: MCS) -> BlockLayout:
    """Lay out equal LDPC codewords in ``n_cu`` channel uses with ``mcs`` (module docstring).

    ``n_cu`` must be a positive int. Returns an empty layout (``num_blocks == 0``) when not even
    one source byte fits.
    """
    if isinstance(n_cu, bool) or not isinstance(n_cu, int) or n_cu < 1:
        raise ValueError(f"n_cu must be a positive int (channel uses per sample), got {n_cu!r}")
    m = mcs.bits_per_symbol
    r = rate_fraction(mcs.rate)  # exact arithmetic: floor(x * p / q) = x * p // q
    info_target = n_cu * m * r.numerator // r.denominator
    blocks = math.ceil(info_target / MAX_INFO_BITS)
    empty = BlockLayout(n_cu, mcs, 0, 0, 0)
    if blocks == 0:
        return empty
    n = m * (n_cu // blocks)
    payload_bytes = (n * r.numerator // r.denominator - CRC_BITS) // 8
    if payload_bytes < 1:
        return empty
    return BlockLayout(n_cu, mcs, blocks, CRC_BITS + 8 * payload_bytes, n)
