"""Pascal VOC as a detection + segmentation set: boxes from the XML annotations, masks from the
``SegmentationClass`` PNGs, on one image.

:func:`load_voc` takes a data root (``root`` argument, else ``$SEMCOM_DATA``, else
``~/.cache/semcom/data``) that is, or holds, the devkit layout::

    VOCdevkit/VOC<year>/JPEGImages/<id>.jpg
    VOCdevkit/VOC<year>/Annotations/<id>.xml
    VOCdevkit/VOC<year>/SegmentationClass/<id>.png
    VOCdevkit/VOC<year>/ImageSets/{Main,Segmentation}/<set>.txt

``root`` may be the ``VOCdevkit`` folder, one ``VOC<year>`` folder, a folder holding
``VOCdevkit/``, or a tar archive of either (``VOCtrainval_11-May-2012.tar``, ...: the path itself
or a file whose name starts with ``VOC`` in the root), read straight from the archive without
extracting; an archive is read into memory whole (VOC2012's trainval tar: about 2 GB), so extract
a large one for a lower peak. ``year`` picks ``VOC<year>`` (needed only when there are several).

**Splits.** The training set is ``image_set`` (``train``, ``val`` or ``trainval``; default
``train``) and the test set ``test_set`` (default ``val``; VOC2007's ``test`` where it is present):
each the union of the ids in ``ImageSets/Main/<set>.txt`` and ``ImageSets/Segmentation/<set>.txt``
(whichever exist), in id order. An id in the Main list has detection labels (its XML must exist);
an id in the Segmentation list has a mask (its PNG must exist). An image labelled for one task
only gets the other target marked missing (:mod:`semcom.data.multitask`): a mask of 255
everywhere (every loss and metric skips it) or ``has_boxes = False`` with no boxes (the detection
evaluator leaves the image out; a detection loss must too). An id's JPEG must exist.

**Targets.** Detection over :data:`VOC_CLASSES` (the 20 classes in the standard order, labels
0..19): each ``<object>`` of the XML (its ``<part>`` boxes are not objects), with its ``difficult``
flag as the bool ``difficult`` (evaluation leaves difficult objects out, as VOC does). VOC's
``<bndbox>`` is 1-based and inclusive, so ``xmin..xmax`` becomes ``x1 = xmin - 1, x2 = xmax`` in
pixel edges, clipped to the image, then scaled to ``image_size``. Segmentation over
:data:`VOC_SEGMENTATION_CLASSES` (background + the 20): the palette indices 0..20 of the PNG;
255 (object borders and "void") stays 255, the ignore value; any other value, an unknown class
name, a missing ``<bndbox>`` coordinate, a box empty after clipping, a malformed XML or a mask
whose size differs from its image is a :class:`DataFormatError` naming the file. The XML is
parsed by :mod:`xml.etree.ElementTree` after refusing any document with a ``<!DOCTYPE``/``<!ENTITY``
(VOC's files have none), so entity tricks never reach the parser.

Images are decoded by Pillow in any mode (VOC has grey-scale and CMYK JPEGs: converted to RGB)
and resized to ``image_size`` ``(H, W)`` (default ``(256, 256)``; bilinear, antialiased; the
aspect ratio is not kept), masks with nearest neighbour. Decoded arrays are cached as ``.npy``
(:mod:`semcom.data.array_cache`) keyed on the source (an archive's path, size and mtime; in a
folder every used file's size and mtime), ``year``, both sets, ``image_size`` and
:data:`FORMAT_VERSION`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import xml.etree.ElementTree as ElementTree
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
NAME = "voc"
#: The 20 object classes, index = detection label (the standard order).
VOC_CLASSES: tuple[str, ...] = (
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)
#: Mask classes, index = palette index (0 = background).
VOC_SEGMENTATION_CLASSES: tuple[str, ...] = ("background", *VOC_CLASSES)
#: The image sets a split may name.
IMAGE_SETS = ("train", "val", "trainval", "test")
#: Defaults of the ``voc`` options.
DEFAULT_IMAGE_SIZE = (256, 256)
#: Part of every cache key: bump when decoding changes.
FORMAT_VERSION = 1
_LOOKUP = label_lookup({**{v: v for v in range(len(VOC_SEGMENTATION_CLASSES))}, 255: IGNORE_INDEX})
_YEAR = re.compile(r"^VOC(\d{4})$")
_FOLDERS = ("JPEGImages", "Annotations", "SegmentationClass")
_LISTS = ("Main", "Segmentation")
_LAYOUT = (
    "VOCdevkit/VOC<year>/{JPEGImages/<id>.jpg, Annotations/<id>.xml, SegmentationClass/<id>.png, "
    "ImageSets/{Main,Segmentation}/<set>.txt}"
)
_INDEX = {name: i for i, name in enumerate(VOC_CLASSES)}
_COORDS = ("xmin", "ymin", "xmax", "ymax")
#: What each image set is made of (two sets that share a part overlap).
_PARTS = {"train": {"train"}, "val": {"val"}, "trainval": {"train", "val"}, "test": {"test"}}


# --- where it is ----------------------------------------------------------------------------


def _is_year_dir(path: Path) -> bool:
    return (path / "JPEGImages").is_dir() and (path / "ImageSets").is_dir()


def _year_dirs(path: Path) -> dict[str, Path]:
    """``{year: VOC<year> folder}`` of a devkit folder (or ``{year: path}`` of a year folder)."""
    if _is_year_dir(path):
        m = _YEAR.match(path.name)
        return {m.group(1) if m else path.name: path}
    found: dict[str, Path] = {}
    for child in sorted(path.iterdir()) if path.is_dir() else []:
        m = _YEAR.match(child.name)
        if m and _is_year_dir(child):
            found[m.group(1)] = child
    return found


def find_voc(path: str | os.PathLike[str]) -> Path | None:
    """The VOC folder (devkit or year) or archive at or in ``path``, or ``None``."""
    path = Path(path)
    if is_archive(path):
        return path
    if not path.is_dir():
        return None
    for candidate in (path, path / "VOCdevkit"):
        if _year_dirs(candidate):
            return candidate
    archives = sorted(p for p in path.iterdir() if p.name.startswith("VOC") and is_archive(p))
    return archives[0] if archives else None


def unavailable_message(data_root: Path) -> str:
    """The error text: where we looked and what to pass."""
    return (
        f"Pascal VOC is not available under {data_root}. Pass --data-root PATH (or set "
        f"{DATA_ENV}=PATH, or data.root in the config) to a VOCdevkit folder, a VOC<year> "
        f"folder, a folder holding VOCdevkit/, or a .tar of one ({_LAYOUT}). It is not "
        "downloaded: get VOCtrainval_*.tar from host.robots.ox.ac.uk/pascal/VOC/."
    )


# --- what is in the source ------------------------------------------------------------------


@dataclass(frozen=True)
class _Year:
    """The files of one ``VOC<year>`` folder: ``get("JPEGImages/<id>.jpg")`` etc."""

    year: str
    files: dict[str, Encoded] | None  #: archive members by relative path
    folder: Path | None  #: or the folder on disk
    where: str  #: how errors name it

    def get(self, rel: str) -> Encoded | None:
        if self.files is not None:
            return self.files.get(rel)
        assert self.folder is not None
        path = self.folder / rel
        return path if path.is_file() else None

    def name(self, rel: str) -> str:
        return f"{self.where}/{rel}" if self.files is None else f"{self.where}:{rel}"


def _wanted(rel: Sequence[str]) -> bool:
    """Whether an archive member (path inside ``VOC<year>/``) is one the loader reads."""
    if len(rel) == 2 and rel[0] in _FOLDERS:
        return not rel[1].startswith(".")
    return (
        len(rel) == 3
        and rel[0] == "ImageSets"
        and rel[1] in _LISTS
        and rel[2] in {f"{s}.txt" for s in IMAGE_SETS}
    )


def _years(source: Path) -> dict[str, _Year]:
    if not is_archive(source):
        return {y: _Year(y, None, p, str(p)) for y, p in _year_dirs(source).items()}
    by_year: dict[str, dict[str, Encoded]] = {}
    for member, blob in tar_members(source):
        parts = [p for p in member.split("/") if p not in ("", ".")]
        for at, part in enumerate(parts):
            m = _YEAR.match(part)
            if m:
                if _wanted(parts[at + 1 :]):
                    by_year.setdefault(m.group(1), {})["/".join(parts[at + 1 :])] = blob
                break
    return {y: _Year(y, files, None, f"{source}:VOC{y}") for y, files in by_year.items()}


def _pick_year(years: dict[str, _Year], year: str | int | None, source: Path) -> _Year:
    if not years:
        raise DataFormatError(f"{source}: no VOC<year> folder with JPEGImages/; expected {_LAYOUT}")
    if year is None:
        if len(years) > 1:
            raise ValueError(
                f"{NAME}: {source} holds VOC {', '.join(sorted(years))}: give year to pick one"
            )
        return next(iter(years.values()))
    key = str(year)
    if key not in years:
        raise DataUnavailableError(
            f"{source}: no VOC{key} (found {', '.join(f'VOC{y}' for y in sorted(years))})"
        )
    return years[key]


def _ids(voc: _Year, image_set: str) -> tuple[list[str], set[str], set[str]]:
    """All ids of ``image_set`` (sorted), those with detection labels and those with masks."""
    lists: dict[str, set[str]] = {}
    for kind in _LISTS:
        rel = f"ImageSets/{kind}/{image_set}.txt"
        blob = voc.get(rel)
        if blob is None:
            continue
        try:
            text = (blob.read_bytes() if isinstance(blob, Path) else blob).decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataFormatError(f"{voc.name(rel)}: cannot read the list: {exc}") from exc
        lists[kind] = {line.split()[0] for line in text.splitlines() if line.strip()}
    if not lists:
        raise DataFormatError(
            f"{voc.where}: no ImageSets/Main/{image_set}.txt nor "
            f"ImageSets/Segmentation/{image_set}.txt"
        )
    boxed, masked = lists.get("Main", set()), lists.get("Segmentation", set())
    return sorted(boxed | masked), boxed, masked


# --- annotations ----------------------------------------------------------------------------


def parse_annotation(blob: bytes, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One VOC XML annotation: boxes float32 ``[n, 4]`` (``x1, y1, x2, y2`` pixel edges of the
    image, not yet clipped), labels int64 ``[n]`` (:data:`VOC_CLASSES`) and difficult bool
    ``[n]``.

    >>> xml = (b"<annotation><object><name>dog</name><difficult>1</difficult><bndbox>"
    ...        b"<xmin>1</xmin><ymin>2</ymin><xmax>10</xmax><ymax>20</ymax></bndbox>"
    ...        b"</object></annotation>")
    >>> boxes, labels, difficult = parse_annotation(xml, "a.xml")
    >>> boxes.tolist(), labels.tolist(), difficult.tolist()
    ([[0.0, 1.0, 10.0, 20.0]], [11], [True])
    """
    head = blob[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in blob.upper():
        raise DataFormatError(f"{name}: refusing an annotation with a DOCTYPE or ENTITY")
    try:
        root = ElementTree.fromstring(blob)
    except ElementTree.ParseError as exc:
        raise DataFormatError(f"{name}: malformed XML: {exc}") from exc
    if root.tag != "annotation":
        raise DataFormatError(f"{name}: the root element is <{root.tag}>, not <annotation>")
    boxes: list[list[float]] = []
    labels: list[int] = []
    difficult: list[bool] = []
    for i, obj in enumerate(root.findall("object")):
        cls = (obj.findtext("name") or "").strip()
        if cls not in _INDEX:
            raise DataFormatError(
                f"{name}: object {i} has class {cls!r}, not one of the 20 VOC classes"
            )
        box = obj.find("bndbox")
        try:
            if box is None:
                raise ValueError("no <bndbox>")
            xmin, ymin, xmax, ymax = (float(box.findtext(k) or "") for k in _COORDS)
        except ValueError as exc:
            raise DataFormatError(f"{name}: object {i} ({cls}): bad <bndbox>: {exc}") from exc
        if xmax < xmin or ymax < ymin:
            raise DataFormatError(
                f"{name}: object {i} ({cls}): bndbox {xmin:g},{ymin:g}..{xmax:g},{ymax:g} is empty"
            )
        flag = (obj.findtext("difficult") or "0").strip()
        boxes.append([xmin - 1, ymin - 1, xmax, ymax])
        labels.append(_INDEX[cls])
        difficult.append(flag not in ("", "0"))
    return (
        np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        np.asarray(labels, dtype=np.int64),
        np.asarray(difficult, dtype=np.bool_),
    )


def _fit_boxes(boxes: np.ndarray, own: np.ndarray, size: tuple[int, int], name: str) -> np.ndarray:
    """``boxes`` clipped to the image of size ``own`` ``(H, W)`` and scaled to ``size``."""
    h0, w0 = (float(v) for v in own)
    clipped = np.stack(
        [
            boxes[:, 0].clip(0, w0),
            boxes[:, 1].clip(0, h0),
            boxes[:, 2].clip(0, w0),
            boxes[:, 3].clip(0, h0),
        ],
        1,
    )
    empty = (clipped[:, 2] <= clipped[:, 0]) | (clipped[:, 3] <= clipped[:, 1])
    if empty.any():
        i = int(np.flatnonzero(empty)[0])
        raise DataFormatError(
            f"{name}: object {i}'s box {boxes[i].tolist()} lies outside the {w0:g}×{h0:g} image"
        )
    scale = np.array([size[1] / w0, size[0] / h0, size[1] / w0, size[0] / h0], np.float32)
    return (clipped * scale).astype(np.float32)


# --- decoding -------------------------------------------------------------------------------


def _decode_set(voc: _Year, image_set: str, size: tuple[int, int]) -> MultiTaskArrays:
    ids, boxed, masked = _ids(voc, image_set)
    jpegs: list[Encoded] = []
    for i in ids:
        blob = voc.get(f"JPEGImages/{i}.jpg")
        if blob is None:
            raise DataFormatError(
                f"{voc.name(f'JPEGImages/{i}.jpg')}: missing (listed in {image_set})"
            )
        jpegs.append(blob)
    log.info("decoding %d VOC%s %s images", len(ids), voc.year, image_set)
    own = np.zeros((len(ids), 2), dtype=np.int64)
    images = decode_resized(
        jpegs, [voc.name(f"JPEGImages/{i}.jpg") for i in ids], size, 3, original_sizes=own
    )
    masks = np.full((len(ids), *size), IGNORE_INDEX, dtype=np.uint8)
    with_mask = [k for k, i in enumerate(ids) if i in masked]
    pngs: list[Encoded] = []
    for k in with_mask:
        rel = f"SegmentationClass/{ids[k]}.png"
        blob = voc.get(rel)
        if blob is None:
            raise DataFormatError(f"{voc.name(rel)}: missing (listed in Segmentation/{image_set})")
        pngs.append(blob)
    png_names = [voc.name(f"SegmentationClass/{ids[k]}.png") for k in with_mask]
    decoded, mask_own = decode_label_maps(pngs, png_names, size, _LOOKUP)
    for j, k in enumerate(with_mask):
        if not np.array_equal(mask_own[j], own[k]):
            raise DataFormatError(
                f"{png_names[j]}: mask is {mask_own[j][1]}×{mask_own[j][0]}, its image "
                f"{own[k][1]}×{own[k][0]}"
            )
        masks[k] = decoded[j]
    boxes, labels, difficult, counts = [], [], [], []
    for k, i in enumerate(ids):
        if i not in boxed:
            counts.append(0)
            continue
        rel = f"Annotations/{i}.xml"
        blob = voc.get(rel)
        if blob is None:
            raise DataFormatError(f"{voc.name(rel)}: missing (listed in Main/{image_set})")
        try:
            raw = blob.read_bytes() if isinstance(blob, Path) else blob
        except OSError as exc:
            raise DataFormatError(f"{voc.name(rel)}: cannot read: {exc}") from exc
        b, lab, dif = parse_annotation(raw, voc.name(rel))
        boxes.append(_fit_boxes(b, own[k], size, voc.name(rel)))
        labels.append(lab)
        difficult.append(dif)
        counts.append(len(lab))
    return MultiTaskArrays(
        images=images,
        masks=masks,
        boxes=np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32),
        labels=np.concatenate(labels) if labels else np.zeros(0, np.int64),
        difficult=np.concatenate(difficult) if difficult else np.zeros(0, np.bool_),
        counts=np.asarray(counts, dtype=np.int64),
        has_boxes=np.array([i in boxed for i in ids], dtype=np.bool_),
    )


