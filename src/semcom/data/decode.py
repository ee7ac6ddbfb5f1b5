"""Decode encoded images (JPEG, PNG, WebP, ...) into one uint8 array ``[N, C, H, W]``.

* :func:`decode_images`: images that all have one size, as RGB (CIFAR-10's ImageFolder);
* :func:`decode_resized`: images of any size and mode, converted to grey or RGB and resized to
  one size (:mod:`semcom.data.image_folder`), decoded by Pillow in a few threads;
* :func:`decode_label_maps`: single-channel label images (segmentation masks: grey ``L`` or
  palette ``P`` PNGs, whose palette indices are the labels) mapped through a lookup table that
  also rejects unknown values, resized with nearest neighbour, in the same threads.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semcom.data.errors import DataFormatError


def _torchvision_decoder() -> Callable[[bytes], np.ndarray] | None:
    """torchvision's native image decoder (about 2.5× faster than Pillow on CIFAR's small
    JPEGs), or ``None`` where it is missing. torchvision 0.29 deprecates it in favour of
    TorchCodec; when it goes, Pillow takes over."""
    try:
        from torchvision.io import ImageReadMode, decode_image
    except ImportError:  # pragma: no cover - a torchvision without image ops
        return None

    def decode(blob: bytes) -> np.ndarray:
        tensor = torch.frombuffer(bytearray(blob), dtype=torch.uint8)
        return decode_image(tensor, mode=ImageReadMode.RGB).numpy()

    return decode


def _pillow_decode(blob: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(blob)) as im:
        return np.asarray(im.convert("RGB")).transpose(2, 0, 1).copy()


def decode_images(blobs: Sequence[bytes], names: Sequence[str]) -> np.ndarray:
    """Encoded images (JPEG, PNG, ...) as one uint8 array ``[N, 3, H, W]`` (RGB).

    torchvision's decoder when present, Pillow for what it cannot read (or when it is missing).
    Raises :class:`DataFormatError` naming the file when an image cannot be decoded or differs in
    size from the first.
    """
    fast = _torchvision_decoder()
    out: np.ndarray | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torchvision.io's deprecation note
        for i, (blob, name) in enumerate(zip(blobs, names, strict=True)):
            image = None
            if fast is not None:
                try:
                    image = fast(blob)
                except (RuntimeError, ValueError):
                    pass
            if image is None:
                try:
                    image = _pillow_decode(blob)
                except Exception as exc:  # Pillow raises many kinds for bad bytes
                    raise DataFormatError(f"{name}: cannot decode image: {exc}") from exc
            if out is None:
                out = np.empty((len(blobs), *image.shape), dtype=np.uint8)
            elif image.shape != out.shape[1:]:
                raise DataFormatError(
                    f"{name}: image is {image.shape[2]}×{image.shape[1]}, the others "
                    f"{out.shape[3]}×{out.shape[2]}"
                )
            out[i] = image
    return out if out is not None else np.empty((0, 3, 0, 0), dtype=np.uint8)


#: An encoded image: its bytes, or the file holding them (read when it is decoded).
Encoded = bytes | Path
#: Images per task of :func:`decode_resized`'s thread pool.
_CHUNK = 128
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_channels(image: Any, channels: int) -> Any:
    """A Pillow image in mode ``L`` (``channels=1``) or ``RGB`` (``channels=3``).

    Palette images are expanded (with their transparency), 16-bit grey is scaled to 8 bits,
    alpha is composited over black (a fully transparent pixel is black whatever colour it
    stores), every other mode (``1``, ``CMYK``, ``YCbCr``, ``F``, ...) goes through Pillow's
    conversion; grey from colour is ITU-R 601-2 luma.

    >>> from PIL import Image
    >>> rgba = Image.new("RGBA", (2, 1), (200, 100, 0, 0))
    >>> to_channels(rgba, 3).getpixel((0, 0)), to_channels(Image.new("L", (1, 1), 9), 3).mode
    ((0, 0, 0), 'RGB')
    >>> import numpy as np
    >>> deep = Image.fromarray(np.array([[0, 65535]], dtype=np.uint16))
    >>> np.asarray(to_channels(deep, 1)).tolist()
    [[0, 255]]
    """
    from PIL import Image

    if image.mode in ("P", "PA"):
        alpha = image.mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
    elif image.mode in _SIXTEEN_BIT:
        values = np.asarray(image).astype(np.int64)
        if image.mode != "I" or int(values.max(initial=0)) > 255:
            values = (np.clip(values, 0, 65535) * 255 + 32767) // 65535
        image = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8))
    if image.mode in ("La", "RGBa"):  # premultiplied: already composited over black
        image = Image.merge(image.mode[:-1], image.split()[:-1])
    if image.mode in ("RGBA", "LA"):
        black = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(black, image.convert("RGBA"))
    if image.mode not in ("1", "L", "RGB"):
        image = image.convert("RGB")
    target = "L" if channels == 1 else "RGB"
    return image if image.mode == target else image.convert(target)


def _read(encoded: Encoded, name: str) -> bytes:
    try:
        return encoded.read_bytes() if isinstance(encoded, Path) else encoded
    except OSError as exc:
        raise DataFormatError(f"{name}: cannot read: {exc}") from exc


def decode_one(
    encoded: Encoded,
    name: str,
    size: tuple[int, int],
    channels: int,
    original: list[tuple[int, int]] | None = None,
) -> np.ndarray:
    """One image as uint8 ``[channels, H, W]`` (``size = (H, W)``): decoded by Pillow, EXIF
    orientation applied, converted by :func:`to_channels`, resized bilinearly (antialiased when
    shrinking; the aspect ratio is not kept). Large JPEGs are decoded at a reduced scale that is
    still at least the target size (Pillow's ``draft``), which is much faster. ``original``, when
    given, gets the image's own ``(H, W)`` (after the EXIF orientation) appended.

    Raises :class:`DataFormatError` naming ``name`` when the file cannot be read or decoded.
    """
    from PIL import Image, ImageOps

    height, width = size
    blob = _read(encoded, name)
    try:
        with Image.open(io.BytesIO(blob)) as opened:
            full_w, full_h = opened.size  # before draft() reduces it
            if opened.format == "JPEG":
                side = max(height, width)
                opened.draft("L" if channels == 1 else None, (side, side))
            opened.load()
            image = to_channels(ImageOps.exif_transpose(opened), channels)
            if original is not None:
                turned = image.size != opened.size  # EXIF turned it by 90 degrees
                original.append((full_w, full_h) if turned else (full_h, full_w))
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # Pillow raises many kinds for bad bytes
        raise DataFormatError(f"{name}: cannot decode image: {exc}") from exc
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _in_threads(n: int, work_one: Callable[[int], None], workers: int | None) -> None:
    """``work_one(i)`` for ``i`` in ``0..n-1``, in chunks of :data:`_CHUNK` over ``workers``
    threads (default: the CPU count, at most 8). When several fail, the error raised is the
    first failure in index order (chunks after a failed one stop early; earlier ones go on)."""
    chunks = [range(i, min(i + _CHUNK, n)) for i in range(0, n, _CHUNK)]
    lock = threading.Lock()
    first_failed = [len(chunks)]

    def work(c: int) -> None:
        for i in chunks[c]:
            if first_failed[0] < c:
                return
            try:
                work_one(i)
            except BaseException:
                with lock:
                    first_failed[0] = min(first_failed[0], c)
                raise

    workers = min(workers or min(8, os.cpu_count() or 1), len(chunks))
    if workers <= 1:
        for c in range(len(chunks)):
            work(c)
    else:
        with ThreadPoolExecutor(workers, thread_name_prefix="decode") as pool:
            list(pool.map(work, range(len(chunks))))  # re-raises the first failure


def decode_resized(
    encoded: Sequence[Encoded],
    names: Sequence[str],
    size: tuple[int, int],
    channels: int,
    workers: int | None = None,
    original_sizes: np.ndarray | None = None,
) -> np.ndarray:
    """Images of any size and mode as one uint8 array ``[N, channels, H, W]`` (``size = (H,
    W)``), each by :func:`decode_one`.

    ``workers`` threads (default: the CPU count, at most 8) decode chunks of the list; Pillow
    releases the GIL while it decodes and resizes. When images are bad, the error names the
    first bad one in list order. ``original_sizes`` (int64 ``[N, 2]``), when given, is filled
    with each image's own ``(H, W)`` (to scale coordinates given in it, e.g. boxes).

    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (5, 3), (255, 0, 0)).save(buffer, format="PNG")
    >>> sizes = np.zeros((2, 2), dtype=np.int64)
    >>> out = decode_resized([buffer.getvalue()] * 2, ["a.png", "b.png"], (4, 4), 1,
    ...                      original_sizes=sizes)
    >>> out.shape, int(out[0, 0, 0, 0]), sizes[0].tolist()
    ((2, 1, 4, 4), 76, [3, 5])
    """
    if len(encoded) != len(names):
        raise ValueError(f"{len(encoded)} images but {len(names)} names")
    out = np.empty((len(encoded), channels, *size), dtype=np.uint8)

    def one(i: int) -> None:
        seen: list[tuple[int, int]] | None = [] if original_sizes is not None else None
        out[i] = decode_one(encoded[i], names[i], size, channels, seen)
        if original_sizes is not None and seen:
            original_sizes[i] = seen[0]

    _in_threads(len(encoded), one, workers)
    return out


def label_lookup(values: dict[int, int]) -> np.ndarray:
    """A lookup table for :func:`decode_label_maps`: int16 ``[256]``, ``values[v]`` at ``v`` and
    ``-1`` (not a label) everywhere else.

    >>> label_lookup({0: 0, 1: 1, 11: 255})[[0, 1, 2, 11]].tolist()
    [0, 1, -1, 255]
    """
    table = np.full(256, -1, dtype=np.int16)
    for raw, mapped in values.items():
        if not (0 <= raw < 256 and 0 <= mapped < 256):
            raise ValueError(f"label lookup entries must lie in 0..255, got {raw} -> {mapped}")
        table[raw] = mapped
    return table


def decode_label_map(
    encoded: Encoded, name: str, size: tuple[int, int], lookup: np.ndarray
) -> tuple[np.ndarray, tuple[int, int]]:
    """One label image as uint8 ``[H, W]`` (``size = (H, W)``) and its own ``(H, W)``.

    The image must have one channel: grey (``L``) or palette (``P``, whose indices are the
    labels: Pascal VOC's masks); every value ``v`` becomes ``lookup[v]`` (:func:`label_lookup`),
    and a value whose entry is ``-1`` is an error (checked at full size, before resizing). Resized
    with nearest neighbour: labels are never blended.

    Raises :class:`DataFormatError` naming ``name`` when the file cannot be read or decoded, has
    another mode, or holds a value the lookup does not allow (the values are listed).

    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.fromarray(np.array([[0, 11], [1, 1]], dtype=np.uint8)).save(buffer, format="PNG")
    >>> mask, own = decode_label_map(buffer.getvalue(), "m.png", (2, 2), label_lookup(
    ...     {0: 0, 1: 1, 11: 255}))
    >>> mask.tolist(), own
    ([[0, 255], [1, 1]], (2, 2))
    """
    from PIL import Image

    height, width = size
    blob = _read(encoded, name)
    try:
        with Image.open(io.BytesIO(blob)) as image:
            mode = image.mode
            raw = np.asarray(image, dtype=np.uint8) if mode in ("L", "P") else None
    except Exception as exc:  # Pillow raises many kinds for bad bytes
        raise DataFormatError(f"{name}: cannot decode label image: {exc}") from exc
    if raw is None:
        raise DataFormatError(
            f"{name}: a label image must have one channel (mode L or P), this one is {mode}"
        )
    mapped = lookup[raw]
    if (mapped < 0).any():
        bad = np.unique(raw[mapped < 0]).tolist()
        allowed = np.flatnonzero(lookup >= 0).tolist()
        raise DataFormatError(
            f"{name}: label value(s) {bad[:8]} not allowed (allowed: {_ranges(allowed)})"
        )
    labels = mapped.astype(np.uint8)
    if labels.shape != (height, width):
        labels = np.asarray(
            Image.fromarray(labels).resize((width, height), Image.Resampling.NEAREST)
        )
    return labels, (int(raw.shape[0]), int(raw.shape[1]))


def _ranges(values: list[int]) -> str:
    """``0..10, 255`` for ``[0, 1, ..., 10, 255]`` (sorted values)."""
    runs: list[list[int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1][1] = v
        else:
            runs.append([v, v])
    return ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in runs)


def decode_label_maps(
    encoded: Sequence[Encoded],
    names: Sequence[str],
    size: tuple[int, int],
    lookup: np.ndarray,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Label images as uint8 ``[N, H, W]`` and their own sizes int64 ``[N, 2]`` (``(H, W)``),
    each by :func:`decode_label_map`, in threads as :func:`decode_resized`; the error names the
    first bad one in list order."""
    if len(encoded) != len(names):
        raise ValueError(f"{len(encoded)} label images but {len(names)} names")
    out = np.empty((len(encoded), *size), dtype=np.uint8)
    sizes = np.zeros((len(encoded), 2), dtype=np.int64)

    def one(i: int) -> None:
        out[i], sizes[i] = decode_label_map(encoded[i], names[i], size, lookup)

    _in_threads(len(encoded), one, workers)
    return out, sizes
