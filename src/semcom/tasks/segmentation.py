"""Semantic segmentation: per-pixel logits ``[B, K, H, W]`` against masks ``[B, H, W]``.

Metrics over the whole set (the usual benchmark definitions, tested equal to torchmetrics'
confusion matrix): ``miou`` — mean over classes of ``|pred ∩ true| / |pred ∪ true|`` (classes
absent from both predictions and masks are left out) and ``pixel_accuracy`` — labelled pixels
right over labelled pixels. Pixels whose mask is the spec's ``ignore_index`` (255) count nowhere.
The per-sample score is the sample's own pixel accuracy (a sample without labelled pixels scores
0); a record's ``accuracy`` is the mean of those, which differs from ``pixel_accuracy`` when
samples have different numbers of labelled pixels.

The evaluator keeps per sample, per class, the pixels predicted, the pixels labelled and their
intersection, so a late or undelivered sample (an empty prediction: every pixel wrong, nothing
predicted) is removed from any subset without running the model again.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from semcom.data.info import TaskSpec
from semcom.tasks.base import Evaluator, Metrics, Task, TaskError, masked_rows
from semcom.tasks.functional import label_map


def _labels(output: Any, targets: Any) -> torch.Tensor:
    """Predicted labels ``[B, H, W]`` from logits ``[B, K, H, W]`` (or labels shaped as the
    masks)."""
    if not isinstance(output, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TaskError("segmentation expects logits [B, K, H, W] and masks [B, H, W] tensors")
    try:
        return label_map(output, targets)
    except ValueError as exc:
        raise TaskError(f"segmentation: {exc}") from None


def per_sample_counts(
    preds: torch.Tensor, masks: torch.Tensor, num_classes: int, ignore_index: int | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per sample and class ``[B, K]`` (int64): pixels right (intersection), pixels predicted and
    pixels labelled, over the labelled pixels of labels ``preds`` and ``masks`` ``[B, H, W]``."""
    b = len(masks)
    k = num_classes
    truth = masks.reshape(b, -1).long()
    pred = preds.reshape(b, -1).long()
    keep = (
        truth != ignore_index
        if ignore_index is not None
        else torch.ones_like(truth, dtype=torch.bool)
    )
    rows = torch.arange(b, device=truth.device)[:, None].expand_as(truth)
    t, p, r = truth[keep], pred[keep], rows[keep]
    for name, v in (("masks", t), ("predictions", p)):
        if v.numel() and (int(v.min()) < 0 or int(v.max()) >= k):
            raise TaskError(f"{name} have labels outside [0, {k}) (and not the ignore index)")

    def count(index: torch.Tensor) -> torch.Tensor:
        return torch.bincount(index, minlength=b * k).reshape(b, k)

    return count(r[t == p] * k + t[t == p]), count(r * k + p), count(r * k + t)


