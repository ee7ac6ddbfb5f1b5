"""``report.md``: what was run, the results table, and the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semcom.report.tables import first_channel, markdown_table, snr_table, summary_rows


def write_report(
    path: Path,
    *,
    experiment: str,
    config_yaml: str,
    records: list[dict[str, Any]],
    plots: list[Path],
    notes: list[str] | None = None,
) -> Path:
    """Write the Markdown report of one run."""
    rows = summary_rows(records)
    snr = rows[0]["snr_db"] if rows else None
    device = rows[0]["device_profile"] if rows else None
    channel = first_channel(records) if records else None
    parts = [
        f"# {experiment}",
        "",
        f"Results at SNR {snr} dB on the `{channel}` channel, device profile `{device}`. "
        "Bits are real payload sizes (header included); the estimate is the entropy model's "
        "−log2 likelihood of the body. Latency = device + bits/rate + edge, mean over samples.",
        "",
        markdown_table(rows),
        "",
    ]
    by_snr = snr_table(records)
    if by_snr:
        parts += ["## Accuracy against SNR", "", by_snr]
    for note in notes or []:
        parts += [f"- {note}"]
    if notes:
        parts.append("")
    for p in plots:
        parts += [f"![{p.stem}]({p.name})", ""]
    parts += ["## Resolved config", "", "```yaml", config_yaml.rstrip(), "```", ""]
    path.write_text("\n".join(parts))
    return path
