"""Action-recognition video sets from their usual layouts, decoded once into uint8 clips.

Each loader takes a data root (``root`` argument, else ``$SEMCOM_DATA``, else
``~/.cache/semcom/data``) that is, or holds, the set's folder, and returns ``(train, test, info)``:
two :class:`~semcom.data.clips.ClipTensorDataset` (uint8 ``[N, C, T, H, W]`` in memory, float
``[0, 1]`` batches ``[B, C, T, H, W]``) and a :class:`DatasetInfo` with ``input_shape = (C, T,
H, W)``.

* ``hmdb51`` (:func:`load_hmdb51`): ``<class>/<name>.avi`` and the split files
  ``<class>_test_split<fold>.txt`` (lines ``<name>.avi <tag>``: 1 = train, 2 = test, 0 = unused,
  dropped), in the set's folder, its ``splits/`` or ``testTrainMulti_7030_splits/``, or the folder
  ``splits_dir`` (relative to the data root, or absolute). Classes: the split files' class names,
  sorted. The folder may be the data root or its ``hmdb51/`` (``HMDB51/``).
* ``ucf101`` (:func:`load_ucf101`): ``<Class>/v_<Class>_g<NN>_c<NN>.avi`` (or all videos in one
  folder, or under ``UCF-101/``), ``classInd.txt`` (``1 ApplyEyeMakeup``: classes in that order),
  ``trainlist0<fold>.txt`` (``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1``) and
  ``testlist0<fold>.txt`` (no label: the class is the path's folder, else the ``v_<Class>_``
  part of the name; class names match case-insensitively, as UCF's own lists need), in the set's
  folder, its ``ucfTrainTestlist/`` or ``splits_dir``. The folder may be the data root or its
  ``UCF101/`` (``ucf101/``).
* ``kinetics`` (:func:`load_kinetics`): ``train/<class>/<clip>.<ext>`` and a test split
  ``<test_set>/<class>/<clip>.<ext>`` next to it (default ``val``, else ``test``); any of
  :data:`VIDEO_EXTENSIONS`. Classes: the class folders of both splits, sorted. The folder may be
  the data root or its ``kinetics/`` (``kinetics400/``, ...).
* ``video-list`` (:func:`load_video_list`, mmaction2's video lists): ``train_list`` and
  ``test_list`` (default ``train_list.txt`` / ``test_list.txt``, relative to the data root or
  absolute) of ``<path> <label>`` lines (an integer label; paths without spaces, relative to the
  list's folder or to ``data_prefix``), and ``label_map`` (default ``label_map.txt``: one class
  name per line, index = label; without the default file, classes are named ``"0"``,
  ``"1"``, ...).

Listed files are found at their path, else by their name anywhere under the set's folder (case
ignored), so flat and nested copies both work. Every clip is decoded by
:func:`semcom.data.video_decode.decode_clip` with the :class:`VideoOptions` (``frames`` = T,
default 16; ``image_size`` ``(H, W)``, default 112×112; ``sampling`` ``uniform`` or ``stride``;
``stride``; ``channels``), in a few threads (:data:`DEFAULT_WORKERS`), with a log line every
:data:`LOG_EVERY` clips.

**Bad clips are skipped.** A listed file that is missing or cannot be decoded is left out with a
warning giving the count and naming up to five (the cache keeps the list and warns again when it
is used); real copies of HMDB51 and Kinetics hold a few broken files, and one should not cost the
rest. A split left with no clip is a :class:`DataFormatError` naming the first failures. A
malformed list or split file (a bad line, an unknown class, a label out of range) is always a
:class:`DataFormatError` naming the file and line.

**Cache.** The decoded arrays are cached as ``.npy`` (:mod:`semcom.data.array_cache`) under a key
made of the set's folder, the options that change the pixels, :data:`FORMAT_VERSION` and every
listed file's path, label, size and modification time, so decoding happens once. Memory: UCF101
at the defaults (13 320 clips of 3×16×112×112) is about 8 GB.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom.data.array_cache import cache_entry, cache_key, load_arrays, save_arrays
from semcom.data.clips import ClipTensorDataset
from semcom.data.errors import DataFormatError, DataUnavailableError
from semcom.data.image_folder import parse_image_size
from semcom.data.info import DatasetInfo
from semcom.data.paths import DATA_ENV, resolve_data_root
from semcom.data.video_decode import SAMPLINGS, VideoDecodeError, decode_clip

log = logging.getLogger(__name__)

#: The registered names (and :attr:`DatasetInfo.name`).
VIDEO_SET_NAMES: tuple[str, ...] = ("hmdb51", "ucf101", "kinetics", "video-list")
#: File endings taken as videos (case ignored).
VIDEO_EXTENSIONS: tuple[str, ...] = (
    ".avi", ".mp4", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".ogv", ".flv", ".3gp",
    ".wmv",
)  # fmt: skip
#: Defaults of the video options.
DEFAULT_FRAMES = 16
DEFAULT_IMAGE_SIZE = (112, 112)
#: The official folds of HMDB51 and UCF101.
FOLDS: tuple[int, ...] = (1, 2, 3)
#: Decoding threads (fewer on a machine with fewer cores).
DEFAULT_WORKERS = 4
#: A progress line every this many clips.
LOG_EVERY = 200
#: Part of every cache key: bump when decoding changes.
FORMAT_VERSION = 1
_SHOW = 5  # bad files named in a warning or error
_ARRAYS = ("train_clips", "train_labels", "test_clips", "test_labels")
_HMDB_SPLIT = re.compile(r"^(?P<cls>.+)_test_split(?P<fold>\d+)\.txt$")
_UCF_NAME = re.compile(r"^v_(?P<cls>.+?)_g\d+_c\d+", re.IGNORECASE)


# --- options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class VideoOptions:
    """How every clip is decoded (the video ``data`` options).

    Attributes:
        frames: frames per clip ``T``.
        image_size: ``(H, W)`` of a frame (an int or ``"HxW"`` is accepted, see
            :func:`~semcom.data.image_folder.parse_image_size`).
        sampling: ``uniform`` (spread over the clip) or ``stride`` (a centred window of frames
            ``stride`` apart): :func:`semcom.data.video_decode.sample_indices`.
        stride: frame step of ``stride`` sampling.
        channels: 1 (grey) or 3 (RGB).

    >>> VideoOptions(frames=8, image_size=64).input_shape
    (3, 8, 64, 64)
    >>> VideoOptions(sampling="random")
    Traceback (most recent call last):
    ...
    ValueError: sampling must be one of uniform, stride, got 'random'
    """

    frames: int = DEFAULT_FRAMES
    image_size: tuple[int, int] = DEFAULT_IMAGE_SIZE
    sampling: str = "uniform"
    stride: int = 2
    channels: int = 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "image_size", parse_image_size(self.image_size))
        for what in ("frames", "stride"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{what} must be an integer >= 1, got {value!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(
                f"sampling must be one of {', '.join(SAMPLINGS)}, got {self.sampling!r}"
            )
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r}")

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """``(C, T, H, W)`` of one clip."""
        return (self.channels, self.frames, *self.image_size)

    def key(self) -> str:
        """What changes the decoded pixels (``stride`` only with ``stride`` sampling)."""
        step = f"|s{self.stride}" if self.sampling == "stride" else ""
        h, w = self.image_size
        return f"{self.frames}f|{h}x{w}|c{self.channels}|{self.sampling}{step}"


def _options(name: str, **values: Any) -> VideoOptions:
    try:
        return VideoOptions(**values)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def _fold(name: str, fold: int | str) -> int:
    try:
        value = int(fold)
    except (TypeError, ValueError):
        value = 0
    if value not in FOLDS:
        raise ValueError(f"{name}: fold must be one of {', '.join(map(str, FOLDS))}, got {fold!r}")
    return value


# --- which files ----------------------------------------------------------------------------

#: A clip of a split: its file and label.
Item = tuple[Path, int]


@dataclass(frozen=True)
class VideoIndex:
    """The clips of a set before decoding: ``(file, label)`` per split, and the class names.

    Attributes:
        name: the registered name.
        source: the set's folder (the cache is keyed on it).
        classes: class names, index = label.
        train: training clips, in listing order.
        test: test clips, in listing order.
        layout: what was found, for people (``"split files of fold 1 in splits/"``).
    """

    name: str
    source: Path
    classes: tuple[str, ...]
    train: tuple[Item, ...]
    test: tuple[Item, ...]
    layout: str = ""

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            if not getattr(self, split):
                raise DataFormatError(f"{self.name}: no {split} clip listed in {self.source}")

    def fingerprint(self) -> str:
        """Every listed file's path, label, size and modification time, and the classes."""
        lines = ["|".join(self.classes)]
        for split in ("train", "test"):
            for path, label in getattr(self, split):
                try:
                    st = path.stat()
                    stamp = f"{st.st_size}|{st.st_mtime_ns}"
                except OSError:
                    stamp = "-"
                lines.append(f"{split}|{path}|{label}|{stamp}")
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def is_video(name: str) -> bool:
    """Whether a file name ends with one of :data:`VIDEO_EXTENSIONS` (case ignored).

    >>> is_video("a.MP4"), is_video("split1.txt")
    (True, False)
    """
    return name.lower().endswith(VIDEO_EXTENSIONS)


