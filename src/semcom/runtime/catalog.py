"""Which stored systems a server serves, what payloads each accepts, and which one a request wants.

A :class:`ModelCatalog` is built from the variants of a run (:func:`semcom.storage.store.load_run`).
A variant is **served** when its transport can be served (payload bytes: it decodes
:class:`~semcom.coding.Payload` bytes; whatever its task, whose answer it gives) and a probe
works: the catalog encodes one blank input with the variant's own device side and decodes it,
which both warms the model up and measures an example payload. What a variant accepts is its
:class:`~semcom.coding.PayloadLayout` (system name, tensor shapes — fixed, or variable within
bounds — parameters, chunk count). Other variants are listed with the reason they are not served.

Each served model has a model identifier (:mod:`semcom.coding.model_id`, derived from its stored
weights and parameters) that compact payloads (:mod:`semcom.coding.compact`) carry instead of a
system name and shapes; two served variants with one identifier would make such payloads
ambiguous, so the second (by variant id) is not served and says why.

Selection (:meth:`ModelCatalog.select`), in the order the server applies it:

0. A compact payload names its model by identifier (:meth:`ModelCatalog.by_model_id`): unknown →
   404; a ``?model=`` naming another variant → 422.
1. ``?model=<variant id>`` names the variant: unknown → 404, known but not served → 422.
2. Otherwise the served variants whose system is the payload's ``system`` are the candidates:
   none → 404; exactly one → it; several → those whose payload check accepts the payload:
   exactly one → it, none or several → 422 naming the candidates (and each one's reason).

The chosen variant's :meth:`ServedModel.check` then validates the payload against the model
(shapes, parameters, chunks) before anything is decoded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch

from semcom.coding import Payload, PayloadError, PayloadLayout, WireCodec
from semcom.storage.store import StoredSystem
from semcom.systems import BackboneSplitSystem, SplitSystem
from semcom.tasks import unbatch

_MAX_NAME_IN_MESSAGE = 80


class SelectionError(Exception):
    """No single served model fits a request; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class PayloadSpec:
    """The payload a served model accepts (its layout and wire codec: model identifier, form) and
    the size of what its own device side sends for a blank input."""

    layout: PayloadLayout
    example_bytes: int
    codec: WireCodec | None = None

    @property
    def system(self) -> str:
        return self.layout.system

    @property
    def max_elements(self) -> int:
        """Largest element count of one tensor of an accepted payload."""
        return self.layout.max_elements

    def to_json(self) -> dict[str, Any]:
        out = {**self.layout.to_json(), "example_bytes": self.example_bytes}
        if self.codec is not None:
            out["model_id"] = self.codec.model_id.hex()
            out["header"] = self.codec.written_form
        return out

    def mismatch(self, payload: Payload) -> str | None:
        """Why ``payload`` does not fit the layout, or ``None``."""
        return self.layout.mismatch(payload)


class _StageClock(threading.local):
    """Per-thread record of when the first edge module started (see :class:`ServedModel`)."""

    first_edge: float | None = None
    active: bool = False


_clock = _StageClock()


def _edge_pre_hook(module: torch.nn.Module, args: Any) -> None:
    if _clock.active and _clock.first_edge is None:
        _clock.first_edge = time.perf_counter()


