"""Issue-3 targets from a finished AECNN experiment: the curve, the ≥ 256× point, the duel.

Reads ``RUN_DIR/metrics.json`` of an AECNN experiment (``semcom run`` of the default
``configs/aecnn_fashion.yaml``, ``configs/aecnn_cifar10_resnet20.yaml``, ...; not part of
``make bench``) and prints:

* ``aecnn_curve`` — every variant with a compression ratio (AECNN, BottleNet++, offloading):
  ratio, top-1 accuracy, points lost against ``local`` (the same network unsplit), and the real
  payload bits against the estimate plus the header;
* ``aecnn_targets`` — the most accurate AECNN variant at ≥ ``MIN_RATIO``× and its loss (target:
  at most ``MAX_LOSS_POINTS``), and against BottleNet++ at the same ratio: the best BottleNet++
  variant that compresses at least as much (if any reaches that ratio) and the best one overall
  at a lower ratio; plus, for every BottleNet++ variant, whether some AECNN variant compresses at
  least as much and is more accurate (dominates it). And the run's wall time.

The ratio is the float32 split feature over the whole payload (header included), as the run
records it; digital accuracies are error-free (the channel sweep does not change them). Analog
BottleNet++ (AWGN) counts its ratio in channel uses, so it is listed in the curve (at its highest
SNR) but left out of the duel.

Run: ``.venv/bin/python benchmarks/aecnn_targets.py [RUN_DIR ...]`` (default
``runs/aecnn-cifar10``). Several run directories make one curve: a later run's variant replaces
an earlier one's of the same id, and their ``local`` records must agree (:func:`merged_records`);
the wall time is their sum.
Writes ``benchmarks/results/aecnn_curve.json`` and ``aecnn_targets.json``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import beyond_noise, load_run_metrics, record_standard_error, report  # noqa: E402

MIN_RATIO = 256.0
MAX_LOSS_POINTS = 2.0
MAX_OFFLOAD_BITS = 4096


def variant_rows(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per variant: its record at the highest SNR (digital systems' accuracy does not
    depend on the SNR; an analog one is taken at its best)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["variant"] not in seen or r["snr_db"] > seen[r["variant"]]["snr_db"]:
            seen[r["variant"]] = r
    local = next((r["accuracy"] for r in seen.values() if r["system"] == "local"), None)
    rows = []
    for variant, r in seen.items():
        ratio = r.get("compression_ratio")
        if ratio is None or r["system"] == "local":
            continue
        est = r.get("estimated_bits")
        expected = est + r["header_bits"] if est is not None and "header_bits" in r else None
        rows.append({
            "system": r["system"],
            "variant": variant,
            "ratio": ratio,
            "ratio_kind": r.get("ratio_kind"),
            "snr_db": r["snr_db"] if r.get("channel_uses") else None,  # analog: SNR-dependent
            "accuracy": r["accuracy"],
            "accuracy_se": record_standard_error(r),
            "loss_points": 100.0 * (local - r["accuracy"]) if local is not None else None,
            "payload_bits": r.get("payload_bits"),
            "real_vs_estimate_plus_header": (
                r["payload_bits"] / expected - 1.0 if expected and r.get("payload_bits") else None
            ),
        })  # fmt: skip
    rows.sort(key=lambda row: (row["system"], -row["ratio"]))
    return rows


def target_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ≥ 256× point and the duel with BottleNet++ (see the module docstring)."""
    aecnn = [r for r in rows if r["system"] == "aecnn"]
    kind = aecnn[0]["ratio_kind"] if aecnn else None
    # ratios are comparable only of the same kind: digital BottleNet++ (erasure, 8-bit symbols)
    # against AECNN; the analog AWGN variants count channel uses instead of bits
    bn = [r for r in rows if r["system"] == "bottlenet++" and r["ratio_kind"] == kind]
    out: list[dict[str, Any]] = []
    high = [r for r in aecnn if r["ratio"] >= MIN_RATIO]
    best = max(high, key=lambda r: r["accuracy"]) if high else None
    if best is not None:
        bn_as_high = [r for r in bn if r["ratio"] >= best["ratio"]]
        bn_below = [r for r in bn if r["ratio"] < best["ratio"]]
        rival = max(bn_as_high, key=lambda r: r["accuracy"]) if bn_as_high else None
        below = max(bn_below, key=lambda r: r["accuracy"]) if bn_below else None
        out.append({
            "check": f"aecnn at >= {MIN_RATIO:g}x",
            "variant": best["variant"],
            "ratio": best["ratio"],
            "accuracy": best["accuracy"],
            "loss_points": best["loss_points"],
            "met": best["loss_points"] is not None and best["loss_points"] <= MAX_LOSS_POINTS,
            "bn_at_least_as_compressed": rival["variant"] if rival else None,
            "bn_accuracy": rival["accuracy"] if rival else None,
            "bn_best_at_lower_ratio": (
                f"{below['variant']} ({below['ratio']:.0f}x, {below['accuracy']:.4f})"
                if below else None
            ),
        })  # fmt: skip
    else:
        out.append({"check": f"aecnn at >= {MIN_RATIO:g}x", "met": False, "variant": None})
    for r in bn:
        rivals = [a for a in aecnn if a["ratio"] >= r["ratio"] and a["accuracy"] > r["accuracy"]]
        top = max(rivals, key=lambda a: a["accuracy"]) if rivals else None
        out.append({
            "check": "aecnn dominates bottlenet++ variant",
            "variant": r["variant"],
            "ratio": r["ratio"],
            "accuracy": r["accuracy"],
            "met": top is not None,
            "beyond_noise": beyond_noise(top, r) if top else None,
            "dominated_by": f"{top['variant']} ({top['ratio']:.0f}x, {top['accuracy']:.4f})"
            if top else None,
        })  # fmt: skip
    out += offload_rows(aecnn, [r for r in rows if r["system"].startswith("offload")])
    return out


