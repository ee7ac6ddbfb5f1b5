"""Issue-18 targets from a finished ViT_STAE experiment (``configs/stae_sprites.yaml`` or a real
video set's config).

Reads ``RUN_DIR/metrics.json`` (and, with ``--control CONTROL_DIR``, the per-frame control run of
``configs/stae_sprites_control.yaml``) and prints:

* ``stae_curve`` — every payload-sending variant (``stae``, ``deepisc``, ``offload-*``): top-1,
  its loss in points against ``local``, payload bits, the ratio (raw uint8 clip bits per payload
  bit) and the float32-at-split figure beside it, ``frames_kept`` / ``patches_kept``; the targets
  on the ``stae`` rows: >= 104x at <= 5 points below ``local`` (aim: 300x at <= 3);
* ``stae_vs_baselines`` — per ``stae`` variant, the best ``deepisc`` and ``offload-h264`` accuracy
  at equal or more bits (the baseline's curve interpolated in log-bits between its points; a
  baseline with no point at or below the variant's bits is not comparable there): STAE above both
  at equal bits;
* ``stae_deadline`` — on every time-varying channel (records with ``link.slot_s``) and mean SNR
  <= 10 dB, the best top-1 within the deadline (late clips count as wrong) of ``stae``,
  ``deepisc`` and ``offload-h264`` over their variants, on the first device profile: STAE above
  both at every such SNR;
* ``stae_control`` — ``local`` (the video ViT) against the per-frame control: the set is decided by
  motion when the control stays <= 50 % and ``local`` reaches >= 90 %.

Run: ``.venv/bin/python benchmarks/stae_targets.py [RUN_DIR] [--control CONTROL_DIR]`` (default
``runs/stae-sprites``). Writes ``benchmarks/results/stae_*.json``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_run_metrics, report  # noqa: E402

#: headline: at least this ratio ...
TARGET_RATIO = 104.0
#: ... at most this many points below local.
TARGET_LOSS_POINTS = 5.0
AIM_RATIO, AIM_LOSS_POINTS = 300.0, 3.0
#: the data-set check of the issue's clarifications.
CONTROL_MAX, LOCAL_MIN = 0.50, 0.90
BASELINES = ("deepisc", "offload-h264")
#: the deadline comparison: every mean SNR up to this (dB).
DEADLINE_MAX_SNR_DB = 10.0


def one_per_variant(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The first record of each variant (a run repeats them per device profile and SNR; a
    digital payload's accuracy does not depend on either)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        out.setdefault(r["variant"], r)
    return out


def _local(records: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    return next((r for r in records.values() if r["system"] == "local"), None)


def curve_rows(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    local = _local(records)
    base = local["accuracy"] if local else None
    rows = []
    for variant, r in sorted(
        records.items(), key=lambda kv: -(kv[1].get("compression_ratio") or 0)
    ):
        if not r.get("payload_bits"):
            continue
        loss = None if base is None else 100.0 * (base - r["accuracy"])
        row: dict[str, Any] = {
            "variant": variant,
            "top1_%": 100.0 * r["accuracy"],
            "loss_points": loss,
            "payload_bits": r["payload_bits"],
            "ratio": r.get("compression_ratio"),
            "ratio_kind": r.get("ratio_kind"),
            "float32_split_ratio": r.get("float32_split_ratio"),
            "frames_kept": r.get("frames_kept"),
            "patches_kept": r.get("patches_kept"),
        }
        if r["system"] == "stae" and loss is not None and r.get("compression_ratio"):
            row["target_104x_5pt"] = (
                r["compression_ratio"] >= TARGET_RATIO and loss <= TARGET_LOSS_POINTS
            )
            row["aim_300x_3pt"] = r["compression_ratio"] >= AIM_RATIO and loss <= AIM_LOSS_POINTS
        rows.append(row)
    return rows


def accuracy_at_bits(points: list[tuple[float, float]], bits: float) -> float | None:
    """A curve of ``(bits, accuracy)`` points read at ``bits``: linear in log-bits between the
    neighbouring points, the last point's accuracy beyond the largest, ``None`` below the
    smallest (the baseline cannot send that little)."""
    pts = sorted(points)
    if not pts or bits < pts[0][0]:
        return None
    for (b0, a0), (b1, a1) in zip(pts, pts[1:], strict=False):
        if b0 <= bits <= b1:
            if b1 == b0:
                return max(a0, a1)
            w = (math.log(bits) - math.log(b0)) / (math.log(b1) - math.log(b0))
            return a0 + w * (a1 - a0)
    return pts[-1][1]


def duel_rows(records: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    curves: dict[str, list[tuple[float, float]]] = {b: [] for b in BASELINES}
    for r in records.values():
        if r["system"] in curves and r.get("payload_bits"):
            curves[r["system"]].append((r["payload_bits"], r["accuracy"]))
    rows = []
    for variant, r in records.items():
        if r["system"] != "stae":
            continue
        row: dict[str, Any] = {"variant": variant, "bits": r["payload_bits"],
                               "stae_%": 100.0 * r["accuracy"]}  # fmt: skip
        above = []
        for name, points in curves.items():
            at = accuracy_at_bits(points, r["payload_bits"])
            row[f"{name}_%"] = None if at is None else 100.0 * at
            if at is not None:
                above.append(r["accuracy"] > at)
        row["above_all_comparable"] = all(above) if above else None
        rows.append(row)
    return rows


def deadline_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best accuracy within the deadline per system, time-varying channel and SNR."""
    device = records[0].get("device_profile") if records else None
    best: dict[tuple[str, float], dict[str, float]] = {}
    for r in records:
        if r.get("device_profile") != device or not (r.get("link") or {}).get("slot_s"):
            continue
        if r.get("accuracy_within_deadline") is None or r["snr_db"] > DEADLINE_MAX_SNR_DB:
            continue
        if r["system"] not in ("stae", *BASELINES):
            continue
        key = (r["channel_label"], r["snr_db"])
        cell = best.setdefault(key, {})
        cell[r["system"]] = max(cell.get(r["system"], 0.0), r["accuracy_within_deadline"])
    rows = []
    for (channel, snr), cell in sorted(best.items()):
        row: dict[str, Any] = {"channel": channel, "snr_db": snr, "device": device}
        for name in ("stae", *BASELINES):
            row[f"{name}_%"] = None if name not in cell else 100.0 * cell[name]
        others = [cell[b] for b in BASELINES if b in cell]
        row["stae_above_both"] = ("stae" in cell and bool(others)
                                  and all(cell["stae"] > o for o in others))  # fmt: skip
        rows.append(row)
    return rows


