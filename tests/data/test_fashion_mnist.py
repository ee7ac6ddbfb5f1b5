"""The Fashion-MNIST acquisition chain, in order, on generated files in the real layouts."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

import semcom.data.fashion_mnist as fm
from semcom.data import (
    FASHION_MNIST_CLASSES,
    DataFormatError,
    DataUnavailableError,
    build_dataset,
    ensure_fashion_mnist,
    load_fashion_mnist,
    write_idx_fashion_mnist,
)
from semcom.data.idx import encode_idx

if TYPE_CHECKING:
    from conftest import Isolation

DEBIAN_NAMES = sorted(f"{base}.gz" for base in fm.FILES.values())


def _n_train(root: Path | str | None) -> int:
    train, _, _ = load_fashion_mnist(root)
    return len(train)


def test_loads_torchvision_layout(tmp_path: Path) -> None:
    write_idx_fashion_mnist(tmp_path, n_train=40, n_test=12, seed=3, gz=False)
    train, test, info = load_fashion_mnist(tmp_path)
    assert (len(train), len(test)) == (40, 12)
    assert train.images.shape == (40, 1, 28, 28) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.int64 and int(train.labels.max()) <= 9
    assert info.name == "fashion-mnist" and info.classes == FASHION_MNIST_CLASSES
    assert (info.num_classes, info.in_channels, info.image_size) == (10, 1, (28, 28))
    x, y = train.batch(torch.arange(4))
    assert x.shape == (4, 1, 28, 28) and 0 <= float(x.min()) <= float(x.max()) <= 1


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("layout", ["torchvision", "debian"])
def test_compressed_and_flat_files_are_found(tmp_path: Path, gz: bool, layout: str) -> None:
    write_idx_fashion_mnist(tmp_path, n_train=20, n_test=10, gz=gz, layout=layout)  # type: ignore[arg-type]
    assert ensure_fashion_mnist(tmp_path) == tmp_path
    assert _n_train(tmp_path) == 20


def test_same_bytes_from_gz_and_plain_files(tmp_path: Path) -> None:
    write_idx_fashion_mnist(tmp_path / "a", 30, 10, seed=5, gz=True)
    write_idx_fashion_mnist(tmp_path / "b", 30, 10, seed=5, gz=False)
    a, b = load_fashion_mnist(tmp_path / "a")[0], load_fashion_mnist(tmp_path / "b")[0]
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)


def test_root_argument_beats_env_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = tmp_path / "xdg" / "semcom" / "data"  # XDG_CACHE_HOME is tmp_path/xdg
    write_idx_fashion_mnist(default, n_train=11, n_test=5)
    assert ensure_fashion_mnist(None) == default and _n_train(None) == 11
    write_idx_fashion_mnist(tmp_path / "env", n_train=12, n_test=5)
    monkeypatch.setenv("SEMCOM_DATA", str(tmp_path / "env"))
    assert ensure_fashion_mnist(None) == tmp_path / "env" and _n_train(None) == 12
    write_idx_fashion_mnist(tmp_path / "arg", n_train=13, n_test=5)
    assert ensure_fashion_mnist(str(tmp_path / "arg")) == tmp_path / "arg"
    assert _n_train(tmp_path / "arg") == 13
    train, _, _ = build_dataset("fashion-mnist", str(tmp_path / "arg"))
    assert len(train) == 13


def test_default_root_without_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    from semcom.data import default_data_root

    assert default_data_root() == tmp_path / "home" / ".cache" / "semcom" / "data"


def test_debian_files_are_unpacked_into_torchvision_layout(
    tmp_path: Path, isolated_data: Isolation
) -> None:
    written = write_idx_fashion_mnist(isolated_data.debian, 25, 10, seed=1, layout="debian")
    assert sorted(p.name for p in written.iterdir()) == DEBIAN_NAMES  # the package's names
    root = tmp_path / "root"
    assert ensure_fashion_mnist(root) == root
    raw = root / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(fm.FILES.values())  # uncompressed
    for base in fm.FILES.values():
        assert (raw / base).read_bytes() == gzip.decompress(
            (isolated_data.debian / f"{base}.gz").read_bytes()
        )
    # torchvision's own loader accepts what we unpacked
    from torchvision.datasets import FashionMNIST

    theirs = FashionMNIST(str(root), train=True, download=False)
    ours = load_fashion_mnist(root)[0]
    assert torch.equal(theirs.data, ours.images[:, 0]) and torch.equal(theirs.targets, ours.labels)
    shutil.rmtree(isolated_data.debian)  # second call: found under the root, Debian not needed
    assert ensure_fashion_mnist(root) == root


def test_data_root_wins_over_debian(tmp_path: Path, isolated_data: Isolation) -> None:
    write_idx_fashion_mnist(isolated_data.debian, 25, 10, layout="debian")
    write_idx_fashion_mnist(tmp_path / "root", 17, 10)
    assert _n_train(tmp_path / "root") == 17


def test_debian_is_used_before_the_download(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[Path] = []
    monkeypatch.setattr(fm, "download_fashion_mnist", downloads.append)
    write_idx_fashion_mnist(isolated_data.debian, 25, 10, layout="debian")
    assert _n_train(tmp_path / "root") == 25 and downloads == []
    shutil.rmtree(tmp_path / "root")
    shutil.rmtree(isolated_data.debian)
    with pytest.raises(DataUnavailableError):  # the fake download "succeeds" but writes nothing
        ensure_fashion_mnist(tmp_path / "root")
    assert downloads == [tmp_path / "root"]


def test_unwritable_root_reads_debian_files_in_place(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_idx_fashion_mnist(isolated_data.debian, 25, 10, layout="debian")

    def read_only(path: Path, data: bytes) -> None:
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr(fm, "write_atomic", read_only)
    assert ensure_fashion_mnist(tmp_path / "ro") == isolated_data.debian
    assert _n_train(tmp_path / "ro") == 25


def test_corrupt_debian_files_are_reported_and_not_copied(
    tmp_path: Path, isolated_data: Isolation
) -> None:
    write_idx_fashion_mnist(isolated_data.debian, 25, 10, layout="debian")
    labels = isolated_data.debian / "train-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-12])
    with pytest.raises(DataFormatError, match="train-labels-idx1-ubyte.gz"):
        ensure_fashion_mnist(tmp_path / "root")
    assert not (tmp_path / "root" / "FashionMNIST" / "raw").exists()


def test_download_is_tried_after_debian_and_lands_in_torchvision_layout(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real download function with torchvision's class replaced by a fake."""
    import torchvision.datasets

    calls: list[tuple[str, bool]] = []

    class FakeFashionMNIST:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            calls.append((root, download))
            write_idx_fashion_mnist(root, 21, 10, gz=False)  # as torchvision leaves raw/

    monkeypatch.setattr(fm, "download_fashion_mnist", isolated_data.fashion_download)
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)
    root = tmp_path / "root"
    assert ensure_fashion_mnist(root) == root
    assert len(calls) == 1 and calls[0][1] is True
    assert Path(calls[0][0]).parent == root  # a staging directory inside the root ...
    assert not Path(calls[0][0]).exists()  # ... removed afterwards
    assert _n_train(root) == 21


