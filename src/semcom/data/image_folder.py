"""``image-folder``: a classification set from a directory of class folders, or a tar of one.

The root (``--root`` / ``data.root``: a directory, or a ``.tar.gz``, ``.tgz``, ``.tar``,
``.tar.bz2``, ``.tar.xz`` archive of one) is laid out as one of:

1. ``train/<class>/<image>`` + ``test/<class>/<image>``;
2. ``train/<class>/<image>`` + ``val/<class>/<image>`` (``val/`` is the test split; when both
   ``test/`` and ``val/`` exist, ``test/`` is used);
3. ``<class>/<image>`` only: one folder per class, split into train and test per class
   (stratified: ``round(test_fraction * n)`` of a class's ``n`` images, at least one and at most
   ``n - 1``), drawn from ``seed`` and the class name, so the same files and options always give
   the same split (:func:`semcom.data.ordering.stratified_split`).

A root holding nothing but one folder that itself holds no images (``mydata/`` around the
layout, as archives usually have) is looked into. ``train``, ``test`` and ``val`` match in any
case. The classes are the sorted class-folder names (label ``i`` = ``classes[i]``), any number of
them; both splits must have the same classes. Images are the files directly inside a class
folder whose names end in one of :data:`IMAGE_SUFFIXES`; hidden files (``.*``, macOS' ``._*``
and ``__MACOSX/``) and other files are skipped, and class folders are not searched further down.

Every image is decoded by Pillow, whatever its size or mode (grey JPEG, RGBA or palette PNG,
16-bit grey, CMYK, ...; EXIF orientation applied), converted to ``channels`` (1 = grey, 3 = RGB;
alpha composited over black) and resized to ``image_size`` ``(H, W)`` (bilinear, antialiased; the
aspect ratio is not kept): :func:`semcom.data.decode.decode_resized`. The decoded arrays are
cached as ``.npy`` (:mod:`semcom.data.array_cache`) under a key made of the source (its path,
size and modification time; for a directory instead every image's relative path, size and
modification time, so an added, removed or rewritten image is noticed), ``image_size``,
``channels`` and :data:`DECODE_VERSION`: a changed option decodes again, never reuses a stale
entry. Layout 3 is cached whole and split on loading (its cache entry has an empty test split),
so a changed ``test_fraction`` or ``seed`` needs no decoding at all.

Samples of each split are ordered round-robin over classes (file-name order within a class), so
every prefix (``train_subset``) is class-balanced.
"""

from __future__ import annotations

import hashlib
import logging
import operator
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import SupportsIndex, cast

import numpy as np
import torch

from semcom.data.archive import ARCHIVE_SUFFIXES, is_archive, tar_members
from semcom.data.array_cache import (
    DecodedSplits,
    cache_entry,
    cache_key,
    cached_extra,
    load_cached,
    save_cached,
)
from semcom.data.decode import Encoded, decode_resized
from semcom.data.errors import DataFormatError, DataUnavailableError
from semcom.data.info import DatasetInfo
from semcom.data.ordering import round_robin_order, stratified_split
from semcom.data.tensor_dataset import ImageTensorDataset

log = logging.getLogger(__name__)

#: The registered name (and :attr:`DatasetInfo.name`).
NAME = "image-folder"
#: File name endings that count as images (case-insensitive).
IMAGE_SUFFIXES = (
    ".png",
    ".jpg",
    ".jpeg",
    ".jpe",
    ".bmp",
    ".gif",
    ".webp",
    ".tif",
    ".tiff",
    ".ppm",
    ".pgm",
    ".pbm",
    ".pnm",
)
#: The held-out split's folder next to ``train/``, in order of preference.
TEST_FOLDERS = ("test", "val")
#: Part of every cache key: bump when decoding changes, so old entries are not used.
DECODE_VERSION = 1
_LAYOUTS = (
    "train/<class>/<image> + test/<class>/<image>; train/<class>/<image> + val/<class>/<image>; "
    "or <class>/<image> folders only (split by test_fraction)"
)
_MAX_DEPTH = 5  # wrappers + split/class/image: deeper files are never part of a layout


