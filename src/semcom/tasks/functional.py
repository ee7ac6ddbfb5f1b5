"""Task metrics as plain functions on one batch or a summed confusion matrix: the reference
definitions the streaming evaluators of :mod:`semcom.tasks` are tested against.

Classification: :func:`top1_accuracy`. Segmentation: :func:`pixel_accuracy` and :func:`mean_iou`,
per batch or from a summed :func:`segmentation_confusion`; :func:`majority_pixel_accuracy` is the
trivial baseline.
"""

from __future__ import annotations

import torch


def top1_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose highest logit is the label; ``logits [B, K]``, ``labels [B]``."""
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"expected logits [B, K] and labels [B], got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if len(labels) == 0:
        raise ValueError("top1_accuracy of an empty batch is undefined")
    return float((logits.argmax(1) == labels).float().mean())


def label_map(preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class indices ``[B, H, W]`` from labels of the target's shape or scores ``[B, K, H, W]``."""
    if preds.dim() == target.dim() + 1:
        preds = preds.argmax(1)
    if preds.shape != target.shape:
        raise ValueError(
            f"expected preds [B, H, W] (labels) or [B, K, H, W] (scores) for target [B, H, W], got "
            f"{tuple(preds.shape)} and {tuple(target.shape)}"
        )
    return preds.long()


def segmentation_confusion(
    preds: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = 255
) -> torch.Tensor:
    """Pixel confusion matrix ``[K, K]`` (int64; rows: true class, columns: predicted class).

    ``preds``: labels ``[B, H, W]`` or scores ``[B, K, H, W]`` (arg-maxed over ``K``); ``target``:
    labels ``[B, H, W]``, where ``ignore_index`` pixels are left out. Sum the matrices of several
    batches and pass the sum to :func:`pixel_accuracy` / :func:`mean_iou` for dataset-level
    scores. Same result as ``torchmetrics``' ``multiclass_confusion_matrix`` (tested), computed
    with one ``bincount`` so that importing torchmetrics (seconds) is not needed.
    """
    labels = label_map(preds, target).reshape(-1)
    truth = target.reshape(-1).long()
    if ignore_index is not None:
        keep = truth != ignore_index
        labels, truth = labels[keep], truth[keep]
    for name, t in (("target", truth), ("preds", labels)):
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes}) (and not ignore_index)")
    counts = torch.bincount(truth * num_classes + labels, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def _confusion(
    preds: torch.Tensor,
    target: torch.Tensor | None,
    num_classes: int | None,
    ignore_index: int | None,
) -> torch.Tensor:
    if target is None:
        if preds.dim() != 2 or preds.shape[0] != preds.shape[1]:
            raise ValueError(f"expected a [K, K] confusion matrix, got {tuple(preds.shape)}")
        return preds.double()
    if num_classes is None:
        raise ValueError("num_classes is required with preds and target")
    return segmentation_confusion(preds, target, num_classes, ignore_index).double()


def pixel_accuracy(
    preds: torch.Tensor,
    target: torch.Tensor | None = None,
    num_classes: int | None = None,
    ignore_index: int | None = 255,
) -> float:
    """Fraction of (non-ignored) pixels labelled correctly.

    Either ``pixel_accuracy(preds, target, num_classes)`` (see :func:`segmentation_confusion`
    for shapes) or ``pixel_accuracy(confusion)`` with a ``[K, K]`` matrix.

    >>> p = torch.tensor([[[0, 1], [1, 1]]]); t = torch.tensor([[[0, 1], [0, 255]]])
    >>> pixel_accuracy(p, t, num_classes=2)
    0.6666666666666666
    """
    cm = _confusion(preds, target, num_classes, ignore_index)
    total = float(cm.sum())
    if total == 0:
        raise ValueError("pixel_accuracy of no (non-ignored) pixels is undefined")
    return float(cm.diagonal().sum()) / total


def mean_iou(
    preds: torch.Tensor,
    target: torch.Tensor | None = None,
    num_classes: int | None = None,
    ignore_index: int | None = 255,
) -> float:
    """Mean over classes of ``|pred ∩ true| / |pred ∪ true|`` (pixels), mIoU.

    Classes absent from both predictions and targets are left out of the mean. Call as
    ``mean_iou(preds, target, num_classes)`` or ``mean_iou(confusion)`` (dataset-level mIoU from
    a summed ``[K, K]`` matrix, the usual benchmark definition).

    >>> p = torch.tensor([[[0, 1], [1, 1]]]); t = torch.tensor([[[0, 1], [0, 255]]])
    >>> mean_iou(p, t, num_classes=3)  # class 0: 1/2, class 1: 1/2, class 2 absent
    0.5
    """
    cm = _confusion(preds, target, num_classes, ignore_index)
    inter = cm.diagonal()
    union = cm.sum(0) + cm.sum(1) - inter
    present = union > 0
    if not bool(present.any()):
        raise ValueError("mean_iou of no (non-ignored) pixels is undefined")
    return float((inter[present] / union[present]).mean())


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
