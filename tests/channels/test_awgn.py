"""AWGN: measured SNR, per-sample SNRs, the N0/2 split between I and Q, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import AWGNChannel, normalize_power

N = 1_000_000


def _unit_symbols(b: int, n: int, seed: int) -> torch.Tensor:
    """QPSK-like unit-energy symbols with a random amplitude spread (then normalised)."""
    g = torch.Generator().manual_seed(seed)
    return normalize_power(torch.randn(b, n, generator=g, dtype=torch.complex64))


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 10.0, 25.0])
def test_measured_snr_matches_nominal(snr_db: float) -> None:
    z = _unit_symbols(4, N // 4, seed=1)
    y = AWGNChannel()(z, snr_db, generator=torch.Generator().manual_seed(2))
    noise = (y - z).to(torch.complex128)
    p_noise = noise.abs().square().mean().item()
    p_sig = z.to(torch.complex128).abs().square().mean().item()
    measured = 10 * math.log10(p_sig / p_noise)
    assert abs(measured - snr_db) < 0.1
    # tighter, from the sample size: the variance estimate of N complex Gaussians has relative
    # standard deviation 1/sqrt(N); allow 5 sigma.
    n0 = 10 ** (-snr_db / 10)
    assert abs(p_noise / n0 - 1) < 5 / math.sqrt(N)
    # each of I and Q carries N0/2, and they are uncorrelated
    var_re, var_im = noise.real.var().item(), noise.imag.var().item()
    tol = 5 * math.sqrt(2 / N)
    assert abs(var_re / (n0 / 2) - 1) < tol and abs(var_im / (n0 / 2) - 1) < tol
    corr = (noise.real * noise.imag).mean().item() / (n0 / 2)
    assert abs(corr) < 5 / math.sqrt(N)
    assert abs(noise.mean().item()) < 5 * math.sqrt(n0 / N)


def test_per_sample_snr_tensor() -> None:
    snr = torch.tensor([0.0, 5.0, 12.0, 30.0])
    b, n = len(snr), 250_000
    z = _unit_symbols(b, n, seed=3)
    y = AWGNChannel()(z, snr, generator=torch.Generator().manual_seed(4))
    measured = (y - z).abs().square().double().mean(dim=1)
    n0 = 10 ** (-snr.double() / 10)
    assert torch.all(((measured / n0) - 1).abs() < 5 / math.sqrt(n))
    measured_db = -10 * torch.log10(measured)
    assert torch.all((measured_db - snr.double()).abs() < 0.1)


def test_snr_broadcast_matches_scalar_draws() -> None:
    """A [B] tensor of equal SNRs gives exactly the scalar result (same generator)."""
    z = _unit_symbols(3, 100, seed=5)
    a = AWGNChannel()(z, 7.0, generator=torch.Generator().manual_seed(6))
    b = AWGNChannel()(z, torch.full((3,), 7.0), generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="snr_db"):
        AWGNChannel()(z, torch.zeros(2))


def test_reproducible_with_generator_and_complex128() -> None:
    z = _unit_symbols(2, 64, seed=7).to(torch.complex128)
    ch = AWGNChannel()
    a = ch(z, 3.0, generator=torch.Generator().manual_seed(9))
    b = ch(z, 3.0, generator=torch.Generator().manual_seed(9))
    c = ch(z, 3.0, generator=torch.Generator().manual_seed(10))
    assert a.dtype == torch.complex128
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_awgn_is_differentiable() -> None:
    z = _unit_symbols(2, 5, seed=8).to(torch.complex128).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda t: AWGNChannel()(t, 10.0, generator=torch.Generator().manual_seed(0)), (z,)
    )
    x = torch.randn(2, 8, requires_grad=True)
    y = AWGNChannel()(torch.complex(x, x), torch.tensor([0.0, 10.0]))
    (y.abs() ** 2).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_awgn_rejects_real_input_and_power_gain_is_one() -> None:
    with pytest.raises(TypeError, match="real_to_complex"):
        AWGNChannel()(torch.zeros(2, 4), 10.0)
    assert torch.equal(AWGNChannel().power_gain(5), torch.ones(5))
