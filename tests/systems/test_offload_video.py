"""Video offloading (``offload-h264`` / ``offload-h265``) and its codec module: rate follows
``crf``, the body is a bare Annex-B elementary stream of one GOP with no encoder-info SEI, grey
clips, refused frame sizes, corrupt bodies refused with ``PayloadError``, the stream bound."""

from __future__ import annotations

import math
import random

import av
import pytest
import torch
from av.video.frame import PictureType

from semcom.coding import Payload, PayloadError
from semcom.coding.video_codecs import (
    VIDEO_CODECS,
    clip_to_yuv420,
    decode_clip,
    encode_clip,
    max_stream_bytes,
    nal_units,
    strip_encoder_info,
    yuv420_to_clip,
)
from semcom.systems import BuildContext, SystemConfigError, build_system

CODECS = ("h264", "h265")
#: parameter sets of each codec, and its IDR NAL types.
PARAMETER_SETS = {"h264": (7, 8), "h265": (32, 33, 34)}
IDR = {"h264": (5,), "h265": (19, 20)}


def moving_clip(channels: int = 3, frames: int = 16, size: int = 32) -> torch.Tensor:
    """A disc (red, with a stripe texture) moving right and down over a smooth gradient:
    uint8 ``[C, T, H, W]``."""
    yy, xx = torch.meshgrid(
        torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
        indexing="ij",
    )  # fmt: skip
    out = []
    for t in range(frames):
        background = torch.stack([60 + 2 * xx, 80 + 1.5 * yy, 120 + 0 * xx])[:channels]
        disc = (((yy - 8 - 0.5 * t) ** 2 + (xx - 6 - 1.25 * t) ** 2) < 25).float()
        sprite = torch.stack([230 + 0 * xx, 60 + 3 * (xx % 4), 40 + 0 * xx])[:channels]
        out.append(background * (1 - disc) + sprite * disc)
    return torch.stack(out, 1).round().clamp(0, 255).to(torch.uint8)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = ((a.float() - b.float()) ** 2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


#: a small clip shape each system takes (x265: at least 18 wide).
SHAPES = {"offload-h264": (3, 4, 16, 16), "offload-h265": (3, 4, 16, 32)}


def system(name: str, shape=None, **params):
    shape = shape or SHAPES[name]
    torch.manual_seed(0)
    return build_system(name, params, BuildContext(4, shape, "video-vit", "stem", "test")).eval()


# --------------------------------------------------------------------------- the codec
@pytest.mark.parametrize("codec", CODECS)
def test_quality_rises_as_crf_falls_and_bytes_fall_as_crf_rises(codec: str) -> None:
    clip = moving_clip()
    sizes, quality = [], []
    for crf in (18, 28, 38):
        stream = encode_clip(clip, codec, crf)
        sizes.append(len(stream))
        quality.append(psnr(clip, decode_clip(stream, codec, tuple(clip.shape))))
    assert sizes[0] > sizes[1] > sizes[2], sizes
    assert quality[0] > quality[1] > quality[2], quality
    assert quality[2] > 22  # a usable clip even at crf 38
    # 16 frames of 32 x 32 RGB are 49 152 raw bytes; even crf 18 is > 20x smaller
    assert sizes[0] < 49_152 / 20


@pytest.mark.parametrize("codec", CODECS)
def test_crf0_loses_little_beyond_the_colour_conversion(codec: str) -> None:
    """x264's crf 0 is lossless; x265's is its finest quantiser (lossless is another option)."""
    clip = moving_clip(frames=4)
    colour_only = yuv420_to_clip(clip_to_yuv420(clip), 3)
    decoded = decode_clip(encode_clip(clip, codec, 0), codec, tuple(clip.shape))
    if codec == "h264":
        assert torch.equal(decoded, colour_only)
    else:
        assert psnr(colour_only, decoded) > 45


def test_colour_conversion_is_exact_up_to_rounding_on_flat_2x2_blocks() -> None:
    flat = torch.full((3, 2, 4, 4), 0, dtype=torch.uint8)
    flat[0], flat[1], flat[2] = 200, 100, 30
    back = yuv420_to_clip(clip_to_yuv420(flat), 3)
    assert (back.int() - flat.int()).abs().max() <= 1


@pytest.mark.parametrize("codec", CODECS)
def test_the_stream_is_bare_annex_b_one_gop_without_encoder_info(codec: str) -> None:
    clip = moving_clip(frames=8)
    stream = encode_clip(clip, codec, 28)
    assert stream.startswith(b"\x00\x00\x00\x01")  # Annex-B start code, no container header
    units = nal_units(stream, codec)
    assert [u.kind for u in units[: len(PARAMETER_SETS[codec])]] == list(PARAMETER_SETS[codec])
    assert sum(u.size() for u in units) == len(stream)
    assert b"x264" not in stream and b"x265" not in stream  # no version / settings SEI
    pictures = [u.kind for u in units if u.kind not in PARAMETER_SETS[codec]]
    assert pictures[0] in IDR[codec] and not set(pictures[1:]) & set(IDR[codec])
    assert len(pictures) == 8  # one slice per picture: one encoder thread
    # the parser sees one key frame, then P frames; the decoder agrees
    ctx = av.CodecContext.create(VIDEO_CODECS[codec][1], "r")
    packets = [*ctx.parse(stream), *ctx.parse(None)]
    assert [p.is_keyframe for p in packets] == [True] + [False] * 7
    types = [PictureType(f.pict_type) for p in packets for f in ctx.decode(p)]
    types += [PictureType(f.pict_type) for f in ctx.decode(None)]
    assert types == [PictureType.I] + [PictureType.P] * 7


@pytest.mark.parametrize("codec", CODECS)
def test_what_the_stream_carries_besides_pictures(codec: str) -> None:
    """The numbers of the module docstrings (32 x 32): parameter sets 34-35 (H.264, the PPS
    is 4-5 bytes with crf) / 80 (H.265) bytes with start codes; x264's settings SEI (~600 bytes) is
    what stripping removes, and nothing else changes."""
    clip = moving_clip()
    raw = encode_clip(clip, codec, 28, keep_encoder_info=True)
    stripped = encode_clip(clip, codec, 28)
    assert strip_encoder_info(raw, codec) == stripped
    headers = sum(u.size() for u in nal_units(stripped, codec) if u.kind in PARAMETER_SETS[codec])
    if codec == "h264":
        assert 32 <= headers <= 36
        (sei,) = [u for u in nal_units(raw, codec) if u.kind == 6]
        assert b"x264 - core" in raw[sei.start : sei.end] and 500 < sei.size() < 700
        assert len(raw) - len(stripped) == sei.size()
    else:
        assert headers == 80 and raw == stripped  # x265's info SEI is off at the encoder


def textured_pan(size: int = 32, frames: int = 8) -> torch.Tensor:
    """A smoothed-noise RGB texture panning 2 pixels right and 1 down per frame."""
    g = torch.Generator().manual_seed(0)
    texture = torch.rand(3, 1, size + 2 * frames, size + 2 * frames, generator=g)
    texture = torch.nn.functional.avg_pool2d(texture, 3, 1, 1)[:, 0] * 255
    clip = torch.stack([texture[:, t : t + size, 2 * t : 2 * t + size] for t in range(frames)], 1)
    return clip.round().to(torch.uint8)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("size", [(16, 18), (32, 32), (64, 64)])
def test_the_stream_is_the_same_every_time(codec: str, size: tuple[int, int]) -> None:
    """x265 on a frame one CTU wide reads uninitialised memory and its streams vary from run to
    run (with corrupted blocks): the CTU size chosen for the frame avoids it."""
    h, w = size
    clip = textured_pan(64, 6)[:, :, :h, :w].contiguous()
    streams = {encode_clip(clip, codec, 18) for _ in range(4)}
    assert len(streams) == 1
    colour_only = yuv420_to_clip(clip_to_yuv420(clip), 3)
    assert psnr(colour_only, decode_clip(streams.pop(), codec, tuple(clip.shape))) > 30


def test_strip_encoder_info_keeps_other_sei() -> None:
    sps, pps = b"\x00\x00\x00\x01\x67\x42\x00\x0a", b"\x00\x00\x00\x01\x68\xce"
    user_data = b"\x00\x00\x01\x06\x05\x10" + bytes(16) + b"\x80"
    recovery_point = b"\x00\x00\x01\x06\x06\x01\xc4\x80"
    idr = b"\x00\x00\x01\x65\x88\x84"
    stream = sps + pps + user_data + recovery_point + idr
    assert strip_encoder_info(stream, "h264") == sps + pps + recovery_point + idr


@pytest.mark.parametrize("codec", CODECS)
def test_grey_clips_code_luma_only(codec: str) -> None:
    clip = moving_clip(channels=1)
    yuv = clip_to_yuv420(clip)
    assert (yuv[:, 32:] == 128).all() and (yuv[:, :32] == clip[0].numpy()).all()
    stream = encode_clip(clip, codec, 18)
    back = decode_clip(stream, codec, tuple(clip.shape))
    assert back.shape == clip.shape and psnr(clip, back) > 35
    # flat chroma costs almost nothing: the grey clip is cheaper than the RGB one
    assert len(stream) < len(encode_clip(moving_clip(), codec, 18))


@pytest.mark.parametrize("codec", CODECS)
def test_the_stream_bound_holds_for_lossless_noise(codec: str) -> None:
    g = torch.Generator().manual_seed(0)
    for shape in ((3, 4, 16, 18), (1, 3, 18, 30), (3, 2, 32, 48)):
        noise = torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
        assert len(encode_clip(noise, codec, 0)) <= 0.85 * max_stream_bytes(codec, shape)


# --------------------------------------------------------------------------- the systems
@pytest.mark.parametrize("name", ["offload-h264", "offload-h265"])
def test_the_system_round_trips_through_bytes(name: str) -> None:
    sys_ = system(name, crf=18)
    x = moving_clip(frames=4, size=32)[None, :, :, :16, : SHAPES[name][3]].float() / 255
    (payload,) = sys_.device_encode(x)
    assert payload.params == {"crf": 18} and payload.shapes == (SHAPES[name],)
    assert payload.chunks[0].startswith(b"\x00\x00\x00\x01")
    parsed = Payload.from_bytes(payload.to_bytes(), layout=sys_.payload_layout())
    with torch.no_grad():
        logits = sys_.edge_decode([parsed])
        clean = sys_(x, None, "bypass").output
    assert logits.shape == (1, 4) and torch.equal(logits, sys_.edge_decode([payload]))
    assert sys_.device_modules() == [] and sys_.split_elements() == math.prod(SHAPES[name])
    assert torch.allclose(logits, clean, atol=0.5)  # the decoded clip is close to the input
    assert "PyAV" in sys_.export_refusal()


def test_odd_and_too_small_frames_and_non_clips_are_refused_by_name() -> None:
    with pytest.raises(SystemConfigError, match=r"input_shape H x W = 15x16.*even"):
        system("offload-h264", (3, 4, 15, 16))
    with pytest.raises(SystemConfigError, match=r"at least 16x18 \(HxW\).*one 16-pixel CTU"):
        system("offload-h265", (3, 4, 16, 16))
    with pytest.raises(SystemConfigError, match=r"C 1 or 3"):
        system("offload-h264", (3, 32, 32))
    with pytest.raises(SystemConfigError, match="crf"):
        system("offload-h264", crf=52)
    assert system("offload-h264", (3, 4, 8, 8)).payload_layout().params == {"crf": 28}


@pytest.mark.parametrize("name", ["offload-h264", "offload-h265"])
def test_corrupt_bodies_are_refused_never_crash(name: str) -> None:
    _, t, h, w = SHAPES[name]
    sys_ = system(name, (1, t, h, w))
    x = moving_clip(channels=1, frames=t, size=32)[None, :, :, :h, :w].float() / 255
    (good,) = sys_.device_encode(x)
    body = good.chunks[0]

    def with_body(b: bytes) -> Payload:
        return Payload(good.system, good.shapes, good.params, (b,))

    rng = random.Random(0)
    refused = [
        b"",
        body[: len(body) // 2],  # the last pictures are missing
        bytes(rng.randrange(256) for _ in range(300)),  # junk
        b"\x00\x00\x00\x01" + bytes(rng.randrange(256) for _ in range(300)),  # junk NAL units
        body + body,  # two clips: too many pictures
        encode_clip(moving_clip(channels=1, frames=t, size=32), sys_.codec),  # wrong size
        encode_clip(x[0, :, 1:].mul(255).byte(), sys_.codec),  # too few frames
    ]
    for b in refused:
        with pytest.raises(PayloadError, match=sys_.codec):
            sys_.edge_decode([with_body(b)])
    with pytest.raises(PayloadError):  # longer than any stream of this shape: the layout says no
        sys_.check_payload(with_body(bytes(max_stream_bytes(sys_.codec, (1, t, h, w)) + 1)))
    # a flipped bit either fails to decode or is concealed: never anything but PayloadError
    for _ in range(40):
        damaged = bytearray(body)
        damaged[rng.randrange(4, len(damaged))] ^= 1 << rng.randrange(8)
        try:
            out = sys_.edge_decode([with_body(bytes(damaged))])
        except PayloadError:
            continue
        assert out.shape == (1, 4) and torch.isfinite(out).all()
