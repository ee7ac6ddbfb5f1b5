"""Object detection sets in memory, and the generated ``synthetic-detection`` set.

:class:`DetectionTensorDataset` keeps uint8 images ``[N, C, H, W]`` and, per image, the boxes
float ``[n, 4]`` (``x1, y1, x2, y2`` in pixels) and labels int64 ``[n]`` of its objects; items are
``(image float [C, H, W] in [0, 1], {"boxes", "labels"})`` and ``batch(index)`` gives the images
stacked and the targets as a list of dicts (torchvision's detection convention).

``synthetic-detection`` (:func:`synthetic_detection_datasets`): RGB ``3×32×32`` images, 2 000 train
/ 400 test by default, of one to three shapes from :data:`DETECTION_CLASSES` (square, disk,
triangle) in their class colour on a noisy dark background; each object's box is the bounding box
of its own shape (a later shape may occlude an earlier one; its box stays). Deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from semcom.data.info import DatasetInfo, TaskSpec
from semcom.data.segmentation import _CLASS_COLOURS, _shape_masks
from semcom.data.tensor_dataset import check_uint8_images

#: Object classes (labels 0..2; detection has no background class).
DETECTION_CLASSES: tuple[str, ...] = ("square", "disk", "triangle")
DETECTION_TRAIN, DETECTION_TEST, DETECTION_SIZE = 2000, 400, 32


class DetectionTensorDataset(Dataset):
    """Images uint8 ``[N, C, H, W]`` and per-image boxes and labels (module docstring)."""

    def __init__(
        self, images: Tensor, targets: Sequence[dict[str, Tensor]], info: DatasetInfo | None = None
    ) -> None:
        check_uint8_images(images)
        if len(targets) != len(images):
            raise ValueError(f"{len(images)} images but {len(targets)} targets")
        for i, t in enumerate(targets):
            if set(t) != {"boxes", "labels"} or t["boxes"].shape != (len(t["labels"]), 4):
                raise ValueError(f"target {i} must be {{'boxes': [n, 4], 'labels': [n]}}")
        self.images = images
        self.targets = [
            {"boxes": t["boxes"].float(), "labels": t["labels"].long()} for t in targets
        ]
        self.info = info

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.images[i].to(torch.float32).div_(255.0), dict(self.targets[i])

    def batch(self, index: Tensor | Sequence[int]) -> tuple[Tensor, list[dict[str, Tensor]]]:
        """Images float32 ``[B, C, H, W]`` in ``[0, 1]`` and their targets (a list)."""
        index = torch.as_tensor(index, dtype=torch.int64)
        return (
            self.images[index].to(torch.float32).div_(255.0),
            [dict(self.targets[int(i)]) for i in index],
        )


def make_detection_images(
    n: int, seed: int, *, size: int = DETECTION_SIZE, max_objects: int = 3, noise: float = 0.05
) -> tuple[Tensor, list[dict[str, Tensor]]]:
    """``n`` RGB images uint8 ``[n, 3, size, size]`` and their boxes and labels.

    >>> x, t = make_detection_images(4, seed=0)
    >>> x.shape, t[0]["boxes"].shape[1], bool((t[0]["boxes"][:, 2:] > t[0]["boxes"][:, :2]).all())
    (torch.Size([4, 3, 32, 32]), 4, True)
    """
    g = torch.Generator().manual_seed(int(seed))
    x = (0.05 + 0.2 * torch.rand(n, 3, 1, 1, generator=g)).expand(n, 3, size, size).clone()
    count = torch.randint(1, max_objects + 1, (n,), generator=g)
    boxes: list[list[list[float]]] = [[] for _ in range(n)]
    labels: list[list[int]] = [[] for _ in range(n)]
    for slot in range(max_objects):
        kind = torch.randint(1, len(DETECTION_CLASSES) + 1, (n,), generator=g)
        radius = size * (0.12 + 0.12 * torch.rand(n, generator=g))
        cy = radius + (size - 1 - 2 * radius) * torch.rand(n, generator=g)
        cx = radius + (size - 1 - 2 * radius) * torch.rand(n, generator=g)
        colour = (_CLASS_COLOURS[kind - 1] * (0.8 + 0.2 * torch.rand(n, 1, generator=g))).clamp(
            0, 1
        )
        drawn = _shape_masks(kind, cy, cx, radius, size) & (slot < count)[:, None, None]
        x = torch.where(drawn[:, None], colour[:, :, None, None], x)
        for i in torch.nonzero(drawn.flatten(1).any(1)).flatten().tolist():
            ys, xs = torch.nonzero(drawn[i], as_tuple=True)
            boxes[i].append(
                [float(xs.min()), float(ys.min()), float(xs.max()) + 1, float(ys.max()) + 1]
            )
            labels[i].append(int(kind[i]) - 1)
    x = x + noise * torch.randn(n, 3, size, size, generator=g)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    targets = [
        {
            "boxes": torch.tensor(b, dtype=torch.float32).reshape(-1, 4),
            "labels": torch.tensor(lab, dtype=torch.int64),
        }
        for b, lab in zip(boxes, labels, strict=True)
    ]
    return images, targets


def synthetic_detection_datasets(
    n_train: int = DETECTION_TRAIN,
    n_test: int = DETECTION_TEST,
    seed: int = 0,
    *,
    size: int = DETECTION_SIZE,
) -> tuple[DetectionTensorDataset, DetectionTensorDataset, DatasetInfo]:
    """The ``synthetic-detection`` set (module docstring).

    >>> train, test, info = synthetic_detection_datasets(20, 5)
    >>> len(train), info.task.kind, info.task.num_classes, len(train.batch([0, 1])[1])
    (20, 'detection', 3, 2)
    """  # fmt: skip
    spec = TaskSpec("detection", len(DETECTION_CLASSES), DETECTION_CLASSES)
    info = DatasetInfo(
        "synthetic-detection", len(DETECTION_CLASSES), (3, size, size), DETECTION_CLASSES, spec
    )
    train = make_detection_images(n_train, seed=2 * seed, size=size)
    test = make_detection_images(n_test, seed=2 * seed + 1, size=size)
    return (
        DetectionTensorDataset(*train, info=info),
        DetectionTensorDataset(*test, info=info),
        info,
    )
