"""Write generated data in the real on-disk formats, so loaders are tested on the real layouts.

The pixels come from :func:`semcom.data.synthetic.make_pattern_images`, so a loaded set is also
learnable. Used by the tests (and usable for demos): nothing here is needed to load real data.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Literal

import numpy as np

from semcom.data.cifar10 import (
    CIFAR10_CLASSES,
    META_FILE,
    TEST_BATCH,
    TORCHVISION_FOLDER,
    TRAIN_BATCHES,
)
from semcom.data.fashion_mnist import FILES, raw_dir
from semcom.data.idx import write_idx
from semcom.data.synthetic import make_pattern_images


def write_idx_fashion_mnist(
    directory: str | os.PathLike[str],
    n_train: int = 200,
    n_test: int = 50,
    seed: int = 0,
    *,
    gz: bool = True,
    layout: Literal["torchvision", "debian"] = "torchvision",
) -> Path:
    """Fake Fashion-MNIST files (28×28 grey pattern images, 10 classes); the folder written to.

    ``layout="torchvision"`` writes ``<directory>/FashionMNIST/raw/<name>[.gz]`` (pass
    ``<directory>`` as the data root); ``layout="debian"`` writes the four files directly in
    ``<directory>``, named like Debian's ``dataset-fashion-mnist`` package
    (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
    ``t10k-labels-idx1-ubyte.gz``). Names get ``.gz`` when ``gz``.
    """
    directory = Path(directory)
    target = raw_dir(directory) if layout == "torchvision" else directory
    suffix = ".gz" if gz else ""
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = make_pattern_images(n, seed=2 * seed + offset, size=28)
        write_idx(target / (FILES[f"{split}_images"] + suffix), images[:, 0].numpy(), gz=gz)
        write_idx(
            target / (FILES[f"{split}_labels"] + suffix), labels.numpy().astype(np.uint8), gz=gz
        )
    return target


def _rgb(n: int, seed: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    images, labels = make_pattern_images(n, seed=seed, size=size, channels=3)
    return images.numpy(), labels.numpy()


def write_cifar_torchvision(
    directory: str | os.PathLike[str],
    n_train: int = 100,
    n_test: int = 20,
    seed: int = 0,
) -> Path:
    """Fake CIFAR-10 in torchvision's format: ``<directory>/cifar-10-batches-py/`` (returned).

    Five ``data_batch_*`` files (``n_train`` images split among them), ``test_batch`` and
    ``batches.meta``: protocol-2 pickles of dicts with ``data`` (uint8 ``[N, 3072]``, channel-major
    32×32), ``labels``, ``batch_label``, ``filenames`` (and ``label_names`` in the meta file), the
    structure of the real files.
    """
    folder = Path(directory) / TORCHVISION_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = _rgb(n_train, 2 * seed, 32)
    chunks = np.array_split(np.arange(n_train), len(TRAIN_BATCHES))
    named = [
        (name, idx, f"training batch {i + 1} of 5")
        for i, (name, idx) in enumerate(zip(TRAIN_BATCHES, chunks, strict=True))
    ]
    test_images, test_labels = _rgb(n_test, 2 * seed + 1, 32)
    for name, (x, y, title) in {
        **{n: (images[idx], labels[idx], t) for n, idx, t in named},
        TEST_BATCH: (test_images, test_labels, "testing batch 1 of 1"),
    }.items():
        batch = {
            "batch_label": title,
            "labels": [int(v) for v in y],
            "data": x.reshape(len(x), -1),
            "filenames": [f"pattern_{i}.png" for i in range(len(x))],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {
        "num_cases_per_batch": int(len(chunks[0])),
        "label_names": list(CIFAR10_CLASSES),
        "num_vis": 3072,
    }
    (folder / META_FILE).write_bytes(pickle.dumps(meta, protocol=2))
    return folder


def write_cifar_imagefolder(
    directory: str | os.PathLike[str],
    n_train: int = 100,
    n_test: int = 20,
    seed: int = 0,
    *,
    ext: Literal["png", "jpg"] = "png",
    size: int = 32,
    quality: int = 95,
) -> Path:
    """Fake CIFAR-10 as an ImageFolder: ``<directory>/{train,test}/<class>/NNNN.<ext>``.

    Class folders are CIFAR-10's names; images are RGB pattern images (PNG: lossless; JPEG at
    ``quality``). Returns ``directory``.
    """
    from PIL import Image

    directory = Path(directory)
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = _rgb(n, 2 * seed + offset, size)
        counts = dict.fromkeys(range(len(CIFAR10_CLASSES)), 0)
        for x, y in zip(images, labels, strict=True):
            folder = directory / split / CIFAR10_CLASSES[int(y)]
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{counts[int(y)]:04d}.{ext}"
            counts[int(y)] += 1
            image = Image.fromarray(x.transpose(1, 2, 0))
            if ext == "png":
                image.save(path)
            else:
                image.save(path, quality=quality)
    return directory


def write_tarball(
    source: str | os.PathLike[str], archive: str | os.PathLike[str], arcname: str = ""
) -> Path:
    """Pack the contents of ``source`` into ``archive`` (``.tar.gz`` unless it ends in ``.tar``).

    Member names are ``<arcname>/<relative path>`` (no prefix when ``arcname`` is empty), as in
    ``cifar10-jpeg.tar.gz`` (``train/...``, ``test/...``).
    """
    source, archive = Path(source), Path(archive)
    mode = "w" if archive.suffix == ".tar" else "w:gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for path in sorted(source.rglob("*")):
            name = path.relative_to(source).as_posix()
            tar.add(path, arcname=f"{arcname}/{name}" if arcname else name, recursive=False)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(buffer.getvalue())
    return archive
