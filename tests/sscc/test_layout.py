"""The codeword layout stays within the channel-use budget, fills it, and gives Sionna valid
5G LDPC parameters; MCS parameters are validated."""

from __future__ import annotations

import itertools

import pytest

from semcom.sscc import CODE_RATES, MCS, QAM_ORDERS, parse_rate, plan_layout
from semcom.sscc.layout import CRC_BITS, MAX_INFO_BITS

MCS_GRID = [MCS(q, float(r)) for q, r in itertools.product(QAM_ORDERS, CODE_RATES)]


@pytest.mark.parametrize("mcs", MCS_GRID, ids=lambda m: m.label)
def test_layout_respects_the_budget_and_fills_it(mcs: MCS) -> None:
    m, r = mcs.bits_per_symbol, mcs.rate
    for n_cu in (40, 64, 100, 196, 256, 768, 1000, 3072, 12_288, 50_000, 150_528):
        lay = plan_layout(n_cu, mcs)
        if lay.num_blocks == 0:
            assert n_cu * m * r < 2 * (CRC_BITS + 8 + m), (n_cu, lay)
            assert lay.capacity_bytes == lay.source_bytes == 0
            continue
        assert lay.used_symbols <= n_cu
        assert lay.n % m == 0 and lay.symbols_per_block * m == lay.n
        assert CRC_BITS + 8 <= lay.k <= MAX_INFO_BITS
        assert (lay.k - CRC_BITS) % 8 == 0
        assert lay.k / lay.n <= r + 1e-12  # never above the nominal rate
        assert n_cu - lay.used_symbols < lay.num_blocks  # fewer than C unused channel uses
        info = lay.num_blocks * lay.k  # CRC included
        assert info >= n_cu * m * r - lay.num_blocks * (m * r + 9)
        assert lay.capacity_bytes == lay.num_blocks * lay.bytes_per_block
        assert 0 < lay.source_bytes == lay.capacity_bytes - lay.header_bytes
        if n_cu >= 3072:
            assert lay.fill > 0.99
            assert 8 * lay.capacity_bytes > 0.95 * n_cu * m * r


def test_large_budgets_split_into_several_codewords() -> None:
    lay = plan_layout(150_528, MCS(64, 5 / 6))  # 224x224x3 at cbr 1
    assert lay.num_blocks == 90 and lay.k <= MAX_INFO_BITS


@pytest.mark.parametrize(
    ("n_cu", "qam", "rate"), [(64, 4, 1 / 3), (196, 64, 5 / 6), (768, 16, 0.5), (9000, 4, 2 / 3)]
)
def test_sionna_accepts_the_codeword_parameters(n_cu: int, qam: int, rate: float) -> None:
    from sionna.phy.fec.ldpc import LDPC5GEncoder

    lay = plan_layout(n_cu, MCS(qam, rate))
    enc = LDPC5GEncoder(lay.k, lay.n, num_bits_per_symbol=qam.bit_length() - 1)
    assert (enc.k, enc.n) == (lay.k, lay.n)


def test_mcs_validation_names_allowed_values() -> None:
    assert parse_rate("2/3") == 2 / 3 and parse_rate(0.8333) == 5 / 6
    with pytest.raises(ValueError, match="1/3, 1/2, 2/3, 3/4, 5/6"):
        parse_rate(0.4)
    with pytest.raises(ValueError, match="4, 16, 64"):
        MCS(8, 0.5)
    with pytest.raises(ValueError, match="n_cu"):
        plan_layout(0, MCS(4, 0.5))
