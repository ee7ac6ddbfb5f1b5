"""Evaluate a trained system the honest way: real bytes, real decode, per-sample link draws.

:func:`measure_system` runs the real device and edge paths over the test set once (for a digital
system the decoded output does not depend on the SNR: the link delivers the bytes or the deadline
is missed). :func:`link_records` then turns that measurement into one record per SNR and device
profile, with per-sample latency on the configured channel (on a fading channel each sample's rate
is ``B log2(1 + SNR |h|^2)`` with its own ``h``).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

from semcom.eval.metrics import compression_ratio
from semcom.latency import accuracy_within_deadline, get_profile, latency, shannon_rate_bps
from semcom.systems import SplitSystem
from semcom.train import fetch_batch


@dataclass
class SystemMeasurement:
    """Per-sample results of running a system's real paths over a test set (``N`` samples)."""

    correct: torch.Tensor  # bool [N]
    payload_bits: torch.Tensor  # float [N], header included (0 when nothing is sent)
    estimated_bits: torch.Tensor | None  # float [N], body only, -log2 likelihood
    header_bits: float
    device_flops: int
    edge_flops: int
    device_params: int
    edge_params: int
    device_param_bytes: int
    measured_s: dict[str, float] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        return float(self.correct.float().mean())


def _params(modules: list[torch.nn.Module]) -> tuple[int, int]:
    seen: set[int] = set()
    count = nbytes = 0
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            if id(t) in seen:
                continue
            seen.add(id(t))
            if isinstance(t, torch.nn.Parameter):
                count += t.numel()
            nbytes += t.numel() * t.element_size()
    return count, nbytes


def _flops(fn: Any, *args: Any) -> tuple[int, Any]:
    with FlopCounterMode(display=False) as counter:
        result = fn(*args)
    return int(counter.get_total_flops()), result


@torch.no_grad()
def measure_system(
    system: SplitSystem,
    test_set: Dataset,
    *,
    batch_size: int = 256,
    timing_samples: int = 32,
) -> SystemMeasurement:
    """Run ``system``'s real device → bytes → edge path over ``test_set``."""
    system.eval()
    n = len(test_set)  # type: ignore[arg-type]
    correct: list[torch.Tensor] = []
    bits: list[torch.Tensor] = []
    estimates: list[torch.Tensor] = []
    header_bits = 0.0
    x1, _ = fetch_batch(test_set, torch.arange(1))

    if system.link == "digital":
        device_flops, payloads1 = _flops(system.device_encode, x1)
        edge_flops, _ = _flops(system.edge_decode, payloads1)
        header_bits = float(payloads1[0].header_bytes * 8)
    elif system.link == "none":
        device_flops, _ = _flops(system.infer_local, x1)
        edge_flops = 0
    else:
        raise ValueError(f"measure_system does not handle {system.link!r} links yet")

    for start in range(0, n, batch_size):
        x, y = fetch_batch(test_set, torch.arange(start, min(start + batch_size, n)))
        if system.link == "digital":
            payloads = system.device_encode(x)
            wire = [p.to_bytes() for p in payloads]
            from semcom.coding import Payload

            output = system.edge_decode([Payload.from_bytes(b) for b in wire])
            bits.append(torch.tensor([8.0 * len(b) for b in wire]))
            est = system.estimate_payload_bits(x)
            if est is not None:
                estimates.append(est.double())
        else:
            output = system.infer_local(x)
            bits.append(torch.zeros(len(x)))
        correct.append(output.argmax(1) == y)

    device_params, device_bytes = _params(system.device_modules())
    edge_params, _ = _params(system.edge_modules())
    measurement = SystemMeasurement(
        correct=torch.cat(correct),
        payload_bits=torch.cat(bits).double(),
        estimated_bits=torch.cat(estimates) if estimates else None,
        header_bits=header_bits,
        device_flops=device_flops,
        edge_flops=edge_flops,
        device_params=device_params,
        edge_params=edge_params,
        device_param_bytes=device_bytes,
    )
    if timing_samples > 0:
        measurement.measured_s = time_system(system, test_set, timing_samples)
    return measurement


