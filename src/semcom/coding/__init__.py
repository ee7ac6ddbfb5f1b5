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
from semcom.coding.payload import Payload, PayloadError
from semcom.coding.quantizer import UniformQuantizer

__all__ = [
    "IMAGE_CODECS",
    "CategoricalCoder",
    "CodingError",
    "Dim",
    "FactorizedEntropyModel",
    "ImageCodecError",
    "Payload",
    "PayloadError",
    "PayloadLayout",
    "UniformQuantizer",
    "decode_image",
    "decode_images",
    "encode_image",
    "encode_images",
    "quantize_pmf",
]
