"""What transports that send complex channel symbols share: accounting by channel uses.

A sample occupies ``channel_uses`` complex symbols, sent at the symbol rate ``B`` (one symbol per
``1 / B`` seconds, Nyquist signalling), so its transfer takes ``channel_uses / B`` whatever the
SNR. Records carry ``payload_bits: null``, ``channel_uses``, ``cbr`` (symbols per source element
``C·H·W``) and ``compression_ratio`` = split elements per complex symbol (``ratio_kind`` says so).
The output depends on the channel, so these transports are measured on every evaluation channel
at every SNR, with per-sample noise (and fading) from a generator seeded per SNR.
"""

from __future__ import annotations

from typing import Any

import torch

from semcom.transports.base import Measurement, Transport
from semcom.transports.ratios import channel_bandwidth_ratio


class SymbolTransport(Transport):
    """Base of :class:`~semcom.transports.analog.AnalogTransport` and
    :class:`~semcom.transports.phy.PHYTransport` (module docstring)."""

    depends_on_channel = True

    def ratio_fields(self, system: Any, m: Measurement) -> dict[str, Any]:
        uses = m.channel_uses or 0
        return {
            "payload_bits": None,
            "header_bits": None,
            "estimated_bits": None,
            "compression_ratio": system.split_elements() / uses if uses else None,
            "ratio_kind": "split elements per complex channel symbol",
            "channel_uses": uses,
            "cbr": channel_bandwidth_ratio(system.ctx_input_elements(), uses) if uses else None,
        }

    def link_load(
        self, m: Measurement, gains: torch.Tensor, snr_db: float, bandwidth_hz: float
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        n = m.samples
        uses = torch.full((n,), float(m.channel_uses or 0), dtype=torch.float64)
        rate = torch.full((n,), float(bandwidth_hz), dtype=torch.float64)
        return uses, rate, {"rate_bps": None, "symbol_rate_hz": float(bandwidth_hz)}


def zeros_bits(n: int) -> torch.Tensor:
    """No payload bytes: float64 zeros ``[n]``."""
    return torch.zeros(n, dtype=torch.float64)
