"""Analog complex symbols (deep JSCC): the device's code crosses the noisy channel as it is.

Protocol: ``analog_encode(x, snr_db [B]) -> complex [B, channel_uses()]`` (unit average power per
sample), ``analog_decode(received, snr_db [B]) -> output``, ``channel_uses()``,
``split_elements()``. :meth:`AnalogTransport.transmit` joins them through a
:mod:`semcom.channels` module (equalised output when the channel has perfect CSI).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from semcom.tasks import Evaluator
from semcom.transports.symbols import Half, SymbolTransport, channel_from

__all__ = ["AnalogTransport", "channel_from"]


class AnalogTransport(SymbolTransport):
    """Complex channel symbols through the evaluation channel (module docstring)."""

    kind = "analog"

    @torch.no_grad()
    def transmit(
        self,
        system: Any,
        x: torch.Tensor,
        snr_db: torch.Tensor,
        channel: nn.Module,
        generator: torch.Generator | None = None,
    ) -> Any:
        """:meth:`analog_encode` → ``channel(symbols, snr_db)`` → :meth:`analog_decode`."""
        symbols = system.analog_encode(x, snr_db)
        return system.analog_decode(channel(symbols, snr_db, generator=generator), snr_db)

    def halves(self, system: Any) -> tuple[Half, Half]:
        return system.analog_encode, system.analog_decode

    def cross(
        self,
        system: Any,
        x: torch.Tensor,
        snr_db: torch.Tensor,
        channel: nn.Module,
        generator: torch.Generator,
        targets: Any,
        evaluator: Evaluator,
    ) -> None:
        evaluator.update(self.transmit(system, x, snr_db, channel, generator=generator), targets)

    def serve_refusal(self, system: Any) -> str | None:
        return (
            "analog link: it sends complex channel symbols, not payload bytes "
            "(evaluate it with `semcom run` or `semcom eval`)"
        )

    def export_refusal(self, system: Any) -> str:
        return (
            "analog link: the device sends complex channel symbols, not an exportable "
            "network + payload"
        )
