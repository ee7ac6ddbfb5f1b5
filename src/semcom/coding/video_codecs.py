"""Classical video codecs (PyAV: libx264, libx265) for the video offloading baselines.

A clip is a uint8 array or tensor ``[C, T, H, W]`` with ``C`` in ``{1, 3}`` (grey or RGB) and even
``H``, ``W``. :func:`encode_clip` codes it as **one closed GOP** — frame 0 an IDR picture, frames
1..T-1 P pictures, no B-frames — in low-latency mode (``tune=zerolatency``: no look-ahead, no frame
threads, every frame leaves the encoder as soon as it is coded) at a constant rate factor, and
returns the **raw elementary stream**: Annex-B NAL units (start code ``00 00 00 01`` / ``00 00
01``) as the encoder writes them, parameter sets in band before the first picture, no container.
:func:`decode_clip` decodes such a stream back to the clip and refuses, with
:class:`VideoCodecError`, anything that is not exactly ``T`` pictures of the expected size.

Pixels: the encoder codes 8-bit 4:2:0 (``yuv420p``). RGB is converted here, not by swscale, with
the full-range BT.601 matrix of JFIF (as Pillow's JPEG does), chroma averaged over 2 × 2 blocks;
the decoder upsamples chroma bilinearly (centred samples, like libjpeg's "fancy" upsampling) and
converts back. Grey is coded as its luma plane exactly, with flat chroma (128), and decoded from the
luma plane alone, so a grey clip costs almost nothing for colour. The full range is signalled in
the stream (VUI ``video_full_range_flag``, 1 bit of a few VUI bytes). Timing is nominal
(:data:`FRAME_RATE` = 25 frames per second in the stream's time base): nothing here depends on it.

What the stream carries besides pictures, and what is removed (measured on the moving-sprite clip
of ``tests/systems/test_offload_video.py``, 16 frames of 32 × 32, ``veryfast``; "on the wire"
includes the start codes):

* H.264 (x264 core 165): SPS 22 bytes + PPS 4–5 bytes (the initial QP follows ``crf``): 34–35
  bytes on the wire. x264 also writes an SEI "user data unregistered" message with its version
  and whole settings string (``x264 - core 165 - H.264/MPEG-4 AVC codec - Copyleft ... - options:
  cabac=1 ref=1 ...``): 591 bytes, 594 on the wire, 80 % of everything else in a 16-frame clip
  at ``crf`` 28 (747 bytes). x264 has no option to leave it out (``x264_encoder_headers`` writes
  it unconditionally; ``x264-params no-info=1`` is no x264 option, and FFmpeg does not fail on
  an unknown one: the SEI stays), so :func:`strip_encoder_info` removes every SEI NAL unit whose
  first message is user data unregistered (``payloadType`` 5) before the stream is sent:
  decoders ignore it, and a deployed low-latency sender would not transmit it.
* H.265 (x265 4.2): VPS 24 + SPS 38 + PPS 6 bytes, 80 on the wire. x265's own version / settings
  SEI (2 321 bytes on the wire) is switched off at the encoder (``x265-params info=0``); the
  stripping runs after it all the same (it would remove that SEI too).

Determinism: one encoder thread (x264 ``threads=1``; x265 ``pools=none``, ``frame-threads=1``),
so the bytes do not depend on the machine's core count (x264's sliced threads would cut each
picture into one slice per thread); the same clip and settings give the same stream. x265 also
gets a CTU size that leaves at least two CTU columns (:func:`x265_ctu`): on a frame one CTU wide
it reads uninitialised memory and its streams differ from run to run.
"""

from __future__ import annotations

import fractions
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import numpy as np
import torch

if TYPE_CHECKING:
    from av.video.codeccontext import VideoCodecContext
    from av.video.frame import VideoFrame

