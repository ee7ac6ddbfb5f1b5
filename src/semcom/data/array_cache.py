"""A cache of decoded data sets as ``.npy`` files, so slow decoding (JPEG, PNG) happens once.

An entry is a directory ``<cache>/decoded/<name>-<key>/`` holding ``train_images.npy``,
``train_labels.npy``, ``test_images.npy``, ``test_labels.npy`` (written with
``allow_pickle=False``, read the same way) and ``meta.json`` (class names, source, format
version, and whatever small JSON facts the loader adds: :func:`cached_extra`). ``key`` is
derived from the source's path, size and modification time, so a changed source is decoded
again. Entries appear atomically (built in a temporary directory, then renamed); a cache that
cannot be written or read is skipped with a warning, never an error.

:class:`DecodedSplits` is the classification layout; :func:`save_arrays` / :func:`load_arrays`
store any named set of arrays the same way (the multi-task loaders' images, masks and packed
boxes).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semcom.data.paths import default_cache_dir

log = logging.getLogger(__name__)

#: Bump when the decoded layout changes: old entries are then ignored.
CACHE_VERSION = 1
_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


@dataclass
class DecodedSplits:
    """A decoded classification set: uint8 images ``[N, C, H, W]``, int64 labels ``[N]``."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    classes: tuple[str, ...]

    def check(self, source: str) -> None:
        """Raise ``ValueError`` if the arrays are inconsistent (dtype, rank, counts, labels)."""
        for split in ("train", "test"):
            images = getattr(self, f"{split}_images")
            labels = getattr(self, f"{split}_labels")
            if images.dtype != np.uint8 or images.ndim != 4:
                raise ValueError(f"{source}: {split} images are {images.dtype} {images.shape}")
            if labels.ndim != 1 or len(labels) != len(images):
                raise ValueError(f"{source}: {len(images)} {split} images, {labels.shape} labels")
            if labels.size and not 0 <= int(labels.min()) <= int(labels.max()) < len(self.classes):
                raise ValueError(f"{source}: {split} labels outside 0..{len(self.classes) - 1}")
        if self.train_images.shape[1:] != self.test_images.shape[1:]:
            raise ValueError(
                f"{source}: train images {self.train_images.shape[1:]} but test "
                f"images {self.test_images.shape[1:]}"
            )


def cache_key(source: str | os.PathLike[str], extra: str = "", *, stat: bool = True) -> str:
    """A short key for ``source``: its resolved path, size and mtime (and ``extra``).

    With ``stat=False`` the size and mtime are left out: ``extra`` then has to say what changes
    (e.g. a directory's listing, whose own mtime also moves when unrelated files come and go).
    """
    path = Path(source).resolve()
    st = path.stat() if stat else None
    stamp = f"{st.st_size}|{st.st_mtime_ns}" if st is not None else "-"
    text = f"{path}|{stamp}|{extra}|v{CACHE_VERSION}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def cache_entry(name: str, key: str, cache_dir: Path | None = None) -> Path:
    """The directory of one entry: ``<cache_dir or default>/decoded/<name>-<key>``."""
    return (cache_dir or default_cache_dir()) / "decoded" / f"{name}-{key}"


def load_arrays(
    entry: Path, names: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
    """The arrays ``names`` of ``entry`` and its ``meta.json``, or ``None`` if absent, stale
    (another :data:`CACHE_VERSION`) or unreadable (with a warning)."""
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict) or meta.get("version") != CACHE_VERSION:
            return None
        return {k: np.load(entry / f"{k}.npy", allow_pickle=False) for k in names}, meta
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable cache %s: %s", entry, exc)
        return None


def load_cached(entry: Path) -> DecodedSplits | None:
    """The cached arrays in ``entry``, or ``None`` if absent, stale or unreadable."""
    loaded = load_arrays(entry, _ARRAYS)
    if loaded is None:
        return None
    arrays, meta = loaded
    try:
        splits = DecodedSplits(**arrays, classes=tuple(meta["classes"]))
        splits.check(str(entry))
        return splits
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable cache %s: %s", entry, exc)
        return None


def cached_extra(entry: Path) -> dict[str, Any]:
    """The ``extra`` facts :func:`save_cached` stored with ``entry`` (``{}`` if none)."""
    try:
        extra = json.loads((entry / "meta.json").read_text()).get("extra", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return extra if isinstance(extra, dict) else {}


def save_arrays(
    entry: Path,
    arrays: Mapping[str, np.ndarray],
    source: str,
    meta: Mapping[str, Any] | None = None,
) -> bool:
    """Write ``arrays`` (``<name>.npy`` each) and ``meta.json`` (``version``, ``source`` and the
    JSON ``meta``) to ``entry`` atomically; ``False`` (and a warning) if that fails."""
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{entry.name}."))
    except OSError as exc:
        log.warning("cannot write the decoded cache under %s: %s", entry.parent, exc)
        return False
    try:
        for k, array in arrays.items():
            np.save(tmp / f"{k}.npy", np.ascontiguousarray(array), allow_pickle=False)
        content = {"version": CACHE_VERSION, **(meta or {}), "source": source}
        (tmp / "meta.json").write_text(json.dumps(content, indent=1))
        if entry.exists():  # someone else finished first, or a stale entry: replace it
            shutil.rmtree(entry, ignore_errors=True)
        os.replace(tmp, entry)
        return True
    except OSError as exc:
        log.warning("cannot write the decoded cache %s: %s", entry, exc)
        return False
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_cached(
    entry: Path, splits: DecodedSplits, source: str, extra: Mapping[str, Any] | None = None
) -> bool:
    """Write ``splits`` to ``entry`` atomically; ``False`` (and a warning) if that fails.

    ``extra`` (JSON) is stored in ``meta.json`` and read back by :func:`cached_extra`.
    """
    meta: dict[str, Any] = {"classes": list(splits.classes)}
    if extra:
        meta["extra"] = dict(extra)
    return save_arrays(entry, {k: getattr(splits, k) for k in _ARRAYS}, source, meta)