def offload_rows(
    aecnn: list[dict[str, Any]], offload: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """AECNN against every offloading variant within ``MAX_OFFLOAD_BITS`` payload bits."""
    check = f"aecnn above offloading within {MAX_OFFLOAD_BITS} bits"
    small = [r for r in offload if r["payload_bits"] and r["payload_bits"] <= MAX_OFFLOAD_BITS]
    if not small:
        least = min(offload, key=lambda r: r["payload_bits"] or math.inf, default=None)
        return [{
            "check": check,
            "variant": None,
            "met": True,
            "note": "no offloading variant gets that small"
            + (f"; the smallest is {least['variant']} at {least['payload_bits']:.0f} bits"
               if least else ""),
        }]  # fmt: skip
    out = []
    for r in small:
        rivals = [a for a in aecnn if a["payload_bits"] and a["payload_bits"] <= r["payload_bits"]
                  and a["accuracy"] > r["accuracy"]]  # fmt: skip
        top = max(rivals, key=lambda a: a["accuracy"]) if rivals else None
        out.append({
            "check": check,
            "variant": r["variant"],
            "payload_bits": r["payload_bits"],
            "accuracy": r["accuracy"],
            "met": top is not None,
            "beyond_noise": beyond_noise(top, r) if top else None,
            "dominated_by": top["variant"] if top else None,
        })  # fmt: skip
    return out


def merged_records(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of several runs of one data set and reference as one curve: a later run's
    variant replaces an earlier run's of the same id (e.g. AECNN trained further with
    ``train.start_from`` beside the first run's baselines). Their ``local`` must agree exactly,
    else they are not one comparison (:class:`ValueError`)."""
    by_variant: dict[str, list[dict[str, Any]]] = {}
    for data in runs:
        own: dict[str, list[dict[str, Any]]] = {}
        for record in data["records"]:
            own.setdefault(record["variant"], []).append(record)
        if "local" in own and "local" in by_variant:
            before = [r["accuracy"] for r in by_variant["local"]]
            if before != [r["accuracy"] for r in own["local"]]:
                raise ValueError("the runs' `local` records differ: not the same reference")
        by_variant.update(own)
    return [r for records in by_variant.values() for r in records]


def main(argv: list[str]) -> int:
    loaded = [load_run_metrics([a], "", "aecnn_cifar10.yaml") for a in argv] or [
        load_run_metrics([], "runs/aecnn-cifar10", "aecnn_cifar10.yaml")
    ]
    if any(run is None for run in loaded):
        return 2
    runs = [run for run in loaded if run is not None]
    data = {"records": merged_records([d for _, d in runs]),
            "wall_time_s": sum(d.get("wall_time_s", 0.0) for _, d in runs)}  # fmt: skip
    rows = variant_rows(data["records"])
    meta = {"run_dir": " + ".join(str(r) for r, _ in runs), "wall_time_s": data["wall_time_s"]}
    report("aecnn_curve", rows, meta)
    report("aecnn_targets", target_rows(rows), {**meta, "max_loss_points": MAX_LOSS_POINTS})
    print(f"wall time of the run(s): {data['wall_time_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