#: codec name → (PyAV encoder, PyAV decoder).
VIDEO_CODECS: dict[str, tuple[str, str]] = {
    "h264": ("libx264", "h264"),
    "h265": ("libx265", "hevc"),
}
#: x264 / x265 presets, fastest first (the encoders' own names).
PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow")
#: the nominal frame rate written into the stream (frames per second).
FRAME_RATE = 25
#: smallest frame (height, width) each encoder codes reliably: x265 refuses frames under 16 × 16
#: and is not deterministic on frames one coding tree unit wide (:func:`x265_ctu`), whose smallest
#: size is 16, so its frames are at least 18 wide.
MIN_SIZE: dict[str, tuple[int, int]] = {"h264": (2, 2), "h265": (16, 18)}
#: NAL unit types of SEI in each codec (H.264: 6; H.265: prefix 39, suffix 40).
SEI_TYPES: dict[str, tuple[int, ...]] = {"h264": (6,), "h265": (39, 40)}
#: what the decoders call 8-bit 4:2:0 (``yuvj420p``: the same planes, flagged full range).
YUV420 = ("yuv420p", "yuvj420p")
#: the SEI payload type "user data unregistered" (encoder version / settings strings).
USER_DATA_UNREGISTERED = 5


class VideoCodecError(ValueError):
    """A clip the codec cannot code, or bytes that do not decode to the expected clip."""


def _codec(codec: str) -> tuple[str, str]:
    try:
        return VIDEO_CODECS[codec]
    except KeyError:
        raise ValueError(
            f"video codec must be one of {', '.join(VIDEO_CODECS)}, got {codec!r}"
        ) from None


def frame_size_refusal(codec: str, height: int, width: int) -> str | None:
    """Why ``codec`` cannot code ``height`` × ``width`` frames, or ``None`` if it can: 4:2:0
    halves the chroma planes, so both sides must be even; x265 needs frames of at least 16 high
    and 18 wide (:data:`MIN_SIZE`)."""
    _codec(codec)
    if height % 2 or width % 2:
        return (
            f"{codec} codes 4:2:0 (yuv420p), whose chroma planes are half the frame size, so "
            f"the frame height and width must be even; got {height}x{width}"
        )
    low_h, low_w = MIN_SIZE[codec]
    if height < low_h or width < low_w:
        why = (
            " (x265 is not deterministic on frames one 16-pixel CTU wide)"
            if codec == "h265"
            else ""
        )
        return f"{codec} needs frames of at least {low_h}x{low_w} (HxW){why}; got {height}x{width}"
    return None


def x265_ctu(height: int, width: int) -> int:
    """The coding tree unit size x265 gets for ``height`` × ``width`` frames: the largest of 64,
    32, 16 that fits in the frame (x265 refuses a larger one) and leaves at least two CTU columns.

    On a frame one CTU wide, x265 4.2's inter analysis reads uninitialised memory (valgrind:
    merge candidates in ``Analysis::checkMerge2Nx2N_rd0_4`` → ``Quant::transformNxN``): the same
    clip gives different streams from run to run, some with corrupted blocks (a textured,
    panning 32 × 32 clip decoded at 15-22 dB PSNR, varying by run, instead of 22.6; x265's own
    choice there is a 32 CTU, one column). Two columns or more make it deterministic (tested
    from 16 × 18 to 128 × 128, square and not; ``asm=0`` or turning off SAO, deblocking, merge
    or temporal MV prediction did not help).

    >>> x265_ctu(32, 32), x265_ctu(16, 64), x265_ctu(64, 64), x265_ctu(72, 72)
    (16, 16, 32, 64)
    """
    for ctu in (64, 32, 16):
        if ctu <= min(height, width) and ctu < width:
            return ctu
    return 16


