"""Evaluate a trained system the honest way: real bytes, real decode, per-sample link draws.

:func:`measure_system` runs the real device and edge paths over the test set. For a digital system
it does so once: the decoded output does not depend on the SNR (the link delivers the bytes, late
or on time). For an analog system it does so at every evaluation SNR, through the configured
channel with per-sample noise and fading. :func:`link_records` then turns that measurement into one
record per SNR and device profile, with per-sample latency on the configured channel: a digital
payload of ``b`` bits takes ``b / R`` with ``R = B log2(1 + SNR |h|^2)`` and each sample's own
``h``; an analog code of ``n`` complex symbols takes ``n / B`` (one symbol per ``1 / B`` seconds).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils.data import Dataset
from torch.utils.flop_counter import FlopCounterMode

from semcom.channels import channel_label
from semcom.eval.flops import count_params, param_bytes
from semcom.eval.metrics import channel_bandwidth_ratio, compression_ratio
from semcom.eval.segmentation import SegmentationMeter
from semcom.latency import accuracy_within_deadline, get_profile, latency, shannon_rate_bps
from semcom.systems import SplitSystem
from semcom.train import fetch_batch


@dataclass
class SystemMeasurement:
    """Per-sample results of running a system's real paths over a test set (``N`` samples)."""

    #: bool ``[N]`` (classification: prediction right) or float ``[N]`` in ``[0, 1]``
    #: (segmentation: the sample's pixel accuracy); the mean is the reported ``accuracy``.
    correct: torch.Tensor
    payload_bits: torch.Tensor  # float [N], header included (0 when nothing is sent)
    estimated_bits: torch.Tensor | None  # float [N], body only, -log2 likelihood
    header_bits: float
    device_flops: int
    edge_flops: int
    device_params: int
    edge_params: int
    device_param_bytes: int
    measured_s: dict[str, float] = field(default_factory=dict)
    #: analog links: per evaluation SNR (dB), bool ``[N]`` correctness through the channel.
    correct_by_snr: dict[float, torch.Tensor] | None = None
    #: analog links: complex channel symbols per sample.
    channel_uses: int | None = None
    #: segmentation: mean IoU over the set, per evaluation SNR (one key ``nan`` if SNR-independent).
    miou_by_snr: dict[float, float] | None = None
    #: simulated digital PHYs: what the link did per SNR (``system.last_stats`` after transmit).
    link_stats_by_snr: dict[float, dict[str, float]] | None = None

    @property
    def accuracy(self) -> float:
        return float(self.correct.float().mean())

    def correct_at(self, snr_db: float) -> torch.Tensor:
        """Per-sample correctness ``[N]`` at ``snr_db`` (SNR-independent for digital links)."""
        if self.correct_by_snr is None:
            return self.correct
        return self.correct_by_snr[float(snr_db)]


def sample_scores(system: SplitSystem, output: Any, targets: torch.Tensor) -> torch.Tensor:
    """Per-sample score ``[B]``: classification — bool, argmax of logits ``[B, K]`` equals the
    label; segmentation — float pixel accuracy of logits ``[B, K, H, W]`` against masks
    ``[B, H, W]``. A system that simulates a digital PHY and could not deliver some samples
    (``system.last_stats["valid"]``, bool ``[B]``, set by its last ``transmit``) scores them 0."""
    hit = output.argmax(1) == targets
    score = hit.flatten(1).float().mean(1) if system.task == "segmentation" else hit
    delivered = (getattr(system, "last_stats", None) or {}).get("valid")
    if delivered is not None and len(delivered) == len(score):
        score = score & delivered if score.dtype == torch.bool else score * delivered
    return score


def _params(modules: list[torch.nn.Module]) -> tuple[int, int]:
    return count_params(modules), param_bytes(modules)


def _flops(fn: Any, *args: Any) -> tuple[int, Any]:
    with FlopCounterMode(display=False) as counter:
        result = fn(*args)
    return int(counter.get_total_flops()), result


def _snr_generator(seed: int, snr_db: float) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + round(1000 * snr_db) % 2**31)