def test_failed_download_leaves_nothing_and_error_names_the_three_ways(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torchvision.datasets

    class Offline:
        def __init__(self, root: str, train: bool = True, download: bool = False) -> None:
            raw = Path(root) / "FashionMNIST" / "raw"
            raw.mkdir(parents=True)
            (raw / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: no network")

    monkeypatch.setattr(fm, "download_fashion_mnist", isolated_data.fashion_download)
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", Offline)
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError) as info:
        ensure_fashion_mnist(root)
    message = str(info.value)
    assert "--data-root" in message and "SEMCOM_DATA" in message  # way 1
    assert "apt-get install -y dataset-fashion-mnist" in message  # way 2
    assert str(isolated_data.debian) in message  # the package's directory (patched here)
    assert "semcom data fashion-mnist --install" in message
    assert "internet" in message and "torchvision" in message  # way 3
    assert "no network" in message  # what went wrong
    assert not (root / "FashionMNIST").exists()  # the partial download stayed in staging
    assert not isinstance(info.value, DataFormatError)


def _fake_apt(monkeypatch: pytest.MonkeyPatch, debian: Path, fail_first: bool) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(cmd))
        installs = [c for c in calls if "install" in c]
        if "install" in cmd and (not fail_first or len(installs) > 1):
            write_idx_fashion_mnist(debian, 23, 10, layout="debian")
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if "install" in cmd:
            return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(fm.subprocess, "run", run)
    monkeypatch.setattr(fm.shutil, "which", lambda name: f"/usr/bin/{name}")
    return calls


