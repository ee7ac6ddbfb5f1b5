"""Multi-task sets: the in-memory dataset, ``synthetic-multitask``, and a batch through the
multi-task task's loss and evaluator (perfect predictions score 1.0, missing labels are left
out, difficult objects are neither required nor penalised)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom.data import (
    IGNORE_INDEX,
    MultiTaskTensorDataset,
    TaskSpec,
    build_dataset,
    collate,
    fetch_batch,
    split_off,
    synthetic_multitask_datasets,
    take_first,
)
from semcom.data.multitask import MultiTaskArrays, make_multitask_images, multitask_info
from semcom.tasks import build_task


def _perfect(targets: dict, num_classes: int) -> dict:
    """The output a perfect multi-task system gives for ``targets``."""
    masks = targets["segmentation"]
    logits = torch.nn.functional.one_hot(masks.clamp_max(num_classes - 1), num_classes)
    detections = [
        {"boxes": t["boxes"], "scores": torch.ones(len(t["labels"])), "labels": t["labels"]}
        for t in targets["detection"]
    ]
    return {"detection": detections, "segmentation": logits.permute(0, 3, 1, 2).float()}


def test_synthetic_defaults_shapes_and_determinism() -> None:
    train, test, info = build_dataset("synthetic-multitask")
    assert (len(train), len(test)) == (2000, 400)
    assert train.images.shape == (2000, 3, 64, 64) and train.images.dtype == torch.uint8
    assert info.task.kind == "multitask"
    assert list(info.task.subtasks) == ["detection", "segmentation"]
    assert info.task.subtasks["detection"].num_classes == 5
    assert info.task.subtasks["segmentation"].num_classes == 6 == info.num_classes
    counts = train.box_counts()
    assert len(counts) == 5 and min(counts) > 500  # every class well represented
    assert all(bool(t["has_boxes"]) and len(t["labels"]) for t in test.detections)
    a, b = make_multitask_images(40, seed=0), make_multitask_images(40, seed=0)
    assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in a.names())
    assert not np.array_equal(a.images, make_multitask_images(40, seed=1).images)
    assert not torch.equal(train.images[:400], test.images)


def test_synthetic_boxes_are_tight_around_visible_mask_pixels() -> None:
    arrays = make_multitask_images(64, seed=3)
    offsets = np.concatenate([[0], np.cumsum(arrays.counts)])
    checked = 0
    for i in range(64):
        for box, label in zip(
            arrays.boxes[offsets[i] : offsets[i + 1]],
            arrays.labels[offsets[i] : offsets[i + 1]],
            strict=True,
        ):
            x1, y1, x2, y2 = (int(v) for v in box)
            inside = arrays.masks[i, y1:y2, x1:x2] == label + 1
            # the shape's pixels touch all four sides of its box
            assert inside[0].any() and inside[-1].any()
            assert inside[:, 0].any() and inside[:, -1].any()
            checked += 1
        assert arrays.counts[i] >= 1 or (arrays.masks[i] == 0).mean() > 0.5
    assert checked > 100


def test_items_collate_to_what_batch_gives() -> None:
    train, _, _ = synthetic_multitask_datasets(12, 4)
    index = [5, 0, 7]
    x, y = train.batch(index)
    xc, yc = collate([train[i] for i in index])
    assert torch.equal(x, xc) and torch.equal(y["segmentation"], yc["segmentation"])
    assert isinstance(yc["detection"], list) and len(yc["detection"]) == 3
    for a, b in zip(y["detection"], yc["detection"], strict=True):
        assert sorted(a) == sorted(b) == ["boxes", "difficult", "has_boxes", "labels"]
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert x.dtype == torch.float32 and float(x.max()) <= 1.0
    assert y["segmentation"].dtype == torch.int64


def test_subsets_keep_the_fast_path() -> None:
    train, _, _ = synthetic_multitask_datasets(20, 4)
    first = take_first(train, 6)
    rest, held = split_off(train, 5, seed=1)
    for subset in (first, held):
        x, y = fetch_batch(subset, torch.tensor([0, 1]))
        assert x.shape == (2, 3, 64, 64) and len(y["detection"]) == 2
    assert len(rest) == 15


def _arrays_with_missing_labels() -> MultiTaskArrays:
    """Three 8×8 images: both labels; a mask only (no detection labels); boxes only (no mask),
    one of them difficult."""
    masks = np.zeros((3, 8, 8), dtype=np.uint8)
    masks[0, 2:6, 2:6] = 1
    masks[0, 0, :] = IGNORE_INDEX
    masks[1, 4:8, 0:3] = 2
    masks[2] = IGNORE_INDEX
    return MultiTaskArrays(
        images=np.zeros((3, 3, 8, 8), dtype=np.uint8),
        masks=masks,
        boxes=np.array([[2, 2, 6, 6], [1, 1, 4, 4], [5, 5, 8, 8]], dtype=np.float32),
        labels=np.array([0, 1, 0], dtype=np.int64),
        difficult=np.array([False, False, True]),
        counts=np.array([1, 0, 2], dtype=np.int64),
        has_boxes=np.array([True, False, True]),
    )


def test_a_batch_goes_through_the_multitask_loss_and_evaluator() -> None:
    info = multitask_info("toy", (3, 8, 8), ("background", "a", "b"), ("a", "b"))
    arrays = _arrays_with_missing_labels()
    arrays.check("toy", 3, 2)
    dataset = arrays.dataset(info)
    task = build_task(info.task)
    x, targets = dataset.batch([0, 1, 2])
    assert [bool(t["has_boxes"]) for t in targets["detection"]] == [True, False, True]
    assert targets["detection"][2]["difficult"].tolist() == [False, True]
    assert bool((targets["segmentation"][2] == IGNORE_INDEX).all())

    perfect = _perfect(targets, 3)
    evaluator = task.evaluator()
    evaluator.update(perfect, targets)
    metrics = evaluator.compute()
    assert metrics["miou"] == pytest.approx(1.0) and metrics["pixel_accuracy"] == 1.0
    assert metrics["map"] == pytest.approx(1.0) and metrics["map_50"] == pytest.approx(1.0)
    assert metrics["multitask_mean"] == pytest.approx(1.0)

    # a missed difficult object costs nothing; boxes on the unlabelled image count nowhere
    loose = _perfect(targets, 3)
    kept = loose["detection"][2]
    loose["detection"][2] = {k: v[:1] for k, v in kept.items()}
    loose["detection"][1] = {
        "boxes": torch.tensor([[0.0, 0.0, 3.0, 3.0]]),
        "scores": torch.tensor([0.99]),
        "labels": torch.tensor([1]),
    }
    evaluator.reset()
    evaluator.update(loose, targets)
    assert evaluator.compute()["map_50"] == pytest.approx(1.0)
    # ... while a missed ordinary object does
    loose["detection"][0] = {k: v[:0] for k, v in loose["detection"][0].items()}
    evaluator.reset()
    evaluator.update(loose, targets)
    assert evaluator.compute()["map_50"] < 0.9

    # the loss: per-sub-task terms, the detection system's own loss terms summed
    output = {"detection": {"cls": torch.tensor(0.5)}, "segmentation": perfect["segmentation"]}
    loss = task.loss(output, targets, {"detection": 2.0})
    seg = torch.nn.functional.cross_entropy(
        perfect["segmentation"], targets["segmentation"], ignore_index=IGNORE_INDEX
    )
    assert float(loss) == pytest.approx(1.0 + float(seg))


def test_synthetic_batch_scores_perfectly() -> None:
    _, test, info = synthetic_multitask_datasets(4, 16)
    task = build_task(info.task)
    x, targets = test.batch(torch.arange(16))
    evaluator = task.evaluator()
    evaluator.update(_perfect(targets, info.num_classes), targets)
    metrics = evaluator.compute()
    assert metrics["miou"] == pytest.approx(1.0) and metrics["map"] == pytest.approx(1.0)


def test_dataset_refuses_inconsistent_targets() -> None:
    images = torch.zeros(1, 3, 4, 4, dtype=torch.uint8)
    masks = torch.zeros(1, 4, 4, dtype=torch.uint8)
    box = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="has_boxes is False but it holds 1 boxes"):
        MultiTaskTensorDataset(
            images, masks, [{"boxes": box, "labels": torch.tensor([0]), "has_boxes": False}]
        )
    with pytest.raises(ValueError, match="1 boxes, 2 labels"):
        MultiTaskTensorDataset(images, masks, [{"boxes": box, "labels": torch.tensor([0, 1])}])
    with pytest.raises(ValueError, match="masks"):
        MultiTaskTensorDataset(images, masks[:, :2], [{"boxes": box, "labels": torch.tensor([0])}])


def test_arrays_check_names_the_problem() -> None:
    arrays = _arrays_with_missing_labels()
    arrays.labels[0] = 7
    with pytest.raises(Exception, match="toy: box labels outside 0..1"):
        arrays.check("toy", 3, 2)
    arrays = _arrays_with_missing_labels()
    arrays.boxes[0, 2] = 9
    with pytest.raises(Exception, match="outside the 8×8 image"):
        arrays.check("toy", 3, 2)


def test_median_frequency_weights_reach_the_segmentation_loss() -> None:
    from semcom.data.class_weights import weighted_spec

    train, _, info = synthetic_multitask_datasets(40, 4, seed=3)
    spec = weighted_spec(info.task, train, "median-frequency")
    weights = spec.subtasks["segmentation"].class_weights
    assert len(weights) == info.num_classes
    # the background covers most pixels: it weighs least
    assert weights[0] == min(weights) and max(weights) > 1.0
    assert TaskSpec.from_json(spec.to_json()) == spec
    assert weighted_spec(info.task, train, "none") == info.task
    task = build_task(spec.subtasks["segmentation"])
    logits = torch.randn(1, info.num_classes, 2, 2, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([[[0, 0], [0, 1]]])
    weighted = task.loss(logits, mask)
    plain = build_task(info.task.subtasks["segmentation"]).loss(logits, mask)
    assert not torch.allclose(weighted, plain)
    with pytest.raises(ValueError, match="segmentation"):
        weighted_spec(TaskSpec("classification", 3), train, "median-frequency")