def parse_image_size(value: object) -> tuple[int, int]:
    """``(H, W)`` from ``N`` (square), ``(H, W)``, ``"HxW"``, ``"H,W"`` or ``"H W"``.

    >>> parse_image_size(32), parse_image_size("64x48"), parse_image_size([24, 40])
    ((32, 32), (64, 48), (24, 40))
    >>> parse_image_size("0x3")
    Traceback (most recent call last):
    ...
    ValueError: image_size must be N, (H, W), HxW or "H W" in positive pixels, got '0x3'
    """
    try:
        if isinstance(value, str):
            text = value.lower().replace("×", "x").replace("x", " ").replace(",", " ")
            sizes = tuple(int(part) for part in text.split())
        elif isinstance(value, Sequence):
            sizes = tuple(operator.index(part) for part in value)
        else:
            sizes = (operator.index(cast(SupportsIndex, value)),)  # else TypeError, caught
    except (TypeError, ValueError):
        sizes = ()
    if len(sizes) == 1:
        sizes = sizes * 2
    if len(sizes) != 2 or min(sizes) < 1:
        raise ValueError(
            f'image_size must be N, (H, W), HxW or "H W" in positive pixels, got {value!r}'
        )
    return (sizes[0], sizes[1])


@dataclass(frozen=True)
class ImageFolderOptions:
    """How an image folder becomes arrays (the ``data`` options of ``image-folder``).

    Attributes:
        image_size: ``(H, W)`` every image is resized to (an int means square; see
            :func:`parse_image_size`).
        channels: 1 (grey) or 3 (RGB).
        test_fraction: layout 3 only: the share of each class that goes to the test split.
        seed: layout 3 only: the split's seed.

    >>> ImageFolderOptions(image_size=28, channels=1).image_size
    (28, 28)
    >>> ImageFolderOptions(channels=2)
    Traceback (most recent call last):
    ...
    ValueError: image-folder: channels must be 1 (grey) or 3 (RGB), got 2
    """

    image_size: tuple[int, int] = (32, 32)
    channels: int = 3
    test_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", parse_image_size(self.image_size))
        if isinstance(self.channels, bool) or self.channels not in (1, 3):
            raise ValueError(f"{NAME}: channels must be 1 (grey) or 3 (RGB), got {self.channels!r}")
        fraction = float(self.test_fraction)
        if not 0 < fraction < 1:
            raise ValueError(f"{NAME}: test_fraction must lie strictly in (0, 1), got {fraction}")
        object.__setattr__(self, "test_fraction", fraction)
        object.__setattr__(self, "seed", operator.index(self.seed))


# --- what is in the source ------------------------------------------------------------------


@dataclass(frozen=True)
class _File:
    parts: tuple[str, ...]  #: path inside the source
    data: Encoded  #: the file (directories) or its bytes (archive members)
    stamp: str  #: ``size:mtime`` of a file in a directory (archives: empty)
    name: str  #: how errors name it


def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_SUFFIXES)


def _scan_directory(root: Path) -> list[_File]:
    """The image files under ``root`` (down to :data:`_MAX_DEPTH`), hidden ones left out."""
    found: list[_File] = []

    def walk(directory: Path, prefix: tuple[str, ...]) -> None:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise DataUnavailableError(f"{directory}: cannot list the folder: {exc}") from exc
        for entry in entries:
            if _skipped(entry.name):
                continue
            if entry.is_dir():
                if len(prefix) + 1 < _MAX_DEPTH:
                    walk(Path(entry.path), (*prefix, entry.name))
            elif entry.is_file() and _is_image(entry.name):
                st = entry.stat()
                path = Path(entry.path)
                parts = (*prefix, entry.name)
                found.append(_File(parts, path, f"{st.st_size}:{st.st_mtime_ns}", str(path)))

    walk(root, ())
    return found


def _scan_archive(path: Path) -> list[_File]:
    """The image members of the archive (read into memory), hidden ones left out."""
    found = []
    for member, data in tar_members(path):
        parts = tuple(p for p in member.split("/") if p not in ("", "."))
        if parts and _is_image(parts[-1]) and not any(_skipped(p) for p in parts):
            found.append(_File(parts, data, "", f"{path}:{'/'.join(parts)}"))
    return found


# --- which layout -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    layout: str  #: for people: "train/ + val/", "class folders" (and the wrapper, if any)
    items: tuple[tuple[str, str, _File], ...]  #: (split: train | test | all, class, file)

    @property
    def single(self) -> bool:
        return bool(self.items) and self.items[0][0] == "all"


def _class_list(names: set[str]) -> str:
    return ", ".join(repr(n) for n in sorted(names))


