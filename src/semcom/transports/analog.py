"""Analog complex symbols (deep JSCC): the device's code crosses the noisy channel as it is.

Protocol: ``analog_encode(x, snr_db [B]) -> complex [B, channel_uses()]`` (unit average power per
sample), ``analog_decode(received, snr_db [B]) -> output``, ``channel_uses()``,
``split_elements()``. :meth:`AnalogTransport.transmit` joins them through a
:mod:`semcom.channels` module (equalised output when the channel has perfect CSI).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from semcom.channels import build_channel
from semcom.data.batch import fetch_batch, move_to
from semcom.tasks import Evaluator
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


def channel_from(config: dict[str, Any] | None) -> nn.Module:
    """The channel module of an ``eval.channel`` entry ``{"name": ..., **params}``."""
    if config is None:
        raise ValueError("a transport that sends symbols is measured through a channel; none given")
    return build_channel(config["name"], **{k: v for k, v in config.items() if k != "name"})


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

    @torch.no_grad()
    def measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        if not plan.snr_db:
            raise ValueError("an analog system is measured through a channel at given SNRs")
        system.eval()
        channel = channel_from(plan.channel)
        x1 = first_input(test_set, plan.device)
        snr1 = torch.full((1,), float(plan.snr_db[0]), device=x1.device)
        device_flops, symbols1 = flops_of(system.analog_encode, x1, snr1)
        edge_flops, _ = flops_of(system.analog_decode, symbols1, snr1)
        evaluators: dict[float | None, Evaluator] = {}
        for snr in plan.snr_db:
            g = snr_generator(plan.seed, float(snr))
            evaluator = system.task.evaluator()
            for x, y in batches(test_set, plan.batch_size, plan.device):
                s = torch.full((len(x),), float(snr), device=x.device)
                evaluator.update(self.transmit(system, x, s, channel, generator=g), y)
            evaluators[float(snr)] = evaluator
        m = Measurement(
            evaluators=evaluators,
            payload_bits=zeros_bits(len(test_set)),  # type: ignore[arg-type]
            estimated_bits=None,
            header_bits=None,
            device_flops=device_flops,
            edge_flops=edge_flops,
            channel_uses=system.channel_uses(),
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
            snr = torch.zeros(1, device=x.device)
            t0 = time.perf_counter()
            symbols = system.analog_encode(x, snr)
            t1 = time.perf_counter()
            system.analog_decode(symbols, snr)
            t2 = time.perf_counter()
            device_t.append(t1 - t0)
            edge_t.append(t2 - t1)
        return median_times(device_t, edge_t)

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
