"""PNG plots of an experiment's records (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from semcom.latency import crossover_rate_bps
from semcom.report.tables import score, score_label, score_within_deadline


def _pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, imported on the first plot (not at start-up)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plotted_score(record: dict[str, Any]) -> float:
    """:func:`score` of a record that is plotted: evaluated records always carry their metric."""
    return cast(float, score(record))


def _by_system(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        groups[r["system"]].append(r)
    return groups


def accuracy_vs_compression(records: list[dict[str, Any]], path: Path) -> Path | None:
    """The primary metric (top-1, mIoU, mAP@0.5, ...) against compression ratio (log x), one
    series per system; SNR-independent points."""
    snr = max(r["snr_db"] for r in records)
    dev = records[0]["device_profile"]
    pts = [r for r in records if r["snr_db"] == snr and r["device_profile"] == dev]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    plotted = False
    for system, rs in _by_system(pts).items():
        rs = [r for r in rs if r.get("compression_ratio") and r.get("payload_bits")]
        if rs:
            rs.sort(key=lambda r: r["compression_ratio"])
            ax.plot(
                [r["compression_ratio"] for r in rs],
                [_plotted_score(r) for r in rs],
                "o-",
                label=system,
            )
            plotted = True
    for r in pts:
        if r["system"] == "local":
            ax.axhline(_plotted_score(r), color="k", ls="--", lw=1, label="local (unsplit)")
            plotted = True
    if not plotted:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_xlabel("compression ratio (float32 bits at split / payload bits)")
    ax.set_ylabel(score_label(pts))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _snr_series(
    records: list[dict[str, Any]],
    path: Path,
    value: Callable[[dict[str, Any]], float],
    label: Callable[[dict[str, Any]], str],
    ylabel: str,
    *,
    log_y: bool = False,
    unit_y: bool = False,
) -> Path:
    """One line per ``label(record)`` of ``value(record)`` against SNR, saved to ``path``."""
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in records:
        series[label(r)].append((r["snr_db"], value(r)))
    # legend to the right, in as many columns as it needs to stay within the figure's height
    columns = 1 + len(series) // 24
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6 + 3.2 * columns, 4.5))
    for name, pts in series.items():
        pts.sort()
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=name)
    if log_y:
        ax.set_yscale("log")
    if unit_y:
        ax.set_ylim(0, 1)
    return _finish_snr_axes(fig, ax, path, ylabel, columns)


def _finish_snr_axes(fig: Any, ax: Any, path: Path, ylabel: str, columns: int) -> Path:
    """SNR x-axis label, grid, legend outside on the right in ``columns`` columns; save, close."""
    ax.set_xlabel("SNR (dB)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=5, ncol=columns, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


def _variant_at_device(r: dict[str, Any]) -> str:
    return f"{r['variant']} @ {r['device_profile']}"


def latency_vs_snr(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Mean end-to-end latency against SNR, one series per variant and device profile."""
    return _snr_series(
        records,
        path,
        lambda r: r["latency_s"]["total"],
        _variant_at_device,
        "mean latency (s)",
        log_y=True,
    )


