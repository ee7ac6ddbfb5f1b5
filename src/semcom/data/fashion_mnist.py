"""Fashion-MNIST (Zalando, MIT): 60 000 train + 10 000 test grey 28×28 images, 10 classes.

:func:`ensure_fashion_mnist` finds or fetches the files, in this order:

1. the data root: the ``root`` argument (``--data-root``), else ``$SEMCOM_DATA``, else
   ``~/.cache/semcom/data`` (``$XDG_CACHE_HOME/semcom/data`` when set; see
   :mod:`semcom.data.paths`);
2. torchvision's layout under it, ``<root>/FashionMNIST/raw/{train,t10k}-{images-idx3,
   labels-idx1}-ubyte`` (each file may also be ``.gz``), or the four files directly in ``<root>``;
3. Debian's ``dataset-fashion-mnist`` package files, ``/usr/share/datasets/fashion-mnist/*.gz``
   (:data:`DEBIAN_FASHION_MNIST_DIR`), validated and unpacked into torchvision's layout under the
   root (so torchvision's own ``FashionMNIST(root)`` finds them too);
4. torchvision's download (``FashionMNIST(root, download=True)``, needs internet), into a staging
   directory, validated, then moved into place;
5. only if asked (``install_system_package=True``, ``semcom data fashion-mnist --install``) and
   running as root with ``apt-get`` present: ``apt-get install -y dataset-fashion-mnist`` (after
   ``apt-get update`` if the first attempt fails), then step 3 again;
6. otherwise :class:`DataUnavailableError` naming the ways to get it.

The files are read by :mod:`semcom.data.idx` (header and length checks), not by torchvision;
finding, checking, unpacking and loading them is shared with MNIST (:mod:`semcom.data.idx_set`).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from semcom.data.errors import DataUnavailableError
from semcom.data.idx import write_atomic
from semcom.data.idx_set import FILES as FILES  # re-exported: the file names
from semcom.data.idx_set import IdxImageSet, find_files
from semcom.data.info import DatasetInfo
from semcom.data.paths import DATA_ENV, resolve_data_root
from semcom.data.tensor_dataset import ImageTensorDataset

log = logging.getLogger(__name__)

#: Class names, index = label.
FASHION_MNIST_CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
#: The set's files, checks and loader (torchvision's folder ``FashionMNIST``).
FASHION_MNIST = IdxImageSet("fashion-mnist", "Fashion-MNIST", "FashionMNIST", FASHION_MNIST_CLASSES)

#: Where Debian's ``dataset-fashion-mnist`` package installs the four ``.gz`` files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The Debian package name.
DEBIAN_PACKAGE = "dataset-fashion-mnist"


def raw_dir(data_root: str | os.PathLike[str]) -> Path:
    """torchvision's folder for the files: ``<data_root>/FashionMNIST/raw``."""
    return FASHION_MNIST.raw_dir(data_root)


