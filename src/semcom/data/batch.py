"""Batches of any task: inputs of any rank and targets that are tensors, lists or dicts.

A sample is ``(input, target)``: the input a float tensor (``[C, H, W]`` image or ``[C, T, H, W]``
clip, in ``[0, 1]``), the target one of

* a label (``int`` or a 0-d tensor) → a batch of labels int64 ``[B]``;
* a tensor of a fixed shape (a mask ``[H, W]``) → stacked ``[B, H, W]``;
* a detection target, a dict with ``boxes`` (``{"boxes": [n, 4], "labels": [n]}``), or any dict
  of tensors whose sizes differ between samples → a list of ``B`` such dicts (torchvision's
  detection convention: always a list, even when every image has as many boxes);
* a dict of tensors of fixed sizes → a dict of stacked tensors;
* a dict of named sub-targets (multi-task: ``{"detection": {...}, "segmentation": mask}``) → a
  dict of the collated sub-targets.

:func:`collate` applies these rules, :func:`fetch_batch` gets a :class:`Batch` by indices (the
data set's own ``batch(index)`` fast path when it has one) and :func:`move_to` moves any of these
structures to a device.

>>> b = collate([(torch.zeros(1, 2, 2), 3), (torch.ones(1, 2, 2), 1)])
>>> b.inputs.shape, b.targets.tolist()
(torch.Size([2, 1, 2, 2]), [3, 1])
>>> def det(n): return {"boxes": torch.zeros(n, 4), "labels": torch.zeros(n, dtype=torch.int64)}
>>> boxes = [det(1), det(2)]
>>> t = collate_targets(boxes)
>>> type(t).__name__, len(t), tuple(t[1]["boxes"].shape)
('list', 2, (2, 4))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, TypeAlias

import torch
from torch import Tensor
from torch.utils.data import Dataset

#: A collated target: labels or masks, per-sample dicts (detection), or named sub-targets.
Targets: TypeAlias = Any


class Batch(NamedTuple):
    """Inputs ``[B, ...]`` float32 in ``[0, 1]`` and their collated targets (see the module
    docstring); unpacks as ``x, y = batch``."""

    inputs: Tensor
    targets: Targets


def _is_leaf_dict(value: Any) -> bool:
    return isinstance(value, Mapping) and all(isinstance(v, Tensor) for v in value.values())


def collate_targets(targets: Sequence[Any]) -> Targets:
    """Collate the targets of ``B`` samples (rules in the module docstring)."""
    if not targets:
        raise ValueError("cannot collate an empty batch")
    first = targets[0]
    if isinstance(first, (bool, int)) or (isinstance(first, Tensor) and first.dim() == 0):
        return torch.as_tensor([int(t) for t in targets], dtype=torch.int64)
    if isinstance(first, Tensor):
        if all(isinstance(t, Tensor) and t.shape == first.shape for t in targets):
            return torch.stack(list(targets))
        return list(targets)
    if isinstance(first, Mapping):
        keys = list(first)
        if any(not isinstance(t, Mapping) or list(t) != keys for t in targets):
            raise ValueError(f"samples' target dicts have different keys (first: {keys})")
        if _is_leaf_dict(first):
            same = all(t[k].shape == first[k].shape for t in targets for k in keys)
            if "boxes" in first or not same:  # detection targets and ragged ones stay per sample
                return [dict(t) for t in targets]
            return {k: torch.stack([t[k] for t in targets]) for k in keys}
        return {k: collate_targets([t[k] for t in targets]) for k in keys}
    raise TypeError(f"cannot collate targets of type {type(first).__name__}")


def collate(samples: Sequence[tuple[Tensor, Any]]) -> Batch:
    """A :class:`Batch` of ``(input, target)`` samples: inputs stacked, targets by
    :func:`collate_targets`."""
    if not samples:
        raise ValueError("cannot collate an empty batch")
    return Batch(torch.stack([x for x, _ in samples]), collate_targets([y for _, y in samples]))


def fetch_batch(dataset: Dataset, index: Tensor | Sequence[int]) -> Batch:
    """The samples ``index`` of ``dataset`` as a :class:`Batch`: inputs float ``[B, ...]`` in
    ``[0, 1]`` and collated targets.

    Uses the in-memory fast path (``dataset.batch(index)``) when the data set offers one.
    """
    fast = getattr(dataset, "batch", None)
    if callable(fast):
        x, y = fast(index)
        return Batch(x, y)
    return collate([dataset[int(i)] for i in index])


def move_to(value: Any, device: torch.device | str | None) -> Any:
    """``value`` (a tensor, or lists / tuples / dicts of them) on ``device`` (``None``: as is)."""
    if device is None:
        return value
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, Mapping):
        return {k: move_to(v, device) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple such as Batch
        return type(value)(*(move_to(v, device) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(move_to(v, device) for v in value)
    return value


def batch_size(targets: Targets) -> int:
    """Number of samples of collated ``targets``."""
    if isinstance(targets, Tensor) or isinstance(targets, list):
        return len(targets)
    if isinstance(targets, Mapping):
        return batch_size(next(iter(targets.values())))
    raise TypeError(f"not collated targets: {type(targets).__name__}")