@dataclass
class _Finder:
    """Finds a listed file: at ``<base>/<rel>`` for each base, else by its name (case ignored)
    anywhere under the first base (scanned once, when first needed)."""

    bases: Sequence[Path]
    _by_name: dict[str, Path] | None = field(default=None, init=False)

    def find(self, rel: str) -> Path:
        rel_path = Path(rel)
        if rel_path.is_absolute():
            return rel_path
        for base in self.bases:
            candidate = base / rel_path
            if candidate.is_file():
                return candidate
        if self._by_name is None:
            self._by_name = {}
            for folder, dirs, files in os.walk(self.bases[0]):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for f in sorted(files):
                    if is_video(f):
                        self._by_name.setdefault(f.lower(), Path(folder) / f)
        # not found: the path as listed (its decoding then fails and it is skipped, named)
        return self._by_name.get(rel_path.name.lower(), self.bases[0] / rel_path)


def _candidates(root: Path, names: Sequence[str]) -> list[Path]:
    return [root, *(root / n for n in names)]


def _under(root: Path, value: str | os.PathLike[str]) -> Path:
    """``value`` (``~`` expanded) if absolute, else relative to ``root``."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else root / path


def _shown(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` if it is inside it (``"."`` for the folder itself)."""
    return str(path.relative_to(folder) if path.is_relative_to(folder) else path)