def deadline_accuracy_vs_snr(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Accuracy within the deadline against SNR (only when a deadline was set)."""
    rs = [r for r in records if score_within_deadline(r) is not None]
    if not rs:
        return None
    return _snr_series(
        rs,
        path,
        lambda r: cast(float, score_within_deadline(r)),  # rs: the records that have one
        _variant_at_device,
        f"{score_label(rs)} within {rs[0]['deadline_s']} s",
        unit_y=True,
    )


def _one_per_variant(records: list[dict[str, Any]], device: str) -> list[dict[str, Any]]:
    """One record per variant for ``device`` (compute costs do not depend on the SNR)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in records:
        if r["device_profile"] == device:
            seen.setdefault(r["variant"], r)
    return list(seen.values())


def latency_at_rate(record: dict[str, Any], rate_bps: np.ndarray) -> np.ndarray:
    """``T(R) = T_device + bits / R + T_edge`` (s) of a record's system at link rates ``R``."""
    lat = record["latency_s"]
    bits = record.get("payload_bits") or 0.0
    return lat["device"] + lat["edge"] + bits / rate_bps


def crossover_rate(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Link rate (bit/s) at which the systems of records ``a`` and ``b`` take equal time."""
    return crossover_rate_bps(
        a["latency_s"]["device"] + a["latency_s"]["edge"],
        a.get("payload_bits") or 0.0,
        b["latency_s"]["device"] + b["latency_s"]["edge"],
        b.get("payload_bits") or 0.0,
    )


def latency_vs_rate(
    records: list[dict[str, Any]], path: Path, rates_bps: tuple[float, float] = (1e5, 1e8)
) -> Path | None:
    """Latency against link rate (0.1 to 100 Mbit/s) for every digital variant, one panel per
    device profile; crossovers of each split system with the best input-offloading baseline are
    marked."""
    digital = [r for r in records if r.get("payload_bits")]
    local = [r for r in records if r["system"] == "local"]
    if not digital:
        return None
    devices = list(dict.fromkeys(r["device_profile"] for r in records))
    rate = np.logspace(np.log10(rates_bps[0]), np.log10(rates_bps[1]), 200)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(devices), figsize=(6 * len(devices), 4.5), squeeze=False)
    for ax, device in zip(axes[0], devices, strict=True):
        rows = _one_per_variant(digital, device)
        offload = [r for r in rows if r["system"].startswith("offload-")]
        for r in rows:
            style = "--" if r["system"].startswith("offload-") else "-"
            ax.plot(rate / 1e6, latency_at_rate(r, rate), style, lw=1.2, label=r["variant"])
        for r in _one_per_variant(local, device):
            ax.axhline(r["latency_s"]["total"], color="k", ls=":", lw=1, label="local (device)")
        for r in rows:
            if r["system"].startswith("offload-") or not offload:
                continue
            for o in offload:
                x = crossover_rate(r, o)
                if x is not None and rates_bps[0] <= x <= rates_bps[1]:
                    y = float(latency_at_rate(r, np.array([x]))[0])
                    ax.plot([x / 1e6], [y], "kx", ms=6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("link rate (Mbit/s)")
        ax.set_ylabel("latency (s)")
        ax.set_title(f"device: {device} (x = crossover with offloading)", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=5, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def device_cost(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Device FLOPs and parameters per variant (bars, log scale)."""
    if not records:
        return None
    rows = _one_per_variant(records, records[0]["device_profile"])
    labels = [r["variant"] for r in rows]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.35 * len(rows) + 1.5))
    for ax, key, title in (
        (axes[0], "device_flops", "device FLOPs per image"),
        (axes[1], "device_params", "device parameters"),
    ):
        values = [max(r.get(key) or 0, 1) for r in rows]
        ax.barh(labels, values)
        ax.set_xscale("log")
        ax.set_title(title, fontsize=9)
        ax.tick_params(axis="y", labelsize=6)
        ax.grid(True, axis="x", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def best_per_snr(records: list[dict[str, Any]], system: str) -> list[tuple[float, float]]:
    """``(snr_db, accuracy)`` of the best variant of ``system`` at each SNR: the envelope an
    adaptive modulation-and-coding scheme with a perfect choice would reach."""
    best: dict[float, float] = {}
    for r in records:
        if r["system"] == system:
            best[r["snr_db"]] = max(best.get(r["snr_db"], 0.0), score(r) or 0.0)
    return sorted(best.items())


def accuracy_vs_snr(records: list[dict[str, Any]], path: Path) -> Path | None:
    """Top-1 against SNR for systems whose accuracy depends on it (analog links, simulated
    digital PHYs). Separate coding (``sscc``) is drawn per modulation and coding (thin) and as
    its best-per-SNR envelope (thick); the ``capacity`` bound dashed."""
    rs = [r for r in records if r.get("channel_uses")]
    if not rs:
        return None
    dev = rs[0]["device_profile"]
    rs = [r for r in rs if r["device_profile"] == dev]
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in rs:
        series[r["variant"]].append((r["snr_db"], _plotted_score(r)))
    columns = 1 + len(series) // 24
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6 + 3.2 * columns, 4.5))
    variant_system = {r["variant"]: r["system"] for r in rs}
    for name, pts in series.items():
        pts.sort()
        system = variant_system[name]
        style = {"sscc": (":", 0.8), "capacity": ("--", 1.5)}.get(system, ("-", 1.5))
        ax.plot([p[0] for p in pts], [p[1] for p in pts], style[0], marker="o", ms=3,
                lw=style[1], label=name)  # fmt: skip
    envelope = best_per_snr(rs, "sscc")
    if envelope:
        ax.plot([p[0] for p in envelope], [p[1] for p in envelope], "k-", lw=2.5, alpha=0.6,
                label="sscc, best MCS per SNR")  # fmt: skip
    ax.set_ylim(0, 1)
    ax.set_title(rs[0].get("channel_label", ""), fontsize=9)
    return _finish_snr_axes(fig, ax, path, score_label(rs), columns)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-").replace("--", "-")


