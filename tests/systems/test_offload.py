"""Offloading baselines: lossless codecs reproduce the edge model's answer on the 8-bit image,
lossy ones shrink the payload with quality, and malformed bodies are PayloadErrors."""

from __future__ import annotations

import pytest
import torch

from semcom.coding import Payload, PayloadError
from semcom.coding.image_codecs import float_to_uint8
from semcom.data import fetch_batch
from semcom.systems import BuildContext, build_system


@pytest.fixture(scope="module")
def batch(tiny_data) -> torch.Tensor:
    _, test = tiny_data
    return fetch_batch(test, torch.arange(8))[0]


@pytest.mark.parametrize("name", ["offload-raw", "offload-png"])
def test_lossless_offloading_equals_the_model_on_8bit_pixels(
    name: str, tiny_ctx: BuildContext, batch: torch.Tensor
) -> None:
    system = build_system(name, {}, tiny_ctx).eval()
    wire = [p.to_bytes() for p in system.device_encode(batch)]
    decoded = system.edge_decode([Payload.from_bytes(b) for b in wire])
    with torch.no_grad():
        reference = system(float_to_uint8(batch).float() / 255).output
    torch.testing.assert_close(decoded, reference)
    if name == "offload-raw":
        p = system.device_encode(batch[:1])[0]
        assert len(p.chunks[0]) == 16 * 16 and p.num_bits == 8 * (256 + p.header_bytes)
    assert system.split_elements() == 256


@pytest.mark.parametrize("name", ["offload-jpeg", "offload-webp"])
def test_lossy_quality_controls_size(name: str, tiny_ctx: BuildContext, batch) -> None:
    sizes = []
    for q in (10, 95):
        system = build_system(name, {"quality": q}, tiny_ctx).eval()
        payloads = system.device_encode(batch)
        assert all(p.params["q"] == q for p in payloads)
        out = system.edge_decode([Payload.from_bytes(p.to_bytes()) for p in payloads])
        assert out.shape == (8, 4)
        sizes.append(sum(p.num_bits for p in payloads))
    assert sizes[0] < sizes[1]


def test_bad_bodies_are_payload_errors(tiny_ctx: BuildContext, batch) -> None:
    raw = build_system("offload-raw", {}, tiny_ctx).eval()
    good = raw.device_encode(batch[:1])[0]
    with pytest.raises(PayloadError, match="this model's has 256"):
        raw.edge_decode([Payload(good.system, good.shapes, {}, (good.chunks[0][:-1],))])
    png = build_system("offload-png", {}, tiny_ctx).eval()
    with pytest.raises(PayloadError, match="png body"):
        png.edge_decode([Payload("offload-png", good.shapes, {}, (b"not an image",))])
    with pytest.raises(PayloadError, match="not 'offload-png'"):
        png.edge_decode([good])
    with pytest.raises(ValueError, match="quality"):
        build_system("offload-jpeg", {"quality": 0}, tiny_ctx)
