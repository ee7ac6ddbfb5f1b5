"""A few lines on what a loaded classification set holds (`semcom data NAME` prints them)."""

from __future__ import annotations

from typing import Any

import torch

from semcom.data.info import DatasetInfo


def class_counts(labels: torch.Tensor, num_classes: int) -> list[int]:
    """Samples per class, index = label.

    >>> class_counts(torch.tensor([0, 2, 2]), 3)
    [1, 0, 2]
    """
    return torch.bincount(labels.to(torch.int64), minlength=num_classes).tolist()


def describe_dataset(train: Any, test: Any, info: DatasetInfo, max_classes: int = 20) -> str:
    """``info``'s name, classes and input shape, and each split's size and per-class counts.

    Splits with integer ``labels`` (:class:`~semcom.data.tensor_dataset.ImageTensorDataset`)
    get per-class counts; with more than ``max_classes`` classes only the smallest and largest
    count are given.

    >>> from semcom.data.synthetic import synthetic_datasets
    >>> print(describe_dataset(*synthetic_datasets(20, 10), max_classes=3))
    synthetic: 10 classes, inputs 1×28×28 (C×H×W)
      train: 20 samples (2 to 2 per class)
      test: 10 samples (1 to 1 per class)
      classes: horizontal bar, vertical bar, diagonal, ... (10)
    """
    shape = "×".join(str(s) for s in info.input_shape)
    plural = "" if info.num_classes == 1 else "es"
    lines = [f"{info.name}: {info.num_classes} class{plural}, inputs {shape} (C×H×W)"]
    for split, dataset in (("train", train), ("test", test)):
        line = f"  {split}: {len(dataset)} samples"
        labels = getattr(dataset, "labels", None)
        if isinstance(labels, torch.Tensor) and labels.dim() == 1 and info.num_classes:
            counts = class_counts(labels, info.num_classes)
            if info.num_classes <= max_classes:
                per_class = ", ".join(
                    f"{name} {n}" for name, n in zip(info.classes, counts, strict=True)
                )
                line += f" ({per_class})"
            else:
                line += f" ({min(counts)} to {max(counts)} per class)"
        lines.append(line)
    if info.num_classes > max_classes:
        shown = ", ".join(info.classes[:max_classes])
        lines.append(f"  classes: {shown}, ... ({info.num_classes})")
    return "\n".join(lines)