def _fingerprint(voc: _Year, sets: Sequence[str]) -> str:
    """A folder's used files with sizes and mtimes (archives: empty; their own stat counts)."""
    if voc.folder is None:
        return ""
    stamps = []
    for image_set in sets:
        for kind in _LISTS:
            stamps.append(f"ImageSets/{kind}/{image_set}.txt")
        try:
            ids, boxed, masked = _ids(voc, image_set)
        except DataFormatError:
            continue
        for i in ids:
            stamps.append(f"JPEGImages/{i}.jpg")
            if i in boxed:
                stamps.append(f"Annotations/{i}.xml")
            if i in masked:
                stamps.append(f"SegmentationClass/{i}.png")
    lines = []
    for rel in stamps:
        try:
            st = (voc.folder / rel).stat()
            lines.append(f"{rel}|{st.st_size}|{st.st_mtime_ns}")
        except OSError:
            lines.append(f"{rel}|-")
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


# --- the loader -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedVOC:
    """What :func:`prepare_voc` found and decoded: the training and test arrays, the source,
    the year, the cache entry and whether nothing had to be decoded."""

    train: MultiTaskArrays
    test: MultiTaskArrays
    source: Path
    year: str
    cache: Path
    from_cache: bool

    def datasets(self) -> tuple[MultiTaskTensorDataset, MultiTaskTensorDataset, DatasetInfo]:
        """Train and test :class:`MultiTaskTensorDataset` (sharing the arrays) and the info."""
        h, w = self.train.images.shape[2:]
        info = multitask_info(NAME, (3, h, w), VOC_SEGMENTATION_CLASSES, VOC_CLASSES)
        return self.train.dataset(info), self.test.dataset(info), info


