"""PNG plots of an experiment's records (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _by_system(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["system"]].append(r)
    return groups


def accuracy_vs_compression(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Top-1 against compression ratio (log x), one series per system; SNR-independent points."""
    snr = max(r["snr_db"] for r in records)
    dev = records[0]["device_profile"]
    pts = [r for r in records if r["snr_db"] == snr and r["device_profile"] == dev]
    fig, ax = plt.subplots(figsize=(6, 4))
    plotted = False
    for system, rs in _by_system(pts).items():
        rs = [r for r in rs if r.get("compression_ratio")]
        if rs:
            rs.sort(key=lambda r: r["compression_ratio"])
            ax.plot(
                [r["compression_ratio"] for r in rs],
                [r["accuracy"] for r in rs],
                "o-",
                label=system,
            )
            plotted = True
    for r in pts:
        if r["system"] == "local":
            ax.axhline(r["accuracy"], color="k", ls="--", lw=1, label="local (unsplit)")
            plotted = True
    if not plotted:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_xlabel("compression ratio (float32 bits at split / payload bits)")
    ax.set_ylabel("top-1 accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def latency_vs_snr(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean end-to-end latency against SNR, one series per variant and device profile."""
    fig, ax = plt.subplots(figsize=(6, 4))
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in records:
        series[f"{r['variant']} @ {r['device_profile']}"].append(
            (r["snr_db"], r["latency_s"]["total"])
        )
    for label, pts in series.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel("mean latency (s)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def deadline_accuracy_vs_snr(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Accuracy within the deadline against SNR (only when a deadline was set)."""
    rs = [r for r in records if r.get("accuracy_within_deadline") is not None]
    if not rs:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in rs:
        series[f"{r['variant']} @ {r['device_profile']}"].append(
            (r["snr_db"], r["accuracy_within_deadline"])
        )
    for label, pts in series.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=label)
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel(f"accuracy within {rs[0]['deadline_s']} s")
    ax.set_ylim(0, 1)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def all_plots(records: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    """Write every plot that applies to ``records`` into ``out_dir``; returns the files written."""
    made = [
        accuracy_vs_compression(records, out_dir / "accuracy_vs_compression.png"),
        latency_vs_snr(records, out_dir / "latency_vs_snr.png"),
        deadline_accuracy_vs_snr(records, out_dir / "deadline_accuracy_vs_snr.png"),
    ]
    return [p for p in made if p is not None]
