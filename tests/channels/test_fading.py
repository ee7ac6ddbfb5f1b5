"""Rayleigh / Rician fading: gain moments and distribution, block vs fast structure, CSI modes."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import FadingChannel, build_channel, draw_fading, normalize_power


def _within(samples: torch.Tensor, expected: float, sigmas: float = 5.0) -> None:
    """The mean of ``samples`` is ``expected`` within ``sigmas`` standard errors."""
    s = samples.double().flatten()
    sem = s.std().item() / math.sqrt(s.numel())
    assert abs(s.mean().item() - expected) < sigmas * sem, (s.mean().item(), expected, sem)


def test_rayleigh_power_gain_is_exponential() -> None:
    n = 1_000_000
    gain = build_channel("rayleigh", csi="perfect").power_gain(
        n, generator=torch.Generator().manual_seed(0)
    )
    assert gain.shape == (n,) and (gain >= 0).all()
    _within(gain, 1.0)
    _within(gain**2, 2.0)  # E|h|^4 = 2 for CN(0, 1)
    _within(gain**3, 6.0)
    # Kolmogorov–Smirnov against Exp(1): 1.95/sqrt(n) is the 0.1 % critical value
    x = gain[:100_000].double().sort().values
    cdf = 1 - torch.exp(-x)
    m = len(x)
    emp_hi = torch.arange(1, m + 1, dtype=torch.float64) / m
    d = torch.maximum(emp_hi - cdf, cdf - (emp_hi - 1 / m)).max().item()
    assert d < 1.95 / math.sqrt(m)


def test_power_gain_is_reproducible_for_evaluation() -> None:
    """The exact call the evaluation code makes."""
    channel = {"name": "rayleigh", "csi": "perfect"}
    params = {k: v for k, v in channel.items() if k != "name"}
    a = build_channel(channel["name"], **params).power_gain(
        1000, generator=torch.Generator().manual_seed(3)
    )
    b = build_channel(channel["name"], **params).power_gain(
        1000, generator=torch.Generator().manual_seed(3)
    )
    assert a.shape == (1000,) and torch.equal(a, b)
    assert torch.equal(
        build_channel("awgn").power_gain(7, generator=torch.Generator().manual_seed(3)),
        torch.ones(7),
    )


@pytest.mark.parametrize("k_db", [-3.0, 0.0, 6.0, 15.0])
def test_rician_moments(k_db: float) -> None:
    k = 10 ** (k_db / 10)
    ch = FadingChannel("rician", k_factor_db=k_db, los_phase=0.7)
    g = torch.Generator().manual_seed(1)
    h = ch.sample_h((400_000, 1), generator=g, dtype=torch.complex128).flatten()
    power = h.abs().square()
    _within(power, 1.0)
    _within(power**2, (k * k + 4 * k + 2) / (k + 1) ** 2)
    los = math.sqrt(k / (k + 1))
    _within(h.real, los * math.cos(0.7))
    _within(h.imag, los * math.sin(0.7))
    # the scattered part has variance 1/(K+1), split evenly between I and Q
    _within((h.real - los * math.cos(0.7)) ** 2, 0.5 / (k + 1))
    # the power_gain draws follow the same distribution
    pg = ch.power_gain(400_000, generator=torch.Generator().manual_seed(2))
    _within(pg, 1.0)
    _within(pg.double() ** 2, (k * k + 4 * k + 2) / (k + 1) ** 2)


def test_rician_linear_k_factor_equals_db() -> None:
    a = FadingChannel("rician", k_factor=4.0)
    b = FadingChannel("rician", k_factor_db=10 * math.log10(4.0))
    assert a.k_factor == pytest.approx(b.k_factor)
    ha = a.sample_h((5, 3), generator=torch.Generator().manual_seed(0))
    hb = b.sample_h((5, 3), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ha, hb)
    assert draw_fading((4,), k_factor=0.0, generator=torch.Generator().manual_seed(1)).shape == (4,)


def test_block_vs_fast_variance_structure() -> None:
    """With no CSI and negligible noise, y = h z: block keeps h over a sample, fast does not."""
    b, n = 4000, 64
    z = torch.ones(b, n, dtype=torch.complex64)
    g = torch.Generator().manual_seed(5)
    block = FadingChannel("rayleigh", block=True, csi="none")
    fast = FadingChannel("rayleigh", coherence="fast", csi="none")
    yb, hb = block(z, 80.0, generator=g, return_h=True)
    yf, hf = fast(z, 80.0, generator=g, return_h=True)
    assert hb.shape == (b, 1) and hf.shape == (b, n)
    torch.testing.assert_close(yb, hb.expand(b, n), atol=1e-3, rtol=0)
    within_block = (yb - yb.mean(dim=1, keepdim=True)).abs().square().mean().item()
    within_fast = (yf - yf.mean(dim=1, keepdim=True)).abs().square().mean().item()
    assert within_block < 1e-6
    assert abs(within_fast - (n - 1) / n) < 0.03  # sample variance of CN(0, 1) over n symbols
    between_block = yb[:, 0].abs().square().double()
    _within(between_block, 1.0)
    # fast: different symbols of one sample are uncorrelated
    corr = (hf[:, 1:] * hf[:, :-1].conj()).mean().abs().item()
    assert corr < 5 / math.sqrt(b * (n - 1))


@pytest.mark.parametrize("block", [True, False])
def test_zero_forcing_noise_is_n0_over_gain(block: bool) -> None:
    b, n, snr_db = 200, 2000, 10.0
    g = torch.Generator().manual_seed(7)
    z = normalize_power(torch.randn(b, n, generator=g, dtype=torch.complex64))
    ch = FadingChannel("rayleigh", block=block, csi="perfect")
    y, h = ch(z, snr_db, generator=g, return_h=True)
    # y/h - z = w/h: multiply back by h and the noise is CN(0, N0)
    w = ((y - z) * h).to(torch.complex128)
    _within(w.abs().square(), 10 ** (-snr_db / 10))
    _within(w.real, 0.0)


def test_perfect_csi_recovers_input_at_high_snr() -> None:
    g = torch.Generator().manual_seed(8)
    z = normalize_power(torch.randn(64, 512, generator=g, dtype=torch.complex64))
    for kind in ("rayleigh", "rician"):
        for eq in ("zf", "mmse"):
            y = FadingChannel(kind, csi="perfect", equalizer=eq)(z, 60.0, generator=g)
            err = (y - z).abs()
            assert err.median() < 1e-2, (kind, eq)
    # without CSI the phase rotation is left in place
    y = FadingChannel("rayleigh", csi="none")(z, 60.0, generator=g)
    assert (y - z).abs().median() > 0.3


def test_mmse_and_zf_see_the_same_channel() -> None:
    z = normalize_power(torch.randn(8, 32, dtype=torch.complex128))
    zf, mmse = (FadingChannel(csi="perfect", equalizer=e, block=False) for e in ("zf", "mmse"))
    snr = torch.linspace(0, 14, 8)
    y_zf, h = zf(z, snr, generator=torch.Generator().manual_seed(9), return_h=True)
    y_mmse = mmse(z, snr, generator=torch.Generator().manual_seed(9))
    n0 = (10 ** (-snr.double() / 10)).reshape(-1, 1)
    received = y_zf * h
    torch.testing.assert_close(y_mmse, h.conj() * received / (h.abs() ** 2 + n0))


def test_no_csi_output_is_h_z_plus_noise_with_per_sample_snr() -> None:
    b, n = 3, 200_000
    snr = torch.tensor([0.0, 10.0, 20.0])
    z = torch.ones(b, n, dtype=torch.complex64)
    y, h = FadingChannel(block=False, csi="none")(
        z, snr, generator=torch.Generator().manual_seed(10), return_h=True
    )
    noise_power = (y - h * z).abs().square().double().mean(dim=1)
    n0 = 10 ** (-snr.double() / 10)
    assert torch.all((noise_power / n0 - 1).abs() < 5 / math.sqrt(n))


def test_fading_is_differentiable() -> None:
    z = normalize_power(torch.randn(2, 4, dtype=torch.complex128)).requires_grad_()
    for csi in ("perfect", "none"):
        for block in (True, False):
            ch = FadingChannel("rician", k_factor_db=3.0, block=block, csi=csi, equalizer="mmse")
            assert torch.autograd.gradcheck(
                lambda t, ch=ch: ch(t, 5.0, generator=torch.Generator().manual_seed(0)), (z,)
            )
    x = torch.randn(4, 16, requires_grad=True)
    out = FadingChannel(csi="perfect")(torch.complex(x, -x), 10.0)
    out.abs().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_fading_parameter_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="csi must be one of 'perfect', 'none', got 'full'"):
        FadingChannel(csi="full")
    with pytest.raises(ValueError, match="kind must be one of"):
        FadingChannel("nakagami")
    with pytest.raises(ValueError, match="coherence must be one of 'block', 'fast'"):
        FadingChannel(coherence="slow")
    with pytest.raises(ValueError, match="block"):
        FadingChannel(block="yes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="contradicts"):
        FadingChannel(block=True, coherence="fast")
    with pytest.raises(ValueError, match="k_factor_db only applies"):
        FadingChannel("rayleigh", k_factor_db=3.0)
    with pytest.raises(ValueError, match="k_factor must be"):
        FadingChannel("rician", k_factor=-1.0)
    with pytest.raises(ValueError, match="equalizer must be one of 'zf', 'mmse'"):
        FadingChannel(equalizer="ml")
