"""CIFAR-10 from torchvision's pickles, an ImageFolder and archives, with the .npy cache."""

from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

import semcom.data.cifar10 as cifar10
import semcom.data.decode as decode
from semcom.data import (
    CIFAR10_CLASSES,
    DataFormatError,
    DataUnavailableError,
    build_dataset,
    find_cifar10,
    load_cifar10,
    make_pattern_images,
    write_cifar_imagefolder,
    write_cifar_torchvision,
    write_tarball,
)

if TYPE_CHECKING:
    from conftest import Isolation

SHARED_TARBALL = Path(__file__).resolve().parents[3] / "shared" / "data" / "cifar10-jpeg.tar.gz"


def _expected(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return make_pattern_images(n, seed=seed, size=32, channels=3)


def test_torchvision_format(tmp_path: Path) -> None:
    folder = write_cifar_torchvision(tmp_path, n_train=23, n_test=7, seed=1)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*cifar10.TRAIN_BATCHES, "test_batch", "batches.meta"]
    )
    for root in (tmp_path, folder):  # the parent or the folder itself
        train, test, info = load_cifar10(root)
        images, labels = _expected(23, seed=2)
        assert torch.equal(train.images, images) and torch.equal(train.labels, labels)
        assert torch.equal(test.images, _expected(7, seed=3)[0])
        assert info.classes == CIFAR10_CLASSES and info.in_channels == 3
        assert info.image_size == (32, 32) and info.name == "cifar10"


def test_torchvision_format_with_py2_style_bytes_keys(tmp_path: Path) -> None:
    """The original files were written by Python 2: keys and names may come back as bytes."""
    folder = write_cifar_torchvision(tmp_path, n_train=10, n_test=5)
    for name in (*cifar10.TRAIN_BATCHES, "test_batch", "batches.meta"):
        batch = pickle.loads((folder / name).read_bytes())
        as_bytes = {
            k.encode(): ([v_.encode() for v_ in v] if k == "label_names" else v)
            for k, v in batch.items()
        }
        (folder / name).write_bytes(pickle.dumps(as_bytes, protocol=2))
    train, _, info = load_cifar10(tmp_path)
    assert len(train) == 10 and info.classes == CIFAR10_CLASSES


def test_malicious_pickle_is_refused(tmp_path: Path) -> None:
    folder = write_cifar_torchvision(tmp_path, n_train=10, n_test=5)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    (folder / "data_batch_3").write_bytes(pickle.dumps({"data": Evil()}, protocol=2))
    with pytest.raises(DataFormatError, match="refusing to load global") as info:
        load_cifar10(tmp_path)
    assert "data_batch_3" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ([1, 2, 3], "expected a dict"),
        ({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}, "uint8"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, "labels"),
        ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 12]}, "labels outside"),
    ],
)
def test_bad_batches_are_rejected(tmp_path: Path, batch: object, message: str) -> None:
    folder = write_cifar_torchvision(tmp_path, n_train=10, n_test=5)
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(DataFormatError, match=message):
        load_cifar10(tmp_path)


def test_imagefolder_png_is_lossless_and_class_balanced_in_order(tmp_path: Path) -> None:
    write_cifar_imagefolder(tmp_path / "folder", n_train=40, n_test=20, seed=4, ext="png")
    train, test, info = load_cifar10(tmp_path / "folder")
    assert info.classes == CIFAR10_CLASSES and train.images.shape == (40, 3, 32, 32)
    images, labels = _expected(40, seed=8)

    # same multiset of (image, label) as generated: compare content fingerprints
    def key(x: torch.Tensor, y: torch.Tensor) -> list[str]:
        return [
            hashlib.sha1(i.numpy().tobytes()).hexdigest() + str(int(c))
            for i, c in zip(x, y, strict=True)
        ]

    assert sorted(key(train.images, train.labels)) == sorted(key(images, labels))
    # round-robin over classes: the first 10 samples hold each class once
    assert sorted(train.labels[:10].tolist()) == list(range(10))
    assert len(test) == 20