def control_rows(
    records: dict[str, dict[str, Any]], control_dir: str | None
) -> list[dict[str, Any]]:
    local = _local(records)
    rows: list[dict[str, Any]] = []
    control = None
    if control_dir is not None:
        loaded = load_run_metrics([control_dir], control_dir, "stae_sprites_control.yaml")
        if loaded is not None:
            control = _local(one_per_variant(loaded[1]["records"]))
    rows.append({
        "network": "local (video ViT)",
        "top1_%": None if local is None else 100.0 * local["accuracy"],
        "target": f">= {100 * LOCAL_MIN:.0f} %",
        "met": None if local is None else local["accuracy"] >= LOCAL_MIN,
    })  # fmt: skip
    rows.append({
        "network": "per-frame control",
        "top1_%": None if control is None else 100.0 * control["accuracy"],
        "target": f"<= {100 * CONTROL_MAX:.0f} %",
        "met": None if control is None else control["accuracy"] <= CONTROL_MAX,
    })  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    control_dir = None
    if "--control" in argv:
        i = argv.index("--control")
        control_dir = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    loaded = load_run_metrics(argv, "runs/stae-sprites", "stae_sprites.yaml")
    if loaded is None:
        return 1
    run_dir, metrics = loaded
    records = one_per_variant(metrics["records"])
    meta = {"run": str(run_dir), "control": control_dir}
    report("stae_curve", curve_rows(records), meta)
    report("stae_vs_baselines", duel_rows(records), meta)
    report("stae_deadline", deadline_rows(metrics["records"]), meta)
    report("stae_control", control_rows(records, control_dir), meta)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