@dataclass
class ServedModel:
    """One variant of the run as the server sees it.

    Attributes:
        variant: variant id (the stored file's stem).
        system: the rebuilt system (eval mode).
        params: the system's parameters.
        served: whether ``POST /v1/infer`` accepts payloads for it.
        reason: why it is not served (``None`` when served).
        accepts: the payload it accepts (``None`` when not served).
    """

    variant: str
    system: SplitSystem
    params: dict[str, Any]
    served: bool = False
    reason: str | None = None
    accepts: PayloadSpec | None = None
    _hooks: list[Any] = field(default_factory=list, repr=False)

    @property
    def system_name(self) -> str:
        return self.system.name

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Input of one sample (``(C, H, W)`` or ``(C, T, H, W)``) the device side takes."""
        return tuple(self.system.ctx.input_shape)

    def check(self, payload: Payload) -> None:
        """Raise :class:`PayloadError` unless this model can decode ``payload``: the system's
        payload check (its layout — shapes, parameters such as the quantiser bits, chunks — and
        chunk sizes)."""
        cast(BackboneSplitSystem, self.system).check_payload(payload)  # served: a payload system

    def answer(self, output: Any) -> dict[str, Any]:
        """The task's JSON answer for one decoded sample."""
        return self.system.task.answer(output)

    def decode(self, payload: Payload) -> tuple[Any, float, float]:
        """Decode one checked ``payload``: ``(output, decode_s, edge_s)`` (:meth:`decode_batch`)."""
        outputs, decode_s, edge_s = self.decode_batch([payload])
        return outputs[0], decode_s, edge_s

    def decode_batch(self, payloads: Sequence[Payload]) -> tuple[list[Any], float, float]:
        """Decode checked ``payloads`` of one shape and finish the task on them as one batch:
        ``(outputs, decode_s, edge_s)``, one output (a batch of one) per payload.

        ``decode_s`` runs from the call to the first edge module (parsing the bodies: entropy or
        image decoding, dequantisation), ``edge_s`` from there to the output (the network), in
        seconds, for the whole batch. Safe to call from several threads at once (eval mode, no
        state is written).
        """
        _clock.first_edge = None
        _clock.active = True
        t0 = time.perf_counter()
        try:
            with torch.inference_mode():
                out = self.system.edge_decode(list(payloads))
        finally:
            _clock.active = False
        outputs = unbatch(out, len(payloads))
        t1 = time.perf_counter()
        first = _clock.first_edge if _clock.first_edge is not None else t1
        return outputs, first - t0, t1 - first


def probe(model: ServedModel) -> None:
    """Decide whether ``model`` is served; record its :class:`PayloadSpec` and warm it up (the
    task's answer of a blank input must come out)."""
    reason = model.system.transport.serve_refusal(model.system)
    if reason is None:
        try:
            x = torch.zeros(1, *model.input_shape, device=model.system.model_device)
            with torch.inference_mode():
                payload = model.system.device_encode(x)[0]
            codec = cast(BackboneSplitSystem, model.system).wire_codec()  # sends payloads
            wire = codec.encode(payload)
            parsed = codec.decode(wire)
            model.accepts = PayloadSpec(codec.layout, len(wire), codec)
            model.check(parsed)
            output, _, _ = model.decode(parsed)
            model.answer(output)
        except Exception as exc:  # a stored model that cannot round-trip is not served
            reason = f"probe encode/decode failed: {type(exc).__name__}: {exc}"
            model.accepts = None
    model.served = reason is None
    model.reason = reason


def _short(name: str) -> str:
    return repr(name if len(name) <= _MAX_NAME_IN_MESSAGE else name[:_MAX_NAME_IN_MESSAGE] + "...")


