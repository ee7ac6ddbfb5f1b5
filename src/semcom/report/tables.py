"""The results table: one row per system variant, shown in the terminal (rich) and in report.md."""

from __future__ import annotations

from typing import Any

COLUMNS: list[tuple[str, str]] = [
    ("variant", "system"),
    ("metric", "metric"),
    ("score", "score"),
    ("payload_bits", "bits/sample"),
    ("estimated_bits", "est. body bits"),
    ("compression_ratio", "ratio"),
    ("device_flops", "device FLOPs"),
    ("device_params", "device params"),
    ("latency_total", "latency (s)"),
    ("score_within_deadline", "score in deadline"),
]


def score(record: dict[str, Any]) -> float | None:
    """The record's primary metric (``primary_metric`` names it; ``accuracy`` in records made
    before tasks had primary metrics)."""
    return record.get(record.get("primary_metric") or "accuracy")


def score_within_deadline(record: dict[str, Any]) -> float | None:
    """The primary metric with late samples counted as empty predictions (``None`` without a
    deadline)."""
    within = record.get("metrics_within_deadline") or {}
    key = record.get("primary_metric") or "accuracy"
    if key in within:
        return within[key]
    return record.get("accuracy_within_deadline")


def score_label(records: list[dict[str, Any]]) -> str:
    """The primary metric in words, when every record shares it (else ``score``)."""
    labels = {r.get("metric", "top-1 accuracy") for r in records}
    return labels.pop() if len(labels) == 1 else "score (each system's primary metric)"


def format_cell(value: Any) -> str:
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


def record_channel(record: dict[str, Any]) -> str:
    return record.get("channel_label", record["channel"])


def first_channel(records: list[dict[str, Any]]) -> str:
    """The first evaluation channel's label in ``records`` (``"none"`` if nothing is sent)."""
    return next((record_channel(r) for r in records if record_channel(r) != "none"), "none")


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
        if r["snr_db"] != snr or r["device_profile"] != dev:
            continue
        if record_channel(r) not in (chan, "none"):
            continue
        rows.append(
            {
                **r,
                "latency_total": r["latency_s"]["total"],
                "score": score(r),
                "score_within_deadline": score_within_deadline(r),
            }
        )
    return rows


def snr_table(records: list[dict[str, Any]], value: str | None = None) -> str | None:
    """Markdown table of ``value`` (default: each record's primary metric) per variant (rows) and
    SNR (columns), one block per channel, for the variants whose ``value`` depends on the SNR
    (``channel_uses`` set); ``None`` if none.
    """
    rs = [r for r in records if r.get("channel_uses")]
    if not rs:
        return None
    dev = rs[0]["device_profile"]
    rs = [r for r in rs if r["device_profile"] == dev]
    snrs = sorted({r["snr_db"] for r in rs})
    lines: list[str] = []
    for chan in dict.fromkeys(record_channel(r) for r in rs):
        cells: dict[str, dict[float, Any]] = {}
        for r in rs:
            if record_channel(r) == chan:
                cells.setdefault(r["variant"], {})[r["snr_db"]] = (
                    r.get(value) if value else score(r)
                )
        label = value or score_label(rs)
        lines += [f"**{chan}** — {label} against SNR (dB)", ""]
        lines.append("| variant | " + " | ".join(f"{s:g}" for s in snrs) + " |")
        lines.append("|---|" + "|".join("---" for _ in snrs) + "|")
        for variant, by_snr in cells.items():
            values = " | ".join(format_cell(by_snr.get(s)) for s in snrs)
            lines.append(f"| {variant} | {values} |")
        lines.append("")
    return "\n".join(lines)


def rows_as_strings(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells of :data:`COLUMNS`."""
    headers = [title for _, title in COLUMNS]
    cells = [[format_cell(row.get(key)) for key, _ in COLUMNS] for row in rows]
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


def plateau_table(phases: list[dict[str, Any]]) -> str | None:
    """A Markdown table of the phases that evaluated a validation curve: evaluations, epochs
    trained, the first, best and last validation metric (points) and the gain over the last two
    evaluations; ``None`` when no phase has a curve."""
    rows = [p for p in phases if p.get("curve")]
    if not rows:
        return None
    lines = [
        "| phase | evaluations | epochs | first | best | last | last-two gain | stopped by |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in rows:
        metric = [100 * c["metric"] for c in p["curve"]]
        gain = f"{metric[-1] - metric[-3]:+.2f}" if len(metric) >= 3 else "–"
        lines.append(
            f"| {p['phase']} | {len(metric)} | {p['curve'][-1]['epoch']:.2f} | {metric[0]:.2f} "
            f"| {max(metric):.2f} | {metric[-1]:.2f} | {gain} "
            f"| {'plateau' if p.get('plateaued') else 'epochs'} |"
        )
    return "\n".join(lines)
