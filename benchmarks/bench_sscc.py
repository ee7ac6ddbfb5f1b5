"""Throughput of the SSCC baseline's digital PHY (Sionna, CPU, float32) and of one SNR point.

Reported rows (``kind``):

* ``ldpc`` — CRC24A + 5G LDPC on ``BLOCKS`` codewords of one MCS's layout for a CIFAR-size sample
  at cbr 1/4 (``n_cu = 768``) and for a full-size codeword (``k = 8448``): encode and decode
  codeword blocks/s and information bits/s; decoding at high SNR (CRC-aided early termination,
  ``iters`` = mean BP iterations) and with all 20 BP iterations (below threshold: the worst case).
* ``mapping`` — Gray QAM ``Mapper`` and app ``Demapper`` complex symbols/s.
* ``snr_point`` — one evaluation SNR point of ``IMAGES`` CIFAR-size (3×32×32) images at cbr 1/4
  through ``phy_transmit`` on AWGN in batches of 256, as the PHY transport measures it:
  ``cold_s`` with empty source caches (the quality-ladder search encodes each image up to 95
  times), ``warm_s`` at another SNR once the sizes are cached (what every further SNR point
  costs), and
  ``sweep_10_s`` = cold + 9 warm, the estimate of a 10-SNR sweep of this variant; the ``warm_*``
  link statistics and ``bler_warm`` are those of the warm SNR point, ``bler_cold`` of the cold one.

Run: ``.venv/bin/python benchmarks/bench_sscc.py``. Writes ``benchmarks/results/sscc.json``.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_time, format_value, report  # noqa: E402

from semcom.channels import build_channel, snr_db_to_n0  # noqa: E402
from semcom.data.synthetic import make_pattern_images  # noqa: E402
from semcom.sscc import MCS, DigitalPHY, plan_layout  # noqa: E402
from semcom.sscc.source import clear_caches  # noqa: E402
from semcom.sscc.stats import StatsLog  # noqa: E402
from semcom.systems import BuildContext, build_system  # noqa: E402

BLOCKS = 256
IMAGES = 1000
BATCH = 256
CBR = 0.25
CIFAR_N_CU = round(CBR * 3 * 32 * 32)


def ldpc_row(label: str, n_cu: int, mcs: MCS, snr_db: float) -> dict:
    """Encode/decode throughput of ``BLOCKS`` codewords of ``plan_layout(n_cu, mcs)``."""
    lay = plan_layout(n_cu, mcs)
    info_bits = lay.k - lay.crc_bits
    g = torch.Generator().manual_seed(0)
    info = torch.randint(0, 2, (BLOCKS, info_bits), generator=g).float()
    row: dict = {"kind": "ldpc", "case": label, "k": lay.k, "n": lay.n, "blocks": BLOCKS}
    phy = DigitalPHY(lay, bp_iterations=20)
    t_enc = best_time(lambda: phy.encode_blocks(info), repeat=3)
    coded = phy.encode_blocks(info)
    symbols = phy.map_bits(coded)
    y = build_channel("awgn")(symbols, snr_db, generator=g)
    llr = phy.llrs(y, snr_db_to_n0(snr_db))
    t0 = time.perf_counter()
    _, ok, iters = phy.decode_blocks(llr)
    t_dec = time.perf_counter() - t0
    full = DigitalPHY(lay, bp_iterations=20, check_every=20)
    t0 = time.perf_counter()
    full.decode_blocks(torch.zeros_like(llr))  # no information: every codeword runs 20 iterations
    t_full = time.perf_counter() - t0
    row.update(
        snr_db=snr_db,
        enc_blocks_s=BLOCKS / t_enc,
        enc_mbit_s=BLOCKS * info_bits / t_enc / 1e6,
        dec_blocks_s=BLOCKS / t_dec,
        dec_mbit_s=BLOCKS * info_bits / t_dec / 1e6,
        iters=float(iters.float().mean()),
        bler=1 - float(ok.float().mean()),
        dec20_blocks_s=BLOCKS / t_full,
        dec20_mbit_s=BLOCKS * info_bits / t_full / 1e6,
    )
    return row


def mapping_row(qam: int) -> dict:
    """Mapper / Demapper symbols per second on ``BATCH x 768`` symbols."""
    phy = DigitalPHY(plan_layout(CIFAR_N_CU, MCS(qam, 0.5)))
    m = phy.m
    g = torch.Generator().manual_seed(0)
    bits = torch.randint(0, 2, (BATCH, CIFAR_N_CU * m), generator=g).float()
    n_sym = BATCH * CIFAR_N_CU
    t_map = best_time(lambda: phy.map_bits(bits), repeat=3)
    y = phy.map_bits(bits)
    t_demap = best_time(lambda: phy.llrs(y, 0.1), repeat=2)
    return {
        "kind": "mapping",
        "case": f"{qam}QAM",
        "symbols": n_sym,
        "map_msym_s": n_sym / t_map / 1e6,
        "demap_msym_s": n_sym / t_demap / 1e6,
    }


def snr_point_row(name: str, params: dict, images: torch.Tensor, snrs: tuple[float, float]):
    """Time of one SNR point (cold and warm) of ``IMAGES`` images through ``phy_transmit``."""
    ctx = BuildContext(10, (3, 32, 32), "resnet-small", "layer1", "cifar10-size")
    system = build_system(name, params, ctx).eval()
    channel = build_channel("awgn")
    times = []
    stats = StatsLog()
    clear_caches()
    for snr in snrs:
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        for start in range(0, len(images), BATCH):
            x = images[start : start + BATCH]
            s = torch.full((len(x),), snr)
            stats.add(s, system.phy_transmit(x, s, channel, g).per_sample)
        times.append(time.perf_counter() - t0)
    summary = stats.summary()
    label = f"{name} {params.get('source', 'jpeg')}"
    if name == "sscc":
        label += f" {params['qam']}QAM r{params['ldpc_rate']:.2f}"
    row = {
        "kind": "snr_point",
        "case": label,
        "images": len(images),
        "n_cu": system.channel_uses(),
        "cold_snr_db": snrs[0],
        "cold_s": times[0],
        "warm_snr_db": snrs[1],
        "warm_s": times[1],
        "sweep_10_s": times[0] + 9 * times[1],
        "warm_sent_rate": summary[snrs[1]]["sent_rate"],
        "warm_delivered_rate": summary[snrs[1]]["delivered_rate"],
        "warm_mean_quality": summary[snrs[1]]["mean_quality"],
    }
    if name == "sscc":
        row["source_budget_bytes"] = system.layout.source_bytes
        row["bler_cold"] = summary[snrs[0]]["bler"]
        row["bler_warm"] = summary[snrs[1]]["bler"]
    return row


def print_table(title: str, rows: list[dict]) -> None:
    """Print ``rows`` (one kind) as an aligned table, in the format of ``common.report``."""
    columns = [c for c in rows[0] if c != "kind"]
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print(f"\n== sscc: {title} ==")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def main() -> None:
    torch.manual_seed(0)
    rows = [
        ldpc_row("QPSK r1/2 cifar", CIFAR_N_CU, MCS(4, 0.5), 6.0),
        ldpc_row("16QAM r1/2 cifar", CIFAR_N_CU, MCS(16, 0.5), 12.0),
        ldpc_row("64QAM r5/6 cifar", CIFAR_N_CU, MCS(64, 5 / 6), 22.0),
        ldpc_row("16QAM r1/2 k=8448", 4224, MCS(16, 0.5), 12.0),
    ]
    rows += [mapping_row(q) for q in (4, 16, 64)]
    images = make_pattern_images(IMAGES, seed=0, size=32, channels=3)[0].float() / 255
    variants = [
        ("sscc", {"source": "webp", "qam": 16, "ldpc_rate": 0.5, "cbr": CBR}, (5.0, 20.0)),
        ("sscc", {"source": "jpeg", "qam": 64, "ldpc_rate": 5 / 6, "cbr": CBR}, (25.0, 10.0)),
        ("capacity", {"source": "webp", "cbr": CBR}, (0.0, 20.0)),
    ]
    rows += [snr_point_row(name, params, images, snrs) for name, params, snrs in variants]
    meta = {
        "blocks": BLOCKS,
        "images": IMAGES,
        "batch": BATCH,
        "cbr": CBR,
        "bp_iterations": 20,
        "phy_threads": 1,
        "note": "CPU shared with other processes: timings are noisy",
        "numpy": np.__version__,
    }
    for kind in ("ldpc", "mapping", "snr_point"):
        print_table(kind, [r for r in rows if r["kind"] == kind])
    with contextlib.redirect_stdout(io.StringIO()):  # one wide table: printed per kind above
        path = report("sscc", rows, meta)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
