"""The capacity bound's bits follow n_cu log2(1 + SNR |h|^2) exactly, and its genie container
carries the bytes losslessly."""

from __future__ import annotations

import math

import torch

from semcom.channels import build_channel
from semcom.sscc import capacity_bits, pack_bytes, power_gains, unpack_bytes


def test_awgn_bits_are_log2_one_plus_snr() -> None:
    snr_db = torch.tensor([-10.0, 0.0, 3.0, 10.0, 25.0])
    bits = capacity_bits(192, snr_db)
    want = [192 * math.log2(1 + 10 ** (s / 10)) for s in snr_db.tolist()]
    assert bits.dtype == torch.float64
    torch.testing.assert_close(bits, torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=0)
    assert capacity_bits(100, 0.0).tolist() == [100.0]  # log2(2) = 1 bit per channel use


def test_fading_uses_the_samples_own_gains() -> None:
    snr = torch.tensor([5.0, 5.0, 20.0])
    block = power_gains(build_channel("rayleigh", csi="perfect"), 3, 50, snr,
                        torch.Generator().manual_seed(0))  # fmt: skip
    assert block.shape == (3, 1)
    lin = 10 ** (snr.double() / 10)
    want = 50 * torch.log2(1 + lin * block[:, 0].double())
    torch.testing.assert_close(capacity_bits(50, snr, block), want, rtol=1e-12, atol=0)
    fast = power_gains(build_channel("rayleigh", coherence="fast", csi="perfect"), 3, 50, snr,
                       torch.Generator().manual_seed(0))  # fmt: skip
    assert fast.shape == (3, 50)
    want = 50 * torch.log2(1 + lin[:, None] * fast.double()).mean(1)
    torch.testing.assert_close(capacity_bits(50, snr, fast), want, rtol=1e-12, atol=0)
    assert torch.equal(power_gains(build_channel("awgn"), 3, 50, snr), torch.ones(3, 1))


def test_genie_container_round_trip() -> None:
    datas = [bytes(range(256)) * 3, None, b"", b"\xff\x00\x01"]
    container = pack_bytes(datas, 200)
    assert container.shape == (4, 200) and container.dtype == torch.complex64
    assert unpack_bytes(container) == datas
