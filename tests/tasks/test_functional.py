"""Metric functions: top-1, compression ratio and CBR conventions, segmentation scores."""

from __future__ import annotations

import pytest
import torch

from semcom.tasks.functional import (
    mean_iou,
    pixel_accuracy,
    segmentation_confusion,
    top1_accuracy,
)
from semcom.transports.ratios import channel_bandwidth_ratio, compression_ratio


def test_top1_accuracy() -> None:
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert top1_accuracy(logits, torch.tensor([1, 0, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="logits"):
        top1_accuracy(logits, torch.tensor([1, 0]))
    with pytest.raises(ValueError, match="empty"):
        top1_accuracy(torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))


def test_compression_ratio_is_float32_split_bits_over_payload_bits() -> None:
    assert compression_ratio(1000, 32000.0) == 1.0  # raw float32 tensor sent as is
    assert compression_ratio(128 * 8 * 8, 1024) == 256.0
    # offloading baseline: split = the input image; 8-bit pixels sent raw are 4x smaller
    assert compression_ratio(3 * 32 * 32, 8 * 3 * 32 * 32) == 4.0
    for bad in (0, 0.0, -8.0):
        with pytest.raises(ValueError, match="payload_bits"):
            compression_ratio(10, bad)
    with pytest.raises(ValueError, match="split_elements"):
        compression_ratio(0, 10.0)


def test_channel_bandwidth_ratio_is_symbols_per_source_element() -> None:
    assert channel_bandwidth_ratio(3 * 32 * 32, 3 * 32 * 32 // 12) == pytest.approx(1 / 12)
    # an analog link pairs reals into complex symbols: n reals -> n/2 uses -> CBR 1/2
    assert channel_bandwidth_ratio(100, 50) == 0.5
    with pytest.raises(ValueError):
        channel_bandwidth_ratio(0, 5)


def _random_segmentation(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(2, 4, 6, 5, generator=g)
    target = torch.randint(0, 4, (2, 6, 5), generator=g)
    target[0, 0, :3] = 255
    return scores, target


def test_confusion_counts_pixels_and_skips_ignored() -> None:
    preds = torch.tensor([[[0, 1], [1, 1]]])
    target = torch.tensor([[[0, 1], [0, 255]]])
    cm = segmentation_confusion(preds, target, 2)
    assert cm.tolist() == [[1, 1], [0, 1]]
    assert cm.dtype == torch.int64
    with pytest.raises(ValueError, match="outside"):
        segmentation_confusion(preds, target, 2, ignore_index=None)  # 255 is then a label
    with pytest.raises(ValueError, match="preds"):
        segmentation_confusion(preds[0], target, 2)


def test_pixel_accuracy_and_miou_by_hand() -> None:
    scores, target = _random_segmentation()
    labels = scores.argmax(1)
    valid = target != 255
    expected_acc = float((labels[valid] == target[valid]).double().mean())
    assert pixel_accuracy(scores, target, 4) == pytest.approx(expected_acc)
    assert pixel_accuracy(labels, target, 4) == pytest.approx(expected_acc)
    ious = []
    for c in range(4):
        inter = ((labels == c) & (target == c) & valid).sum().item()
        union = (((labels == c) | (target == c)) & valid).sum().item()
        if union:
            ious.append(inter / union)
    assert mean_iou(scores, target, 4) == pytest.approx(sum(ious) / len(ious))


def test_dataset_level_scores_from_summed_confusion() -> None:
    batches = [_random_segmentation(seed) for seed in range(3)]
    cm = sum(segmentation_confusion(s, t, 4) for s, t in batches)
    scores = torch.cat([s for s, _ in batches])
    target = torch.cat([t for _, t in batches])
    assert mean_iou(cm) == pytest.approx(mean_iou(scores, target, 4))
    assert pixel_accuracy(cm) == pytest.approx(pixel_accuracy(scores, target, 4))
    with pytest.raises(ValueError, match="num_classes"):
        mean_iou(scores, target)
    with pytest.raises(ValueError, match="undefined"):
        mean_iou(torch.zeros(3, 3, dtype=torch.long))


def test_absent_classes_are_left_out_of_miou() -> None:
    target = torch.zeros(1, 2, 2, dtype=torch.long)
    assert mean_iou(target.clone(), target, num_classes=21) == 1.0


@pytest.mark.slow  # importing torchmetrics takes several seconds
def test_confusion_matches_torchmetrics() -> None:
    from torchmetrics.functional.classification import multiclass_confusion_matrix

    scores, target = _random_segmentation(5)
    ours = segmentation_confusion(scores, target, 4)
    theirs = multiclass_confusion_matrix(
        scores.argmax(1).reshape(-1), target.reshape(-1), 4, ignore_index=255
    )
    assert torch.equal(ours, theirs.long())
