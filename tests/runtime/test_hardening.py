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


@pytest.mark.parametrize("variant", ["aecnn_k=4", "aecnn_k=4_ps", "qs_a", "offload-png"])
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


# ------------------------------------------------------------------------------ serving itself
def test_openapi_describes_the_binary_body_and_every_error(client) -> None:
    doc = client.get("/openapi.json").json()
    infer = doc["paths"]["/v1/infer"]["post"]
    body = infer["requestBody"]["content"]["application/octet-stream"]["schema"]
    assert body == {"type": "string", "format": "binary"}
    assert {"400", "404", "408", "413", "415", "422", "503", "504"} <= set(infer["responses"])
    assert client.get("/docs").status_code == 404  # its assets would come from a CDN


def test_the_port_is_bound_before_any_model_loads(tmp_path) -> None:
    import socket

    from semcom.runtime.serving import ServeError, serve

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # the run directory does not exist: loading it first would raise a StoreError instead
        with pytest.raises(
            ServeError, match=f"cannot listen on 127.0.0.1:{port}: the port is in use"
        ):
            serve(tmp_path / "no-run", port=port)
    with pytest.raises(ServeError, match="--port must be in 1..65535"):
        serve(tmp_path / "no-run", port=99999)


class _FakeProcess:
    """A worker that is always found dead (what a health check sees of a crashing worker)."""

    made = 0

    def __init__(self, config, sockets) -> None:
        type(self).made += 1
        self.pid = type(self).made
        self.exitcode = 1

    def start(self) -> None: ...

    def is_alive(self, timeout: float = 5) -> bool:
        return False

    def kill(self) -> None: ...

    def join(self) -> None: ...

    def terminate(self) -> None: ...


def test_repeated_worker_deaths_stop_the_server(monkeypatch) -> None:
    import uvicorn
    import uvicorn.supervisors.multiprocess as mp

    from semcom.runtime.serving import GuardedMultiprocess

    monkeypatch.setattr(mp, "Process", _FakeProcess)
    config = uvicorn.Config("semcom.runtime.serving:app_from_env", factory=True, workers=2)
    guard = GuardedMultiprocess(config, [], max_restarts=3)
    guard.init_processes()
    rounds = 0
    while not guard.should_exit.is_set() and rounds < 10:
        guard.keep_subprocess_alive()
        rounds += 1
    assert guard.should_exit.is_set() and guard.deaths == 4 and rounds == 2


def test_a_connection_that_never_finishes_its_headers_is_closed(run_dir, free_port) -> None:
    import socket
    import threading

    import uvicorn

    from semcom.runtime.serving import protocol_with

    app = create_app(run_dir)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port, log_level="error",
                       http=protocol_with(0.3), lifespan="off")
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.05)
        with socket.create_connection(("127.0.0.1", free_port), timeout=10) as slow:
            slow.sendall(b"POST /v1/infer HTTP/1.1\r\nhost: x\r\n")  # headers never end
            answer = slow.recv(1024)
            assert answer.startswith(b"HTTP/1.1 408")
            assert slow.recv(1024) == b""  # and the server closed it
        with socket.create_connection(("127.0.0.1", free_port), timeout=10) as ok:
            ok.sendall(b"GET /v1/health HTTP/1.1\r\nhost: x\r\n\r\n")
            assert ok.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        server.should_exit = True
        thread.join(10)


def test_jpeg_variants_are_told_apart_by_the_quality_their_payload_carries() -> None:
    from semcom.storage.store import StoredSystem
    from semcom.systems import BuildContext, build_system

    ctx = BuildContext(num_classes=4, input_shape=(3, 16, 16), backbone="resnet-small",
                       split_after="layer2")  # fmt: skip
    variants = {}
    for quality in (30, 90):
        torch.manual_seed(quality)
        system = build_system("offload-jpeg", {"quality": quality}, ctx).eval()
        system.prepare_for_coding()
        variants[f"jpeg_q{quality}"] = StoredSystem(
            f"jpeg_q{quality}", system, {"quality": quality}
        )
    with TestClient(create_app(variants)) as tc:
        image = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        for quality in (30, 90):
            payload = variants[f"jpeg_q{quality}"].system.device_encode(image)[0]
            answer = tc.post("/v1/infer", content=payload.to_bytes(), headers=OCTET)
            assert answer.status_code == 200, answer.text
            assert answer.json()["model"] == f"jpeg_q{quality}"
