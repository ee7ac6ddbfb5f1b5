"""Source coding for the SSCC baseline: fit each sample into a byte budget.

A :class:`SourceCoder` turns a batch of inputs into one byte string per sample that fits that
sample's budget (or ``None``: nothing fits, the sample is not sent), and turns received bytes
back into the input of the edge network. :class:`ImageSourceCoder` codes the image with JPEG or
WebP (Pillow, :mod:`semcom.coding.image_codecs`) at the **highest quality of a ladder whose bytes
fit** (default ladder ``1..95``). File sizes are not monotonic in the quality, so the search
walks the ladder from the top and stops at the first quality that fits; the sizes it computes
are cached per image (keyed by a hash of its pixels, shared by every coder of the same codec and
ladder in the process), so an SNR sweep, or several MCS variants, pay for each encoding once.

The other source, ``features`` (a learned, quantised and entropy-coded split feature, sent as
the longest plane prefix that fits), needs the network and is built by the system
(:mod:`semcom.systems.sscc_features`) on :class:`SourceCoder` with ``edge_input = "feature"``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, Protocol

import numpy as np
import torch

from semcom.coding import decode_image, encode_image
from semcom.coding.image_codecs import ImageCodecError, float_to_uint8

#: Source coders the systems accept by name.
SOURCE_NAMES: tuple[str, ...] = ("jpeg", "webp", "features")
#: The ones that code the image (built here); ``features`` is built by the system.
IMAGE_SOURCES: tuple[str, ...] = ("jpeg", "webp")
#: Default quality ladder of the image coders (Pillow quality, 1 = smallest).
DEFAULT_QUALITIES: tuple[int, ...] = tuple(range(1, 96))
#: Images whose size ladders the shared cache keeps (least recently used dropped first).
SIZE_CACHE_ENTRIES = 100_000
#: Chosen encodings the shared cache keeps.
BYTES_CACHE_ENTRIES = 50_000
#: Grey level of the placeholder image when a damaged stream cannot be decoded.
MID_GREY = 128


@dataclass(frozen=True)
class SourceChoice:
    """One sample's coded source.

    Attributes:
        data: the bytes to send, or ``None`` when nothing fits the budget (not sent).
        quality: the codec quality used (``0`` when not sent).
    """

    data: bytes | None
    quality: int

    @property
    def sent(self) -> bool:
        return self.data is not None

    @property
    def num_bytes(self) -> int:
        return 0 if self.data is None else len(self.data)


class SourceCoder(Protocol):
    """What the SSCC systems need from a source coder (see the module docstring)."""

    #: where the decoded tensor enters the network: ``"input"`` (head + tail at the edge) or
    #: ``"feature"`` (the feature decoder + tail).
    edge_input: ClassVar[str]

    def encode(self, x: torch.Tensor, budgets: Sequence[int]) -> list[SourceChoice]:
        """Inputs ``x`` float ``[B, C, H, W]`` in ``[0, 1]`` and per-sample budgets (bytes) →
        one :class:`SourceChoice` per sample."""
        ...

    def decode(self, data: bytes) -> torch.Tensor | None:
        """Received bytes → the edge network's input for one sample (uint8 image ``[C, H, W]``
        for image coders), or ``None`` if the bytes cannot be decoded."""
        ...

    def placeholder(self) -> torch.Tensor:
        """What the edge uses when damaged bytes do not decode (``on_error: zero-fill``)."""
        ...


class _LRU:
    """A bounded least-recently-used map."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._data: OrderedDict[tuple, object] = OrderedDict()

    def get(self, key: tuple) -> object | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: tuple, value: object) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.entries:
            self._data.popitem(last=False)

    def clear(self) -> None:
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


#: Shared by every :class:`ImageSourceCoder` in the process (keys include codec and ladder):
#: per image, int32 ``[len(ladder)]`` encoded sizes (``-1``: not computed yet) ...
SIZE_CACHE = _LRU(SIZE_CACHE_ENTRIES)
#: ... and the bytes of the qualities chosen most recently.
BYTES_CACHE = _LRU(BYTES_CACHE_ENTRIES)


def clear_caches() -> None:
    """Forget every cached size and encoding."""
    SIZE_CACHE.clear()
    BYTES_CACHE.clear()


def image_key(img: np.ndarray) -> tuple:
    """Cache key of a uint8 image ``[C, H, W]``: its shape and a 128-bit hash of its pixels."""
    digest = hashlib.blake2b(np.ascontiguousarray(img).tobytes(), digest_size=16).digest()
    return (tuple(img.shape), digest)


