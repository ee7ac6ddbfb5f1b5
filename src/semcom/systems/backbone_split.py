"""The base of every system built on the experiment's backbone cut at ``split_after``.

:class:`BackboneSplitSystem` builds the backbone named by the context, cuts it into ``head`` (up to
and including ``split_after``) and ``tail`` (the rest) and records the shape of the feature at the
cut (``feature_shape``, one sample: ``(C, H, W)`` for convolutional stages, ``(N, D)`` for token
outputs). It provides what AECNN, BottleNet++, the quantised split, ``local`` and the whole-model-
at-the-edge baselines share:

* the roles ``head`` and ``tail`` around the system's own (:meth:`coder_roles`), in that order;
* the ``bypass`` training path (the backbone unsplit) — :meth:`forward` handles it and hands any
  other path to :meth:`split_forward` with the head's feature;
* ``split_elements`` = the feature's element count (the float32 tensor the ratio is measured
  against);
* the payload check: :meth:`check_payload` applies :meth:`payload_layout` (system, shapes, chunks,
  parameters) and then :meth:`check_payload_body` (sizes of chunks a system knows).

The backbone is built first, before the system's own modules, so the parameter initialisation of
a given seed does not depend on which system is built on it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from semcom.backbones import build_backbone
from semcom.coding import Payload, PayloadLayout, WireCodec, WireForm, model_id
from semcom.systems.base import (
    BuildContext,
    LinkKindError,
    SplitSystem,
    SystemOutput,
    SystemParams,
)


class BackboneSplitSystem(SplitSystem):
    """See the module docstring."""

    def __init__(self, params: SystemParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        head, tail, shape = self.build_network()
        self.head, self.tail = head, tail
        #: shape of one sample's feature at the split.
        self.feature_shape: tuple[int, ...] = tuple(shape)

    def build_network(self) -> tuple[nn.Module, nn.Module, tuple[int, ...]]:
        """``(head, tail, feature shape)``: the context's backbone cut at ``split_after`` by
        default; a system with a network of its own (a task-specific one) returns that."""
        ctx = self.ctx
        backbone = build_backbone(ctx.backbone, ctx.in_channels, ctx.num_classes)
        head, tail = backbone.split(ctx.split_after)
        return head, tail, tuple(backbone.feature_shape(ctx.split_after, ctx.input_shape))

    # --- structure -----------------------------------------------------------------------------
    def coder_roles(self) -> dict[str, nn.Module]:
        """The system's own trainable parts between head and tail (none by default)."""
        return {}

    def roles(self) -> dict[str, nn.Module]:
        return {"head": self.head, **self.coder_roles(), "tail": self.tail}

    def split_elements(self) -> int:
        return math.prod(self.feature_shape)

    # --- training graph ------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, snr_db: torch.Tensor | None = None, path: str = "full"
    ) -> SystemOutput:
        """``bypass``: the backbone unsplit; any other path: :meth:`split_forward`."""
        self.check_path(path)
        feature = self.head(x)
        if path == "bypass":
            return SystemOutput(self.tail(feature))
        return self.split_forward(feature, snr_db, path)

    def split_forward(
        self, feature: torch.Tensor, snr_db: torch.Tensor | None, path: str
    ) -> SystemOutput:
        """The training graph from the head's feature ``[B, *feature_shape]`` on (paths other
        than ``bypass``); default: the tail on the feature as it is."""
        return SystemOutput(self.tail(feature))

    # --- payloads ------------------------------------------------------------------------------
    def payload_layout(self) -> PayloadLayout:
        """The payloads this model decodes (what its own device side sends); systems whose
        transport carries no payload have none."""
        raise LinkKindError(f"{self.name} has a {self.link} link; it decodes no payload")

    def check_payload_body(self, payload: Payload) -> None:
        """Checks beyond the layout (chunk sizes); raise :class:`PayloadError`."""

    def model_id(self) -> bytes:
        """This model's 4-byte identifier (:mod:`semcom.coding.model_id`): from its name,
        parameters and state dict as they are now (a stored and reloaded copy has the same)."""
        params = self.params.model_dump(by_alias=True, mode="json")
        return model_id(self.name, params, self.state_dict())

    def wire_codec(self, form: WireForm = "compact") -> WireCodec:
        """This model's payloads as bytes (:class:`~semcom.coding.WireCodec`): the compact form
        where its layout has one (``form="compact"``), else the self-describing form."""
        return WireCodec(self.payload_layout(), self.model_id(), form)

    def check_payload(self, payload: Payload) -> None:
        """Raise :class:`~semcom.coding.PayloadError` unless ``payload`` is one this model can
        decode (layout, then body)."""
        self.payload_layout().check(payload)
        self.check_payload_body(payload)


class EncoderDecoderSplit(BackboneSplitSystem):
    """A split whose own parts are an ``encoder`` after the head on the device and a ``decoder``
    before the tail at the edge (set both in ``__init__``): their roles and sides."""

    encoder: nn.Module
    decoder: nn.Module

    def coder_roles(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "decoder": self.decoder}

    def device_modules(self) -> list[nn.Module]:
        return [self.head, self.encoder]

    def edge_modules(self) -> list[nn.Module]:
        return [self.decoder, self.tail]
