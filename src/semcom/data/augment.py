"""Training-time augmentation of a whole batch, drawn per sample: random crop and horizontal flip.

The standard CIFAR recipe (He et al. 2016): pad each image by ``crop_padding`` pixels with zeros,
take a random ``H × W`` crop, and flip it left–right with probability 1/2. torchvision's
transforms draw one crop for a whole batch tensor (or run per sample in a data-loader worker);
here every sample of a ``[B, C, H, W]`` (or ``[B, C, T, H, W]``: one crop per clip) batch gets
its own offsets and flip in a few tensor operations. The draws go through
:mod:`semcom.sharded_batch`, so data-parallel ranks augment each sample as one process does.

Dense targets move with their image (:meth:`Augment.apply`): a segmentation mask ``[B, H, W]`` is
cropped at the same offset (the padding is unlabelled, :data:`~semcom.data.info.IGNORE_INDEX`) and
flipped with it; detection boxes (a list of ``{"boxes" [n, 4] x1, y1, x2, y2, "labels", ...}``
dicts) are shifted, clipped to the image and mirrored (``x1' = W - x2``), and a box cropped away
entirely is dropped with its label and flags; a multi-task dict moves each of its entries.
Classification labels stay as they are.

>>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
>>> Augment(crop_padding=1)(x).shape
torch.Size([1, 1, 4, 4])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from semcom import sharded_batch
from semcom.data.info import IGNORE_INDEX

#: task kinds whose targets :meth:`Augment.apply` knows how to move.
AUGMENTABLE = ("classification", "segmentation", "detection", "multitask")


@dataclass(frozen=True)
class Augment:
    """``crop_padding`` pixels of zero padding before a random crop (0: no crop); ``hflip``: a
    left–right flip with probability 1/2. Both per sample (module docstring)."""

    crop_padding: int = 0
    hflip: bool = False

    def __post_init__(self) -> None:
        if self.crop_padding < 0:
            raise ValueError(f"crop_padding must be >= 0, got {self.crop_padding}")

    @property
    def active(self) -> bool:
        return self.crop_padding > 0 or self.hflip

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Augmented copy of a batch ``[B, C, ..., H, W]`` (inputs in ``[0, 1]``)."""
        return self.apply(x, None)[0]

    def apply(self, x: torch.Tensor, targets: Any) -> tuple[torch.Tensor, Any]:
        """Augmented copies of a batch ``[B, C, ..., H, W]`` and of its collated ``targets``,
        moved with it (module docstring)."""
        b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
        if self.crop_padding > 0:
            offsets = draw_offsets(b, self.crop_padding, x.device)
            x = crop_at(x, offsets, self.crop_padding)
            targets = _move(targets, (b, h, w), crop=(offsets, self.crop_padding))
        if self.hflip:
            flips = draw_flips(b, x.device)
            x = flip_where(x, flips)
            targets = _move(targets, (b, h, w), flips=flips)
        return x, targets


def draw_offsets(b: int, padding: int, device: torch.device | str) -> torch.Tensor:
    """Crop offsets ``[B, 2]`` (row, column) uniform in ``0 .. 2·padding``."""
    return sharded_batch.randint(0, 2 * padding + 1, (b, 2), device=device)


def crop_at(
    x: torch.Tensor, offsets: torch.Tensor, padding: int, fill: float = 0.0
) -> torch.Tensor:
    """Each sample of ``x [B, ..., H, W]`` padded by ``padding`` (with ``fill``) and cropped
    back to ``H × W`` at its ``offsets`` row (``[B, 2]``)."""
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    flat = x.reshape(b, -1, h, w)
    padded = F.pad(flat, (padding, padding, padding, padding), value=fill)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # [B, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    crops = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C']
    return crops.permute(0, 3, 1, 2).reshape(x.shape).contiguous()


def draw_flips(b: int, device: torch.device | str) -> torch.Tensor:
    """Which of ``b`` samples to flip (bool ``[B]``, each with probability 1/2)."""
    return sharded_batch.rand((b,), device=device) < 0.5


def flip_where(x: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """``x [B, ..., W]`` with the samples where ``flips`` is true mirrored left–right."""
    return torch.where(flips.view(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)


def random_crop(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Each sample of ``x [B, ..., H, W]`` zero-padded by ``padding`` and cropped back to
    ``H × W`` at a random offset (the same offset for all its channels and frames)."""
    return crop_at(x, draw_offsets(x.shape[0], padding, x.device), padding)


def random_hflip(x: torch.Tensor) -> torch.Tensor:
    """Each sample of ``x [B, ..., W]`` flipped left–right with probability 1/2."""
    return flip_where(x, draw_flips(x.shape[0], x.device))


def _move_boxes(
    target: Mapping[str, Any],
    i: int,
    size: tuple[int, int],
    crop: tuple[torch.Tensor, int] | None,
    flips: torch.Tensor | None,
) -> dict[str, Any]:
    """One image's detection target after its crop or flip (boxes in pixels, x2/y2 exclusive)."""
    h, w = size
    out = dict(target)
    boxes = target["boxes"].reshape(-1, 4)
    if crop is not None:
        offsets, pad = crop
        dy, dx = (pad - offsets[i]).tolist()
        boxes = boxes + boxes.new_tensor([dx, dy, dx, dy])
        boxes = torch.stack(
            [boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h),
             boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)], dim=1
        )  # fmt: skip
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        for key in ("labels", "difficult"):
            if key in out:
                out[key] = out[key][keep]
        boxes = boxes[keep]
    if flips is not None and bool(flips[i]):
        boxes = torch.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], dim=1)
    out["boxes"] = boxes
    return out


def _move(
    targets: Any,
    shape: tuple[int, int, int],
    crop: tuple[torch.Tensor, int] | None = None,
    flips: torch.Tensor | None = None,
) -> Any:
    """Collated ``targets`` of a ``[B, ..., H, W]`` batch (``shape`` = ``(B, H, W)``) moved by
    the same crop or flips as their images: masks, box lists, dicts of them; others as they
    are."""
    b, h, w = shape
    if isinstance(targets, Mapping):
        return {k: _move(v, shape, crop, flips) for k, v in targets.items()}
    if isinstance(targets, list) and all(isinstance(t, Mapping) and "boxes" in t for t in targets):
        return [_move_boxes(t, i, (h, w), crop, flips) for i, t in enumerate(targets)]
    is_mask = (
        isinstance(targets, torch.Tensor)
        and targets.dim() == 3
        and tuple(targets.shape) == (b, h, w)
        and not targets.is_floating_point()
    )
    if not is_mask:
        return targets
    if crop is not None:
        offsets, pad = crop
        return crop_at(targets, offsets, pad, fill=IGNORE_INDEX)
    return flip_where(targets, flips) if flips is not None else targets


def check_augment(augment: Augment, task_kind: str) -> None:
    """Refuse augmentation for a task whose targets it does not know how to move."""
    if augment.active and task_kind not in AUGMENTABLE:
        raise ValueError(
            f"data.augment moves images with the targets of {', '.join(AUGMENTABLE)} tasks; "
            f"this data set's task is {task_kind} (set crop_padding: 0, hflip: false)"
        )
