"""The payload a model accepts: tensor shapes (fixed, or variable within bounds), chunks, params.

A :class:`PayloadLayout` is what a payload-decoding system declares
(``system.payload_layout()``) and what the edge server enforces before any model sees the bytes:
the system name, one shape per tensor whose dimensions are exact sizes or :class:`Dim` ranges
(e.g. the number of frames a clip kept, ``Dim(1, T)``), the number of chunks with the byte length
each may have (``chunk_bytes``: ``Dim(low, high)`` or an exact length; e.g. an entropy-coded body
is at most as long as the longest stream its model can write for the shape, so a body of junk up
to the request limit is refused before it reaches a decoder), and parameters whose values must
match (e.g. the quantiser's bits). :meth:`PayloadLayout.check` raises
:class:`~semcom.coding.payload.PayloadError` naming the first mismatch; ``Payload.from_bytes(...,
layout=...)`` applies it while parsing.

>>> layout = PayloadLayout("clip-codec", ((Dim(1, 8), 4, 4),), chunks=1, params={"b": 2})
>>> layout.max_elements
128
>>> from semcom.coding.payload import Payload
>>> layout.check(Payload("clip-codec", ((3, 4, 4),), {"b": 2}, (b"",)))
>>> layout.check(Payload("clip-codec", ((9, 4, 4),), {"b": 2}, (b"",)))
Traceback (most recent call last):
...
semcom.coding.payload.PayloadError: tensor 0 dimension 0 is 9, allowed 1..8
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from semcom.coding.payload import Payload, PayloadError


@dataclass(frozen=True)
class Dim:
    """A variable dimension: any size in ``low .. high`` (inclusive)."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ValueError(f"Dim needs 0 <= low <= high, got {self.low}..{self.high}")

    def to_json(self) -> dict[str, int]:
        return {"min": self.low, "max": self.high}


DimSpec = int | Dim


@dataclass(frozen=True)
class PayloadLayout:
    """What payloads a model accepts (module docstring)."""

    system: str
    shapes: tuple[tuple[DimSpec, ...], ...]
    chunks: int
    params: Mapping[str, int | float] = field(default_factory=dict)
    #: what each parameter is, in words, for error messages (e.g. ``{"b": "quantiser bits"}``).
    labels: Mapping[str, str] = field(default_factory=dict)
    #: byte length each chunk may have (exact, a ``Dim`` range, or ``None``: any), in order.
    chunk_bytes: tuple[DimSpec | None, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "shapes", tuple(tuple(s) for s in self.shapes))
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "labels", dict(self.labels))
        object.__setattr__(self, "chunk_bytes", tuple(self.chunk_bytes))
        if len(self.chunk_bytes) > self.chunks:
            raise ValueError(f"{len(self.chunk_bytes)} chunk bounds for {self.chunks} chunk(s)")

    @property
    def max_elements(self) -> int:
        """Largest element count of one tensor any accepted payload can carry."""
        return max(
            (math.prod(d.high if isinstance(d, Dim) else d for d in s) for s in self.shapes),
            default=0,
        )

    @property
    def fixed(self) -> bool:
        """Whether every dimension is an exact size."""
        return not any(isinstance(d, Dim) for s in self.shapes for d in s)

    def mismatch(self, payload: Payload) -> str | None:
        """Why ``payload`` does not fit this layout, or ``None``."""
        if payload.system != self.system:
            return f"payload is for system {payload.system!r}, not {self.system!r}"
        if len(payload.shapes) != len(self.shapes):
            return (
                f"payload has {len(payload.shapes)} tensor(s), this model takes "
                f"{len(self.shapes)}: {self.shapes_json()}"
            )
        for t, (got, want) in enumerate(zip(payload.shapes, self.shapes, strict=True)):
            if len(got) != len(want):
                return f"tensor {t} has shape {list(got)}, this model takes {self.shapes_json()[t]}"
            for d, (size, spec) in enumerate(zip(got, want, strict=True)):
                if isinstance(spec, Dim):
                    if not spec.low <= size <= spec.high:
                        return (
                            f"tensor {t} dimension {d} is {size}, allowed {spec.low}..{spec.high}"
                        )
                elif size != spec:
                    return (
                        f"payload shapes {[list(s) for s in payload.shapes]} do not match this "
                        f"model's {self.shapes_json()}"
                    )
        if len(payload.chunks) != self.chunks:
            return f"expected {self.chunks} chunk(s), payload has {len(payload.chunks)}"
        for c, (chunk, bound) in enumerate(zip(payload.chunks, self.chunk_bytes, strict=False)):
            if isinstance(bound, Dim) and not bound.low <= len(chunk) <= bound.high:
                return (
                    f"chunk {c} has {len(chunk)} bytes; this model's are {bound.low}.."
                    f"{bound.high} bytes"
                )
            if isinstance(bound, int) and len(chunk) != bound:
                return f"chunk {c} has {len(chunk)} bytes; this model's has {bound}"
        for key, want_value in self.params.items():
            got_value = payload.params.get(key)
            if got_value != want_value:
                what = f"{self.labels[key]} " if key in self.labels else ""
                return f"payload {what}{key}={got_value} != model's {want_value}"
        return None

    def check(self, payload: Payload) -> None:
        """Raise :class:`PayloadError` unless ``payload`` fits."""
        why = self.mismatch(payload)
        if why is not None:
            raise PayloadError(why)

    def shapes_json(self) -> list[list[Any]]:
        return [[d.to_json() if isinstance(d, Dim) else d for d in s] for s in self.shapes]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "system": self.system,
            "shapes": self.shapes_json(),
            "params": dict(self.params),
            "chunks": self.chunks,
        }
        if self.chunk_bytes:
            out["chunk_bytes"] = [
                b.to_json() if isinstance(b, Dim) else b for b in self.chunk_bytes
            ]
        return out
