"""Class weights of a segmentation loss from a training set's masks: median frequency balancing
(Eigen & Fergus 2015), the usual answer to CamVid's imbalance (road and sky cover most pixels,
poles and signs a few).

``freq(c)`` = pixels of class ``c`` ÷ pixels of the images in which ``c`` appears (unlabelled
pixels, the ignore value, counted nowhere); ``weight(c) = median(freq) / freq(c)``. A class that
never appears gets weight 1 (it has no pixels to weigh). The weights travel in the data set's
:class:`~semcom.data.info.TaskSpec` (``class_weights``), which the segmentation loss reads and a
stored model keeps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch

from semcom.data.info import TaskSpec

#: the choices of ``data.class_weights``.
CLASS_WEIGHTINGS = ("none", "median-frequency")


def _masks(dataset: Any) -> torch.Tensor:
    """The masks ``[N, H, W]`` of a segmentation or multi-task set (its ``masks``, or read item
    by item)."""
    base, index = dataset, None
    while hasattr(base, "dataset") and hasattr(base, "indices"):  # torch Subset chains
        index = (
            torch.as_tensor(base.indices) if index is None else torch.as_tensor(base.indices)[index]
        )
        base = base.dataset
    masks = getattr(base, "masks", None)
    if isinstance(masks, torch.Tensor):
        return masks if index is None else masks[index]
    out = []
    for i in range(len(dataset)):
        target = dataset[i][1]
        out.append(target["segmentation"] if isinstance(target, dict) else target)
    return torch.stack([torch.as_tensor(m) for m in out])


def median_frequency_weights(
    masks: torch.Tensor, num_classes: int, ignore_index: int | None
) -> tuple[float, ...]:
    """Median-frequency weights (module docstring) of ``num_classes`` classes from masks
    ``[N, H, W]``.

    >>> m = torch.tensor([[[0, 0, 0, 1]], [[0, 0, 2, 2]]])
    >>> [round(w, 3) for w in median_frequency_weights(m, 3, 255)]
    [0.8, 2.0, 1.0]
    """
    flat = masks.reshape(len(masks), -1).to(torch.int64)
    valid = (flat >= 0) & (flat < num_classes)
    if ignore_index is not None:
        valid &= flat != ignore_index
    counts = np.zeros((len(flat), num_classes), dtype=np.float64)
    for i in range(len(flat)):
        counts[i] = np.bincount(flat[i][valid[i]].numpy(), minlength=num_classes)[:num_classes]
    per_image = counts.sum(1, keepdims=True)
    present = counts > 0
    pixels = counts.sum(0)
    seen = (present * per_image).sum(0)
    freq = np.divide(pixels, seen, out=np.zeros(num_classes), where=seen > 0)
    if not (freq > 0).any():
        return (1.0,) * num_classes
    median = float(np.median(freq[freq > 0]))
    return tuple(float(median / f) if f > 0 else 1.0 for f in freq)


def weighted_spec(spec: TaskSpec, train_set: Any, weighting: str) -> TaskSpec:
    """``spec`` with the segmentation (sub-)task's ``class_weights`` set by ``weighting``
    (:data:`CLASS_WEIGHTINGS`) from ``train_set``'s masks; ``ValueError`` for a spec without a
    segmentation task."""
    if weighting not in CLASS_WEIGHTINGS:
        raise ValueError(f"must be one of {', '.join(CLASS_WEIGHTINGS)}, got {weighting!r}")
    if weighting == "none":
        return spec
    if spec.kind == "segmentation":
        masks = _masks(train_set)
        return replace(
            spec, class_weights=median_frequency_weights(masks, spec.num_classes, spec.ignore_index)
        )
    if spec.kind == "multitask" and any(s.kind == "segmentation" for s in spec.subtasks.values()):
        subtasks = dict(spec.subtasks)
        for name, sub in subtasks.items():
            if sub.kind == "segmentation":
                subtasks[name] = weighted_spec(sub, train_set, weighting)
        return replace(spec, subtasks=subtasks)
    raise ValueError(f"weighs segmentation classes; this data set's task is {spec.kind}")