class ModelCatalog:
    """The variants of a run, served or not (see the module docstring)."""

    def __init__(
        self,
        stored: Mapping[str, StoredSystem],
        device: torch.device | str | None = None,
        broken: Mapping[str, str] | None = None,
    ) -> None:
        #: variants whose stored file could not be loaded, with the reason (listed, not served).
        self.broken: dict[str, str] = dict(broken or {})
        self.models: dict[str, ServedModel] = {}
        for variant, item in sorted(stored.items()):
            system = item.system.eval() if device is None else item.system.to(device).eval()
            model = ServedModel(variant, system, dict(item.params))
            probe(model)
            if model.served:
                for module in model.system.edge_modules():
                    model._hooks.append(module.register_forward_pre_hook(_edge_pre_hook))
            self.models[variant] = model
        #: served models by model identifier (compact payloads name their model so).
        self._by_id: dict[bytes, ServedModel] = {}
        for m in self.served:
            ident = m.accepts.codec.model_id if m.accepts and m.accepts.codec else None
            if ident is None:
                continue
            if ident in self._by_id:
                m.served = False
                m.reason = (
                    f"its model id {ident.hex()} is also variant {self._by_id[ident].variant!r}'s "
                    "(identical stored models, or a 32-bit collision): compact payloads could not "
                    "tell them apart"
                )
                continue
            self._by_id[ident] = m

    def by_model_id(self, ident: bytes) -> ServedModel | None:
        """The served model with identifier ``ident`` (``None``: none)."""
        return self._by_id.get(ident)

    def model_ids(self) -> list[str]:
        """The served models' identifiers, hex, sorted."""
        return sorted(i.hex() for i in self._by_id)

    @property
    def served(self) -> list[ServedModel]:
        """Served models, sorted by variant id."""
        return [m for m in self.models.values() if m.served]

    @property
    def max_elements(self) -> int:
        """Largest tensor any served model accepts, elements (a parse limit; at least 1)."""
        return max([1] + [m.accepts.max_elements for m in self.served if m.accepts])

    def describe(self) -> list[dict[str, Any]]:
        """What ``GET /v1/models`` returns: one entry per variant."""
        out = []
        for m in self.models.values():
            task = m.system.task
            entry: dict[str, Any] = {
                "model": m.variant,
                "system": m.system_name,
                "link": m.system.link,
                "params": m.params,
                "served": m.served,
                "input_shape": list(m.input_shape),
                "num_classes": m.system.ctx.num_classes,
                "task": task.describe(),
                "output_schema": task.output_schema(),
            }
            if m.served and m.accepts is not None:
                entry["accepts"] = m.accepts.to_json()
            else:
                entry["reason"] = m.reason
            out.append(entry)
        for variant, reason in sorted(self.broken.items()):
            out.append({"model": variant, "served": False, "reason": reason})
        return out

    def select(self, payload: Payload, model: str | None = None) -> ServedModel:
        """The served model for ``payload`` (rules in the module docstring).

        Raises :class:`SelectionError` with the HTTP status and a message naming the candidates.
        """
        if model is not None:
            chosen = self.models.get(model)
            if chosen is None and model in self.broken:
                raise SelectionError(
                    422, "model_not_served", f"model {model!r} is not served: {self.broken[model]}"
                )
            if chosen is None:
                raise SelectionError(
                    404,
                    "unknown_model",
                    f"unknown model {_short(model)}; served: "
                    + (", ".join(m.variant for m in self.served) or "none"),
                )
            if not chosen.served:
                raise SelectionError(
                    422, "model_not_served", f"model {model!r} is not served: {chosen.reason}"
                )
            return chosen
        candidates = [m for m in self.served if m.system_name == payload.system]
        if not candidates:
            systems = sorted({m.system_name for m in self.served})
            raise SelectionError(
                404,
                "unknown_system",
                f"no served model for system {_short(payload.system)}; served systems: "
                + (", ".join(systems) or "none"),
            )
        if len(candidates) == 1:
            return candidates[0]
        accepting, reasons = [], []
        for m in candidates:
            try:
                m.check(payload)
                accepting.append(m)
            except PayloadError as exc:
                reasons.append(f"{m.variant}: {exc}")
        if len(accepting) == 1:
            return accepting[0]
        if not accepting:
            raise SelectionError(
                422,
                "rejected_payload",
                f"none of the {len(candidates)} served variants of system {payload.system!r} "
                "accepts this payload: " + "; ".join(reasons),
            )
        raise SelectionError(
            422,
            "ambiguous_model",
            f"{len(accepting)} served variants of system {payload.system!r} accept this payload: "
            + ", ".join(m.variant for m in accepting)
            + "; choose one with ?model=<variant>",
        )
