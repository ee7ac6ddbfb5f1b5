"""``image-folder``: every layout, from folders and archives, mixed images, the cache, errors."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import semcom.data.image_folder as image_folder
from semcom.data import (
    DataFormatError,
    DataUnavailableError,
    ImageFolderOptions,
    build_dataset,
    load_image_folder,
    make_pattern_images,
    prepare_image_folder,
    write_image_folder,
    write_tarball,
)
from semcom.data.decode import decode_one, decode_resized
from semcom.data.writers import IMAGE_FOLDER_VARIANTS

CLASSES = ("ant", "bee", "cat")


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many images each decoding call was handed (the cache is used when it stays empty)."""
    calls: list[int] = []
    real = image_folder.decode_resized

    def counting(encoded: list[object], *args: object, **kwargs: object) -> np.ndarray:
        calls.append(len(encoded))
        return real(encoded, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(image_folder, "decode_resized", counting)
    return calls


def _fingerprints(images: torch.Tensor, labels: torch.Tensor) -> list[str]:
    return sorted(
        hashlib.sha1(x.numpy().tobytes()).hexdigest() + str(int(y))
        for x, y in zip(images, labels, strict=True)
    )


@pytest.mark.parametrize(
    ("layout", "described"),
    [
        ("train-test", "train/ + test/"),
        ("train-val", "train/ + val/"),
        ("classes", "class folders"),
    ],
)
def test_each_layout_loads(tmp_path: Path, layout: str, described: str) -> None:
    write_image_folder(tmp_path, layout, n_train=8, n_test=2)  # type: ignore[arg-type]
    prepared = prepare_image_folder(tmp_path)
    assert prepared.layout.startswith(described) and not prepared.from_cache
    train, test, info = prepared.datasets()
    assert (len(train), len(test)) == (24, 6)
    assert train.images.shape == (24, 3, 32, 32) and train.images.dtype == torch.uint8
    assert info.name == "image-folder" and info.classes == CLASSES
    assert (info.num_classes, info.input_shape) == (3, (3, 32, 32))
    assert torch.bincount(test.labels).tolist() == [2, 2, 2]
    assert train.labels[:3].tolist() == [0, 1, 2]  # round-robin: balanced prefixes
    x, y = train.batch(torch.arange(4))
    assert x.dtype == torch.float32 and 0 <= float(x.min()) <= float(x.max()) <= 1


@pytest.mark.parametrize("arcname", ["", "my-set"])
@pytest.mark.parametrize("layout", ["train-val", "classes"])
def test_archives_with_and_without_a_wrapper_folder(
    tmp_path: Path, layout: str, arcname: str
) -> None:
    write_image_folder(tmp_path / "src", layout, n_train=4, n_test=2)  # type: ignore[arg-type]
    archive = write_tarball(tmp_path / "src", tmp_path / "set.tar.gz", arcname=arcname)
    from_folder = load_image_folder(tmp_path / "src")
    prepared = prepare_image_folder(archive)
    assert (f"(in {arcname}/)" in prepared.layout) == bool(arcname)
    train, test, info = prepared.datasets()
    assert torch.equal(train.images, from_folder[0].images)
    assert torch.equal(test.labels, from_folder[1].labels) and info == from_folder[2]


def test_a_wrapper_folder_is_looked_into(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "outer" / "inner", "train-test", n_train=3, n_test=1)
    prepared = prepare_image_folder(tmp_path / "outer")
    assert prepared.layout == "train/ + test/ (in inner/)"
    assert len(prepared.datasets()[0]) == 9


def test_lossless_pngs_come_back_exactly(tmp_path: Path) -> None:
    write_image_folder(tmp_path, n_train=4, n_test=2, seed=3, mixed=False, size=32)
    train, _, _ = load_image_folder(tmp_path, image_size=32)
    images, labels = make_pattern_images(40, seed=6, size=32, channels=3)
    keep = labels < 3
    assert _fingerprints(train.images, train.labels) == _fingerprints(images[keep], labels[keep])


def test_mixed_modes_and_sizes_load_in_both_channel_counts(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "classes", n_train=len(IMAGE_FOLDER_VARIANTS), n_test=1)
    kinds = {p.suffix for p in (tmp_path / "ant").iterdir()}
    assert kinds == {".png", ".jpg", ".bmp"}
    modes = {Image.open(p).mode for p in (tmp_path / "ant").iterdir()}
    assert {"L", "RGBA", "P", "I;16", "LA", "RGB"} <= modes
    for channels in (1, 3):
        train, test, info = load_image_folder(
            tmp_path, image_size=(20, 24), channels=channels, test_fraction=0.25
        )
        assert train.images.shape[1:] == (channels, 20, 24) and info.in_channels == channels
        assert len(train) + len(test) == 3 * (len(IMAGE_FOLDER_VARIANTS) + 1)
        assert float(train.images.float().std()) > 5  # real pictures, not blank


def test_modes_convert_as_documented() -> None:
    def png(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    rgba = Image.new("RGBA", (8, 8), (250, 200, 100, 255))
    rgba.paste((255, 255, 255, 0), (0, 0, 4, 8))  # transparent white: becomes black
    out = decode_one(png(rgba), "rgba.png", (8, 8), 3)
    assert out[:, :, :4].max() == 0 and out[:, 0, 6].tolist() == [250, 200, 100]
    grey = decode_one(png(rgba), "rgba.png", (8, 8), 1)
    assert grey.shape == (1, 8, 8) and grey[0, 0, 6] == round(
        0.299 * 250 + 0.587 * 200 + 0.114 * 100
    )
    palette = Image.new("P", (4, 4), 1)
    palette.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    palette.info["transparency"] = 1
    assert decode_one(png(palette), "p.png", (4, 4), 3).max() == 0
    deep = Image.fromarray(np.full((3, 5), 65535, dtype=np.uint16))
    assert decode_one(png(deep), "16.png", (3, 5), 3).min() == 255
    grey_jpeg = io.BytesIO()
    Image.new("L", (9, 7), 128).save(grey_jpeg, format="JPEG")
    rgb = decode_one(grey_jpeg.getvalue(), "g.jpg", (4, 4), 3)
    assert rgb.shape == (3, 4, 4) and abs(int(rgb.mean()) - 128) <= 1


def test_exif_orientation_is_applied() -> None:
    image = Image.new("L", (20, 10), 0)
    image.paste(255, (0, 0, 10, 10))  # left half bright
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95)
    out = decode_one(buffer.getvalue(), "rotated.jpg", (20, 10), 1)[0]
    assert out[:8].mean() > 200 and out[12:].mean() < 50  # displayed: the top half is bright


def test_large_jpegs_are_drafted_to_at_least_the_target_size() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 160, 90)).save(buffer, format="JPEG")
    out = decode_one(buffer.getvalue(), "big.jpg", (24, 32), 3)
    assert out.shape == (3, 24, 32) and abs(out.reshape(3, -1).mean(1) - [30, 160, 90]).max() < 3


