"""build_channel: names, parameters, errors; apply_channel end to end."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import (
    AWGNChannel,
    BitErasureChannel,
    FadingChannel,
    GaussMarkovFadingChannel,
    PacketErasureChannel,
    apply_channel,
    build_channel,
    channel_parameters,
)


def test_names_build_the_right_modules() -> None:
    assert isinstance(build_channel("awgn"), AWGNChannel)
    ray = build_channel("rayleigh", coherence="block", csi="perfect")
    assert isinstance(ray, FadingChannel) and ray.kind == "rayleigh" and ray.block
    fast = build_channel("rayleigh", block=False, csi="none")
    assert fast.coherence == "fast" and fast.csi == "none"
    ric = build_channel("rician", k_factor_db=6.0)
    assert ric.kind == "rician" and ric.k_factor == pytest.approx(10**0.6)
    gm = build_channel("gauss-markov", doppler_hz=5.0, slot_s=1e-3, symbols_per_slot=16)
    assert isinstance(gm, GaussMarkovFadingChannel) and gm.symbols_per_slot == 16
    assert isinstance(build_channel("erasure", p=0.1), BitErasureChannel)
    assert isinstance(build_channel("packet-erasure", p=0.1), PacketErasureChannel)
    for name in ("awgn", "rayleigh", "rician", "gauss-markov", "erasure", "packet-erasure"):
        assert not list(build_channel(name, **_required(name)).parameters())


def _required(name: str) -> dict:
    return {"gauss-markov": {"doppler_hz": 1.0, "slot_s": 1.0}, "erasure": {"p": 0.1}}.get(
        name, {"p": 0.1} if name == "packet-erasure" else {}
    )


def test_errors_name_the_field_and_the_allowed_values() -> None:
    with pytest.raises(ValueError, match="channel name must be one of 'awgn', 'rayleigh'"):
        build_channel("rayleigh-fast")
    with pytest.raises(ValueError, match="csi must be one of 'perfect', 'none', got 'full'"):
        build_channel("rayleigh", csi="full")
    with pytest.raises(ValueError, match="unknown parameter 'snr' for channel 'awgn'"):
        build_channel("awgn", snr=3)
    with pytest.raises(ValueError, match="unknown parameter 'kind' for channel 'rayleigh'"):
        build_channel("rayleigh", kind="rician")
    with pytest.raises(ValueError, match="allowed: .*k_factor_db"):
        build_channel("rician", k=3)
    with pytest.raises(ValueError, match="needs parameter.*p"):
        build_channel("erasure")
    with pytest.raises(ValueError, match="needs parameter.*doppler_hz, slot_s"):
        build_channel("gauss-markov")
    with pytest.raises(ValueError, match="p must be a number in"):
        build_channel("erasure", p="0.1")
    with pytest.raises(ValueError, match="k_factor_db must be a number"):
        build_channel("rician", k_factor_db=float("nan"))
    assert "coherence" in channel_parameters("rayleigh") and "kind" not in channel_parameters(
        "rician"
    )


@pytest.mark.parametrize("name", ["awgn", "rayleigh", "rician", "gauss-markov"])
def test_apply_channel_round_trip(name: str) -> None:
    params = {"doppler_hz": 10.0, "slot_s": 1e-3, "num_slots": 4} if name == "gauss-markov" else {}
    ch = build_channel(name, **params)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 3, 3, generator=g) * torch.tensor([0.1, 1.0, 20.0]).reshape(3, 1, 1, 1)
    y = apply_channel(x, ch, 80.0, generator=g, restore_scale=True)
    assert y.shape == x.shape and y.dtype == x.dtype  # 45 elements: odd, padded and unpadded
    torch.testing.assert_close(y, x, rtol=1e-3, atol=1e-3 * x.abs().max().item())
    # without restore_scale the output is in the normalised domain: 1/2 energy per real element
    y = apply_channel(x, ch, 80.0, generator=g)
    energy = y.square().reshape(3, -1).sum(1) / 46  # 23 unit-energy symbols = 46 reals
    torch.testing.assert_close(energy, torch.full((3,), 0.5), rtol=1e-3, atol=0)


def test_apply_channel_per_sample_snr_and_gradient() -> None:
    x = torch.randn(3, 40_000, generator=torch.Generator().manual_seed(1), requires_grad=True)
    snr = torch.tensor([0.0, 10.0, 20.0])
    y = apply_channel(x, "awgn", snr, generator=torch.Generator().manual_seed(2))
    ref = apply_channel(x, "awgn", 300.0, generator=torch.Generator().manual_seed(2))
    noise_power = (y - ref).detach().double().square().mean(dim=1)  # per real element: N0/2
    n0 = 10 ** (-snr.double() / 10)
    assert torch.all((noise_power / (n0 / 2) - 1).abs() < 5 * math.sqrt(2 / 40_000))
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
