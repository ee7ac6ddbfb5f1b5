"""Gauss–Markov fading: rho = J0(2 pi f_D T), autocorrelation rho^k, stationarity, slots."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import (
    GaussMarkovFadingChannel,
    build_channel,
    complex_normal,
    gauss_markov_process,
    jakes_correlation,
    normalize_power,
)


def test_rho_matches_bessel_j0_known_values() -> None:
    assert jakes_correlation(0.0, 1e-3) == 1.0
    # J0(1) and the first zero of J0 (Abramowitz & Stegun)
    assert jakes_correlation(1 / (2 * math.pi), 1.0) == pytest.approx(0.7651976865579666, abs=1e-6)
    assert jakes_correlation(2.404825557695773 / (2 * math.pi), 1.0) == pytest.approx(0, abs=1e-6)
    assert jakes_correlation(100.0, 1e-3) == pytest.approx(0.9037126420924663, abs=1e-6)  # J0(pi/5)
    assert jakes_correlation(500.0, 1e-3) == pytest.approx(-0.3042421776440938, abs=1e-6)  # J0(pi)
    scipy_special = pytest.importorskip("scipy.special")
    for fd, t in [(5.0, 1e-3), (50.0, 2e-3), (200.0, 5e-3), (10.0, 0.5)]:
        want = float(scipy_special.j0(2 * math.pi * fd * t))
        # torch.special.bessel_j0 is accurate to ~4e-7 absolute (scipy to machine precision)
        assert jakes_correlation(fd, t) == pytest.approx(want, abs=1e-6)
        assert GaussMarkovFadingChannel(fd, t).rho == pytest.approx(want, abs=1e-6)


def test_chunked_recursion_equals_naive_recursion() -> None:
    """Same draws as the textbook loop h_t = rho h_{t-1} + sqrt(1 - rho^2) w_t, across the
    64-slot chunk boundaries, for positive, negative and extreme rho."""
    b, slots = 3, 150
    for rho in (0.97, 0.3, -0.6, 1.0, 0.0):
        h = gauss_markov_process(
            rho, slots, b, generator=torch.Generator().manual_seed(1), dtype=torch.complex128
        )
        g = torch.Generator().manual_seed(1)
        h0 = complex_normal((b, 1), generator=g, dtype=torch.complex128)
        w = complex_normal((b, slots - 1), generator=g, dtype=torch.complex128)
        ref = [h0[:, 0]]
        for t in range(slots - 1):
            ref.append(rho * ref[-1] + math.sqrt(1 - rho * rho) * w[:, t])
        torch.testing.assert_close(h, torch.stack(ref, dim=1), rtol=1e-10, atol=1e-10)
    assert gauss_markov_process(0.5, 1, 2).shape == (2, 1)


@pytest.mark.parametrize(("doppler_hz", "slot_s"), [(10.0, 5e-3), (100.0, 1e-3), (300.0, 2e-3)])
def test_autocorrelation_is_rho_to_the_k_and_stationary(doppler_hz: float, slot_s: float) -> None:
    ch = GaussMarkovFadingChannel(doppler_hz, slot_s)
    rho = ch.rho
    b, slots = 20_000, 130  # crosses two chunk boundaries (64, 128)
    h = ch.gains(slots, b, generator=torch.Generator().manual_seed(2)).to(torch.complex128)
    assert h.shape == (b, slots)
    power = h.abs().square()
    for t in (0, 1, 63, 64, 65, 128, slots - 1):  # E|h_t|^2 = 1 at every slot
        p = power[:, t]
        assert abs(p.mean().item() - 1) < 5 * p.std().item() / math.sqrt(b)
    for t0 in (0, 63, 99, 127):
        for k in (k for k in (1, 2, 5, 30) if t0 + k < slots):
            prod = h[:, t0 + k] * h[:, t0].conj()  # independent across rows
            sem = prod.real.std().item() / math.sqrt(b)
            assert abs(prod.real.mean().item() - rho**k) < 5 * sem, (t0, k)
            assert abs(prod.imag.mean().item()) < 5 * prod.imag.std().item() / math.sqrt(b)


def test_snr_trace_is_average_snr_plus_gain_in_db() -> None:
    ch = GaussMarkovFadingChannel(20.0, 1e-3)
    snr = torch.tensor([0.0, 10.0])
    trace = ch.snr_trace(snr, 50, 2, generator=torch.Generator().manual_seed(3))
    h = ch.gains(50, 2, torch.Generator().manual_seed(3), dtype=torch.complex128)
    want = snr[:, None].double() + 10 * torch.log10(h.abs().square())
    assert trace.shape == (2, 50)
    torch.testing.assert_close(trace.double(), want, rtol=0, atol=1e-4)
    big = ch.snr_trace(5.0, 20, 20_000, generator=torch.Generator().manual_seed(4))
    lin = 10 ** (big.double() / 10) / 10**0.5  # = |h|^2, mean 1
    assert abs(lin.mean().item() - 1) < 5 * lin.std().item() / math.sqrt(lin.numel() / 20)


def test_forward_maps_symbols_to_slots() -> None:
    z = torch.ones(3, 10, dtype=torch.complex64)
    g = torch.Generator().manual_seed(5)
    _, h = GaussMarkovFadingChannel(50.0, 1e-3, symbols_per_slot=4, csi="none")(
        z, 30.0, generator=g, return_h=True
    )
    assert h.shape == (3, 10)
    groups = [h[:, 0:4], h[:, 4:8], h[:, 8:10]]
    for grp in groups:
        assert torch.equal(grp, grp[:, :1].expand_as(grp))
    assert not torch.equal(h[:, 3], h[:, 4])
    _, h = GaussMarkovFadingChannel(50.0, 1e-3, num_slots=3)(z, 30.0, generator=g, return_h=True)
    hr = h.real
    assert [len(torch.unique(hr[0, s])) for s in (slice(0, 4), slice(4, 7), slice(7, 10))] == [
        1,
        1,
        1,
    ]
    assert len(torch.unique(hr[0])) == 3
    # equal slots take the broadcast path: same gains as gains() with the same generator
    ch = GaussMarkovFadingChannel(50.0, 1e-3, symbols_per_slot=5, csi="none")
    y, h = ch(z, 300.0, generator=torch.Generator().manual_seed(9), return_h=True)
    want = ch.gains(2, 3, torch.Generator().manual_seed(9)).repeat_interleave(5, dim=1)
    assert torch.equal(h, want)
    torch.testing.assert_close(y, want, atol=1e-6, rtol=0)
    _, h = GaussMarkovFadingChannel(50.0, 1e-3)(z, 30.0, generator=g, return_h=True)
    assert len(torch.unique(h.real[0])) == 1  # one slot per call: block fading


def test_forward_perfect_csi_and_noise_level() -> None:
    b, n, snr_db = 100, 4000, 15.0
    g = torch.Generator().manual_seed(6)
    z = normalize_power(torch.randn(b, n, generator=g, dtype=torch.complex64))
    ch = GaussMarkovFadingChannel(100.0, 1e-3, symbols_per_slot=100, csi="perfect")
    y, h = ch(z, snr_db, generator=g, return_h=True)
    w = ((y - z) * h).to(torch.complex128)
    p = w.abs().square()
    n0 = 10 ** (-snr_db / 10)
    assert abs(p.mean().item() - n0) < 5 * p.std().item() / math.sqrt(p.numel())
    x = normalize_power(torch.randn(2, 8, dtype=torch.complex128)).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: ch(t, 5.0, generator=torch.Generator().manual_seed(0)), (x,)
    )


def test_power_gain_and_errors() -> None:
    ch = build_channel("gauss-markov", doppler_hz=10.0, slot_s=1e-3)
    pg = ch.power_gain(200_000, generator=torch.Generator().manual_seed(7))
    assert abs(pg.mean().item() - 1) < 5 / math.sqrt(200_000)
    with pytest.raises(ValueError, match="doppler_hz"):
        GaussMarkovFadingChannel(-1.0, 1e-3)
    with pytest.raises(ValueError, match="slot_s"):
        GaussMarkovFadingChannel(10.0, 0.0)
    with pytest.raises(ValueError, match="only one"):
        GaussMarkovFadingChannel(10.0, 1e-3, num_slots=2, symbols_per_slot=3)
    with pytest.raises(ValueError, match="symbols_per_slot"):
        GaussMarkovFadingChannel(10.0, 1e-3, symbols_per_slot=0)
    with pytest.raises(ValueError, match="csi must be one of"):
        GaussMarkovFadingChannel(10.0, 1e-3, csi="partial")