# ----------------------------------------------------------------------------- colour
def _as_ctwh_uint8(clip: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(clip, torch.Tensor):
        if clip.dtype != torch.uint8:
            raise TypeError(f"clip must be uint8, got {clip.dtype}")
        clip = clip.detach().cpu().numpy()
    if not isinstance(clip, np.ndarray) or clip.dtype != np.uint8:
        raise TypeError("clip must be a uint8 tensor or array [C, T, H, W]")
    if clip.ndim != 4 or clip.shape[0] not in (1, 3) or min(clip.shape[1:]) < 1:
        raise ValueError(f"clip must have shape [C, T, H, W] with C in {{1, 3}}, got {clip.shape}")
    return clip


def _round_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _upsample2(plane: np.ndarray, axis: int) -> np.ndarray:
    """Double ``axis`` with the centred triangle filter (bilinear, samples between the pixel
    pairs): output ``2k`` = ¾ x[k] + ¼ x[k-1], ``2k+1`` = ¾ x[k] + ¼ x[k+1], edges repeated."""
    n = plane.shape[axis]
    pad = [(0, 0)] * plane.ndim
    pad[axis] = (1, 1)
    x = np.pad(plane, pad, mode="edge")
    centre = np.take(x, range(1, n + 1), axis=axis)
    before = np.take(x, range(0, n), axis=axis)
    after = np.take(x, range(2, n + 2), axis=axis)
    out = np.stack([0.75 * centre + 0.25 * before, 0.75 * centre + 0.25 * after], axis=axis + 1)
    shape = list(plane.shape)
    shape[axis] = 2 * n
    return out.reshape(shape)


def clip_to_yuv420(clip: torch.Tensor | np.ndarray) -> np.ndarray:
    """uint8 ``[C, T, H, W]`` → ``[T, 3H/2, W]`` uint8 frames in PyAV's packed yuv420p layout (Y
    plane, then U and V, each ``H/2 × W/2``, row after row): full-range BT.601 (JFIF), chroma the
    rounded mean of 2 × 2 blocks; grey → its plane as Y with U = V = 128. (numpy, one thread:
    a clip takes well under a millisecond.)"""
    clip = _as_ctwh_uint8(clip)
    c, t, h, w = clip.shape
    if h % 2 or w % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {h}x{w}")
    if c == 1:
        y = clip[0]
        u = v = np.full((t, h // 2, w // 2), 128, dtype=np.uint8)
    else:
        r, g, b = clip.astype(np.float32)
        y = _round_u8(0.299 * r + 0.587 * g + 0.114 * b)
        cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
        cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
        u, v = (_round_u8(p.reshape(t, h // 2, 2, w // 2, 2).mean(axis=(2, 4))) for p in (cb, cr))
    frames = np.concatenate([y.reshape(t, -1), u.reshape(t, -1), v.reshape(t, -1)], axis=1)
    return frames.reshape(t, h * 3 // 2, w)


def yuv420_to_clip(frames: np.ndarray, channels: int) -> torch.Tensor:
    """The inverse of :func:`clip_to_yuv420`: ``[T, 3H/2, W]`` → uint8 ``[channels, T, H, W]``
    (grey: the Y plane; RGB: chroma upsampled bilinearly, centred, then BT.601 full range)."""
    t, rows, w = frames.shape
    h = rows * 2 // 3
    flat = np.ascontiguousarray(frames).reshape(t, -1)
    y = flat[:, : h * w].reshape(t, h, w)
    if channels == 1:
        return torch.from_numpy(y[None].copy())
    chroma = flat[:, h * w :].reshape(t, 2, h // 2, w // 2).astype(np.float32)
    up = _upsample2(_upsample2(chroma, 2), 3)
    cb, cr = up[:, 0] - 128.0, up[:, 1] - 128.0
    yf = y.astype(np.float32)
    rgb = np.stack([yf + 1.402 * cr, yf - 0.344136 * cb - 0.714136 * cr, yf + 1.772 * cb])
    return torch.from_numpy(_round_u8(rgb))


# ----------------------------------------------------------------------------- NAL units
@dataclass(frozen=True)
class NalUnit:
    """One NAL unit of an Annex-B stream: ``stream[start:end]`` is its start code (3 or 4 bytes)
    and its bytes; ``header`` is where the NAL header begins."""

    start: int
    header: int
    end: int
    kind: int

    def size(self) -> int:
        """Bytes on the wire, start code included."""
        return self.end - self.start


def nal_units(stream: bytes, codec: str) -> list[NalUnit]:
    """Split an Annex-B stream at its start codes (``00 00 01``, with the zero byte before it a
    4-byte start code's); NAL types are H.264's 5 bits or H.265's 6. Bytes before the first start
    code, if any, are not a NAL unit and are not listed."""
    _codec(codec)
    starts = []
    i = stream.find(b"\x00\x00\x01")
    while i >= 0:
        starts.append(i)
        i = stream.find(b"\x00\x00\x01", i + 3)
    units: list[NalUnit] = []
    for k, i in enumerate(starts):
        begin = i - 1 if i > 0 and stream[i - 1] == 0 else i
        if k and units[-1].end > begin:  # the zero byte belongs to this start code
            units[-1] = NalUnit(units[-1].start, units[-1].header, begin, units[-1].kind)
        header = i + 3
        end = starts[k + 1] if k + 1 < len(starts) else len(stream)
        first = stream[header] if header < len(stream) else 0
        kind = first & 0x1F if codec == "h264" else (first >> 1) & 0x3F
        units.append(NalUnit(begin, header, end, kind))
    return units


def _sei_payload_type(stream: bytes, unit: NalUnit, codec: str) -> int | None:
    """The payload type of the first SEI message of ``unit`` (``None`` if it has none)."""
    i = unit.header + (1 if codec == "h264" else 2)
    value = 0
    while i < unit.end and stream[i] == 0xFF:
        value += 255
        i += 1
    return value + stream[i] if i < unit.end else None


def strip_encoder_info(stream: bytes, codec: str) -> bytes:
    """``stream`` without the SEI NAL units whose first message is "user data unregistered"
    (payload type 5: x264's version and settings string); everything else byte for byte."""
    sei = SEI_TYPES[codec]
    units = nal_units(stream, codec)
    kept = [
        stream[u.start : u.end]
        for u in units
        if u.kind not in sei or _sei_payload_type(stream, u, codec) != USER_DATA_UNREGISTERED
    ]
    prefix = stream[: units[0].start] if units else stream
    return prefix + b"".join(kept)


# ----------------------------------------------------------------------------- coding
def _encoder(
    codec: str, height: int, width: int, frames: int, crf: int, preset: str
) -> VideoCodecContext:
    import av

    encoder_name, _ = _codec(codec)
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    if not 0 <= crf <= 51:
        raise ValueError(f"crf must be in 0..51, got {crf}")
    if (why := frame_size_refusal(codec, height, width)) is not None:
        raise VideoCodecError(why)
    ctx = cast("VideoCodecContext", av.CodecContext.create(encoder_name, "w"))
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = fractions.Fraction(1, FRAME_RATE)
    ctx.framerate = fractions.Fraction(FRAME_RATE, 1)
    ctx.gop_size = max(frames, 1)  # one GOP: the only key frame is frame 0
    ctx.max_b_frames = 0
    ctx.thread_count = 1
    ctx.color_range = 2  # AVCOL_RANGE_JPEG: full range, as clip_to_yuv420 writes it
    options = {"preset": preset, "tune": "zerolatency", "crf": str(crf)}
    if codec == "h264":
        options["x264-params"] = "scenecut=0"
    else:
        options["x265-params"] = (
            f"scenecut=0:info=0:pools=none:frame-threads=1:log-level=error:"
            f"ctu={x265_ctu(height, width)}"
        )
    ctx.options = options
    return ctx


def encode_clip(
    clip: torch.Tensor | np.ndarray,
    codec: str,
    crf: int = 28,
    preset: str = "veryfast",
    *,
    keep_encoder_info: bool = False,
) -> bytes:
    """Code a uint8 clip ``[C, T, H, W]`` as one GOP (module docstring) and return the
    elementary stream, encoder-info SEI removed (kept with ``keep_encoder_info``, to measure
    it)."""
    import av

    frames = clip_to_yuv420(clip)
    t, rows, w = frames.shape
    ctx = _encoder(codec, rows * 2 // 3, w, t, crf, preset)
    out = bytearray()
    for i, frame in enumerate(frames):
        picture = av.VideoFrame.from_ndarray(frame, format="yuv420p")
        picture.pts = i
        picture.color_range = 2
        for packet in ctx.encode(picture):
            out += bytes(packet)
    for packet in ctx.encode(None):
        out += bytes(packet)
    return bytes(out) if keep_encoder_info else strip_encoder_info(bytes(out), codec)


def _frames(ctx: VideoCodecContext, stream: bytes) -> Iterator[VideoFrame]:
    for packet in [*ctx.parse(stream), *ctx.parse(None)]:
        yield from ctx.decode(packet)
    yield from ctx.decode(None)


def decode_clip(stream: bytes, codec: str, shape: tuple[int, int, int, int]) -> torch.Tensor:
    """Decode an elementary stream to the uint8 clip of ``shape`` ``(C, T, H, W)``.

    Raises :class:`VideoCodecError` when the decoder fails or reports an error in the bitstream
    (``err_detect=explode``: the link delivers bytes intact, so any damage is a broken sender),
    or when the stream does not hold exactly ``T`` 4:2:0 pictures of ``H`` × ``W`` (the decoder
    refuses pictures of more than ``(H + 64)·(W + 64)`` pixels before allocating them,
    ``max_pixels``, so junk declaring huge pictures costs no memory; the exact size and count are
    checked as each picture comes out).
    """
    import av

    _, decoder_name = _codec(codec)
    channels, t, h, w = shape
    if not isinstance(stream, (bytes, bytearray, memoryview)):
        raise TypeError(f"stream must be bytes, got {type(stream).__name__}")
    ctx = cast("VideoCodecContext", av.CodecContext.create(decoder_name, "r"))
    ctx.thread_count = 1
    # max_pixels: a stream declaring larger pictures fails before the decoder allocates them (the
    # decoders check their padded buffers: line stride aligned to 64, heights to coding blocks)
    limit = (h + 64) * (w + 64)
    ctx.options = {"err_detect": "crccheck+bitstream+buffer+explode", "max_pixels": str(limit)}
    pictures: list[np.ndarray] = []
    try:
        for picture in _frames(ctx, bytes(stream)):
            if (picture.width, picture.height) != (w, h) or picture.format.name not in YUV420:
                raise VideoCodecError(
                    f"{codec} stream holds a {picture.width}x{picture.height} "
                    f"{picture.format.name} picture; expected {w}x{h} yuv420p"
                )
            if len(pictures) == t:
                raise VideoCodecError(f"{codec} stream holds more than the {t} pictures expected")
            pictures.append(picture.to_ndarray())
    except av.FFmpegError as exc:
        raise VideoCodecError(f"{codec} stream does not decode: {exc}") from exc
    if len(pictures) != t:
        raise VideoCodecError(f"{codec} stream holds {len(pictures)} pictures, expected {t}")
    return yuv420_to_clip(np.stack(pictures), channels)


def max_stream_bytes(codec: str, shape: tuple[int, ...]) -> int:
    """An upper bound on the bytes :func:`encode_clip` writes for a clip of ``shape`` ``(C, T,
    H, W)``, whatever its pixels and ``crf``: what an edge expects at most and refuses beyond,
    before decoding. Twice the 4:2:0 samples of each frame padded to 16 × 16 macroblocks, plus 64
    bytes of NAL and slice headers per frame and 4 KiB of parameter sets. Lossless (``crf`` 0)
    uniform noise, the worst case, writes at most 0.85× that (tested in
    ``tests/systems/test_offload_video.py``)."""
    _codec(codec)
    _, t, h, w = shape
    padded = math.ceil(h / 16) * 16 * math.ceil(w / 16) * 16
    return t * (2 * (padded * 3 // 2) + 64) + 4096
