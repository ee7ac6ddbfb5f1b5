"""CIFAR-10: 50 000 train + 10 000 test RGB 32×32 images, 10 classes, from three local formats.

:func:`load_cifar10` takes a data root (``root`` argument, else ``$SEMCOM_DATA``, else
``~/.cache/semcom/data``) that is, or holds, one of:

* **torchvision's format**: ``cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}``
  (the folder itself or its parent). These are Python pickles; they are read with
  :mod:`semcom.data.safe_pickle`, which resolves nothing but numpy's array reconstruction, so a
  tampered file cannot run code;
* **an ImageFolder directory**: ``train/<class>/*.{jpg,png,...}`` and ``test/<class>/*...``;
  classes are the sorted directory names of ``train/`` (CIFAR-10's canonical order is already
  alphabetical);
* **an archive** (``.tar.gz``, ``.tgz``, ``.tar``, ``.tar.bz2``, ``.tar.xz``) of either, e.g.
  ``cifar10-jpeg.tar.gz`` or torchvision's ``cifar-10-python.tar.gz``: the path itself, or a file
  whose name contains ``cifar`` in the root. Members are read straight from the archive (nothing is
  extracted, so member paths can never escape a directory). The archive is decompressed in memory
  (about 100 MB for CIFAR-10).
* sub-folders ``cifar10``, ``cifar-10``, ``CIFAR10`` or ``cifar10-jpeg`` of the root holding one
  of the above.

If none is found, torchvision's download is tried (needs internet). Decoded images from an
ImageFolder or archive are cached as ``.npy`` (:mod:`semcom.data.array_cache`), so only the first
load decodes. ImageFolder samples are ordered round-robin over classes (file-name order within a
class), so every prefix (``train_subset``) is class-balanced; torchvision's batches keep their
own (already shuffled) order.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import torch

from semcom.data.archive import ARCHIVE_SUFFIXES, is_archive, tar_members
from semcom.data.array_cache import (
    DecodedSplits,
    cache_entry,
    cache_key,
    load_cached,
    save_cached,
)
from semcom.data.decode import decode_images
from semcom.data.errors import DataFormatError, DataUnavailableError
from semcom.data.info import DatasetInfo
from semcom.data.ordering import round_robin_order
from semcom.data.paths import DATA_ENV, resolve_data_root
from semcom.data.safe_pickle import restricted_loads
from semcom.data.tensor_dataset import ImageTensorDataset

log = logging.getLogger(__name__)

#: Class names, index = label (torchvision's and the ImageFolder's alphabetical order agree).
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: torchvision's folder name and batch file names.
TORCHVISION_FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
META_FILE = "batches.meta"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_SUBFOLDERS = ("cifar10", "cifar-10", "CIFAR10", "cifar10-jpeg")
_IMAGE_MEMBER = re.compile(
    r"(?:^|/)(train|test)/([^/]+)/([^/]+\.(?:png|jpe?g|webp|bmp))$", re.IGNORECASE
)

#: What :func:`find_cifar10` returns: the format and where it is.
Found = tuple[str, Path]


def _is_torchvision_dir(path: Path) -> bool:
    return all((path / name).is_file() for name in (*TRAIN_BATCHES, TEST_BATCH))


def _is_imagefolder(path: Path) -> bool:
    train, test = path / "train", path / "test"
    return train.is_dir() and test.is_dir() and any(p.is_dir() for p in train.iterdir())


def find_cifar10(path: str | os.PathLike[str], _depth: int = 0) -> Found | None:
    """Where CIFAR-10 is at or under ``path``: ``(format, location)`` or ``None``.

    ``format`` is ``"torchvision"`` (a ``cifar-10-batches-py`` folder), ``"imagefolder"`` (a
    directory with ``train/`` and ``test/``) or ``"archive"`` (a tar file).
    """
    path = Path(path)
    if is_archive(path):
        return ("archive", path)
    if not path.is_dir():
        return None
    if _is_torchvision_dir(path):
        return ("torchvision", path)
    if _is_torchvision_dir(path / TORCHVISION_FOLDER):
        return ("torchvision", path / TORCHVISION_FOLDER)
    if _is_imagefolder(path):
        return ("imagefolder", path)
    if _depth == 0:
        for name in _SUBFOLDERS:
            found = find_cifar10(path / name, _depth=1)
            if found is not None:
                return found
    archives = sorted(p for p in path.iterdir() if "cifar" in p.name.lower() and is_archive(p))
    return ("archive", archives[0]) if archives else None


def unavailable_message(data_root: Path, tried: list[str]) -> str:
    """The error text: where we looked and the ways to get CIFAR-10."""
    lines = [
        f"CIFAR-10 is not available under {data_root}.",
        "Get it in one of these ways:",
        f"  1. pass --data-root PATH (or set {DATA_ENV}=PATH) to: torchvision's "
        f"{TORCHVISION_FOLDER}/ folder or its parent; an ImageFolder directory with "
        "train/<class>/*.jpg and test/<class>/*.jpg; or a .tar.gz of either "
        "(e.g. cifar10-jpeg.tar.gz);",
        "  2. with internet access, torchvision downloads it into the data root (any run).",
    ]
    if tried:
        lines.append("Tried: " + "; ".join(tried))
    return "\n".join(lines)


# --- torchvision's pickled batches ----------------------------------------------------------


def _batch_dict(data: bytes, source: str) -> dict[str, object]:
    try:
        obj = restricted_loads(data)
    except Exception as exc:  # UnpicklingError, EOFError, ValueError, ...: all "corrupt"
        raise DataFormatError(f"{source}: not a readable CIFAR batch: {exc}") from exc
    if not isinstance(obj, dict):
        raise DataFormatError(f"{source}: expected a dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else str(k): v for k, v in obj.items()}


def _parse_batch(data: bytes, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 ``[N, 3, 32, 32]`` and labels int64 ``[N]`` of one pickled batch."""
    batch = _batch_dict(data, source)
    pixels, labels = batch.get("data"), batch.get("labels", batch.get("fine_labels"))
    if (
        not isinstance(pixels, np.ndarray)
        or pixels.dtype != np.uint8
        or pixels.ndim != 2
        or pixels.shape[1] != 3 * 32 * 32
    ):
        raise DataFormatError(
            f"{source}: 'data' must be uint8 [N, 3072], got "
            f"{getattr(pixels, 'dtype', type(pixels))} "
            f"{getattr(pixels, 'shape', '')}"
        )
    try:
        label_array = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise DataFormatError(f"{source}: 'labels' is not a list of integers") from exc
    if label_array.shape != (len(pixels),):
        raise DataFormatError(f"{source}: {len(pixels)} images but labels {label_array.shape}")
    return pixels.reshape(-1, 3, 32, 32), label_array


