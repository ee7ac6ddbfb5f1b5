"""Nothing crosses the link: the whole network runs on the device (``local``).

Protocol: ``infer_local(x) -> output``. One set of records (``channel: none``); the latency is the
device's compute alone.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from semcom.transports.base import (
    Measurement,
    MeasurePlan,
    Transport,
    batches,
    first_input,
    flops_of,
    nothing_sent,
    time_halves,
)
from semcom.transports.symbols import zeros_bits


class NoTransport(Transport):
    """The unsplit network on one side (module docstring)."""

    kind = "none"
    uses_channel = False

    @torch.no_grad()
    def measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        system.eval()
        x1 = first_input(test_set, plan.device)
        device_flops, _ = flops_of(system.infer_local, x1)
        evaluator = system.task.evaluator()
        for x, y in batches(test_set, plan.batch_size, plan.device):
            evaluator.update(system.infer_local(x), y)
        return self.measured(
            system,
            test_set,
            plan,
            evaluators={None: evaluator},
            payload_bits=zeros_bits(len(test_set)),  # type: ignore[arg-type]
            estimated_bits=None,
            header_bits=0.0,
            device_flops=device_flops,
            edge_flops=0,
        )

    @torch.no_grad()
    def time(
        self, system: Any, test_set: Dataset, samples: int, device: Any = None
    ) -> dict[str, float]:
        return time_halves(test_set, samples, device, system.infer_local)

    def ratio_fields(self, system: Any, m: Measurement) -> dict[str, Any]:
        return {
            "payload_bits": 0.0,
            "header_bits": 0.0,
            "estimated_bits": None,
            "compression_ratio": None,
            "ratio_kind": None,
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
        sent, rate = nothing_sent(m.samples)
        return sent, rate, {"rate_bps": None}

    def serve_refusal(self, system: Any) -> str | None:
        return "no link: the whole network runs on the device, nothing is sent"

    def export_refusal(self, system: Any) -> str:
        return "nothing crosses the link (the whole model runs on one side)"
