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

import time
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch.utils.data import Dataset

from semcom.data.batch import fetch_batch, move_to
from semcom.sscc.stats import StatsLog
from semcom.tasks import Evaluator
from semcom.transports.analog import channel_from
from semcom.transports.base import (
    Measurement,
    MeasurePlan,
    batches,
    first_input,
    flops_of,
    median_times,
    module_costs,
    snr_generator,
)
from semcom.transports.symbols import SymbolTransport, zeros_bits


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

    @torch.no_grad()
    def measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        """As the analog transport, on the CPU: the LDPC + QAM simulation (Sionna) and the codecs
        run there, so the system is measured there whatever ``plan.device`` says."""
        if not plan.snr_db:
            raise ValueError("a simulated PHY is measured through a channel at given SNRs")
        home = system.model_device
        system.to("cpu")
        try:
            return self._measure(system, test_set, replace(plan, device=None))
        finally:
            system.to(home)

    def _measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        system.eval()
        channel = channel_from(plan.channel)
        x1 = first_input(test_set, plan.device)
        snr1 = torch.full((1,), float(plan.snr_db[0]))
        device_flops, symbols1 = flops_of(system.phy_encode, x1, snr1)
        edge_flops, _ = flops_of(system.phy_decode, symbols1, snr1)
        stats = StatsLog()
        evaluators: dict[float | None, Evaluator] = {}
        for snr in plan.snr_db:
            g = snr_generator(plan.seed, float(snr))
            evaluator = system.task.evaluator()
            for x, y in batches(test_set, plan.batch_size, plan.device):
                s = torch.full((len(x),), float(snr))
                result: PHYResult = system.phy_transmit(x, s, channel, generator=g)
                stats.add(s, result.per_sample)
                evaluator.update(result.output, y, delivered=result.valid)
            evaluators[float(snr)] = evaluator
        m = Measurement(
            evaluators=evaluators,
            payload_bits=zeros_bits(len(test_set)),  # type: ignore[arg-type]
            estimated_bits=None,
            header_bits=None,
            device_flops=device_flops,
            edge_flops=edge_flops,
            channel_uses=system.channel_uses(),
            link_stats_by_snr=stats.summary(),
            **module_costs(system),
        )
        if plan.timing_samples > 0:
            m.measured_s = self.time(system, test_set, plan.timing_samples, plan.device)
        return m

    @torch.no_grad()
    def time(
        self, system: Any, test_set: Dataset, samples: int, device: Any = None
    ) -> dict[str, float]:
        device_t: list[float] = []
        edge_t: list[float] = []
        for i in range(min(samples, len(test_set))):  # type: ignore[arg-type]
            x = move_to(fetch_batch(test_set, torch.tensor([i])).inputs, device)
            snr = torch.zeros(1)
            t0 = time.perf_counter()
            symbols = system.phy_encode(x, snr)
            t1 = time.perf_counter()
            system.phy_decode(symbols, snr)
            t2 = time.perf_counter()
            device_t.append(t1 - t0)
            edge_t.append(t2 - t1)
        return median_times(device_t, edge_t)

    def serve_refusal(self, system: Any) -> str | None:
        return (
            "simulated PHY: its bytes cross a simulated LDPC + QAM link (or an ideal code) "
            "inside the evaluation, not an HTTP request (evaluate it with `semcom run` or "
            "`semcom eval`)"
        )

    def export_refusal(self, system: Any) -> str:
        return "simulated PHY: the device codes the image or feature inside the link simulation"
