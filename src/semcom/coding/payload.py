"""``Payload``: the byte container a device sends for one sample, and its strict parser.

The self-describing form; :mod:`semcom.coding.compact` is the short form a fixed-shape model's
payloads take once device and server agree on the model.

Binary layout, format version 2 (``varint`` = unsigned LEB128, 7 bits per byte, low group first,
at most 10 bytes, no overlong forms; ``zigzag`` maps signed ``n`` to ``2n`` / ``-2n-1``)::

    magic     2 bytes   b"SC"
    version   u8        2 (the format version also covers the ANS stream format of the bodies)
    system    u8 length n (1..255), then n bytes of printable ASCII (0x20..0x7e)
    shapes    varint T = number of tensors; per tensor: varint ndim, then ndim varint dims
    params    varint K; per param: u8 key length (1..255), key (printable ASCII), u8 type tag, value
                tag 0  int    zigzag varint (signed 64-bit)
                tag 1  float  8 bytes IEEE-754 binary64, little-endian
                tag 2  float  zigzag varint; an integer-valued float with |v| < 2**53 (not -0.0)
                tag 3  float  4 bytes IEEE-754 binary32, little-endian; exactly representable
    chunks    varint M; per chunk: varint length, then that many bytes
    crc32     4 bytes little-endian: zlib.crc32 of every byte before it

Tags 2 and 3 are lossless short forms of a float64 (the writer picks the shortest exact form), so a
float parameter round-trips to the identical Python ``float`` and ints stay ints. Parameter order
is preserved. Non-finite floats are rejected.

Header size: everything except the chunk bodies. Fixed part ``8 + len(system)`` bytes (magic,
version, name length and name, CRC); shapes ``1 + sum(1 + len(shape))`` for dims below 128;
params ``1 + sum(2 + len(key) + value)`` with value 1 byte for small ints and integer-valued
floats, 4 for float32-exact floats, else 8; chunks ``1 + sum(varint(len))`` (2 bytes for bodies of
128..16383 bytes). Measured (``tests/coding/test_payload.py`` pins them): one ``(8, 8, 8)`` tensor,
a 300-byte body and params ``{"b": 4, "lo": 0.0, "hi": 1.0}`` give a 46-byte header for system
``"quantized-split"`` and 36 bytes for ``"aecnn"``; the system name is the largest variable part.

Versions: 1 was this layout with the ANS streams of earlier releases (before a stream dropped
its last word's high zero bytes and could start its stack from a raw tail integer); such bodies
do not decode with today's coder, so a version-1 payload is refused with a message saying so
rather than mis-decoded.

Parsing (:meth:`Payload.from_bytes`) is strict: oversized input, bad magic, unknown version,
truncation, overlong or too-large varints, non-ASCII or empty names, duplicate keys, unknown type
tags, non-finite floats, too many tensors/dims/params/chunks, absurd element counts, trailing bytes
and CRC mismatches all raise :class:`PayloadError` naming the problem and its byte offset. The
structure is parsed before the CRC is checked so that truncation and trailing garbage are reported
as such. Never uses pickle.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MAGIC = b"SC"
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (2,)

TAG_INT = 0
TAG_F64 = 1
TAG_FLOAT_AS_INT = 2
TAG_F32 = 3

_MAX_VARINT_BYTES = 10
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

DEFAULT_MAX_BYTES = 16 * 2**20
DEFAULT_MAX_DIMS = 8
DEFAULT_MAX_TENSORS = 64
DEFAULT_MAX_PARAMS = 64
DEFAULT_MAX_CHUNKS = 64
DEFAULT_MAX_ELEMENTS = 2**28


class PayloadError(ValueError):
    """A payload is malformed (parsing) or cannot be represented (construction)."""


# ---------------------------------------------------------------------------- primitives
def version_error(version: int) -> str:
    """Why a payload of format ``version`` is refused (it is not :data:`FORMAT_VERSION`)."""
    if version < FORMAT_VERSION:
        return (
            f"payload format version {version} is older than this decoder's {FORMAT_VERSION}: "
            "its entropy-coded bodies use an earlier ANS stream format; re-encode it with this "
            "release's device side"
        )
    return (
        f"payload format version {version} is newer than this decoder's {FORMAT_VERSION}; "
        "update the server"
    )


def _write_varint(out: bytearray, value: int) -> None:
    if value < 0:
        raise PayloadError(f"varint value must be >= 0, got {value}")
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _zigzag(value: int) -> int:
    return (value << 1) if value >= 0 else ((-value << 1) - 1)


def _unzigzag(value: int) -> int:
    return (value >> 1) if not value & 1 else -((value + 1) >> 1)


def _check_name(name: object, what: str) -> bytes:
    if not isinstance(name, str):
        raise PayloadError(f"{what} must be a str, got {type(name).__name__}")
    if not 1 <= len(name) <= 255:
        raise PayloadError(f"{what} must have 1..255 characters, got {len(name)}: {name!r}")
    if any(not 0x20 <= ord(ch) <= 0x7E for ch in name):
        raise PayloadError(f"{what} must be printable ASCII, got {name!r}")
    return name.encode("ascii")


def _float_short_form(value: float) -> tuple[int, bytes]:
    """Shortest exact encoding ``(tag, bytes)`` of a finite float64."""
    negative_zero = value == 0 and math.copysign(1.0, value) < 0
    if value.is_integer() and abs(value) < 2**53 and not negative_zero:
        buf = bytearray()
        _write_varint(buf, _zigzag(int(value)))
        if len(buf) < 4:
            return TAG_FLOAT_AS_INT, bytes(buf)
    try:
        packed32 = struct.pack("<f", value)
    except OverflowError:
        packed32 = b""
    if packed32 and struct.unpack("<f", packed32)[0] == value:
        return TAG_F32, packed32
    return TAG_F64, struct.pack("<d", value)


class _Reader:
    """Bounds-checked cursor over the payload bytes; every error carries the byte offset."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def fail(self, message: str, offset: int | None = None) -> PayloadError:
        return PayloadError(f"{message} (at byte offset {self.pos if offset is None else offset})")

    def take(self, n: int, what: str) -> bytes:
        left = len(self.data) - self.pos
        if n > left:
            raise self.fail(f"truncated: {what} needs {n} bytes, only {left} left")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self, what: str) -> int:
        return self.take(1, what)[0]

    def varint(self, what: str) -> int:
        start = self.pos
        value = 0
        for i in range(_MAX_VARINT_BYTES):
            if self.pos >= len(self.data):
                raise self.fail(f"truncated: varint for {what} is incomplete", start)
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << (7 * i)
            if not byte & 0x80:
                if byte == 0 and i > 0:
                    raise self.fail(f"overlong varint for {what}", start)
                if value >= 2**64:
                    raise self.fail(f"varint for {what} exceeds 64 bits", start)
                return value
        raise self.fail(f"varint for {what} is longer than {_MAX_VARINT_BYTES} bytes", start)

    def name(self, what: str) -> str:
        start = self.pos
        n = self.u8(f"{what} length")
        if n == 0:
            raise self.fail(f"{what} is empty", start)
        raw = self.take(n, what)
        for i, byte in enumerate(raw):
            if not 0x20 <= byte <= 0x7E:
                kind = "non-ASCII" if byte > 0x7F else "non-printable"
                raise self.fail(f"{what} has {kind} byte 0x{byte:02x}", start + 1 + i)
        return raw.decode("ascii")