@torch.no_grad()
def measure_analog(
    system: SplitSystem,
    test_set: Dataset,
    *,
    channel: dict[str, Any],
    snr_db: list[float],
    seed: int = 0,
    batch_size: int = 256,
    timing_samples: int = 32,
) -> SystemMeasurement:
    """Run an analog system through ``channel`` at every SNR in ``snr_db`` over ``test_set``."""
    from semcom.channels import build_channel

    system.eval()
    n = len(test_set)  # type: ignore[arg-type]
    ch = build_channel(channel["name"], **{k: v for k, v in channel.items() if k != "name"})
    x1, _ = fetch_batch(test_set, torch.arange(1))
    snr1 = torch.full((1,), float(snr_db[0]))
    device_flops, symbols1 = _flops(system.analog_encode, x1, snr1)
    edge_flops, _ = _flops(system.analog_decode, symbols1, snr1)
    by_snr: dict[float, torch.Tensor] = {}
    miou: dict[float, float] = {}
    link_stats = getattr(system, "stats", None)  # simulated PHYs log what the link did per SNR
    if link_stats is not None:
        link_stats.reset()
    for snr in snr_db:
        g = _snr_generator(seed, float(snr))
        correct = []
        meter = SegmentationMeter(system.ctx.num_classes) if system.task == "segmentation" else None
        for start in range(0, n, batch_size):
            x, y = fetch_batch(test_set, torch.arange(start, min(start + batch_size, n)))
            s = torch.full((len(x),), float(snr))
            if hasattr(system, "last_stats"):
                system.last_stats = {}
            output = system.transmit(x, s, ch, generator=g)
            correct.append(sample_scores(system, output, y))
            if meter is not None:
                meter.update(output, y)
        by_snr[float(snr)] = torch.cat(correct)
        if meter is not None:
            miou[float(snr)] = meter.compute()["miou"]
    device_params, device_bytes = _params(system.device_modules())
    edge_params, _ = _params(system.edge_modules())
    uses = system.channel_uses()
    m = SystemMeasurement(
        correct=by_snr[float(snr_db[0])],
        payload_bits=torch.zeros(n, dtype=torch.float64),
        estimated_bits=None,
        header_bits=0.0,
        device_flops=device_flops,
        edge_flops=edge_flops,
        device_params=device_params,
        edge_params=edge_params,
        device_param_bytes=device_bytes,
        correct_by_snr=by_snr,
        channel_uses=uses,
        miou_by_snr=miou or None,
        link_stats_by_snr=link_stats.summary() if link_stats is not None else None,
    )
    if timing_samples > 0:
        m.measured_s = time_system(system, test_set, timing_samples)
    return m


@torch.no_grad()
def measure_system(
    system: SplitSystem,
    test_set: Dataset,
    *,
    batch_size: int = 256,
    timing_samples: int = 32,
    channel: dict[str, Any] | None = None,
    snr_db: list[float] | None = None,
    seed: int = 0,
) -> SystemMeasurement:
    """Run ``system``'s real device → link → edge path over ``test_set``.

    Digital systems: real bytes through :class:`~semcom.coding.Payload` and back. Analog systems
    need ``channel`` (an ``eval.channel`` dict) and ``snr_db``; see :func:`measure_analog`.
    """
    if system.link == "analog":
        if channel is None or not snr_db:
            raise ValueError("an analog system is measured through a channel at given SNRs")
        return measure_analog(
            system,
            test_set,
            channel=channel,
            snr_db=snr_db,
            seed=seed,
            batch_size=batch_size,
            timing_samples=timing_samples,
        )
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
        correct.append(sample_scores(system, output, y))

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
        if system.link == "analog":
            snr = torch.zeros(1)
            t0 = time.perf_counter()
            symbols = system.analog_encode(x, snr)
            t1 = time.perf_counter()
            system.analog_decode(symbols, snr)
            t2 = time.perf_counter()
            device_t.append(t1 - t0)
            edge_t.append(t2 - t1)
        elif system.link == "digital":
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


