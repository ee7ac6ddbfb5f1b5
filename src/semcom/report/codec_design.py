"""The codec design table (issue 4's depth × CBAM study): each ``lssc`` variant's codec costs and
mean accuracy against the ``unet`` baseline, the savings, the targets and the chosen design."""

from __future__ import annotations

from typing import Any

from semcom.report.tables import format_cell, record_channel

#: what a codec design must save against the baseline to be chosen (fractions of the baseline).
DESIGN_TARGETS = {"flops_saving": 0.14, "size_saving": 0.55, "max_accuracy_loss": 0.03}


def codec_design_rows(
    records: list[dict[str, Any]], baseline: str = "unet", candidate: str = "lssc"
) -> list[dict[str, Any]]:
    """The depth × CBAM table: one row per ``candidate`` / ``baseline`` variant with its codec
    costs (``encoder_flops``, ``codec_flops``, ``codec_params``, ``codec_bytes``), its accuracy
    averaged over the SNR sweep on each channel (``accuracy_<channel label>``) and over all
    channels (``accuracy_mean``), and, against the baseline, ``flops_saving`` and
    ``size_saving`` (fractions) and ``accuracy_delta`` (points of accuracy, negative = loss).
    Rows whose records carry no codec costs are left out."""
    dev = next((r["device_profile"] for r in records), None)
    acc: dict[str, dict[str, list[float]]] = {}
    first: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["system"] not in (baseline, candidate) or r["device_profile"] != dev:
            continue
        if r.get("codec_flops") is None:
            continue
        first.setdefault(r["variant"], r)
        acc.setdefault(r["variant"], {}).setdefault(record_channel(r), []).append(r["accuracy"])
    rows = []
    for variant, r in first.items():
        row = {
            "variant": variant,
            "system": r["system"],
            "depth": r.get("depth"),
            "cbam": r.get("cbam"),
            **{k: r[k] for k in ("encoder_flops", "codec_flops", "codec_params", "codec_bytes")},
        }
        means = {c: sum(v) / len(v) for c, v in acc[variant].items()}
        for c, m in means.items():
            row[f"accuracy_{c}"] = m
        row["accuracy_mean"] = sum(means.values()) / len(means)
        rows.append(row)
    base = next((row for row in rows if row["system"] == baseline), None)
    for row in rows:
        if base is None:
            row.update(flops_saving=None, size_saving=None, accuracy_delta=None, meets=None)
            continue
        row["flops_saving"] = 1 - row["codec_flops"] / base["codec_flops"]
        row["size_saving"] = 1 - row["codec_bytes"] / base["codec_bytes"]
        row["accuracy_delta"] = row["accuracy_mean"] - base["accuracy_mean"]
        row["meets"] = (
            row["flops_saving"] >= DESIGN_TARGETS["flops_saving"]
            and row["size_saving"] >= DESIGN_TARGETS["size_saving"]
            and row["accuracy_delta"] >= -DESIGN_TARGETS["max_accuracy_loss"]
        )
    return rows


def choose_design(rows: list[dict[str, Any]], candidate: str = "lssc") -> dict[str, Any] | None:
    """The chosen design: among the ``candidate`` rows with CBAM (LSSC is the attention UNet;
    ``cbam: false`` rows are the ablation) that meet :data:`DESIGN_TARGETS` against the
    baseline, the most accurate (ties: fewer codec FLOPs); ``None`` if none meets them."""
    ok = [r for r in rows if r["system"] == candidate and r.get("meets") and r.get("cbam")]
    return max(ok, key=lambda r: (r["accuracy_mean"], -r["codec_flops"])) if ok else None


def codec_design_table(rows: list[dict[str, Any]]) -> str:
    """:func:`codec_design_rows` as Markdown (costs per image; sizes in kB of float32 weights)."""
    chans = [k for k in (rows[0] if rows else {}) if k.startswith("accuracy_") and k not in
             ("accuracy_mean", "accuracy_delta")]  # fmt: skip
    head = ["variant", "depth", "CBAM", "encoder FLOPs", "codec FLOPs", "codec params",
            "codec kB", *[f"acc. {c[9:]}" for c in chans], "acc. mean", "FLOPs saved",
            "size saved", "Δ acc. (points)", "meets targets"]  # fmt: skip
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    pct = lambda v: "—" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    for r in rows:
        costs = [r["depth"], r["cbam"], r["encoder_flops"], r["codec_flops"], r["codec_params"]]
        delta = r["accuracy_delta"]
        cells = [
            r["variant"],
            *[format_cell(v) for v in costs],
            f"{r['codec_bytes'] / 1e3:.1f}",
            *[format_cell(r.get(c)) for c in chans],
            format_cell(r["accuracy_mean"]),
            pct(r["flops_saving"]),
            pct(r["size_saving"]),
            "—" if delta is None else f"{100 * delta:+.1f}",
            format_cell(r["meets"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