def _read_lines(path: Path, name: str) -> list[tuple[int, str]]:
    """The non-blank lines of a text file with their 1-based numbers."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{name}: cannot read {path}: {exc}") from exc
    return [(i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.strip()]


def _unavailable(name: str, data_root: Path, layout: str, where: str) -> DataUnavailableError:
    return DataUnavailableError(
        f"{name} is not available under {data_root}. Pass --data-root PATH (or set "
        f"{DATA_ENV}=PATH, or data.root in the config) to {layout}. It is not downloaded: "
        f"{where}."
    )


def _splits_folder(
    name: str, data_root: Path, splits_dir: str | os.PathLike[str] | None
) -> Path | None:
    """The folder ``splits_dir`` names (relative to the data root), or ``None`` if not given."""
    if splits_dir is None or str(splits_dir) == "":
        return None
    path = _under(data_root, splits_dir)
    if not path.is_dir():
        raise DataUnavailableError(
            f"{name}: splits_dir {str(splits_dir)!r} is not a folder ({path})"
        )
    return path


_HMDB_LAYOUT = (
    "the HMDB51 folder (<class>/<name>.avi and the split files <class>_test_split<fold>.txt, in "
    "it, in splits/ or testTrainMulti_7030_splits/, or in data.splits_dir)"
)


def index_hmdb51(
    root: str | os.PathLike[str] | None = None,
    *,
    fold: int = 1,
    splits_dir: str | os.PathLike[str] | None = None,
) -> VideoIndex:
    """HMDB51's clips of split ``fold`` (module docstring); nothing is decoded.

    Raises:
        DataUnavailableError: no split files of the fold (the message says what to pass).
        DataFormatError: a split-file line that is not ``<name>.avi <0|1|2>`` (file and line).
        ValueError: a fold outside 1..3.
    """
    name = "hmdb51"
    fold = _fold(name, fold)
    data_root = resolve_data_root(root)
    given = _splits_folder(name, data_root, splits_dir)
    found = (data_root, given) if given else None  # (set folder, split-file folder)
    for folder in _candidates(data_root, ("hmdb51", "HMDB51", "hmdb51_org")):
        for split_dir in (folder, folder / "splits", folder / "testTrainMulti_7030_splits"):
            if (
                found is None
                and split_dir.is_dir()
                and any(_HMDB_SPLIT.match(p.name) for p in split_dir.iterdir() if p.is_file())
            ):
                found = (folder, split_dir)
    if found is None:
        where = "get hmdb51_org.rar and test_train_splits.rar from serre-lab.clps.brown.edu"
        raise _unavailable("HMDB51", data_root, _HMDB_LAYOUT, where)
    folder, split_dir = found
    files: dict[str, Path] = {}
    for p in sorted(split_dir.iterdir()):
        m = _HMDB_SPLIT.match(p.name)
        if m and int(m["fold"]) == fold and p.is_file():
            files[m["cls"]] = p
    if not files:
        raise DataUnavailableError(f"{name}: no *_test_split{fold}.txt in {split_dir}")
    classes = tuple(sorted(files))
    finder = _Finder([folder])
    splits: dict[str, list[Item]] = {"1": [], "2": []}
    for label, cls in enumerate(classes):
        for lineno, line in _read_lines(files[cls], name):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2") or not is_video(parts[0]):
                raise DataFormatError(
                    f"{files[cls]}:{lineno}: expected '<name>.avi <0|1|2>', got {line!r}"
                )
            if parts[1] != "0":
                splits[parts[1]].append((finder.find(f"{cls}/{parts[0]}"), label))
    layout = f"split files of fold {fold} in {_shown(split_dir, folder)}"
    return VideoIndex(name, folder, classes, tuple(splits["1"]), tuple(splits["2"]), layout)


_UCF_LAYOUT = (
    "the UCF101 folder (<Class>/v_*.avi, or all videos in one folder or in UCF-101/, and "
    "classInd.txt, trainlist0<fold>.txt, testlist0<fold>.txt in it, in ucfTrainTestlist/ or in "
    "data.splits_dir)"
)


def _ucf_class(rel: str, lookup: dict[str, int]) -> int | None:
    """The class of a UCF list path: its folder, else the ``v_<Class>_`` part of its name."""
    parts = rel.replace("\\", "/").split("/")
    if len(parts) > 1 and parts[-2].lower() in lookup:
        return lookup[parts[-2].lower()]
    m = _UCF_NAME.match(parts[-1])
    return lookup.get(m["cls"].lower()) if m else None


def index_ucf101(
    root: str | os.PathLike[str] | None = None,
    *,
    fold: int = 1,
    splits_dir: str | os.PathLike[str] | None = None,
) -> VideoIndex:
    """UCF101's clips of split ``fold`` (module docstring); nothing is decoded.

    Raises:
        DataUnavailableError: no ``classInd.txt`` or no list of the fold (what to pass).
        DataFormatError: a malformed line, an unknown class or a label that disagrees with the
            path's class (file and line).
        ValueError: a fold outside 1..3.
    """
    name = "ucf101"
    fold = _fold(name, fold)
    data_root = resolve_data_root(root)
    given = _splits_folder(name, data_root, splits_dir)
    found = (data_root, given) if given else None  # (set folder, list folder)
    for folder in _candidates(data_root, ("UCF101", "ucf101", "UCF-101")):
        for list_dir in (folder, folder / "ucfTrainTestlist"):
            if found is None and (list_dir / "classInd.txt").is_file():
                found = (folder, list_dir)
    if found is None:
        where = "get UCF101.rar and UCF101TrainTestSplits-RecognitionTask.zip from crcv.ucf.edu"
        raise _unavailable("UCF101", data_root, _UCF_LAYOUT, where)
    folder, list_dir = found
    class_file = list_dir / "classInd.txt"
    if not class_file.is_file():
        raise DataUnavailableError(f"{name}: no classInd.txt in {list_dir}")
    numbered: dict[int, str] = {}
    for lineno, line in _read_lines(class_file, name):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) in numbered:
            raise DataFormatError(
                f"{class_file}:{lineno}: expected '<index> <Class>', got {line!r}"
            )
        numbered[int(parts[0])] = parts[1]
    if sorted(numbered) != list(range(1, len(numbered) + 1)):
        raise DataFormatError(f"{class_file}: class indices are not 1..{len(numbered)}")
    classes = tuple(numbered[i] for i in range(1, len(numbered) + 1))
    lookup = {c.lower(): i for i, c in enumerate(classes)}
    finder = _Finder([folder, folder / "UCF-101", folder / "UCF101"])
    splits: dict[str, list[Item]] = {}
    for split, stem in (("train", "trainlist"), ("test", "testlist")):
        path = list_dir / f"{stem}0{fold}.txt"
        if not path.is_file():
            raise DataUnavailableError(f"{name}: no {path.name} in {list_dir}")
        items: list[Item] = []
        for lineno, line in _read_lines(path, name):
            parts = line.split()
            label = _ucf_class(parts[0], lookup) if parts else None
            if len(parts) not in (1, 2) or label is None:
                raise DataFormatError(
                    f"{path}:{lineno}: expected '<Class>/v_<Class>_gNN_cNN.avi [index]' with a "
                    f"class of {class_file.name}, got {line!r}"
                )
            if len(parts) == 2 and parts[1] != str(label + 1):
                raise DataFormatError(
                    f"{path}:{lineno}: label {parts[1]} but the path's class is "
                    f"{classes[label]} ({label + 1} in {class_file.name})"
                )
            items.append((finder.find(parts[0]), label))
        splits[split] = items
    layout = f"lists of fold {fold} in {_shown(list_dir, folder)}"
    return VideoIndex(name, folder, classes, tuple(splits["train"]), tuple(splits["test"]), layout)


_KINETICS_LAYOUT = (
    "the Kinetics-style folder (train/<class>/<clip>.mp4 and val/<class>/... or test/<class>/...; "
    f"any of {', '.join(VIDEO_EXTENSIONS)})"
)


def _class_folders(split: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for d in sorted(split.iterdir()):
        if d.is_dir() and not d.name.startswith("."):
            out[d.name] = sorted(
                p for p in d.iterdir() if p.is_file() and is_video(p.name) and p.name[0] != "."
            )
    return out


def index_kinetics(
    root: str | os.PathLike[str] | None = None, *, test_set: str | None = None
) -> VideoIndex:
    """The clips of a Kinetics-style folder (module docstring); nothing is decoded.

    Raises:
        DataUnavailableError: no ``train/`` folder (what to pass).
        ValueError: ``test_set`` names no split folder.
        DataFormatError: a split without clips.
    """
    name = "kinetics"
    data_root = resolve_data_root(root)
    names = ("kinetics", "Kinetics", "kinetics400", "kinetics-400", "kinetics600", "kinetics700")
    folder = next((f for f in _candidates(data_root, names) if (f / "train").is_dir()), None)
    if folder is None:
        where = "download the clips with a Kinetics downloader and cut them"
        raise _unavailable("Kinetics", data_root, _KINETICS_LAYOUT, where)
    others = sorted(
        d.name for d in folder.iterdir() if d.is_dir() and d.name != "train" and d.name[0] != "."
    )
    if test_set is None:
        test_set = next((s for s in ("val", "test") if s in others), None)
        if test_set is None:
            raise DataUnavailableError(f"{name}: no val/ nor test/ next to {folder / 'train'}")
    elif test_set == "train" or test_set not in others:
        raise ValueError(
            f"{name}: test_set must name a split folder next to train/ (found: "
            f"{', '.join(others) or 'none'}), got {test_set!r}"
        )
    train, test = _class_folders(folder / "train"), _class_folders(folder / test_set)
    classes = tuple(sorted(set(train) | set(test)))
    index = {c: i for i, c in enumerate(classes)}

    def items(split: dict[str, list[Path]]) -> tuple[Item, ...]:
        return tuple((p, index[c]) for c in sorted(split) for p in split[c])

    layout = f"train/ and {test_set}/"
    return VideoIndex(name, folder, classes, items(train), items(test), layout)


_LIST_LAYOUT = (
    "a folder holding train_list.txt and test_list.txt ('<path> <label>' lines; or data.train_list "
    "/ data.test_list) and label_map.txt (one class name per line)"
)


def _read_label_map(path: Path, name: str) -> tuple[str, ...]:
    try:
        lines = path.read_bytes().decode("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataFormatError(f"{name}: cannot read {path}: {exc}") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    classes = tuple(line.strip() for line in lines)
    for i, cls in enumerate(classes):
        if not cls or cls in classes[:i]:
            what = "blank" if not cls else f"{cls!r} again"
            raise DataFormatError(f"{path}:{i + 1}: class name {what} (one name per line)")
    if not classes:
        raise DataFormatError(f"{path}: no class names")
    return classes


def index_video_list(
    root: str | os.PathLike[str] | None = None,
    *,
    train_list: str | os.PathLike[str] = "train_list.txt",
    test_list: str | os.PathLike[str] = "test_list.txt",
    label_map: str | os.PathLike[str] | None = None,
    data_prefix: str | os.PathLike[str] | None = None,
) -> VideoIndex:
    """The clips of two mmaction2-style video lists (module docstring); nothing is decoded.

    ``label_map`` ``None`` means ``label_map.txt`` if it exists, else classes ``"0"``, ``"1"``, ...
    up to the largest label.

    Raises:
        DataUnavailableError: a list (or a given label map) that does not exist.
        DataFormatError: a line that is not ``<path> <label>``, a label outside the label map
            (file and line), a malformed label map.
    """
    name = "video-list"
    data_root = resolve_data_root(root)
    lists = {"train": _under(data_root, train_list), "test": _under(data_root, test_list)}
    for split, path in lists.items():
        if not path.is_file():
            raise _unavailable(
                f"{name} {split}_list {path.name}", data_root, _LIST_LAYOUT, "write the lists"
            )
    base = _under(data_root, data_prefix) if data_prefix not in (None, "") else None
    parsed: dict[str, list[tuple[Path, int, str]]] = {}
    for split, path in lists.items():
        rows = []
        finder = _Finder([base or path.parent])
        for lineno, line in _read_lines(path, name):
            parts = line.split()
            if len(parts) != 2 or not parts[1].isdigit():
                raise DataFormatError(
                    f"{path}:{lineno}: expected '<path> <integer label>', got {line!r}"
                )
            rows.append((finder.find(parts[0]), int(parts[1]), f"{path}:{lineno}"))
        parsed[split] = rows
    top = (
        max(label for rows in parsed.values() for _, label, _ in rows)
        if any(parsed.values())
        else 0
    )
    map_path = _under(data_root, label_map or "label_map.txt")
    if map_path.is_file():
        classes = _read_label_map(map_path, name)
    elif label_map not in (None, ""):
        raise DataUnavailableError(f"{name}: label_map {str(label_map)!r} not found ({map_path})")
    else:
        classes = tuple(str(i) for i in range(top + 1))
    for rows in parsed.values():
        for _, label, where in rows:
            if label >= len(classes):
                raise DataFormatError(
                    f"{where}: label {label} but {map_path.name} has {len(classes)} classes "
                    f"(0..{len(classes) - 1})"
                )
    train, test = ((tuple((p, lab) for p, lab, _ in parsed[s])) for s in ("train", "test"))
    layout = f"{lists['train'].name} and {lists['test'].name}"
    return VideoIndex(name, data_root, classes, train, test, layout)


# --- decoding and the cache -----------------------------------------------------------------


@dataclass(frozen=True)
class PreparedVideo:
    """A decoded set: uint8 clips ``[N, C, T, H, W]`` and int64 labels ``[N]`` per split, with
    where they came from, the cache entry, whether nothing was decoded, and the clips left out
    (``"<file>: <why>"``)."""

    name: str
    train_clips: np.ndarray
    train_labels: np.ndarray
    test_clips: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]
    source: Path
    cache: Path
    from_cache: bool
    skipped: tuple[str, ...] = ()

    def datasets(self) -> tuple[ClipTensorDataset, ClipTensorDataset, DatasetInfo]:
        """Train and test :class:`ClipTensorDataset` (sharing the arrays) and the info."""
        shape = tuple(int(s) for s in self.train_clips.shape[1:])
        info = DatasetInfo(self.name, len(self.classes), shape, self.classes)
        return (
            ClipTensorDataset(
                torch.from_numpy(self.train_clips), torch.from_numpy(self.train_labels), info
            ),
            ClipTensorDataset(
                torch.from_numpy(self.test_clips), torch.from_numpy(self.test_labels), info
            ),
            info,
        )


def _listed(errors: Sequence[str]) -> str:
    more = f"; and {len(errors) - _SHOW} more" if len(errors) > _SHOW else ""
    return "; ".join(errors[:_SHOW]) + more


def decode_items(
    items: Sequence[Item],
    options: VideoOptions,
    *,
    workers: int | None = None,
    what: str = "clips",
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode ``items`` in ``workers`` threads (default :data:`DEFAULT_WORKERS`, at most the CPU
    count): clips uint8 ``[M, C, T, H, W]``, labels int64 ``[M]`` of the ``M`` that decoded, in
    order, and the errors of those that did not (``"<file>: <why>"``, in order)."""
    n = len(items)
    out = np.empty((n, *options.input_shape), dtype=np.uint8)
    ok = np.zeros(n, dtype=np.bool_)
    errors: dict[int, str] = {}
    lock = threading.Lock()
    done = [0]

    def one(i: int) -> None:
        try:
            out[i] = decode_clip(
                items[i][0],
                frames=options.frames,
                size=options.image_size,
                sampling=options.sampling,
                stride=options.stride,
                channels=options.channels,
            )
            ok[i] = True
        except VideoDecodeError as exc:
            errors[i] = str(exc)
        with lock:
            done[0] += 1
            if done[0] % LOG_EVERY == 0:
                log.info("decoded %d/%d %s", done[0], n, what)

    log.info("decoding %d %s", n, what)
    count = min(workers or DEFAULT_WORKERS, os.cpu_count() or 1, max(n, 1))
    if count <= 1:
        for i in range(n):
            one(i)
    else:
        with ThreadPoolExecutor(count, thread_name_prefix="video") as pool:
            list(pool.map(one, range(n)))
    labels = np.fromiter((label for _, label in items), dtype=np.int64, count=n)
    if not ok.all():
        out, labels = out[ok], labels[ok]
    return out, labels, [errors[i] for i in sorted(errors)]