def test_apt_get_only_when_asked(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_apt(monkeypatch, isolated_data.debian, fail_first=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(DataUnavailableError):
        ensure_fashion_mnist(tmp_path / "root")
    assert calls == []


def test_apt_get_not_without_root(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_apt(monkeypatch, isolated_data.debian, fail_first=False)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(DataUnavailableError, match="not running as root"):
        ensure_fashion_mnist(tmp_path / "root", install_system_package=True)
    assert calls == []


def test_apt_get_install_then_debian_files(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_apt(monkeypatch, isolated_data.debian, fail_first=False)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    root = tmp_path / "root"
    assert ensure_fashion_mnist(root, install_system_package=True) == root
    assert calls == [
        ["/usr/bin/apt-get", "install", "-y", "--no-install-recommends", "dataset-fashion-mnist"]
    ]
    assert _n_train(root) == 23


def test_apt_get_update_when_install_fails(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _fake_apt(monkeypatch, isolated_data.debian, fail_first=True)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    root = tmp_path / "root"
    assert ensure_fashion_mnist(root, install_system_package=True) == root
    assert [c[1] for c in calls] == ["install", "update", "install"]


def test_apt_get_failure_is_reported(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 100, "", "E: Unable to locate package")

    monkeypatch.setattr(fm.subprocess, "run", run)
    monkeypatch.setattr(fm.shutil, "which", lambda name: "/usr/bin/apt-get")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(DataUnavailableError, match="Unable to locate package"):
        ensure_fashion_mnist(tmp_path / "root", install_system_package=True)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("train-images-idx3-ubyte", encode_idx(np.zeros((3, 28, 27), np.uint8)), "28, 28"),
        ("train-labels-idx1-ubyte", encode_idx(np.full(25, 10, np.uint8)), "out of range"),
        ("train-labels-idx1-ubyte", encode_idx(np.zeros(24, np.uint8)), "25 images"),
        ("t10k-images-idx3-ubyte", b"\x00\x00\x08\x03" + b"\x00" * 5, "truncated IDX header"),
    ],
)
def test_wrong_contents_name_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    write_idx_fashion_mnist(tmp_path, 25, 10, gz=False)
    (tmp_path / "FashionMNIST" / "raw" / name).write_bytes(content)
    with pytest.raises(DataFormatError, match=message) as info:
        load_fashion_mnist(tmp_path)
    assert name in str(info.value)


def test_debian_constants(isolated_data: Isolation) -> None:
    assert isolated_data.real_debian == Path("/usr/share/datasets/fashion-mnist")
    assert fm.DEBIAN_PACKAGE == "dataset-fashion-mnist"


def test_real_debian_package_files_if_installed(
    tmp_path: Path, isolated_data: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``dataset-fashion-mnist`` installed: the real files load, 6 000 per class."""
    if fm.find_files(isolated_data.real_debian) is None:
        pytest.skip("dataset-fashion-mnist is not installed")
    monkeypatch.setattr(fm, "DEBIAN_FASHION_MNIST_DIR", isolated_data.real_debian)
    train, test, _ = load_fashion_mnist(tmp_path / "root")
    assert train.images.shape == (60000, 1, 28, 28) and test.images.shape == (10000, 1, 28, 28)
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert (tmp_path / "root" / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()
