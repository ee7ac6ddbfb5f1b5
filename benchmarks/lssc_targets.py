"""Issue-4 targets from a finished LSSC experiment: the codec design table and the low-SNR duel.

Reads ``RUN_DIR/metrics.json`` of ``semcom run configs/lssc_cifar10.yaml`` (about 45 minutes; not
part of ``make bench``) and prints:

* ``lssc_design`` — the depth × CBAM table against the ``unet`` baseline: codec FLOPs, parameters
  and size per image, accuracy averaged over the SNR sweep per channel, the savings and the
  accuracy change, whether each design meets the targets (≥ 14 % fewer FLOPs, ≥ 55 % smaller,
  ≤ 3 points lost) and which one is chosen (the most accurate that meets them);
* ``lssc_vs_sscc`` — per channel and SNR of the whole sweep: the chosen LSSC, the baseline UNet,
  the best separate-coding MCS at that SNR and the capacity bound, all at the same channel uses,
  with binomial standard errors and the issue-16 duel targets: above separate coding (by more than
  the combined standard error) at every SNR ≤ 5 dB, at most 1 point below it anywhere;
  ``lssc_low_snr`` is its SNR ≤ 0 dB part (the issue-4 table);
* ``lssc_cliff`` — per channel and system: the largest accuracy drop between neighbouring SNR
  points of the sweep (a cliff is a large drop over a few dB).

Codec costs depend on the architecture only, so records from a run that did not store them are
completed by rebuilding each variant from the run's config (no weights needed).

Run: ``.venv/bin/python benchmarks/lssc_targets.py [RUN_DIR]`` (default ``runs/lssc-cifar10``).
Writes ``benchmarks/results/lssc_design.json``, ``lssc_vs_sscc.json``, ``lssc_low_snr.json`` and
``lssc_cliff.json``.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

#: the issue-16 duel with separate coding: LSSC above it at every SNR up to this (dB) ...
DUEL_ABOVE_MAX_SNR_DB = 5.0
#: ... and at most this many points below it at any SNR
DUEL_MAX_LOSS_POINTS = 1.0

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    beyond_noise,
    combined_se,
    load_run_metrics,
    record_standard_error,
    report,
)

from semcom.config import load_yaml, parse_config  # noqa: E402
from semcom.report.codec_design import (  # noqa: E402
    DESIGN_TARGETS,
    choose_design,
    codec_design_rows,
)
from semcom.systems import BuildContext, build_system, system_class  # noqa: E402


def complete_costs(records: list[dict[str, Any]], run_dir: Path) -> None:
    """Add codec costs to ``lssc`` / ``unet`` records that lack them (rebuilt from the config)."""
    missing = [r for r in records if r["system"] in ("lssc", "unet") and "codec_flops" not in r]
    if not missing:
        return
    cfg = parse_config(load_yaml(run_dir / "config.yaml"))
    costs: dict[str, dict[str, int]] = {}
    for r in missing:
        if r["variant"] not in costs:
            ctx = BuildContext(
                num_classes=10 if r["dataset"] != "synthetic-segmentation" else 6,
                input_shape=(3, 32, 32) if r["dataset"] == "cifar10" else (1, 28, 28),
                backbone=cfg.backbone.name,
                split_after=cfg.backbone.split_after,
                dataset=r["dataset"],
            )
            fields = system_class(r["system"]).Params.model_fields
            params = {k: v for k, v in r["params"].items() if k in fields}
            system = build_system(r["system"], params, ctx)
            costs[r["variant"]] = system.codec_costs()  # type: ignore[attr-defined]
        r.update(costs[r["variant"]])


def main(argv: list[str]) -> int:
    loaded = load_run_metrics(argv, "runs/lssc-cifar10", "lssc_cifar10.yaml")
    if loaded is None:
        return 2
    run_dir, data = loaded
    records = data["records"]
    complete_costs(records, run_dir)
    design = codec_design_rows(records)
    chosen = choose_design(design)
    for row in design:
        row["chosen"] = chosen is not None and row["variant"] == chosen["variant"]
    report("lssc_design", design, {"run_dir": str(run_dir), "targets": DESIGN_TARGETS})

    dev = records[0]["device_profile"]
    rs = [r for r in records if r["device_profile"] == dev and r.get("channel_uses")]
    base = next((r["variant"] for r in rs if r["system"] == "unet"), None)
    pick = chosen["variant"] if chosen else None
    duel: list[dict[str, Any]] = []
    by_point: dict[tuple[str, float], list[dict[str, Any]]] = defaultdict(list)
    for r in rs:
        by_point[(r["channel_label"], r["snr_db"])].append(r)
    for (channel, snr), group in sorted(by_point.items()):

        def find(variant: str | None, group: list[dict[str, Any]] = group) -> dict | None:
            return next((r for r in group if r["variant"] == variant), None)

        def acc(variant: str | None) -> float | None:
            r = find(variant)
            return r["accuracy"] if r else None

        sscc = [r for r in group if r["system"] == "sscc"]
        best = max(sscc, key=lambda r: r["accuracy"]) if sscc else None
        row = {
            "channel": channel,
            "snr_db": snr,
            "channel_uses": group[0]["channel_uses"],
            "lssc_chosen": acc(pick),
            "unet": acc(base),
            "sscc_best": best["accuracy"] if best else None,
            "sscc_best_mcs": best["variant"] if best else None,
            # the bound of the best source (one capacity variant per source)
            "capacity": max(
                (r["accuracy"] for r in group if r["system"] == "capacity"), default=None
            ),
        }
        for source in sorted({r.get("source") for r in sscc if r.get("source")}):
            row[f"sscc_best_{source}"] = max(r["accuracy"] for r in sscc if r["source"] == source)
        row["lssc_beats_sscc"] = (
            row["lssc_chosen"] is not None
            and row["sscc_best"] is not None
            and row["lssc_chosen"] > row["sscc_best"]
        )
        mine = find(pick)
        if mine is not None and best is not None:
            a = {"accuracy": mine["accuracy"], "accuracy_se": record_standard_error(mine)}
            b = {"accuracy": best["accuracy"], "accuracy_se": record_standard_error(best)}
            row["gap_points"] = 100 * (a["accuracy"] - b["accuracy"])
            se = combined_se(a, b)
            row["combined_se_points"] = None if se is None else 100 * se
            row["above_beyond_noise"] = beyond_noise(a, b)
            floor = f">= -{DUEL_MAX_LOSS_POINTS} points"
            row["target"] = "above" if snr <= DUEL_ABOVE_MAX_SNR_DB else floor
            row["meets_target"] = (
                bool(row["above_beyond_noise"])
                if snr <= DUEL_ABOVE_MAX_SNR_DB
                else row["gap_points"] >= -DUEL_MAX_LOSS_POINTS
            )
        duel.append(row)
    met = [r.get("meets_target") for r in duel]
    meta = {
        "run_dir": str(run_dir),
        "chosen": pick,
        "all_targets_met": bool(met) and all(m is True for m in met),
    }
    report("lssc_vs_sscc", duel, meta)
    low = [r for r in duel if r["snr_db"] <= 0]
    report("lssc_low_snr", low, {"run_dir": str(run_dir), "chosen": pick})

    series: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for r in rs:
        series[(r["channel_label"], r["variant"])].append((r["snr_db"], r["accuracy"]))
    cliff = []
    for (channel, variant), pts in sorted(series.items()):
        if variant not in (pick, base) and not variant.startswith(("sscc", "capacity")):
            continue
        pts.sort()
        drops = [(b[1] - a[1], a[0], b[0]) for a, b in zip(pts, pts[1:], strict=False)]
        worst = max(drops) if drops else (0.0, None, None)
        cliff.append({
            "channel": channel,
            "variant": variant,
            "accuracy_low_snr": pts[0][1],
            "accuracy_high_snr": pts[-1][1],
            "largest_step_gain": worst[0],
            "between_db": f"{worst[1]}..{worst[2]}",
        })  # fmt: skip
    report("lssc_cliff", cliff, {"run_dir": str(run_dir)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
