"""CBAM and the SNR-adaptive gate: shapes kept, gates in (0, 1), differentiable, and each gate
reacts to what it is meant to see."""

from __future__ import annotations

import pytest
import torch

from semcom.nn.cbam import CBAM, CBAMChannelGate, CBAMSpatialGate
from semcom.nn.snr_adaptive import SNRAdaptiveGate


@pytest.mark.parametrize("shape", [(2, 16, 8, 8), (3, 5, 7, 9), (1, 1, 1, 1)])
def test_cbam_keeps_shape_and_is_differentiable(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    cbam = CBAM(shape[1], reduction=4)
    x = torch.randn(*shape, requires_grad=True)
    y = cbam(x)
    assert y.shape == x.shape
    y.square().sum().backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    for name, p in cbam.named_parameters():
        assert p.grad is not None, name


def test_cbam_gates_are_in_unit_interval_and_have_the_right_shapes() -> None:
    x = torch.randn(2, 8, 6, 6)
    c = CBAMChannelGate(8, reduction=2)(x)
    s = CBAMSpatialGate(7)(x)
    assert c.shape == (2, 8, 1, 1) and s.shape == (2, 1, 6, 6)
    assert bool(((c > 0) & (c < 1)).all()) and bool(((s > 0) & (s < 1)).all())
    with pytest.raises(ValueError, match="odd"):
        CBAMSpatialGate(4)


def test_cbam_channel_gate_sees_the_max_not_only_the_mean() -> None:
    gate = CBAMChannelGate(4, reduction=1)
    a = torch.zeros(1, 4, 4, 4)
    b = a.clone()
    b[0, 0, 0, 0], b[0, 0, 0, 1] = 8.0, -8.0  # same mean per channel, different max
    assert not torch.allclose(gate(a), gate(b))


def test_snr_gate_depends_on_snr_keeps_shape_and_is_differentiable() -> None:
    torch.manual_seed(0)
    gate = SNRAdaptiveGate(8)
    x = torch.rand(2, 8, 4, 4, requires_grad=True)
    low = gate(x, torch.tensor([-10.0, -10.0]))
    high = gate(x, 20.0)
    assert low.shape == x.shape and not torch.allclose(low, high)
    w = gate.weights(x, torch.tensor([0.0, 30.0]))
    assert w.shape == (2, 8) and bool(((w > 0) & (w < 1)).all())
    high.sum().backward()
    assert x.grad is not None and gate.mlp[0].weight.grad is not None
    with pytest.raises(ValueError, match="snr_db"):
        gate(x, torch.zeros(3))