def _link_rate(
    system: SplitSystem, m: SystemMeasurement, gains: torch.Tensor, snr: float, bandwidth_hz: float
) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
    """Per-sample transmitted units ``[N]`` and their rate ``[N]`` (units/s), plus link fields.

    Digital: payload bits at the Shannon rate of each sample's instantaneous SNR. Analog: complex
    symbols at ``bandwidth_hz`` symbols/s (Nyquist signalling). No link: nothing sent.
    """
    n = len(m.correct)
    if system.link == "none":
        zeros = torch.zeros(n, dtype=torch.float64)
        return zeros, torch.full((n,), math.inf, dtype=torch.float64), {"rate_bps": None}
    if system.link == "analog":
        uses = torch.full((n,), float(m.channel_uses or 0), dtype=torch.float64)
        rate = torch.full((n,), float(bandwidth_hz), dtype=torch.float64)
        return uses, rate, {"rate_bps": None, "symbol_rate_hz": float(bandwidth_hz)}
    inst_snr_db = snr + 10.0 * torch.log10(gains.clamp_min(1e-300))
    rate = torch.as_tensor(shannon_rate_bps(bandwidth_hz, inst_snr_db)).double()
    finite = rate[torch.isfinite(rate)]
    return m.payload_bits, rate, {"rate_bps": float(finite.mean()) if len(finite) else None}


def _ratio_fields(system: SplitSystem, m: SystemMeasurement) -> dict[str, Any]:
    """Payload size and compression fields (DESIGN.md: say which ratio it is)."""
    if system.link == "analog":
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
    mean_bits = float(m.payload_bits.mean())
    return {
        "payload_bits": mean_bits,
        "header_bits": m.header_bits,
        "estimated_bits": (
            float(m.estimated_bits.mean()) if m.estimated_bits is not None else None
        ),
        "compression_ratio": (
            compression_ratio(system.split_elements(), mean_bits) if mean_bits > 0 else None
        ),
        "ratio_kind": "float32 split bits per payload bit" if mean_bits > 0 else None,
    }


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
        if system.link == "digital"
        else torch.ones(n, dtype=torch.float64)
    )
    edge_profile = get_profile(edge)
    ratio_fields = _ratio_fields(system, m)
    described = system.describe()
    records = []
    for snr in snr_db:
        correct = m.correct_at(snr)
        sent, rate, link_fields = _link_rate(system, m, gains, float(snr), bandwidth_hz)
        for device in devices:
            dev_profile = get_profile(device)
            lat = latency(m.device_flops, m.edge_flops, sent, dev_profile, edge_profile, rate)
            parts = {
                key: torch.as_tensor(getattr(lat, key), dtype=torch.float64).expand(n)
                for key in ("device", "transmit", "edge", "total")
            }
            record: dict[str, Any] = {
                "system": system.name,
                "dataset": dataset,
                "channel": channel["name"] if system.link != "none" else "none",
                "channel_label": channel_label(channel) if system.link != "none" else "none",
                "snr_db": float(snr),
                "accuracy": float(correct.float().mean()),
                "metric": "pixel accuracy" if system.task == "segmentation" else "top-1 accuracy",
                **ratio_fields,
                "device_flops": m.device_flops,
                "edge_flops": m.edge_flops,
                "device_params": m.device_params,
                "edge_params": m.edge_params,
                "device_param_bytes": m.device_param_bytes,
                "device_profile": device,
                "edge_profile": edge,
                "latency_s": {key: float(v.mean()) for key, v in parts.items()},
                "link": {"bandwidth_hz": bandwidth_hz, **link_fields},
                "deadline_s": deadline_s,
                "accuracy_within_deadline": (
                    accuracy_within_deadline(correct, parts["total"], deadline_s)
                    if deadline_s is not None
                    else None
                ),
                "measured_s": dict(m.measured_s),
                "samples": n,
            }
            if m.miou_by_snr is not None:
                record["miou"] = m.miou_by_snr.get(float(snr))
            stats = m.link_stats_by_snr.get(float(snr)) if m.link_stats_by_snr else None
            if stats:
                record["link_stats"] = stats
            for key, value in described.items():  # e.g. k, bits, lambda; never shadow a field
                record.setdefault(key, value)
            record["params"] = described
            record.update(extra or {})
            records.append(record)
    return records