def test_the_single_folder_split(tmp_path: Path, decodes: list[int]) -> None:
    write_image_folder(tmp_path, "classes", n_train=8, n_test=2)  # 10 per class
    train, test, _ = load_image_folder(tmp_path, test_fraction=0.2, seed=0)
    assert torch.bincount(test.labels).tolist() == [2, 2, 2] and len(train) == 24
    assert decodes == [30]  # decoded whole, once
    again = load_image_folder(tmp_path, test_fraction=0.2, seed=0)
    assert torch.equal(again[1].images, test.images) and torch.equal(again[0].labels, train.labels)
    other_seed = load_image_folder(tmp_path, test_fraction=0.2, seed=1)
    assert _fingerprints(other_seed[1].images, other_seed[1].labels) != _fingerprints(
        test.images, test.labels
    )
    half = load_image_folder(tmp_path, test_fraction=0.5)
    assert torch.bincount(half[1].labels).tolist() == [5, 5, 5]
    assert decodes == [30]  # a changed split needs no decoding
    all_images = _fingerprints(
        torch.cat([half[0].images, half[1].images]), torch.cat([half[0].labels, half[1].labels])
    )
    assert all_images == _fingerprints(
        torch.cat([train.images, test.images]), torch.cat([train.labels, test.labels])
    )
    assert not set(_fingerprints(train.images, train.labels)) & set(
        _fingerprints(test.images, test.labels)
    )


def test_cache_is_used_and_invalidated_by_options_and_files(
    tmp_path: Path, decodes: list[int]
) -> None:
    write_image_folder(tmp_path, "train-test", n_train=4, n_test=2)  # 12 + 6 images
    first = prepare_image_folder(tmp_path)
    assert decodes == [12, 6] and first.cache.is_dir()
    second = prepare_image_folder(tmp_path)
    assert second.from_cache and second.cache == first.cache and decodes == [12, 6]
    assert np.array_equal(second.splits.train_images, first.splits.train_images)
    assert second.layout == first.layout
    sized = prepare_image_folder(tmp_path, ImageFolderOptions(image_size=(16, 16)))
    assert not sized.from_cache and sized.cache != first.cache
    assert sized.splits.train_images.shape[2:] == (16, 16)
    grey = prepare_image_folder(tmp_path, ImageFolderOptions(channels=1))
    assert not grey.from_cache and grey.splits.train_images.shape[1] == 1
    assert len({first.cache, sized.cache, grey.cache}) == 3
    assert len(decodes) == 6
    ant = tmp_path / "train" / "ant"
    shutil.copy(next(ant.glob("*.png")), ant / "extra.png")  # a new file
    added = prepare_image_folder(tmp_path)
    assert not added.from_cache and len(added.splits.train_labels) == 13
    target = ant / "extra.png"
    Image.new("RGB", (5, 5), (1, 2, 3)).save(target)
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10**9))  # a rewritten file
    assert not prepare_image_folder(tmp_path).from_cache
    assert prepare_image_folder(tmp_path).from_cache


