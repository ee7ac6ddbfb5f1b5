"""``camvid``: SegNet's layout from a folder and a .tar.gz, void → ignore, resizing, boxes from
connected components, the cache, the splits, and clear errors — on tiny generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import semcom.data.camvid as camvid
from semcom.data import (
    IGNORE_INDEX,
    DataFormatError,
    DataUnavailableError,
    build_dataset,
    load_camvid,
    write_tarball,
)
from semcom.data.camvid import components, prepare_camvid
from semcom.tasks import build_task

H, W = 24, 32  # the generated images' own size
SKY, ROAD, SIGN, CAR, PEDESTRIAN, VOID = 0, 3, 6, 8, 9, 11
COUNTS = {"train": 3, "val": 2, "test": 2}


def _annotation(i: int) -> np.ndarray:
    """Road below sky; a car (shifted by ``i``), a pedestrian, a one-pixel sign and a void row."""
    a = np.full((H, W), ROAD, dtype=np.uint8)
    a[:6] = SKY
    a[10:16, 2 + i : 10 + i] = CAR
    a[8:20, 20:23] = PEDESTRIAN
    a[2, 28] = SIGN
    a[H - 1] = VOID
    return a


def _image(annotation: np.ndarray, i: int) -> np.ndarray:
    """An RGB picture of ``annotation`` (a colour per class, a little noise)."""
    colours = np.random.default_rng(0).integers(0, 256, (12, 3), dtype=np.uint8)
    noise = np.random.default_rng(i).integers(0, 8, (H, W, 3), dtype=np.uint8)
    return colours[annotation] // 2 + noise


def _write(root: Path, lists: bool = True) -> Path:
    """A CamVid folder (``root/CamVid``) with :data:`COUNTS` images per split."""
    folder = root / "CamVid"
    k = 0
    for split, n in COUNTS.items():
        (folder / split).mkdir(parents=True)
        (folder / f"{split}annot").mkdir()
        lines = []
        for _ in range(n):
            name = f"0001TP_{k:06d}.png"
            a = _annotation(k)
            Image.fromarray(_image(a, k)).save(folder / split / name)
            Image.fromarray(a, mode="L").save(folder / f"{split}annot" / name)
            lines.append(f"/SegNet/CamVid/{split}/{name} /SegNet/CamVid/{split}annot/{name}")
            k += 1
        if lists:
            (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _write(tmp_path / "data")


def _expected_mask(i: int) -> np.ndarray:
    m = _annotation(i).copy()
    m[m == VOID] = IGNORE_INDEX
    return m


def test_folder_masks_boxes_and_info(folder: Path) -> None:
    train, test, info = load_camvid(folder, image_size=(H, W), min_object_area=0.01)
    assert (len(train), len(test)) == (3, 2)
    assert info.name == "camvid" and info.task.kind == "multitask"
    assert info.task.subtasks["detection"].classes == (
        "Car",
        "Pedestrian",
        "Bicyclist",
        "SignSymbol",
    )
    assert info.task.subtasks["segmentation"].num_classes == 11 == info.num_classes
    assert info.classes[SKY] == "Sky" and info.classes[CAR] == "Car"
    assert info.input_shape == (3, H, W)
    x, y = train.batch([0, 1, 2])
    assert x.shape == (3, 3, H, W) and y["segmentation"].dtype == torch.int64
    for i in range(3):
        assert np.array_equal(y["segmentation"][i].numpy(), _expected_mask(i))
        assert np.array_equal(train.images[i].numpy(), _image(_annotation(i), i).transpose(2, 0, 1))
        det = y["detection"][i]
        # car (label 0) then pedestrian (label 1); the one-pixel sign is below 1 % of the image
        assert det["labels"].tolist() == [0, 1]
        assert det["boxes"].tolist() == [[2 + i, 10, 10 + i, 16], [20, 8, 23, 20]]
        assert not det["difficult"].any() and bool(det["has_boxes"])
    assert int((test.masks == IGNORE_INDEX).sum()) == 2 * W  # the void row of both images
    # the data root holding CamVid/ finds it too; min_object_area 0 keeps the sign
    train0, _, _ = load_camvid(folder.parent, image_size=(H, W), min_object_area=0)
    assert train0.detections[0]["labels"].tolist() == [0, 1, 3]
    assert train0.detections[0]["boxes"][2].tolist() == [28, 2, 29, 3]


def test_archive_is_read_without_extracting(folder: Path, tmp_path: Path) -> None:
    archive = write_tarball(folder, tmp_path / "shared" / "camvid.tar.gz", arcname="CamVid")
    from_dir = load_camvid(folder, image_size=(H, W))
    for root in (archive, archive.parent):  # the archive itself, or a root holding it
        from_tar = load_camvid(root, image_size=(H, W))
        for a, b in zip(from_dir[:2], from_tar[:2], strict=True):
            assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
            assert all(
                torch.equal(p["boxes"], q["boxes"])
                for p, q in zip(a.detections, b.detections, strict=True)
            )
    assert not (archive.parent / "CamVid").exists()


def test_without_lists_images_pair_with_annotations_by_name(tmp_path: Path) -> None:
    with_lists = load_camvid(_write(tmp_path / "a"), image_size=(H, W))
    without = load_camvid(_write(tmp_path / "b", lists=False), image_size=(H, W))
    assert torch.equal(with_lists[0].masks, without[0].masks)
    assert torch.equal(with_lists[1].images, without[1].images)


def test_resizing_nearest_masks_and_boxes_of_the_resized_mask(folder: Path) -> None:
    train, _, info = load_camvid(folder, image_size=(12, 16), min_object_area=0)
    assert train.images.shape == (3, 3, 12, 16) and info.image_size == (12, 16)
    for i in range(3):
        resized = Image.fromarray(_expected_mask(i)).resize((16, 12), Image.Resampling.NEAREST)
        assert np.array_equal(train.masks[i].numpy(), np.asarray(resized))
        boxes, labels, _ = components(np.asarray(resized))
        assert np.array_equal(train.detections[i]["boxes"].numpy(), boxes)
        assert np.array_equal(train.detections[i]["labels"].numpy(), labels)
    # bilinear, antialiased images: the road is still road-coloured in the middle
    road = _image(_annotation(0), 0)[20, 16].astype(int)
    assert np.abs(train.images[0, :, 10, 8].numpy().astype(int) - road).max() < 12


def test_touching_objects_of_one_class_merge_into_one_box() -> None:
    mask = np.full((10, 12), ROAD, dtype=np.uint8)
    mask[1:4, 1:4] = CAR
    mask[4:6, 4:7] = CAR  # touches the first car at a corner: 8-connected
    mask[7:9, 9:11] = CAR  # apart
    mask[1:3, 9:11] = PEDESTRIAN
    boxes, labels, areas = components(mask)
    assert labels.tolist() == [0, 0, 1]
    assert boxes.tolist() == [[1, 1, 7, 6], [9, 7, 11, 9], [9, 1, 11, 3]]
    assert areas.tolist() == [15, 4, 4]


def test_second_load_comes_from_the_cache(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = prepare_camvid(folder, (H, W))
    assert not first.from_cache and first.cache.is_dir()

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(camvid, "decode_resized", no_decoding)
    monkeypatch.setattr(camvid, "decode_label_maps", no_decoding)
    again = prepare_camvid(folder, (H, W))
    assert again.from_cache
    for split in camvid.SPLITS:
        assert np.array_equal(again.splits[split].images, first.splits[split].images)
        assert np.array_equal(again.splits[split].boxes, first.splits[split].boxes)
    # other options are applied on loading: no decoding either
    train, _, _ = load_camvid(
        folder, image_size=(H, W), train_splits="train+val", min_object_area=0
    )
    assert len(train) == 5
    with pytest.raises(AssertionError, match="decoded again"):  # another size is decoded anew
        prepare_camvid(folder, (12, 16))
    # a rewritten file is noticed
    monkeypatch.undo()
    name = sorted((folder / "trainannot").iterdir())[0]
    a = _annotation(0)
    a[0, 0] = CAR
    Image.fromarray(a, mode="L").save(name)
    assert not prepare_camvid(folder, (H, W)).from_cache


def test_train_splits_option(folder: Path) -> None:
    train, test, _ = build_dataset(
        "camvid", folder, image_size=(H, W), train_splits=["train", "val"]
    )
    assert (len(train), len(test)) == (5, 2)
    with pytest.raises(ValueError, match="train_splits must be train and/or val"):
        load_camvid(folder, train_splits="train+test")
    with pytest.raises(ValueError, match="min_object_area"):
        load_camvid(folder, min_object_area=2)
    with pytest.raises(ValueError, match="takes no option channels"):
        build_dataset("camvid", folder, channels=3)


def test_missing_annotation_is_named(folder: Path) -> None:
    victim = sorted((folder / "valannot").iterdir())[1]
    victim.unlink()
    with pytest.raises(
        DataFormatError, match=rf"val.txt line 2: the annotation valannot/{victim.name}"
    ):
        load_camvid(folder, image_size=(H, W))
    for listing in folder.glob("*.txt"):
        listing.unlink()
    with pytest.raises(DataFormatError, match=rf"no annotation valannot/{victim.name}"):
        load_camvid(folder, image_size=(H, W))


def test_corrupt_png_is_named(folder: Path) -> None:
    victim = sorted((folder / "test").iterdir())[0]
    victim.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(DataFormatError, match=rf"{victim.name}: cannot decode image"):
        load_camvid(folder, image_size=(H, W))


@pytest.mark.parametrize(("value", "mode"), [(12, "L"), (255, "L"), (3, "RGB")])
def test_bad_annotation_is_named(folder: Path, value: int, mode: str) -> None:
    victim = sorted((folder / "trainannot").iterdir())[2]
    a = _annotation(2)
    a[5, 5] = value
    (Image.fromarray(a, mode="L") if mode == "L" else Image.fromarray(a).convert(mode)).save(victim)
    match = rf"{victim.name}: label value\(s\) \[{value}\] not allowed \(allowed: 0..11\)"
    if mode != "L":
        match = rf"{victim.name}: a label image must have one channel \(mode L or P\)"
    with pytest.raises(DataFormatError, match=match):
        load_camvid(folder, image_size=(H, W))


def test_annotation_of_another_size_is_named(folder: Path) -> None:
    victim = sorted((folder / "trainannot").iterdir())[0]
    Image.fromarray(_annotation(0)[:20], mode="L").save(victim)
    with pytest.raises(DataFormatError, match=rf"{victim.name}: annotation is 32×20"):
        load_camvid(folder, image_size=(H, W))


def test_bad_list_line_is_named(folder: Path) -> None:
    (folder / "test.txt").write_text("/SegNet/CamVid/test/only_one_path.png\n")
    with pytest.raises(DataFormatError, match="test.txt line 1: expected two paths"):
        load_camvid(folder)


def test_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match="CamVid is not available under"):
        load_camvid(tmp_path)


def test_a_batch_scores_perfectly_through_the_multitask_task(folder: Path) -> None:
    train, _, info = load_camvid(folder, image_size=(12, 16))
    task = build_task(info.task)
    _, y = train.batch(torch.arange(len(train)))
    logits = torch.nn.functional.one_hot(y["segmentation"].clamp_max(10), 11)
    output = {
        "segmentation": logits.permute(0, 3, 1, 2).float(),
        "detection": [
            {"boxes": t["boxes"], "labels": t["labels"], "scores": torch.ones(len(t["labels"]))}
            for t in y["detection"]
        ],
    }
    evaluator = task.evaluator()
    evaluator.update(output, y)
    metrics = evaluator.compute()
    assert metrics["miou"] == pytest.approx(1.0) and metrics["map_50"] == pytest.approx(1.0)
    assert metrics["multitask_mean"] == pytest.approx(1.0)


def test_experiment_config_passes_the_camvid_options(folder: Path, tmp_path: Path) -> None:
    from semcom.config import ConfigError, resolve
    from semcom.experiment import _load_data

    raw = {
        "experiment": "camvid-options",
        "systems": [{"name": "local"}],
        "data": {"name": "camvid", "root": str(folder), "image_size": [H, W]},
    }
    _, test_default, ctx, _ = _load_data(resolve(raw), lambda _: None)
    strict = {**raw, "data": {**raw["data"], "min_object_area": 0.05, "train_splits": "train+val"}}
    train_strict, test_strict, _, _ = _load_data(resolve(strict), lambda _: None)
    assert ctx.task.kind == "multitask"
    assert sum(test_strict.box_counts()) < sum(test_default.box_counts())  # fewer boxes kept
    train_plain, _, _, _ = _load_data(resolve(raw), lambda _: None)
    assert len(train_strict) > len(train_plain)  # val folded into training
    wrong = {**raw, "data": {**raw["data"], "year": 2012}}  # a VOC option
    with pytest.raises(ConfigError, match="year"):
        _load_data(resolve(wrong), lambda _: None)
