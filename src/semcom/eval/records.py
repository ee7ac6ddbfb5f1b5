"""Records: one ``metrics.json`` entry per (evaluation channel, SNR, device profile).

A record joins what the transport measured (:class:`~semcom.transports.Measurement`) with the
link and compute models: each sample's latency ``T = T_device + sent / rate + T_edge`` on the
configured channel (a payload of ``b`` bits at ``R = B log2(1 + SNR |h|^2)`` with each sample's own
``h``; on a time-varying channel, slot by slot at each slot's own rate until the payload is
through, :func:`semcom.latency.slotted_delivery_time`; ``n`` complex symbols at ``B`` symbols/s),
the task's metrics by name, and, with a deadline, the metrics counting late samples as empty
predictions.

Fields every record has (the ``metrics.json`` contract, README): ``system``, ``dataset``,
``channel``, ``channel_label``, ``snr_db``, ``accuracy`` (mean per-sample score: top-1 for
classification, the mean per-image pixel accuracy for segmentation, ``null`` for detection),
``metric`` (the task's primary metric in words) and ``primary_metric`` (its key), the task's
metrics (``miou``, ``pixel_accuracy``, ``map``, ``map_50``, ...), the transport's rate and ratio
fields, compute costs, ``latency_s``, ``link``, ``deadline_s``, ``accuracy_within_deadline`` and
``metrics_within_deadline``, ``measured_s``, ``samples``, the system's parameters (flat and as
``params``) and what the caller adds (``variant``, ``lambda``).
"""

from __future__ import annotations

import math
from typing import Any

import torch

from semcom.channels import GaussMarkovFadingChannel, build_channel, channel_label
from semcom.latency import accuracy_within_deadline, get_profile, latency
from semcom.transports import Measurement

#: how long a time-varying link is simulated for each sample: this many deadlines (or
#: :data:`SLOTTED_HORIZON_S` without one); a payload not through by then is late.
SLOTTED_HORIZON_DEADLINES = 4.0
SLOTTED_HORIZON_S = 1.0
#: at most this many slots per sample.
SLOTTED_MAX_SLOTS = 8192


def link_gains(
    channel: dict[str, Any], n: int, seed: int, deadline_s: float | None = None
) -> tuple[torch.Tensor, float | None]:
    """Power gains ``|h|^2`` of the evaluation channel and its slot length: ``([n], None)``, one
    gain per sample (1 for AWGN), or on a time-varying channel (``gauss-markov``)
    ``([n, L], slot_s)``: each sample's gain in each of ``L`` slots, a
    stationary process per sample, ``L · slot_s`` covering :data:`SLOTTED_HORIZON_DEADLINES`
    deadlines."""
    params = {k: v for k, v in channel.items() if k != "name"}
    ch = build_channel(channel["name"], **params)
    generator = torch.Generator().manual_seed(seed)
    if not isinstance(ch, GaussMarkovFadingChannel):
        return ch.power_gain(n, generator=generator).double(), None
    slot_s = ch.slot_s
    horizon = SLOTTED_HORIZON_DEADLINES * deadline_s if deadline_s else SLOTTED_HORIZON_S
    slots = max(1, min(SLOTTED_MAX_SLOTS, math.ceil(horizon / slot_s - 1e-9)))
    h = ch.gains(num_slots=slots, batch=n, generator=generator)
    return (h.real.square() + h.imag.square()).double(), float(slot_s)


def link_records(
    system: Any,
    measurement: Measurement,
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
    """One metrics record per (SNR, device profile); see the module docstring."""
    m = measurement
    transport = system.transport
    task = system.task
    n = m.samples
    gains, slot_s = (
        link_gains(channel, n, seed, deadline_s)
        if transport.uses_link_gains
        else (torch.ones(n, dtype=torch.float64), None)
    )
    edge_profile = get_profile(edge)
    ratio_fields = transport.ratio_fields(system, m)
    described = system.describe()
    on_channel = transport.uses_channel
    records = []
    for snr in snr_db:
        evaluator = m.evaluator_at(snr)
        scores = evaluator.sample_scores()
        metrics = evaluator.compute()
        sent, rate, link_fields = transport.link_load(
            m, gains, float(snr), bandwidth_hz, slot_s=slot_s
        )
        for device in devices:
            dev_profile = get_profile(device)
            lat = latency(m.device_flops, m.edge_flops, sent, dev_profile, edge_profile, rate)
            parts = {
                key: torch.as_tensor(getattr(lat, key), dtype=torch.float64).expand(n)
                for key in ("device", "transmit", "edge", "total")
            }
            within: dict[str, Any] | None = None
            acc_within: float | None = None
            if deadline_s is not None:
                on_time = parts["total"] <= deadline_s
                within = evaluator.compute(on_time)
                if scores is not None and len(scores):
                    acc_within = accuracy_within_deadline(scores, parts["total"], deadline_s)
            record: dict[str, Any] = {
                "system": system.name,
                "dataset": dataset,
                "channel": channel["name"] if on_channel else "none",
                "channel_label": channel_label(channel) if on_channel else "none",
                "snr_db": float(snr),
                "accuracy": (
                    float(scores.float().mean()) if scores is not None and len(scores) else None
                ),
                "metric": task.metric_label,
                "primary_metric": task.primary_metric,
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
                "transport": transport.kind,
                "task": task.kind,
                "deadline_s": deadline_s,
                "accuracy_within_deadline": acc_within,
                "metrics_within_deadline": within,
                "measured_s": dict(m.measured_s),
                "samples": n,
            }
            for key, value in metrics.items():  # the task's metrics by name
                record.setdefault(key, value)
            stats = m.link_stats_by_snr.get(float(snr)) if m.link_stats_by_snr else None
            if stats:
                record["link_stats"] = stats
            for key, value in described.items():  # e.g. k, bits, lambda; never shadow a field
                record.setdefault(key, value)
            record["params"] = described
            record.update(extra or {})
            records.append(record)
    return records
