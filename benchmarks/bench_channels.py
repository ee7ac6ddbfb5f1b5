"""Channel simulation throughput (complex symbols/s) of :mod:`semcom.channels`, next to Sionna.

A batch of ``256 x 4096`` unit-energy complex64 symbols (per-sample SNR tensor ``[B]``) goes
through each channel with a seeded ``torch.Generator``. Reported per channel:

* ``msym_s`` — millions of complex symbols per second, forward only (``torch.no_grad``),
* ``msym_s_fwd_bwd`` — forward plus backward of a scalar loss (the training path),
* ``vs_sionna`` — our forward throughput divided by that of the matching Sionna block in the same
  run (``sionna.phy.channel.AWGN`` for AWGN; ``FlatFadingChannel(1, 1)`` on ``[B * n, 1]``, i.e.
  one gain per symbol and no equaliser, for fast Rayleigh without CSI).

Run: ``.venv/bin/python benchmarks/bench_channels.py`` (or ``make bench``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, report  # noqa: E402

from semcom.channels import build_channel, normalize_power  # noqa: E402

BATCH, SYMBOLS = 256, 4096


def throughput(fn: Callable[[], object], n_sym: int, repeat: int = 5) -> float:
    """Millions of symbols per second of ``fn`` (best of ``repeat``)."""
    return n_sym / best_time(fn, repeat=repeat) / 1e6


def sionna_blocks() -> tuple[dict[str, Callable], float] | tuple[None, float]:
    """Sionna's AWGN and flat-fading blocks (and the import time), or ``None`` if unavailable."""
    t0 = time.perf_counter()
    try:
        from sionna.phy import channel, config
    except Exception as exc:  # pragma: no cover - optional comparison
        print(f"sionna unavailable ({exc}); skipping the comparison")
        return None, 0.0
    config.seed = 0
    return {
        "awgn": channel.AWGN(),
        "rayleigh-fast-nocsi": channel.FlatFadingChannel(1, 1),
    }, time.perf_counter() - t0


def main() -> None:
    g = torch.Generator().manual_seed(0)
    z = normalize_power(torch.randn(BATCH, SYMBOLS, generator=g, dtype=torch.complex64))
    snr = torch.linspace(0.0, 20.0, BATCH)
    n_sym = z.numel()
    cases = {
        "awgn": ("awgn", {}),
        "rayleigh-block": ("rayleigh", {"coherence": "block", "csi": "perfect"}),
        "rayleigh-fast": ("rayleigh", {"coherence": "fast", "csi": "perfect"}),
        "rayleigh-fast-nocsi": ("rayleigh", {"coherence": "fast", "csi": "none"}),
        "rician-fast-mmse": ("rician", {"block": False, "k_factor_db": 6.0, "equalizer": "mmse"}),
        "gauss-markov-64sym": (
            "gauss-markov",
            {"doppler_hz": 100.0, "slot_s": 1e-3, "symbols_per_slot": 64},
        ),
        "gauss-markov-1sym": (
            "gauss-markov",
            {"doppler_hz": 100.0, "slot_s": 1e-3, "symbols_per_slot": 1},
        ),
    }
    sionna, import_s = sionna_blocks()
    sionna_rate: dict[str, float] = {}
    if sionna is not None:
        no = (10 ** (-snr / 10)).reshape(-1, 1)
        with torch.no_grad():
            sionna_rate["awgn"] = throughput(lambda: sionna["awgn"](z, no), n_sym)
            flat = z.reshape(-1, 1)
            no_flat = no.expand(BATCH, SYMBOLS).reshape(-1, 1)
            sionna_rate["rayleigh-fast-nocsi"] = throughput(
                lambda: sionna["rayleigh-fast-nocsi"](flat, no_flat), n_sym
            )

    rows = []
    for label, (name, params) in cases.items():
        ch = build_channel(name, **params)
        with torch.no_grad():
            fwd = throughput(lambda ch=ch: ch(z, snr, generator=g), n_sym)
        zr = z.clone().requires_grad_()

        def train_step(ch=ch, zr=zr) -> None:
            ch(zr, snr, generator=g).abs().square().mean().backward()

        row = {
            "channel": label,
            "batch": BATCH,
            "symbols": SYMBOLS,
            "msym_s": fwd,
            "msym_s_fwd_bwd": throughput(train_step, n_sym, repeat=3),
        }
        if label in sionna_rate:
            row["sionna_msym_s"] = sionna_rate[label]
            row["vs_sionna"] = fwd / sionna_rate[label]
        rows.append(row)

    erasure = build_channel("erasure", p=0.1)
    u = (torch.rand(BATCH, 2 * SYMBOLS, generator=g) * 255).round()
    with torch.no_grad():
        rows.append(
            {
                "channel": "erasure-8bit (real elements)",
                "batch": BATCH,
                "symbols": 2 * SYMBOLS,
                "msym_s": throughput(lambda: erasure(u, generator=g), u.numel()),
            }
        )
    meta = {
        "batch": BATCH,
        "symbols_per_sample": SYMBOLS,
        "dtype": "complex64",
        "snr_db": "per-sample tensor, 0..20 dB",
        "sionna_import_s": round(import_s, 2),
        "unit": "million complex symbols per second (erasure: real elements per second)",
    }
    report("channels", rows, meta)


if __name__ == "__main__":
    main()
