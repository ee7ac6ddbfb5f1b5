"""A picture of what a video system sends and what the edge makes of it: for a few test clips,
the frames as they are, the frames as sent (a dropped frame greyed out, a dropped cell of a kept
frame darkened), and the edge's restoration with the true and the predicted class.

Any system with ``restoration(x) -> (sent [B, T, P] bool, clip [B, C, T, H, W], logits [B, K])``
(``stae``, ``deepisc``) can be drawn; ``P`` cells tile each frame in row-major order.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom.data.batch import fetch_batch
from semcom.report.plots import _pyplot

#: how much of a dropped cell's brightness is left in the "sent" row.
DROPPED_CELL = 0.25


def draws_clips(system: Any) -> bool:
    """Whether ``system`` can be drawn here (it has :func:`restoration` and takes clips)."""
    return callable(getattr(system, "restoration", None)) and len(system.ctx.input_shape) == 4


def sent_view(clip: torch.Tensor, sent: torch.Tensor) -> torch.Tensor:
    """``clip`` ``[C, T, H, W]`` as the device sends it: cells not in ``sent`` ``[T, P]``
    (``P = (H/p)·(W/p)``) darkened, frames with no cell sent grey."""
    c, t, h, w = clip.shape
    p = int(math.isqrt(h * w // sent.shape[1]))
    grid = sent.reshape(t, h // p, w // p).repeat_interleave(p, 1).repeat_interleave(p, 2)
    shown = torch.where(grid[None], clip, clip * DROPPED_CELL)
    dropped = ~sent.any(dim=1)
    shown[:, dropped] = 0.5
    return shown


@torch.no_grad()
def draw_clip_examples(
    system: Any, test_set: Any, path: Path, *, count: int = 2, frames: int = 16
) -> Path | None:
    """Draw the first ``count`` test clips (at most ``frames`` frames each) to ``path``; ``None``
    when the system cannot be drawn."""
    if not draws_clips(system):
        return None
    x, y = fetch_batch(test_set, torch.arange(min(count, len(test_set))))
    system.eval()
    sent, restored, logits = system.restoration(x.to(system.model_device))
    sent, restored, pred = sent.cpu(), restored.cpu().clamp(0, 1), logits.argmax(1).cpu()
    info = getattr(test_set, "info", None)
    names = tuple(getattr(info, "classes", ()) or system.task.spec.classes) or tuple(
        str(i) for i in range(system.ctx.num_classes)
    )
    t = min(x.shape[2], frames)
    plt = _pyplot()
    rows = 3 * len(x)
    fig, axes = plt.subplots(rows, t, figsize=(0.8 * t, 0.85 * rows), squeeze=False)
    for i in range(len(x)):
        views = (("input", x[i]), ("sent", sent_view(x[i], sent[i])), ("edge", restored[i]))
        for r, (label, clip) in enumerate(views):
            for f in range(t):
                ax = axes[3 * i + r][f]
                image = clip[:, f].permute(1, 2, 0).numpy()
                ax.imshow(np.squeeze(image), cmap="gray" if image.shape[2] == 1 else None,
                          vmin=0.0, vmax=1.0)  # fmt: skip
                ax.set_xticks([])
                ax.set_yticks([])
                if f == 0:
                    ax.set_ylabel(label, fontsize=6)
        true, guess = names[int(y[i])], names[int(pred[i])]
        axes[3 * i][0].set_title(f"true: {true}   edge: {guess}", fontsize=7, loc="left")
    fig.suptitle(f"{system.name}: what is sent and what the edge restores", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
