"""Bytes → CRC/LDPC/QAM → the project's channels → bytes: bit-exact at high SNR, failures flagged
by the CRC at low SNR, and the block error rate falls off a cliff around the code's threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom.channels import build_channel
from semcom.sscc import MCS, DigitalPHY, UnsupportedChannelError, plan_layout, receive


def _payload(b: int, nbytes: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (b, nbytes), dtype=np.uint8)


def _run(phy: DigitalPHY, payload: np.ndarray, channel: str, snr_db: float, **params):
    g = torch.Generator().manual_seed(1)
    symbols = phy.modulate(payload)
    snr = torch.full((len(payload),), snr_db)
    y, noise_var, _ = receive(build_channel(channel, **params), symbols, snr, g)
    return phy.demodulate(y, noise_var)


@pytest.mark.parametrize(
    ("qam", "rate", "channel", "params"),
    [
        (16, 0.5, "awgn", {}),
        (64, 5 / 6, "awgn", {}),
        (4, 1 / 3, "rayleigh", {"coherence": "fast", "csi": "perfect"}),
        (16, 2 / 3, "rician", {"coherence": "block", "equalizer": "mmse"}),
    ],
)
def test_round_trip_is_bit_exact_at_high_snr(qam, rate, channel, params) -> None:
    lay = plan_layout(300, MCS(qam, rate))
    phy = DigitalPHY(lay)
    payload = _payload(8, lay.capacity_bytes)
    symbols = phy.modulate(payload)
    assert symbols.shape == (8, 300) and symbols.dtype == torch.complex64
    assert not symbols[:, lay.used_symbols :].any()  # unused channel uses carry no energy
    energy = symbols[:, : lay.used_symbols].abs().square().mean()
    assert abs(float(energy) - 1) < 0.1
    res = _run(phy, payload, channel, 40.0, **params)
    assert res.block_ok.all()
    np.testing.assert_array_equal(res.payload, payload)


def test_crc_flags_every_failure_at_very_low_snr() -> None:
    lay = plan_layout(2000, MCS(16, 0.5))  # two codewords per sample
    phy = DigitalPHY(lay, bp_iterations=8)
    payload = _payload(16, lay.capacity_bytes, seed=3)
    res = _run(phy, payload, "awgn", -5.0)
    assert res.block_ok.shape == (16, lay.num_blocks)
    assert not res.block_ok.any()
    shape = (16, lay.num_blocks, -1)
    per_block = res.payload.reshape(shape) != payload.reshape(shape)
    assert per_block.any(-1).all()  # the bytes really are wrong where the CRC says so
    assert (res.iterations == 8).all()


def test_block_error_rate_cliff() -> None:
    """QPSK rate 1/2, (k, n) = (256, 512): threshold near 1.5 dB on AWGN."""
    lay = plan_layout(256, MCS(4, 0.5))
    phy = DigitalPHY(lay)
    payload = _payload(150, lay.capacity_bytes, seed=5)
    bler = {snr: 1 - float(_run(phy, payload, "awgn", snr).block_ok.float().mean())
            for snr in (-1.5, 1.5, 4.5)}  # fmt: skip
    assert bler[-1.5] > 0.95, bler
    assert bler[4.5] < 0.02, bler
    assert bler[-1.5] > bler[1.5] > bler[4.5], bler


def test_early_termination_is_correct_and_cheaper() -> None:
    lay = plan_layout(256, MCS(4, 0.5))
    payload = _payload(40, lay.capacity_bytes, seed=7)
    early = _run(DigitalPHY(lay), payload, "awgn", 1.5)
    full = _run(DigitalPHY(lay, check_every=20), payload, "awgn", 1.5)
    for res in (early, full):
        ok = res.block_ok[:, 0].numpy()
        assert 0 < ok.sum() < len(ok)  # near the threshold: some pass, some fail
        np.testing.assert_array_equal(res.payload[ok], payload[ok])
    assert abs(int(early.block_ok.sum()) - int(full.block_ok.sum())) <= 2
    assert early.iterations.float().mean() < full.iterations.float().mean()


def test_receive_gives_the_zero_forcing_noise_variance() -> None:
    z = torch.ones(4, 10, dtype=torch.complex64)
    snr = torch.tensor([0.0, 10.0, 20.0, 30.0])
    g = torch.Generator().manual_seed(0)
    _, nv, gain = receive(build_channel("rayleigh", csi="perfect"), z, snr, g)
    assert nv.shape == gain.shape == (4, 1)
    torch.testing.assert_close(nv * gain, (10 ** (-snr / 10)).reshape(4, 1))
    _, nv, gain = receive(build_channel("awgn"), z, snr, g)
    assert torch.equal(gain, torch.ones(4, 1))
    with pytest.raises(UnsupportedChannelError, match="csi: perfect"):
        receive(build_channel("rayleigh", csi="none"), z, snr, g)
    with pytest.raises(UnsupportedChannelError, match="awgn, rayleigh"):
        receive(build_channel("erasure", p=0.1), z, snr, g)
