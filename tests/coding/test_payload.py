"""Payload: exact round trips, documented header sizes, and a strict parser that rejects every kind
of malformed input with a PayloadError naming the problem (never another exception)."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from semcom.coding import Payload, PayloadError
from semcom.coding.payload import FORMAT_VERSION, MAGIC


def sample() -> Payload:
    return Payload(
        system="quantized-split",
        shapes=((8, 8, 8),),
        params={"b": 4, "lo": 0.0, "hi": 1.0},
        chunks=(bytes(range(256)) + bytes(44),),
    )


def reseal(body: bytes) -> bytes:
    """Replace the trailing CRC32 so that only the structural defect is left."""
    return body + struct.pack("<I", zlib.crc32(body))


def test_round_trip_is_exact_and_types_survive() -> None:
    p = Payload(
        system="aecnn",
        shapes=((4, 7, 7), (16,), ()),
        params={"k": -3, "big": 2**62, "x": 0.1, "half": 0.5, "whole": 12.0, "neg": -0.0},
        chunks=(b"abc", b"", bytes(300)),
    )
    q = Payload.from_bytes(p.to_bytes())
    assert q == p
    assert isinstance(q.params["k"], int) and isinstance(q.params["whole"], float)
    assert q.params["x"] == 0.1 and str(q.params["neg"]) == "-0.0"
    assert list(q.params) == list(p.params)  # order preserved


def test_header_sizes_documented_in_module_docstring() -> None:
    p = sample()
    assert p.header_bytes == 46
    assert p.num_bits == 8 * (46 + 300)
    aecnn = Payload("aecnn", p.shapes, p.params, p.chunks)
    assert aecnn.header_bytes == 36


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda b: b[:-1], "truncated"),
        (lambda b: b[:5], "truncated"),
        (lambda b: b"", "truncated"),
        (lambda b: b + b"\x00", "trailing"),
        (lambda b: b"XX" + b[2:], "bad magic"),
        (lambda b: b[:2] + bytes([FORMAT_VERSION + 1]) + b[3:], "newer than this decoder"),
        (lambda b: b[:2] + bytes([1]) + b[3:], "version 1 is older .* earlier ANS stream format"),
        (lambda b: b[:-4] + bytes(4), "CRC32 mismatch"),
        (lambda b: b[:30] + bytes([b[30] ^ 0x40]) + b[31:], "CRC32 mismatch|"),
    ],
)
def test_malformed_input_is_named(mutate, match: str) -> None:
    with pytest.raises(PayloadError, match=match):
        Payload.from_bytes(mutate(sample().to_bytes()))


def test_body_bit_flip_is_caught_by_crc() -> None:
    data = bytearray(sample().to_bytes())
    data[-10] ^= 0x01  # inside the chunk body: structure intact, CRC must catch it
    with pytest.raises(PayloadError, match="CRC32 mismatch"):
        Payload.from_bytes(bytes(data))


def test_limits_are_enforced() -> None:
    data = sample().to_bytes()
    with pytest.raises(PayloadError, match="exceeds max_bytes"):
        Payload.from_bytes(data, max_bytes=len(data) - 1)
    with pytest.raises(PayloadError, match="max_elements"):
        Payload.from_bytes(data, max_elements=511)
    with pytest.raises(PayloadError, match="max_dims"):
        Payload.from_bytes(data, max_dims=2)
    many = Payload("s", tuple((1,) for _ in range(5)), {}, ())
    with pytest.raises(PayloadError, match="max_tensors"):
        Payload.from_bytes(many.to_bytes(), max_tensors=4)


def test_structural_defects_are_named_even_with_a_valid_crc() -> None:
    head = MAGIC + bytes([FORMAT_VERSION])
    with pytest.raises(PayloadError, match="system"):
        Payload.from_bytes(reseal(head + b"\x00"))  # empty system name
    with pytest.raises(PayloadError, match="system"):
        Payload.from_bytes(reseal(head + b"\x02\xff\xfe"))  # non-ASCII name
    name = b"\x01s"
    overlong = b"\xff" * 11  # varint longer than 10 bytes
    with pytest.raises(PayloadError, match="varint|tensor count"):
        Payload.from_bytes(reseal(head + name + overlong))
    params = b"\x00" + b"\x01" + b"\x01k" + b"\x09"  # no tensors, one param with tag 9
    with pytest.raises(PayloadError, match="unknown type tag 9"):
        Payload.from_bytes(reseal(head + name + params + b"\x00"))
    dup = b"\x00" + b"\x02" + b"\x01k\x00\x02" + b"\x01k\x00\x04" + b"\x00"
    with pytest.raises(PayloadError, match="duplicate param key"):
        Payload.from_bytes(reseal(head + name + dup))
    nan = b"\x00" + b"\x01" + b"\x01k\x01" + struct.pack("<d", float("nan")) + b"\x00"
    with pytest.raises(PayloadError, match="not finite"):
        Payload.from_bytes(reseal(head + name + nan))
    long_chunk = b"\x00\x00\x01" + b"\x7f" + b"ab"  # chunk claims 127 bytes, has 2 (+ CRC)
    with pytest.raises(PayloadError, match="truncated|chunk 0"):
        Payload.from_bytes(reseal(head + name + long_chunk))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"system": ""}, "system"),
        ({"system": "é"}, "system"),
        ({"shapes": ((-1,),)}, "shapes"),
        ({"params": {"x": float("inf")}}, "finite"),
        ({"params": {"x": "1"}}, "int or float"),
        ({"params": {"x": True}}, "int or float"),
        ({"params": {"x": 2**64}}, "64 bits"),
        ({"chunks": ("abc",)}, "chunks"),
    ],
)
def test_construction_rejects_unrepresentable_values(kwargs: dict, match: str) -> None:
    base = {"system": "s", "shapes": ((1,),), "params": {}, "chunks": ()}
    with pytest.raises(PayloadError, match=match):
        Payload(**{**base, **kwargs})


names = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=40
)
values = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
payloads = st.builds(
    Payload,
    system=names,
    shapes=st.lists(st.lists(st.integers(0, 40), max_size=4).map(tuple), max_size=4).map(tuple),
    params=st.dictionaries(names, values, max_size=6),
    chunks=st.lists(st.binary(max_size=300), max_size=4).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(payloads)
def test_any_valid_payload_round_trips(p: Payload) -> None:
    data = p.to_bytes()
    assert Payload.from_bytes(data) == p
    assert len(data) == p.header_bytes + sum(len(c) for c in p.chunks)


@settings(max_examples=1500, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_payload_error(data: bytes) -> None:
    try:
        Payload.from_bytes(data)
    except PayloadError:
        pass


@settings(max_examples=1500, deadline=None)
@given(payloads, st.data())
def test_mutated_payloads_never_parse_to_something_else(p: Payload, data: st.DataObject) -> None:
    """Any single-byte change, deletion or insertion is rejected (CRC or structure) — never a
    silent misparse and never an exception other than PayloadError."""
    good = bytearray(p.to_bytes())
    kind = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
    pos = data.draw(st.integers(0, len(good) - 1))
    if kind == "flip":
        good[pos] ^= data.draw(st.integers(1, 255))
    elif kind == "delete":
        del good[pos]
    elif kind == "insert":
        good.insert(pos, data.draw(st.integers(0, 255)))
    else:
        del good[pos:]
    with pytest.raises(PayloadError):
        Payload.from_bytes(bytes(good))
