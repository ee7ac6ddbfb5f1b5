"""Classical image codecs (Pillow) for the offloading baselines: PNG, JPEG, WebP.

Images are ``uint8`` arrays or tensors ``[C, H, W]`` with ``C`` in ``{1, 3}`` (grey or RGB).

* ``"png"`` — lossless (zlib level 9); ``quality`` must be ``None``.
* ``"jpeg"`` — baseline JPEG with optimised Huffman tables, ``quality`` 1..100 (Pillow's default
  4:2:0 chroma subsampling for RGB).
* ``"webp"`` — lossy WebP, ``quality`` 1..100, slowest/best compression effort (``method=6``).
  WebP has no grey mode: a 1-channel image is stored as RGB with equal planes; decode it with
  ``channels=1`` to get one plane back.

Decoding refuses anything that is not a PNG/JPEG/WebP image and anything larger than
``max_pixels``, raising :class:`ImageCodecError` (a ``ValueError``).

Example:
    >>> import numpy as np
    >>> img = np.arange(48, dtype=np.uint8).reshape(3, 4, 4)
    >>> data = encode_image(img, "png")
    >>> bool((decode_image(data).numpy() == img).all())
    True
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

#: Codec name → Pillow format name.
IMAGE_CODECS: dict[str, str] = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
LOSSY_CODECS = ("jpeg", "webp")
DEFAULT_MAX_PIXELS = 2**26


class ImageCodecError(ValueError):
    """Bytes that cannot be decoded as a supported image (or exceed the size limit)."""


def _as_chw_uint8(img: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(img, torch.Tensor):
        if img.dtype != torch.uint8:
            raise TypeError(f"image must be uint8, got {img.dtype}")
        arr = img.detach().cpu().numpy()
    elif isinstance(img, np.ndarray):
        if img.dtype != np.uint8:
            raise TypeError(f"image must be uint8, got {img.dtype}")
        arr = img
    else:
        raise TypeError(f"image must be a uint8 tensor or array, got {type(img).__name__}")
    if arr.ndim != 3 or arr.shape[0] not in (1, 3) or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"image must have shape [C, H, W] with C in {{1, 3}}, got {arr.shape}")
    return arr


def _check_codec(codec: str, quality: int | None) -> None:
    if codec not in IMAGE_CODECS:
        raise ValueError(f"unknown image codec {codec!r}; allowed: {sorted(IMAGE_CODECS)}")
    if codec in LOSSY_CODECS:
        if isinstance(quality, bool) or not isinstance(quality, int):
            raise ValueError(f"{codec} needs an int quality in 1..100, got {quality!r}")
        if not 1 <= quality <= 100:
            raise ValueError(f"{codec} quality must be in 1..100, got {quality}")
    elif quality is not None:
        raise ValueError(f"{codec} is lossless and takes no quality, got {quality!r}")


def encode_image(img: torch.Tensor | np.ndarray, codec: str, quality: int | None = None) -> bytes:
    """Encode one uint8 image ``[C, H, W]`` (``C`` in {1, 3}) with ``codec``; returns file bytes.

    ``quality`` (1..100) is required for ``"jpeg"`` and ``"webp"`` and must be ``None`` for
    ``"png"``.
    """
    _check_codec(codec, quality)
    arr = _as_chw_uint8(img)
    if arr.shape[0] == 1:
        pil = Image.fromarray(np.ascontiguousarray(arr[0]), mode="L")
        if codec == "webp":
            pil = pil.convert("RGB")
    else:
        pil = Image.fromarray(np.ascontiguousarray(arr.transpose(1, 2, 0)), mode="RGB")
    buf = io.BytesIO()
    if codec == "png":
        pil.save(buf, format="PNG", compress_level=9)
    elif codec == "jpeg":
        pil.save(buf, format="JPEG", quality=quality, optimize=True)
    else:
        pil.save(buf, format="WEBP", quality=quality, method=6)
    return buf.getvalue()


def max_file_bytes(codec: str, shape: tuple[int, ...]) -> int:
    """An upper bound on the bytes :func:`encode_image` writes for an image of ``shape``
    ``(C, H, W)``, whatever its pixels and quality: what an edge expects at most from a device
    and refuses beyond, before decoding.

    * PNG: the filtered rows (``H * (1 + W * C)`` bytes) stored uncompressed (deflate's worst
      case: 5 bytes per stored block, zlib's 6), the PNG chunk framing and 1 KiB to spare.
    * JPEG / WebP: twice the pixels of the image padded to 16 × 16 macroblocks, in three full
      components, plus 4 KiB of headers and tables. Pillow's files for uniform noise at quality
      100 are at most 0.6× that (tested over odd and tiny shapes, where the padding dominates).

    >>> max_file_bytes("png", (3, 32, 32)) >= 3 * 32 * 32
    True
    """
    _check_codec(codec, None if codec not in LOSSY_CODECS else 100)
    channels, height, width = shape
    if codec == "png":
        filtered = height * (1 + width * channels)
        deflate = filtered + 5 * (filtered // 16_000 + 1) + 6
        return deflate + 12 * (deflate // 4096 + 1) + 8 + 25 + 12 + 1024
    padded = 3 * (-(-height // 16) * 16) * (-(-width // 16) * 16)
    return 2 * padded + 4096


def decode_image(
    data: bytes, channels: int | None = None, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """Decode PNG/JPEG/WebP ``data`` to a uint8 tensor ``[C, H, W]``.

    ``channels=None`` keeps the file's layout (grey → 1, anything else → 3 RGB planes); 1 or 3
    converts. Raises :class:`ImageCodecError` for bytes that are not a supported image, truncated
    files and images with more than ``max_pixels`` pixels.
    """
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None, 1 or 3, got {channels!r}")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            pil = Image.open(io.BytesIO(bytes(data)), formats=list(IMAGE_CODECS.values()))
            width, height = pil.size
            if width * height > max_pixels:
                raise ImageCodecError(
                    f"image of {width}x{height} pixels exceeds max_pixels={max_pixels}"
                )
            pil.load()
    except ImageCodecError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning, EOFError) as exc:  # fmt: skip
        raise ImageCodecError(f"cannot decode image ({len(data)} bytes): {exc}") from exc
    mode = {None: "L" if pil.mode in ("L", "1", "I;16") else "RGB", 1: "L", 3: "RGB"}[channels]
    arr = np.array(pil.convert(mode), dtype=np.uint8)  # a writable copy
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return torch.from_numpy(np.ascontiguousarray(arr))


def encode_images(
    images: torch.Tensor | np.ndarray | Sequence[torch.Tensor | np.ndarray],
    codec: str,
    quality: int | None = None,
) -> list[bytes]:
    """Encode a batch ``[B, C, H, W]`` (or a sequence of ``[C, H, W]``); one ``bytes`` per image."""
    _check_codec(codec, quality)
    return [encode_image(img, codec, quality) for img in images]


def decode_images(
    datas: Sequence[bytes], channels: int | None = None, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """Decode a batch of images of one size to uint8 ``[B, C, H, W]``.

    Raises ``ValueError`` if the images differ in shape (pass ``channels`` to unify grey/RGB).
    """
    decoded = [decode_image(d, channels, max_pixels=max_pixels) for d in datas]
    if not decoded:
        raise ValueError("decode_images needs at least one image")
    shapes = {tuple(t.shape) for t in decoded}
    if len(shapes) != 1:
        raise ValueError(f"images have different shapes {sorted(shapes)}; cannot stack")
    return torch.stack(decoded)


def float_to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in ``[0, 1]`` (float, any shape) → uint8 by rounding ``255 * x`` (clamped)."""
    return (x.detach().clamp(0, 1) * 255).round().to(torch.uint8)