@torch.no_grad()
def time_system(system: SplitSystem, test_set: Dataset, samples: int) -> dict[str, float]:
    """Median wall time per image (batch 1) of the device and edge paths on this CPU, seconds."""
    from semcom.coding import Payload

    n = min(samples, len(test_set))  # type: ignore[arg-type]
    device_t: list[float] = []
    edge_t: list[float] = []
    for i in range(n):
        x, _ = fetch_batch(test_set, torch.tensor([i]))
        if system.link == "digital":
            t0 = time.perf_counter()
            wire = system.device_encode(x)[0].to_bytes()
            t1 = time.perf_counter()
            system.edge_decode([Payload.from_bytes(wire)])
            t2 = time.perf_counter()
            device_t.append(t1 - t0)
            edge_t.append(t2 - t1)
        else:
            t0 = time.perf_counter()
            system.infer_local(x)
            device_t.append(time.perf_counter() - t0)
            edge_t.append(0.0)
    if not device_t:
        return {}
    return {
        "device": float(torch.tensor(device_t).median()),
        "edge": float(torch.tensor(edge_t).median()),
    }


def link_gains(channel: dict[str, Any], n: int, seed: int) -> torch.Tensor:
    """Per-sample power gains ``|h|^2`` ``[n]`` of the evaluation channel (1 for AWGN)."""
    from semcom.channels import build_channel

    params = {k: v for k, v in channel.items() if k != "name"}
    ch = build_channel(channel["name"], **params)
    return ch.power_gain(n, generator=torch.Generator().manual_seed(seed)).double()


def link_records(
    system: SplitSystem,
    measurement: SystemMeasurement,
    *,
    dataset: str,
    channel: dict[str, Any],
    snr_db: list[float],
    bandwidth_hz: float,
    devices: list[str],
    edge: str,
    deadline_s: float | None,
    seed: int,
    extra: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One metrics record per (SNR, device profile); see ``metrics.json`` in the README."""
    m = measurement
    n = len(m.correct)
    gains = (
        link_gains(channel, n, seed)
        if system.link != "none"
        else torch.ones(n, dtype=torch.float64)
    )
    edge_profile = get_profile(edge)
    mean_bits = float(m.payload_bits.mean())
    ratio = compression_ratio(system.split_elements(), mean_bits) if mean_bits > 0 else None
    records = []
    for snr in snr_db:
        if system.link == "none":
            rate = torch.full((n,), math.inf, dtype=torch.float64)
        else:
            inst_snr_db = snr + 10.0 * torch.log10(gains.clamp_min(1e-300))
            rate = shannon_rate_bps(bandwidth_hz, inst_snr_db).double()
        for device in devices:
            dev_profile = get_profile(device)
            lat = latency(
                m.device_flops, m.edge_flops, m.payload_bits, dev_profile, edge_profile, rate
            )
            if system.link == "none":
                lat_total = torch.full(
                    (n,), m.device_flops / dev_profile.flops_per_s, dtype=torch.float64
                )
                breakdown = {
                    "device": float(lat_total[0]),
                    "transmit": 0.0,
                    "edge": 0.0,
                    "total": float(lat_total[0]),
                }
            else:
                lat_total = torch.as_tensor(lat.total, dtype=torch.float64)
                breakdown = {
                    "device": float(torch.as_tensor(lat.device).double().mean()),
                    "transmit": float(torch.as_tensor(lat.transmit).double().mean()),
                    "edge": float(torch.as_tensor(lat.edge).double().mean()),
                    "total": float(lat_total.mean()),
                }
            finite_rate = rate[torch.isfinite(rate)]
            record: dict[str, Any] = {
                "system": system.name,
                "dataset": dataset,
                "channel": channel["name"],
                "snr_db": float(snr),
                "accuracy": m.accuracy,
                "payload_bits": mean_bits,
                "header_bits": m.header_bits,
                "estimated_bits": (
                    float(m.estimated_bits.mean()) if m.estimated_bits is not None else None
                ),
                "compression_ratio": ratio,
                "device_flops": m.device_flops,
                "edge_flops": m.edge_flops,
                "device_params": m.device_params,
                "edge_params": m.edge_params,
                "device_param_bytes": m.device_param_bytes,
                "device_profile": device,
                "edge_profile": edge,
                "latency_s": breakdown,
                "link": {
                    "bandwidth_hz": bandwidth_hz,
                    "rate_bps": float(finite_rate.mean()) if len(finite_rate) else None,
                },
                "deadline_s": deadline_s,
                "accuracy_within_deadline": (
                    accuracy_within_deadline(m.correct, lat_total, deadline_s)
                    if deadline_s is not None
                    else None
                ),
                "measured_s": dict(m.measured_s),
                "samples": n,
            }
            described = system.describe()
            for key, value in described.items():  # e.g. k, bits, lambda; never shadow a field
                record.setdefault(key, value)
            record["params"] = described
            record.update(extra or {})
            records.append(record)
    return records
