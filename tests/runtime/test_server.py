"""The edge server in-process (FastAPI TestClient / httpx ASGI transport): answers equal local
computation, model selection, every validation step's status and reason, timeouts, overload,
metrics."""

from __future__ import annotations

import asyncio
import inspect
import re
import struct
import time
import zlib
from pathlib import Path

import httpx
import pytest
import torch
from fastapi.testclient import TestClient

from semcom.coding import Payload
from semcom.runtime.server import DEFAULT_HOST, ServerConfig, create_app
from semcom.runtime.serving import serve

SERVED = ["aecnn_k=2", "aecnn_k=4", "aecnn_k=4_ps", "offload-png", "qs_a", "qs_b"]
OCTET = {"content-type": "application/octet-stream"}


@pytest.fixture(scope="module")
def client(run_dir):
    with TestClient(create_app(run_dir, max_body_bytes=8192)) as tc:
        yield tc


def post(tc: TestClient, body: bytes, model: str | None = None) -> httpx.Response:
    return tc.post(
        "/v1/infer", content=body, params={"model": model} if model else None, headers=OCTET
    )


def with_crc(head: bytes) -> bytes:
    """``head`` (a payload without its CRC) followed by its correct CRC32."""
    return head + struct.pack("<I", zlib.crc32(head))


# ------------------------------------------------------------------------------------ basics
def test_health_and_models_list_every_variant_with_what_it_accepts(client, stored) -> None:
    health = client.get("/v1/health").json()
    assert health["status"] == "ok" and health["served"] == len(SERVED)
    listing = client.get("/v1/models").json()
    models = {m["model"]: m for m in listing["models"]}
    assert sorted(models) == sorted(stored)
    assert sorted(v for v, m in models.items() if m["served"]) == SERVED
    assert "analog" in models["bottlenet++"]["reason"]
    assert "no link" in models["local"]["reason"]
    for variant in SERVED:
        accepts = models[variant]["accepts"]
        system = stored[variant].system
        wire = system.device_encode(torch.zeros(1, 1, 16, 16))[0]
        assert accepts["system"] == system.name
        assert [tuple(s) for s in accepts["shapes"]] == list(wire.shapes)
        assert accepts["chunks"] == len(wire.chunks)
    assert models["aecnn_k=4_ps"]["accepts"]["chunks"] == 2
    assert listing["limits"]["max_body_bytes"] == 8192


@pytest.mark.parametrize("variant", SERVED)
def test_answer_equals_local_computation(client, local_answer, make_images, variant) -> None:
    x = make_images(3, seed=7)
    predictions = set()
    for i in range(3):
        wire, logits = local_answer(variant, x[i : i + 1])
        response = post(client, wire, variant)
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["model"] == variant
        assert data["prediction"] == int(logits.argmax())
        assert torch.allclose(torch.tensor(data["logits"]), logits, atol=1e-5)
        assert abs(sum(data["probabilities"]) - 1) < 1e-5
        assert data["payload_bytes"] == len(wire)
        timing = data["timing_ms"]
        assert set(timing) == {"read", "parse", "queue", "decode", "edge_compute", "total_server"}
        assert all(v >= 0 for v in timing.values())
        assert timing["decode"] + timing["edge_compute"] <= timing["total_server"]
        predictions.add(data["prediction"])


def test_decode_and_edge_compute_are_separated(client, local_answer, make_images) -> None:
    """The edge network dominates a 16x16 ResNet tail; decoding a PNG is split off from it."""
    wire, _ = local_answer("offload-png", make_images(1, seed=3))
    timing = post(client, wire, "offload-png").json()["timing_ms"]
    assert timing["decode"] > 0 and timing["edge_compute"] > 0


# ------------------------------------------------------------------------------------ compact
def compact_answer(stored, variant: str, x: torch.Tensor) -> tuple[bytes, torch.Tensor]:
    """The compact wire form of ``variant``'s payload for ``x`` and the local logits."""
    system = stored[variant].system
    codec = system.wire_codec()
    with torch.no_grad():
        payload = system.device_encode(x)[0]
        return codec.encode(payload), system.edge_decode([payload])[0]