def _check_cached(arrays: dict[str, np.ndarray], classes: int, shape: tuple[int, ...]) -> str:
    """What is wrong with cached arrays (empty: nothing)."""
    for split in ("train", "test"):
        clips, labels = arrays[f"{split}_clips"], arrays[f"{split}_labels"]
        if clips.dtype != np.uint8 or clips.shape[1:] != shape or len(clips) == 0:
            return f"{split} clips are {clips.dtype} {clips.shape}, expected [N, {shape}]"
        if (
            labels.shape != (len(clips),)
            or not 0 <= int(labels.min()) <= int(labels.max()) < classes
        ):
            return f"{split} labels {labels.dtype} {labels.shape} do not fit"
    return ""


def decode_video_set(
    index: VideoIndex,
    options: VideoOptions | None = None,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    workers: int | None = None,
) -> PreparedVideo:
    """Decode the clips of ``index`` with ``options`` (or take them from the cache).

    With ``use_cache=False`` the cache is neither read nor written. Missing or undecodable clips
    are skipped with a warning (module docstring).

    Raises:
        DataFormatError: a split of which no clip decodes (the first failures named).
    """
    options = options or VideoOptions()
    extra = f"{index.name}|v{FORMAT_VERSION}|{options.key()}|{index.fingerprint()}"
    entry = cache_entry(index.name, cache_key(index.source, extra, stat=False), cache_dir)
    cached = load_arrays(entry, _ARRAYS) if use_cache else None
    if cached is not None:
        arrays, meta = cached
        problem = _check_cached(arrays, len(index.classes), options.input_shape)
        if problem or list(meta.get("classes", [])) != list(index.classes):
            log.warning("ignoring unreadable cache %s: %s", entry, problem or "other classes")
        else:
            extra_meta = meta.get("extra", {})
            skipped = tuple(extra_meta.get("skipped", [])) if isinstance(extra_meta, dict) else ()
            log.info("%s (%s) from cache %s", index.name, index.layout, entry)
            if skipped:
                log.warning(
                    "%s: %d clip(s) were left out when decoded: %s",
                    index.name,
                    len(skipped),
                    _listed(skipped),
                )
            return PreparedVideo(
                index.name, **{k: arrays[k] for k in _ARRAYS}, classes=index.classes,
                source=index.source, cache=entry, from_cache=True, skipped=skipped,
            )  # fmt: skip
    decoded: dict[str, np.ndarray] = {}
    skipped_list: list[str] = []
    for split in ("train", "test"):
        items = getattr(index, split)
        clips, labels, errors = decode_items(
            items, options, workers=workers, what=f"{index.name} {split} clips"
        )
        if len(clips) == 0:
            raise DataFormatError(
                f"{index.name}: none of the {len(items)} {split} clips could be decoded: "
                f"{_listed(errors)}"
            )
        decoded[f"{split}_clips"], decoded[f"{split}_labels"] = clips, labels
        skipped_list += errors
    if skipped_list:
        log.warning(
            "%s: skipped %d of %d clips that are missing or cannot be decoded: %s",
            index.name,
            len(skipped_list),
            len(index.train) + len(index.test),
            _listed(skipped_list),
        )
    if use_cache:
        meta = {
            "classes": list(index.classes),
            "extra": {"layout": index.layout, "options": options.key(), "skipped": skipped_list},
        }
        save_arrays(entry, decoded, str(index.source), meta)
    return PreparedVideo(
        index.name, **{k: decoded[k] for k in _ARRAYS}, classes=index.classes,
        source=index.source, cache=entry, from_cache=False, skipped=tuple(skipped_list),
    )  # fmt: skip


