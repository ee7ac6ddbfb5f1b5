"""T = T_device + bits/R + T_edge + T_overhead: sums, per-sample tensors, the link's edge cases."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.latency import PROFILES, LatencyBreakdown, get_profile, latency


def test_latency_sums_its_parts() -> None:
    dev, edge = get_profile(1e9), get_profile(1e11)
    lat = latency(2e9, 1e11, 1e6, dev, edge, 1e6)
    assert isinstance(lat, LatencyBreakdown)
    assert (lat.device, lat.transmit, lat.edge) == pytest.approx((2.0, 1.0, 1.0))
    assert lat.total == pytest.approx(4.0)
    assert all(isinstance(v, float) for v in (lat.device, lat.transmit, lat.edge, lat.total))
    assert lat.overhead == 0.0


def test_fixed_overhead_adds_to_every_sample_and_must_not_be_negative() -> None:
    dev, edge = get_profile(1e9), get_profile(1e10)
    bits = torch.tensor([0.0, 1e6], dtype=torch.float64)
    base = latency(1e8, 1e9, bits, dev, edge, 1e6)
    lat = latency(1e8, 1e9, bits, dev, edge, 1e6, overhead_s=0.002)
    assert lat.overhead == 0.002
    assert (lat.total - base.total).tolist() == pytest.approx([0.002, 0.002])
    with pytest.raises(ValueError, match="overhead_s"):
        latency(1e8, 1e9, bits, dev, edge, 1e6, overhead_s=-1e-3)


def test_profiles_by_name_and_object_agree() -> None:
    by_obj = latency(1e9, 1e9, 1e5, PROFILES["raspberry-pi-4"], PROFILES["edge-gpu"], 1e6)
    by_name = latency(1e9, 1e9, 1e5, "raspberry-pi-4", "edge-gpu", 1e6)
    assert by_obj == by_name
    assert by_obj.device == pytest.approx(1e9 / 4.8e9)


def test_per_sample_tensors_as_evaluation_passes_them() -> None:
    """float64 bits [N] and rates [N] (some infinite), as ``eval.evaluate.link_records`` does."""
    dev, edge = get_profile(1e9), get_profile(1e10)
    bits = torch.tensor([1e6, 1e6, 0.0, 5e5], dtype=torch.float64)
    rate = torch.tensor([1e6, math.inf, 0.0, 1e6], dtype=torch.float64)
    lat = latency(1e8, 1e9, bits, dev, edge, rate)
    parts = {
        k: torch.as_tensor(getattr(lat, k), dtype=torch.float64).expand(4)
        for k in ("device", "transmit", "edge", "total")
    }
    assert parts["transmit"].tolist() == [1.0, 0.0, 0.0, 0.5]
    assert parts["device"].tolist() == pytest.approx([0.1] * 4)
    assert parts["total"].tolist() == pytest.approx([1.2, 0.2, 0.2, 0.7])
    for i in range(4):  # tensor path equals the float path sample by sample
        one = latency(1e8, 1e9, float(bits[i]), dev, edge, float(rate[i]))
        assert one.total == pytest.approx(float(lat.total[i]))


def test_link_edge_cases() -> None:
    dev, edge = get_profile(1e9), get_profile(1e9)
    assert latency(0, 0, 1e6, dev, edge, math.inf).transmit == 0.0  # free link
    assert latency(0, 0, 1e6, dev, edge, 0.0).total == math.inf  # outage
    assert latency(0, 0, 0, dev, edge, 0.0).transmit == 0.0  # local inference sends nothing
    with pytest.raises(ValueError, match="rate_bps"):
        latency(0, 0, 1.0, dev, edge, -1.0)
    with pytest.raises(ValueError, match="flops"):
        latency(-1, 0, 1.0, dev, edge, 1.0)
