"""Decode encoded images (JPEG, PNG, WebP, ...) into one uint8 array ``[N, C, H, W]``.

* :func:`decode_images`: images that all have one size, as RGB (CIFAR-10's ImageFolder);
* :func:`decode_resized`: images of any size and mode, converted to grey or RGB and resized to
  one size (:mod:`semcom.data.image_folder`), decoded by Pillow in a few threads.
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


def decode_one(encoded: Encoded, name: str, size: tuple[int, int], channels: int) -> np.ndarray:
    """One image as uint8 ``[channels, H, W]`` (``size = (H, W)``): decoded by Pillow, EXIF
    orientation applied, converted by :func:`to_channels`, resized bilinearly (antialiased when
    shrinking; the aspect ratio is not kept). Large JPEGs are decoded at a reduced scale that is
    still at least the target size (Pillow's ``draft``), which is much faster.

    Raises :class:`DataFormatError` naming ``name`` when the file cannot be read or decoded.
    """
    from PIL import Image, ImageOps

    height, width = size
    try:
        blob = encoded.read_bytes() if isinstance(encoded, Path) else encoded
    except OSError as exc:
        raise DataFormatError(f"{name}: cannot read: {exc}") from exc
    try:
        with Image.open(io.BytesIO(blob)) as opened:
            if opened.format == "JPEG":
                side = max(height, width)
                opened.draft("L" if channels == 1 else None, (side, side))
            opened.load()
            image = to_channels(ImageOps.exif_transpose(opened), channels)
            if image.size != (width, height):
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype=np.uint8)
    except Exception as exc:  # Pillow raises many kinds for bad bytes
        raise DataFormatError(f"{name}: cannot decode image: {exc}") from exc
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def decode_resized(
    encoded: Sequence[Encoded],
    names: Sequence[str],
    size: tuple[int, int],
    channels: int,
    workers: int | None = None,
) -> np.ndarray:
    """Images of any size and mode as one uint8 array ``[N, channels, H, W]`` (``size = (H,
    W)``), each by :func:`decode_one`.

    ``workers`` threads (default: the CPU count, at most 8) decode chunks of the list; Pillow
    releases the GIL while it decodes and resizes. When images are bad, the error names the
    first bad one in list order.

    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (5, 3), (255, 0, 0)).save(buffer, format="PNG")
    >>> out = decode_resized([buffer.getvalue()] * 2, ["a.png", "b.png"], (4, 4), 1)
    >>> out.shape, int(out[0, 0, 0, 0])
    ((2, 1, 4, 4), 76)
    """
    if len(encoded) != len(names):
        raise ValueError(f"{len(encoded)} images but {len(names)} names")
    out = np.empty((len(encoded), channels, *size), dtype=np.uint8)
    chunks = [range(i, min(i + _CHUNK, len(encoded))) for i in range(0, len(encoded), _CHUNK)]
    lock = threading.Lock()
    first_failed = [len(chunks)]  # chunks after a failed one stop early; earlier ones go on

    def work(c: int) -> None:
        for i in chunks[c]:
            if first_failed[0] < c:
                return
            try:
                out[i] = decode_one(encoded[i], names[i], size, channels)
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
    return out
