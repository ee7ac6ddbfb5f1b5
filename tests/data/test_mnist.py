"""MNIST's acquisition chain on generated files: torchvision's layout, raw files, the download."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import semcom.data.mnist as mnist
from semcom.data import (
    MNIST_CLASSES,
    DataFormatError,
    DataUnavailableError,
    build_dataset,
    ensure_mnist,
    load_mnist,
    make_pattern_images,
    write_idx_fashion_mnist,
    write_mnist_raw,
    write_mnist_torchvision,
)
from semcom.data.idx import encode_idx
from semcom.data.idx_set import FILES


def _expected(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return make_pattern_images(n, seed=seed, size=28)


@pytest.mark.parametrize("gz", [False, True])
def test_torchvision_layout(tmp_path: Path, gz: bool) -> None:
    raw = write_mnist_torchvision(tmp_path, n_train=30, n_test=10, seed=2, gz=gz)
    assert raw == tmp_path / "MNIST" / "raw"
    assert ensure_mnist(tmp_path) == tmp_path
    train, test, info = load_mnist(tmp_path)
    assert train.images.shape == (30, 1, 28, 28) and train.images.dtype == torch.uint8
    assert torch.equal(train.images, _expected(30, 4)[0])
    assert torch.equal(train.labels, _expected(30, 4)[1])
    assert torch.equal(test.images, _expected(10, 5)[0]) and len(test) == 10
    assert info.name == "mnist" and info.classes == MNIST_CLASSES == tuple("0123456789")
    assert (info.num_classes, info.input_shape) == (10, (1, 28, 28))


@pytest.mark.parametrize("gz", [True, False])
def test_raw_files_directly_in_the_root(tmp_path: Path, gz: bool) -> None:
    write_mnist_raw(tmp_path, n_train=20, n_test=10, gz=gz)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert all(n.endswith(".gz") == gz for n in names) and len(names) == 4
    train, test, _ = load_mnist(tmp_path)
    assert (len(train), len(test)) == (20, 10)


def test_torchvision_layout_wins_over_flat_files(tmp_path: Path) -> None:
    write_mnist_raw(tmp_path, n_train=11, n_test=10)
    write_mnist_torchvision(tmp_path, n_train=12, n_test=10)
    assert len(load_mnist(tmp_path)[0]) == 12


def test_root_argument_beats_env_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mnist_torchvision(tmp_path / "xdg" / "semcom" / "data", n_train=11, n_test=5)
    assert len(load_mnist(None)[0]) == 11
    write_mnist_torchvision(tmp_path / "env", n_train=12, n_test=5)
    monkeypatch.setenv("SEMCOM_DATA", str(tmp_path / "env"))
    assert len(load_mnist(None)[0]) == 12
    write_mnist_raw(tmp_path / "arg", n_train=13, n_test=5)
    assert len(build_dataset("mnist", str(tmp_path / "arg"))[0]) == 13


def test_fashion_mnist_layout_is_not_mnist(tmp_path: Path) -> None:
    write_idx_fashion_mnist(tmp_path, n_train=10, n_test=5)  # FashionMNIST/raw/
    with pytest.raises(DataUnavailableError, match="MNIST is not available"):
        load_mnist(tmp_path)


def test_torchvision_reads_what_the_writer_wrote(tmp_path: Path) -> None:
    from torchvision.datasets import MNIST

    write_mnist_torchvision(tmp_path, n_train=15, n_test=5)
    theirs = MNIST(str(tmp_path), train=True, download=False)
    ours = load_mnist(tmp_path)[0]
    assert torch.equal(theirs.data, ours.images[:, 0]) and torch.equal(theirs.targets, ours.labels)


def test_download_is_the_last_step_and_lands_in_torchvision_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_mnist: Callable[[Path], None]
) -> None:
    import torchvision.datasets

    calls: list[tuple[str, bool]] = []

    class FakeMNIST:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            calls.append((root, download))
            write_mnist_torchvision(root, n_train=21, n_test=10, gz=True)

    monkeypatch.setattr(mnist, "download_mnist", isolated_mnist)
    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    root = tmp_path / "root"
    assert ensure_mnist(root) == root
    assert len(calls) == 1 and calls[0][1] is True
    assert Path(calls[0][0]).parent == root and not Path(calls[0][0]).exists()  # staging, gone
    raw = root / "MNIST" / "raw"
    names = sorted(p.name for p in raw.iterdir())
    assert names == sorted(FILES.values())  # validated and unpacked
    assert len(load_mnist(root)[0]) == 21
    ensure_mnist(root)  # found now: no second download
    assert len(calls) == 1


def test_found_data_is_never_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(mnist, "download_mnist", calls.append)
    write_mnist_raw(tmp_path, n_train=10, n_test=5)
    load_mnist(tmp_path)
    assert calls == []


def test_failed_download_explains_every_place_and_way(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_mnist: Callable[[Path], None]
) -> None:
    import torchvision.datasets

    class Offline:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            raw = Path(root) / "MNIST" / "raw"
            raw.mkdir(parents=True)
            (raw / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    monkeypatch.setattr(mnist, "download_mnist", isolated_mnist)
    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError) as info:
        ensure_mnist(root)
    message = str(info.value)
    assert str(root / "MNIST" / "raw") in message and f"and {root})." in message  # where
    assert "--data-root" in message and "SEMCOM_DATA" in message  # way 1
    assert "train-images-idx3-ubyte" in message and ".gz" in message
    assert "internet" in message and "semcom data mnist" in message  # way 2
    assert "Debian packages no MNIST" in message
    assert "torchvision download failed: RuntimeError" in message and "no network" in message
    assert not isinstance(info.value, DataFormatError)
    assert list(root.iterdir()) == []  # the partial download stayed in staging


def test_a_download_that_leaves_nothing_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist, "download_mnist", lambda root: None)
    with pytest.raises(DataUnavailableError, match="finished but left no files"):
        ensure_mnist(tmp_path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("train-images-idx3-ubyte", encode_idx(np.zeros((3, 28, 27), np.uint8)), "28, 28"),
        ("train-labels-idx1-ubyte", encode_idx(np.full(20, 10, np.uint8)), "out of range 0..9"),
        ("train-labels-idx1-ubyte", encode_idx(np.zeros(19, np.uint8)), "20 images"),
        ("t10k-labels-idx1-ubyte", encode_idx(np.zeros((5, 2), np.uint8)), "uint8 labels"),
        ("t10k-images-idx3-ubyte", b"\x00\x00\x08\x03" + b"\x00" * 5, "truncated IDX header"),
    ],
)
def test_corrupt_files_name_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    write_mnist_torchvision(tmp_path, n_train=20, n_test=5)
    (tmp_path / "MNIST" / "raw" / name).write_bytes(content)
    with pytest.raises(DataFormatError, match=message) as info:
        load_mnist(tmp_path)
    assert name in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    write_mnist_raw(tmp_path, n_train=20, n_test=5, gz=True)
    labels = tmp_path / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-9])
    with pytest.raises(DataFormatError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist(tmp_path)


def test_mnist_takes_no_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'mnist' takes no option image_size"):
        build_dataset("mnist", str(tmp_path), image_size=(32, 32))
