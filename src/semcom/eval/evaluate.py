"""Evaluate a trained system the honest way: real bytes, real decode, per-sample link draws.

:func:`measure_system` hands the system's real path to its transport
(:mod:`semcom.transports`), which scores it with the task's evaluator: payload bytes once (the
decoded output does not depend on the SNR), analog symbols and simulated PHYs at every evaluation
SNR through the configured channel. :func:`evaluate_variant` turns that into records on every
evaluation channel (:func:`semcom.eval.records.link_records`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch.utils.data import Dataset

from semcom.eval.records import link_gains, link_records
from semcom.transports import Measurement, MeasurePlan

__all__ = ["evaluate_variant", "link_gains", "link_records", "measure_system"]


def measure_system(
    system: Any,
    test_set: Dataset,
    *,
    batch_size: int = 256,
    timing_samples: int = 32,
    channel: dict[str, Any] | None = None,
    snr_db: list[float] | None = None,
    seed: int = 0,
    device: Any = None,
    header: str = "compact",
) -> Measurement:
    """Run ``system``'s real device → link → edge path over ``test_set`` (its transport's
    :meth:`~semcom.transports.Transport.measure`). Transports whose output depends on the channel
    need ``channel`` (an ``eval.channel`` dict) and ``snr_db``; ``header`` is the payloads'
    wire form (:mod:`semcom.coding.wire`)."""
    plan = MeasurePlan(
        channel=channel,
        snr_db=tuple(float(s) for s in (snr_db or ())),
        seed=seed,
        batch_size=batch_size,
        timing_samples=timing_samples,
        device=device,
        header=header,
    )
    return system.transport.measure(system, test_set, plan)


def evaluate_variant(
    system: Any,
    test_set: Dataset,
    evaluation: Any,
    *,
    dataset: str,
    seed: int,
    batch_size: int,
    extra: dict[str, Any],
    device: Any = None,
    log: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Records of one trained variant on every evaluation channel (``evaluation`` is an
    :class:`~semcom.config.EvalConfig`).

    A transport whose output does not depend on the channel runs its real path once; one that
    does crosses each channel at each SNR; one that uses no channel gives one set of records
    (``channel: none``). A channel the transport cannot cross (a coherent digital receiver on
    fading without CSI) gets no records, and ``log`` says why.
    """
    transport = system.transport
    measurement: Measurement | None = None
    records: list[dict[str, Any]] = []
    channels = evaluation.channels()
    if not transport.uses_channel:
        channels = channels[:1]  # nothing crosses a channel: one set of records
    for channel in channels:
        refusal = transport.channel_refusal(channel) if transport.uses_channel else None
        if refusal is not None:
            if log is not None:
                log(f"{extra.get('variant', system.name)}: not measured on {channel}: {refusal}")
            continue
        if measurement is None or transport.depends_on_channel:
            measurement = measure_system(
                system,
                test_set,
                batch_size=batch_size,
                timing_samples=evaluation.timing_samples,
                channel=channel,
                snr_db=list(evaluation.snr_db),
                seed=seed,
                header=evaluation.header,
                device=device,
            )
        records += link_records(
            system,
            measurement,
            dataset=dataset,
            channel=channel,
            snr_db=list(evaluation.snr_db),
            bandwidth_hz=evaluation.link.bandwidth_hz,
            devices=list(evaluation.devices),
            edge=evaluation.edge,
            deadline_s=evaluation.deadline_s,
            seed=seed,
            extra=extra,
        )
    return records