def test_archive_cache_notices_a_changed_archive(tmp_path: Path, decodes: list[int]) -> None:
    write_image_folder(tmp_path / "src", "classes", n_train=3, n_test=1)
    archive = write_tarball(tmp_path / "src", tmp_path / "set.tgz")
    first = prepare_image_folder(archive)
    second = prepare_image_folder(archive, ImageFolderOptions(test_fraction=0.5, seed=4))
    assert second.from_cache and decodes == [12]
    assert "class folders" in second.layout and "seed 4" in second.layout
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert not prepare_image_folder(archive).from_cache
    assert first.layout == prepare_image_folder(archive).layout


def test_unwritable_cache_still_loads(tmp_path: Path) -> None:
    (tmp_path / "xdg").write_text("a file, not a directory")  # the cache cannot be created
    write_image_folder(tmp_path / "d", n_train=2, n_test=1)
    assert len(load_image_folder(tmp_path / "d")[0]) == 6


def test_test_wins_over_val_and_junk_is_skipped(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "train-test", n_train=3, n_test=2)
    write_image_folder(tmp_path / "val-src", "train-val", n_train=0, n_test=1)
    shutil.move(tmp_path / "val-src" / "val", tmp_path / "val")
    (tmp_path / "train" / "ant" / "._0000.png").write_bytes(b"AppleDouble junk")
    (tmp_path / "train" / "ant" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "train" / "ant" / "notes.txt").write_text("not an image")
    (tmp_path / "__MACOSX" / "train").mkdir(parents=True)
    (tmp_path / "__MACOSX" / "train" / "x.png").write_bytes(b"junk")
    (tmp_path / "train" / "bee" / "nested").mkdir()
    (tmp_path / "train" / "bee" / "nested" / "deep.png").write_bytes(b"never read")
    prepared = prepare_image_folder(tmp_path)
    assert prepared.layout == "train/ + test/"
    assert np.bincount(prepared.splits.test_labels).tolist() == [2, 2, 2]
    assert len(prepared.splits.train_labels) == 9


def test_split_folder_names_match_in_any_case(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "train-val", n_train=2, n_test=1)
    (tmp_path / "train").rename(tmp_path / "Train")
    (tmp_path / "val").rename(tmp_path / "VAL")
    assert prepare_image_folder(tmp_path).layout == "Train/ + VAL/"


def test_many_classes_and_odd_names(tmp_path: Path) -> None:
    names = tuple(f"class {i:02d} [x]" for i in range(12))
    write_image_folder(tmp_path, "train-test", classes=names, n_train=1, n_test=1, mixed=False)
    train, test, info = load_image_folder(tmp_path, image_size=8)
    assert info.classes == names and info.num_classes == 12 and len(test) == 12


def test_build_dataset_passes_the_options(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "classes", n_train=3, n_test=1)
    train, test, info = build_dataset(
        "image-folder", str(tmp_path), image_size=[12, 10], channels=1, test_fraction=None
    )
    assert info.input_shape == (1, 12, 10) and (len(train), len(test)) == (9, 3)
    assert build_dataset("image_folder", tmp_path, image_size="12x10")[2].image_size == (12, 10)
    with pytest.raises(ValueError, match="no option colour; it takes image_size, channels"):
        build_dataset("image-folder", str(tmp_path), colour="red")


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", [None, ""])
def test_no_root(root: str | None) -> None:
    with pytest.raises(DataUnavailableError, match="no root was given") as info:
        load_image_folder(root)
    assert "--root" in str(info.value) and "data.root" in str(info.value)


def test_missing_root_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError) as info:
        load_image_folder(tmp_path / "missing")
    message = str(info.value)
    assert f"{tmp_path / 'missing'} does not exist" in message
    assert "--root" in message and ".tar.gz" in message
    assert "train/<class>/<image> + test/<class>/<image>" in message and "val/" in message
    assert "test_fraction" in message
    assert not isinstance(info.value, DataFormatError)


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "ant").mkdir()
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(DataFormatError, match="no images found; expected train/<class>"):
        load_image_folder(tmp_path)