@pytest.mark.parametrize("variant", SERVED)
def test_compact_payloads_name_their_model_and_are_answered(
    client, stored, make_images, variant
) -> None:
    """A compact payload (7-9 header bytes) needs no ?model=: its model id names the variant,
    even where the self-describing form would be ambiguous (qs_a / qs_b)."""
    models = {m["model"]: m for m in client.get("/v1/models").json()["models"]}
    accepts = models[variant]["accepts"]
    system = stored[variant].system
    assert accepts["model_id"] == system.model_id().hex() and accepts["header"] == "compact"
    wire, logits = compact_answer(stored, variant, make_images(1, seed=5))
    assert wire[1:5].hex() == accepts["model_id"]
    response = post(client, wire)
    assert response.status_code == 200, response.text
    assert response.json()["model"] == variant
    assert torch.allclose(torch.tensor(response.json()["logits"]), logits, atol=1e-5)
    assert post(client, wire, variant).status_code == 200


def test_compact_payload_errors(client, stored, make_images) -> None:
    wire, _ = compact_answer(stored, "qs_a", make_images(1))
    other = post(client, wire, "qs_b")  # ?model= contradicts the model id
    assert other.status_code == 422 and "qs_a" in other.json()["detail"]
    unknown = post(client, wire[:1] + bytes(4) + wire[5:])
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_model"
    assert "00000000" in unknown.json()["detail"]
    flipped = bytearray(wire)
    flipped[7] ^= 0x10
    bad = post(client, bytes(flipped))
    assert bad.status_code == 400 and "CRC-16" in bad.json()["detail"]
    old = post(client, bytes([0xC1]) + wire[1:])
    assert old.status_code == 400 and "earlier ANS stream format" in old.json()["detail"]


def test_identical_models_are_not_both_served(tmp_path: Path) -> None:
    """Two stored variants with one model id: compact payloads could not tell them apart, so
    the second is listed with the reason instead of served."""
    from tests.runtime.conftest import CTX

    from semcom.storage.store import save_system
    from semcom.systems import build_system

    torch.manual_seed(0)
    system = build_system("quantized-split", {"channels": 4, "bits": 4}, CTX)
    system.prepare_for_coding()
    for variant in ("one", "two"):
        save_system(system, tmp_path, variant)
    with TestClient(create_app(tmp_path)) as tc:
        models = {m["model"]: m for m in tc.get("/v1/models").json()["models"]}
    assert models["one"]["served"] and not models["two"]["served"]
    assert "model id" in models["two"]["reason"] and "'one'" in models["two"]["reason"]


# ------------------------------------------------------------------------------------ selection
def test_selection_by_system_name_and_payload_check(client, local_answer, make_images) -> None:
    x = make_images(1, seed=11)
    for variant in ("offload-png", "aecnn_k=2", "aecnn_k=4", "aecnn_k=4_ps"):
        wire, _ = local_answer(variant, x)
        response = post(client, wire)  # no ?model=
        assert response.status_code == 200, response.text
        assert response.json()["model"] == variant


def test_ambiguous_payload_names_the_candidates(client, local_answer, make_images) -> None:
    wire, _ = local_answer("qs_a", make_images(1))
    response = post(client, wire)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "ambiguous_model"
    assert "qs_a" in body["detail"] and "qs_b" in body["detail"] and "?model=" in body["detail"]
    assert post(client, wire, "qs_a").status_code == 200
    # same layout, other entropy tables: qs_b cannot decode qs_a's stream, and says so
    response = post(client, wire, "qs_b")
    assert response.status_code == 422 and response.json()["error"] == "decode_failed"


def test_no_candidate_accepts_the_payload(client, local_answer, make_images) -> None:
    p = Payload.from_bytes(local_answer("aecnn_k=4", make_images(1))[0])
    odd = Payload("aecnn", ((3, 4, 4),), dict(p.params), p.chunks).to_bytes()
    response = post(client, odd)
    assert response.status_code == 422
    detail = response.json()["detail"]
    for variant in ("aecnn_k=2", "aecnn_k=4", "aecnn_k=4_ps"):
        assert variant in detail


@pytest.mark.parametrize(
    ("model", "system", "status", "kind"),
    [
        ("no-such-model", None, 404, "unknown_model"),
        ("bottlenet++", None, 422, "model_not_served"),
        ("local", None, 422, "model_not_served"),
        (None, "bottlenet++", 404, "unknown_system"),
        (None, "not-a-system", 404, "unknown_system"),
    ],
)
def test_model_lookup_errors(client, model, system, status, kind) -> None:
    body = Payload(system or "aecnn", ((1,),), {}, (b"x",)).to_bytes()
    response = post(client, body, model)
    assert response.status_code == status, response.text
    assert response.json()["error"] == kind