def test_imagefolder_jpeg_and_fewer_classes(tmp_path: Path) -> None:
    write_cifar_imagefolder(tmp_path, n_train=30, n_test=10, ext="jpg", quality=90)
    for split in ("train", "test"):
        for name in CIFAR10_CLASSES[3:]:
            for f in (tmp_path / split / name).iterdir():
                f.unlink()
            (tmp_path / split / name).rmdir()
    train, test, info = load_cifar10(tmp_path)
    assert info.classes == CIFAR10_CLASSES[:3] and info.num_classes == 3
    assert set(train.labels.tolist()) <= {0, 1, 2} and len(train) == int(
        (_expected(30, 0)[1] < 3).sum()
    )
    images = _expected(30, 0)[0][_expected(30, 0)[1] < 3]
    error = (train.images.float().mean() - images.float().mean()).abs()
    assert error < 2  # JPEG is lossy but close


def test_archive_is_decoded_once_then_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cifar_imagefolder(tmp_path / "src", n_train=30, n_test=10, ext="png")
    archive = write_tarball(tmp_path / "src", tmp_path / "data" / "cifar10-jpeg.tar.gz")
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] in {"test", "train"}  # rooted like the shared tarball
    first = load_cifar10(archive)
    entries = list((tmp_path / "xdg" / "semcom" / "decoded").iterdir())
    assert len(entries) == 1 and (entries[0] / "train_images.npy").is_file()

    def no_decoding(*args: object) -> None:
        raise AssertionError("decoded again despite the cache")

    monkeypatch.setattr(cifar10, "_read_archive", no_decoding)
    for root in (archive, tmp_path / "data"):  # the archive, or a folder holding it
        second = load_cifar10(root)
        assert torch.equal(first[0].images, second[0].images)
        assert torch.equal(first[1].labels, second[1].labels)
        assert first[2] == second[2]
    os.utime(archive, ns=(time.time_ns(), time.time_ns() + 10**9))  # a changed source ...
    with pytest.raises(AssertionError, match="decoded again"):  # ... is decoded again
        load_cifar10(archive)


def test_archive_with_a_prefix_folder_and_torchvision_archive(tmp_path: Path) -> None:
    write_cifar_imagefolder(tmp_path / "src", n_train=20, n_test=10)
    archive = write_tarball(tmp_path / "src", tmp_path / "a.tgz", arcname="cifar10")
    train, _, _ = load_cifar10(archive)
    assert len(train) == 20
    folder = write_cifar_torchvision(tmp_path / "tv", n_train=20, n_test=10)
    archive = write_tarball(folder, tmp_path / "cifar-10-python.tar.gz", arcname=folder.name)
    tv_train, _, _ = load_cifar10(archive)
    assert torch.equal(tv_train.images, _expected(20, seed=0)[0])


def test_imagefolder_cache_notices_new_files(tmp_path: Path) -> None:
    write_cifar_imagefolder(tmp_path, n_train=20, n_test=10)
    assert len(load_cifar10(tmp_path)[0]) == 20
    assert len(load_cifar10(tmp_path)[0]) == 20  # from the cache
    cat = tmp_path / "train" / "cat"
    (cat / "extra.png").write_bytes(next(cat.iterdir()).read_bytes())
    assert len(load_cifar10(tmp_path)[0]) == 21


def test_unwritable_cache_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xdg").write_text("a file, not a directory")  # the cache cannot be created
    write_cifar_imagefolder(tmp_path / "d", n_train=20, n_test=10)
    assert len(load_cifar10(tmp_path / "d")[0]) == 20


def test_corrupt_inputs_name_the_file(tmp_path: Path) -> None:
    write_cifar_imagefolder(tmp_path / "d", n_train=20, n_test=10)
    bad = next((tmp_path / "d" / "test" / "cat").iterdir())
    bad.write_bytes(b"not an image")
    with pytest.raises(DataFormatError, match="cannot decode image") as info:
        load_cifar10(tmp_path / "d")
    assert "cat/" + bad.name in str(info.value)

    archive = write_tarball(tmp_path / "d", tmp_path / "c.tar.gz")
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(DataFormatError, match="corrupt or truncated archive"):
        load_cifar10(archive)

    empty = tmp_path / "e"
    (empty / "x").mkdir(parents=True)
    write_tarball(empty, tmp_path / "empty.tar.gz")
    with pytest.raises(DataFormatError, match="neither"):
        load_cifar10(tmp_path / "empty.tar.gz")


