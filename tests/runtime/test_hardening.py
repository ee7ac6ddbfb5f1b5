"""The edge server against hostile input: bodies a model could never emit are refused before any
decoder runs (no clock needed: the decoder is replaced by one that fails the test if reached)."""

from __future__ import annotations

import pytest
import torch
from fastapi.testclient import TestClient

from semcom.coding import Payload
from semcom.runtime.server import create_app

OCTET = {"content-type": "application/octet-stream"}


@pytest.fixture(scope="module")
def client(run_dir):
    with TestClient(create_app(run_dir, max_body_bytes=1 << 20)) as tc:
        yield tc


@pytest.mark.parametrize("variant", ["aecnn_k=4", "aecnn_k=4_ps", "qs_a"])
def test_a_maximal_crc_valid_body_is_refused_before_decoding(client, stored, variant, monkeypatch):
    model = client.app.state.service.catalog.models[variant]
    system = model.system
    good = system.device_encode(torch.zeros(1, 1, 16, 16))[0]
    limit = system.payload_layout().chunk_bytes[0].high
    junk = bytes(range(1, 256)) * ((1 << 20) // 255 - 8)
    chunks = (junk[: (1 << 20) - 4096],) + tuple(good.chunks[1:])
    hostile = Payload(good.system, good.shapes, dict(good.params), chunks)

    def never(*args, **kwargs):  # pragma: no cover - reaching a decoder is the failure
        raise AssertionError("a decoder ran on a body the model could never emit")

    monkeypatch.setattr(system, "edge_decode", never)
    answer = client.post("/v1/infer", content=hostile.to_bytes(), params={"model": variant},
                         headers=OCTET)  # fmt: skip
    assert answer.status_code == 422 and answer.json()["error"] == "rejected_payload"
    assert f"0..{limit} bytes" in answer.json()["detail"]


def test_the_ans_decoder_itself_refuses_an_overlong_stream(stored) -> None:
    from semcom.coding.ans import CodingError

    entropy = stored["qs_a"].system.entropy
    shape = stored["qs_a"].system.code_shape()
    body = b"\x01" * (entropy.max_stream_bytes(shape) + 1)
    with pytest.raises(CodingError, match="longer than any stream"):
        entropy.decompress([body], shape)