def test_model_given_but_payload_is_for_another_model(client, local_answer, make_images) -> None:
    x = make_images(1)
    wire, _ = local_answer("aecnn_k=2", x)
    response = post(client, wire, "aecnn_k=4")
    assert response.status_code == 422
    assert "shapes" in response.json()["detail"]
    wire, _ = local_answer("qs_a", x)
    response = post(client, wire, "aecnn_k=4")
    assert response.status_code == 422 and "quantized-split" in response.json()["detail"]


# ------------------------------------------------------------------------------------ validation
def test_body_limit_by_content_length_and_by_streamed_size(client) -> None:
    response = post(client, b"SC" + b"\0" * 9000)
    assert response.status_code == 413 and "8192" in response.json()["detail"]

    def chunks():  # no Content-Length: the server counts while it reads
        for _ in range(10):
            yield b"\0" * 1000

    response = client.post("/v1/infer", content=chunks(), headers=OCTET)
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "body_too_large"


def test_content_type_and_query_are_checked(client, local_answer, make_images) -> None:
    wire, _ = local_answer("offload-png", make_images(1))
    response = client.post("/v1/infer", content=wire, headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert client.post("/v1/infer", content=wire).status_code == 200  # no content type is fine
    response = client.post("/v1/infer?model=qs_a&model=qs_b", content=wire, headers=OCTET)
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda b: b[:-1], "truncated"),
        (lambda b: b + b"\0", "trailing"),
        (lambda b: b[:-4] + bytes([b[-4] ^ 1]) + b[-3:], "CRC32 mismatch"),
        (lambda b: b"XX" + b[2:], "bad magic"),
        (lambda b: with_crc(b[:2] + b"\x07" + b[3:-4]), "newer than this decoder"),
        (lambda b: b"", "truncated"),
    ],
)
def test_malformed_payloads_get_400_with_the_parser_reason(
    client, local_answer, make_images, mutate, needle
) -> None:
    wire, _ = local_answer("aecnn_k=4", make_images(1))
    response = post(client, mutate(wire))
    assert response.status_code == 400
    assert response.json()["error"] == "bad_payload"
    assert needle in response.json()["detail"]


def test_shapes_beyond_every_served_model_are_refused_at_parse(client) -> None:
    huge = Payload("aecnn", ((4096, 4096),), {}, (b"",)).to_bytes()
    response = post(client, huge)
    assert response.status_code == 400 and "max_elements" in response.json()["detail"]


def test_crc_valid_payloads_the_model_rejects_get_422(client, local_answer, make_images) -> None:
    p = Payload.from_bytes(local_answer("aecnn_k=4", make_images(1))[0])
    cases = {
        "bits": Payload(p.system, p.shapes, {"b": 2, "k": 4}, p.chunks),
        "k": Payload(p.system, p.shapes, {"b": 4, "k": 3}, p.chunks),
        "chunk": Payload(p.system, p.shapes, dict(p.params), p.chunks + (b"extra",)),
        "shapes": Payload(p.system, ((4, 4, 5),), dict(p.params), p.chunks),
    }
    for what, payload in cases.items():
        response = post(client, payload.to_bytes(), "aecnn_k=4")
        assert response.status_code == 422, what
        assert response.json()["error"] == "rejected_payload", what


