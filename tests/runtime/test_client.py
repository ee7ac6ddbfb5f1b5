"""The device side: images to model input, choosing the variant, the HTTP client against the
in-process app, stage timings, and the ONNX device when the export is available."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from semcom.runtime.client import (
    ClientError,
    EdgeClient,
    InferError,
    choose_variant,
    image_paths,
    infer_one,
    load_image,
    load_onnx_device,
    load_torch_device,
)
from semcom.runtime.link_emulator import LinkEmulator
from semcom.runtime.server import create_app


@pytest.fixture(scope="module")
def edge(run_dir):
    with TestClient(create_app(run_dir)) as tc:
        yield EdgeClient("http://testserver", client=tc)


# ------------------------------------------------------------------------------------ images
def test_grey_image_loads_exactly(tmp_path) -> None:
    pixels = np.arange(256, dtype=np.uint8).reshape(16, 16)
    Image.fromarray(pixels, mode="L").save(tmp_path / "a.png")
    x = load_image(tmp_path / "a.png", (1, 16, 16))
    assert x.shape == (1, 1, 16, 16) and x.dtype == torch.float32
    assert torch.equal(x[0, 0], torch.from_numpy(pixels.astype(np.float32) / 255))


def test_colour_conversion_and_resize(tmp_path) -> None:
    rgb = np.zeros((20, 30, 3), dtype=np.uint8)
    rgb[..., 0] = 255  # pure red
    Image.fromarray(rgb).save(tmp_path / "red.png")
    grey = load_image(tmp_path / "red.png", (1, 16, 16))
    assert grey.shape == (1, 1, 16, 16)
    assert torch.allclose(grey, torch.full_like(grey, 76 / 255), atol=1.5 / 255)  # ITU-R 601 luma
    colour = load_image(tmp_path / "red.png", (3, 8, 12))
    assert colour.shape == (1, 3, 8, 12)
    assert torch.allclose(colour[0, 0], torch.ones(8, 12)) and colour[0, 1:].abs().max() == 0
    Image.fromarray(np.full((16, 16), 128, np.uint8)).save(tmp_path / "g.jpg")
    three = load_image(tmp_path / "g.jpg", (3, 16, 16))
    assert torch.equal(three[0, 0], three[0, 1]) and torch.equal(three[0, 1], three[0, 2])


def test_image_paths_and_errors(tmp_path) -> None:
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in image_paths(tmp_path)] == ["a.jpg", "b.png"]
    assert image_paths(tmp_path / "b.png") == [tmp_path / "b.png"]
    with pytest.raises(ClientError, match="no such file"):
        image_paths(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClientError, match="no image files"):
        image_paths(tmp_path / "empty")
    with pytest.raises(ClientError, match="cannot read"):
        load_image(tmp_path / "b.png", (1, 16, 16))  # empty file


# ------------------------------------------------------------------------------------ variants
def test_choose_variant_by_id_or_system_name(stored) -> None:
    assert choose_variant(stored, "aecnn_k=2").variant == "aecnn_k=2"
    assert choose_variant(stored, "offload-png").variant == "offload-png"
    with pytest.raises(ClientError, match="3 variants of system 'aecnn'.*aecnn_k=2"):
        choose_variant(stored, "aecnn")
    with pytest.raises(ClientError, match="analog link"):
        choose_variant(stored, "bottlenet++")
    with pytest.raises(ClientError, match="no digital variant or system named 'nope'"):
        choose_variant(stored, "nope")
    with pytest.raises(ClientError, match="pick one with --system"):
        choose_variant(stored, None)
    only = {"qs_a": stored["qs_a"], "local": stored["local"]}
    assert choose_variant(only, None).variant == "qs_a"


# ------------------------------------------------------------------------------------ end to end
def test_infer_one_matches_local_and_accounts_for_every_stage(
    run_dir, edge, local_answer, make_images
) -> None:
    device = load_torch_device(run_dir, "aecnn_k=4_ps")
    x = make_images(4, seed=21)
    for i in range(4):
        _, logits = local_answer("aecnn_k=4_ps", x[i : i + 1])
        result = infer_one(device, edge, x[i : i + 1])
        assert result.model == "aecnn_k=4_ps"
        assert result.prediction == int(logits.argmax())
        assert result.link is None and result.link_s < 1e-3
        assert result.device_s > 0 and result.request_s > 0
        assert result.total_s >= result.device_s + result.request_s
        assert result.edge_compute_s * 1e3 <= result.server_ms["total_server"] + 1e-9
        assert result.overhead_s > 0
        record = result.to_json()
        assert record["payload_bytes"] == result.payload_bytes and "packets" not in record


def test_infer_one_holds_the_bytes_on_the_emulated_link(run_dir, edge, make_images) -> None:
    device = load_torch_device(run_dir, "offload-png")
    link = LinkEmulator(rate_bps=2e5, loss=0.3, mtu_bytes=64, seed=4)
    result = infer_one(device, edge, make_images(1), link)
    assert result.link is not None and result.link.packets == -(-result.payload_bytes // 64)
    assert result.link_s >= result.link.seconds * 0.99
    assert result.link.seconds >= 8 * result.payload_bytes / 2e5
    assert result.to_json()["retransmissions"] == result.link.retransmissions


def test_server_errors_surface_as_infer_error(edge) -> None:
    with pytest.raises(InferError) as info:
        edge.infer(b"not a payload")
    assert info.value.status == 400 and info.value.kind == "bad_payload"
    assert "bad magic" in info.value.detail
    assert edge.health()["status"] == "ok"
    assert len(edge.models()["models"]) == 8


def test_unreachable_server_is_a_client_error(free_port) -> None:
    with EdgeClient(f"http://127.0.0.1:{free_port}", retries=1, timeout_s=2) as client:
        with pytest.raises(ClientError, match="/v1/health"):
            client.health()


def test_wrong_batch_shape_is_refused(run_dir, edge) -> None:
    device = load_torch_device(run_dir, "qs_a")
    with pytest.raises(ClientError, match=r"\[1, C, H, W\]"):
        infer_one(device, edge, torch.zeros(2, 1, 16, 16))


# ------------------------------------------------------------------------------------ ONNX
def _export_command():
    if importlib.util.find_spec("semcom.runtime.onnx_device") is None:
        return None
    from semcom.cli import app

    names = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    return app if "export" in names else None


def test_onnx_device_sends_what_the_torch_device_sends(
    run_dir, edge, tmp_path, make_images
) -> None:
    app = _export_command()
    if app is None:
        pytest.skip("the ONNX export (semcom export / semcom.runtime.onnx_device) is not there yet")
    from typer.testing import CliRunner

    out = tmp_path / "onnx"
    result = CliRunner().invoke(
        app, ["export", str(run_dir), "--onnx", str(out), "--system", "aecnn_k=4", "--check", "2"]
    )
    assert result.exit_code == 0, result.output
    device = load_onnx_device(out, "aecnn_k=4")
    assert device.variant == "aecnn_k=4" and device.input_shape == (1, 16, 16)
    reference = load_torch_device(run_dir, "aecnn_k=4")
    x = make_images(3, seed=8)
    for i in range(3):
        sample = x[i : i + 1]
        # the export may flip a symbol at a rounding boundary, so compare answers, not bytes
        onnx_result = infer_one(device, edge, sample)
        assert onnx_result.model == "aecnn_k=4"
        assert onnx_result.prediction == infer_one(reference, edge, sample).prediction
    with pytest.raises(ClientError):
        load_onnx_device(out, "no-such-variant")
