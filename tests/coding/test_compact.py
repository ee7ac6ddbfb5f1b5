"""The compact payload form and the wire codec: headers of at most 12 bytes for fixed-shape
models, exact round trips, a strict parser, and a format version that covers the ANS streams."""

from __future__ import annotations

import random

import pytest
import torch

from semcom.coding import Dim, Payload, PayloadError, PayloadLayout, WireCodec, model_id
from semcom.coding.compact import compact_model_id, from_compact_bytes, is_compact, to_compact_bytes
from semcom.coding.payload import FORMAT_VERSION

ONE_CHUNK = PayloadLayout("aecnn", ((2, 8, 8),), 1, {"b": 2, "k": 2}, chunk_bytes=(Dim(0, 600),))
#: AECNN's per-sample selection: a variable body, then an 8-byte channel mask
TWO_CHUNKS = PayloadLayout("aecnn", ((2, 8, 8),), 2, {"b": 2, "k": 2}, chunk_bytes=(Dim(0, 600), 8))
IDENT = bytes.fromhex("1a2b3c4d")


def payload(layout: PayloadLayout, body: bytes) -> Payload:
    chunks = (body,) if layout.chunks == 1 else (body, bytes(range(8)))
    return Payload(layout.system, layout.shapes, dict(layout.params), chunks)  # type: ignore[arg-type]


@pytest.mark.parametrize("layout,header", [(ONE_CHUNK, 7), (TWO_CHUNKS, 8)])
def test_header_bytes_and_round_trip(layout: PayloadLayout, header: int) -> None:
    for body in (b"", b"x", bytes(range(100)), bytes(127), bytes(300)):
        p = payload(layout, body)
        wire = to_compact_bytes(p, IDENT, layout)
        extra = 1 if layout.chunks == 2 and len(body) >= 128 else 0  # a 2-byte varint length
        assert len(wire) - sum(len(c) for c in p.chunks) == header + extra <= 12
        assert is_compact(wire) and compact_model_id(wire) == IDENT
        back = from_compact_bytes(wire, {IDENT: layout})
        assert back == p


def test_every_single_bit_flip_is_refused() -> None:
    """CRC-16 catches every 1-bit error (and structural checks some first): nothing parses."""
    wire = to_compact_bytes(payload(TWO_CHUNKS, bytes(range(40))), IDENT, TWO_CHUNKS)
    for i in range(len(wire) * 8):
        bad = bytearray(wire)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(PayloadError):
            from_compact_bytes(bytes(bad), {IDENT: TWO_CHUNKS})


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda b: b[:3], "truncated"),
        (lambda b: b[:6], "truncated"),
        (lambda b: b"", "truncated"),
        (lambda b: bytes([0xC0 | (FORMAT_VERSION + 1)]) + b[1:], "newer than this decoder"),
        (lambda b: bytes([0xC1]) + b[1:], "version 1 is older"),
        (lambda b: b[:1] + bytes(4) + b[5:], "model id 00000000, which is not served"),
        (lambda b: b[:-2] + bytes(2), "CRC-16 mismatch"),
        (lambda b: b[:5] + b"\xff\x07" + b[6:], "chunk 0 length 1023 outside 0..600"),
        (lambda b: b + b"\x00", "CRC-16 mismatch|trailing"),
        (lambda b: b"SC" + b[2:], "not a compact payload"),
    ],
)
def test_malformed_compact_payloads_are_named(mutate, match: str) -> None:
    wire = to_compact_bytes(payload(TWO_CHUNKS, bytes(range(40))), IDENT, TWO_CHUNKS)
    with pytest.raises(PayloadError, match=match):
        from_compact_bytes(mutate(wire), {IDENT: TWO_CHUNKS})


def test_random_bytes_never_crash_the_parser() -> None:
    rng = random.Random(0)
    for _ in range(2000):
        n = rng.randrange(0, 40)
        data = bytes([0xC0 | FORMAT_VERSION]) + IDENT + bytes(rng.randrange(256) for _ in range(n))
        try:
            p = from_compact_bytes(data, {IDENT: TWO_CHUNKS})
        except PayloadError:
            continue
        TWO_CHUNKS.check(p)  # anything accepted fits the layout


def test_compact_form_refuses_what_it_cannot_carry() -> None:
    variable = PayloadLayout("clip", ((2, Dim(1, 4), 4, 4),), 1, {"b": 2})
    clip = Payload("clip", ((2, 3, 4, 4),), {"b": 2}, (b"abc",))
    with pytest.raises(PayloadError, match="shapes vary"):
        to_compact_bytes(clip, IDENT, variable)
    extra = Payload("aecnn", ((2, 8, 8),), {"b": 2, "k": 2, "x": 1}, (b"",))
    with pytest.raises(PayloadError, match="params"):
        to_compact_bytes(extra, IDENT, ONE_CHUNK)
    with pytest.raises(PayloadError, match="4 bytes"):
        to_compact_bytes(payload(ONE_CHUNK, b""), b"abc", ONE_CHUNK)
    # the codec falls back to the self-describing form where there is no compact one
    codec = WireCodec(variable, IDENT)
    assert codec.written_form == "self-describing"
    assert codec.decode(codec.encode(clip)) == clip


def test_wire_codec_reads_both_forms_and_counts_the_header() -> None:
    p = payload(TWO_CHUNKS, bytes(range(50)))
    compact = WireCodec(TWO_CHUNKS, IDENT)
    long = WireCodec(TWO_CHUNKS, IDENT, "self-describing")
    assert compact.header_bytes(p) == 8 < long.header_bytes(p) == len(p.to_bytes()) - 58
    for codec in (compact, long):
        assert compact.decode(codec.encode(p)) == p
    with pytest.raises(ValueError, match="compact, self-describing"):
        WireCodec(TWO_CHUNKS, IDENT, "short")  # type: ignore[arg-type]


def test_model_id_depends_on_every_input() -> None:
    state = {
        "a.weight": torch.arange(6.0).reshape(2, 3),
        "b": torch.tensor([1, 2], dtype=torch.int32),
    }
    base = model_id("aecnn", {"k": 2, "b": 2}, state)
    assert base == model_id("aecnn", {"b": 2, "k": 2}, dict(reversed(state.items())))
    changed = [
        model_id("quantized-split", {"k": 2, "b": 2}, state),
        model_id("aecnn", {"k": 4, "b": 2}, state),
        model_id(
            "aecnn", {"k": 2, "b": 2}, {**state, "b": torch.tensor([1, 3], dtype=torch.int32)}
        ),
        model_id(
            "aecnn", {"k": 2, "b": 2}, {**state, "b": torch.tensor([1, 2], dtype=torch.int64)}
        ),
        model_id("aecnn", {"k": 2, "b": 2}, {**state, "a.weight": state["a.weight"].reshape(3, 2)}),
        model_id("aecnn", {"k": 2, "b": 2}, {"a.weight2": state["a.weight"], "b": state["b"]}),
    ]
    assert len({base, *changed}) == 1 + len(changed)
