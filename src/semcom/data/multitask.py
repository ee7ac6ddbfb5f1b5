"""Multi-task sets (object detection + semantic segmentation on one image) in memory, and the
generated ``synthetic-multitask`` set.

:class:`MultiTaskTensorDataset` keeps uint8 images ``[N, C, H, W]``, masks ``[N, H, W]`` (an
integer dtype, uint8 in the loaders: 8× less memory than int64) and, per image, its detection
target. An item is ``(image float32 [C, H, W] in [0, 1], target)`` and ``batch(index)`` gives
``(images float32 [B, C, H, W], targets)``, where the targets are a dict keyed by the sub-task
names of the set's :class:`~semcom.data.info.TaskSpec` (what
:class:`~semcom.tasks.multitask.MultiTask` takes):

* ``"detection"``: per image (in a batch: a list of ``B`` dicts, torchvision's convention, as
  :class:`~semcom.data.detection.DetectionTensorDataset`) ``{"boxes": float32 [n, 4]`` (``x1,
  y1, x2, y2`` in pixels of the stored image, ``x2``/``y2`` exclusive: a one-pixel object at
  column 3 spans ``3..4``), ``"labels": int64 [n]`` (``0 .. D-1``, no background class),
  ``"difficult": bool [n]`` (Pascal VOC's flag; all ``False`` where a set has none) and
  ``"has_boxes": bool []`` (0-d)``}``. ``has_boxes`` is ``False`` for an image that carries no
  detection labels (a VOC image listed for segmentation only): its ``boxes`` are empty and mean
  *unknown*, not *no object*, so a detection loss and evaluator must leave that image out
  (:class:`~semcom.tasks.detection.DetectionEvaluator` does; ``difficult`` objects are left out
  of its mAP as VOC does);
* ``"segmentation"``: the mask int64 ``[H, W]`` (batch: stacked ``[B, H, W]``), class indices
  ``0 .. K-1`` and :data:`~semcom.data.info.IGNORE_INDEX` (255) for unlabelled pixels. An image
  without a segmentation label has a mask of 255 everywhere, which every loss and metric skips.

Every item and batch carries all four detection keys, so batches of any mix of images collate
(:func:`semcom.data.batch.collate`) to what ``batch(index)`` returns.

:class:`MultiTaskArrays` is one split packed as numpy arrays (boxes of all images one after
another, with a per-image count): what the loaders decode, filter and cache
(:func:`semcom.data.array_cache.save_arrays`). :func:`multitask_info` makes the
:class:`~semcom.data.info.DatasetInfo` of such a set: task ``multitask`` over ``{"detection":
TaskSpec("detection", D), "segmentation": TaskSpec("segmentation", K)}``; the info's own
``num_classes`` / ``classes`` are the segmentation classes (what a backbone's class count means
for a dense task).

``synthetic-multitask`` (:func:`synthetic_multitask_datasets`): RGB ``3×64×64`` scenes, 2 000
train / 400 test by default, of one to four shapes from
:data:`~semcom.data.segmentation.SEGMENTATION_CLASSES` (square, disk, triangle, ring, cross:
drawn by the segmentation set's own shape code, in its class colours) on a textured background
(a colour level plus smooth random blotches and pixel noise). The mask labels every pixel with
the class of the shape drawn on top there (``0`` = background); each shape's box is the bounding
box of its *visible* pixels in that same drawing, and a shape that later ones hide for more than
70 % of its pixels has no box (its visible pixels stay in the mask). Deterministic: the same seed
gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from semcom.data.errors import DataFormatError
from semcom.data.info import IGNORE_INDEX, DatasetInfo, TaskSpec
from semcom.data.segmentation import (
    _CLASS_COLOURS,
    SEGMENTATION_CLASSES,
    _shape_masks,
    check_masks,
)

#: Sub-task names (the keys of a multi-task target, in this order).
DETECTION, SEGMENTATION = "detection", "segmentation"
#: Keys of a detection target of a multi-task set.
DETECTION_KEYS = ("boxes", "labels", "difficult", "has_boxes")
#: Defaults of ``synthetic-multitask``.
MULTITASK_TRAIN, MULTITASK_TEST, MULTITASK_SIZE = 2000, 400, 64
#: ``synthetic-multitask``: mask classes (0 = background) and object classes (labels 0..4).
MULTITASK_SEGMENTATION_CLASSES: tuple[str, ...] = SEGMENTATION_CLASSES
MULTITASK_DETECTION_CLASSES: tuple[str, ...] = SEGMENTATION_CLASSES[1:]


def multitask_info(
    name: str,
    input_shape: Sequence[int],
    segmentation_classes: Sequence[str],
    detection_classes: Sequence[str],
) -> DatasetInfo:
    """The :class:`DatasetInfo` of a detection + segmentation set (module docstring).

    >>> info = multitask_info("toy", (3, 8, 8), ("background", "car"), ("car",))
    >>> info.task.kind, list(info.task.subtasks), info.task.subtasks["detection"].num_classes
    ('multitask', ['detection', 'segmentation'], 1)
    >>> info.num_classes, info.task.subtasks["segmentation"].ignore_index
    (2, 255)
    """
    seg, det = tuple(segmentation_classes), tuple(detection_classes)
    spec = TaskSpec(
        "multitask",
        subtasks={
            DETECTION: TaskSpec("detection", len(det), det),
            SEGMENTATION: TaskSpec("segmentation", len(seg), seg, ignore_index=IGNORE_INDEX),
        },
    )
    return DatasetInfo(name, len(seg), tuple(int(s) for s in input_shape), seg, spec)


def _detection_target(t: Mapping[str, Tensor], i: int) -> dict[str, Tensor]:
    """``t`` with every key of :data:`DETECTION_KEYS` (defaults: nothing difficult, labelled)."""
    if "boxes" not in t or "labels" not in t:
        raise ValueError(f"detection target {i} needs 'boxes' [n, 4] and 'labels' [n]")
    boxes = torch.as_tensor(t["boxes"]).to(torch.float32).reshape(-1, 4)
    labels = torch.as_tensor(t["labels"]).to(torch.int64).reshape(-1)
    n = len(labels)
    difficult = torch.as_tensor(t.get("difficult", torch.zeros(n, dtype=torch.bool)))
    difficult = difficult.to(torch.bool).reshape(-1)
    has_boxes = torch.as_tensor(t.get("has_boxes", True)).to(torch.bool).reshape(())
    if len(boxes) != n or len(difficult) != n:
        raise ValueError(
            f"detection target {i}: {len(boxes)} boxes, {n} labels, {len(difficult)} difficult "
            "flags (need one each per object)"
        )
    if not bool(has_boxes) and n:
        raise ValueError(f"detection target {i}: has_boxes is False but it holds {n} boxes")
    unknown = sorted(set(t) - set(DETECTION_KEYS))
    if unknown:
        raise ValueError(f"detection target {i}: unknown keys {unknown}; keys: {DETECTION_KEYS}")
    return {"boxes": boxes, "labels": labels, "difficult": difficult, "has_boxes": has_boxes}


class MultiTaskTensorDataset(Dataset):
    """Images uint8 ``[N, C, H, W]``, masks ``[N, H, W]`` and per-image detection targets, all in
    memory; items and batches as in the module docstring.

    Args:
        images: uint8 tensor ``[N, C, H, W]``.
        masks: integer tensor ``[N, H, W]`` of class indices or 255 (kept in its dtype,
            returned as int64).
        detections: ``N`` dicts with ``boxes`` ``[n, 4]`` and ``labels`` ``[n]``, optionally
            ``difficult`` ``[n]`` (default all ``False``) and ``has_boxes`` (default ``True``).
        info: optional facts about the set (:func:`multitask_info`).

    >>> images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    >>> det = [{"boxes": torch.tensor([[0.0, 0.0, 2.0, 2.0]]), "labels": torch.tensor([1])},
    ...        {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0), "has_boxes": False}]
    >>> ds = MultiTaskTensorDataset(images, torch.zeros(2, 4, 4, dtype=torch.uint8), det)
    >>> x, y = ds.batch([1, 0])
    >>> x.shape, y["segmentation"].shape, y["segmentation"].dtype
    (torch.Size([2, 3, 4, 4]), torch.Size([2, 4, 4]), torch.int64)
    >>> [bool(t["has_boxes"]) for t in y["detection"]], y["detection"][1]["labels"].tolist()
    ([False, True], [1])
    """

    def __init__(
        self,
        images: Tensor,
        masks: Tensor,
        detections: Sequence[Mapping[str, Tensor]],
        info: DatasetInfo | None = None,
    ) -> None:
        masks = check_masks(masks, images)
        if len(detections) != len(images):
            raise ValueError(f"{len(images)} images but {len(detections)} detection targets")
        self.images = images
        self.masks = masks
        self.detections = [_detection_target(t, i) for i, t in enumerate(detections)]
        self.info = info

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[Tensor, dict[str, object]]:
        """Image ``i`` as float32 ``[C, H, W]`` in ``[0, 1]`` and its target dict."""
        return self.images[i].to(torch.float32).div_(255.0), {
            DETECTION: dict(self.detections[i]),
            SEGMENTATION: self.masks[i].to(torch.int64),
        }

    def batch(self, index: Tensor | Sequence[int]) -> tuple[Tensor, dict[str, object]]:
        """Images float32 ``[B, C, H, W]`` in ``[0, 1]`` and targets ``{"detection": [B dicts],
        "segmentation": int64 [B, H, W]}``: one gather for the pixels (the training loop's fast
        path)."""
        index = torch.as_tensor(index, dtype=torch.int64)
        return self.images[index].to(torch.float32).div_(255.0), {
            DETECTION: [dict(self.detections[int(i)]) for i in index],
            SEGMENTATION: self.masks[index].to(torch.int64),
        }

    def box_counts(self) -> list[int]:
        """Boxes per detection class over the set (index = label; needs ``info``'s classes,
        else up to the largest label)."""
        labels = [t["labels"] for t in self.detections]
        flat = torch.cat(labels) if labels else torch.zeros(0, dtype=torch.int64)
        n = 0
        if self.info is not None:
            n = self.info.task.subtasks[DETECTION].num_classes
        return torch.bincount(flat, minlength=n).tolist()

    def __repr__(self) -> str:
        name = self.info.name if self.info else "multitask"
        return (
            f"MultiTaskTensorDataset({name}, n={len(self)}, shape={tuple(self.images.shape[1:])})"
        )


@dataclass
class MultiTaskArrays:
    """One split of a detection + segmentation set as numpy arrays (what the cache stores).

    Attributes:
        images: uint8 ``[N, C, H, W]``.
        masks: uint8 ``[N, H, W]``: class indices, 255 where unlabelled.
        boxes: float32 ``[T, 4]``: ``x1, y1, x2, y2`` (pixels) of every image's objects, image
            after image.
        labels: int64 ``[T]``: object classes.
        difficult: bool ``[T]``.
        counts: int64 ``[N]``: how many of the ``T`` boxes each image has, in order.
        has_boxes: bool ``[N]``: whether an image carries detection labels at all.
    """

    images: np.ndarray
    masks: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    difficult: np.ndarray
    counts: np.ndarray
    has_boxes: np.ndarray

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The field names (the cache's array names, after a ``<split>_`` prefix)."""
        return tuple(f.name for f in fields(cls))

    def check(self, source: str, segmentation_classes: int, detection_classes: int) -> None:
        """Raise :class:`DataFormatError` naming ``source`` if the arrays are inconsistent
        (dtypes, shapes, counts, labels out of range, boxes outside the image)."""
        n = len(self.images)
        want = {
            "images": (np.uint8, 4),
            "masks": (np.uint8, 3),
            "boxes": (np.float32, 2),
            "labels": (np.int64, 1),
            "difficult": (np.bool_, 1),
            "counts": (np.int64, 1),
            "has_boxes": (np.bool_, 1),
        }
        for name, (dtype, ndim) in want.items():
            a = getattr(self, name)
            if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != ndim:
                raise DataFormatError(
                    f"{source}: {name} must be {np.dtype(dtype).name} with {ndim} dimensions, "
                    f"got {getattr(a, 'dtype', type(a))} {getattr(a, 'shape', '')}"
                )
        h, w = self.images.shape[2:]
        t = int(self.counts.sum())
        problem = None
        if self.masks.shape != (n, h, w):
            problem = f"masks {self.masks.shape} for images {self.images.shape}"
        elif len(self.counts) != n or len(self.has_boxes) != n or (self.counts < 0).any():
            problem = f"{len(self.counts)} box counts, {len(self.has_boxes)} flags for {n} images"
        elif self.boxes.shape != (t, 4) or len(self.labels) != t or len(self.difficult) != t:
            problem = f"{t} boxes counted, arrays {self.boxes.shape} / {len(self.labels)} labels"
        elif (self.counts[~self.has_boxes] > 0).any():
            problem = "an image without detection labels has boxes"
        elif t and not (0 <= int(self.labels.min()) <= int(self.labels.max()) < detection_classes):
            problem = f"box labels outside 0..{detection_classes - 1}"
        elif t and not (
            (self.boxes[:, 0] >= 0).all()
            and (self.boxes[:, 1] >= 0).all()
            and (self.boxes[:, 2] <= w).all()
            and (self.boxes[:, 3] <= h).all()
            and (self.boxes[:, 2] > self.boxes[:, 0]).all()
            and (self.boxes[:, 3] > self.boxes[:, 1]).all()
        ):
            problem = f"a box is empty or outside the {w}×{h} image"
        else:
            labelled = self.masks[self.masks != IGNORE_INDEX]
            if labelled.size and int(labelled.max()) >= segmentation_classes:
                problem = f"mask values outside 0..{segmentation_classes - 1} and {IGNORE_INDEX}"
        if problem:
            raise DataFormatError(f"{source}: {problem}")

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """``{"<prefix>_<field>": array}`` (for :func:`~semcom.data.array_cache.save_arrays`)."""
        return {f"{prefix}_{name}": getattr(self, name) for name in self.names()}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str) -> MultiTaskArrays:
        """Inverse of :meth:`to_arrays`."""
        return cls(**{name: arrays[f"{prefix}_{name}"] for name in cls.names()})

    def select_boxes(self, keep: np.ndarray) -> MultiTaskArrays:
        """The same split with only the boxes where ``keep`` (bool ``[T]``) is true."""
        image_of = np.repeat(np.arange(len(self.counts)), self.counts)
        counts = np.bincount(image_of[keep], minlength=len(self.counts)).astype(np.int64)
        return MultiTaskArrays(
            self.images,
            self.masks,
            self.boxes[keep],
            self.labels[keep],
            self.difficult[keep],
            counts,
            self.has_boxes,
        )

    @classmethod
    def concat(cls, parts: Sequence[MultiTaskArrays]) -> MultiTaskArrays:
        """The splits ``parts`` one after another (e.g. CamVid's train and val)."""
        if len(parts) == 1:
            return parts[0]
        return cls(*(np.concatenate([getattr(p, n) for p in parts]) for n in cls.names()))

    def dataset(self, info: DatasetInfo | None = None) -> MultiTaskTensorDataset:
        """A :class:`MultiTaskTensorDataset` sharing these arrays' memory."""
        offsets = np.concatenate([[0], np.cumsum(self.counts)])
        boxes, labels = torch.from_numpy(self.boxes), torch.from_numpy(self.labels)
        difficult = torch.from_numpy(self.difficult)
        detections = [
            {
                "boxes": boxes[a:b],
                "labels": labels[a:b],
                "difficult": difficult[a:b],
                "has_boxes": torch.tensor(bool(flag)),
            }
            for a, b, flag in zip(offsets[:-1], offsets[1:], self.has_boxes, strict=True)
        ]
        return MultiTaskTensorDataset(
            torch.from_numpy(self.images), torch.from_numpy(self.masks), detections, info
        )


