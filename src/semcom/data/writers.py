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
from typing import Any, Literal

import numpy as np

from semcom.data.cifar10 import (
    CIFAR10_CLASSES,
    META_FILE,
    TEST_BATCH,
    TORCHVISION_FOLDER,
    TRAIN_BATCHES,
)
from semcom.data.fashion_mnist import FASHION_MNIST
from semcom.data.idx import write_idx
from semcom.data.idx_set import FILES
from semcom.data.mnist import MNIST
from semcom.data.synthetic import make_pattern_images


def _write_idx_files(target: Path, n_train: int, n_test: int, seed: int, gz: bool) -> Path:
    """The four IDX files of pattern images (28×28 grey, labels 0..9) in ``target``."""
    suffix = ".gz" if gz else ""
    for split, n, offset in (("train", n_train, 0), ("test", n_test, 1)):
        images, labels = make_pattern_images(n, seed=2 * seed + offset, size=28)
        write_idx(target / (FILES[f"{split}_images"] + suffix), images[:, 0].numpy(), gz=gz)
        write_idx(
            target / (FILES[f"{split}_labels"] + suffix), labels.numpy().astype(np.uint8), gz=gz
        )
    return target


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
    target = FASHION_MNIST.raw_dir(directory) if layout == "torchvision" else directory
    return _write_idx_files(target, n_train, n_test, seed, gz)


def write_mnist_torchvision(
    directory: str | os.PathLike[str],
    n_train: int = 200,
    n_test: int = 50,
    seed: int = 0,
    *,
    gz: bool = False,
) -> Path:
    """Fake MNIST in torchvision's layout: ``<directory>/MNIST/raw/<name>[.gz]`` (returned).

    The four IDX files (28×28 grey pattern images, labels 0..9); pass ``<directory>`` as the
    data root. torchvision leaves the files uncompressed, hence ``gz=False`` by default.
    """
    return _write_idx_files(MNIST.raw_dir(directory), n_train, n_test, seed, gz)


def write_mnist_raw(
    directory: str | os.PathLike[str],
    n_train: int = 200,
    n_test: int = 50,
    seed: int = 0,
    *,
    gz: bool = True,
) -> Path:
    """Fake MNIST as the four raw files directly in ``directory`` (returned), gzipped like the
    original distribution (``train-images-idx3-ubyte.gz``, ...) unless ``gz=False``."""
    return _write_idx_files(Path(directory), n_train, n_test, seed, gz)


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
    mode: Literal["w", "w:gz"] = "w" if archive.suffix == ".tar" else "w:gz"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for path in sorted(source.rglob("*")):
            name = path.relative_to(source).as_posix()
            tar.add(path, arcname=f"{arcname}/{name}" if arcname else name, recursive=False)
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(buffer.getvalue())
    return archive


#: What :func:`write_image_folder` cycles through when ``mixed``: (Pillow mode, file type, W×H).
#: Grey JPEG, RGBA and palette PNGs with transparency, 16-bit grey, odd and larger sizes.
IMAGE_FOLDER_VARIANTS: tuple[tuple[str, str, tuple[int, int]], ...] = (
    ("RGB", "png", (32, 32)),
    ("L", "jpg", (28, 20)),
    ("RGBA", "png", (40, 33)),
    ("P", "png", (17, 23)),
    ("RGB", "jpg", (64, 48)),
    ("I;16", "png", (30, 30)),
    ("LA", "png", (24, 24)),
    ("RGB", "bmp", (31, 29)),
)


def _image_in_mode(pixels: np.ndarray, mode: str, size: tuple[int, int]) -> Any:
    """A Pillow image of ``pixels`` (uint8 ``[3, H, W]``) resized to ``size`` in ``mode``."""
    from PIL import Image

    rgb = Image.fromarray(pixels.transpose(1, 2, 0)).resize(size, Image.Resampling.BILINEAR)
    if mode == "RGB":
        return rgb
    grey = rgb.convert("L")
    alpha = np.full((size[1], size[0]), 255, dtype=np.uint8)
    alpha[:, : size[0] // 4] = 0  # a transparent band on the left
    if mode == "L":
        return grey
    if mode in ("RGBA", "LA"):
        image = (rgb if mode == "RGBA" else grey).copy()
        image.putalpha(Image.fromarray(alpha))
        return image
    if mode == "P":  # 15 colours, and index 15 transparent in the left band
        image = rgb.quantize(colors=15)
        palette = (image.getpalette() or [])[: 3 * 15]
        image.putpalette(palette + [0] * (3 * 16 - len(palette)))
        image.paste(15, (0, 0, size[0] // 4, size[1]))
        image.info["transparency"] = 15
        return image
    if mode == "I;16":
        return Image.fromarray(np.asarray(grey).astype(np.uint16) * 257)
    raise ValueError(f"no such variant mode {mode!r}")


def write_image_folder(
    directory: str | os.PathLike[str],
    layout: Literal["train-test", "train-val", "classes"] = "train-test",
    classes: tuple[str, ...] = ("ant", "bee", "cat"),
    n_train: int = 6,
    n_test: int = 2,
    seed: int = 0,
    *,
    mixed: bool = True,
    ext: Literal["png", "jpg"] = "png",
    size: int = 32,
) -> Path:
    """A fake ``image-folder`` set in ``directory`` (returned): ``n_train`` + ``n_test`` pattern
    images per class.

    ``layout="train-test"`` writes ``train/<class>/NNNN.<ext>`` and ``test/<class>/...``;
    ``"train-val"`` the same with ``val/``; ``"classes"`` puts all ``n_train + n_test`` images
    of a class in ``<class>/``. With ``mixed`` the images cycle through
    :data:`IMAGE_FOLDER_VARIANTS` (modes, file types and sizes, in file-name order within a
    class); otherwise every image is RGB ``size×size`` in ``ext`` (PNG: lossless, so loading at
    ``size`` gives back exactly the pattern pixels). Class ``i`` shows pattern ``i % 10``.
    """
    directory = Path(directory)
    folders = {
        "train-test": (("train", n_train, 0), ("test", n_test, 1)),
        "train-val": (("train", n_train, 0), ("val", n_test, 1)),
        "classes": (("", n_train + n_test, 0),),
    }[layout]
    for split, n, offset in folders:
        images, labels = _rgb(10 * n, 2 * seed + offset, size if not mixed else 32)
        for c, name in enumerate(classes):
            folder = directory / split / name if split else directory / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, pixels in enumerate(images[labels == c % 10]):
                if mixed:
                    mode, kind, wh = IMAGE_FOLDER_VARIANTS[i % len(IMAGE_FOLDER_VARIANTS)]
                else:
                    mode, kind, wh = "RGB", ext, (size, size)
                image = _image_in_mode(pixels, mode, wh)
                options = {"quality": 90} if kind == "jpg" else {}
                image.save(folder / f"{i:04d}.{kind}", **options)
    return directory
