"""Latency model: Shannon rate, T = device + bits/R + edge with edge cases, deadline accuracy,
crossovers, and the shipped profiles."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.latency import (
    PROFILES,
    accuracy_within_deadline,
    crossover_rate_bps,
    get_profile,
    latency,
    measure_cpu_profile,
    profile_names,
    shannon_rate_bps,
)


def test_shannon_rate_known_values_and_tensor_float_parity() -> None:
    assert shannon_rate_bps(1e6, 0.0) == pytest.approx(1e6)
    assert shannon_rate_bps(2e6, 10 * math.log10(3)) == pytest.approx(4e6)
    snr = torch.tensor([-10.0, 0.0, 20.0], dtype=torch.float64)
    tensor = shannon_rate_bps(1e6, snr)
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float64
    for s, r in zip(snr.tolist(), tensor.tolist(), strict=True):
        assert r == pytest.approx(shannon_rate_bps(1e6, s))
    with pytest.raises(ValueError, match="bandwidth_hz"):
        shannon_rate_bps(0.0, 1.0)


def test_latency_sums_and_edge_cases() -> None:
    dev, edge = get_profile(1e9), get_profile(1e11)
    lat = latency(2e9, 1e11, 1e6, dev, edge, 1e6)
    assert (lat.device, lat.transmit, lat.edge) == pytest.approx((2.0, 1.0, 1.0))
    assert lat.total == pytest.approx(4.0)
    bits = torch.tensor([0.0, 1e6, 1e6], dtype=torch.float64)
    rate = torch.tensor([0.0, math.inf, 0.0], dtype=torch.float64)
    lat = latency(0, 0, bits, dev, edge, rate)
    assert lat.transmit.tolist() == [0.0, 0.0, math.inf]  # nothing sent / infinite rate / no link
    assert latency(0, 0, 0, dev, edge, 0.0).transmit == 0.0
    with pytest.raises(ValueError, match="rate_bps"):
        latency(0, 0, 1.0, dev, edge, -1.0)


def test_deadline_counts_late_correct_answers_as_wrong() -> None:
    correct = torch.tensor([True, True, False, True])
    total = torch.tensor([0.01, 0.2, 0.01, 0.05])
    assert accuracy_within_deadline(correct, total, 0.1) == pytest.approx(0.5)
    assert accuracy_within_deadline(correct, 0.01, 0.1) == pytest.approx(0.75)
    assert accuracy_within_deadline(correct, math.inf, 0.1) == 0.0


def test_crossover_rate_equalises_latencies() -> None:
    r = crossover_rate_bps(0.02, 2e3, 0.001, 6e4)
    assert r is not None
    assert 0.02 + 2e3 / r == pytest.approx(0.001 + 6e4 / r)
    assert crossover_rate_bps(0.001, 1e3, 0.01, 1e5) is None  # a dominates at every rate
    assert crossover_rate_bps(0.01, 1e3, 0.01, 1e5) is None


def test_profiles_are_sourced_and_ordered() -> None:
    for name in ("iot-mcu", "raspberry-pi-4", "jetson-nano", "edge-gpu"):
        p = PROFILES[name]
        assert p.flops_per_s > 0 and len(p.source) > 40 and p.description
    speeds = [
        PROFILES[n].flops_per_s for n in ("iot-mcu", "raspberry-pi-4", "jetson-nano", "edge-gpu")
    ]
    assert speeds == sorted(speeds)
    assert get_profile(PROFILES["edge-gpu"]) is PROFILES["edge-gpu"]
    with pytest.raises(ValueError, match="allowed: iot-mcu"):
        get_profile("cray-1")
    with pytest.raises(ValueError, match="> 0"):
        get_profile(-5.0)
    assert "this-cpu" in profile_names()


def test_measured_cpu_profile_is_plausible() -> None:
    p = measure_cpu_profile(repeats=2)
    assert 1e8 < p.flops_per_s < 1e14
    assert "measured" in p.source
