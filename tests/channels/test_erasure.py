"""Symbol/bit erasures (rates, per-sample p, straight-through gradient) and packet erasures."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import (
    BitErasureChannel,
    PacketErasureChannel,
    build_channel,
    num_packets,
    payload_intact_probability,
)


@pytest.mark.parametrize("p", [0.0, 0.01, 0.3, 0.9, 1.0])
def test_erasure_rate_is_p(p: float) -> None:
    n = 1_000_000
    x = torch.randint(0, 256, (10, n // 10), generator=torch.Generator().manual_seed(0)).float()
    y, mask = BitErasureChannel(p, fill_value=-1.0)(
        x, generator=torch.Generator().manual_seed(1), return_mask=True
    )
    rate = mask.double().mean().item()
    assert abs(rate - p) <= 5 * math.sqrt(p * (1 - p) / n)
    assert torch.equal(y[mask], torch.full_like(y[mask], -1.0))
    assert torch.equal(y[~mask], x[~mask])


def test_per_sample_erasure_probability() -> None:
    p = torch.tensor([0.0, 0.1, 0.5, 0.8])
    n = 100_000
    x = torch.ones(4, n)
    _, mask = BitErasureChannel(0.2)(
        x, p=p, generator=torch.Generator().manual_seed(2), return_mask=True
    )
    rate = mask.double().mean(dim=1)
    tol = 5 * torch.sqrt(p.double() * (1 - p.double()) / n)
    assert torch.all((rate - p.double()).abs() <= tol)
    with pytest.raises(ValueError, match="p must be"):
        BitErasureChannel(0.2)(x, p=torch.tensor([0.1, 1.5, 0.0, 0.0]))


def test_straight_through_gradient() -> None:
    x = (torch.rand(8, 64, generator=torch.Generator().manual_seed(3)) * 255).round()
    x.requires_grad_()
    y, mask = BitErasureChannel(0.5)(
        x, generator=torch.Generator().manual_seed(4), return_mask=True
    )
    assert mask.any() and (~mask).any()
    weights = torch.randn(8, 64)
    (y * weights).sum().backward()
    torch.testing.assert_close(x.grad, weights)  # identity Jacobian, erased or not
    assert torch.equal(y.detach()[mask], torch.zeros(int(mask.sum())))

    x2 = x.detach().clone().requires_grad_()
    y2, mask2 = BitErasureChannel(0.5, straight_through=False)(
        x2, generator=torch.Generator().manual_seed(4), return_mask=True
    )
    (y2 * weights).sum().backward()
    assert torch.equal(mask2, mask)
    assert torch.equal(x2.grad[mask], torch.zeros(int(mask.sum())))
    torch.testing.assert_close(x2.grad[~mask], weights[~mask])


def test_erasure_on_integer_and_complex_symbols() -> None:
    bits = torch.randint(0, 2, (3, 1000), dtype=torch.uint8)
    out = BitErasureChannel(0.5, fill_value=2)(bits, generator=torch.Generator().manual_seed(5))
    assert out.dtype == torch.uint8 and set(out.unique().tolist()) <= {0, 1, 2}
    z = torch.ones(2, 100, dtype=torch.complex64)
    out = BitErasureChannel(0.5)(z, 10.0, generator=torch.Generator().manual_seed(6))
    assert out.dtype == torch.complex64 and set(out.real.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(BitErasureChannel(0.3).power_gain(3), torch.ones(3))


def test_packet_erasure() -> None:
    ch = build_channel("packet-erasure", p=0.2, packet_bytes=100)
    payload = bytes(range(256)) * 4  # 1024 bytes -> 11 packets
    packets = ch(payload, generator=torch.Generator().manual_seed(7))
    assert len(packets) == num_packets(1024, 100) == 11
    for i, pkt in enumerate(packets):
        assert pkt is None or pkt == payload[100 * i : 100 * (i + 1)]
    assert PacketErasureChannel(0.0, 100)(payload) == [
        payload[i : i + 100] for i in range(0, 1024, 100)
    ]
    assert PacketErasureChannel.reassemble(PacketErasureChannel(0.0, 7)(payload)) == payload
    assert PacketErasureChannel.reassemble([b"ab", None]) is None
    assert PacketErasureChannel(0.0, 10)(b"") == [b""]  # an empty payload is one packet
    assert PacketErasureChannel(1.0, 10)(b"abc") == [None]
    # loss rate of packets and intact rate of payloads
    g = torch.Generator().manual_seed(8)
    lost = [pkt is None for _ in range(2000) for pkt in ch(payload, g)]
    m = len(lost)
    assert abs(sum(lost) / m - 0.2) < 5 * math.sqrt(0.2 * 0.8 / m)
    delivered = ch.deliver([payload[:250]] * 20_000, generator=g)
    q = ch.intact_probability(250)
    assert q == pytest.approx(0.8**3)
    ok = sum(d is not None for d in delivered) / len(delivered)
    assert abs(ok - q) < 5 * math.sqrt(q * (1 - q) / len(delivered))
    assert all(d is None or d == payload[:250] for d in delivered)


def test_intact_probability_and_errors() -> None:
    assert payload_intact_probability(0, 0.1, 100) == pytest.approx(0.9)
    assert payload_intact_probability(1500, 0.1, 1500) == pytest.approx(0.9)
    assert payload_intact_probability(1501, 0.1, 1500) == pytest.approx(0.81)
    assert payload_intact_probability(10**6, 0.0, 1500) == 1.0
    with pytest.raises(ValueError, match="packet_bytes"):
        PacketErasureChannel(0.1, packet_bytes=0)
    with pytest.raises(ValueError, match="p must be a number in"):
        PacketErasureChannel(1.1)
    with pytest.raises(ValueError, match="p must be a number in"):
        BitErasureChannel(-0.1)
    with pytest.raises(TypeError, match="bytes"):
        PacketErasureChannel(0.1)("text")  # type: ignore[arg-type]
