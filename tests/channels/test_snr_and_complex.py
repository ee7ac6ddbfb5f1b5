"""SNR conversions, per-sample SNR broadcasting, real↔complex packing and power normalisation."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import (
    as_per_sample_snr,
    complex_to_real,
    db_to_linear,
    linear_to_db,
    mean_energy,
    n0_to_snr_db,
    noise_variance,
    normalize_power,
    real_to_complex,
    snr_db_to_n0,
)


def test_db_conversions_round_trip_and_known_values() -> None:
    snr = torch.tensor([-10.0, 0.0, 3.0, 10.0, 27.5])
    n0 = snr_db_to_n0(snr)
    torch.testing.assert_close(n0, 10 ** (-snr / 10))
    torch.testing.assert_close(n0_to_snr_db(n0), snr)
    torch.testing.assert_close(linear_to_db(db_to_linear(snr)), snr)
    assert snr_db_to_n0(10.0).item() == pytest.approx(0.1)
    assert snr_db_to_n0(0).item() == pytest.approx(1.0)  # ints are accepted
    assert linear_to_db(2.0).item() == pytest.approx(10 * math.log10(2.0))
    assert snr_db_to_n0(torch.tensor(5.0, dtype=torch.float64)).dtype == torch.float64


def test_as_per_sample_snr() -> None:
    assert torch.equal(as_per_sample_snr(3.0, 4), torch.full((4,), 3.0))
    assert torch.equal(as_per_sample_snr(torch.tensor([7.0]), 2), torch.tensor([7.0, 7.0]))
    per = torch.tensor([0.0, 1.0, 2.0])
    assert torch.equal(as_per_sample_snr(per, 3), per)
    with pytest.raises(ValueError, match="snr_db"):
        as_per_sample_snr(per, 4)


def test_noise_variance_broadcasts_per_sample() -> None:
    z = torch.zeros(3, 5, 2, dtype=torch.complex64)
    n0 = noise_variance(torch.tensor([0.0, 10.0, 20.0]), z)
    assert n0.shape == (3, 1, 1) and n0.dtype == torch.float32
    torch.testing.assert_close(n0.flatten(), torch.tensor([1.0, 0.1, 0.01]))
    assert noise_variance(10.0, z).dim() == 0
    assert noise_variance(1.0, z.to(torch.complex128)).dtype == torch.float64
    with pytest.raises(ValueError, match="snr_db"):
        noise_variance(torch.zeros(4), z)


def test_real_to_complex_pairs_consecutive_elements() -> None:
    x = torch.arange(24.0).reshape(2, 3, 2, 2)
    z = real_to_complex(x)
    assert z.shape == (2, 6) and z.dtype == torch.complex64
    flat = x.reshape(2, -1)
    torch.testing.assert_close(z.real, flat[:, 0::2])
    torch.testing.assert_close(z.imag, flat[:, 1::2])
    assert torch.equal(complex_to_real(z, x.shape), x)
    assert real_to_complex(x.double()).dtype == torch.complex128
    assert real_to_complex(x.half()).dtype == torch.complex64


def test_real_to_complex_pads_odd_sizes_with_one_zero() -> None:
    x = torch.arange(1.0, 16.0).reshape(1, 3, 5)  # 15 elements
    z = real_to_complex(x)
    assert z.shape == (1, 8)
    assert z[0, -1] == complex(15.0, 0.0)
    assert torch.equal(complex_to_real(z, x.shape), x)


def test_complex_to_real_rejects_wrong_shapes() -> None:
    z = torch.zeros(2, 4, dtype=torch.complex64)
    with pytest.raises(ValueError, match="cannot unpack"):
        complex_to_real(z, (2, 10))
    with pytest.raises(ValueError, match="cannot unpack"):
        complex_to_real(z, (3, 8))
    with pytest.raises(TypeError):
        complex_to_real(torch.zeros(2, 8), (2, 8))
    with pytest.raises(TypeError):
        real_to_complex(z)


def test_packing_is_differentiable() -> None:
    x = torch.randn(2, 7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda t: torch.view_as_real(normalize_power(real_to_complex(t))), (x,)
    )
    y = complex_to_real(real_to_complex(x) * 2, x.shape)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.full_like(x, 2.0))


def test_normalize_power_gives_unit_energy_per_sample() -> None:
    g = torch.Generator().manual_seed(0)
    scales = torch.tensor([1e-3, 0.5, 1.0, 7.0, 1e3]).reshape(-1, 1)
    z = torch.randn(5, 1000, generator=g, dtype=torch.complex64) * scales
    zn = normalize_power(z)
    torch.testing.assert_close(mean_energy(zn), torch.ones(5), rtol=1e-5, atol=0)
    # the direction of each sample is unchanged
    torch.testing.assert_close(zn / zn.abs(), z / z.abs(), rtol=1e-5, atol=1e-6)
    # works on [B, ...] and on real tensors, and keeps an all-zero sample at zero
    zz = normalize_power(torch.stack([torch.zeros(4, 3), torch.ones(4, 3) * 3]))
    assert torch.equal(zz[0], torch.zeros(4, 3))
    torch.testing.assert_close(zz[1], torch.ones(4, 3))
