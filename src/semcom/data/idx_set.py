"""What MNIST and Fashion-MNIST share: four IDX files, torchvision's layout, checks and loading.

Both sets are 60 000 train + 10 000 test grey 28×28 images in 10 classes, stored as the same four
files (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
``t10k-labels-idx1-ubyte``, each possibly ``.gz``). torchvision keeps them in
``<root>/<Folder>/raw/`` (``MNIST``, ``FashionMNIST``). An :class:`IdxImageSet` describes one such
set; its methods find the files (torchvision's layout, else the four files directly in the
root), validate them, unpack them into torchvision's layout, run torchvision's download into a
staging directory, and load them into :class:`~semcom.data.tensor_dataset.ImageTensorDataset`.
The set-specific acquisition chains (Debian's package for Fashion-MNIST) live in
:mod:`semcom.data.fashion_mnist` and :mod:`semcom.data.mnist`.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from semcom.data.errors import DataFormatError
from semcom.data.idx import parse_idx, read_idx, read_idx_bytes, write_atomic
from semcom.data.info import DatasetInfo
from semcom.data.tensor_dataset import ImageTensorDataset

log = logging.getLogger(__name__)

#: Base file names (torchvision's uncompressed names; Debian and the original sites add ``.gz``).
FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Samples per split of the real sets (smaller generated files load too, with a log line).
SIZES: dict[str, int] = {"train": 60_000, "test": 10_000}

#: Writes ``bytes`` to a path atomically (:func:`semcom.data.idx.write_atomic` or a stand-in).
Writer = Callable[[Path, bytes], None]


def find_files(directory: str | os.PathLike[str]) -> dict[str, Path] | None:
    """The four files in ``directory`` (uncompressed preferred, else ``.gz``), or ``None``.

    >>> find_files("/nonexistent") is None
    True
    """
    directory = Path(directory)
    found: dict[str, Path] = {}
    for key, base in FILES.items():
        for name in (base, base + ".gz"):
            if (directory / name).is_file():
                found[key] = directory / name
                break
        else:
            return None
    return found


def download_failure(exc: BaseException) -> str:
    """One line for the error message: why torchvision's download did not work.

    >>> download_failure(RuntimeError("Error downloading x.gz:\\n  no network"))
    'torchvision download failed: RuntimeError: Error downloading x.gz:   no network'
    """
    lines = str(exc).strip().splitlines()
    return f"torchvision download failed: {type(exc).__name__}: " + " ".join(lines[-2:])


@dataclass(frozen=True)
class IdxImageSet:
    """One IDX-file image set.

    Attributes:
        name: canonical data set name (``"mnist"``, ``"fashion-mnist"``).
        title: how messages name it (``"MNIST"``).
        folder: torchvision's folder and class name (``"MNIST"``, ``"FashionMNIST"``).
        classes: class names, index = label.

    >>> MINI = IdxImageSet("mini", "Mini", "Mini", ("a", "b"))
    >>> MINI.raw_dir("/data").as_posix()
    '/data/Mini/raw'
    """

    name: str
    title: str
    folder: str
    classes: tuple[str, ...]

    def raw_dir(self, data_root: str | os.PathLike[str]) -> Path:
        """torchvision's folder for the files: ``<data_root>/<folder>/raw``."""
        return Path(data_root) / self.folder / "raw"

    def locate(self, data_root: str | os.PathLike[str]) -> dict[str, Path] | None:
        """The files under ``data_root`` (torchvision's layout, else directly in it), or None."""
        return find_files(self.raw_dir(data_root)) or find_files(data_root)

    def validate(self, key: str, array: np.ndarray, source: str) -> None:
        """Checks of one array: uint8 images ``[N, 28, 28]`` or labels ``[N]`` in range."""
        if key.endswith("images"):
            if array.ndim != 3 or array.shape[1:] != (28, 28) or array.dtype != np.uint8:
                raise DataFormatError(
                    f"{source}: expected uint8 images [N, 28, 28], got {array.dtype} {array.shape}"
                )
        else:
            if array.ndim != 1 or array.dtype != np.uint8:
                raise DataFormatError(
                    f"{source}: expected uint8 labels [N], got {array.dtype} {array.shape}"
                )
            if array.size and int(array.max()) >= len(self.classes):
                raise DataFormatError(
                    f"{source}: label {int(array.max())} out of range 0..{len(self.classes) - 1}"
                )

    def install_into(
        self, files: dict[str, Path], target: Path, write: Writer = write_atomic
    ) -> None:
        """Validate ``files`` and write them uncompressed into ``target`` (atomically, per file).

        Nothing is written unless all four files are valid.
        """
        decoded = {}
        for key, path in files.items():
            data = read_idx_bytes(path)
            self.validate(key, parse_idx(data, source=str(path)), str(path))
            decoded[key] = data
        for key, data in decoded.items():
            write(target / FILES[key], data)

    def download(self, data_root: Path, write: Writer = write_atomic) -> None:
        """torchvision's download into a staging directory, validated, moved into place.

        Raises whatever torchvision or the file system raise (the caller records it).
        """
        import torchvision.datasets

        dataset_class = getattr(torchvision.datasets, self.folder)
        data_root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=data_root, prefix=".download-") as staging:
            dataset_class(staging, train=True, download=True)
            files = find_files(self.raw_dir(staging))
            if files is None:
                raise RuntimeError("torchvision's download left no complete set of files")
            self.install_into(files, self.raw_dir(data_root), write)

    def try_download(
        self, download: Callable[[Path], None], data_root: Path, tried: list[str]
    ) -> bool:
        """Run ``download(data_root)``; whether the files are there afterwards.

        A failure (no internet, proxy errors, checksums, disk: all mean "not this way") is
        recorded in ``tried``, not raised.
        """
        try:
            download(data_root)
        except Exception as exc:
            tried.append(download_failure(exc))
            return False
        if self.locate(data_root) is not None:
            return True
        tried.append("torchvision download finished but left no files")
        return False

    def info(self) -> DatasetInfo:
        """The :class:`DatasetInfo`: ``(1, 28, 28)`` inputs and the class names."""
        return DatasetInfo(self.name, len(self.classes), (1, 28, 28), self.classes)

    def load_split(self, files: dict[str, Path], split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Images uint8 ``[N, 1, 28, 28]`` and labels int64 ``[N]`` of ``split`` (checked)."""
        images_path, labels_path = files[f"{split}_images"], files[f"{split}_labels"]
        images, labels = read_idx(images_path), read_idx(labels_path)
        self.validate(f"{split}_images", images, str(images_path))
        self.validate(f"{split}_labels", labels, str(labels_path))
        if len(images) != len(labels):
            raise DataFormatError(
                f"{images_path}: {len(images)} images but {labels_path} has {len(labels)} labels"
            )
        if len(images) != SIZES[split]:
            log.info(
                "%s %s split has %d samples (the real set has %d)",
                self.title,
                split,
                len(images),
                SIZES[split],
            )
        return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))

    def load(
        self, files: dict[str, Path]
    ) -> tuple[ImageTensorDataset, ImageTensorDataset, DatasetInfo]:
        """Train and test sets of the located ``files`` and their :class:`DatasetInfo`."""
        info = self.info()
        train = ImageTensorDataset(*self.load_split(files, "train"), info=info)
        test = ImageTensorDataset(*self.load_split(files, "test"), info=info)
        return train, test, info
