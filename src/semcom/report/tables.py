"""The results table: one row per system variant, shown in the terminal (rich) and in report.md."""

from __future__ import annotations

from typing import Any

COLUMNS: list[tuple[str, str]] = [
    ("variant", "system"),
    ("accuracy", "accuracy"),
    ("payload_bits", "bits/sample"),
    ("estimated_bits", "est. body bits"),
    ("compression_ratio", "ratio"),
    ("device_flops", "device FLOPs"),
    ("device_params", "device params"),
    ("latency_total", "latency (s)"),
    ("accuracy_within_deadline", "acc. in deadline"),
]


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1e5:
            return f"{value:.3g}"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.4g}"
    return str(value)


def _label(record: dict[str, Any]) -> str:
    return record.get("channel_label", record["channel"])


def first_channel(records: list[dict[str, Any]]) -> str:
    """The first evaluation channel's label in ``records`` (``"none"`` if nothing is sent)."""
    return next((_label(r) for r in records if _label(r) != "none"), "none")


def summary_rows(
    records: list[dict[str, Any]],
    snr_db: float | None = None,
    device: str | None = None,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """One row per variant, taken at ``snr_db`` (default: the highest), ``device`` (default: the
    first device profile in the records) and ``channel`` (a channel label; default: the first)."""
    if not records:
        return []
    snr = snr_db if snr_db is not None else max(r["snr_db"] for r in records)
    dev = device if device is not None else records[0]["device_profile"]
    chan = channel if channel is not None else first_channel(records)
    rows = []
    for r in records:
        if r["snr_db"] != snr or r["device_profile"] != dev or _label(r) not in (chan, "none"):
            continue
        rows.append({**r, "latency_total": r["latency_s"]["total"]})
    return rows


def snr_table(records: list[dict[str, Any]], value: str = "accuracy") -> str | None:
    """Markdown table of ``value`` per variant (rows) and SNR (columns), one block per channel,
    for the variants whose ``value`` depends on the SNR (``channel_uses`` set); ``None`` if none.
    """
    rs = [r for r in records if r.get("channel_uses")]
    if not rs:
        return None
    dev = rs[0]["device_profile"]
    rs = [r for r in rs if r["device_profile"] == dev]
    snrs = sorted({r["snr_db"] for r in rs})
    lines: list[str] = []
    for chan in dict.fromkeys(_label(r) for r in rs):
        cells: dict[str, dict[float, Any]] = {}
        for r in rs:
            if _label(r) == chan:
                cells.setdefault(r["variant"], {})[r["snr_db"]] = r.get(value)
        lines += [f"**{chan}** — {value} against SNR (dB)", ""]
        lines.append("| variant | " + " | ".join(f"{s:g}" for s in snrs) + " |")
        lines.append("|---|" + "|".join("---" for _ in snrs) + "|")
        for variant, by_snr in cells.items():
            lines.append(f"| {variant} | " + " | ".join(_fmt(by_snr.get(s)) for s in snrs) + " |")
        lines.append("")
    return "\n".join(lines)


def rows_as_strings(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of :data:`COLUMNS`."""
    headers = [title for _, title in COLUMNS]
    cells = [[_fmt(row.get(key)) for key, _ in COLUMNS] for row in rows]
    return headers, cells


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a GitHub-flavoured Markdown table."""
    headers, cells = rows_as_strings(rows)
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(c) + " |" for c in cells]
    return "\n".join(lines)


def rich_table(rows: list[dict[str, Any]], title: str) -> Any:
    """The rows as a :class:`rich.table.Table` for the terminal."""
    from rich.table import Table

    headers, cells = rows_as_strings(rows)
    table = Table(title=title)
    for i, h in enumerate(headers):
        table.add_column(h, justify="left" if i == 0 else "right")
    for c in cells:
        table.add_row(*c)
    return table


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
        acc.setdefault(r["variant"], {}).setdefault(_label(r), []).append(r["accuracy"])
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
        cells = [r["variant"], _fmt(r["depth"]), _fmt(r["cbam"]), _fmt(r["encoder_flops"]),
                 _fmt(r["codec_flops"]), _fmt(r["codec_params"]), f"{r['codec_bytes'] / 1e3:.1f}",
                 *[_fmt(r.get(c)) for c in chans], _fmt(r["accuracy_mean"]),
                 pct(r["flops_saving"]), pct(r["size_saving"]),
                 "—" if r["accuracy_delta"] is None else f"{100 * r['accuracy_delta']:+.1f}",
                 _fmt(r["meets"])]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
