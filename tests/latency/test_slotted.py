"""A payload across the slots of a time-varying channel: the delivery time against a slot-by-slot
loop, the limits (a constant rate, nothing to send, too little capacity), and the effective rate
a payload transport reports on a Gauss–Markov channel."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.eval.records import link_gains
from semcom.latency import shannon_rate_bps, slotted_delivery_time
from semcom.transports import Measurement
from semcom.transports.payload import PayloadTransport


def _loop(bits: float, rates: list[float], slot_s: float) -> float:
    sent, t = 0.0, 0.0
    for r in rates:
        if sent + r * slot_s >= bits:
            return t + (bits - sent) / r
        sent += r * slot_s
        t += slot_s
    return math.inf


def test_delivery_time_matches_a_slot_by_slot_loop() -> None:
    g = torch.Generator().manual_seed(0)
    rates = torch.rand(200, 30, generator=g, dtype=torch.float64) * 1e4
    rates[rates < 2e3] = 0.0  # deep fades carry nothing
    bits = torch.rand(200, generator=g, dtype=torch.float64) * 2.5e3  # some need > 30 slots
    got = slotted_delivery_time(bits, rates, 1e-2)
    pairs = zip(bits, rates, strict=True)
    want = torch.tensor([_loop(float(b), r.tolist(), 1e-2) for b, r in pairs])
    finite = torch.isfinite(want)
    assert torch.equal(torch.isfinite(got), finite) and finite.any() and (~finite).any()
    torch.testing.assert_close(got[finite], want[finite].double())


def test_a_constant_rate_is_bits_over_rate_and_nothing_takes_no_time() -> None:
    rates = torch.full((3, 100), 1e6, dtype=torch.float64)
    bits = torch.tensor([0.0, 2.5e3, 9e4])
    torch.testing.assert_close(slotted_delivery_time(bits, rates, 1e-3), bits.double() / 1e6)
    with pytest.raises(ValueError, match="slot_s"):
        slotted_delivery_time(bits, rates, 0.0)


def _measurement(bits: float, n: int) -> Measurement:
    return Measurement(evaluators={}, payload_bits=torch.full((n,), bits, dtype=torch.float64),
                       estimated_bits=None, header_bits=None, device_flops=0, edge_flops=0,
                       device_params=0, edge_params=0, device_param_bytes=0)  # fmt: skip


def test_a_payload_on_a_gauss_markov_channel_takes_the_slots_it_needs() -> None:
    """Per-slot gains of the channel (stationary, E|h|^2 = 1); at 10 dB mean SNR and a fast
    channel, a payload of 1 ms at the mean rate takes longer on average than on AWGN (Jensen:
    E log(1 + s|h|^2) < log(1 + s)), and a slow channel (one fade for the whole payload) leaves
    some payloads far later than the deadline."""
    n, bits, slot_s, bw = 4000, 3000.0, 1e-4, 1e6
    channel = {"name": "gauss-markov", "doppler_hz": 1000.0, "slot_s": slot_s}
    gains, slot = link_gains(channel, n, seed=0, deadline_s=0.02)
    assert slot == slot_s and gains.shape == (n, 800)
    assert abs(float(gains.mean()) - 1.0) < 0.02  # stationary unit power
    transport = PayloadTransport()
    sent, rate, fields = transport.link_load(_measurement(bits, n), gains, 10.0, bw, slot_s=slot_s)
    time = bits / rate
    awgn = bits / shannon_rate_bps(bw, 10.0)
    assert float(time.mean()) > awgn and fields["delivered_share"] == 1.0
    slow, _ = link_gains({**channel, "doppler_hz": 1.0}, n, seed=0, deadline_s=0.02)
    _, slow_rate, _ = transport.link_load(_measurement(bits, n), slow, 10.0, bw, slot_s=slot_s)
    assert float((bits / slow_rate > 10 * awgn).double().mean()) > 0.01
    assert float((bits / rate > 10 * awgn).double().mean()) < 0.001
