"""Isolation for data tests: no real data root, cache, Debian files or network are ever used."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import semcom.data.cifar10 as cifar10
import semcom.data.fashion_mnist as fashion_mnist


def _no_network(*args: object, **kwargs: object) -> None:
    raise RuntimeError("simulated: no internet in tests")


@dataclass
class Isolation:
    debian: Path  #: the (not yet created) stand-in for /usr/share/datasets/fashion-mnist
    fashion_download: Callable[[Path], None]  #: the real download functions, patched out
    cifar_download: Callable[[Path], None]
    real_debian: Path  #: the real DEBIAN_FASHION_MNIST_DIR


@pytest.fixture(autouse=True)
def isolated_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Isolation:
    """Cache and default data root under ``tmp_path/xdg``; no ``SEMCOM_DATA``; an empty Debian
    directory; downloads fail (the real functions are handed back for tests that fake
    torchvision instead)."""
    debian = tmp_path / "debian-fashion-mnist"
    real = Isolation(
        debian,
        fashion_mnist.download_fashion_mnist,
        cifar10.download_cifar10,
        fashion_mnist.DEBIAN_FASHION_MNIST_DIR,
    )
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("SEMCOM_DATA", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FASHION_MNIST_DIR", debian)
    monkeypatch.setattr(fashion_mnist, "download_fashion_mnist", _no_network)
    monkeypatch.setattr(cifar10, "download_cifar10", _no_network)
    return real


@pytest.fixture(autouse=True)
def isolated_mnist(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """MNIST's download fails as well; the real download function is handed back."""
    import semcom.data.mnist as mnist

    real = mnist.download_mnist
    monkeypatch.setattr(mnist, "download_mnist", _no_network)
    return real