def _first(a: Tensor) -> Tensor:
    """Index of the first ``True`` along the last dimension of bool ``[n, m]`` (0 if none)."""
    return a.to(torch.uint8).argmax(1)


def make_multitask_images(
    n: int,
    seed: int,
    *,
    size: int = MULTITASK_SIZE,
    max_shapes: int = 4,
    noise: float = 0.04,
    min_visible: float = 0.3,
) -> MultiTaskArrays:
    """``n`` generated scenes (module docstring) as :class:`MultiTaskArrays`.

    Per image: ``1..max_shapes`` shapes of uniformly drawn classes, half-extent in ``[0.08, 0.2]
    · size`` pixels, in their class colour (scaled by ``[0.7, 1]``, shifted by ``±0.1`` per
    channel); background: a level in ``[0.1, 0.35]`` per channel plus blotches (uniform noise on
    a 6×6 grid, bilinearly upsampled, ``±0.12``); Gaussian pixel noise of std ``noise``. A shape
    gets a box when at least ``min_visible`` of its pixels stay visible.

    >>> a = make_multitask_images(6, seed=0)
    >>> a.images.shape, a.masks.shape, a.boxes.shape[1], int(a.counts.sum()) == len(a.labels)
    ((6, 3, 64, 64), (6, 64, 64), 4, True)
    >>> bool(np.array_equal(a.boxes, make_multitask_images(6, seed=0).boxes))
    True
    """
    if size < 16:
        raise ValueError(f"image size must be >= 16 pixels, got {size}")
    if max_shapes < 1:
        raise ValueError(f"max_shapes must be >= 1, got {max_shapes}")
    g = torch.Generator().manual_seed(int(seed))
    k = len(SEGMENTATION_CLASSES) - 1
    level = 0.1 + 0.25 * torch.rand(n, 3, 1, 1, generator=g)
    blotches = torch.rand(n, 1, 6, 6, generator=g) - 0.5
    tint = 0.6 + 0.4 * torch.rand(n, 3, 1, 1, generator=g)
    texture = F.interpolate(blotches, size=(size, size), mode="bilinear", align_corners=False)
    owner = torch.full((n, size, size), -1, dtype=torch.int8)  # which shape is on top
    count = torch.randint(1, max_shapes + 1, (n,), generator=g)
    # each shape is drawn in a window around it (every pixel it can cover), not the whole image
    win = min(size, 2 * math.ceil(0.2 * size) + 3)
    step = torch.arange(win)
    image = torch.arange(n)[:, None, None]
    kinds, colours, areas, corners = [], [], [], []
    for slot in range(max_shapes):
        kind = torch.randint(1, k + 1, (n,), generator=g)
        radius = size * (0.08 + 0.12 * torch.rand(n, generator=g))
        cy = radius + (size - 1 - 2 * radius) * torch.rand(n, generator=g)
        cx = radius + (size - 1 - 2 * radius) * torch.rand(n, generator=g)
        gain = 0.7 + 0.3 * torch.rand(n, 1, generator=g)
        shift = 0.2 * torch.rand(n, 3, generator=g) - 0.1
        colours.append((_CLASS_COLOURS[kind - 1] * gain + shift).clamp(0, 1))  # [n, 3]
        y0 = (cy.floor().long() - win // 2).clamp(0, size - win)
        x0 = (cx.floor().long() - win // 2).clamp(0, size - win)
        drawn = _shape_masks(kind, cy - y0, cx - x0, radius, win)
        drawn &= (slot < count)[:, None, None]
        at = (image, (y0[:, None] + step)[:, :, None], (x0[:, None] + step)[:, None, :])
        owner[at] = owner[at].masked_fill_(drawn, slot)
        kinds.append(kind)
        areas.append(torch.count_nonzero(drawn, dim=(1, 2)))
        corners.append((y0, x0, at))
    # compose once: the top shape's colour where there is one, the background elsewhere
    on_top = owner.long().clamp_min(0).view(n, 1, size * size)
    palette = torch.stack(colours, 2)  # [n, 3, S]
    shapes = palette.gather(2, on_top.expand(n, 3, -1)).view(n, 3, size, size)
    covered = owner >= 0
    x = torch.where(covered[:, None], shapes, (texture * tint).mul_(0.24).add_(level))
    x.add_(torch.randn(n, 3, size, size, generator=g).mul_(noise))
    images = x.mul_(255).add_(0.5).clamp_(0, 255).to(torch.uint8)  # rounded
    kind_of = torch.stack(kinds, 1)  # [n, S], 1..k
    masks = torch.where(covered, kind_of.gather(1, on_top[:, 0]).view(n, size, size), 0)

    boxes, keep = [], []
    for slot, (y0, x0, at) in enumerate(corners):  # the box of what stays visible of a shape
        visible = owner[at] == slot
        in_row, in_col = visible.any(2), visible.any(1)  # [n, win]
        boxes.append(
            torch.stack(
                [x0 + _first(in_col), y0 + _first(in_row), x0 + win - _first(in_col.flip(1)),
                 y0 + win - _first(in_row.flip(1))], 1
            )
        )  # fmt: skip
        seen = torch.count_nonzero(visible, dim=(1, 2))
        keep.append((seen >= min_visible * areas[slot]) & (areas[slot] > 0))
    kept = torch.stack(keep, 1)  # [n, S]
    box_array = torch.stack(boxes, 1).to(torch.float32)  # [n, S, 4]
    return MultiTaskArrays(
        images=images.numpy(),
        masks=masks.to(torch.uint8).numpy(),
        boxes=box_array[kept].numpy(),
        labels=(kind_of - 1)[kept].numpy(),
        difficult=np.zeros(int(kept.sum()), dtype=np.bool_),
        counts=kept.sum(1).numpy().astype(np.int64),
        has_boxes=np.ones(n, dtype=np.bool_),
    )


def synthetic_multitask_datasets(
    n_train: int = MULTITASK_TRAIN,
    n_test: int = MULTITASK_TEST,
    seed: int = 0,
    *,
    size: int = MULTITASK_SIZE,
) -> tuple[MultiTaskTensorDataset, MultiTaskTensorDataset, DatasetInfo]:
    """The ``synthetic-multitask`` set (module docstring): train and test
    :class:`MultiTaskTensorDataset` and their info (6 mask classes with background, 5 object
    classes).

    >>> train, test, info = synthetic_multitask_datasets(20, 5)
    >>> len(train), len(test), info.task.kind, info.image_size
    (20, 5, 'multitask', (64, 64))
    """
    info = multitask_info(
        "synthetic-multitask",
        (3, size, size),
        MULTITASK_SEGMENTATION_CLASSES,
        MULTITASK_DETECTION_CLASSES,
    )
    train = make_multitask_images(n_train, seed=2 * seed, size=size)
    test = make_multitask_images(n_test, seed=2 * seed + 1, size=size)
    return train.dataset(info), test.dataset(info), info
