"""Semantic segmentation sets in memory, and the generated ``synthetic-segmentation`` set.

:class:`SegmentationTensorDataset` keeps uint8 images ``[N, C, H, W]`` and int64 masks
``[N, H, W]`` (one class index per pixel, ``0`` = background); items and batches are float images
in ``[0, 1]`` with their masks, like :class:`~semcom.data.tensor_dataset.ImageTensorDataset`.

``synthetic-segmentation`` (:func:`synthetic_segmentation_datasets`): RGB ``3×32×32`` images,
2 000 train / 400 test by default, of one to three random shapes from
:data:`SEGMENTATION_CLASSES` (square, disk, triangle, ring, cross) on a noisy textured background;
the mask labels every pixel with the class of the shape drawn on top there (later shapes occlude
earlier ones) or ``0`` for background. Each class has its own base colour, jittered per shape,
and its own outline, so both colour and shape are cues. Deterministic: the same seed gives the
same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from semcom.data.info import DatasetInfo, TaskSpec
from semcom.data.tensor_dataset import check_uint8_images

#: Class names, index = mask value (``0`` is the background).
SEGMENTATION_CLASSES: tuple[str, ...] = (
    "background",
    "square",
    "disk",
    "triangle",
    "ring",
    "cross",
)
#: Defaults of the ``synthetic-segmentation`` data set.
SEGMENTATION_TRAIN, SEGMENTATION_TEST, SEGMENTATION_SIZE = 2000, 400, 32
#: RGB base colour per shape class (background excluded), in ``[0, 1]``.
_CLASS_COLOURS = torch.tensor(
    [
        [0.95, 0.25, 0.20],  # square: red
        [0.20, 0.85, 0.25],  # disk: green
        [0.25, 0.35, 0.95],  # triangle: blue
        [0.95, 0.85, 0.20],  # ring: yellow
        [0.85, 0.30, 0.90],  # cross: magenta
    ]
)


def check_masks(masks: Tensor, images: Tensor) -> Tensor:
    """``masks`` as a tensor if it is an integer ``[N, H, W]`` matching ``images`` ``[N, C, H,
    W]`` (uint8, checked too), else a :class:`ValueError` saying what does not fit."""
    check_uint8_images(images)
    masks = torch.as_tensor(masks)
    if masks.dim() != 3 or masks.dtype.is_floating_point or masks.dtype == torch.bool:
        raise ValueError(
            f"masks must be an integer tensor [N, H, W]; got {masks.dtype} {tuple(masks.shape)}"
        )
    if masks.shape[0] != images.shape[0] or masks.shape[1:] != images.shape[2:]:
        raise ValueError(
            f"masks {tuple(masks.shape)} do not match images {tuple(images.shape)} "
            "(need [N, H, W] for [N, C, H, W])"
        )
    return masks


class SegmentationTensorDataset(Dataset):
    """Images uint8 ``[N, C, H, W]`` and masks int64 ``[N, H, W]``, all in memory.

    Args:
        images: uint8 tensor ``[N, C, H, W]``.
        masks: integer tensor ``[N, H, W]`` of class indices (stored as int64).
        info: optional facts about the set (classes, geometry; ``task="segmentation"``).

    >>> images = torch.full((3, 1, 2, 2), 255, dtype=torch.uint8)
    >>> ds = SegmentationTensorDataset(images, torch.zeros(3, 2, 2, dtype=torch.int64))
    >>> x, m = ds[1]
    >>> x.shape, x.max().item(), m.shape
    (torch.Size([1, 2, 2]), 1.0, torch.Size([2, 2]))
    >>> xb, mb = ds.batch(torch.tensor([2, 0]))
    >>> xb.shape, mb.shape, mb.dtype
    (torch.Size([2, 1, 2, 2]), torch.Size([2, 2, 2]), torch.int64)
    """

    def __init__(self, images: Tensor, masks: Tensor, info: DatasetInfo | None = None) -> None:
        masks = check_masks(masks, images)
        self.images = images
        self.masks = masks.to(torch.int64)
        self.info = info

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        """Image ``i`` as float32 ``[C, H, W]`` in ``[0, 1]`` and its mask int64 ``[H, W]``."""
        return self.images[i].to(torch.float32).div_(255.0), self.masks[i]

    def batch(self, index: Tensor | Sequence[int]) -> tuple[Tensor, Tensor]:
        """Images float32 ``[B, C, H, W]`` in ``[0, 1]`` and masks int64 ``[B, H, W]``: one
        gather, no Python loop (the training loop's fast path)."""
        index = torch.as_tensor(index, dtype=torch.int64)
        return self.images[index].to(torch.float32).div_(255.0), self.masks[index]

    @property
    def targets(self) -> Tensor:
        """The masks, int64 ``[N, H, W]``."""
        return self.masks

    def __repr__(self) -> str:
        name = self.info.name if self.info else "segmentation"
        return (
            f"SegmentationTensorDataset({name}, n={len(self)}, "
            f"shape={tuple(self.images.shape[1:])})"
        )


def _shape_masks(kind: Tensor, cy: Tensor, cx: Tensor, radius: Tensor, size: int) -> Tensor:
    """Boolean ``[n, size, size]``: shape ``kind`` (``1..5``, see :data:`SEGMENTATION_CLASSES`)
    centred at ``(cy, cx)`` with half-extent ``radius`` (pixels), one per sample."""
    grid = torch.arange(size, dtype=torch.float32)
    dy = grid[None, :, None] - cy[:, None, None]
    dx = grid[None, None, :] - cx[:, None, None]
    r = radius[:, None, None]
    dist = torch.sqrt(dx**2 + dy**2)
    stroke = (r / 3).clamp_min(1.0)
    out = torch.zeros(len(kind), size, size, dtype=torch.bool)
    for k in range(1, len(SEGMENTATION_CLASSES)):
        sel = kind == k
        if not bool(sel.any()):
            continue
        y, x, rr, d, s = dy[sel], dx[sel], r[sel], dist[sel], stroke[sel]
        if k == 1:  # square
            shape = (x.abs() <= rr) & (y.abs() <= rr)
        elif k == 2:  # disk
            shape = d <= rr
        elif k == 3:  # triangle, apex up
            shape = (y <= rr) & (y >= -rr) & (x.abs() <= (y + rr) / 2)
        elif k == 4:  # ring
            shape = (d <= rr) & (d >= rr - s)
        else:  # cross
            arm = s / 2 + 0.5
            shape = ((x.abs() <= arm) | (y.abs() <= arm)) & (x.abs() <= rr) & (y.abs() <= rr)
        out[sel] = shape
    return out


def make_segmentation_images(
    n: int,
    seed: int,
    *,
    size: int = SEGMENTATION_SIZE,
    max_shapes: int = 3,
    noise: float = 0.06,
) -> tuple[Tensor, Tensor]:
    """``n`` RGB images uint8 ``[n, 3, size, size]`` and masks int64 ``[n, size, size]``.

    Per image: ``1..max_shapes`` shapes, each of a uniformly drawn class, half-extent in
    ``[0.15, 0.28] · size`` pixels, centred anywhere its bounding box stays mostly inside, in its
    class colour scaled by ``[0.7, 1]`` and shifted by ``±0.1`` per channel; the background is a
    dark random level in ``[0.05, 0.35]`` per channel; Gaussian noise of std ``noise`` on top.

    >>> x, m = make_segmentation_images(8, seed=0)
    >>> x.shape, x.dtype, m.shape, int(m.max()) <= 5
    (torch.Size([8, 3, 32, 32]), torch.uint8, torch.Size([8, 32, 32]), True)
    >>> bool(torch.equal(m, make_segmentation_images(8, seed=0)[1]))
    True
    """
    if size < 8:
        raise ValueError(f"image size must be >= 8 pixels, got {size}")
    if max_shapes < 1:
        raise ValueError(f"max_shapes must be >= 1, got {max_shapes}")
    g = torch.Generator().manual_seed(int(seed))
    k = len(SEGMENTATION_CLASSES) - 1
    background = 0.05 + 0.3 * torch.rand(n, 3, 1, 1, generator=g)
    x = background.expand(n, 3, size, size).clone()
    masks = torch.zeros(n, size, size, dtype=torch.int64)
    count = torch.randint(1, max_shapes + 1, (n,), generator=g)
    for slot in range(max_shapes):
        kind = torch.randint(1, k + 1, (n,), generator=g)
        radius = size * (0.15 + 0.13 * torch.rand(n, generator=g))
        cy = radius + (size - 1 - 2 * radius) * torch.rand(n, generator=g)
        cx = radius + (size - 1 - 2 * radius) * torch.rand(n, generator=g)
        gain = 0.7 + 0.3 * torch.rand(n, 1, generator=g)
        shift = 0.2 * torch.rand(n, 3, generator=g) - 0.1
        colour = (_CLASS_COLOURS[kind - 1] * gain + shift).clamp(0, 1)  # [n, 3]
        drawn = _shape_masks(kind, cy, cx, radius, size) & (slot < count)[:, None, None]
        x = torch.where(drawn[:, None], colour[:, :, None, None], x)
        masks = torch.where(drawn, kind[:, None, None], masks)
    x = x + noise * torch.randn(n, 3, size, size, generator=g)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    return images, masks


def synthetic_segmentation_datasets(
    n_train: int = SEGMENTATION_TRAIN,
    n_test: int = SEGMENTATION_TEST,
    seed: int = 0,
    *,
    size: int = SEGMENTATION_SIZE,
) -> tuple[SegmentationTensorDataset, SegmentationTensorDataset, DatasetInfo]:
    """The ``synthetic-segmentation`` set: train and test :class:`SegmentationTensorDataset` and
    its info (``num_classes`` = 6 including background, ``task="segmentation"``).

    >>> train, test, info = synthetic_segmentation_datasets(50, 10)
    >>> len(train), len(test), info.num_classes, info.image_size, info.task.kind
    (50, 10, 6, (32, 32), 'segmentation')
    """
    info = DatasetInfo(
        "synthetic-segmentation",
        len(SEGMENTATION_CLASSES),
        (3, size, size),
        SEGMENTATION_CLASSES,
        task=TaskSpec("segmentation", len(SEGMENTATION_CLASSES), SEGMENTATION_CLASSES),
    )
    train = make_segmentation_images(n_train, seed=2 * seed, size=size)
    test = make_segmentation_images(n_test, seed=2 * seed + 1, size=size)
    return (
        SegmentationTensorDataset(*train, info=info),
        SegmentationTensorDataset(*test, info=info),
        info,
    )
