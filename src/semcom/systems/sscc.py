"""Separate source–channel coding baselines: ``sscc`` (a real digital PHY) and ``capacity``.

Both send the *image* (JPEG or WebP at the highest quality of the ladder ``1..95`` that fits the
sample's byte budget) and run the **whole** shared backbone at the edge on the decoded image,
exactly like the offloading baselines (roles ``head`` / ``tail``, nothing on the device, zero
device FLOPs; the PHY's simulation is hidden from the FLOP counter). The channel-use budget is
``n_cu = round(cbr · C · H · W)`` complex symbols per sample, so they compare with analog (JSCC)
systems at the same bandwidth ratio. Both declare ``link = "analog"`` because what the edge
decodes depends on the SNR: evaluation calls :meth:`transmit` at every SNR.

``sscc`` — 5G LDPC + CRC24A + Gray QAM with Sionna (:mod:`semcom.sscc`): a fixed MCS
(``qam`` × ``ldpc_rate``) lays out ``C`` codewords in ``n_cu`` symbols (unused ones are zero); the
receiver demaps with the per-symbol noise variance (``N0``, or ``N0 / |h|^2`` after zero forcing
on fading channels with ``csi: perfect``), runs ``bp_iterations`` of BP (CRC-aided early stop)
and checks each codeword's CRC. A sample whose image bytes are hit by a failed CRC is handled per
``on_error``: ``drop`` — no image; ``zero-fill`` — the lost bytes are zeros and the codec tries
(mid-grey if it cannot decode).

``capacity`` — the bound: an ideal error-free code carrying ``n_cu · log2(1 + SNR |h|^2)`` bits
(per-sample gain on block fading, averaged over symbols on fast fading), no header or CRC.

**Samples without an image** (nothing fits the budget, or dropped) get an all-zero logit row
(uniform), which ``argmax`` would read as class 0; they must be counted wrong, so every
``transmit`` also records the mask ``valid`` (``False`` = no classification):

* ``system.last_stats`` — after each :meth:`transmit`: per-sample tensors ``[B]`` (``sent``,
  ``intact``, ``valid``, ``quality``, ``source_bytes``, ...) and a scalar ``summary`` dict
  (``bler``, ``sent_rate``, ``delivered_rate``, ``mean_quality``, ``mean_source_bytes``, ...);
* ``system.stats`` — a :class:`~semcom.sscc.stats.StatsLog` accumulating the same per SNR over
  an evaluation: ``system.stats.summary()[snr]`` and ``system.stats.valid(snr)`` (``[N]``, in
  transmit order); ``system.stats.reset()`` before a new sweep.

``analog_encode`` / ``analog_decode`` also work on their own (FLOP counting, timing): the decoder
then assumes AWGN at ``snr_db`` and that every sample was sent. ``analog_encode`` does not depend
on the SNR for ``sscc`` (the MCS is fixed per variant); for ``capacity`` it sizes the image for an
AWGN channel at ``snr_db`` and returns the bytes in a genie container
(:func:`semcom.sscc.capacity.pack_bytes`), not a waveform.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator
from torch import nn

from semcom.channels import as_per_sample_snr, snr_db_to_n0
from semcom.sscc.capacity import capacity_bits, genie_capacity_bytes, pack_bytes, unpack_bytes
from semcom.sscc.framing import deframe, frame_batch
from semcom.sscc.layout import BlockLayout, plan_layout
from semcom.sscc.link import power_gains, receive
from semcom.sscc.mcs import MCS, parse_rate
from semcom.sscc.phy import DigitalPHY
from semcom.sscc.source import (
    SOURCE_NAMES,
    SourceChoice,
    SourceCoder,
    build_source_coder,
    check_source_name,
)
from semcom.sscc.stats import StatsLog, batch_summary
from semcom.systems.base import BuildContext, SplitSystem, SystemParams
from semcom.systems.edge_model import WholeModelAtEdge
from semcom.systems.registry import SystemConfigError, register_system

#: parameters that only the ``features`` source uses (field name → config name).
FEATURE_FIELDS = {
    "channels": "channels",
    "bits": "bits",
    "downsample": "downsample",
    "rate_weight": "lambda",
}


class CapacityParams(SystemParams):
    """Parameters of ``capacity``."""

    source: Literal["jpeg", "webp", "features"] = Field(
        "jpeg",
        description="source coder: jpeg | webp (the image) | features (a learned feature code)",
    )
    cbr: float = Field(
        0.25, gt=0, le=16, description="channel uses per source element: n_cu = round(cbr·C·H·W)"
    )
    # source: features only (systems/sscc_features.py)
    channels: int | None = Field(None, ge=1, le=255, description="features: code planes (8)")
    bits: int | None = Field(None, ge=1, le=8, description="features: quantiser bits (2)")
    downsample: Literal[1, 2, 4] | None = Field(None, description="features: code stride (2)")
    rate_weight: float | None = Field(
        None, ge=0, alias="lambda", description="features: overrides the stages' rate weight"
    )

    _source = field_validator("source")(check_source_name)

    @model_validator(mode="after")
    def _feature_fields(self) -> CapacityParams:
        if self.source != "features":
            given = [
                alias for name, alias in FEATURE_FIELDS.items() if getattr(self, name) is not None
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: apply to source 'features' only, and source is "
                    f"{self.source!r} (allowed sources: {', '.join(SOURCE_NAMES)})"
                )
        return self


class SSCCParams(CapacityParams):
    """Parameters of ``sscc``."""

    ldpc_rate: float = Field(0.5, description="5G LDPC code rate: 1/3, 1/2, 2/3, 3/4 or 5/6")
    qam: Literal[4, 16, 64] = Field(16, description="QAM order")
    on_error: Literal["drop", "zero-fill"] = Field(
        "drop", description="a failed codeword: drop the sample, or zero its bytes and decode"
    )
    bp_iterations: int = Field(20, ge=1, le=200, description="maximum LDPC BP iterations")

    @field_validator("ldpc_rate", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"ldpc_rate must be a number such as 0.5 or '1/2', got {value!r}")
        return parse_rate(value)


class _SourceChannelBaseline(WholeModelAtEdge):
    """Shared body: whole backbone at the edge on the decoded image, stats bookkeeping."""

    link = "analog"

    def __init__(self, params: CapacityParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        self.source: SourceCoder = self._build_source()
        self.n_cu = round(params.cbr * math.prod(self.image_shape))
        if self.n_cu < 1:
            raise SystemConfigError(
                f"{self.name}.cbr: {params.cbr} gives {self.n_cu} channel uses for "
                f"{math.prod(self.image_shape)} source elements; need at least 1"
            )
        #: per-SNR statistics over all :meth:`transmit` calls (see the module docstring).
        self.stats = StatsLog()
        #: statistics of the last :meth:`transmit` (per-sample tensors and ``summary``).
        self.last_stats: dict[str, Any] = {}

    @classmethod
    def variant_class(cls, params: SystemParams) -> type[SplitSystem]:
        """``source: features`` is built by :mod:`semcom.systems.sscc_features`."""
        if getattr(params, "source", None) == "features":
            from semcom.systems.sscc_features import feature_variant

            return feature_variant(cls)
        return cls

    def describe(self) -> dict[str, Any]:
        """Parameters of the record; the feature-code fields only for ``source: features``."""
        d = super().describe()
        if self.params.source != "features":
            for alias in FEATURE_FIELDS.values():
                d.pop(alias, None)
        return d

    def _build_source(self) -> SourceCoder:
        """The source coder of this system (the image coders here)."""
        return build_source_coder(self.params.source, self.image_shape)

    def channel_uses(self) -> int:
        """Complex channel symbols per sample, ``round(cbr · C · H · W)``."""
        return self.n_cu

    # --- edge ------------------------------------------------------------------------------------
    def _classify(self, images: list[torch.Tensor | None]) -> tuple[torch.Tensor, torch.Tensor]:
        """Decoded uint8 images ``[C, H, W]`` (``None`` = no image) → logits ``[B, K]`` (zero
        rows for ``None``) and the ``valid`` mask ``[B]``. The network runs on the whole batch
        (mid-grey stand-ins) so its cost does not depend on what arrived."""
        valid = torch.tensor([img is not None for img in images], dtype=torch.bool)
        grey = self.source.placeholder()
        batch = torch.stack([grey if img is None else img for img in images])
        ref = next(self.parameters())
        logits = self.tail(self.head(batch.to(ref.device, torch.float32) / 255.0))
        return logits.masked_fill(~valid.to(logits.device)[:, None], 0.0), valid

    def _record(self, snr_db: torch.Tensor, per_sample: dict[str, torch.Tensor]) -> None:
        self.stats.add(snr_db, per_sample)
        self.last_stats = {**per_sample, "summary": batch_summary(per_sample)}

    @staticmethod
    def _choice_tensors(choices: list[SourceChoice]) -> dict[str, torch.Tensor]:
        return {
            "sent": torch.tensor([c.sent for c in choices], dtype=torch.bool),
            "quality": torch.tensor([c.quality for c in choices], dtype=torch.int64),
            "source_bytes": torch.tensor([c.num_bytes for c in choices], dtype=torch.int64),
        }


@register_system("sscc")
class SSCC(_SourceChannelBaseline):
    """JPEG/WebP over CRC + 5G LDPC + QAM (module docstring). Input ``[B, C, H, W]`` in
    ``[0, 1]`` → logits ``[B, K]`` through :meth:`transmit`."""

    Params = SSCCParams
    params: SSCCParams

    def __init__(self, params: SSCCParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        self.mcs = MCS(params.qam, params.ldpc_rate)
        self.layout: BlockLayout = plan_layout(self.n_cu, self.mcs)
        self.phy = DigitalPHY(self.layout, bp_iterations=params.bp_iterations)

    def _encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[SourceChoice]]:
        budget = self.layout.source_bytes
        choices = self.source.encode(x, [budget] * len(x))
        symbols = self.phy.modulate(frame_batch([c.data for c in choices], self.layout))
        sent = torch.tensor([c.sent for c in choices], dtype=torch.bool)
        symbols[~sent] = 0  # nothing is transmitted for a sample that does not fit
        return symbols, choices

    @torch.no_grad()
    def analog_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Device side: QAM symbols complex64 ``[B, n_cu]`` (unit average energy per used symbol;
        zeros after the codewords and for samples whose image does not fit). ``snr_db`` is
        ignored: the MCS is fixed."""
        return self._encode(x)[0]

    def _decode(
        self, received: torch.Tensor, noise_var: torch.Tensor, sent: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Receiver on rows ``sent`` (bool ``[B]``) of ``received`` ``[B, n_cu]`` with per-symbol
        noise variance ``[B, 1]`` / ``[B, n_cu]`` → logits ``[B, K]`` and per-sample stats."""
        b = len(received)
        lay = self.layout
        if lay.num_blocks == 0:  # nothing can be carried: nothing was sent
            sent = torch.zeros(b, dtype=torch.bool)
        rows = torch.nonzero(sent).flatten()
        nv = noise_var.expand(b, -1) if noise_var.shape[-1] == 1 else noise_var
        result = self.phy.demodulate(received[rows].cpu(), nv[rows].cpu())
        images: list[torch.Tensor | None] = [None] * b
        intact = torch.zeros(b, dtype=torch.bool)
        failed = torch.zeros(b, dtype=torch.bool)
        for j, i in enumerate(rows.tolist()):
            out = deframe(result.payload[j], result.block_ok[j].numpy(), lay, self.params.on_error)
            intact[i] = out.intact
            if out.data is None:
                continue
            img = self.source.decode(out.data)
            if img is None:
                failed[i] = True
                img = self.source.placeholder()
            images[i] = img
        logits, valid = self._classify(images)
        blocks = torch.zeros(b, dtype=torch.int64)
        errors = torch.zeros(b, dtype=torch.int64)
        iters = torch.zeros(b, dtype=torch.float32)
        blocks[rows] = lay.num_blocks
        errors[rows] = (~result.block_ok).sum(1)
        if lay.num_blocks:
            iters[rows] = result.iterations.float().mean(1)
        stats = {
            "intact": intact,
            "valid": valid,
            "blocks": blocks,
            "block_errors": errors,
            "bp_iterations": iters,
            "decode_failed": failed,
        }
        return logits, stats

    @torch.no_grad()
    def analog_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Edge side on its own: received symbols ``[B, n_cu]`` → logits ``[B, K]``, assuming an
        AWGN channel at ``snr_db`` (noise variance ``N0``) and that every sample was sent."""
        b = len(received)
        n0 = snr_db_to_n0(as_per_sample_snr(snr_db, b)).reshape(b, 1)
        return self._decode(received, n0, torch.ones(b, dtype=torch.bool))[0]

    @torch.no_grad()
    def transmit(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor,
        channel: nn.Module,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Image → bytes → PHY → ``channel`` (AWGN, or fading with ``csi: perfect``; its gains
        give the demapper's noise variance ``N0 / |h|^2``) → PHY → bytes → image → logits
        ``[B, K]``. Records :attr:`last_stats` and :attr:`stats`; rows with ``valid = False``
        are zero and must be counted wrong."""
        snr = as_per_sample_snr(snr_db, len(x))
        symbols, choices = self._encode(x)
        y, noise_var, _ = receive(channel, symbols, snr, generator)
        per_sample = self._choice_tensors(choices)
        logits, decoded = self._decode(y, noise_var, per_sample["sent"])
        self._record(snr, {**per_sample, **decoded})
        return logits


@register_system("capacity")
class CapacityBound(_SourceChannelBaseline):
    """JPEG/WebP sized for an ideal code at capacity (module docstring). Input ``[B, C, H, W]``
    in ``[0, 1]`` → logits ``[B, K]`` through :meth:`transmit`."""

    Params = CapacityParams
    params: CapacityParams

    def budgets(self, bits: torch.Tensor) -> list[int]:
        """Source budgets in bytes ``floor(bits / 8)`` (capped by the genie container)."""
        cap = genie_capacity_bytes(self.n_cu)
        return [min(cap, int(v)) for v in np.floor(bits.double().cpu().numpy() / 8.0)]

    def _encode(self, x: torch.Tensor, bits: torch.Tensor) -> tuple[torch.Tensor, list]:
        choices = self.source.encode(x, self.budgets(bits))
        return pack_bytes([c.data for c in choices], self.n_cu), choices

    @torch.no_grad()
    def analog_encode(self, x: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Genie container ``[B, n_cu]`` of the image coded for an AWGN link at ``snr_db``
        ``[B]`` (``n_cu · log2(1 + SNR)`` bits); not a waveform, never put it through noise."""
        snr = as_per_sample_snr(snr_db, len(x))
        return self._encode(x, capacity_bits(self.n_cu, snr))[0]

    def _decode(self, container: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        images = [
            None if data is None else self.source.decode(data) for data in unpack_bytes(container)
        ]
        return self._classify(images)

    @torch.no_grad()
    def analog_decode(self, received: torch.Tensor, snr_db: torch.Tensor) -> torch.Tensor:
        """Edge side: genie container ``[B, n_cu]`` → logits ``[B, K]`` (error-free)."""
        return self._decode(received)[0]

    @torch.no_grad()
    def transmit(
        self,
        x: torch.Tensor,
        snr_db: torch.Tensor,
        channel: nn.Module,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Draw each sample's gains from ``channel`` (AWGN: none; fading needs ``csi:
        perfect``), size the image for ``n_cu · mean log2(1 + SNR |h|^2)`` bits and deliver it
        error-free → logits ``[B, K]``. Records :attr:`last_stats` and :attr:`stats`."""
        snr = as_per_sample_snr(snr_db, len(x))
        gain = power_gains(channel, len(x), self.n_cu, snr, generator)
        bits = capacity_bits(self.n_cu, snr, gain)
        container, choices = self._encode(x, bits)
        logits, valid = self._decode(container)
        per_sample = self._choice_tensors(choices)
        per_sample.update(intact=per_sample["sent"].clone(), valid=valid, capacity_bits=bits)
        self._record(snr, per_sample)
        return logits
