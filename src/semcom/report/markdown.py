"""``report.md``: what was run, the results table, and the plots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semcom.report.codec_design import (
    DESIGN_TARGETS,
    choose_design,
    codec_design_rows,
    codec_design_table,
)
from semcom.report.tables import (
    first_channel,
    markdown_table,
    plateau_table,
    snr_table,
    summary_rows,
)


def write_report(
    path: Path,
    *,
    experiment: str,
    config_yaml: str,
    records: list[dict[str, Any]],
    plots: list[Path],
    notes: list[str] | None = None,
    phases: list[dict[str, Any]] | None = None,
) -> Path:
    """Write the Markdown report of one run (``phases``: the training phases, whose validation
    curves are tabulated when they trained to a plateau)."""
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
    design = codec_design_rows(records)
    if design:
        chosen = choose_design(design)
        t = DESIGN_TARGETS
        parts += [
            "## Codec design: depth × CBAM against the baseline",
            "",
            "Codec costs per image (encoder on the device; codec = encoder + decoder, without the "
            "task network). Accuracy is the mean over the SNR sweep. Targets against the "
            f"baseline: at least {t['flops_saving']:.0%} fewer codec FLOPs, at least "
            f"{t['size_saving']:.0%} smaller, at most {100 * t['max_accuracy_loss']:.0f} points "
            "less accuracy.",
            "",
            codec_design_table(design),
            "",
            f"Chosen: `{chosen['variant']}` (the most accurate CBAM design that meets the "
            "targets; `cbam: false` rows are the ablation)."
            if chosen
            else "No design meets all targets.",
            "",
        ]
    by_snr = snr_table(records)
    if by_snr:
        parts += ["## Accuracy against SNR", "", by_snr]
    curves = plateau_table(phases or [])
    if curves:
        parts += ["## Training to a plateau (validation split)", "", curves, ""]
    for note in notes or []:
        parts += [f"- {note}"]
    if notes:
        parts.append("")
    for p in plots:
        parts += [f"![{p.stem}]({p.name})", ""]
    parts += ["## Resolved config", "", "```yaml", config_yaml.rstrip(), "```", ""]
    path.write_text("\n".join(parts))
    return path
