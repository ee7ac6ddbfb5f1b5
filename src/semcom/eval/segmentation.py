"""Data-set-level segmentation scores: pixel accuracy and mean IoU (mIoU), over batches.

Inputs are per-pixel class logits ``[B, K, H, W]`` (or predicted labels ``[B, H, W]``) and
integer masks ``[B, H, W]``; pixels whose mask equals ``ignore_index`` are left out. The
definitions are :func:`semcom.eval.metrics.pixel_accuracy` and :func:`~semcom.eval.metrics.mean_iou`
(classes absent from both predictions and masks are left out of the mean; tested equal to
torchmetrics' confusion matrix). :class:`SegmentationMeter` sums one confusion matrix over the
batches (the usual benchmark definition); :func:`segmentation_scores` scores one batch.
"""

from __future__ import annotations

from typing import Any

import torch

from semcom.eval.metrics import mean_iou, pixel_accuracy, segmentation_confusion


class SegmentationMeter:
    """Running pixel accuracy and mIoU over batches (a summed ``[K, K]`` confusion matrix).

    Args:
        num_classes: ``K`` (background included).
        ignore_index: mask value left out of both scores (``None``: none).

    >>> meter = SegmentationMeter(3)
    >>> logits = torch.zeros(1, 3, 2, 2); logits[0, 1] = 1.0  # predicts class 1 everywhere
    >>> meter.update(logits, torch.tensor([[[1, 1], [0, 2]]]))
    >>> {k: round(v, 4) for k, v in meter.compute().items()}
    {'pixel_accuracy': 0.5, 'miou': 0.1667}
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self._confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)

    def update(self, preds: torch.Tensor, masks: torch.Tensor) -> None:
        """Add a batch: ``preds`` logits ``[B, K, H, W]`` or labels ``[B, H, W]``, ``masks``
        ``[B, H, W]`` (int)."""
        self._confusion += segmentation_confusion(
            preds.detach().cpu(), masks.detach().cpu(), self.num_classes, self.ignore_index
        )

    def compute(self) -> dict[str, float]:
        """``{"pixel_accuracy": ..., "miou": ...}`` over everything added so far."""
        if int(self._confusion.sum()) == 0:
            raise ValueError("no (non-ignored) pixels were added; scores are undefined")
        return {
            "pixel_accuracy": pixel_accuracy(self._confusion),
            "miou": mean_iou(self._confusion),
        }

    def reset(self) -> None:
        """Forget every batch added."""
        self._confusion.zero_()


def segmentation_scores(
    preds: torch.Tensor, masks: torch.Tensor, num_classes: int, ignore_index: int | None = 255
) -> dict[str, Any]:
    """Pixel accuracy and mIoU of one batch (see the module docstring for the definitions).

    >>> masks = torch.tensor([[[0, 1], [1, 1]]])
    >>> segmentation_scores(masks.clone(), masks, num_classes=2)
    {'pixel_accuracy': 1.0, 'miou': 1.0}
    """
    meter = SegmentationMeter(num_classes, ignore_index)
    meter.update(preds, masks)
    return meter.compute()


def majority_pixel_accuracy(masks: torch.Tensor, ignore_index: int | None = 255) -> float:
    """Pixel accuracy of always predicting the most frequent class of ``masks`` ``[B, H, W]``
    (the trivial baseline a segmenter must beat).

    >>> majority_pixel_accuracy(torch.tensor([[[0, 0], [0, 3]]]))
    0.75
    """
    truth = masks.reshape(-1).long()
    if ignore_index is not None:
        truth = truth[truth != ignore_index]
    if truth.numel() == 0:
        raise ValueError("no (non-ignored) pixels")
    return float(torch.bincount(truth).max()) / truth.numel()
