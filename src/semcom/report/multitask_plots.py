"""Plots of a detection + segmentation experiment (FFMNet): each task's own metric, not their
mean, against compression and against SNR.

* ``tasks_vs_ratio.png`` — mAP@0.5 (top) and mIoU (bottom) against compression ratio: analog
  variants (split floats per complex channel use, at the highest SNR of the first channel) on the
  left, digital ones (float32 bits per payload bit) on the right — two kinds of ratio, never one
  axis; the unsplit networks as horizontal lines.
* ``tasks_vs_snr_<channel>.png`` — mAP@0.5 and mIoU against SNR, one line per variant that
  crosses the channel.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from semcom.report.plots import _pyplot, _slug, by_channel

#: the two metrics drawn, with their labels.
TASK_METRICS = (("map_50", "mAP@0.5"), ("miou", "mIoU"))


def is_multitask(records: list[dict[str, Any]]) -> bool:
    """Whether the records carry both tasks' metrics (some record has each)."""
    return all(any(r.get(key) is not None for r in records) for key, _ in TASK_METRICS)


def _first_per_variant(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        seen.setdefault(r["variant"], r)
    return list(seen.values())


def tasks_vs_ratio(records: list[dict[str, Any]], path: Path) -> Path | None:
    """The 2 × 2 panel figure of the module docstring; ``None`` when nothing has a ratio."""
    top = max(r["snr_db"] for r in records)
    at_top = [r for r in records if r["snr_db"] == top]
    analog = [r for r in at_top if r.get("channel_uses") and r.get("transport") == "analog"]
    digital = [r for r in at_top if r.get("payload_bits") and r.get("compression_ratio")]
    unsplit = _first_per_variant([r for r in records if r.get("transport") == "none"])
    if not analog and not digital:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), squeeze=False)
    kinds = (
        (analog, "split floats per complex channel use (analog)"),
        (digital, "float32 bits at split / payload bits (digital)"),
    )
    for row, (key, label) in enumerate(TASK_METRICS):
        for col, (rs, xlabel) in enumerate(kinds):
            ax = axes[row][col]
            series: dict[str, list[tuple[float, float]]] = defaultdict(list)
            for r in _first_per_variant(rs):
                if r.get(key) is not None:
                    series[r["system"]].append((r["compression_ratio"], 100 * r[key]))
            for system, pts in series.items():
                pts.sort()
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=system)
            for r in unsplit:
                if r.get(key) is not None:
                    ax.axhline(100 * r[key], ls="--", lw=1, label=f"{r['variant']} (unsplit)",
                               color=f"C{len(series) + unsplit.index(r)}")  # fmt: skip
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{label} (%)")
            ax.grid(True, which="both", alpha=0.3)
            if series or unsplit:
                ax.legend(fontsize=6)
    fig.suptitle(f"both tasks against compression (analog at {top:g} dB)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def tasks_vs_snr(records: list[dict[str, Any]], path: Path) -> Path | None:
    """mAP@0.5 and mIoU against SNR for the variants that cross one channel."""
    rs = [r for r in records if r.get("transport") != "none"]
    if not rs:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), squeeze=False)
    for ax, (key, label) in zip(axes[0], TASK_METRICS, strict=True):
        series: dict[str, dict[float, float]] = defaultdict(dict)
        for r in rs:
            if r.get(key) is not None:
                series[r["variant"]].setdefault(r["snr_db"], 100 * r[key])
        for variant, pts in series.items():
            snrs = sorted(pts)
            ax.plot(snrs, [pts[s] for s in snrs], "o-", label=variant)
        ax.set_xlabel("SNR (dB)")
        ax.set_ylabel(f"{label} (%)")
        ax.grid(True, alpha=0.3)
    axes[0][1].legend(fontsize=5, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(rs[0].get("channel_label", rs[0]["channel"]))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def multitask_plots(records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Every plot of this module that applies to ``records``; the files written."""
    if not records or not is_multitask(records):
        return []
    channels = by_channel(records)
    made = [tasks_vs_ratio(next(iter(channels.values())), out_dir / "tasks_vs_ratio.png")]
    for label, rs in channels.items():
        suffix = f"_{_slug(label)}" if len(channels) > 1 else ""
        made.append(tasks_vs_snr(rs, out_dir / f"tasks_vs_snr{suffix}.png"))
    return [p for p in made if p is not None]
