"""Framing source bytes into codeword payloads and the receiver's handling of failed CRCs."""

from __future__ import annotations

import numpy as np
import pytest

from semcom.sscc import MCS, Deframed, deframe, frame, frame_batch, plan_layout


@pytest.fixture(scope="module")
def layout():
    lay = plan_layout(30_000, MCS(16, 0.5))
    assert lay.num_blocks >= 4
    return lay


def test_round_trip_and_budget(layout) -> None:
    data = bytes(range(256)) * 10
    payload = frame(data, layout)
    assert payload.dtype == np.uint8 and payload.shape == (layout.capacity_bytes,)
    ok = np.ones(layout.num_blocks, bool)
    assert deframe(payload, ok, layout).data == data
    assert deframe(frame(b"", layout), ok, layout).data == b""
    with pytest.raises(ValueError, match="budget"):
        frame(bytes(layout.source_bytes + 1), layout)
    rows = frame_batch([b"ab", None], layout)
    assert rows.shape == (2, layout.capacity_bytes) and not rows[1].any()


def test_drop_needs_only_the_blocks_holding_the_data(layout) -> None:
    bpb = layout.bytes_per_block
    data = b"\x07" * (bpb + 5)  # header + data end inside block 1
    payload = frame(data, layout)
    ok = np.ones(layout.num_blocks, bool)
    ok[3] = False  # padding only
    assert deframe(payload, ok, layout, "drop") == Deframed(data, True)
    ok[1] = False
    out = deframe(payload, ok, layout, "drop")
    assert out.data is None and not out.intact


def test_zero_fill_replaces_lost_bytes_with_zeros(layout) -> None:
    bpb, h = layout.bytes_per_block, layout.header_bytes
    data = bytes([9]) * (2 * bpb)
    payload = frame(data, layout)
    ok = np.ones(layout.num_blocks, bool)
    ok[1] = False
    out = deframe(payload, ok, layout, "zero-fill")
    assert not out.intact and len(out.data) == len(data)
    got = np.frombuffer(out.data, np.uint8)
    assert not got[bpb - h : 2 * bpb - h].any() and (got[: bpb - h] == 9).all()
    ok[:] = True
    ok[0] = False  # the length header is lost: everything up to the budget is handed over
    out = deframe(payload, ok, layout, "zero-fill")
    assert len(out.data) == layout.source_bytes and not out.intact
    with pytest.raises(ValueError, match="on_error"):
        deframe(payload, ok, layout, "retry")