# --- the loaders ----------------------------------------------------------------------------

#: ``(train, test, info)`` of a video set.
VideoSets = tuple[ClipTensorDataset, ClipTensorDataset, DatasetInfo]


def _load(index: Callable[[], VideoIndex], name: str, **video: Any) -> VideoSets:
    options = _options(name, **video)  # a bad option fails before anything is read
    return decode_video_set(index(), options).datasets()


def load_hmdb51(
    root: str | os.PathLike[str] | None = None,
    *,
    fold: int = 1,
    splits_dir: str | os.PathLike[str] | None = None,
    frames: int = DEFAULT_FRAMES,
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
    sampling: str = "uniform",
    stride: int = 2,
    channels: int = 3,
) -> VideoSets:
    """HMDB51 split ``fold``: clips uint8 ``[N, channels, frames, H, W]``, 51 classes (module
    docstring). Raises what :func:`index_hmdb51` and :func:`decode_video_set` raise."""
    return _load(
        lambda: index_hmdb51(root, fold=fold, splits_dir=splits_dir), "hmdb51",
        frames=frames, image_size=image_size, sampling=sampling, stride=stride, channels=channels,
    )  # fmt: skip


def load_ucf101(
    root: str | os.PathLike[str] | None = None,
    *,
    fold: int = 1,
    splits_dir: str | os.PathLike[str] | None = None,
    frames: int = DEFAULT_FRAMES,
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
    sampling: str = "uniform",
    stride: int = 2,
    channels: int = 3,
) -> VideoSets:
    """UCF101 split ``fold``: clips uint8 ``[N, channels, frames, H, W]``, 101 classes in
    ``classInd.txt`` order (module docstring). Raises what :func:`index_ucf101` and
    :func:`decode_video_set` raise."""
    return _load(
        lambda: index_ucf101(root, fold=fold, splits_dir=splits_dir), "ucf101",
        frames=frames, image_size=image_size, sampling=sampling, stride=stride, channels=channels,
    )  # fmt: skip


