"""Cross-check the noise and fading statistics against Sionna's reference blocks.

Sionna is imported inside the fixture (importing it takes a few seconds); the checks compare
*statistics* of independent draws, with 5-sigma tolerances from the sample sizes.
"""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import AWGNChannel, FadingChannel, build_channel, snr_db_to_n0

pytestmark = pytest.mark.sionna


@pytest.fixture(scope="module")
def sionna_channel():
    pytest.importorskip("sionna.phy")
    from sionna.phy import channel, config

    config.seed = 1234
    return channel


def _rel_close(a: torch.Tensor, b: torch.Tensor, n: int, rel_std: float) -> None:
    """Two independent mean estimates over ``n`` draws each agree within 5 combined sigmas."""
    assert abs(a.item() / b.item() - 1) < 5 * rel_std * math.sqrt(2 / n), (a.item(), b.item())


@pytest.mark.parametrize("snr_db", [0.0, 13.0])
def test_awgn_noise_variance_equals_sionna(sionna_channel, snr_db: float) -> None:
    b, n = 8, 125_000
    z = torch.zeros(b, n, dtype=torch.complex64)
    n0 = snr_db_to_n0(snr_db)
    ref = sionna_channel.AWGN()(z, n0.item())
    ours = AWGNChannel()(z, snr_db, generator=torch.Generator().manual_seed(0))
    for w in (ref, ours):  # both CN(0, N0): N0 per complex symbol, N0/2 per real dimension
        w = w.to(torch.complex128)
        m = w.numel()
        assert abs(w.abs().square().mean().item() / n0.item() - 1) < 5 / math.sqrt(m)
        assert abs(w.real.var().item() / (n0.item() / 2) - 1) < 5 * math.sqrt(2 / m)
    _rel_close(ours.abs().square().double().mean(), ref.abs().square().double().mean(), b * n, 1.0)
    # per-sample noise levels: Sionna broadcasts `no` [B] over the trailing dims like we do
    snr = torch.linspace(-5, 25, b)
    ref = sionna_channel.AWGN()(z, snr_db_to_n0(snr))
    ours = AWGNChannel()(z, snr, generator=torch.Generator().manual_seed(1))
    for i in range(b):
        _rel_close(
            ours[i].abs().square().double().mean(), ref[i].abs().square().double().mean(), n, 1.0
        )


def test_rayleigh_fading_power_equals_sionna(sionna_channel) -> None:
    b = 200_000
    x = torch.ones(b, 1, dtype=torch.complex64)
    snr_db = 10.0
    n0 = snr_db_to_n0(snr_db).item()
    y_ref, h_ref = sionna_channel.FlatFadingChannel(1, 1, return_channel=True)(x, n0)
    h_ref = h_ref.reshape(b).to(torch.complex128)
    y_ref = y_ref.reshape(b).to(torch.complex128)
    y, h = build_channel("rayleigh", coherence="block", csi="none")(
        x, snr_db, generator=torch.Generator().manual_seed(2), return_h=True
    )
    h, y = h.reshape(b).to(torch.complex128), y.reshape(b).to(torch.complex128)
    # E|h|^2 = 1 and E|h|^4 = 2 for both (|h|^2 ~ Exp(1): relative std 1 and sqrt(5))
    _rel_close(h.abs().square().mean(), h_ref.abs().square().mean(), b, 1.0)
    _rel_close(h.abs().pow(4).mean(), h_ref.abs().pow(4).mean(), b, math.sqrt(5.0))
    assert abs(h_ref.abs().square().mean().item() - 1) < 5 / math.sqrt(b)
    # same received power |h|^2 + N0 and the same noise y - h x
    _rel_close(y.abs().square().mean(), y_ref.abs().square().mean(), b, 1.0)
    _rel_close((y - h).abs().square().mean(), (y_ref - h_ref).abs().square().mean(), b, 1.0)
    assert abs((y_ref - h_ref).abs().square().mean().item() / n0 - 1) < 5 / math.sqrt(b)
    # two-sample Kolmogorov–Smirnov on |h|^2 (0.1 % critical value 1.95 sqrt(2/b))
    both = torch.cat([h.abs().square(), h_ref.abs().square()])
    order = both.argsort()
    steps = torch.where(order < b, 1.0 / b, -1.0 / b).double()
    assert steps.cumsum(0).abs().max().item() < 1.95 * math.sqrt(2 / b)
    # with perfect CSI, our ZF noise (y/h - x) h is CN(0, N0), like Sionna's y - h x
    zf, hz = FadingChannel(csi="perfect")(
        x, snr_db, generator=torch.Generator().manual_seed(3), return_h=True
    )
    w = ((zf - 1) * hz).reshape(b).to(torch.complex128)
    _rel_close(w.abs().square().mean(), (y_ref - h_ref).abs().square().mean(), b, 1.0)