# ---------------------------------------------------------------------------- payload
@dataclass(frozen=True)
class Payload:
    """What crosses the link for one sample: system name, tensor shapes, parameters, byte chunks.

    Attributes:
        system: registered system name (printable ASCII, 1..255 chars), e.g. ``"quantized-split"``.
        shapes: one shape per coded tensor, e.g. ``((8, 8, 8),)`` for one ``[C, H, W]`` tensor.
        params: small named numbers the decoder needs (quantiser bits, ranges...). Keep keys short:
            every character is sent. Values: ``int`` (signed 64-bit) or finite ``float``.
        chunks: the coded bodies (e.g. one ANS stream per tensor).
        version: binary format version (only 2 is written and read).
    """

    system: str
    shapes: tuple[tuple[int, ...], ...]
    params: dict[str, float | int] = field(default_factory=dict)
    chunks: tuple[bytes, ...] = ()
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        _check_name(self.system, "system")
        if self.version not in SUPPORTED_VERSIONS:
            raise PayloadError(f"version must be one of {SUPPORTED_VERSIONS}, got {self.version}")
        try:
            shapes = tuple(tuple(shape) for shape in self.shapes)
        except TypeError as exc:
            raise PayloadError(f"shapes must be a sequence of int sequences: {exc}") from exc
        for i, shape in enumerate(shapes):
            for d in shape:
                if isinstance(d, bool) or not isinstance(d, int) or d < 0 or d >= 2**64:
                    raise PayloadError(f"shapes[{i}] must hold non-negative ints, got {shape}")
        if not isinstance(self.params, Mapping):
            raise PayloadError(f"params must be a dict, got {type(self.params).__name__}")
        params: dict[str, float | int] = {}
        for key, value in self.params.items():
            _check_name(key, f"params key {key!r}")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PayloadError(
                    f"params[{key!r}] must be an int or float, got {type(value).__name__}"
                )
            if isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX:
                raise PayloadError(f"params[{key!r}] = {value} does not fit in 64 bits")
            if isinstance(value, float) and not math.isfinite(value):
                raise PayloadError(f"params[{key!r}] must be finite, got {value}")
            params[key] = value
        chunks = []
        for i, chunk in enumerate(self.chunks):
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise PayloadError(f"chunks[{i}] must be bytes, got {type(chunk).__name__}")
            chunks.append(bytes(chunk))
        object.__setattr__(self, "shapes", shapes)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "chunks", tuple(chunks))

    # -- writing
    def _header_and_lengths(self) -> bytearray:
        out = bytearray(MAGIC)
        out.append(self.version)
        system = _check_name(self.system, "system")
        out.append(len(system))
        out += system
        _write_varint(out, len(self.shapes))
        for shape in self.shapes:
            _write_varint(out, len(shape))
            for d in shape:
                _write_varint(out, d)
        _write_varint(out, len(self.params))
        for key, value in self.params.items():
            raw_key = key.encode("ascii")
            out.append(len(raw_key))
            out += raw_key
            if isinstance(value, int):
                out.append(TAG_INT)
                _write_varint(out, _zigzag(value))
            else:
                tag, raw = _float_short_form(float(value))
                out.append(tag)
                out += raw
        _write_varint(out, len(self.chunks))
        return out

    def to_bytes(self) -> bytes:
        """Serialise to the binary layout of the module docstring (CRC32 appended)."""
        out = self._header_and_lengths()
        for chunk in self.chunks:
            _write_varint(out, len(chunk))
            out += chunk
        out += struct.pack("<I", zlib.crc32(out))
        return bytes(out)

    @property
    def num_bits(self) -> int:
        """Size on the wire in bits: ``8 * len(to_bytes())`` (header + bodies + CRC)."""
        return 8 * len(self.to_bytes())

    @property
    def header_bytes(self) -> int:
        """Bytes that are not chunk bodies: fixed fields, names, shapes, params, lengths, CRC."""
        return len(self.to_bytes()) - sum(len(c) for c in self.chunks)

    def __repr__(self) -> str:
        sizes = [len(c) for c in self.chunks]
        return (
            f"Payload(system={self.system!r}, shapes={self.shapes}, params={self.params}, "
            f"chunk_bytes={sizes}, version={self.version})"
        )

    # -- parsing
    @classmethod
    def from_bytes(
        cls,
        data: bytes | bytearray | memoryview,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_dims: int = DEFAULT_MAX_DIMS,
        max_tensors: int = DEFAULT_MAX_TENSORS,
        max_params: int = DEFAULT_MAX_PARAMS,
        max_chunks: int = DEFAULT_MAX_CHUNKS,
        max_elements: int = DEFAULT_MAX_ELEMENTS,
        layout: Any = None,
    ) -> Payload:
        """Parse and validate ``data``; raise :class:`PayloadError` on anything malformed.

        Limits: ``max_bytes`` total size, ``max_dims`` per shape, ``max_tensors`` shapes,
        ``max_params`` parameters, ``max_chunks`` chunks, ``max_elements`` elements per tensor.
        ``layout`` (a :class:`~semcom.coding.layout.PayloadLayout`) also checks the system,
        shapes (fixed or variable within bounds), chunk count and parameters a model accepts.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) > max_bytes:
            raise PayloadError(f"payload of {len(data)} bytes exceeds max_bytes={max_bytes}")
        r = _Reader(data)
        magic = r.take(len(MAGIC), "magic")
        if magic != MAGIC:
            raise PayloadError(f"bad magic {magic!r}, expected {MAGIC!r} (at byte offset 0)")
        version = r.u8("format version")
        if version not in SUPPORTED_VERSIONS:
            raise r.fail(version_error(version), 2)
        system = r.name("system name")

        start = r.pos
        num_tensors = r.varint("tensor count")
        if num_tensors > max_tensors:
            raise r.fail(f"{num_tensors} tensors > max_tensors={max_tensors}", start)
        shapes = []
        for t in range(num_tensors):
            start = r.pos
            ndim = r.varint(f"ndim of tensor {t}")
            if ndim > max_dims:
                raise r.fail(f"tensor {t} has {ndim} dims > max_dims={max_dims}", start)
            dims = tuple(r.varint(f"dim {i} of tensor {t}") for i in range(ndim))
            if any(d > max_elements for d in dims) or math.prod(dims) > max_elements:
                raise r.fail(
                    f"tensor {t} shape {dims} has more than max_elements={max_elements} elements",
                    start,
                )
            shapes.append(dims)

        start = r.pos
        num_params = r.varint("param count")
        if num_params > max_params:
            raise r.fail(f"{num_params} params > max_params={max_params}", start)
        params: dict[str, float | int] = {}
        for _ in range(num_params):
            start = r.pos
            key = r.name("param key")
            if key in params:
                raise r.fail(f"duplicate param key {key!r}", start)
            tag_pos = r.pos
            tag = r.u8(f"type tag of param {key!r}")
            if tag == TAG_INT:
                value: float | int = _unzigzag(r.varint(f"param {key!r}"))
                if not _INT64_MIN <= value <= _INT64_MAX:
                    raise r.fail(f"param {key!r} exceeds 64 bits", tag_pos)
            elif tag == TAG_F64:
                value = struct.unpack("<d", r.take(8, f"float64 param {key!r}"))[0]
            elif tag == TAG_FLOAT_AS_INT:
                as_int = _unzigzag(r.varint(f"param {key!r}"))
                if abs(as_int) >= 2**53:
                    raise r.fail(f"integer-valued float param {key!r} exceeds 2**53", tag_pos)
                value = float(as_int)
            elif tag == TAG_F32:
                value = struct.unpack("<f", r.take(4, f"float32 param {key!r}"))[0]
            else:
                raise r.fail(f"unknown type tag {tag} for param {key!r}", tag_pos)
            if isinstance(value, float) and not math.isfinite(value):
                raise r.fail(f"param {key!r} is not finite ({value})", tag_pos)
            params[key] = value

        start = r.pos
        num_chunks = r.varint("chunk count")
        if num_chunks > max_chunks:
            raise r.fail(f"{num_chunks} chunks > max_chunks={max_chunks}", start)
        chunks = []
        for c in range(num_chunks):
            length = r.varint(f"length of chunk {c}")
            chunks.append(r.take(length, f"chunk {c}"))

        body_end = r.pos
        left = len(data) - body_end
        if left < 4:
            raise r.fail(f"truncated: CRC32 needs 4 bytes, only {left} left")
        if left > 4:
            raise r.fail(f"{left - 4} trailing bytes after the CRC32", body_end + 4)
        (stored,) = struct.unpack("<I", data[body_end:])
        computed = zlib.crc32(data[:body_end])
        if stored != computed:
            raise r.fail(
                f"CRC32 mismatch: stored 0x{stored:08x}, computed 0x{computed:08x}", body_end
            )
        payload = cls(
            system=system,
            shapes=tuple(shapes),
            params=params,
            chunks=tuple(chunks),
            version=version,
        )
        if layout is not None:
            layout.check(payload)
        return payload