def test_corrupt_bodies_with_recomputed_crc_get_422_not_500(
    client, local_answer, make_images
) -> None:
    x = make_images(1, seed=5)
    for variant in ("aecnn_k=4", "aecnn_k=4_ps", "qs_a", "offload-png"):
        p = Payload.from_bytes(local_answer(variant, x)[0])
        for body in (b"\x01" * 40, p.chunks[0][: len(p.chunks[0]) // 2], b"\xff" * 3):
            bad = Payload(p.system, p.shapes, dict(p.params), (body, *p.chunks[1:]))
            response = post(client, bad.to_bytes(), variant)
            assert response.status_code == 422, (variant, response.text)
            assert response.json()["error"] == "decode_failed"
    # a per-sample mask that selects the wrong number of channels
    p = Payload.from_bytes(local_answer("aecnn_k=4_ps", x)[0])
    bad = Payload(p.system, p.shapes, dict(p.params), (p.chunks[0], b"\xff" * len(p.chunks[1])))
    response = post(client, bad.to_bytes(), "aecnn_k=4_ps")
    assert response.status_code == 422 and "mask" in response.json()["detail"]


# ------------------------------------------------------------------------------------ failures
class _Panic(BaseException):
    """Stands in for a native extension's panic (pyo3 raises BaseException subclasses)."""


@pytest.mark.parametrize("error", [RuntimeError("boom"), IndexError("index"), _Panic("panic")])
def test_any_decode_exception_becomes_422(run_dir, local_answer, make_images, error) -> None:
    wire, _ = local_answer("qs_a", make_images(1))
    app = create_app(run_dir)  # its own copy of the systems

    def broken(payloads):
        raise error

    app.state.service.catalog.models["qs_a"].system.edge_decode = broken
    with TestClient(app) as tc:
        response = post(tc, wire, "qs_a")
        assert response.status_code == 422
        assert type(error).__name__ in response.json()["detail"]
        assert tc.get("/v1/health").json()["status"] == "ok"


def _slow_app(run_dir, delay_s: float, **settings):
    app = create_app(run_dir, **settings)
    system = app.state.service.catalog.models["qs_a"].system
    original = system.edge_decode

    def slow(payloads):
        time.sleep(delay_s)
        return original(payloads)

    system.edge_decode = slow
    return app


def test_compute_timeout_gives_504_and_the_server_carries_on(
    run_dir, local_answer, make_images
) -> None:
    app = _slow_app(run_dir, 0.5, compute_timeout_s=0.1)
    wire, _ = local_answer("qs_a", make_images(1))
    with TestClient(app) as tc:
        t0 = time.perf_counter()
        response = post(tc, wire, "qs_a")
        assert response.status_code == 504 and response.json()["error"] == "timeout"
        assert time.perf_counter() - t0 < 0.45
        assert tc.get("/v1/health").status_code == 200
        time.sleep(0.5)
        assert app.state.service.batcher.pending == 0


def test_overload_gives_503(run_dir, local_answer, make_images) -> None:
    app = _slow_app(run_dir, 0.3, max_pending=1)
    wire, _ = local_answer("qs_a", make_images(1))

    async def two_at_once() -> list[int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            calls = [ac.post("/v1/infer?model=qs_a", content=wire, headers=OCTET) for _ in range(2)]
            return sorted(r.status_code for r in await asyncio.gather(*calls))

    assert asyncio.run(two_at_once()) == [200, 503]


def test_slow_body_gets_408(run_dir) -> None:
    app = create_app(run_dir, read_timeout_s=0.2)

    async def slow_upload() -> httpx.Response:
        async def body():
            yield b"SC"
            await asyncio.sleep(1.0)
            yield b"\x01"

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as ac:
            return await ac.post("/v1/infer", content=body(), headers=OCTET)

    response = asyncio.run(slow_upload())
    assert response.status_code == 408 and response.json()["error"] == "read_timeout"


def test_config_is_validated() -> None:
    for bad in ({"max_body_bytes": 0}, {"compute_timeout_s": 0}, {"compute_threads": 0}):
        with pytest.raises(ValueError):
            ServerConfig(**bad)


# ------------------------------------------------------------------------------------ metrics
def _metric(text: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name + ("{" + want + "}" if want else "")) + r" (\S+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_metrics_count_requests_errors_and_latency(run_dir, local_answer, make_images) -> None:
    wire, _ = local_answer("aecnn_k=2", make_images(1))
    with TestClient(create_app(run_dir)) as tc:
        for _ in range(3):
            assert post(tc, wire, "aecnn_k=2").status_code == 200
        assert post(tc, wire[:-1]).status_code == 400
        assert post(tc, wire, "nope").status_code == 404
        response = tc.get("/v1/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert _metric(text, "semcom_requests_total", model="aecnn_k=2", status="200") == 3
    assert _metric(text, "semcom_requests_total", model="none", status="400") == 1
    assert _metric(text, "semcom_requests_total", model="none", status="404") == 1
    assert _metric(text, "semcom_errors_total", kind="bad_payload") == 1
    assert _metric(text, "semcom_errors_total", kind="unknown_model") == 1
    assert _metric(text, "semcom_request_duration_seconds_count") == 5
    assert _metric(text, "semcom_request_duration_seconds_bucket", le="+Inf") == 5
    pattern = r"semcom_request_duration_seconds_bucket\S* (\S+)"
    buckets = [float(v) for v in re.findall(pattern, text)]
    assert buckets == sorted(buckets)
    assert _metric(text, "semcom_stage_duration_seconds_count", stage="edge_compute") == 3
    assert "nope" not in text  # request text never becomes a label


# ------------------------------------------------------------------------------------ hardening
def test_binds_to_loopback_by_default() -> None:
    assert DEFAULT_HOST == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    from semcom.cli import serve as serve_command

    assert inspect.signature(serve_command).parameters["host"].default == "127.0.0.1"


def test_runtime_code_never_unpickles() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "semcom" / "runtime"
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import pickle" not in text and "pickle.load" not in text, path
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, (path, call)
