"""A picture of what a detection + segmentation system sees and predicts: for a few test images,
the input with its true boxes, the true mask, the predicted boxes and the predicted mask.

:func:`example_outputs` runs a system's real path on a batch — the unsplit network; an analog
link through the evaluation channel at one SNR; a digital one through its payload bytes — and
:func:`draw_examples` draws the figure (boxes scoring at least ``min_score``, labelled with their
class names; masks in a fixed palette, unlabelled pixels black).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom.data.batch import fetch_batch
from semcom.report.plots import _pyplot


def is_detection_and_segmentation(system: Any) -> bool:
    """Whether ``system`` answers both a detection and a segmentation sub-task."""
    kinds = {s.kind for s in system.task.spec.subtasks.values()}
    return system.task.spec.kind == "multitask" and {"detection", "segmentation"} <= kinds


@torch.no_grad()
def example_outputs(
    system: Any, x: torch.Tensor, channel: dict[str, Any] | None, snr_db: float, seed: int = 0
) -> Any:
    """The system's task output on ``x`` ``[B, C, H, W]`` through its real path (module
    docstring), or ``None`` for links this figure does not run (a simulated PHY)."""
    system.eval()
    kind = system.transport.kind
    if kind == "none":
        return system.infer_local(x)
    if kind == "digital":
        return system.edge_decode(system.device_encode(x))
    if kind == "analog" and channel is not None:
        from semcom.transports.symbols import channel_from

        snr = torch.full((len(x),), float(snr_db))
        gen = torch.Generator().manual_seed(seed)
        return system.transport.transmit(system, x, snr, channel_from(channel), generator=gen)
    return None


def _palette(n: int) -> np.ndarray:
    plt = _pyplot()
    cmap = plt.get_cmap("tab20")
    colours = np.array([cmap(i % 20)[:3] for i in range(max(n, 1))])
    return np.concatenate([colours, np.zeros((256 - len(colours), 3))])  # 255 etc.: black


def _boxes(
    ax: Any, det: dict[str, Any], names: tuple[str, ...], colour: str, min_score: float
) -> None:
    boxes = det["boxes"].reshape(-1, 4).tolist()
    labels = det["labels"].reshape(-1).tolist()
    scores = det["scores"].reshape(-1).tolist() if "scores" in det else [1.0] * len(boxes)
    for (x1, y1, x2, y2), label, score in zip(boxes, labels, scores, strict=True):
        if score < min_score:
            continue
        ax.add_patch(_pyplot().Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, ec=colour, lw=1.2))
        name = names[label] if 0 <= label < len(names) else str(label)
        text = name if "scores" not in det else f"{name} {score:.2f}"
        ax.text(x1, y1, text, color="white", fontsize=5, va="bottom",
                bbox={"facecolor": colour, "alpha": 0.7, "pad": 0.5, "lw": 0})  # fmt: skip


def draw_examples(
    system: Any,
    test_set: Any,
    path: Path,
    *,
    channel: dict[str, Any] | None = None,
    snr_db: float = 20.0,
    count: int = 4,
    min_score: float = 0.3,
) -> Path | None:
    """The figure of the module docstring for the first ``count`` test images; ``None`` when the
    system is not a detection + segmentation one or its link is not run here."""
    if not is_detection_and_segmentation(system):
        return None
    count = min(count, len(test_set))
    x, targets = fetch_batch(test_set, torch.arange(count))
    output = example_outputs(system, x.to(system.model_device), channel, snr_db)
    if output is None:
        return None
    spec = system.task.spec.subtasks
    det_names = spec["detection"].classes or tuple(
        f"class_{i}" for i in range(spec["detection"].num_classes)
    )
    palette = _palette(spec["segmentation"].num_classes)
    plt = _pyplot()
    fig, axes = plt.subplots(count, 4, figsize=(12, 2.6 * count), squeeze=False)
    titles = ("input + true boxes", "true mask", "predicted boxes", "predicted mask")
    for i in range(count):
        image = x[i].permute(1, 2, 0).cpu().numpy()
        image = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        true_mask = targets["segmentation"][i].cpu().numpy().astype(np.int64)
        pred_mask = output["segmentation"][i].argmax(0).cpu().numpy()
        panels = (image, palette[np.clip(true_mask, 0, 255)], image, palette[pred_mask])
        for j, (ax, panel) in enumerate(zip(axes[i], panels, strict=True)):
            ax.imshow(np.clip(panel, 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles[j], fontsize=8)
        _boxes(axes[i][0], targets["detection"][i], det_names, "tab:green", 0.0)
        _boxes(axes[i][2], {k: v.cpu() for k, v in output["detection"][i].items()}, det_names,
               "tab:red", min_score)  # fmt: skip
    where = "unsplit" if system.transport.kind == "none" else f"{system.transport.kind}"
    if system.transport.kind == "analog" and channel is not None:
        where += f", {channel.get('name')} at {snr_db:g} dB"
    fig.suptitle(f"{system.name}: what it sees and predicts ({where}; void / unlabelled: black; "
                 f"boxes scoring >= {min_score})", fontsize=9)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
