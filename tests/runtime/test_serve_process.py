"""A real ``semcom serve`` process on a loopback port: the ``semcom infer`` command against it,
abuse over raw sockets, and 32 concurrent clients × 50 requests with every answer checked."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from semcom.cli import app


@pytest.fixture(scope="module")
def server(run_dir, tmp_path_factory, serve_process) -> Iterator[str]:
    with serve_process(run_dir, tmp_path_factory.mktemp("serve") / "server.log") as served:
        yield served.url


def metric(url: str, status: str) -> float:
    text = httpx.get(url + "/v1/metrics").text
    return sum(float(v) for v in re.findall(rf'status="{status}"}} (\S+)', text))


# ------------------------------------------------------------------------------------ basics
def test_real_process_answers_on_loopback(server) -> None:
    health = httpx.get(server + "/v1/health").json()
    assert health["status"] == "ok" and health["pid"] != os.getpid() and health["served"] == 6
    models = httpx.get(server + "/v1/models").json()["models"]
    assert {m["model"] for m in models if not m["served"]} == {"bottlenet++", "local"}


def test_infer_command_prints_what_the_local_model_computes(
    server, run_dir, tmp_path, local_answer
) -> None:
    rng = np.random.default_rng(5)
    for i in range(3):  # RGB files of another size: converted to grey 16x16 by the client
        pixels = (rng.random((24, 20, 3)) * 255).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
    args = ["infer", str(tmp_path), "--server", server, "--run", str(run_dir), "--json"]
    result = CliRunner().invoke(app, [*args, "--system", "aecnn_k=4"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [Path(r["image"]).name for r in records] == ["0.png", "1.png", "2.png"]
    from semcom.runtime.client import load_image

    for r in records:
        _, logits = local_answer("aecnn_k=4", load_image(r["image"], (1, 16, 16)))
        assert r["model"] == "aecnn_k=4" and r["prediction"] == int(logits.argmax())
        assert r["device_ms"] > 0 and r["total_ms"] >= r["device_ms"] + r["server_ms"]["decode"]
        assert set(r["server_ms"]) >= {"parse", "decode", "edge_compute", "total_server"}

    # the emulated link: 8 bits per byte at 200 kbit/s, 100-byte packets, 20 % loss
    link = ["--rate-bps", "2e5", "--loss", "0.2", "--mtu", "100", "--seed", "1"]
    result = CliRunner().invoke(app, [*args, "--system", "offload-png", *link])
    assert result.exit_code == 0, result.output
    for line in result.output.splitlines():
        r = json.loads(line)
        assert r["packets"] == -(-r["payload_bytes"] // 100)
        floor_ms = 8e3 * r["payload_bytes"] / 2e5
        assert r["link_ms"] >= 0.99 * floor_ms and r["total_ms"] > r["link_ms"]

    table = CliRunner().invoke(app, [*args[:-1], "--system", "qs_a"])  # the human-readable table
    assert table.exit_code == 0 and "overhead" in table.output and "qs_a" in table.output


def test_infer_command_errors(server, run_dir, tmp_path) -> None:
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "a.png")
    runner = CliRunner()
    no_device = runner.invoke(app, ["infer", str(tmp_path), "--server", server])
    assert no_device.exit_code == 2 and "--run" in no_device.output
    ambiguous = runner.invoke(app, ["infer", str(tmp_path), "--server", server,
                                    "--run", str(run_dir)])  # fmt: skip
    assert ambiguous.exit_code == 2 and "--system" in ambiguous.output
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = runner.invoke(app, ["infer", str(tmp_path), "--server", dead, "--run", str(run_dir),
                               "--system", "qs_a"])  # fmt: skip
    assert down.exit_code == 1 and "1 of 1 image(s) failed" in down.output
    base = ["infer", str(tmp_path), "--run", str(run_dir), "--system", "qs_a"]
    for flags, says in [
        (["--server", "ftp://127.0.0.1:21"], "server URL must be http(s)"),
        (["--server", server, "--loss", "-0.1"], "--loss must be in [0, 1)"),
        (["--server", server, "--loss", "1"], "--loss must be in [0, 1)"),
        (["--server", server, "--timeout", "0"], "--timeout must be > 0"),
    ]:
        bad = runner.invoke(app, [*base, *flags])
        assert bad.exit_code == 2 and says in bad.output, (flags, bad.output)
        assert "Traceback" not in bad.output


def test_infer_one_unreadable_image_fails_alone(server, run_dir, tmp_path) -> None:
    for name in ("a.png", "c.png"):
        Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / name)
    (tmp_path / "b.png").write_bytes(b"not an image at all")
    result = CliRunner().invoke(app, ["infer", str(tmp_path), "--server", server, "--run",
                                      str(run_dir), "--system", "qs_a", "--json"])  # fmt: skip
    assert result.exit_code == 1 and "1 of 3 image(s) failed" in result.output
    records = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [Path(r["image"]).name for r in records] == ["a.png", "b.png", "c.png"]
    assert "cannot read the image" in records[1]["error"]
    assert records[0]["model"] == records[2]["model"] == "qs_a"


def test_edge_client_keeps_one_connection_and_reconnects(server, local_answer, make_images) -> None:
    from semcom.runtime.client import EdgeClient

    wire, logits = local_answer("aecnn_k=4", make_images(1, seed=2))
    with EdgeClient(server) as client:
        assert client.infer(wire)["prediction"] == int(logits.argmax())
        first = client._conn.conn
        assert client.infer(wire)["model"] == "aecnn_k=4"
        assert client._conn.conn is first  # keep-alive: the same connection
        first.sock.close()  # as if the server had dropped the idle connection
        assert client.infer(wire)["prediction"] == int(logits.argmax())
        assert client._conn.conn is not first


# ------------------------------------------------------------------------------------ abuse
def _raw(url: str, data: bytes, read: bool = True) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(data)
        if not read:
            return b""
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def test_raw_socket_abuse_never_takes_the_server_down(server) -> None:
    head = b"POST /v1/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
    answer = _raw(server, head + b"Content-Length: 999999999\r\n\r\nSC")
    assert answer.startswith(b"HTTP/1.1 413")
    answer = _raw(server, head + b"Content-Length: 100\r\n\r\nSC\x01")  # body cut short
    assert not answer.startswith(b"HTTP/1.1 5")
    answer = _raw(server, head + b"Content-Length: -5\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400")
    _raw(server, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200))  # TLS hello
    _raw(server, os.urandom(5000), read=False)
    assert httpx.get(server + "/v1/health").json()["status"] == "ok"
    assert metric(server, "5..") == 0


# ------------------------------------------------------------------------------------ concurrency
def test_32_clients_x_50_requests_all_answered_correctly(server, local_answer, make_images) -> None:
    variants = ["aecnn_k=4", "aecnn_k=2", "aecnn_k=4_ps", "qs_a", "offload-png"]
    x = make_images(40, seed=1234)
    pool = []
    for i in range(40):
        variant = variants[i % len(variants)]
        wire, logits = local_answer(variant, x[i : i + 1])
        pool.append((variant, wire, logits))
    clients, per_client = 32, 50
    ok_before = metric(server, "200")
    results: list[list[tuple[int, str, dict]]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    start = threading.Barrier(clients)

    def worker(c: int) -> None:
        try:
            with httpx.Client(base_url=server, timeout=60) as http:
                start.wait()
                for j in range(per_client):
                    k = (c * per_client + j) % len(pool)
                    variant, wire, _ = pool[k]
                    params = {"model": variant} if variant.startswith("qs") else None
                    r = http.post("/v1/infer", content=wire, params=params)
                    results[c].append((k, variant, {"status": r.status_code, **r.json()}))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    answers = [a for per in results for a in per]
    assert len(answers) == clients * per_client  # none lost
    for k, variant, data in answers:
        assert data["status"] == 200, data
        assert data["model"] == variant
        expected = pool[k][2]
        assert data["prediction"] == int(expected.argmax())
        assert torch.allclose(torch.tensor(data["logits"]), expected, atol=1e-5)
    assert metric(server, "200") - ok_before == clients * per_client
    assert metric(server, "5..") == 0


@pytest.mark.slow
def test_two_workers_serve_the_same_answers(
    run_dir, tmp_path, local_answer, make_images, serve_process
) -> None:
    with serve_process(run_dir, tmp_path / "server.log", "--workers", "2") as served:
        url = served.url
        x = make_images(20, seed=3)
        pids = set()
        for i in range(20):
            wire, logits = local_answer("aecnn_k=4", x[i : i + 1])
            with httpx.Client(base_url=url) as http:  # a new connection each time
                data = http.post("/v1/infer", content=wire).json()
                pids.add(http.get("/v1/health").json()["pid"])
            assert data["prediction"] == int(logits.argmax())
        assert served.pid not in pids and 1 <= len(pids) <= 2
        # keep-alive requests to a worker answer in milliseconds (TCP_NODELAY on its sockets;
        # without it every answer waited ~40 ms for the client's delayed ACK)
        with httpx.Client(base_url=url) as http:
            times = []
            for _ in range(30):
                t0 = time.perf_counter()
                http.get("/v1/health")
                times.append(time.perf_counter() - t0)
        assert sorted(times)[len(times) // 2] < 0.02, times