def _plan(files: list[_File], source: str) -> _Plan:
    """Find the layout among ``files``; check the classes (before anything is decoded)."""
    if not files:
        raise DataFormatError(f"{source}: no images found; expected {_LAYOUTS}")
    base: tuple[str, ...] = ()
    paths = [f.parts for f in files]
    while (
        len({p[0] for p in paths}) == 1
        and all(len(p) >= 3 for p in paths)
        and paths[0][0].lower() not in ("train", *TEST_FOLDERS)
    ):
        base += (paths[0][0],)
        paths = [p[1:] for p in paths]
    where = f"{source}/{'/'.join(base)}" if base else source
    inside = f" (in {'/'.join(base)}/)" if base else ""
    folders = {p[0].lower(): p[0] for p in paths if len(p) >= 2}
    if "train" in folders:
        test = next((folders[n] for n in TEST_FOLDERS if n in folders), None)
        if test is None:
            raise DataFormatError(
                f"{where}: has {folders['train']}/ but no images in a test/ or val/ beside it; "
                "add one, or put the class folders directly in the root to split them by "
                "test_fraction"
            )
        names = {folders["train"]: "train", test: "test"}
        unused = sorted(set(folders.values()) - set(names))
        if unused:
            log.info("%s: not used beside %s/ and %s/: %s", where, folders["train"], test, unused)
        items = tuple(
            (names[p[0]], p[1], f)
            for p, f in zip(paths, files, strict=True)
            if len(p) == 3 and p[0] in names
        )
        by_split = {s: {c for split, c, _ in items if split == s} for s in ("train", "test")}
        lacks = [
            f"{folder}/ lacks {_class_list(by_split[other] - by_split[split])}"
            for folder, split, other in (
                (folders["train"], "train", "test"),
                (test, "test", "train"),
            )
            if by_split[other] - by_split[split]
        ]
        if not by_split["train"]:
            raise DataFormatError(f"{where}/{folders['train']}: no images in class folders")
        if lacks:
            raise DataFormatError(
                f"{where}: the splits have different classes: {'; '.join(lacks)} "
                "(every class needs images in both)"
            )
        return _Plan(f"{folders['train']}/ + {test}/{inside}", items)
    items = tuple(("all", p[0], f) for p, f in zip(paths, files, strict=True) if len(p) == 2)
    if not items:
        raise DataFormatError(
            f"{where}: no images directly inside class folders; expected {_LAYOUTS}"
        )
    skipped = len(files) - len(items)
    if skipped:
        log.warning("%s: %d images outside <class>/<image> are not used", where, skipped)
    counts = Counter(c for _, c, _ in items)
    few = {c for c, n in counts.items() if n < 2}
    if few:
        raise DataFormatError(
            f"{where}: class folder(s) {_class_list(few)} hold a single image; splitting by "
            "test_fraction needs at least 2 per class (or give train/ + test/ folders)"
        )
    return _Plan(f"class folders{inside}, split by test_fraction", items)


# --- decoding, caching, splitting -----------------------------------------------------------


def _decode(plan: _Plan, options: ImageFolderOptions, source: str) -> DecodedSplits:
    """Decode every image of ``plan``; layout 3 goes whole into the train arrays."""
    classes = tuple(sorted({c for _, c, _ in plan.items}))
    index = {c: i for i, c in enumerate(classes)}
    arrays: list[np.ndarray] = []
    for split in ("all",) if plan.single else ("train", "test"):
        chosen = sorted(
            (it for it in plan.items if it[0] == split), key=lambda it: (index[it[1]], it[2].parts)
        )
        labels = np.array([index[c] for _, c, _ in chosen], dtype=np.int64)
        order = np.arange(len(chosen)) if plan.single else round_robin_order(labels)
        log.info("decoding %d %s images of %s", len(chosen), split, source)
        images = decode_resized(
            [chosen[i][2].data for i in order],
            [chosen[i][2].name for i in order],
            options.image_size,
            options.channels,
        )
        arrays += [images, labels[order]]
    if plan.single:
        empty = np.empty((0, options.channels, *options.image_size), dtype=np.uint8)
        arrays += [empty, np.empty(0, dtype=np.int64)]
    train_images, train_labels, test_images, test_labels = arrays
    splits = DecodedSplits(train_images, train_labels, test_images, test_labels, classes=classes)
    try:
        splits.check(source)
    except ValueError as exc:  # pragma: no cover - the decoder's own output
        raise DataFormatError(str(exc)) from exc
    return splits


def split_by_fraction(whole: DecodedSplits, test_fraction: float, seed: int) -> DecodedSplits:
    """Layout 3's train/test split of the cached set (all images in ``whole``'s train arrays),
    each split ordered round-robin over classes."""
    labels = whole.train_labels
    train, test = stratified_split(labels, whole.classes, test_fraction, seed)
    train = train[round_robin_order(labels[train])]
    test = test[round_robin_order(labels[test])]
    images = whole.train_images
    return DecodedSplits(images[train], labels[train], images[test], labels[test], whole.classes)


