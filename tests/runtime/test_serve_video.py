"""Video systems served: a real ``semcom serve`` process on a loopback port serves the edge parts
of ``stae``, ``deepisc`` and ``offload-h264``; ``semcom infer`` decodes a real MP4 into the
model's clip and the edge answers what the same stored system computes here; corrupt payloads are
refused with a reason while the server keeps serving; an image given to a clip model is refused
clearly; ``semcom export`` skips the video systems with their reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from semcom.cli import app
from semcom.coding import Payload
from semcom.runtime.client import (
    VIDEO_SUFFIXES,
    ClientError,
    input_paths,
    load_clip,
    load_input,
)
from semcom.storage.store import StoredSystem, load_run, save_system
from semcom.systems import BuildContext, build_system

pytestmark = pytest.mark.skipif("libx264" not in av.codecs_available, reason="PyAV without libx264")

CTX = BuildContext(10, (3, 8, 16, 16), "video-vit-tiny", "embed", "sprite-actions")
SHAPE = (3, 8, 16, 16)
STAE = {"frames": 2, "patches": 3, "patch": 4, "channels": 2, "bits": 2, "width": 4,
        "decoder_width": 8}  # fmt: skip
DEEPISC = {"patch": 4, "channels": 1, "bits": 2, "dim": 8, "depth": 1, "heads": 1}
VARIANTS: dict[str, tuple[str, dict]] = {
    "stae": ("stae", STAE),
    "deepisc": ("deepisc", DEEPISC),
    "h264": ("offload-h264", {"crf": 28}),
}
OCTET = {"content-type": "application/octet-stream"}


def write_mp4(path: Path, frames: int = 20, width: int = 40, height: int = 30) -> Path:
    """``frames`` frames of ``width × height`` (H.264, libx264): a bright square moving right
    over a diagonal gradient whose colours drift."""
    yy, xx = np.mgrid[0:height, 0:width]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25, options={"crf": "18"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            rgb = np.stack(
                [(4 * (xx + yy) + 6 * i) % 256, (8 * yy) % 256, (255 - 5 * xx - 3 * i) % 256], -1
            ).astype(np.uint8)
            x0 = (i * (width - 10)) // max(frames - 1, 1)
            rgb[8:18, x0 : x0 + 10] = (250, 240, 30)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def video_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("video") / "run"
    for i, (variant, (name, params)) in enumerate(VARIANTS.items()):
        torch.manual_seed(10 + i)
        system = build_system(name, params, CTX)
        system.eval()
        system.prepare_for_coding()
        save_system(system, run, variant)
    return run


@pytest.fixture(scope="module")
def stored(video_run) -> dict[str, StoredSystem]:
    return load_run(video_run)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    """A folder: two MP4s (20 and 7 frames), one unreadable ``.mp4`` and a PNG."""
    folder = tmp_path_factory.mktemp("videos")
    write_mp4(folder / "a.mp4")
    write_mp4(folder / "c.mp4", frames=7)
    (folder / "b.mp4").write_bytes(b"not a video at all")
    Image.fromarray(np.zeros((30, 40, 3), np.uint8)).save(folder / "still.png")
    return folder


@pytest.fixture(scope="module")
def server(video_run, tmp_path_factory, serve_process) -> Iterator[str]:
    with serve_process(video_run, tmp_path_factory.mktemp("serve") / "server.log") as served:
        yield served.url


def local_logits(stored: dict[str, StoredSystem], variant: str, clip: torch.Tensor):
    """``(payload, logits [K])``: device and edge side of the stored system, in this process."""
    system = stored[variant].system.eval()
    with torch.inference_mode():
        payload = system.device_encode(clip)[0]
        return payload, system.edge_decode([payload])[0]


def records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


# ------------------------------------------------------------------------------------ served
def test_video_variants_are_served(server) -> None:
    models = {m["model"]: m for m in httpx.get(server + "/v1/models").json()["models"]}
    assert set(models) == set(VARIANTS)
    for variant, m in models.items():
        assert m["served"] is True, (variant, m.get("reason"))
        assert m["input_shape"] == list(SHAPE)
    stae = models["stae"]["accepts"]
    assert stae["chunks"] == 3 and stae["header"] == "self-describing"  # variable dims
    assert stae["shapes"] == [[2, {"min": 1, "max": 2}, {"min": 1, "max": 3}]]
    assert models["deepisc"]["accepts"]["header"] == "compact"
    assert models["h264"]["accepts"]["header"] == "compact"


def test_infer_a_video_answers_what_the_local_system_computes(server, video_run, stored, videos):
    for variant in VARIANTS:
        result = CliRunner().invoke(app, ["infer", str(videos / "a.mp4"), "--server", server,
                                          "--run", str(video_run), "--system", variant,
                                          "--json"])  # fmt: skip
        assert result.exit_code == 0, result.output
        (record,) = records(result.output)
        assert record["video"] == str(videos / "a.mp4") and record["model"] == variant
        clip = load_clip(videos / "a.mp4", SHAPE)
        assert clip.shape == (1, *SHAPE) and clip.dtype == torch.float32
        payload, logits = local_logits(stored, variant, clip)
        assert record["prediction"] == int(logits.argmax())
        wire = stored[variant].system.wire_codec().encode(payload)
        assert record["payload_bytes"] == len(wire)
        # the whole answer: the same payload decoded by the server
        answer = httpx.post(server + f"/v1/infer?model={variant}", content=wire, headers=OCTET)
        assert answer.status_code == 200, answer.text
        assert np.allclose(answer.json()["logits"], logits.tolist(), atol=1e-5)


def test_the_clip_is_the_decoded_video_at_the_models_size(videos) -> None:
    from semcom.data.video_decode import decode_clip

    clip = load_clip(videos / "c.mp4", SHAPE)  # 7 frames sampled to 8: the last one repeats
    raw = decode_clip(videos / "c.mp4", frames=8, size=(16, 16), sampling="uniform", channels=3)
    assert torch.equal(clip[0], torch.from_numpy(raw).float() / 255)
    grey = load_clip(videos / "a.mp4", (1, 4, 8, 8))
    assert grey.shape == (1, 1, 4, 8, 8) and 0 <= float(grey.min()) <= float(grey.max()) <= 1


def test_a_directory_of_videos_fails_file_by_file(server, video_run, videos) -> None:
    result = CliRunner().invoke(app, ["infer", str(videos), "--server", server, "--run",
                                      str(video_run), "--system", "stae", "--json"])  # fmt: skip
    assert result.exit_code == 1 and "1 of 3 video(s) failed" in result.output
    got = records(result.output)
    assert [Path(r["video"]).name for r in got] == ["a.mp4", "b.mp4", "c.mp4"]  # no still.png
    assert "cannot read the video" in got[1]["error"]
    assert got[0]["model"] == got[2]["model"] == "stae"
    table = CliRunner().invoke(app, ["infer", str(videos / "a.mp4"), "--server", server,
                                     "--run", str(video_run), "--system", "stae"])  # fmt: skip
    assert table.exit_code == 0 and "a.mp4" in table.output and "1 video(s)" in table.output


# ------------------------------------------------------------------------------------ refusals
def test_corrupt_payloads_are_refused_and_the_server_keeps_serving(server, stored, videos):
    clip = load_clip(videos / "a.mp4", SHAPE)
    payload, logits = local_logits(stored, "stae", clip)
    good = payload.to_bytes()
    body, frames, cells = payload.chunks
    url = server + "/v1/infer?model=stae"

    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0x40  # CRC no longer matches
    r = httpx.post(url, content=bytes(flipped), headers=OCTET)
    assert r.status_code == 400 and r.json()["error"] == "bad_payload", r.text

    def rebuilt(**change) -> bytes:  # CRC-valid payloads whose content is wrong
        fields = {"shapes": payload.shapes, "chunks": payload.chunks, **change}
        return Payload("stae", fields["shapes"], dict(payload.params), fields["chunks"]).to_bytes()

    all_frames = bytes([0xFF])  # 8 frames kept where the shape says 2
    for bad, says in [
        (rebuilt(chunks=(body, all_frames, cells)), "frame mask keeps 8 frames"),
        (rebuilt(shapes=((2, 2, 4),)), "dimension 2 is 4, allowed 1..3"),
        (rebuilt(chunks=(body[:1], frames, cells)), "cannot decode the payload"),
        (rebuilt(chunks=(body, frames, cells[:-1])), "cell masks have"),
    ]:
        r = httpx.post(url, content=bad, headers=OCTET)
        assert r.status_code == 422, r.text
        assert says in r.json()["detail"], r.json()
    assert httpx.get(server + "/v1/health").json()["status"] == "ok"
    r = httpx.post(url, content=good, headers=OCTET)
    assert r.status_code == 200 and r.json()["prediction"] == int(logits.argmax())


def test_an_image_given_to_a_clip_model_is_refused_clearly(server, video_run, videos, tmp_path):
    runner = CliRunner()
    base = ["--server", server, "--run", str(video_run), "--system", "stae"]
    still = runner.invoke(app, ["infer", str(videos / "still.png"), *base])
    assert still.exit_code == 2, still.output
    text = " ".join(still.output.split())
    assert "an image file" in text and "video clips (C, T, H, W) = (3, 8, 16, 16)" in text
    assert "Traceback" not in still.output
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / "x.png")
    folder = runner.invoke(app, ["infer", str(tmp_path), *base])
    assert folder.exit_code == 2 and "no video files" in " ".join(folder.output.split())


def test_inputs_of_the_other_kind_are_refused(videos) -> None:
    with pytest.raises(ClientError, match=r"a video file, but the model takes images"):
        load_input(videos / "a.mp4", (1, 16, 16))
    with pytest.raises(ClientError, match=r"an image file, but the model takes video clips"):
        load_input(videos / "still.png", SHAPE)
    assert [p.name for p in input_paths(videos, SHAPE)] == ["a.mp4", "b.mp4", "c.mp4"]
    assert [p.name for p in input_paths(videos, (3, 16, 16))] == ["still.png"]
    assert load_input(videos / "a.mp4", SHAPE).shape == (1, *SHAPE)


def test_infer_help_names_the_video_suffixes() -> None:
    help_text = CliRunner().invoke(app, ["infer", "--help"]).output
    for suffix in VIDEO_SUFFIXES:
        assert suffix in help_text, suffix


def test_export_skips_the_video_systems_with_their_reasons(video_run, tmp_path) -> None:
    result = CliRunner().invoke(app, ["export", str(video_run), "--onnx", str(tmp_path / "x")])
    assert result.exit_code == 2 and "nothing to export" in result.output
    text = " ".join(result.output.split())
    assert "skipping h264: offload-h264: the device runs no network" in text
    assert "skipping stae: stae:" in text and "skipping deepisc: deepisc:" in text
