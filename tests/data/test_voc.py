"""``voc``: the devkit layout from folders and a .tar, XML boxes with ``difficult``, palette
masks, images labelled for one task only, grey JPEGs, resizing, the cache and clear errors — on
a tiny generated tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import semcom.data.voc as voc
from semcom.data import (
    IGNORE_INDEX,
    VOC_CLASSES,
    DataFormatError,
    DataUnavailableError,
    build_dataset,
    load_voc,
    write_tarball,
)
from semcom.data.voc import prepare_voc
from semcom.tasks import build_task

DOG, PERSON, CAR = (VOC_CLASSES.index(c) for c in ("dog", "person", "car"))
#: id: (W, H, grey, objects as (class, xmin, ymin, xmax, ymax, difficult), in Main, in Segmentation)
SCENES = {
    "2012_000001": (40, 30, False, [("dog", 5, 6, 20, 18, 0), ("person", 25, 2, 38, 28, 1)], 1, 1),
    "2012_000002": (30, 40, True, [("car", 1, 1, 30, 12, 0)], 1, 0),
    "2012_000003": (40, 30, False, [], 0, 1),
    "2012_000004": (40, 30, False, [("car", 10, 10, 30, 20, 0)], 1, 1),
    "2012_000005": (32, 32, False, [("dog", 2, 3, 12, 14, 0)], 1, 0),
}
TRAIN, VAL = ["2012_000001", "2012_000002", "2012_000003"], ["2012_000004", "2012_000005"]
PALETTE = [v for i in range(256) for v in ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)]


def _xml(ident: str, w: int, h: int, objects: list) -> str:
    parts = [f"<annotation><filename>{ident}.jpg</filename>"]
    parts.append(f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size>")
    for name, x1, y1, x2, y2, difficult in objects:
        parts.append(
            f"<object><name>{name}</name><pose>Left</pose><difficult>{difficult}</difficult>"
            f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax>"
            "</bndbox><part><name>head</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax>"
            "<ymax>2</ymax></bndbox></part></object>"
        )
    return "".join(parts) + "</annotation>"


def _mask(w: int, h: int, objects: list) -> np.ndarray:
    """Background, each object's box filled with its class (1-based palette index), a 255
    border around the first."""
    m = np.zeros((h, w), dtype=np.uint8)
    for k, (name, x1, y1, x2, y2, _) in enumerate(objects):
        if k == 0:
            m[max(y1 - 2, 0) : y2 + 1, max(x1 - 2, 0) : x2 + 1] = 255
        m[y1 - 1 : y2, x1 - 1 : x2] = VOC_CLASSES.index(name) + 1
    if not objects:
        m[5:15, 5:15] = VOC_CLASSES.index("cat") + 1
    return m


def _write(root: Path, year: str = "2012") -> Path:
    base = root / "VOCdevkit" / f"VOC{year}"
    for sub in ("JPEGImages", "Annotations", "SegmentationClass", "ImageSets/Main"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    (base / "ImageSets/Segmentation").mkdir()
    rng = np.random.default_rng(0)
    for ident, (w, h, grey, objects, _, in_seg) in SCENES.items():
        pixels = rng.integers(40, 200, (h, w, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        (image.convert("L") if grey else image).save(base / "JPEGImages" / f"{ident}.jpg")
        if objects:
            (base / "Annotations" / f"{ident}.xml").write_text(_xml(ident, w, h, objects))
        if in_seg:
            png = Image.fromarray(_mask(w, h, objects), mode="P")
            png.putpalette(PALETTE)
            png.save(base / "SegmentationClass" / f"{ident}.png")
    for name, ids in (("train", TRAIN), ("val", VAL), ("trainval", TRAIN + VAL)):
        main = [i for i in ids if SCENES[i][4]]
        seg = [i for i in ids if SCENES[i][5]]
        (base / "ImageSets/Main" / f"{name}.txt").write_text("".join(f"{i}\n" for i in main))
        (base / "ImageSets/Main" / f"dog_{name}.txt").write_text("".join(f"{i}  1\n" for i in main))
        (base / "ImageSets/Segmentation" / f"{name}.txt").write_text("".join(f"{i}\n" for i in seg))
    return root / "VOCdevkit"


@pytest.fixture
def devkit(tmp_path: Path) -> Path:
    return _write(tmp_path / "data")


def test_tree_targets_missing_labels_and_grey_jpegs(devkit: Path) -> None:
    train, test, info = load_voc(devkit, image_size=(30, 40))
    assert (len(train), len(test)) == (3, 2)
    assert info.name == "voc" and info.task.kind == "multitask"
    assert info.task.subtasks["detection"].classes == VOC_CLASSES
    assert info.task.subtasks["segmentation"].num_classes == 21 == info.num_classes
    x, y = train.batch([0, 1, 2])
    det, seg = y["detection"], y["segmentation"]
    assert [bool(t["has_boxes"]) for t in det] == [True, True, False]
    # 2012_000001: 1-based inclusive boxes become pixel edges; the person is difficult
    assert det[0]["boxes"].tolist() == [[4, 5, 20, 18], [24, 1, 38, 28]]
    assert det[0]["labels"].tolist() == [DOG, PERSON] and det[0]["difficult"].tolist() == [0, 1]
    assert np.array_equal(seg[0].numpy(), _mask(40, 30, SCENES["2012_000001"][3]))
    assert int((seg[0] == IGNORE_INDEX).sum()) > 0  # the palette's 255 border stays ignored
    # 2012_000002: a grey JPEG (30×40 resized to 40×30), detection only: its mask is all ignore
    assert x.shape == (3, 3, 30, 40)
    assert torch.equal(train.images[1, 0], train.images[1, 1])
    assert bool((seg[1] == IGNORE_INDEX).all()) and det[1]["labels"].tolist() == [CAR]
    # 2012_000003: segmentation only: no boxes, and no box means "unknown"
    assert len(det[2]["labels"]) == 0 and int(seg[2].max()) == VOC_CLASSES.index("cat") + 1
    assert [bool(t["has_boxes"]) for t in test.detections] == [True, True]
    assert bool((test.masks[1] == IGNORE_INDEX).all())


def test_roots_and_archives_load_the_same(devkit: Path, tmp_path: Path) -> None:
    reference = load_voc(devkit, image_size=(16, 16))
    archive = write_tarball(devkit, tmp_path / "sets" / "VOCtrainval_test.tar", "VOCdevkit")
    for root in (devkit / "VOC2012", devkit.parent, archive, archive.parent):
        train, test, _ = load_voc(root, image_size=(16, 16))
        for a, b in ((reference[0], train), (reference[1], test)):
            assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
            for p, q in zip(a.detections, b.detections, strict=True):
                assert all(torch.equal(p[k], q[k]) for k in p)


def test_boxes_are_scaled_with_the_image(devkit: Path) -> None:
    train, _, info = load_voc(devkit, image_size=(15, 20))
    assert info.image_size == (15, 20) and train.masks.shape == (3, 15, 20)
    assert train.detections[0]["boxes"].tolist() == [[2, 2.5, 10, 9], [12, 0.5, 19, 14]]
    assert train.detections[1]["boxes"].tolist() == [[0, 0, 20, 4.5]]  # 30×40 → 20×15
    big = load_voc(devkit, image_size=(60, 80))[0].detections[0]["boxes"]
    assert big.tolist() == [[8, 10, 40, 36], [48, 2, 76, 56]]


def test_image_sets(devkit: Path) -> None:
    with pytest.raises(ValueError, match="overlap"):
        load_voc(devkit, image_set="trainval", test_set="val")
    train, test, _ = build_dataset("voc", devkit, image_set="val", test_set="train", year=2012)
    assert (len(train), len(test)) == (2, 3)
    with pytest.raises(ValueError, match="image_set must be one of train, val, trainval, test"):
        load_voc(devkit, image_set="training")
    with pytest.raises(DataFormatError, match="no ImageSets/Main/test.txt"):
        load_voc(devkit, test_set="test")


def test_years(devkit: Path) -> None:
    _write(devkit.parent, year="2007")
    with pytest.raises(ValueError, match="holds VOC 2007, 2012: give year"):
        load_voc(devkit)
    assert len(load_voc(devkit, year="2007", image_size=8)[0]) == 3
    with pytest.raises(DataUnavailableError, match=r"no VOC2010 \(found VOC2007, VOC2012\)"):
        load_voc(devkit, year=2010)


def test_second_load_comes_from_the_cache(devkit: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = prepare_voc(devkit, image_size=(16, 16))
    assert not first.from_cache

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(voc, "decode_resized", no_decoding)
    again = prepare_voc(devkit, image_size=(16, 16))
    assert again.from_cache and np.array_equal(again.train.boxes, first.train.boxes)
    assert np.array_equal(again.test.has_boxes, first.test.has_boxes)
    with pytest.raises(AssertionError, match="decoded again"):
        prepare_voc(devkit, image_size=(16, 16), image_set="trainval", test_set="test")


def _base(devkit: Path) -> Path:
    return devkit / "VOC2012"


def test_malformed_xml_is_named(devkit: Path) -> None:
    victim = _base(devkit) / "Annotations" / "2012_000004.xml"
    victim.write_text("<annotation><object><name>dog</name>")
    with pytest.raises(DataFormatError, match=r"Annotations/2012_000004.xml: malformed XML"):
        load_voc(devkit)


@pytest.mark.parametrize(
    ("replace", "match"),
    [
        (("<name>dog</name>", "<name>wolf</name>"), "object 0 has class 'wolf'"),
        (("<xmin>5</xmin>", "<xmin>five</xmin>"), r"object 0 \(dog\): bad <bndbox>"),
        (("<xmin>5</xmin>", "<xmin>50</xmin>"), "bndbox 50,6..20,18 is empty"),
        (("<xmin>5</xmin><ymin>6</ymin>", "<xmin>45</xmin><ymin>6</ymin><x/>"), "lies outside"),
        (("<annotation>", '<!DOCTYPE a [<!ENTITY e "x">]><annotation>'), "DOCTYPE or ENTITY"),
    ],
)
def test_bad_annotations_are_named(devkit: Path, replace: tuple[str, str], match: str) -> None:
    victim = _base(devkit) / "Annotations" / "2012_000001.xml"
    text = victim.read_text()
    assert replace[0] in text
    text = text.replace(replace[0], replace[1], 1)
    if "45" in replace[1]:
        text = text.replace("<xmax>20</xmax>", "<xmax>48</xmax>", 1)
    victim.write_text(text)
    with pytest.raises(DataFormatError, match=rf"2012_000001.xml: .*{match}"):
        load_voc(devkit)


def test_missing_files_are_named(devkit: Path) -> None:
    (_base(devkit) / "Annotations" / "2012_000002.xml").unlink()
    with pytest.raises(DataFormatError, match=r"Annotations/2012_000002.xml: missing \(listed"):
        load_voc(devkit)
    shutil.rmtree(devkit)
    _write(devkit.parent)
    (_base(devkit) / "SegmentationClass" / "2012_000003.png").unlink()
    with pytest.raises(DataFormatError, match=r"SegmentationClass/2012_000003.png: missing"):
        load_voc(devkit)


def test_bad_masks_are_named(devkit: Path) -> None:
    victim = _base(devkit) / "SegmentationClass" / "2012_000004.png"
    m = _mask(40, 30, SCENES["2012_000004"][3])
    m[0, 0] = 30
    png = Image.fromarray(m, mode="P")
    png.putpalette(PALETTE)
    png.save(victim)
    with pytest.raises(DataFormatError, match=r"2012_000004.png: label value\(s\) \[30\]"):
        load_voc(devkit)
    Image.fromarray(m[:20], mode="P").save(victim)
    with pytest.raises(DataFormatError, match=r"2012_000004.png: mask is 40×20, its image 40×30"):
        load_voc(devkit)


def test_not_found(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match="Pascal VOC is not available under"):
        load_voc(tmp_path)


def test_a_batch_scores_perfectly_through_the_multitask_task(devkit: Path) -> None:
    train, _, info = load_voc(devkit, image_size=(30, 40))
    task = build_task(info.task)
    _, y = train.batch(torch.arange(3))
    logits = torch.nn.functional.one_hot(y["segmentation"].clamp_max(20), 21)
    detections = []
    for t in y["detection"]:  # every box but the difficult ones
        keep = ~t["difficult"]
        n = int(keep.sum())
        detections.append(
            {"boxes": t["boxes"][keep], "labels": t["labels"][keep], "scores": torch.ones(n)}
        )
    detections[2] = {  # a guess on the image without detection labels counts nowhere
        "boxes": torch.tensor([[0.0, 0.0, 5.0, 5.0]]),
        "labels": torch.tensor([DOG]),
        "scores": torch.tensor([1.0]),
    }
    output = {"segmentation": logits.permute(0, 3, 1, 2).float(), "detection": detections}
    evaluator = task.evaluator()
    evaluator.update(output, y)
    metrics = evaluator.compute()
    assert metrics["miou"] == pytest.approx(1.0) and metrics["map"] == pytest.approx(1.0)
    assert metrics["multitask_mean"] == pytest.approx(1.0)


def test_the_shipped_voc_experiment_runs_on_a_devkit(devkit: Path, tmp_path: Path) -> None:
    """``configs/ffmnet_voc.yaml`` as a user with VOC on disk runs it (quick, two systems): images
    labelled for one task only train and score the other as missing."""
    from importlib import resources

    from semcom.config import load_yaml, resolve
    from semcom.experiment import apply_quick, run_experiment

    raw = load_yaml(Path(str(resources.files("semcom") / "configs" / "ffmnet_voc.yaml")))
    raw["data"].update(root=str(devkit), image_size=[64, 64], batch_size=2)
    raw["systems"] = [{"name": "ffmnet"}, {"name": "ffmnet-digital", "channels": 2, "bits": 2}]
    names = {"ffmnet", "ffmnet-digital"}
    stages = raw["train"]["stages"]
    stages = [dict(s, systems=[n for n in s["systems"] if n in names]) for s in stages]
    raw["train"]["stages"] = [s for s in stages if s["systems"]]
    raw["eval"].update(devices=["iot-mcu"], timing_samples=0)
    cfg = apply_quick(resolve(raw))
    result = run_experiment(cfg, tmp_path / "run", log=lambda _: None)
    by_system = {r["system"]: r for r in result.records}
    assert set(by_system) == {"ffmnet", "ffmnet-digital"}
    for record in result.records:
        assert record["samples"] == len(VAL)
        assert {"map", "map_50", "miou", "pixel_accuracy"} <= set(record)
    assert by_system["ffmnet-digital"]["compression_ratio"] > 1
