"""ANS throughput (symbols/s) and real-bits overhead against the model's estimate.

For several payload sizes (symbols per sample) and alphabets, a factorized entropy model with
channel-specific tables codes a batch of samples drawn from its own pmf (what a trained model sees).
Reported per configuration:

* ``encode_msym_s`` / ``decode_msym_s`` — millions of symbols per second through
  ``FactorizedEntropyModel.compress`` / ``decompress`` (whole batch, one stream per sample),
* ``overhead_pct`` — ``(real body bits - estimated bits) / estimated bits``, mean over samples,
  where the estimate is ``-log2 likelihood`` of the model (float) and real bits are ``8 * len``,
* ``table_gap_pct`` — the part of that due to integer-table rounding (table bits vs estimate).

Run: ``.venv/bin/python benchmarks/bench_ans.py`` (or ``make bench``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, report  # noqa: E402

from semcom.coding import FactorizedEntropyModel  # noqa: E402


def model_and_symbols(channels: int, spatial: int, bits: int, batch: int, seed: int):
    torch.manual_seed(seed)
    model = FactorizedEntropyModel(channels, 2**bits)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))
    model.update()
    pmf = model.pmf().float()
    g = torch.Generator().manual_seed(seed)
    draws = [
        torch.multinomial(pmf[c], batch * spatial, replacement=True, generator=g)
        for c in range(channels)
    ]
    sym = torch.stack(draws)
    symbols = sym.reshape(channels, batch, spatial).transpose(0, 1).contiguous().to(torch.int32)
    return model, symbols


def measure(channels: int, spatial: int, bits: int, batch: int) -> dict[str, float]:
    """One row of the table: round trip, timings and overheads for one configuration."""
    model, symbols = model_and_symbols(channels, spatial, bits, batch, seed=channels + bits)
    n_sym = symbols.numel()
    streams = model.compress(symbols)
    out = model.decompress(streams, (channels, spatial))
    assert torch.equal(out, symbols), "round trip failed"
    t_enc = best_time(lambda: model.compress(symbols), repeat=3)
    t_dec = best_time(lambda: model.decompress(streams, (channels, spatial)), repeat=3)
    real = torch.tensor([8.0 * len(s) for s in streams], dtype=torch.float64)
    est = model.estimate_bits(symbols.float()).detach().double()
    table = model.table_bits(symbols)
    return {
        "symbols_per_sample": channels * spatial,
        "alphabet": 2**bits,
        "batch": batch,
        "encode_msym_s": n_sym / t_enc / 1e6,
        "decode_msym_s": n_sym / t_dec / 1e6,
        "bits_per_symbol": float(real.sum() / n_sym),
        "overhead_pct": float(((real - est) / est).mean() * 100),
        "table_gap_pct": float(((table - est) / est).mean() * 100),
        "encode_us_per_sample": t_enc / batch * 1e6,
    }


def main() -> None:
    torch.set_num_threads(1)
    rows = []
    for channels, spatial, bits, batch in [
        (8, 7 * 7, 4, 256),  # small AECNN-like payload: 392 symbols
        (32, 8 * 8, 4, 64),  # 2048 symbols
        (64, 16 * 16, 8, 8),  # 16384 symbols, 256-letter alphabet
        (16, 64 * 64, 2, 4),  # 65536 symbols, 4-letter alphabet
    ]:
        rows.append(measure(channels, spatial, bits, batch))
    report("ans", rows, {"threads": 1, "note": "symbols drawn from each model's own pmf"})


if __name__ == "__main__":
    main()