def load_kinetics(
    root: str | os.PathLike[str] | None = None,
    *,
    test_set: str | None = None,
    frames: int = DEFAULT_FRAMES,
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
    sampling: str = "uniform",
    stride: int = 2,
    channels: int = 3,
) -> VideoSets:
    """A Kinetics-style folder: ``train/`` and ``test_set`` (default ``val/``, else ``test/``),
    clips uint8 ``[N, channels, frames, H, W]`` (module docstring). Raises what
    :func:`index_kinetics` and :func:`decode_video_set` raise."""
    return _load(
        lambda: index_kinetics(root, test_set=test_set), "kinetics",
        frames=frames, image_size=image_size, sampling=sampling, stride=stride, channels=channels,
    )  # fmt: skip


def load_video_list(
    root: str | os.PathLike[str] | None = None,
    *,
    train_list: str | os.PathLike[str] = "train_list.txt",
    test_list: str | os.PathLike[str] = "test_list.txt",
    label_map: str | os.PathLike[str] | None = None,
    data_prefix: str | os.PathLike[str] | None = None,
    frames: int = DEFAULT_FRAMES,
    image_size: int | Sequence[int] | str = DEFAULT_IMAGE_SIZE,
    sampling: str = "uniform",
    stride: int = 2,
    channels: int = 3,
) -> VideoSets:
    """Two mmaction2-style video lists and a label map: clips uint8 ``[N, channels, frames, H,
    W]`` (module docstring). Raises what :func:`index_video_list` and :func:`decode_video_set`
    raise."""
    return _load(
        lambda: index_video_list(
            root, train_list=train_list, test_list=test_list, label_map=label_map,
            data_prefix=data_prefix,
        ),
        "video-list",
        frames=frames, image_size=image_size, sampling=sampling, stride=stride, channels=channels,
    )  # fmt: skip
