"""Separate source–channel coding (SSCC): the classical digital baseline and its capacity bound.

* :mod:`~semcom.sscc.mcs` — QAM order × 5G LDPC code rate (:class:`MCS`);
* :mod:`~semcom.sscc.layout` — codewords in a channel-use budget (:func:`plan_layout`);
* :mod:`~semcom.sscc.framing` — source bytes ↔ codeword payloads, receiver error handling;
* :mod:`~semcom.sscc.phy` — CRC + LDPC + QAM with Sionna (:class:`DigitalPHY`);
* :mod:`~semcom.sscc.link` — the project's channels as the receiver sees them (noise variance);
* :mod:`~semcom.sscc.source` — JPEG/WebP at the best quality that fits (:class:`ImageSourceCoder`);
* :mod:`~semcom.sscc.capacity` — ideal bits ``n_cu log2(1 + SNR |h|^2)`` (:func:`capacity_bits`);
* :mod:`~semcom.sscc.stats` — per-SNR link statistics (:class:`StatsLog`).

The systems built on them (``sscc``, ``capacity``) live in :mod:`semcom.systems.sscc`.
"""

from semcom.sscc.capacity import capacity_bits, pack_bytes, unpack_bytes
from semcom.sscc.framing import Deframed, bits_to_bytes, bytes_to_bits, deframe, frame, frame_batch
from semcom.sscc.layout import BlockLayout, plan_layout
from semcom.sscc.link import UnsupportedChannelError, power_gains, receive
from semcom.sscc.mcs import CODE_RATES, MCS, QAM_ORDERS, parse_rate
from semcom.sscc.phy import DigitalPHY, PHYResult
from semcom.sscc.source import (
    ImageSourceCoder,
    SourceChoice,
    SourceCoder,
    build_source_coder,
)
from semcom.sscc.stats import StatsLog

__all__ = [
    "CODE_RATES",
    "MCS",
    "QAM_ORDERS",
    "BlockLayout",
    "Deframed",
    "DigitalPHY",
    "ImageSourceCoder",
    "PHYResult",
    "SourceChoice",
    "SourceCoder",
    "StatsLog",
    "UnsupportedChannelError",
    "bits_to_bytes",
    "build_source_coder",
    "bytes_to_bits",
    "capacity_bits",
    "deframe",
    "frame",
    "frame_batch",
    "pack_bytes",
    "parse_rate",
    "plan_layout",
    "power_gains",
    "receive",
    "unpack_bytes",
]