class ImageSourceCoder:
    """JPEG / WebP at the highest ladder quality that fits (module docstring).

    Args:
        codec: ``"jpeg"`` or ``"webp"``.
        image_shape: ``(C, H, W)`` of the images (decoding checks it).
        qualities: the quality ladder, increasing, each in ``1..100``.
    """

    edge_input: ClassVar[str] = "input"

    def __init__(
        self,
        codec: Literal["jpeg", "webp"],
        image_shape: tuple[int, int, int],
        qualities: Sequence[int] = DEFAULT_QUALITIES,
    ) -> None:
        if codec not in ("jpeg", "webp"):
            raise ValueError(f"image source codec must be 'jpeg' or 'webp', got {codec!r}")
        q = tuple(int(v) for v in qualities)
        if (
            not q
            or any(not 1 <= v <= 100 for v in q)
            or any(a >= b for a, b in zip(q, q[1:], strict=False))
        ):
            raise ValueError(f"qualities must be increasing values in 1..100, got {qualities!r}")
        self.codec = codec
        self.image_shape = tuple(int(s) for s in image_shape)
        self.qualities = q
        #: encodings run by this coder (cache misses), for benchmarks and tests.
        self.encodings = 0

    def sizes(self, img: np.ndarray) -> np.ndarray:
        """Encoded size (bytes) at every ladder quality, int32 ``[len(qualities)]`` (computes the
        missing ones)."""
        sizes = self._sizes(self._key(img))
        for i in np.flatnonzero(sizes < 0):
            sizes[i] = len(self._encode(img, self.qualities[i]))
        return sizes.copy()

    def _key(self, img: np.ndarray) -> tuple:
        return (self.codec, self.qualities, *image_key(img))

    def _sizes(self, key: tuple) -> np.ndarray:
        sizes = SIZE_CACHE.get(key)
        if sizes is None:
            sizes = np.full(len(self.qualities), -1, dtype=np.int32)
            SIZE_CACHE.put(key, sizes)
        return sizes  # type: ignore[return-value]

    def _encode(self, img: np.ndarray, quality: int) -> bytes:
        self.encodings += 1
        return encode_image(img, self.codec, quality)

    def _encoded(self, key: tuple, img: np.ndarray, quality: int) -> bytes:
        data = BYTES_CACHE.get((*key, quality))
        if data is None:
            data = self._encode(img, quality)
            BYTES_CACHE.put((*key, quality), data)
        return data  # type: ignore[return-value]

    def choose(self, img: np.ndarray, budget: int) -> SourceChoice:
        """The highest ladder quality whose encoding of ``img`` (uint8 ``[C, H, W]``) has at most
        ``budget`` bytes, and those bytes; ``SourceChoice(None, 0)`` if no quality fits."""
        if budget <= 0:
            return SourceChoice(None, 0)
        key = self._key(img)
        sizes = self._sizes(key)
        for i in range(len(self.qualities) - 1, -1, -1):
            q = self.qualities[i]
            if sizes[i] < 0:
                data = self._encode(img, q)
                sizes[i] = len(data)
                if len(data) <= budget:
                    BYTES_CACHE.put((*key, q), data)
                    return SourceChoice(data, q)
            elif sizes[i] <= budget:
                return SourceChoice(self._encoded(key, img, q), q)
        return SourceChoice(None, 0)

    def encode(self, x: torch.Tensor, budgets: Sequence[int]) -> list[SourceChoice]:
        """Float images ``[B, C, H, W]`` in ``[0, 1]`` (rounded to uint8 as a camera would) and
        per-sample budgets in bytes → one :class:`SourceChoice` per sample."""
        pixels = float_to_uint8(x).cpu().numpy()
        if len(budgets) != len(pixels):
            raise ValueError(f"{len(budgets)} budgets for {len(pixels)} images")
        return [self.choose(img, int(b)) for img, b in zip(pixels, budgets, strict=True)]

    def decode(self, data: bytes) -> torch.Tensor | None:
        """Bytes → uint8 image ``[C, H, W]``, or ``None`` if they are not a decodable image of
        the expected shape."""
        c, h, w = self.image_shape
        try:
            img = decode_image(data, channels=c, max_pixels=h * w)
        except ImageCodecError:
            return None
        return img if tuple(img.shape) == self.image_shape else None

    def placeholder(self) -> torch.Tensor:
        """The mid-grey image ``[C, H, W]`` used when zero-filled bytes do not decode."""
        return torch.full(self.image_shape, MID_GREY, dtype=torch.uint8)


def check_source_name(name: str) -> str:
    """``name`` if it is a source coder the systems accept, else ``ValueError`` listing them."""
    if name not in SOURCE_NAMES:
        raise ValueError(f"source must be one of {', '.join(SOURCE_NAMES)}, got {name!r}")
    return name


def build_source_coder(name: str, image_shape: tuple[int, int, int]) -> ImageSourceCoder:
    """The image coder called ``name`` (``jpeg`` or ``webp``) for images of ``image_shape``.
    ``features`` needs the network: the system builds it."""
    check_source_name(name)
    if name not in IMAGE_SOURCES:
        raise ValueError(
            f"source {name!r} codes a network feature, not the image; the system builds it "
            "(semcom.systems.sscc_features)"
        )
    return ImageSourceCoder(name, image_shape)  # type: ignore[arg-type]