def test_train_without_a_test_split(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "train-test", n_train=2, n_test=1)
    shutil.rmtree(tmp_path / "test")
    with pytest.raises(DataFormatError, match="has train/ but no images in a test/ or val/"):
        load_image_folder(tmp_path)


def test_splits_with_different_classes_say_which(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "train-val", classes=("ant", "bee", "cat", "dog"), n_train=2)
    shutil.rmtree(tmp_path / "val" / "dog")
    shutil.rmtree(tmp_path / "train" / "ant")
    with pytest.raises(DataFormatError) as info:
        load_image_folder(tmp_path)
    message = str(info.value)
    assert "the splits have different classes" in message
    assert "train/ lacks 'ant'" in message and "val/ lacks 'dog'" in message


def test_a_class_too_small_to_split(tmp_path: Path) -> None:
    write_image_folder(tmp_path, "classes", n_train=2, n_test=1)
    for extra in sorted((tmp_path / "bee").iterdir())[1:]:
        extra.unlink()
    with pytest.raises(DataFormatError, match="'bee' hold a single image"):
        load_image_folder(tmp_path)


def test_images_outside_class_folders_only(tmp_path: Path) -> None:
    Image.new("RGB", (4, 4)).save(tmp_path / "loose.png")
    with pytest.raises(DataFormatError, match="no images directly inside class folders"):
        load_image_folder(tmp_path)


@pytest.mark.parametrize("archived", [False, True])
def test_an_unreadable_image_is_named(tmp_path: Path, archived: bool) -> None:
    write_image_folder(tmp_path / "d", "train-test", n_train=3, n_test=1)
    (tmp_path / "d" / "test" / "bee" / "0000.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    root = write_tarball(tmp_path / "d", tmp_path / "d.tar.gz") if archived else tmp_path / "d"
    with pytest.raises(DataFormatError, match="cannot decode image") as info:
        load_image_folder(root)
    expected = f"{root}:test/bee/0000.png" if archived else str(root / "test/bee/0000.png")
    assert expected in str(info.value)


def test_not_a_folder_nor_an_archive(tmp_path: Path) -> None:
    (tmp_path / "set.zip").write_bytes(b"PK")
    with pytest.raises(DataFormatError, match="not a folder nor a tar archive"):
        load_image_folder(tmp_path / "set.zip")


def test_truncated_archive(tmp_path: Path) -> None:
    write_image_folder(tmp_path / "d", n_train=2, n_test=1)
    archive = write_tarball(tmp_path / "d", tmp_path / "d.tar.gz")
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DataFormatError, match="d.tar.gz: corrupt or truncated archive"):
        load_image_folder(archive)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"channels": 2}, "channels must be 1 .grey. or 3 .RGB., got 2"),
        ({"channels": True}, "channels must be"),
        ({"test_fraction": 0.0}, r"test_fraction must lie strictly in \(0, 1\), got 0.0"),
        ({"test_fraction": 1}, "test_fraction"),
        ({"image_size": 0}, "image_size must be"),
        ({"image_size": (3, 4, 5)}, "image_size must be"),
        ({"image_size": "wide"}, "image_size must be"),
        ({"image_size": 2.5}, "image_size must be"),
    ],
)
def test_bad_options(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_image_folder(tmp_path, **options)  # type: ignore[arg-type]


def test_decoding_in_threads_names_the_first_bad_image() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (3, 3), (9, 9, 9)).save(buffer, format="PNG")
    blobs = [buffer.getvalue()] * 300
    blobs[290], blobs[150] = b"bad", b"bad"
    names = [f"img{i}.png" for i in range(300)]
    with pytest.raises(DataFormatError, match="img150.png: cannot decode image"):
        decode_resized(blobs, names, (2, 2), 3, workers=3)
    out = decode_resized([buffer.getvalue()] * 300, names, (2, 2), 3, workers=3)
    assert out.shape == (300, 3, 2, 2) and (out == 9).all()


SHARED_TARBALL = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_TARBALL.is_file(), reason="shared CIFAR-10 tarball not present")
def test_real_cifar10_tarball_as_an_image_folder() -> None:
    """The shared CIFAR-10 JPEGs through ``image-folder`` equal ``load_cifar10``'s, byte for
    byte and in the same order (both decode with libjpeg; 32×32 needs no resizing)."""
    from semcom.data import load_cifar10

    ours = load_image_folder(SHARED_TARBALL)
    theirs = load_cifar10(SHARED_TARBALL)
    assert ours[2].classes == theirs[2].classes and ours[2].input_shape == (3, 32, 32)
    for a, b in zip(ours[:2], theirs[:2], strict=True):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    grey = load_image_folder(SHARED_TARBALL, image_size=(16, 24), channels=1)
    assert grey[0].images.shape == (50000, 1, 16, 24)
