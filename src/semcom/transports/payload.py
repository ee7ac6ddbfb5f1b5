"""Payload bytes: the device sends one :class:`~semcom.coding.Payload` per sample.

The real path runs once per variant: ``device_encode`` → the model's wire form (the compact form
with a 4-byte model identifier where the payload layout is fixed, else the self-describing form;
``eval.header``, :mod:`semcom.coding.wire`) → strict parse → ``edge_decode``, and the task's
evaluator scores what the edge decoded. The decoded output does not depend on the SNR (the link
delivers the bytes, late or on time), so the SNR sweep only redraws per-sample fading gains for
the rate ``B log2(1 + SNR |h|^2)``. Records carry the real payload bits (header included), the
entropy model's estimate of the body and the compression ratio ``32 · split elements / payload
bits``.

Protocol: ``device_encode(x) -> list[Payload]``, ``edge_decode(list[Payload]) -> output``,
``estimate_payload_bits(x) -> [B] | None``, ``split_elements()``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import Dataset

from semcom.coding import WireCodec
from semcom.latency import shannon_rate_bps, slotted_delivery_time
from semcom.transports.base import (
    Measurement,
    MeasurePlan,
    Transport,
    batches,
    finite_mean,
    first_input,
    flops_of,
    time_halves,
)
from semcom.transports.ratios import compression_ratio, raw_clip_ratio


def round_trip(
    system: Any, x: torch.Tensor, codec: WireCodec | None = None
) -> tuple[Any, list[bytes]]:
    """Encode ``x`` on the device, serialise (``codec``, default the system's compact form where
    it has one), parse strictly and decode at the edge: the edge's output and the bytes that
    crossed."""
    codec = codec or system.wire_codec()
    wire = [codec.encode(p) for p in system.device_encode(x)]
    return system.edge_decode([codec.decode(b) for b in wire]), wire


class PayloadTransport(Transport):
    """Entropy-coded (or codec) bytes over a rate-limited digital link (module docstring)."""

    kind = "digital"
    uses_link_gains = True

    @torch.no_grad()
    def measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        system.eval()
        x1 = first_input(test_set, plan.device)
        device_flops, payloads1 = flops_of(system.device_encode, x1)
        edge_flops, _ = flops_of(system.edge_decode, payloads1)
        codec = system.wire_codec(plan.header)
        evaluator = system.task.evaluator()
        bits: list[torch.Tensor] = []
        estimates: list[torch.Tensor] = []
        for x, y in batches(test_set, plan.batch_size, plan.device):
            output, wire = round_trip(system, x, codec)
            bits.append(torch.tensor([8.0 * len(b) for b in wire]))
            est = system.estimate_payload_bits(x)
            if est is not None:
                estimates.append(est.double().cpu())
            evaluator.update(output, y)
        return self.measured(
            system,
            test_set,
            plan,
            evaluators={None: evaluator},
            payload_bits=torch.cat(bits).double(),
            estimated_bits=torch.cat(estimates) if estimates else None,
            header_bits=float(codec.header_bytes(payloads1[0]) * 8),
            header_form=codec.written_form,
            device_flops=device_flops,
            edge_flops=edge_flops,
        )

    @torch.no_grad()
    def time(
        self, system: Any, test_set: Dataset, samples: int, device: Any = None
    ) -> dict[str, float]:
        codec = system.wire_codec()
        return time_halves(
            test_set,
            samples,
            device,
            lambda x: codec.encode(system.device_encode(x)[0]),
            lambda wire: system.edge_decode([codec.decode(wire)]),
        )

    def ratio_fields(self, system: Any, m: Measurement) -> dict[str, Any]:
        """The payload's size fields. Images: the ratio of the float32 tensor at the split;
        clips (inputs ``(C, T, H, W)``): of the raw uint8 clip, with the float32-at-split figure
        beside it as ``float32_split_ratio``."""
        mean_bits = float(m.payload_bits.mean())
        fields = self._float32_split_ratio_fields(system, m, mean_bits)
        if len(system.ctx.input_shape) == 4 and mean_bits > 0:
            fields["float32_split_ratio"] = fields["compression_ratio"]
            fields["compression_ratio"] = raw_clip_ratio(system.ctx_input_elements(), mean_bits)
            fields["ratio_kind"] = "raw uint8 clip bits per payload bit"
        return fields

    def _float32_split_ratio_fields(
        self, system: Any, m: Measurement, mean_bits: float
    ) -> dict[str, Any]:
        return {
            "payload_bits": mean_bits,
            "header_bits": m.header_bits,
            "header_form": m.header_form,
            "estimated_bits": (
                float(m.estimated_bits.mean()) if m.estimated_bits is not None else None
            ),
            "compression_ratio": (
                compression_ratio(system.split_elements(), mean_bits) if mean_bits > 0 else None
            ),
            "ratio_kind": "float32 split bits per payload bit" if mean_bits > 0 else None,
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
        inst_snr_db = snr_db + 10.0 * torch.log10(gains.clamp_min(1e-300))
        rate = torch.as_tensor(shannon_rate_bps(bandwidth_hz, inst_snr_db)).double()
        if gains.dim() == 1:
            return m.payload_bits, rate, {"rate_bps": finite_mean(rate)}
        if slot_s is None:
            raise ValueError("per-slot gains [N, L] need the slot length slot_s")
        # time-varying: each slot at its own rate; the effective rate is bits / delivery time
        bits = m.payload_bits.double()
        time = slotted_delivery_time(bits, rate, slot_s)
        effective = torch.where(time > 0, bits / time, torch.full_like(bits, float("inf")))
        return (
            m.payload_bits,
            effective,
            {
                "rate_bps": finite_mean(rate.flatten()),
                "slot_s": slot_s,
                "delivered_share": float(torch.isfinite(time).double().mean()),
            },
        )

    def serve_refusal(self, system: Any) -> str | None:
        return None

    def export_refusal(self, system: Any) -> str:
        return "its device side is not split into device_tensors + pack_payloads"