def test_find_cifar10_formats(tmp_path: Path) -> None:
    assert find_cifar10(tmp_path / "missing") is None
    assert find_cifar10(tmp_path) is None
    write_cifar_imagefolder(tmp_path / "cifar10", n_train=10, n_test=10)
    assert find_cifar10(tmp_path) == ("imagefolder", tmp_path / "cifar10")
    folder = write_cifar_torchvision(tmp_path, n_train=10, n_test=5)
    assert find_cifar10(tmp_path) == ("torchvision", folder)


def test_missing_data_tries_the_download_then_explains(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    class Offline:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            (Path(root) / "cifar-10-python.tar.gz").write_bytes(b"partial")
            raise RuntimeError("simulated: no network")

    monkeypatch.setattr(cifar10, "download_cifar10", isolated_data.cifar_download)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Offline)
    with pytest.raises(DataUnavailableError) as info:
        build_dataset("cifar10", str(tmp_path / "root"))
    message = str(info.value)
    assert "--data-root" in message and "SEMCOM_DATA" in message and ".tar.gz" in message
    assert "simulated: no network" in message
    assert list((tmp_path / "root").iterdir()) == []  # the partial file stayed in staging


def test_download_success_lands_in_torchvision_format(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    class Online:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            write_cifar_torchvision(root, n_train=15, n_test=5)

    monkeypatch.setattr(cifar10, "download_cifar10", isolated_data.cifar_download)
    monkeypatch.setattr(torchvision.datasets, "CIFAR10", Online)
    train, _, _ = load_cifar10(tmp_path / "root")
    assert len(train) == 15
    assert (tmp_path / "root" / "cifar-10-batches-py" / "data_batch_1").is_file()


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_TARBALL.is_file(), reason="shared CIFAR-10 tarball not present")
def test_real_cifar10_tarball() -> None:
    t0 = time.perf_counter()
    train, test, info = load_cifar10(SHARED_TARBALL)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    train2, _, _ = load_cifar10(SHARED_TARBALL)
    cached = time.perf_counter() - t0
    print(f"CIFAR-10 tarball: first load {first:.1f} s, cached {cached:.2f} s")
    assert train.images.shape == (50000, 3, 32, 32) and test.images.shape == (10000, 3, 32, 32)
    assert info.classes == CIFAR10_CLASSES
    assert torch.bincount(train.labels).tolist() == [5000] * 10
    assert torch.bincount(test.labels[:1000]).tolist() == [100] * 10  # balanced prefixes
    assert torch.equal(train.images, train2.images)
    assert cached < first


def test_pillow_decodes_when_torchvision_cannot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_cifar_imagefolder(tmp_path / "d", n_train=20, n_test=10, ext="jpg")
    fast = load_cifar10(tmp_path / "d")[0]
    monkeypatch.setattr(decode, "_torchvision_decoder", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-cache"))
    slow = load_cifar10(tmp_path / "d")[0]
    assert torch.equal(fast.images, slow.images)  # the same libjpeg decode


def test_images_of_another_size_are_rejected(tmp_path: Path) -> None:
    write_cifar_imagefolder(tmp_path / "d", n_train=20, n_test=10)
    write_cifar_imagefolder(tmp_path / "big", n_train=1, n_test=1, size=40)
    odd = next((tmp_path / "big" / "train").rglob("*.png"))
    (tmp_path / "d" / "train" / "cat" / "zz.png").write_bytes(odd.read_bytes())
    with pytest.raises(DataFormatError, match="zz.png: image is 40×40, the others 32×32"):
        load_cifar10(tmp_path / "d")


def test_missing_archive_path_is_not_downloaded_into(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(cifar10, "download_cifar10", calls.append)
    with pytest.raises(DataUnavailableError, match="no archive"):
        load_cifar10(tmp_path / "cifar10-jpeg.tar.gz")
    assert calls == [] and not (tmp_path / "cifar10-jpeg.tar.gz").exists()