def by_channel(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Records per evaluation channel label; records of systems that send nothing (``none``)
    belong to every channel."""
    labels = list(dict.fromkeys(r.get("channel_label", r["channel"]) for r in records))
    labels = [c for c in labels if c != "none"] or ["none"]
    return {
        c: [r for r in records if r.get("channel_label", r["channel"]) in (c, "none")]
        for c in labels
    }


def validation_curves(phases: list[dict[str, Any]], path: Path) -> Path | None:
    """The validation metric of every phase that trained to a plateau against its epochs, one
    line per ``variant:stage``; a cross where the plateau rule stopped the phase. ``None`` when
    no phase has a curve."""
    curves = [p for p in phases if p.get("curve")]
    if not curves:
        return None
    plt = _pyplot()
    columns = 1 + len(curves) // 24
    fig, ax = plt.subplots(figsize=(6 + 3.2 * columns, 4.5))
    for phase in curves:
        xs = [c["epoch"] for c in phase["curve"]]
        ys = [100 * c["metric"] for c in phase["curve"]]
        (line,) = ax.plot(xs, ys, "o-", ms=3, label=phase["phase"])
        if phase.get("plateaued"):
            ax.plot(xs[-1:], ys[-1:], "x", ms=9, mew=2, color=line.get_color())
    ax.set_xlabel("epochs of the stage")
    ax.set_ylabel("validation metric (points)")
    ax.set_title("training to a plateau (x: stopped by the rule)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=columns, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def all_plots(
    records: list[dict[str, Any]], out_dir: Path, phases: list[dict[str, Any]] | None = None
) -> list[Path]:
    """Write every plot that applies to ``records`` (and the validation curves of ``phases``)
    into ``out_dir``; returns the files written.

    With several evaluation channels the SNR plots are drawn once per channel (file names end
    in the channel); the SNR-independent ones use the first channel's records."""
    channels = by_channel(records)
    first = next(iter(channels.values()))
    made = [
        accuracy_vs_compression(first, out_dir / "accuracy_vs_compression.png"),
        latency_vs_rate(first, out_dir / "latency_vs_rate.png"),
    ]
    for label, rs in channels.items():
        suffix = f"_{_slug(label)}" if len(channels) > 1 else ""
        made += [
            latency_vs_snr(rs, out_dir / f"latency_vs_snr{suffix}.png"),
            deadline_accuracy_vs_snr(rs, out_dir / f"deadline_accuracy_vs_snr{suffix}.png"),
            accuracy_vs_snr(rs, out_dir / f"accuracy_vs_snr{suffix}.png"),
        ]
    made.append(device_cost(first, out_dir / "device_cost.png"))
    made.append(validation_curves(phases or [], out_dir / "validation_curves.png"))
    from semcom.report.multitask_plots import multitask_plots

    made += multitask_plots(records, out_dir)
    return [p for p in made if p is not None]
