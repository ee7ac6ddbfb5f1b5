"""A simulated digital PHY: bytes coded, modulated, sent through the channel and decoded.

For separate source–channel coding (``sscc``: CRC + 5G LDPC + QAM with Sionna; ``capacity``: an
ideal code at the channel's capacity). What arrives depends on the SNR, so, like analog symbols,
it is measured at every evaluation SNR and accounted by channel uses; unlike them the link can
fail to deliver a sample, and it keeps statistics of what it did.

Protocol: ``phy_transmit(x, snr_db [B], channel, generator) -> PHYResult`` (the edge's output and
per-sample link statistics, among them ``sent`` and ``valid``, bool ``[B]``: ``valid = False``
means the edge got nothing usable, which the task scores as an empty prediction),
``phy_encode(x, snr_db) -> complex [B, n]`` and ``phy_decode(received, snr_db) -> output`` (the
two halves alone, for FLOP counting and timing: the decoder then assumes AWGN and that every
sample was sent), ``channel_uses()``, ``split_elements()``.

:attr:`Measurement.link_stats_by_snr` holds, per SNR, the :class:`~semcom.sscc.stats.StatsLog`
summary (``sent_rate``, ``delivered_rate``, ``valid_rate``, ``bler``, ``mean_quality``, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from semcom.sscc.stats import StatsLog
from semcom.tasks import Evaluator
from semcom.transports.base import Measurement, MeasurePlan
from semcom.transports.symbols import Half, SymbolTransport, channel_from


@dataclass
class PHYResult:
    """One batch through a simulated PHY: the edge's ``output`` and ``per_sample`` link
    statistics (tensors ``[B]`` by name; ``sent`` and ``valid`` bool are required)."""

    output: Any
    per_sample: dict[str, torch.Tensor]

    def __post_init__(self) -> None:
        missing = [k for k in ("sent", "valid") if k not in self.per_sample]
        if missing:
            raise ValueError(f"PHYResult.per_sample lacks {missing}")

    @property
    def valid(self) -> torch.Tensor:
        """bool ``[B]``: the edge produced a real output for the sample."""
        return self.per_sample["valid"]


class PHYTransport(SymbolTransport):
    """A simulated digital PHY at every SNR (module docstring)."""

    kind = "phy"

    def __init__(self) -> None:
        self._stats = StatsLog()

    @torch.no_grad()
    def measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        """As every symbol transport, on the CPU: the LDPC + QAM simulation (Sionna) and the
        codecs run there, so the system is measured there whatever ``plan.device`` says."""
        home = system.model_device
        system.to("cpu")
        try:
            return super().measure(system, test_set, replace(plan, device=None))
        finally:
            system.to(home)

    def halves(self, system: Any) -> tuple[Half, Half]:
        return system.phy_encode, system.phy_decode

    def start(self) -> None:
        self._stats = StatsLog()

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
        result: PHYResult = system.phy_transmit(x, snr_db, channel, generator=generator)
        self._stats.add(snr_db, result.per_sample)
        evaluator.update(result.output, targets, delivered=result.valid)

    def link_stats(self) -> dict[float, dict[str, Any]]:
        return self._stats.summary()

    def channel_refusal(self, channel: dict[str, Any] | None) -> str | None:
        """The digital receiver is coherent: fading without perfect CSI is refused."""
        from semcom.sscc.link import channel_refusal

        return channel_refusal(channel_from(channel))

    def serve_refusal(self, system: Any) -> str | None:
        return (
            "simulated PHY: its bytes cross a simulated LDPC + QAM link (or an ideal code) "
            "inside the evaluation, not an HTTP request (evaluate it with `semcom run` or "
            "`semcom eval`)"
        )

    def export_refusal(self, system: Any) -> str:
        return "simulated PHY: the device codes the image or feature inside the link simulation"
