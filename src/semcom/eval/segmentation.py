"""Segmentation scores with torchmetrics: pixel accuracy and mean IoU (mIoU).

Inputs are per-pixel class logits ``[B, K, H, W]`` (or predicted labels ``[B, H, W]``) and
integer masks ``[B, H, W]``; pixels whose mask equals ``ignore_index`` are left out.

* **pixel accuracy**: correctly labelled pixels / all (non-ignored) pixels, over the whole set
  (``MulticlassAccuracy(average="micro")``);
* **mIoU**: per class ``|pred ∩ true| / |pred ∪ true|`` over the whole set, averaged over the
  classes (``MulticlassJaccardIndex(average="macro")``); a class absent from both predictions and
  masks scores ``zero_division`` (0) in torchmetrics and is therefore *left out* here by
  averaging the per-class scores of the classes present instead.

:class:`SegmentationMeter` accumulates batches (data-set-level scores, the usual benchmark
definition); :func:`segmentation_scores` scores one batch. torchmetrics is imported on first use
(it takes seconds to import).
"""

from __future__ import annotations

from typing import Any

import torch


def _labels(preds: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Predicted labels ``[B, H, W]`` from logits ``[B, K, H, W]`` or labels of the masks' shape."""
    if preds.dim() == masks.dim() + 1:
        preds = preds.argmax(1)
    if preds.shape != masks.shape:
        raise ValueError(
            f"expected logits [B, K, H, W] or labels [B, H, W] for masks [B, H, W], got "
            f"{tuple(preds.shape)} and {tuple(masks.shape)}"
        )
    return preds.long()


class SegmentationMeter:
    """Running pixel accuracy and mIoU over batches (torchmetrics states, summed counts).

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
        from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self._accuracy = MulticlassAccuracy(
            num_classes, average="micro", multidim_average="global", ignore_index=ignore_index
        )
        self._iou = MulticlassJaccardIndex(num_classes, average="none", ignore_index=ignore_index)
        self._present = torch.zeros(num_classes, dtype=torch.bool)

    def update(self, preds: torch.Tensor, masks: torch.Tensor) -> None:
        """Add a batch: ``preds`` logits ``[B, K, H, W]`` or labels ``[B, H, W]``, ``masks``
        ``[B, H, W]`` (int)."""
        labels = _labels(preds.detach().cpu(), masks.cpu()).reshape(-1)
        truth = masks.detach().cpu().long().reshape(-1)
        if self.ignore_index is not None:
            keep = truth != self.ignore_index
            seen = torch.cat([labels[keep], truth[keep]])
        else:
            seen = torch.cat([labels, truth])
        if seen.numel():
            self._present |= (
                torch.bincount(seen, minlength=self.num_classes)[: self.num_classes] > 0
            )
        self._accuracy.update(labels, truth)
        self._iou.update(labels, truth)

    def compute(self) -> dict[str, float]:
        """``{"pixel_accuracy": ..., "miou": ...}`` over everything added so far."""
        if not bool(self._present.any()):
            raise ValueError("no (non-ignored) pixels were added; scores are undefined")
        per_class = self._iou.compute()
        return {
            "pixel_accuracy": float(self._accuracy.compute()),
            "miou": float(per_class[self._present].mean()),
        }

    def reset(self) -> None:
        """Forget every batch added."""
        self._accuracy.reset()
        self._iou.reset()
        self._present.zero_()


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
