"""The emulated uplink: exact hold times, packetisation, seeded losses, the retry cap, and the
expected time ``8 n / R / (1 - P)`` it is compared against."""

from __future__ import annotations

import math
import statistics

import pytest

from semcom.latency import transmit_time_s
from semcom.runtime.link_emulator import (
    LinkDropped,
    LinkEmulator,
    expected_transmit_s,
)


def test_lossless_hold_time_is_bits_over_rate() -> None:
    link = LinkEmulator(rate_bps=2e5, mtu_bytes=500)
    t = link.plan(1234)
    assert (t.packets, t.transmissions, t.retransmissions) == (3, 3, 0)
    assert t.seconds == pytest.approx(8 * 1234 / 2e5, rel=1e-12)
    assert t.seconds == pytest.approx(transmit_time_s(8 * 1234, 2e5))  # the latency model's
    assert link.plan(0).seconds == 0.0 and link.plan(0).packets == 0


def test_each_retransmission_costs_the_packet_again() -> None:
    link = LinkEmulator(rate_bps=1e6, loss=0.5, mtu_bytes=1400, seed=3, max_retransmissions=50)
    for _ in range(200):
        t = link.plan(700)  # one packet
        assert t.packets == 1
        assert t.seconds == pytest.approx(8 * 700 * t.transmissions / 1e6, rel=1e-12)
    multi = [link.plan(3000) for _ in range(200)]  # 1400 + 1400 + 200 bytes
    assert all(t.packets == 3 for t in multi)
    assert any(t.retransmissions > 0 for t in multi)
    for t in multi:  # the time is a sum of whole packets' times
        units = t.seconds * 1e6 / 8
        assert units >= 3000 - 1e-6
        assert any(
            math.isclose(units, 1400 * a + 200 * b)
            for a in range(2, t.transmissions + 1)
            for b in range(1, t.transmissions + 1)
        )


@pytest.mark.parametrize("loss", [0.1, 0.3, 0.6])
def test_mean_hold_time_matches_the_expectation(loss: float) -> None:
    link = LinkEmulator(rate_bps=1e6, loss=loss, seed=1, max_retransmissions=1000)
    n = 20_000
    draws = [link.plan(1000) for _ in range(n)]
    mean_tx = statistics.fmean(t.transmissions for t in draws)
    assert mean_tx == pytest.approx(1 / (1 - loss), rel=0.03)
    mean_s = statistics.fmean(t.seconds for t in draws)
    assert mean_s == pytest.approx(expected_transmit_s(1000, 1e6, loss), rel=0.03)
    assert link.expected_seconds(1000) == pytest.approx(8e-3 / (1 - loss))


def test_same_seed_same_losses() -> None:
    a = LinkEmulator(1e6, 0.4, seed=9, mtu_bytes=100)
    b = LinkEmulator(1e6, 0.4, seed=9, mtu_bytes=100)
    c = LinkEmulator(1e6, 0.4, seed=10, mtu_bytes=100)
    plans_a = [a.plan(1000) for _ in range(20)]
    assert plans_a == [b.plan(1000) for _ in range(20)]
    assert plans_a != [c.plan(1000) for _ in range(20)]


def test_retry_cap_raises_link_dropped() -> None:
    link = LinkEmulator(1e6, loss=0.9, max_retransmissions=0, seed=0)
    with pytest.raises(LinkDropped, match="gave up after 0 retransmissions"):
        for _ in range(100):
            link.plan(100)
    lossless = LinkEmulator(1e6, loss=0.0, max_retransmissions=0)
    assert lossless.plan(10_000).retransmissions == 0


def test_send_sleeps_for_the_planned_time() -> None:
    slept: list[float] = []
    link = LinkEmulator(8e3, mtu_bytes=10, sleep=slept.append)
    t = link.send(b"x" * 25)
    assert slept == [pytest.approx(0.025)] and t.seconds == pytest.approx(0.025)
    assert t.packets == 3


def test_infinite_rate_holds_nothing_but_still_counts_losses() -> None:
    link = LinkEmulator(math.inf, loss=0.5, seed=0, max_retransmissions=100)
    plans = [link.plan(5000) for _ in range(20)]
    assert all(t.seconds == 0.0 for t in plans)
    assert sum(t.retransmissions for t in plans) > 0
    assert expected_transmit_s(5000, math.inf, 0.5) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [{"rate_bps": 0}, {"rate_bps": -1}, {"loss": 1.0}, {"loss": -0.1}, {"mtu_bytes": 0},
     {"max_retransmissions": -1}],
)  # fmt: skip
def test_bad_settings_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        LinkEmulator(**{"rate_bps": 1e6, **kwargs})
