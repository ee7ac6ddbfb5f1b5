"""Crossover rate between two methods' latencies, and device energy per inference."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.latency import PROFILES, crossover_rate_bps, energy_j, get_profile, latency


def test_crossover_rate_equalises_latencies() -> None:
    r = crossover_rate_bps(0.02, 2e3, 0.001, 6e4)
    assert r is not None
    assert 0.02 + 2e3 / r == pytest.approx(0.001 + 6e4 / r)
    assert crossover_rate_bps(0.001, 6e4, 0.02, 2e3) == pytest.approx(r)  # symmetric


def test_crossover_from_the_latency_model() -> None:
    """A split system (more device compute, few bits) against offloading the raw image."""
    dev, edge = PROFILES["raspberry-pi-4"], PROFILES["edge-gpu"]
    split = dict(device_flops=5e7, edge_flops=2e8, bits=2e3)
    offload = dict(device_flops=0, edge_flops=2.5e8, bits=8 * 28 * 28)

    def total(m: dict, rate: float) -> float:
        return float(latency(m["device_flops"], m["edge_flops"], m["bits"], dev, edge, rate).total)

    def compute(m: dict) -> float:
        return total(m, math.inf)

    r = crossover_rate_bps(compute(split), split["bits"], compute(offload), offload["bits"])
    assert r is not None
    assert total(split, r) == pytest.approx(total(offload, r))
    assert total(split, r / 2) < total(offload, r / 2)  # slow link: sending less wins
    assert total(split, 2 * r) > total(offload, 2 * r)  # fast link: computing less wins


def test_no_crossover_when_one_method_dominates() -> None:
    assert crossover_rate_bps(0.001, 1e3, 0.01, 1e5) is None  # a faster and smaller
    assert crossover_rate_bps(0.01, 1e3, 0.01, 1e5) is None  # same compute: never equal
    assert crossover_rate_bps(0.01, 1e3, 0.01, 1e3) is None  # identical


def test_energy_is_power_times_time() -> None:
    nano = PROFILES["jetson-nano"]
    assert energy_j(nano.flops_per_s, nano) == pytest.approx(nano.power_w)  # 1 s of compute
    with_radio = energy_j(0, nano, bits=2e6, rate_bps=1e6, tx_power_w=0.25)
    assert with_radio == pytest.approx(0.5)
    per_sample = energy_j(0, nano, torch.tensor([0.0, 1e6]), torch.tensor([0.0, 1e6]), 1.0)
    assert per_sample.tolist() == [0.0, 1.0]
    assert energy_j(0, nano, bits=1e6, rate_bps=0.0) == 0.0  # no radio power given


def test_energy_needs_a_power_figure() -> None:
    with pytest.raises(ValueError, match="power_w"):
        energy_j(1e9, get_profile(1e9))
    with pytest.raises(ValueError, match="tx_power_w"):
        energy_j(1e9, PROFILES["edge-gpu"], tx_power_w=-1.0)
