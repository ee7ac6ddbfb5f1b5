"""Input-offloading baselines: the device sends the image, the edge runs the whole network.

* ``offload-raw`` — the uint8 pixels as they are (``C·H·W`` bytes),
* ``offload-png`` — lossless PNG,
* ``offload-jpeg`` / ``offload-webp`` — lossy, at ``quality`` 1..100.

The device runs no network (``device_flops = 0``; the codec's own time is in ``measured_s``), the
edge runs head + tail. The network is the experiment's shared backbone, trained on clean images and
evaluated on what the codec delivers — as a deployed offloading system would be. The compression
ratio follows DESIGN.md: the split is the input, so it is ``32·C·H·W / payload bits``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from pydantic import Field

from semcom.coding import Payload, PayloadError, PayloadLayout, decode_image, encode_image
from semcom.coding.image_codecs import ImageCodecError, float_to_uint8, max_file_bytes
from semcom.coding.layout import Dim, DimSpec
from semcom.systems.base import SystemParams
from semcom.systems.edge_model import WholeModelAtEdge
from semcom.systems.registry import register_system


class RawParams(SystemParams):
    """``offload-raw`` and ``offload-png`` have no parameters."""


class LossyParams(SystemParams):
    """JPEG / WebP quality."""

    quality: int = Field(75, ge=1, le=100, description="codec quality, 1 (smallest) .. 100")


class _Offload(WholeModelAtEdge):
    """Shared body: the whole backbone at the edge; subclasses say how pixels become bytes."""

    codec: ClassVar[str] = "raw"
    #: the payload parameter that carries the codec setting, and what it is in words.
    quality_key: ClassVar[str] = "q"
    quality_label: ClassVar[str] = "codec quality"

    def export_refusal(self) -> str:
        if self.codec == "raw":
            return "the device runs no network; it sends the raw pixels"
        return (
            f"the device runs no network; it codes the image as {self.codec.upper()} with "
            "Pillow, which is not an ONNX operator"
        )

    def _quality(self) -> int | None:
        return getattr(self.params, "quality", None)

    def _encode_one(self, img: torch.Tensor) -> bytes:
        if self.codec == "raw":
            return img.contiguous().numpy().tobytes()
        return encode_image(img, self.codec, self._quality())

    def _decode_one(self, body: bytes) -> torch.Tensor:
        if self.codec == "raw":  # an image or a clip: its uint8 samples in order
            size = math.prod(self.image_shape)
            if len(body) != size:
                raise PayloadError(f"raw input body has {len(body)} bytes, expected {size}")
            return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(self.image_shape)
        c, h, w = self.image_shape
        try:
            img = decode_image(body, channels=c, max_pixels=h * w)
        except ImageCodecError as exc:
            raise PayloadError(f"{self.codec} body: {exc}") from exc
        if tuple(img.shape) != self.image_shape:
            raise PayloadError(f"decoded image {tuple(img.shape)} != expected {self.image_shape}")
        return img

    @torch.no_grad()
    def device_encode(self, x: torch.Tensor) -> list[Payload]:
        pixels = float_to_uint8(x).cpu()
        params = self._payload_params()
        return [
            Payload(self.name, (self.image_shape,), dict(params), (self._encode_one(img),))
            for img in pixels
        ]

    def _payload_params(self) -> dict[str, int]:
        quality = self._quality()
        return {self.quality_key: quality} if quality is not None else {}

    def _body_bound(self) -> DimSpec:
        """The body's byte length: raw pixels exactly ``C·H·W``; a coded image at most what the
        encoder can write."""
        if self.codec == "raw":
            return math.prod(self.image_shape)
        return Dim(0, max_file_bytes(self.codec, self.image_shape))

    def payload_layout(self) -> PayloadLayout:
        return PayloadLayout(
            self.name,
            (self.image_shape,),
            1,
            self._payload_params(),
            {self.quality_key: self.quality_label},
            chunk_bytes=(self._body_bound(),),
        )

    @torch.no_grad()
    def edge_decode(self, payloads: Sequence[Payload]) -> torch.Tensor:
        for p in payloads:
            self.check_payload(p)
        images = torch.stack([self._decode_one(p.chunks[0]) for p in payloads])
        return self.tail(self.head(images.to(self.model_device).float() / 255.0))


@register_system("offload-raw")
class OffloadRaw(_Offload):
    """Send the uint8 pixels unchanged."""

    Params = RawParams
    codec = "raw"


@register_system("offload-png")
class OffloadPNG(_Offload):
    """Send a lossless PNG."""

    Params = RawParams
    codec = "png"


@register_system("offload-jpeg")
class OffloadJPEG(_Offload):
    """Send a JPEG at ``quality``."""

    Params = LossyParams
    contract_params = ({"quality": 50},)
    codec = "jpeg"


@register_system("offload-webp")
class OffloadWebP(_Offload):
    """Send a lossy WebP at ``quality``."""

    Params = LossyParams
    codec = "webp"