def locate_fashion_mnist(data_root: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The files under ``data_root`` (torchvision's layout, else directly in it), or ``None``."""
    return FASHION_MNIST.locate(data_root)


def unavailable_message(data_root: Path, tried: list[str]) -> str:
    """The error text: where we looked, what was tried, and the three ways to get the data."""
    lines = [
        f"Fashion-MNIST is not available (looked in {raw_dir(data_root)} and {data_root}).",
        "Get it in one of three ways:",
        f"  1. pass --data-root DIR (or set {DATA_ENV}=DIR) to a directory holding it: "
        "torchvision's layout DIR/FashionMNIST/raw/ or the four *-ubyte[.gz] files in DIR;",
        f"  2. install Debian's package (as root): sudo apt-get update && sudo apt-get install -y "
        f"{DEBIAN_PACKAGE}  (files in {DEBIAN_FASHION_MNIST_DIR}/), or run "
        "`semcom data fashion-mnist --install` as root;",
        "  3. with internet access, torchvision downloads it into the data root: "
        "`semcom data fashion-mnist` (or any run).",
    ]
    if tried:
        lines.append("Tried: " + "; ".join(tried))
    return "\n".join(lines)


def _install_into(files: dict[str, Path], target: Path) -> None:
    """Validate ``files`` and write them uncompressed into ``target`` (atomically, per file)."""
    FASHION_MNIST.install_into(files, target, write=write_atomic)


def _copy_from_debian(data_root: Path, tried: list[str]) -> Path | None:
    """Step 3: unpack Debian's files into torchvision's layout; the directory to use, or None."""
    files = find_files(DEBIAN_FASHION_MNIST_DIR)
    if files is None:
        tried.append(f"no {DEBIAN_PACKAGE} files in {DEBIAN_FASHION_MNIST_DIR}")
        return None
    try:
        _install_into(files, raw_dir(data_root))
    except OSError as exc:  # read-only data root: use the package's files where they are
        log.warning("cannot write to %s (%s); reading %s directly", data_root, exc, files)
        return DEBIAN_FASHION_MNIST_DIR
    log.info("unpacked %s into %s", DEBIAN_FASHION_MNIST_DIR, raw_dir(data_root))
    return data_root


def download_fashion_mnist(data_root: Path) -> None:
    """Step 4: torchvision's download into a staging directory, validated, moved into place.

    Raises whatever torchvision or the file system raise (the caller records it).
    """
    FASHION_MNIST.download(data_root, write=write_atomic)


def _apt_get_install(tried: list[str]) -> bool:
    """Step 5: ``apt-get install -y dataset-fashion-mnist``, ``apt-get update`` first on failure."""
    apt = shutil.which("apt-get")
    if apt is None:
        tried.append("apt-get not found")
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [apt, "install", "-y", "--no-install-recommends", DEBIAN_PACKAGE]
    log.info("running: %s", " ".join(install))
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        log.info("install failed; running apt-get update and trying again")
        subprocess.run([apt, "update"], capture_output=True, text=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout or "").strip().splitlines()[-1:]
        tried.append(
            f"apt-get install {DEBIAN_PACKAGE} failed ({result.returncode}): " + " ".join(detail)
        )
        return False
    return True


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def ensure_fashion_mnist(
    root: str | os.PathLike[str] | None = None, install_system_package: bool = False
) -> Path:
    """Make sure Fashion-MNIST is on disk; return the directory to load it from.

    Follows the order in the module docstring. The returned directory holds the files in
    torchvision's layout (``<dir>/FashionMNIST/raw/``) or directly; :func:`load_fashion_mnist`
    accepts either. Usually it is the data root; it is Debian's directory itself when the data
    root cannot be written.

    Raises:
        DataUnavailableError: nothing worked; the message names the ways to get the data.
        DataFormatError: a file was found but is corrupt (the message names it).
    """
    data_root = resolve_data_root(root)
    tried: list[str] = []
    if locate_fashion_mnist(data_root) is not None:
        return data_root
    tried.append(f"not in {raw_dir(data_root)}")

    found = _copy_from_debian(data_root, tried)
    if found is not None:
        return found

    if FASHION_MNIST.try_download(download_fashion_mnist, data_root, tried):
        return data_root

    if install_system_package:
        if not _is_root():
            tried.append(f"not installing {DEBIAN_PACKAGE}: not running as root")
        elif _apt_get_install(tried):
            found = _copy_from_debian(data_root, tried)
            if found is not None:
                return found
    raise DataUnavailableError(unavailable_message(data_root, tried))


def load_fashion_mnist(
    root: str | os.PathLike[str] | None = None,
) -> tuple[ImageTensorDataset, ImageTensorDataset, DatasetInfo]:
    """Train and test sets (uint8 ``[N, 1, 28, 28]`` in memory) and their :class:`DatasetInfo`.

    Runs :func:`ensure_fashion_mnist` (without the system install) first. Sample order is the
    files' order.
    """
    directory = ensure_fashion_mnist(root)
    files = locate_fashion_mnist(directory)
    if files is None:  # pragma: no cover - ensure_fashion_mnist just found them
        raise DataUnavailableError(unavailable_message(Path(directory), []))
    return FASHION_MNIST.load(files)
