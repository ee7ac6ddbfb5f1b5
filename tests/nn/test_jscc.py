"""The deep-JSCC link: unit per-sample power before the noise, the nominal SNR on the wire,
gradients to the encoder, channel-use bookkeeping."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from semcom.channels import AWGNChannel, mean_energy
from semcom.nn.jscc import JSCCLink, bandwidth_ratio, channel_uses_for, link_channel


class _Recorder(nn.Module):
    """Wraps a channel and keeps what went in and came out."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.sent: torch.Tensor | None = None
        self.received: torch.Tensor | None = None

    def forward(self, z, snr_db, generator=None):  # noqa: ANN001, ANN201
        self.sent = z.detach().clone()
        self.received = self.inner(z, snr_db, generator=generator).detach().clone()
        return self.received


def test_symbols_have_unit_power_per_sample_whatever_the_encoder_scale() -> None:
    g = torch.Generator().manual_seed(0)
    scale = torch.tensor([0.01, 1.0, 30.0, 1e3]).view(4, 1, 1, 1)
    x = torch.randn(4, 6, 5, 5, generator=g) * scale + 2.0
    z = JSCCLink.encode(x)
    assert z.is_complex() and z.shape == (4, 75)
    torch.testing.assert_close(mean_energy(z), torch.ones(4), rtol=1e-5, atol=1e-5)
    rec = _Recorder(AWGNChannel())
    JSCCLink(rec)(x, torch.tensor([0.0, 5.0, 10.0, 20.0]), generator=g)
    torch.testing.assert_close(mean_energy(rec.sent), torch.ones(4), rtol=1e-5, atol=1e-5)


def test_measured_snr_per_sample_matches_the_nominal_one() -> None:
    g = torch.Generator().manual_seed(1)
    snr = torch.tensor([-5.0, 0.0, 10.0, 20.0])
    x = torch.randn(4, 40_000, generator=g)
    rec = _Recorder(AWGNChannel())
    JSCCLink(rec)(x, snr, generator=g)
    noise = mean_energy(rec.received - rec.sent)
    measured = 10 * torch.log10(mean_energy(rec.sent) / noise)
    torch.testing.assert_close(measured, snr, atol=0.1, rtol=0)


def test_rayleigh_with_csi_is_unbiased_and_without_csi_scales_by_h() -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 20_000, generator=g)
    z = JSCCLink.encode(x)
    rec = _Recorder(link_channel("rayleigh"))
    JSCCLink(rec)(x, 40.0, generator=g)
    # block fading + zero forcing: the residual is noise of variance N0 / |h|^2 (tiny at 40 dB)
    assert float((rec.received - z).abs().square().mean()) < 0.05
    rec = _Recorder(link_channel("rayleigh-nocsi"))
    JSCCLink(rec)(x, 40.0, generator=g)
    # y = h z + w, one h per sample (block fading): a per-sample least-squares gain explains y
    # up to the noise
    y = rec.received
    h = (z.conj() * y).sum(1, keepdim=True) / z.abs().square().sum(1, keepdim=True)
    residual = mean_energy(y - h * z)
    torch.testing.assert_close(residual, torch.full((3,), 1e-4), rtol=0.05, atol=0)  # = N0
    assert float((h.abs() - 1).abs().max()) > 1e-3  # a real fade, not an identity channel


def test_output_keeps_the_shape_and_a_noiseless_link_is_a_rescaling() -> None:
    x = torch.randn(2, 3, 7, 5)  # 105 reals: odd, one padding zero
    y = JSCCLink("awgn")(x, 200.0)
    assert y.shape == x.shape and y.dtype == x.dtype
    # 53 symbols per sample, each of unit mean energy: y = x * sqrt(53 / sum(x^2))
    scale = (x.reshape(2, -1).square().sum(1) / math.ceil(105 / 2)).sqrt()
    torch.testing.assert_close(y * scale.view(2, 1, 1, 1), x, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("channel", ["awgn", "rayleigh", "rayleigh-nocsi"])
def test_gradients_reach_the_encoder_through_the_link(channel: str) -> None:
    torch.manual_seed(0)
    encoder = nn.Conv2d(3, 4, 3, padding=1)
    link = JSCCLink(channel)
    y = link(encoder(torch.rand(2, 3, 8, 8)), torch.tensor([5.0, 15.0]))
    (y.square().sum() + y.sum()).backward()
    assert encoder.weight.grad is not None
    assert bool(torch.isfinite(encoder.weight.grad).all()) and encoder.weight.grad.abs().sum() > 0
    assert not list(link.parameters())


def test_channel_uses_and_bandwidth_ratio() -> None:
    assert channel_uses_for(1536) == JSCCLink.channel_uses((24, 8, 8)) == 768
    assert channel_uses_for(49) == 25  # odd: the last symbol is purely real
    assert bandwidth_ratio(768, 3 * 32 * 32) == 0.25
    with pytest.raises(ValueError, match="source_elements"):
        bandwidth_ratio(10, 0)
    with pytest.raises(ValueError, match="'awgn', 'rayleigh', 'rayleigh-nocsi'"):
        JSCCLink("fading")
    with pytest.raises(ValueError, match="snr_db"):
        JSCCLink()(torch.zeros(4, 6), torch.zeros(3))


def test_return_h_gives_the_gains_for_csi_fed_decoders() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 10)
    y, h = JSCCLink("rayleigh-nocsi")(x, 30.0, generator=g, return_h=True)
    assert y.shape == x.shape and h.shape == (4, 1) and h.is_complex()
    assert float((h.abs() - 1).abs().max()) > 1e-3
    y, h = JSCCLink("awgn")(x, 30.0, return_h=True)
    assert torch.equal(h, torch.ones(4, 1, dtype=torch.complex64))
    assert JSCCLink.bandwidth_ratio((6, 8, 8), 3 * 32 * 32) == 0.0625
