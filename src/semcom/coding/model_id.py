"""A stored model's identifier: the first bytes of a hash of what decoding depends on.

The compact payload form (:mod:`semcom.coding.compact`) names the model it was coded for by an
identifier agreed at deployment instead of spelling out the system, shapes and parameters. The
identifier is derived from the stored model itself, so a device and a server holding the same
stored file agree on it without coordination, and a retrained or re-parameterised model gets
another one:

    fingerprint = SHA-256 over  b"semcom-model/1", the system name, its parameters as canonical
                  JSON (sorted keys, no spaces), then per state-dict entry in name order: the
                  name, the dtype, the shape and the raw little-endian bytes of the values
    model id    = the first :data:`MODEL_ID_BYTES` bytes of the fingerprint

Four bytes make an accidental collision among ``n`` models about ``n**2 / 2**33`` likely (one in
86 million for two models, one in 860 for 100); the server refuses to serve two models with one
identifier (:mod:`semcom.runtime.catalog`) instead of guessing.

>>> import torch
>>> a = model_id("aecnn", {"k": 2}, {"w": torch.zeros(3)})
>>> len(a), a == model_id("aecnn", {"k": 2}, {"w": torch.zeros(3)})
(4, True)
>>> a == model_id("aecnn", {"k": 4}, {"w": torch.zeros(3)})
False
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import torch

#: bytes of the fingerprint a compact payload carries.
MODEL_ID_BYTES = 4
_DOMAIN = b"semcom-model/1"


def _field(h: Any, raw: bytes) -> None:
    """Length-prefixed, so that no two different field sequences hash the same bytes."""
    h.update(len(raw).to_bytes(8, "little"))
    h.update(raw)


def model_fingerprint(
    system: str, params: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]
) -> bytes:
    """SHA-256 (32 bytes) of ``system``, ``params`` (JSON-able) and the named ``tensors`` (the
    state dict: weights, buffers, coding tables), as the module docstring defines it."""
    h = hashlib.sha256()
    _field(h, _DOMAIN)
    _field(h, system.encode())
    _field(h, json.dumps(dict(params), sort_keys=True, separators=(",", ":")).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        _field(h, name.encode())
        _field(h, str(t.dtype).encode())
        _field(h, json.dumps(list(t.shape)).encode())
        _field(h, t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.digest()


def model_id(system: str, params: Mapping[str, Any], tensors: Mapping[str, torch.Tensor]) -> bytes:
    """The first :data:`MODEL_ID_BYTES` bytes of :func:`model_fingerprint`."""
    return model_fingerprint(system, params, tensors)[:MODEL_ID_BYTES]
