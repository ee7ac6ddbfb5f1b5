"""Issue-17 targets from a finished FFMNet experiment (``configs/ffmnet_camvid.yaml`` or
``configs/ffmnet_voc.yaml``).

Reads ``RUN_DIR/metrics.json`` and prints:

* ``ffmnet_networks`` — parameters, FLOPs, mAP, mAP@0.5, mIoU and pixel accuracy of FFMNet (each
  fusion), ``mtl-hardshare``, ``det-only`` and ``seg-only``; the targets: FFMNet above
  ``mtl-hardshare`` on both mAP@0.5 and mIoU at equal or fewer parameters, and within 2 points of
  ``det-only`` / ``seg-only`` on their own task;
* ``ffmnet_ratio`` — every split variant (analog ``ffmnet-jscc``: split floats per complex channel
  use; digital ``ffmnet-digital``: float32 bits per payload bit; two kinds of ratio, never on one
  axis) at 20 dB on each channel: mAP@0.5 and mIoU and their loss against unsplit FFMNet; the
  target: a JSCC variant at >= 512x losing <= 2 points of both at 20 dB on AWGN;
* ``ffmnet_vs_separate`` — per channel and SNR, each JSCC variant against the best separate
  coding (``ffmnet-sscc`` of the feature or the image, and the capacity bound) at the same
  channel uses: above it on both metrics at every SNR <= 5 dB (AWGN and Rayleigh with CSI);
* ``ffmnet_cliff`` — per JSCC variant and channel, the largest drop of mAP@0.5 and of mIoU
  between neighbouring SNR points, against 15 % of its score at 20 dB.

Run: ``.venv/bin/python benchmarks/ffmnet_targets.py [RUN_DIR]`` (default ``runs/ffmnet-camvid``).
Writes ``benchmarks/results/ffmnet_*.json``.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_run_metrics, report  # noqa: E402

#: systems that run unsplit (the network comparison).
NETWORKS = ("ffmnet", "mtl-hardshare", "det-only", "seg-only")
#: separate-coding baselines.
SEPARATE = ("ffmnet-sscc", "ffmnet-capacity")
#: the headline: a JSCC variant at this ratio or above ...
TARGET_RATIO = 512.0
#: ... loses at most this many points (x 100) of each metric at 20 dB.
TARGET_LOSS_POINTS = 2.0
#: above separate coding at every SNR up to this (dB).
DUEL_MAX_SNR_DB = 5.0
#: a cliff: a step between neighbouring SNR points above this share of the score at 20 dB.
CLIFF_SHARE = 0.15
METRICS = ("map_50", "miou")


def _channel(record: dict[str, Any]) -> Any:
    return record.get("channel_label", record.get("channel"))


def one_per_point(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The first record of each variant, channel and SNR (a run repeats them per device
    profile, with the same scores)."""
    seen: set[tuple[Any, Any, Any]] = set()
    out = []
    for r in records:
        key = (r["variant"], _channel(r), r.get("snr_db"))
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def _points(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def network_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per unsplit network variant, with the issue's comparisons on the FFMNet rows."""
    nets = {r["variant"]: r for r in records if r["system"] in NETWORKS}
    hard = next((r for r in nets.values() if r["system"] == "mtl-hardshare"), None)
    det = next((r for r in nets.values() if r["system"] == "det-only"), None)
    seg = next((r for r in nets.values() if r["system"] == "seg-only"), None)
    rows = []
    for variant, r in nets.items():
        row: dict[str, Any] = {
            "variant": variant,
            "fusion": r.get("fusion"),
            "params": r.get("device_params"),
            "gflops": r["device_flops"] / 1e9 if r.get("device_flops") else None,
            "map": _points(r.get("map")),
            "map_50": _points(r.get("map_50")),
            "miou": _points(r.get("miou")),
            "pixel_accuracy": _points(r.get("pixel_accuracy")),
        }
        if r["system"] == "ffmnet":
            if hard is not None:
                row["above_hardshare"] = all(
                    (r.get(m) or 0.0) > (hard.get(m) or 0.0) for m in METRICS
                ) and (r.get("device_params") or 0) <= (hard.get("device_params") or 0)
            if det is not None and r.get("map_50") is not None:
                row["det_gap"] = _points(det["map_50"] - r["map_50"])
            if seg is not None and r.get("miou") is not None:
                row["seg_gap"] = _points(seg["miou"] - r["miou"])
            gaps = [row.get("det_gap"), row.get("seg_gap")]
            if all(g is not None for g in gaps):
                row["within_2_of_single"] = all(g <= 2.0 for g in gaps)  # type: ignore[operator]
        rows.append(row)
    return rows


def _reference(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The unsplit, default FFMNet (the network the splits start from)."""
    plain = [r for r in records if r["system"] == "ffmnet" and r.get("fusion", "fpn") == "fpn"]
    return plain[0] if plain else None


def ratio_rows(records: list[dict[str, Any]], snr_db: float = 20.0) -> list[dict[str, Any]]:
    """Every split variant at ``snr_db`` on each channel (digital ones once: their output does
    not depend on the SNR), with its loss against unsplit FFMNet."""
    ref = _reference(records)
    rows = []
    for r in records:
        digital = r["system"] == "ffmnet-digital"
        if r["system"] != "ffmnet-jscc" and not digital:
            continue
        if not digital and r.get("snr_db") != snr_db:
            continue
        row: dict[str, Any] = {
            "variant": r["variant"],
            "kind": "digital (float32 bits / payload bits)" if digital else "analog (floats / CU)",
            "channel": _channel(r),
            "snr_db": None if digital else snr_db,
            "ratio": r.get("compression_ratio"),
            "cbr": r.get("cbr"),
            "map_50": _points(r.get("map_50")),
            "miou": _points(r.get("miou")),
        }
        if ref is not None:
            for m in METRICS:
                if r.get(m) is not None and ref.get(m) is not None:
                    row[f"{m}_loss"] = _points(ref[m] - r[m])
        losses = [row.get(f"{m}_loss") for m in METRICS]
        row["meets_512x"] = (
            (row["ratio"] or 0) >= TARGET_RATIO
            and all(v is not None and v <= TARGET_LOSS_POINTS for v in losses)
            if not digital
            else None
        )
        rows.append(row)
    seen: set[tuple[str, Any]] = set()
    unique = []
    for row in rows:  # a digital variant's records repeat per channel and SNR: keep one
        key = (row["variant"], row["channel"] if row["snr_db"] is not None else None)
        if key not in seen:
            seen.add(key)
            unique.append(row)
    return sorted(unique, key=lambda row: (row["kind"], row["channel"], row["ratio"] or 0))


def duel_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each JSCC variant against the best separate coding at the same channel uses, per channel
    and SNR."""
    by_point: dict[tuple[Any, Any, Any], list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r["system"] in SEPARATE:
            by_point[(_channel(r), r["snr_db"], r.get("channel_uses"))].append(r)
    rows = []
    for r in records:
        if r["system"] != "ffmnet-jscc":
            continue
        channel = _channel(r)
        rivals = by_point.get((channel, r["snr_db"], r.get("channel_uses")), [])
        if not rivals:
            continue
        row: dict[str, Any] = {
            "variant": r["variant"],
            "channel": channel,
            "snr_db": r["snr_db"],
            "channel_uses": r.get("channel_uses"),
        }
        above = []
        for m in METRICS:
            sscc = [x for x in rivals if x["system"] == "ffmnet-sscc" and x.get(m) is not None]
            cap = [x for x in rivals if x["system"] == "ffmnet-capacity" and x.get(m) is not None]
            best = max(sscc, key=lambda x: x[m]) if sscc else None
            row[f"jscc_{m}"] = _points(r.get(m))
            row[f"sscc_best_{m}"] = _points(best[m]) if best else None
            row[f"sscc_best_{m}_variant"] = best["variant"] if best else None
            row[f"capacity_best_{m}"] = _points(max(x[m] for x in cap)) if cap else None
            if best is not None and r.get(m) is not None:
                above.append(r[m] > best[m])
        row["above_sscc"] = all(above) if above else None
        row["in_duel"] = r["snr_db"] <= DUEL_MAX_SNR_DB
        rows.append(row)
    return sorted(rows, key=lambda row: (row["channel"], row["variant"], row["snr_db"]))


def cliff_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per JSCC variant and channel: the largest drop between neighbouring SNR points, per
    metric, against :data:`CLIFF_SHARE` of the score at 20 dB."""
    curves: dict[tuple[str, str], dict[float, dict[str, Any]]] = defaultdict(dict)
    for r in records:
        if r["system"] == "ffmnet-jscc":
            curves[(r["variant"], _channel(r))][r["snr_db"]] = r
    rows = []
    for (variant, channel), curve in sorted(curves.items()):
        snrs = sorted(curve)
        row: dict[str, Any] = {"variant": variant, "channel": channel}
        ok = []
        for m in METRICS:
            values = [curve[s].get(m) or 0.0 for s in snrs]
            drops = [max(0.0, values[i + 1] - values[i]) for i in range(len(values) - 1)]
            top = curve[max(snrs)].get(m) or 0.0
            step = max(drops, default=0.0)
            row[f"{m}_largest_step"] = _points(step)
            row[f"{m}_at_top_snr"] = _points(top)
            ok.append(step <= CLIFF_SHARE * top)
        row["no_cliff"] = all(ok)
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    loaded = load_run_metrics(argv, "runs/ffmnet-camvid", "ffmnet_camvid.yaml")
    if loaded is None:
        return 1
    run_dir, metrics = loaded
    records = one_per_point(metrics["records"])
    meta = {"run": str(run_dir), "experiment": metrics.get("experiment")}
    report("ffmnet_networks", network_rows(records), meta)
    report("ffmnet_ratio", ratio_rows(records), meta)
    report("ffmnet_vs_separate", duel_rows(records), meta)
    report("ffmnet_cliff", cliff_rows(records), meta)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
