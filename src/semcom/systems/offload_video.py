"""Video offloading baselines: the device codes the clip with H.264 or H.265, the edge runs the
whole network on what it decodes.

* ``offload-h264`` — x264 (PyAV's ``libx264``),
* ``offload-h265`` — x265 (``libx265``),

each at a constant rate factor ``crf`` (0 .. 51, smaller is better; x264's 0 is lossless, x265's
its finest quantiser; default 28, x265's default) and an encoder ``preset`` (default
``veryfast``). The clip (uint8 ``[C, T, H, W]``, ``C`` 1 or 3, even ``H`` and ``W``; x265 at
least 16 × 18) is coded as **one GOP per clip** — frame 0 an IDR picture, the rest P pictures, no
B-frames — with ``tune=zerolatency`` (no look-ahead, no frame threads: each frame leaves the
encoder as soon as it is coded, as a live low-latency sender works), 8-bit 4:2:0. Grey clips are
coded as the luma plane with flat chroma and decoded from luma alone; RGB is converted with the
full-range BT.601 matrix of JPEG. The frame rate in the stream is nominal (25 fps); nothing
depends on it. :mod:`semcom.coding.video_codecs` has the codec side.

The payload body is the **raw elementary stream** — Annex-B NAL units as the encoder writes its
packets, parameter sets in band, no container — so the bits counted are what a low-latency sender
transmits. x264's SEI with its version and settings string (594 bytes on the wire; no encoder
option turns it off) is removed before sending; x265's (2 321 bytes) is switched off
(``info=0``). What is left besides the pictures, at 32 × 32: H.264 SPS + PPS 34-35 bytes, H.265
VPS + SPS + PPS 80 bytes (start codes included). A moving sprite of 16 frames of 32 × 32 RGB (the
clip of ``tests/systems/test_offload_video.py``; raw 49 152 bytes) costs, with ``veryfast``
(PSNR of the decoded clip in brackets; 4:2:0 alone limits it to 30.1 dB on this clip's saturated
colours):

=======  ======================  ======================  ======================
codec    crf 18                  crf 28                  crf 38
=======  ======================  ======================  ======================
H.264    1 707 bytes (29.8 dB)   747 bytes (28.5 dB)     490 bytes (26.2 dB)
H.265    1 842 bytes (29.9 dB)   929 bytes (29.2 dB)     616 bytes (27.3 dB)
=======  ======================  ======================  ======================

and its grey version 1 076 / 622 / 329 bytes (H.264), 1 379 / 732 / 447 bytes (H.265).

``veryfast`` rather than ``ultrafast``: it is the usual preset of live low-latency streaming and
keeps the tools a real sender uses (CABAC, sub-pixel motion search, the deblocking filter,
psychovisual rate-distortion and adaptive quantisation), at a cost of a millisecond or two per
clip here. Low latency comes from ``tune=zerolatency``, not from the preset. It does not win on
PSNR everywhere: ``veryfast``'s psychovisual tools trade PSNR for perceived detail, and x264
``ultrafast`` (none of them) reaches a higher PSNR at the same bytes at low rates (sprite at crf
38: 521 bytes, 27.0 dB vs ``veryfast``'s 490 bytes, 26.2 dB), while ``veryfast`` is ahead at
high rates (1 128 bytes, 29.4 dB vs 1 054 bytes, 29.2 dB). ``preset`` is a parameter, so a sweep
can run both. It changes the bytes the device writes, not how the edge decodes them, so it is no
payload parameter; ``crf`` is (``{"crf": ...}``, as the image baselines carry their quality).

As the image offloading baselines (:mod:`semcom.systems.offload`), the device runs no network
(``device_flops = 0``; the codec's time is in ``measured_s``) and the edge runs the experiment's
shared backbone — a video backbone taking clips ``[B, C, T, H, W]`` (``video-vit``) — head and
tail, trained on clean clips and evaluated on decoded ones. The edge refuses a body that does not
decode to exactly ``T`` pictures of ``H × W`` (:class:`~semcom.coding.PayloadError`); a body is at
most :func:`~semcom.coding.video_codecs.max_stream_bytes`. Ratios: video's convention is the raw
uint8 clip's bits per payload bit, ``8·C·T·H·W / payload bits`` (what the payload transport
reports for clip inputs); the split is the input, so the float32-at-split figure beside it
(``split_elements() = C·T·H·W``) is four times that.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from semcom.coding import PayloadError
from semcom.coding.layout import Dim, DimSpec
from semcom.coding.video_codecs import (
    VIDEO_CODECS,
    VideoCodecError,
    decode_clip,
    encode_clip,
    frame_size_refusal,
    max_stream_bytes,
)
from semcom.systems.base import SystemParams
from semcom.systems.offload import _Offload
from semcom.systems.registry import SystemConfigError, register_system

Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"]


class VideoParams(SystemParams):
    """H.264 / H.265 rate factor and encoder preset."""

    crf: int = Field(28, ge=0, le=51, description="constant rate factor, 0 (lossless) .. 51")
    preset: Preset = Field(
        "veryfast", description="encoder speed preset (x264 / x265 names); zerolatency always"
    )


class _OffloadVideo(_Offload):
    """Shared body of the video baselines: :class:`_Offload` with a clip codec per sample."""

    Params = VideoParams
    params: VideoParams
    codec: ClassVar[str] = "h264"
    quality_key = "crf"
    quality_label = "constant rate factor"
    contract_params = ({"crf": 28},)
    contract_input_shape = (3, 4, 16, 16)

    def build_network(self) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
        shape = tuple(self.ctx.input_shape)
        if len(shape) != 4 or shape[0] not in (1, 3):
            raise SystemConfigError(
                f"{self.name} takes grey or RGB clips (C, T, H, W) with C 1 or 3; the data's "
                f"input_shape is {list(shape)}"
            )
        _, _, h, w = shape
        if (why := frame_size_refusal(self.codec, h, w)) is not None:
            raise SystemConfigError(
                f"{self.name}: the data's frame size (input_shape H x W = {h}x{w}) cannot be "
                f"coded: {why}; crop or pad the clips"
            )
        return super().build_network()

    def export_refusal(self) -> str:
        encoder = VIDEO_CODECS[self.codec][0]
        return (
            f"the device runs no network; it codes the clip as {self.codec.upper()} with "
            f"{encoder} (PyAV), which is not an ONNX operator"
        )

    def _quality(self) -> int:
        return self.params.crf

    def _encode_one(self, img: torch.Tensor) -> bytes:
        return encode_clip(img, self.codec, self.params.crf, self.params.preset)

    def _decode_one(self, body: bytes) -> torch.Tensor:
        try:
            return decode_clip(body, self.codec, self.image_shape)  # type: ignore[arg-type]
        except VideoCodecError as exc:
            raise PayloadError(f"{self.codec} body: {exc}") from exc

    def _body_bound(self) -> DimSpec:
        return Dim(0, max_stream_bytes(self.codec, self.image_shape))


@register_system("offload-h264")
class OffloadH264(_OffloadVideo):
    """Send the clip as an H.264 elementary stream (x264), one GOP, at ``crf``."""

    codec = "h264"


@register_system("offload-h265")
class OffloadH265(_OffloadVideo):
    """Send the clip as an H.265 elementary stream (x265), one GOP, at ``crf``; frames at least
    16 high and 18 wide (x265 is not deterministic on frames one 16-pixel CTU wide)."""

    codec = "h265"
    contract_input_shape = (3, 4, 16, 32)
