"""The compact payload form: a model identifier instead of a self-description.

A fixed-shape model's payload needs no system name, shapes or parameters on the wire: device and
server agree on them at deployment, through the model identifier (:mod:`semcom.coding.model_id`).
Binary layout, format version 2 (``varint`` as in :mod:`semcom.coding.payload`)::

    tag        u8       0xC0 | version (0xC2); the self-describing form starts with b"S" (0x53)
    model id   4 bytes  the first bytes of the stored model's fingerprint
    lengths    one varint per chunk whose length the model's layout does not fix, except the
               last chunk (its length is what is left before the CRC)
    chunks     the bodies, in the layout's order
    crc16      2 bytes little-endian: CRC-16/CCITT (``binascii.crc_hqx``, initial value 0xFFFF)
               of every byte before it

The header is therefore 7 bytes for a one-chunk payload (AECNN with global selection, the
quantised split, BottleNet++, image offloading), 8–9 for AECNN's per-sample selection (the body
length, 1–2 bytes, precedes the fixed-size channel mask). The format version is shared with the
self-describing form and covers the ANS stream format of the bodies: a decoder refuses any other
version with a message that says so, instead of mis-decoding.

Only layouts whose dimensions are all exact (:attr:`PayloadLayout.fixed`) have a compact form,
and a payload in that form carries exactly the layout's parameters; anything else needs the
self-describing form. Parsing is strict: wrong tag or version, unknown model, truncation, an
overlong varint, a chunk outside its bound, trailing bytes and a CRC mismatch raise
:class:`~semcom.coding.payload.PayloadError` naming the byte offset.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping

from semcom.coding.layout import Dim, PayloadLayout
from semcom.coding.model_id import MODEL_ID_BYTES
from semcom.coding.payload import (
    FORMAT_VERSION,
    Payload,
    PayloadError,
    _Reader,
    _write_varint,
    version_error,
)

COMPACT_TAG = 0xC0
_CRC_BYTES = 2
_CRC_INIT = 0xFFFF


def is_compact(data: bytes) -> bool:
    """Whether ``data`` starts like a compact payload (any version)."""
    return len(data) > 0 and data[0] & 0xF0 == COMPACT_TAG


def compact_refusal(layout: PayloadLayout) -> str | None:
    """Why payloads of ``layout`` have no compact form, or ``None`` if they have one."""
    if not layout.fixed:
        return "its tensor shapes vary (only fixed-shape payloads have a compact form)"
    return None


def _sent_lengths(layout: PayloadLayout) -> list[bool]:
    """Per chunk: whether its length is written (not fixed by the layout, not the last)."""
    bounds = list(layout.chunk_bytes) + [None] * (layout.chunks - len(layout.chunk_bytes))
    return [not isinstance(b, int) and c < layout.chunks - 1 for c, b in enumerate(bounds)]


def to_compact_bytes(payload: Payload, model_id: bytes, layout: PayloadLayout) -> bytes:
    """Serialise ``payload`` (which must fit ``layout`` and carry exactly its parameters) for
    the model ``model_id``."""
    if len(model_id) != MODEL_ID_BYTES:
        raise PayloadError(f"model id must be {MODEL_ID_BYTES} bytes, got {len(model_id)}")
    why = compact_refusal(layout) or layout.mismatch(payload)
    if why is None and dict(payload.params) != dict(layout.params):
        why = (
            f"payload params {dict(payload.params)} are not the model's {dict(layout.params)} "
            "(the compact form sends none)"
        )
    if why is not None:
        raise PayloadError(f"no compact form: {why}")
    out = bytearray([COMPACT_TAG | FORMAT_VERSION])
    out += model_id
    for chunk, sent in zip(payload.chunks, _sent_lengths(layout), strict=True):
        if sent:
            _write_varint(out, len(chunk))
    for chunk in payload.chunks:
        out += chunk
    out += binascii.crc_hqx(bytes(out), _CRC_INIT).to_bytes(_CRC_BYTES, "little")
    return bytes(out)


def compact_model_id(data: bytes) -> bytes:
    """The model id of a compact payload (tag and version checked, nothing else)."""
    r = _Reader(bytes(data))
    tag = r.u8("compact tag")
    if tag & 0xF0 != COMPACT_TAG:
        raise r.fail(f"not a compact payload (first byte 0x{tag:02x})", 0)
    if tag & 0x0F != FORMAT_VERSION:
        raise r.fail(version_error(tag & 0x0F), 0)
    return r.take(MODEL_ID_BYTES, "model id")


def from_compact_bytes(
    data: bytes | bytearray | memoryview,
    layouts: Mapping[bytes, PayloadLayout],
    *,
    max_bytes: int | None = None,
) -> Payload:
    """Parse a compact payload for one of ``layouts`` (model id → layout); strict (module
    docstring). The result carries the layout's system, shapes and parameters."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if max_bytes is not None and len(data) > max_bytes:
        raise PayloadError(f"payload of {len(data)} bytes exceeds max_bytes={max_bytes}")
    ident = compact_model_id(data)
    layout = layouts.get(ident)
    if layout is None:
        known = ", ".join(sorted(i.hex() for i in layouts)) or "none"
        raise PayloadError(
            f"compact payload for model id {ident.hex()}, which is not served here "
            f"(model ids: {known}) (at byte offset 1)"
        )
    r = _Reader(data)
    r.pos = 1 + MODEL_ID_BYTES
    end = len(data) - _CRC_BYTES
    if end < r.pos:
        raise r.fail(f"truncated: CRC-16 needs {_CRC_BYTES} bytes")
    lengths: list[int | None] = []
    bounds = list(layout.chunk_bytes) + [None] * (layout.chunks - len(layout.chunk_bytes))
    for c, (bound, sent) in enumerate(zip(bounds, _sent_lengths(layout), strict=True)):
        if sent:
            start = r.pos
            n = r.varint(f"length of chunk {c}")
            if n > end or (isinstance(bound, Dim) and not bound.low <= n <= bound.high):
                allowed = f"{bound.low}..{bound.high}" if isinstance(bound, Dim) else f"<= {end}"
                raise r.fail(f"chunk {c} length {n} outside {allowed} bytes", start)
            lengths.append(n)
        else:
            lengths.append(bound if isinstance(bound, int) else None)
    chunks = []
    for c, given in enumerate(lengths):
        n = end - r.pos if given is None else given  # None: the last chunk, what is left
        if given is None:
            if n < 0:
                raise r.fail(f"truncated: chunk {c} has no bytes before the CRC-16")
        if r.pos + n > end:
            raise r.fail(f"truncated: chunk {c} needs {n} bytes, only {max(end - r.pos, 0)} left")
        chunks.append(r.take(n, f"chunk {c}"))
    if r.pos != end:
        raise r.fail(f"{end - r.pos} trailing bytes before the CRC-16")
    stored = int.from_bytes(data[end:], "little")
    computed = binascii.crc_hqx(data[:end], _CRC_INIT)
    if stored != computed:
        raise r.fail(f"CRC-16 mismatch: stored 0x{stored:04x}, computed 0x{computed:04x}", end)
    payload = Payload(layout.system, layout.shapes, dict(layout.params), tuple(chunks))  # type: ignore[arg-type]
    layout.check(payload)
    return payload