@dataclass(frozen=True)
class PreparedImageFolder:
    """What :func:`prepare_image_folder` found and made.

    Attributes:
        splits: the decoded, split, ordered arrays.
        layout: which layout, for people (``"train/ + val/"``, ``"class folders, ..."``).
        source: the directory or archive.
        cache: the cache entry (it may not exist when the cache could not be written).
        from_cache: whether nothing had to be decoded.
    """

    splits: DecodedSplits
    layout: str
    source: Path
    cache: Path
    from_cache: bool

    def datasets(self) -> tuple[ImageTensorDataset, ImageTensorDataset, DatasetInfo]:
        """Train and test :class:`ImageTensorDataset` (sharing the arrays) and their info."""
        splits = self.splits
        shape = tuple(splits.train_images.shape[1:])
        info = DatasetInfo(NAME, len(splits.classes), shape, splits.classes)
        train = ImageTensorDataset(
            torch.from_numpy(splits.train_images), torch.from_numpy(splits.train_labels), info
        )
        test = ImageTensorDataset(
            torch.from_numpy(splits.test_images), torch.from_numpy(splits.test_labels), info
        )
        return train, test, info


def unavailable_message(root: object) -> str:
    """The error text for a root that is not given or does not exist."""
    what = "no root was given" if root is None or str(root) == "" else f"{root} does not exist"
    return (
        f"{NAME}: {what}. Pass the folder (or a {'/'.join(ARCHIVE_SUFFIXES[:2])} of it) as "
        f"--root DIR (`semcom data {NAME} --root DIR`) or data.root in the experiment config; it "
        f"must be laid out as {_LAYOUTS}."
    )


def resolve_root(root: str | os.PathLike[str] | None) -> Path:
    """The source path: ``root`` itself (``~`` expanded). There is no default: a data root
    holds many sets, an image folder is one.

    Raises :class:`DataUnavailableError` when it is not given or does not exist, and
    :class:`DataFormatError` when it is a file but not a tar archive.
    """
    if root is None or str(root) == "":
        raise DataUnavailableError(unavailable_message(root))
    path = Path(root).expanduser()
    if not path.exists():
        raise DataUnavailableError(unavailable_message(path))
    if path.is_file() and not is_archive(path):
        raise DataFormatError(
            f"{path}: not a folder nor a tar archive ({', '.join(ARCHIVE_SUFFIXES)})"
        )
    return path


def prepare_image_folder(
    root: str | os.PathLike[str] | None,
    options: ImageFolderOptions | None = None,
    cache_dir: Path | None = None,
) -> PreparedImageFolder:
    """Find the layout under ``root``, decode it (or take it from the cache), split it.

    Raises:
        DataUnavailableError: ``root`` is missing (the message says what to pass).
        DataFormatError: no images, classes that differ between the splits (named), a class
            too small to split, or an image that cannot be decoded (named).
    """
    options = options or ImageFolderOptions()
    source = resolve_root(root)
    plan = None
    fingerprint = ""
    if not is_archive(source):  # list first: the files are part of the key
        plan = _plan(_scan_directory(source), str(source))
        listing = "\n".join(f"{'/'.join(f.parts)}|{f.stamp}" for _, _, f in plan.items)
        fingerprint = hashlib.sha256(listing.encode()).hexdigest()
    height, width = options.image_size
    extra = f"{NAME}|v{DECODE_VERSION}|{height}x{width}|c{options.channels}|{fingerprint}"
    # a directory is keyed by its images' listing, not its own mtime (a README does not count)
    entry = cache_entry(NAME, cache_key(source, extra, stat=plan is None), cache_dir)
    decoded = load_cached(entry)
    from_cache = decoded is not None
    if decoded is not None:
        log.info("%s from cache %s", source, entry)
        layout = str(cached_extra(entry).get("layout", plan.layout if plan else "?"))
    else:
        if plan is None:
            plan = _plan(_scan_archive(source), str(source))
        decoded = _decode(plan, options, str(source))
        layout = plan.layout
        save_cached(entry, decoded, str(source), {"layout": layout})
    if len(decoded.test_labels) == 0:  # layout 3, cached whole
        decoded = split_by_fraction(decoded, options.test_fraction, options.seed)
        layout += f" ({options.test_fraction:g} per class to test, seed {options.seed})"
    return PreparedImageFolder(decoded, layout, source, entry, from_cache)


def load_image_folder(
    root: str | os.PathLike[str] | None = None,
    *,
    image_size: int | Sequence[int] | str = (32, 32),
    channels: int = 3,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[ImageTensorDataset, ImageTensorDataset, DatasetInfo]:
    """Train and test sets (uint8 ``[N, channels, H, W]`` in memory) and their
    :class:`DatasetInfo` (``"image-folder"``, the class-folder names); see the module docstring.

    Raises what :func:`prepare_image_folder` raises, and ``ValueError`` for a bad option.
    """
    options = ImageFolderOptions(image_size, channels, test_fraction, seed)  # type: ignore[arg-type]
    return prepare_image_folder(root, options).datasets()
