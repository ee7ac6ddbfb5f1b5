"""Training-time augmentation of a whole batch, drawn per sample: random crop and horizontal flip.

The standard CIFAR recipe (He et al. 2016): pad each image by ``crop_padding`` pixels with zeros,
take a random ``H × W`` crop, and flip it left–right with probability 1/2. torchvision's
transforms draw one crop for a whole batch tensor (or run per sample in a data-loader worker);
here every sample of a ``[B, C, H, W]`` (or ``[B, C, T, H, W]``: one crop per clip) batch gets
its own offsets and flip in a few tensor operations. The draws go through
:mod:`semcom.sharded_batch`, so data-parallel ranks augment each sample as one process does.

Only the inputs change, so augmentation is for tasks whose targets do not depend on the image
geometry (classification); :func:`check_augment` refuses it for the others.

>>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
>>> Augment(crop_padding=1)(x).shape
torch.Size([1, 1, 4, 4])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from semcom import sharded_batch


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
        if self.crop_padding > 0:
            x = random_crop(x, self.crop_padding)
        if self.hflip:
            x = random_hflip(x)
        return x


def random_crop(x: torch.Tensor, padding: int) -> torch.Tensor:
    """Each sample of ``x [B, ..., H, W]`` zero-padded by ``padding`` and cropped back to
    ``H × W`` at a random offset (the same offset for all its channels and frames)."""
    b, h, w = x.shape[0], x.shape[-2], x.shape[-1]
    flat = x.reshape(b, -1, h, w)
    padded = F.pad(flat, (padding, padding, padding, padding))
    offsets = sharded_batch.randint(0, 2 * padding + 1, (b, 2), device=x.device)
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # [B, H]
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # [B, W]
    batch = torch.arange(b, device=x.device)[:, None, None]
    crops = padded[batch, :, rows[:, :, None], cols[:, None, :]]  # [B, H, W, C']
    return crops.permute(0, 3, 1, 2).reshape(x.shape).contiguous()


def random_hflip(x: torch.Tensor) -> torch.Tensor:
    """Each sample of ``x [B, ..., W]`` flipped left–right with probability 1/2."""
    flip = sharded_batch.rand((x.shape[0],), device=x.device) < 0.5
    return torch.where(flip.view(-1, *[1] * (x.dim() - 1)), x.flip(-1), x)


def check_augment(augment: Augment, task_kind: str) -> None:
    """Refuse augmentation for a task whose targets would need the same transform."""
    if augment.active and task_kind != "classification":
        raise ValueError(
            f"data.augment moves the image but not the targets, so it is for classification "
            f"only; this data set's task is {task_kind} (set crop_padding: 0, hflip: false)"
        )