def prepare_voc(
    root: str | os.PathLike[str] | None = None,
    *,
    year: str | int | None = None,
    image_set: str = "train",
    test_set: str = "val",
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
    cache_dir: Path | None = None,
) -> PreparedVOC:
    """Find VOC under ``root``, decode ``image_set`` and ``test_set`` at ``image_size`` (or take
    them from the cache).

    Raises:
        DataUnavailableError: nothing found, or no ``VOC<year>`` (the message says what to pass).
        DataFormatError: a listed file that is missing, a malformed or unexpected annotation, an
            image or mask that cannot be decoded, a mask value outside 0..20 and 255 (each named).
        ValueError: a bad option (several years and none picked, an unknown or overlapping set).
    """
    size = parse_image_size(image_size)
    for what, value in (("image_set", image_set), ("test_set", test_set)):
        if value not in IMAGE_SETS:
            raise ValueError(
                f"{NAME}: {what} must be one of {', '.join(IMAGE_SETS)}, got {value!r}"
            )
    if _PARTS[image_set] & _PARTS[test_set]:
        raise ValueError(f"{NAME}: image_set {image_set!r} and test_set {test_set!r} overlap")
    data_root = resolve_data_root(root)
    source = find_voc(data_root)
    if source is None:
        raise DataUnavailableError(unavailable_message(data_root))
    voc = _pick_year(_years(source), year, source)
    fingerprint = _fingerprint(voc, (image_set, test_set))
    extra = (
        f"{NAME}|v{FORMAT_VERSION}|VOC{voc.year}|{image_set}|{test_set}|{size[0]}x{size[1]}|"
        f"{fingerprint}"
    )
    entry = cache_entry(NAME, cache_key(source, extra, stat=voc.folder is None), cache_dir)
    names = [f"{s}_{n}" for s in ("train", "test") for n in MultiTaskArrays.names()]
    cached = load_arrays(entry, names)
    if cached is not None:
        train = MultiTaskArrays.from_arrays(cached[0], "train")
        test = MultiTaskArrays.from_arrays(cached[0], "test")
        try:
            for part in (train, test):
                part.check(str(entry), len(VOC_SEGMENTATION_CLASSES), len(VOC_CLASSES))
        except DataFormatError as exc:
            log.warning("ignoring unreadable cache %s: %s", entry, exc)
        else:
            log.info("VOC%s from cache %s", voc.year, entry)
            return PreparedVOC(train, test, source, voc.year, entry, True)
    train = _decode_set(voc, image_set, size)
    test = _decode_set(voc, test_set, size)
    for part in (train, test):
        part.check(str(source), len(VOC_SEGMENTATION_CLASSES), len(VOC_CLASSES))
    stored = {**train.to_arrays("train"), **test.to_arrays("test")}
    save_arrays(entry, stored, str(source), {"year": voc.year, "sets": [image_set, test_set]})
    return PreparedVOC(train, test, source, voc.year, entry, False)


def load_voc(
    root: str | os.PathLike[str] | None = None,
    *,
    year: str | int | None = None,
    image_set: str = "train",
    test_set: str = "val",
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
) -> tuple[MultiTaskTensorDataset, MultiTaskTensorDataset, DatasetInfo]:
    """Train (``image_set``) and test (``test_set``) sets and their info (module docstring).

    Raises what :func:`prepare_voc` raises.
    """
    return prepare_voc(
        root, year=year, image_set=image_set, test_set=test_set, image_size=image_size
    ).datasets()
