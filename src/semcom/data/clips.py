"""Video clips in memory, and the generated ``synthetic-clips`` set (motion direction).

:class:`ClipTensorDataset` keeps uint8 clips ``[N, C, T, H, W]`` and labels ``[N]``; items and
batches are float32 in ``[0, 1]`` (``[C, T, H, W]`` / ``[B, C, T, H, W]``), the project's video
convention.

``synthetic-clips`` (:func:`synthetic_clip_datasets`): grey ``1×8×16×16`` clips, 1 600 train /
320 test by default, of a bright square moving at one to two pixels per frame in one of four
directions (:data:`CLIP_CLASSES`) over a noisy background. Any single frame is a square
somewhere: only the motion tells the class, so a model must use time. Deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from semcom.data.info import DatasetInfo

#: Motion directions (labels 0..3).
CLIP_CLASSES: tuple[str, ...] = ("right", "left", "down", "up")
CLIP_TRAIN, CLIP_TEST, CLIP_FRAMES, CLIP_SIZE = 1600, 320, 8, 16
_DIRECTIONS = torch.tensor([[0, 1], [0, -1], [1, 0], [-1, 0]], dtype=torch.float32)  # (dy, dx)


class ClipTensorDataset(Dataset):
    """Clips uint8 ``[N, C, T, H, W]`` and labels int64 ``[N]`` (module docstring)."""

    def __init__(self, clips: Tensor, labels: Tensor, info: DatasetInfo | None = None) -> None:
        if not isinstance(clips, Tensor) or clips.dtype != torch.uint8 or clips.dim() != 5:
            raise ValueError("clips must be a uint8 tensor [N, C, T, H, W]")
        if len(labels) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(labels)} labels")
        self.clips = clips
        self.labels = torch.as_tensor(labels).to(torch.int64)
        self.info = info

    def __len__(self) -> int:
        return int(self.clips.shape[0])

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        return self.clips[i].to(torch.float32).div_(255.0), int(self.labels[i])

    def batch(self, index: Tensor | Sequence[int]) -> tuple[Tensor, Tensor]:
        """Clips float32 ``[B, C, T, H, W]`` in ``[0, 1]`` and labels int64 ``[B]``."""
        index = torch.as_tensor(index, dtype=torch.int64)
        return self.clips[index].to(torch.float32).div_(255.0), self.labels[index]


def make_motion_clips(
    n: int, seed: int, *, frames: int = CLIP_FRAMES, size: int = CLIP_SIZE, noise: float = 0.08
) -> tuple[Tensor, Tensor]:
    """``n`` clips uint8 ``[n, 1, frames, size, size]`` and their direction labels ``[n]``.

    >>> clips, labels = make_motion_clips(6, seed=0)
    >>> clips.shape, labels.tolist() == make_motion_clips(6, seed=0)[1].tolist()
    (torch.Size([6, 1, 8, 16, 16]), True)
    """
    g = torch.Generator().manual_seed(int(seed))
    labels = torch.randint(0, len(CLIP_CLASSES), (n,), generator=g)
    speed = 1.0 + torch.rand(n, generator=g)
    half = 2.0
    travel = speed * (frames - 1)
    direction = _DIRECTIONS[labels]  # [n, 2]
    margin = half + 1
    start = margin + (size - 2 * margin - travel[:, None] * direction.abs()) * torch.rand(
        n, 2, generator=g
    )
    start = torch.where(direction < 0, start + travel[:, None], start)
    grid = torch.arange(size, dtype=torch.float32)
    t = torch.arange(frames, dtype=torch.float32)
    centre = start[:, None, :] + speed[:, None, None] * t[None, :, None] * direction[:, None, :]
    dy = (grid[None, None, :, None] - centre[:, :, 0, None, None]).abs()
    dx = (grid[None, None, None, :] - centre[:, :, 1, None, None]).abs()
    square = ((dy <= half) & (dx <= half)).float()  # [n, T, H, W]
    background = 0.1 + 0.2 * torch.rand(n, 1, 1, 1, generator=g)
    video = background + 0.7 * square + noise * torch.randn(n, frames, size, size, generator=g)
    return (video.clamp(0, 1) * 255).round().to(torch.uint8)[:, None], labels


def synthetic_clip_datasets(
    n_train: int = CLIP_TRAIN, n_test: int = CLIP_TEST, seed: int = 0
) -> tuple[ClipTensorDataset, ClipTensorDataset, DatasetInfo]:
    """The ``synthetic-clips`` set (module docstring).

    >>> train, test, info = synthetic_clip_datasets(16, 4)
    >>> info.input_shape, info.num_classes, train.batch([0, 1])[0].shape
    ((1, 8, 16, 16), 4, torch.Size([2, 1, 8, 16, 16]))
    """
    info = DatasetInfo(
        "synthetic-clips", len(CLIP_CLASSES), (1, CLIP_FRAMES, CLIP_SIZE, CLIP_SIZE), CLIP_CLASSES
    )
    train = make_motion_clips(n_train, seed=2 * seed)
    test = make_motion_clips(n_test, seed=2 * seed + 1)
    return ClipTensorDataset(*train, info=info), ClipTensorDataset(*test, info=info), info