def _classes_from_meta(data: bytes | None, source: str) -> tuple[str, ...]:
    if data is None:
        return CIFAR10_CLASSES
    names = _batch_dict(data, source).get("label_names")
    if not isinstance(names, list) or not names:
        raise DataFormatError(f"{source}: no 'label_names' list")
    return tuple(n.decode("latin1") if isinstance(n, bytes) else str(n) for n in names)


def _from_batches(files: dict[str, bytes], source: str) -> DecodedSplits:
    """Decoded splits from torchvision's batch files given as ``{file name: bytes}``."""
    missing = [n for n in (*TRAIN_BATCHES, TEST_BATCH) if n not in files]
    if missing:
        raise DataFormatError(f"{source}: missing CIFAR batch file(s) {', '.join(missing)}")
    train = [_parse_batch(files[n], f"{source}/{n}") for n in TRAIN_BATCHES]
    test_images, test_labels = _parse_batch(files[TEST_BATCH], f"{source}/{TEST_BATCH}")
    splits = DecodedSplits(
        np.concatenate([x for x, _ in train]),
        np.concatenate([y for _, y in train]),
        test_images,
        test_labels,
        _classes_from_meta(files.get(META_FILE), f"{source}/{META_FILE}"),
    )
    _check(splits, source)
    return splits


def _read_torchvision_dir(path: Path) -> DecodedSplits:
    names = (*TRAIN_BATCHES, TEST_BATCH, META_FILE)
    files = {n: (path / n).read_bytes() for n in names if (path / n).is_file()}
    return _from_batches(files, str(path))


# --- encoded images (ImageFolder, archives) --------------------------------------------------


def _from_encoded(items: list[tuple[str, str, str, bytes]], source: str) -> DecodedSplits:
    """Decoded splits from ``(split, class, file name, encoded bytes)`` items."""
    by_split = {s: [it for it in items if it[0] == s] for s in ("train", "test")}
    if not by_split["train"] or not by_split["test"]:
        raise DataFormatError(f"{source}: needs images under both train/<class>/ and test/<class>/")
    classes = tuple(sorted({c for _, c, _, _ in by_split["train"]}))
    extra = sorted({c for _, c, _, _ in by_split["test"]} - set(classes))
    if extra:
        raise DataFormatError(f"{source}: test classes {extra} have no training images")
    index = {c: i for i, c in enumerate(classes)}
    arrays: list[np.ndarray] = []
    for split in ("train", "test"):
        chosen = sorted(by_split[split], key=lambda it: (index[it[1]], it[2]))
        labels = np.array([index[c] for _, c, _, _ in chosen], dtype=np.int64)
        order = round_robin_order(labels)  # rank within its class first, class second
        decoded = decode_images(
            [chosen[i][3] for i in order],
            [f"{source}:{split}/{chosen[i][1]}/{chosen[i][2]}" for i in order],
        )
        arrays += [decoded, labels[order]]
    train_images, train_labels, test_images, test_labels = arrays
    splits = DecodedSplits(train_images, train_labels, test_images, test_labels, classes=classes)
    _check(splits, source)
    return splits


