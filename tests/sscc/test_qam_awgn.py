"""Uncoded QAM over the project's AWGN channel, demapped by Sionna: error rates match theory and
the LLRs are calibrated, which pins Sionna's ``no`` to the project's ``N0`` per complex symbol."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.channels import build_channel, snr_db_to_n0
from semcom.sscc import MCS, DigitalPHY, plan_layout


def _q(x: float) -> float:
    return 0.5 * math.erfc(x / math.sqrt(2.0))


def _theory(qam: int, snr_db: float) -> tuple[float, float]:
    """Exact SER and Gray BER of square ``qam``-QAM (unit energy) at ``snr_db`` on CN(0, N0)."""
    n0 = 10 ** (-snr_db / 10)
    sigma = math.sqrt(n0 / 2)  # per real dimension
    side = math.isqrt(qam)
    d = math.sqrt(3 / (2 * (qam - 1)))  # half the minimum distance
    p_pam = 2 * (1 - 1 / side) * _q(d / sigma)
    ser = 1 - (1 - p_pam) ** 2
    if qam == 4:
        ber = _q(d / sigma)
    else:  # 16-QAM: per dimension Gray 4-PAM, sign bit and inner/outer bit
        q1, q3, q5 = (_q(k * d / sigma) for k in (1, 3, 5))
        ber = ((q1 + q3) / 2 + (2 * q1 + q3 - q5) / 2) / 2
    return ser, ber


def _phy(qam: int) -> DigitalPHY:
    return DigitalPHY(plan_layout(64, MCS(qam, 0.5)))


@pytest.mark.parametrize(("qam", "snr_db"), [(4, 6.0), (16, 13.0)])
def test_uncoded_error_rates_match_theory(qam: int, snr_db: float) -> None:
    phy, m = _phy(qam), int(math.log2(qam))
    g = torch.Generator().manual_seed(qam)
    n_sym = 100_000
    bits = torch.randint(0, 2, (1, n_sym * m), generator=g).float()
    z = phy.map_bits(bits)
    assert abs(float(z.abs().square().mean()) - 1.0) < 0.01  # unit average energy
    y = build_channel("awgn")(z, snr_db, generator=g)
    llr = phy.llrs(y, snr_db_to_n0(snr_db))
    wrong = (llr > 0).float() != bits
    ber = float(wrong.float().mean())
    ser = float(wrong.reshape(n_sym, m).any(1).float().mean())
    ser_th, ber_th = _theory(qam, snr_db)
    for got, want, n in ((ser, ser_th, n_sym), (ber, ber_th, n_sym * m)):
        tol = 5 * math.sqrt(want * (1 - want) / n) * 2  # bits of one symbol are correlated
        assert abs(got - want) < tol, (got, want, tol)


def test_llrs_use_n0_per_complex_symbol() -> None:
    """QPSK app LLRs are exactly ``2 sqrt(2) |y_part| / N0`` for the bit on each axis."""
    phy = _phy(4)
    g = torch.Generator().manual_seed(0)
    n0 = float(snr_db_to_n0(3.0))
    y = torch.randn(1, 1000, dtype=torch.complex64, generator=g)
    llr = phy.llrs(y, n0).reshape(1000, 2).abs()
    expected = 2 * math.sqrt(2) / n0 * torch.stack([y.real, y.imag], -1).reshape(1000, 2).abs()
    torch.testing.assert_close(llr, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("qam", [4, 16, 64])
def test_llrs_are_calibrated_at_the_projects_n0(qam: int) -> None:
    """Mean ``sigmoid(-|L|)`` (the error rate the LLRs predict) equals the measured bit error
    rate with ``no = N0``; with ``N0`` off by 2x either way the prediction is clearly wrong."""
    phy, m = _phy(qam), int(math.log2(qam))
    snr_db = {4: 2.0, 16: 8.0, 64: 14.0}[qam]
    g = torch.Generator().manual_seed(1)
    bits = torch.randint(0, 2, (1, 60_000 * m), generator=g).float()
    y = build_channel("awgn")(phy.map_bits(bits), snr_db, generator=g)
    n0 = float(snr_db_to_n0(snr_db))
    measured = float(((phy.llrs(y, n0) > 0).float() != bits).float().mean())

    def predicted(no: float) -> float:
        return float(torch.sigmoid(-phy.llrs(y, no).abs()).mean())

    assert abs(predicted(n0) - measured) < 0.04 * measured + 1e-3
    assert abs(predicted(2 * n0) - measured) > 0.15 * measured
    assert abs(predicted(n0 / 2) - measured) > 0.15 * measured
