"""How many frames the trained video classifier needs: ``local`` of a ViT_STAE run on test clips
whose frames are all there, or only ``k`` evenly spaced ones, the others held (each dropped frame
repeats the kept one before it) or linearly interpolated between kept ones — the best an edge
could restore from ``k`` perfect frames without learning anything.

It bounds what frame selection alone can keep before any fine-tuning of the classifier, and is
why ``configs/stae_sprites.yaml`` keeps 8 of 16 frames.

Run: ``.venv/bin/python benchmarks/stae_frame_budget.py [RUN_DIR] [--clips N]`` (default
``runs/stae-sprites``, 1,000 clips). Writes ``benchmarks/results/stae_frame_budget.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402


def evenly_kept(frames: int, k: int) -> list[int]:
    """``k`` of ``frames`` indices, evenly spaced, first and last included when ``k > 1``."""
    if k >= frames:
        return list(range(frames))
    if k == 1:
        return [0]
    return sorted({round(i * (frames - 1) / (k - 1)) for i in range(k)})


def held(x: torch.Tensor, kept: list[int]) -> torch.Tensor:
    """``x`` ``[B, C, T, H, W]`` with each frame replaced by the last kept one at or before it."""
    index = torch.tensor([max(k for k in kept if k <= t) for t in range(x.shape[2])])
    return x[:, :, index]


def interpolated(x: torch.Tensor, kept: list[int]) -> torch.Tensor:
    """``x`` with the frames between kept ones linearly interpolated (held after the last)."""
    out = held(x, kept)
    for a, b in zip(kept, kept[1:], strict=False):
        for t in range(a + 1, b):
            w = (t - a) / (b - a)
            out[:, :, t] = (1 - w) * x[:, :, a] + w * x[:, :, b]
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", nargs="?", default="runs/stae-sprites")
    parser.add_argument("--clips", type=int, default=1000)
    args = parser.parse_args(argv)
    from semcom.config import load_yaml, resolve
    from semcom.data import build_dataset
    from semcom.storage.store import load_run

    run = Path(args.run)
    systems = load_run(run)
    local = next((s for name, s in systems.items() if name == "local"), None)
    if local is None:
        print(f"{run} has no stored `local` model: run the experiment first", file=sys.stderr)
        return 1
    local = getattr(local, "system", local)
    local.eval()
    cfg = resolve(load_yaml(run / "config.yaml"))
    _, test, _ = build_dataset(cfg.data.name, cfg.data.root, **cfg.data.options())
    x, y = test.batch(range(min(args.clips, len(test))))
    frames = x.shape[2]

    def accuracy(clips: torch.Tensor) -> float:
        with torch.no_grad():
            hits = [
                (local(clips[i : i + 100], path="bypass").output.argmax(1) == y[i : i + 100])
                for i in range(0, len(clips), 100)
            ]
        return 100.0 * float(torch.cat(hits).float().mean())

    rows = []
    for k in sorted({2, 4, frames // 2, frames}):
        kept = evenly_kept(frames, k)
        rows.append({
            "frames_kept": len(kept),
            "held_top1_%": accuracy(held(x, kept)),
            "interpolated_top1_%": accuracy(interpolated(x, kept)),
        })  # fmt: skip
    report("stae_frame_budget", rows, {"run": str(run), "clips": len(x)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
