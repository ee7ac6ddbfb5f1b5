"""What transports that send complex channel symbols share: accounting by channel uses, and the
measurement at every evaluation SNR.

A sample occupies ``channel_uses`` complex symbols, sent at the symbol rate ``B`` (one symbol per
``1 / B`` seconds, Nyquist signalling), so its transfer takes ``channel_uses / B`` whatever the
SNR. Records carry ``payload_bits: null``, ``channel_uses``, ``cbr`` (symbols per source element
``C·H·W``) and ``compression_ratio`` = split elements per complex symbol (``ratio_kind`` says so).
The output depends on the channel, so these transports are measured on every evaluation channel
at every SNR, with per-sample noise (and fading) from a generator seeded per SNR
(:meth:`SymbolTransport.measure`; a subclass says how its halves are called and how a batch
crosses the channel).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from semcom.channels import build_channel
from semcom.tasks import Evaluator
from semcom.transports.base import (
    Measurement,
    MeasurePlan,
    Transport,
    batches,
    first_input,
    flops_of,
    snr_generator,
    time_halves,
)
from semcom.transports.ratios import channel_bandwidth_ratio

Half = Callable[[torch.Tensor, torch.Tensor], Any]


def channel_from(config: dict[str, Any] | None) -> nn.Module:
    """The channel module of an ``eval.channel`` entry ``{"name": ..., **params}``."""
    if config is None:
        raise ValueError("a transport that sends symbols is measured through a channel; none given")
    return build_channel(config["name"], **{k: v for k, v in config.items() if k != "name"})


def zeros_bits(n: int) -> torch.Tensor:
    """No payload bytes: float64 zeros ``[n]``."""
    return torch.zeros(n, dtype=torch.float64)


class SymbolTransport(Transport):
    """Base of :class:`~semcom.transports.analog.AnalogTransport` and
    :class:`~semcom.transports.phy.PHYTransport` (module docstring)."""

    depends_on_channel = True

    @abstractmethod
    def halves(self, system: Any) -> tuple[Half, Half]:
        """The device half ``(x, snr_db) -> symbols`` and the edge half ``(symbols, snr_db) ->
        output`` alone (FLOP counting and timing)."""

    @abstractmethod
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
        """One batch through device, ``channel`` and edge, scored into ``evaluator``."""

    def link_stats(self) -> dict[float, dict[str, Any]] | None:
        """What the link did per SNR over the last :meth:`measure` (``None``: nothing kept)."""
        return None

    def start(self) -> None:
        """Called before the SNR sweep of a :meth:`measure`."""

    @torch.no_grad()
    def measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        if not plan.snr_db:
            raise ValueError(f"a {self.kind} system is measured through a channel at given SNRs")
        system.eval()
        channel = channel_from(plan.channel)
        encode, decode = self.halves(system)
        x1 = first_input(test_set, plan.device)
        snr1 = torch.full((1,), float(plan.snr_db[0]), device=x1.device)
        device_flops, symbols1 = flops_of(encode, x1, snr1)
        edge_flops, _ = flops_of(decode, symbols1, snr1)
        self.start()
        evaluators: dict[float | None, Evaluator] = {}
        for snr in plan.snr_db:
            g = snr_generator(plan.seed, float(snr))
            evaluator = system.task.evaluator()
            for x, y in batches(test_set, plan.batch_size, plan.device):
                s = torch.full((len(x),), float(snr), device=x.device)
                self.cross(system, x, s, channel, g, y, evaluator)
            evaluators[float(snr)] = evaluator
        return self.measured(
            system,
            test_set,
            plan,
            evaluators=evaluators,
            payload_bits=zeros_bits(len(test_set)),  # type: ignore[arg-type]
            estimated_bits=None,
            header_bits=None,
            device_flops=device_flops,
            edge_flops=edge_flops,
            channel_uses=system.channel_uses(),
            link_stats_by_snr=self.link_stats(),
        )

    @torch.no_grad()
    def time(
        self, system: Any, test_set: Dataset, samples: int, device: Any = None
    ) -> dict[str, float]:
        encode, decode = self.halves(system)

        def device_side(x: torch.Tensor) -> tuple[Any, torch.Tensor]:
            snr = torch.zeros(1, device=x.device)
            return encode(x, snr), snr

        return time_halves(test_set, samples, device, device_side, lambda sent: decode(*sent))

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
        self,
        m: Measurement,
        gains: torch.Tensor,
        snr_db: float,
        bandwidth_hz: float,
        *,
        slot_s: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        n = m.samples
        uses = torch.full((n,), float(m.channel_uses or 0), dtype=torch.float64)
        rate = torch.full((n,), float(bandwidth_hz), dtype=torch.float64)
        return uses, rate, {"rate_bps": None, "symbol_rate_hz": float(bandwidth_hz)}
