"""UniformQuantizer: symbol-domain maths, modes, gradients and argument validation."""

from __future__ import annotations

import pytest
import torch

from semcom.coding import UniformQuantizer


@pytest.mark.parametrize(
    "bits,low,high", [(1, 0.0, 1.0), (4, -2.0, 3.0), (8, 0.0, 1.0), (16, -1, 1)]
)
def test_round_trip_within_half_step(bits: int, low: float, high: float) -> None:
    q = UniformQuantizer(bits, low, high)
    x = torch.linspace(low, high, 10_001, dtype=torch.float64)
    s = q.symbols(x)
    assert s.dtype == torch.int32
    assert int(s.min()) >= 0 and int(s.max()) <= 2**bits - 1
    err = (q.dequantize(s).double() - x).abs().max().item()
    # dequantize returns float32: allow a few float32 ulps of the range on top of step / 2.
    assert err <= q.step / 2 + 4 * 2.0**-24 * max(abs(low), abs(high))


def test_symbol_domain_endpoints_and_clamping() -> None:
    q = UniformQuantizer(3, -1.0, 1.0)
    u = q.to_symbol_domain(torch.tensor([-5.0, -1.0, 0.0, 1.0, 7.0]))
    assert torch.allclose(u, torch.tensor([0.0, 0.0, 3.5, 7.0, 7.0]))
    assert q.symbols(torch.tensor([-9.0, 9.0])).tolist() == [0, 7]
    assert q.num_levels == 8 and q.step == pytest.approx(2 / 7)


def test_dequantize_accepts_symbol_domain_floats_and_ints() -> None:
    q = UniformQuantizer(2, 1.0, 4.0)
    assert q.dequantize(torch.tensor([0, 3])).tolist() == [1.0, 4.0]
    assert q.dequantize(torch.tensor([1.5])).tolist() == [2.5]


def test_noise_mode_range_and_distribution() -> None:
    torch.manual_seed(0)
    q = UniformQuantizer(4, 0.0, 1.0)
    x = torch.rand(200_000)
    u = q.to_symbol_domain(x)
    noisy = q(x, mode="noise")
    d = noisy - u
    assert float(d.min()) >= -0.5 and float(d.max()) <= 0.5
    assert abs(float(d.mean())) < 0.005
    assert float(d.var()) == pytest.approx(1 / 12, rel=0.02)  # variance of U(-1/2, 1/2)


def test_ste_rounds_forward_and_passes_gradient() -> None:
    q = UniformQuantizer(4, 0.0, 1.0)
    x = torch.tensor([0.11, 0.52, 0.97, 1.5, -0.2], requires_grad=True)
    y = q(x, mode="ste")
    assert torch.equal(y, torch.round(q.to_symbol_domain(x.detach())))
    y.sum().backward()
    # d/dx of (x - low) / step inside the range; zero where the input was clamped.
    expected = torch.tensor([1 / q.step] * 3 + [0.0, 0.0])
    assert torch.allclose(x.grad, expected)


def test_round_mode_has_no_gradient_path() -> None:
    q = UniformQuantizer(2, 0.0, 1.0)
    x = torch.tensor([0.4], requires_grad=True)
    y = q(x, mode="round")
    assert not y.requires_grad
    assert y.tolist() == [1.0]


def test_unknown_mode_is_named() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        UniformQuantizer(2, 0.0, 1.0)(torch.zeros(1), mode="floor")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"bits": 0, "low": 0.0, "high": 1.0}, "bits"),
        ({"bits": 17, "low": 0.0, "high": 1.0}, "bits"),
        ({"bits": 4, "low": 1.0, "high": 1.0}, "low"),
        ({"bits": 4, "low": 0.0, "high": float("inf")}, "high"),
        ({"bits": 4, "low": float("nan"), "high": 1.0}, "low"),
    ],
)
def test_invalid_arguments_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        UniformQuantizer(**kwargs)


def test_non_int_bits_rejected() -> None:
    with pytest.raises(TypeError, match="bits"):
        UniformQuantizer(4.0, 0.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bits"):
        UniformQuantizer(True, 0.0, 1.0)  # type: ignore[arg-type]
