"""MNIST (LeCun, Cortes, Burges): 60 000 train + 10 000 test grey 28×28 digits, classes "0".."9".

:func:`ensure_mnist` finds or fetches the files, in this order:

1. the data root: the ``root`` argument (``--data-root`` / ``--root``), else ``$SEMCOM_DATA``,
   else ``~/.cache/semcom/data`` (see :mod:`semcom.data.paths`);
2. torchvision's layout under it, ``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``
   (each file may also be ``.gz``), or the four files directly in ``<root>`` (gzipped or not);
3. torchvision's download (``MNIST(root, download=True)``, needs internet), into a staging
   directory, validated, then moved into torchvision's layout under the root;
4. otherwise :class:`DataUnavailableError` naming the places looked in and the ways to get it.

Unlike Fashion-MNIST there is no Debian step: Debian (13, "trixie") packages no MNIST, only
``dataset-fashion-mnist`` (``apt-cache search mnist`` finds nothing else), so there are no
system files to look for. The four files have the same names as Fashion-MNIST's, so a directory
holding them *flat* loads as whichever of the two is asked for; torchvision's layout
(``MNIST/`` vs ``FashionMNIST/``) tells them apart. Reading, checking and loading are shared with
Fashion-MNIST (:mod:`semcom.data.idx_set`).
"""

from __future__ import annotations

import os
from pathlib import Path

from semcom.data.errors import DataUnavailableError
from semcom.data.idx_set import IdxImageSet
from semcom.data.info import DatasetInfo
from semcom.data.paths import DATA_ENV, resolve_data_root
from semcom.data.tensor_dataset import ImageTensorDataset

#: Class names, index = label: the digits.
MNIST_CLASSES: tuple[str, ...] = tuple(str(d) for d in range(10))
#: The set's files, checks and loader (torchvision's folder ``MNIST``).
MNIST = IdxImageSet("mnist", "MNIST", "MNIST", MNIST_CLASSES)


def locate_mnist(data_root: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The four files under ``data_root`` (``MNIST/raw/``, else directly in it), or ``None``.

    >>> locate_mnist("/nonexistent") is None
    True
    """
    return MNIST.locate(data_root)


def unavailable_message(data_root: Path, tried: list[str]) -> str:
    """The error text: where we looked, what was tried, and the ways to get MNIST."""
    lines = [
        f"MNIST is not available (looked in {MNIST.raw_dir(data_root)} and {data_root}).",
        "Get it in one of two ways:",
        f"  1. pass --data-root DIR (or set {DATA_ENV}=DIR; `semcom data mnist --root DIR`) to a "
        "directory holding it: torchvision's layout DIR/MNIST/raw/ or the four files "
        "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
        "t10k-labels-idx1-ubyte (each may be .gz) in DIR;",
        "  2. with internet access, torchvision downloads it into the data root: "
        "`semcom data mnist` (or any run).",
        "(Debian packages no MNIST, so there is no system package to install.)",
    ]
    if tried:
        lines.append("Tried: " + "; ".join(tried))
    return "\n".join(lines)


def download_mnist(data_root: Path) -> None:
    """Step 3: torchvision's download into a staging directory, validated, moved into place.

    Raises whatever torchvision or the file system raise (the caller records it).
    """
    MNIST.download(data_root)


def ensure_mnist(root: str | os.PathLike[str] | None = None) -> Path:
    """Make sure MNIST is on disk; return the directory to load it from (the data root).

    Files that are found are not read here (:func:`load_mnist` checks them); a download whose
    files fail the checks counts as a failed download.

    Raises:
        DataUnavailableError: not found and not downloadable; the message says how to get it.
    """
    data_root = resolve_data_root(root)
    if locate_mnist(data_root) is not None:
        return data_root
    tried = [f"not in {MNIST.raw_dir(data_root)} nor in {data_root}"]
    if MNIST.try_download(download_mnist, data_root, tried):
        return data_root
    raise DataUnavailableError(unavailable_message(data_root, tried))


def load_mnist(
    root: str | os.PathLike[str] | None = None,
) -> tuple[ImageTensorDataset, ImageTensorDataset, DatasetInfo]:
    """Train and test sets (uint8 ``[N, 1, 28, 28]`` in memory) and their :class:`DatasetInfo`.

    Runs :func:`ensure_mnist` first. Sample order is the files' order.

    Raises:
        DataUnavailableError: see :func:`ensure_mnist`.
        DataFormatError: a file is corrupt or truncated (the message names it).
    """
    directory = ensure_mnist(root)
    files = locate_mnist(directory)
    if files is None:  # pragma: no cover - ensure_mnist just found them
        raise DataUnavailableError(unavailable_message(directory, []))
    return MNIST.load(files)