class SegmentationEvaluator(Evaluator):
    """``miou`` and ``pixel_accuracy`` over the set; per-sample pixel accuracy as the score.

    >>> ev = SegmentationEvaluator(3)
    >>> logits = torch.zeros(1, 3, 2, 2); logits[0, 1] = 1.0  # predicts class 1 everywhere
    >>> ev.update(logits, torch.tensor([[[1, 1], [0, 2]]]))
    >>> {k: round(v, 4) for k, v in ev.compute().items()}
    {'miou': 0.1667, 'pixel_accuracy': 0.5}
    """

    def __init__(self, num_classes: int, ignore_index: int | None = 255) -> None:
        if num_classes < 2:
            raise TaskError(f"segmentation needs num_classes >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        super().__init__()

    def reset(self) -> None:
        self._inter: list[torch.Tensor] = []
        self._pred: list[torch.Tensor] = []
        self._true: list[torch.Tensor] = []

    def update(self, output: Any, targets: Any, delivered: torch.Tensor | None = None) -> None:
        labels = _labels(output.detach(), targets)
        inter, pred, true = per_sample_counts(
            labels.cpu(), targets.detach().cpu(), self.num_classes, self.ignore_index
        )
        if delivered is not None:  # an undelivered sample predicts nothing: every pixel wrong
            inter, pred = masked_rows(inter, delivered.cpu()), masked_rows(pred, delivered.cpu())
        self._inter.append(inter)
        self._pred.append(pred)
        self._true.append(true)

    @property
    def count(self) -> int:
        return sum(len(t) for t in self._true)

    def _stacked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        k = self.num_classes
        empty = torch.zeros(0, k, dtype=torch.int64)
        return tuple(torch.cat(v) if v else empty for v in (self._inter, self._pred, self._true))  # type: ignore[return-value]

    def subset(self, index: torch.Tensor) -> SegmentationEvaluator:
        out = SegmentationEvaluator(self.num_classes, self.ignore_index)
        inter, pred, true = self._stacked()
        out._inter, out._pred, out._true = [inter[index]], [pred[index]], [true[index]]
        return out

    def sample_scores(self) -> torch.Tensor:
        inter, _, true = self._stacked()
        labelled = true.sum(1)
        right = inter.sum(1).float() / labelled.clamp_min(1).float()
        return torch.where(labelled > 0, right, torch.zeros_like(right))

    def compute(self, on_time: torch.Tensor | None = None) -> Metrics:
        inter, pred, true = self._stacked()
        if on_time is not None:
            inter, pred = masked_rows(inter, on_time.cpu()), masked_rows(pred, on_time.cpu())
        inter_c, pred_c, true_c = (v.sum(0).double() for v in (inter, pred, true))
        total = float(true_c.sum())
        if total == 0:
            return {"miou": None, "pixel_accuracy": None}
        union = pred_c + true_c - inter_c
        present = union > 0
        return {
            "miou": float((inter_c[present] / union[present]).mean()),
            "pixel_accuracy": float(inter_c.sum()) / total,
        }


class SegmentationTask(Task):
    """Per-pixel cross-entropy (ignore index left out); ``miou`` first; the answer is the mask."""

    kind = "segmentation"
    primary_metric = "miou"
    metric_names = ("miou", "pixel_accuracy")

    def __init__(self, spec: TaskSpec) -> None:
        super().__init__(spec)
        self.ignore_index = spec.ignore_index

    @property
    def metric_label(self) -> str:
        return "mIoU"

    def loss(self, output: Any, targets: Any, weights: Mapping[str, float] | None = None) -> Any:
        ignore = self.ignore_index if self.ignore_index is not None else -100
        targets = targets.long()
        if not bool((targets != ignore).any()):
            # every pixel unlabelled (e.g. a batch of detection-only images): no term, not NaN
            return output.sum() * 0.0
        weight = None
        if self.spec.class_weights:
            weight = output.new_tensor(self.spec.class_weights)
        return F.cross_entropy(output, targets, weight=weight, ignore_index=ignore)

    def evaluator(self) -> SegmentationEvaluator:
        return SegmentationEvaluator(self.num_classes, self.ignore_index)

    def answer(self, output: Any) -> dict[str, Any]:
        """The predicted mask as an 8-bit PNG (class index per pixel), base64."""
        from PIL import Image

        labels = output.reshape(output.shape[-3:]).argmax(0).to(torch.uint8).cpu().numpy()
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(labels), mode="L").save(buf, format="PNG")
        return {
            "mask_png": base64.b64encode(buf.getvalue()).decode("ascii"),
            "height": int(labels.shape[0]),
            "width": int(labels.shape[1]),
            "classes": list(self.spec.classes) or [f"class_{i}" for i in range(self.num_classes)],
        }

    def output_schema(self) -> dict[str, Any]:
        return {
            "mask_png": "base64 of a greyscale PNG: the class index of every pixel",
            "height": "int",
            "width": "int",
            "classes": f"list of {self.num_classes} class names (index = pixel value)",
        }