def _read_imagefolder(path: Path) -> DecodedSplits:
    items = []
    for split in ("train", "test"):
        for class_dir in sorted(p for p in (path / split).iterdir() if p.is_dir()):
            for f in sorted(class_dir.iterdir()):
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                    items.append((split, class_dir.name, f.name, f.read_bytes()))
    return _from_encoded(items, str(path))


def _read_archive(path: Path) -> DecodedSplits:
    batches: dict[str, bytes] = {}
    images: list[tuple[str, str, str, bytes]] = []
    wanted = {*TRAIN_BATCHES, TEST_BATCH, META_FILE}
    for name, data in tar_members(path):
        base = name.rsplit("/", 1)[-1]
        if base in wanted:
            batches[base] = data
            continue
        m = _IMAGE_MEMBER.search(name)
        if m:
            images.append((m.group(1).lower(), m.group(2), m.group(3), data))
    if len(batches) >= len(TRAIN_BATCHES) + 1:
        return _from_batches(batches, str(path))
    if images:
        return _from_encoded(images, str(path))
    raise DataFormatError(
        f"{path}: the archive holds neither torchvision's CIFAR batches nor "
        "train/<class>/<image> + test/<class>/<image> files"
    )


def _check(splits: DecodedSplits, source: str) -> None:
    try:
        splits.check(source)
    except ValueError as exc:
        raise DataFormatError(str(exc)) from exc


# --- the loader -----------------------------------------------------------------------------


def _imagefolder_fingerprint(path: Path) -> str:
    """Modification times of the split and class directories (they change when files come or
    go)."""
    dirs = [path / s for s in ("train", "test")]
    dirs += [p for d in dirs for p in sorted(d.iterdir()) if p.is_dir()]
    return "|".join(f"{p.name}:{p.stat().st_mtime_ns}" for p in dirs)


def decode_cifar10(found: Found, cache_dir: Path | None = None) -> DecodedSplits:
    """Decode CIFAR-10 at ``found`` (from :func:`find_cifar10`), through the ``.npy`` cache."""
    kind, path = found
    if kind == "torchvision":
        return _read_torchvision_dir(path)  # fast enough: no cache
    extra = _imagefolder_fingerprint(path) if kind == "imagefolder" else ""
    entry = cache_entry("cifar10", cache_key(path, extra), cache_dir)
    cached = load_cached(entry)
    if cached is not None:
        log.info("CIFAR-10 from cache %s", entry)
        return cached
    log.info("decoding CIFAR-10 from %s (once; cached in %s)", path, entry)
    splits = _read_imagefolder(path) if kind == "imagefolder" else _read_archive(path)
    save_cached(entry, splits, str(path))
    return splits


def download_cifar10(data_root: Path) -> None:
    """torchvision's download into a staging directory, then its folder moved into place."""
    from torchvision.datasets import CIFAR10

    data_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_root, prefix=".download-") as staging:
        CIFAR10(staging, train=True, download=True)
        folder = Path(staging) / TORCHVISION_FOLDER
        _read_torchvision_dir(folder)  # validate before it becomes visible
        os.replace(folder, data_root / TORCHVISION_FOLDER)


def load_cifar10(
    root: str | os.PathLike[str] | None = None, *, download: bool = True
) -> tuple[ImageTensorDataset, ImageTensorDataset, DatasetInfo]:
    """Train and test sets (uint8 ``[N, 3, H, W]`` in memory) and their :class:`DatasetInfo`.

    ``root`` may be a directory or an archive (see the module docstring). With ``download``,
    torchvision's download is tried when nothing is found.

    Raises:
        DataUnavailableError: not found (and not downloadable); the message says how to get it.
        DataFormatError: found but corrupt (the message names the file).
    """
    data_root = resolve_data_root(root)
    found = find_cifar10(data_root)
    tried: list[str] = []
    if found is None and data_root.name.lower().endswith(ARCHIVE_SUFFIXES):
        tried.append(f"no archive {data_root}")  # a mistyped archive: don't download into it
    elif found is None and download:
        tried.append(f"nothing found at {data_root}")
        try:
            download_cifar10(data_root)
        except Exception as exc:  # no internet and friends
            lines = str(exc).strip().splitlines()
            tried.append(
                f"torchvision download failed: {type(exc).__name__}: " + " ".join(lines[-2:])
            )
        found = find_cifar10(data_root)
    if found is None:
        raise DataUnavailableError(unavailable_message(data_root, tried))
    splits = decode_cifar10(found)
    info = DatasetInfo(
        "cifar10", len(splits.classes), tuple(splits.train_images.shape[1:]), splits.classes
    )
    train = ImageTensorDataset(
        torch.from_numpy(splits.train_images), torch.from_numpy(splits.train_labels), info
    )
    test = ImageTensorDataset(
        torch.from_numpy(splits.test_images), torch.from_numpy(splits.test_labels), info
    )
    return train, test, info
