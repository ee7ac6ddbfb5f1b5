"""Shannon rate and transmission time: known values, tensor/float parity, edge cases."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.latency import shannon_rate_bps, transmit_time_s


def test_shannon_rate_known_values() -> None:
    assert shannon_rate_bps(1e6, 0.0) == pytest.approx(1e6)  # log2(1 + 1) = 1
    assert shannon_rate_bps(2e6, 10 * math.log10(3)) == pytest.approx(4e6)  # log2(4) = 2
    assert shannon_rate_bps(1e6, 10 * math.log10(15)) == pytest.approx(4e6)
    assert shannon_rate_bps(1e6, math.inf) == math.inf
    assert shannon_rate_bps(1e6, -math.inf) == 0.0
    # low SNR: R ≈ B · SNR / ln 2 (log1p keeps it accurate)
    assert shannon_rate_bps(1.0, -100.0) == pytest.approx(1e-10 / math.log(2), rel=1e-9)


def test_shannon_rate_tensor_float_parity() -> None:
    snr = torch.tensor([-10.0, 0.0, 7.5, 20.0, math.inf], dtype=torch.float64)
    rate = shannon_rate_bps(1e6, snr)
    assert isinstance(rate, torch.Tensor) and rate.dtype == torch.float64
    for s, r in zip(snr.tolist(), rate.tolist(), strict=True):
        assert r == pytest.approx(shannon_rate_bps(1e6, s))
    assert isinstance(shannon_rate_bps(1e6, 3), float)
    float32_in = shannon_rate_bps(1e6, snr[:4].float())
    assert float32_in.dtype == torch.float64
    bandwidths = torch.tensor([1e6, 2e6], dtype=torch.float64)
    assert shannon_rate_bps(bandwidths, 0.0).tolist() == pytest.approx([1e6, 2e6])


def test_shannon_rate_rejects_non_positive_bandwidth() -> None:
    with pytest.raises(ValueError, match="bandwidth_hz"):
        shannon_rate_bps(0.0, 1.0)
    with pytest.raises(ValueError, match="bandwidth_hz"):
        shannon_rate_bps(torch.tensor([1e6, -1.0]), 1.0)


def test_fading_instantaneous_snr_as_evaluation_passes_it() -> None:
    gains = torch.tensor([1.0, 0.1, 0.0], dtype=torch.float64)  # |h|^2, the last a deep fade
    inst = 10.0 + 10.0 * torch.log10(gains.clamp_min(1e-300))
    rate = torch.as_tensor(shannon_rate_bps(1e6, inst)).double()
    assert rate[0] == pytest.approx(1e6 * math.log2(11))
    assert rate[1] == pytest.approx(1e6 * math.log2(2))
    assert 0 <= float(rate[2]) < 1e-200


def test_transmit_time_edge_cases() -> None:
    assert transmit_time_s(1e6, 2e6) == 0.5
    assert transmit_time_s(0, 0.0) == 0.0  # nothing to send, even with no link
    assert transmit_time_s(1.0, math.inf) == 0.0
    assert transmit_time_s(1.0, 0.0) == math.inf
    bits = torch.tensor([0.0, 1e6, 1e6, 2e6], dtype=torch.float64)
    rate = torch.tensor([0.0, math.inf, 0.0, 1e6], dtype=torch.float64)
    assert transmit_time_s(bits, rate).tolist() == [0.0, 0.0, math.inf, 2.0]
    with pytest.raises(ValueError, match="rate_bps"):
        transmit_time_s(1.0, -1.0)
    with pytest.raises(ValueError, match="bits"):
        transmit_time_s(torch.tensor([-1.0]), 1.0)
