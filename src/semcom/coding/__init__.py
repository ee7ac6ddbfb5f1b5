"""semcom.coding: from float features to bytes on the wire, and back.

* :class:`UniformQuantizer` — bounded uniform quantiser, ``2**bits`` symbols (symbol domain
  ``[0, L-1]``), noise / straight-through / hard modes.
* :class:`FactorizedEntropyModel` — learned per-channel density over that finite alphabet;
  differentiable rate estimate, integer coding tables (state-dict buffers), ``compress`` /
  ``decompress`` with ANS.
* :mod:`semcom.coding.ans` — ANS over integer tables via constriction, bit-exact across machines.
* :class:`Payload` / :class:`PayloadError` — the versioned, CRC-protected byte container a device
  sends for one sample; :class:`PayloadLayout` (with :class:`Dim` for variable dimensions) — the
  payloads a model accepts.
* :class:`WireCodec` — one model's payloads as bytes: the compact form (:mod:`.compact`, a
  4-byte model identifier from :mod:`.model_id` instead of names and shapes, 7-9 header bytes)
  or the self-describing one; decoding takes both.
* :mod:`semcom.coding.image_codecs` — PNG / JPEG / WebP (Pillow) for offloading baselines.
"""

from semcom.coding.ans import CategoricalCoder, CodingError
from semcom.coding.entropy_model import FactorizedEntropyModel, quantize_pmf
from semcom.coding.image_codecs import (
    IMAGE_CODECS,
    ImageCodecError,
    decode_image,
    decode_images,
    encode_image,
    encode_images,
)
from semcom.coding.layout import Dim, PayloadLayout
from semcom.coding.model_id import MODEL_ID_BYTES, model_id
from semcom.coding.payload import Payload, PayloadError
from semcom.coding.quantizer import UniformQuantizer
from semcom.coding.wire import WIRE_FORMS, WireCodec, WireForm

__all__ = [
    "IMAGE_CODECS",
    "MODEL_ID_BYTES",
    "WIRE_FORMS",
    "CategoricalCoder",
    "CodingError",
    "Dim",
    "FactorizedEntropyModel",
    "ImageCodecError",
    "Payload",
    "PayloadError",
    "PayloadLayout",
    "UniformQuantizer",
    "WireCodec",
    "WireForm",
    "decode_image",
    "decode_images",
    "encode_image",
    "encode_images",
    "model_id",
    "quantize_pmf",
]
