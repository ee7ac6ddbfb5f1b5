"""In-memory image classification sets: uint8 pixels in one tensor, float batches on demand."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset

from semcom.data.info import DatasetInfo


def check_uint8_images(images: object) -> Tensor:
    """``images`` unchanged if it is a uint8 tensor ``[N, C, H, W]`` (what every in-memory image
    set keeps), else a :class:`ValueError` saying what it got."""
    if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 4:
        raise ValueError(
            "images must be a uint8 tensor [N, C, H, W]; got "
            f"{getattr(images, 'dtype', type(images))} {tuple(getattr(images, 'shape', ()))}"
        )
    return images


class ImageTensorDataset(Dataset):
    """Images kept as uint8 ``[N, C, H, W]`` and labels int64 ``[N]``, all in memory.

    Items and batches are float32 in ``[0, 1]`` (pixel / 255), the project-wide image convention.
    Keeping uint8 makes the whole set 4× smaller than float and lets offloading baselines recover
    exact pixels (``round(x * 255)``).

    Args:
        images: uint8 tensor ``[N, C, H, W]``.
        labels: integer tensor ``[N]`` (stored as int64).
        info: optional facts about the set (classes, geometry).

    >>> ds = ImageTensorDataset(torch.full((3, 1, 2, 2), 255, dtype=torch.uint8), torch.arange(3))
    >>> x, y = ds[1]
    >>> x.shape, x.max().item(), y
    (torch.Size([1, 2, 2]), 1.0, 1)
    >>> xb, yb = ds.batch(torch.tensor([2, 0]))
    >>> xb.shape, yb.tolist()
    (torch.Size([2, 1, 2, 2]), [2, 0])
    """

    def __init__(self, images: Tensor, labels: Tensor, info: DatasetInfo | None = None) -> None:
        check_uint8_images(images)
        labels = torch.as_tensor(labels)
        if labels.dim() != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
            raise ValueError(
                f"labels must be an integer tensor [N]; got {labels.dtype} {tuple(labels.shape)}"
            )
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        self.images = images
        self.labels = labels.to(torch.int64)
        self.info = info

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, i: int) -> tuple[Tensor, int]:
        """Image ``i`` as float32 ``[C, H, W]`` in ``[0, 1]`` and its label as ``int``."""
        return self.images[i].to(torch.float32).div_(255.0), int(self.labels[i])

    def batch(self, index: Tensor | Sequence[int]) -> tuple[Tensor, Tensor]:
        """Images float32 ``[B, C, H, W]`` in ``[0, 1]`` and labels int64 ``[B]`` for ``index``.

        One gather and one conversion, no Python loop: the training loop's fast path.
        """
        index = torch.as_tensor(index, dtype=torch.int64)
        return self.images[index].to(torch.float32).div_(255.0), self.labels[index]

    @property
    def targets(self) -> Tensor:
        """The labels, int64 ``[N]`` (torchvision's attribute name)."""
        return self.labels

    def __repr__(self) -> str:
        name = self.info.name if self.info else "images"
        return f"ImageTensorDataset({name}, n={len(self)}, shape={tuple(self.images.shape[1:])})"


class FirstN(Subset):
    """The first ``n`` samples of any map-style data set (a :class:`~torch.utils.data.Subset`).

    Offers ``batch(index)`` like :class:`ImageTensorDataset`: it uses the underlying set's fast
    path when there is one, else stacks items.
    """

    def __init__(self, dataset: Dataset, n: int) -> None:
        super().__init__(dataset, range(n))
        self.n = n

    def batch(self, index: Tensor | Sequence[int]) -> tuple[Tensor, Tensor]:
        """Images ``[B, ...]`` and labels ``[B]`` for indices into the first ``n`` samples."""
        index = torch.as_tensor(index, dtype=torch.int64)
        if index.numel() and (int(index.max()) >= self.n or int(index.min()) < -self.n):
            raise IndexError(f"index out of range for the first {self.n} samples")
        index = torch.remainder(index, self.n)  # negative indices count from the end of the subset
        from semcom.data.batch import fetch_batch

        return tuple(fetch_batch(self.dataset, index))


def take_first(dataset: Any, n: int | None) -> Any:
    """The first ``n`` samples of ``dataset`` (all of it when ``n`` is ``None`` or ``>= len``).

    An :class:`ImageTensorDataset` gives an :class:`ImageTensorDataset` sharing the same memory
    (a view, no copy); any other data set gives a :class:`FirstN` subset.

    >>> ds = ImageTensorDataset(torch.zeros(5, 1, 2, 2, dtype=torch.uint8), torch.arange(5))
    >>> len(take_first(ds, 3)), take_first(ds, None) is ds, take_first(ds, 9) is ds
    (3, True, True)
    """
    if n is None or n >= len(dataset):
        return dataset
    if n < 0:
        raise ValueError(f"take_first: n must be >= 0, got {n}")
    if isinstance(dataset, ImageTensorDataset):
        return ImageTensorDataset(dataset.images[:n], dataset.labels[:n], dataset.info)
    return FirstN(dataset, n)


class Picked(Subset):
    """The samples ``indices`` of any map-style data set, in that order, with the ``batch(index)``
    fast path of the underlying set when it has one."""

    def __init__(self, dataset: Dataset, indices: Tensor) -> None:
        super().__init__(dataset, indices.tolist())
        self._index = indices.to(torch.int64)

    def batch(self, index: Tensor | Sequence[int]) -> tuple[Tensor, Tensor]:
        """Inputs ``[B, ...]`` and targets for positions ``index`` of this subset."""
        from semcom.data.batch import fetch_batch

        return tuple(fetch_batch(self.dataset, self._index[torch.as_tensor(index)]))


def split_off(dataset: Any, n: int, seed: int = 0) -> tuple[Any, Any]:
    """``(rest, held_out)``: ``n`` samples of ``dataset`` drawn without replacement by a
    permutation seeded with ``seed`` (held out, e.g. a validation split carved from a training
    set), and the others in their original order. The draw depends only on ``len(dataset)``,
    ``n`` and ``seed``.

    >>> ds = ImageTensorDataset(torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.arange(10))
    >>> rest, held = split_off(ds, 3)
    >>> len(rest), len(held), sorted(set(rest.labels.tolist()) | set(held.labels.tolist()))[-1]
    (7, 3, 9)
    """
    total = len(dataset)
    if not 0 < n < total:
        raise ValueError(f"cannot hold out {n} of {total} samples: give 0 < n < {total}")
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    held = order[:n].sort().values
    keep = torch.ones(total, dtype=torch.bool)
    keep[held] = False
    rest = torch.nonzero(keep).flatten()
    if isinstance(dataset, ImageTensorDataset):
        return (
            ImageTensorDataset(dataset.images[rest], dataset.labels[rest], dataset.info),
            ImageTensorDataset(dataset.images[held], dataset.labels[held], dataset.info),
        )
    return Picked(dataset, rest), Picked(dataset, held)
