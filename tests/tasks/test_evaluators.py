"""The streaming evaluators against the reference metric functions and torchmetrics, and the
meaning of delivery and deadline masks (an empty prediction)."""

from __future__ import annotations

import pytest
import torch

from semcom.data import TaskSpec
from semcom.tasks import (
    ClassificationEvaluator,
    DetectionEvaluator,
    SegmentationEvaluator,
    TaskError,
    build_task,
    check_fits,
)
from semcom.tasks.functional import mean_iou, pixel_accuracy


def test_segmentation_evaluator_agrees_with_the_confusion_matrix_definitions() -> None:
    g = torch.Generator().manual_seed(0)
    masks = torch.randint(0, 4, (3, 8, 8), generator=g)
    masks[0, 0, :4] = 255
    logits = torch.randn(3, 4, 8, 8, generator=g)
    ev = SegmentationEvaluator(4)
    ev.update(logits[:2], masks[:2])
    ev.update(logits[2:], masks[2:])
    scores = ev.compute()
    assert scores["pixel_accuracy"] == pytest.approx(pixel_accuracy(logits, masks, 4), abs=1e-12)
    assert scores["miou"] == pytest.approx(mean_iou(logits, masks, 4), abs=1e-12)
    per_sample = ev.sample_scores()
    labelled = masks != 255
    want = ((logits.argmax(1) == masks) & labelled).flatten(1).sum(1) / labelled.flatten(1).sum(1)
    torch.testing.assert_close(per_sample, want.float())


def test_segmentation_agrees_with_torchmetrics_miou() -> None:
    from torchmetrics.classification import MulticlassJaccardIndex

    g = torch.Generator().manual_seed(1)
    masks = torch.randint(0, 5, (4, 16, 16), generator=g)
    logits = torch.randn(4, 5, 16, 16, generator=g)
    ev = SegmentationEvaluator(5)
    ev.update(logits, masks)
    ref = MulticlassJaccardIndex(num_classes=5, average="macro")(logits.argmax(1), masks)
    assert ev.compute()["miou"] == pytest.approx(float(ref), abs=1e-6)


def test_late_and_undelivered_segmentation_samples_are_every_pixel_wrong() -> None:
    masks = torch.ones(2, 4, 4, dtype=torch.int64)
    logits = torch.zeros(2, 2, 4, 4)
    logits[:, 1] = 1.0  # right everywhere
    ev = SegmentationEvaluator(2)
    ev.update(logits, masks)
    assert ev.compute() == {"miou": 1.0, "pixel_accuracy": 1.0}
    late = ev.compute(on_time=torch.tensor([True, False]))
    assert late["pixel_accuracy"] == 0.5 and late["miou"] == 0.5  # class 1: 16 / 32
    lost = SegmentationEvaluator(2)
    lost.update(logits, masks, delivered=torch.tensor([False, True]))
    assert lost.compute() == late and lost.sample_scores().tolist() == [0.0, 1.0]


def test_classification_scores_and_masks() -> None:
    ev = ClassificationEvaluator()
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    ev.update(logits, torch.tensor([0, 1, 1]), delivered=torch.tensor([True, False, True]))
    assert ev.sample_scores().tolist() == [True, False, False]
    assert ev.compute()["accuracy"] == pytest.approx(1 / 3)
    assert ev.compute(on_time=torch.tensor([False, True, True]))["accuracy"] == 0.0
    with pytest.raises(TaskError, match=r"logits \[B, K\]"):
        ev.update(torch.zeros(3), torch.zeros(3))


def test_detection_map_from_torchmetrics_and_empty_predictions() -> None:
    box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    far = torch.tensor([[20.0, 20.0, 30.0, 30.0]])
    pred = {"boxes": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}
    miss = {"boxes": far, "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}
    truth = {"boxes": box, "labels": torch.tensor([0])}
    ev = DetectionEvaluator()
    ev.update([pred, miss], [truth, truth])
    both = ev.compute()
    assert both["map_50"] == pytest.approx(0.5, abs=0.02)
    assert ev.compute(on_time=torch.tensor([True, False]))["map_50"] == pytest.approx(0.5, abs=0.02)
    assert ev.compute(on_time=torch.tensor([False, False]))["map_50"] == 0.0
    lost = DetectionEvaluator()
    lost.update([pred, pred], [truth, truth], delivered=torch.tensor([True, False]))
    assert lost.compute()["map_50"] == pytest.approx(0.5, abs=0.02)
    assert ev.sample_scores() is None


def test_multitask_metrics_by_name_and_the_mean_of_primaries() -> None:
    spec = TaskSpec(
        "multitask",
        subtasks={"cls": TaskSpec("classification", 2), "seg": TaskSpec("segmentation", 2)},
    )
    task = build_task(spec)
    ev = task.evaluator()
    masks = torch.ones(2, 2, 2, dtype=torch.int64)
    seg = torch.zeros(2, 2, 2, 2)
    seg[:, 1] = 1.0
    ev.update({"cls": torch.tensor([[1.0, 0.0], [1.0, 0.0]]), "seg": seg},
              {"cls": torch.tensor([0, 1]), "seg": masks})  # fmt: skip
    m = ev.compute()
    assert m["accuracy"] == 0.5 and m["miou"] == 1.0 and m["multitask_mean"] == 0.75
    assert task.primary_metric == "multitask_mean"
    outputs = {"cls": torch.zeros(2, 2), "seg": seg}
    loss = task.loss(outputs, {"cls": torch.tensor([0, 1]), "seg": masks}, {"seg": 0.0})
    assert float(loss) == pytest.approx(float(torch.log(torch.tensor(2.0))))


def test_a_task_that_does_not_fit_the_data_names_both() -> None:
    task = build_task("classification", 10)
    check_fits(task, TaskSpec("classification", 10), "aecnn", "cifar10")
    with pytest.raises(
        TaskError, match=r"system 'aecnn' does classification.*'camvid'.*segmentation"
    ):
        check_fits(task, TaskSpec("segmentation", 12), "aecnn", "camvid")
    with pytest.raises(TaskError, match="10 classes != 100"):
        check_fits(task, TaskSpec("classification", 100), "aecnn", "cifar100")
