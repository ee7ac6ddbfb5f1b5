"""What one model's payloads look like on the wire: the compact or the self-describing form.

A :class:`WireCodec` holds a model's :class:`~semcom.coding.PayloadLayout` and identifier and
turns its :class:`~semcom.coding.Payload` objects into bytes and back:

* ``form="compact"`` (the default): the compact form (:mod:`semcom.coding.compact`, 7–9 header
  bytes) when the layout has one, else the self-describing form;
* ``form="self-describing"``: always the self-describing form (:mod:`semcom.coding.payload`,
  system name, shapes and parameters spelled out; 30-odd header bytes).

Decoding accepts either form (the first byte tells them apart), so a server takes both.

>>> import torch
>>> from semcom.coding import Payload, PayloadLayout
>>> layout = PayloadLayout("toy", ((2, 2),), 1, {"b": 2})
>>> codec = WireCodec(layout, bytes(4))
>>> wire = codec.encode(Payload("toy", ((2, 2),), {"b": 2}, (b"abc",)))
>>> len(wire), codec.decode(wire).chunks
(10, (b'abc',))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from semcom.coding.compact import compact_refusal, from_compact_bytes, is_compact, to_compact_bytes
from semcom.coding.layout import PayloadLayout
from semcom.coding.payload import DEFAULT_MAX_BYTES, Payload

#: the two wire forms (config ``eval.header``).
WireForm = Literal["compact", "self-describing"]
WIRE_FORMS: tuple[str, ...] = ("compact", "self-describing")


@dataclass(frozen=True)
class WireCodec:
    """One model's payload bytes (module docstring).

    Attributes:
        layout: the payloads the model decodes.
        model_id: its identifier (:func:`semcom.coding.model_id.model_id`, 4 bytes).
        form: the form :meth:`encode` writes where the layout allows it.
    """

    layout: PayloadLayout
    model_id: bytes
    form: WireForm = "compact"

    def __post_init__(self) -> None:
        if self.form not in WIRE_FORMS:
            raise ValueError(f"form must be one of {', '.join(WIRE_FORMS)}, got {self.form!r}")

    @property
    def writes_compact(self) -> bool:
        """Whether :meth:`encode` writes the compact form."""
        return self.form == "compact" and compact_refusal(self.layout) is None

    @property
    def written_form(self) -> WireForm:
        """The form :meth:`encode` writes."""
        return "compact" if self.writes_compact else "self-describing"

    def encode(self, payload: Payload) -> bytes:
        """``payload`` as bytes in :attr:`written_form`."""
        if self.writes_compact:
            return to_compact_bytes(payload, self.model_id, self.layout)
        return payload.to_bytes()

    def decode(self, data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Payload:
        """Parse ``data`` in either form, strictly, and check it against the layout."""
        if is_compact(data):
            return from_compact_bytes(data, {self.model_id: self.layout}, max_bytes=max_bytes)
        return Payload.from_bytes(
            data, max_bytes=max_bytes, max_elements=max(1, self.layout.max_elements),
            layout=self.layout,
        )  # fmt: skip

    def header_bytes(self, payload: Payload) -> int:
        """Bytes of ``payload``'s wire form that are not chunk bodies (the header, CRC included)."""
        return len(self.encode(payload)) - sum(len(c) for c in payload.chunks)
