"""The body both separate-coding baselines share: the whole backbone at the edge on what the
simulated link delivered (see :mod:`semcom.systems.separate_coding`)."""

from __future__ import annotations

import math
from typing import Any, cast

import torch

from semcom.sscc.source import SourceChoice, SourceCoder, build_source_coder
from semcom.systems.base import BuildContext, SplitSystem, SystemParams
from semcom.systems.edge_model import WholeModelAtEdge
from semcom.systems.registry import SystemConfigError
from semcom.systems.separate_coding.params import FEATURE_FIELDS, CapacityParams
from semcom.transports import PHYTransport, Transport

#: the ``source: features`` class of each registered baseline class (filled by ``.features``).
FEATURE_VARIANTS: dict[type[SplitSystem], type[SplitSystem]] = {}


class _SourceChannelBaseline(WholeModelAtEdge):
    """Shared body: the whole backbone at the edge on the decoded image, the channel-use budget."""

    transport_kinds = ("phy",)
    params: CapacityParams

    def __init__(self, params: CapacityParams, ctx: BuildContext) -> None:
        super().__init__(params, ctx)
        self.source: SourceCoder = self._build_source()
        self.n_cu = round(params.cbr * math.prod(self.image_shape))
        if self.n_cu < 1:
            raise SystemConfigError(
                f"{self.name}.cbr: {params.cbr} gives {self.n_cu} channel uses for "
                f"{math.prod(self.image_shape)} source elements; need at least 1"
            )

    def make_transport(self) -> Transport:
        return PHYTransport()

    @classmethod
    def variant_class(cls, params: SystemParams) -> type[SplitSystem]:
        """``source: features`` is built by the class :mod:`.features` registered for ``cls``."""
        if getattr(params, "source", None) == "features":
            return FEATURE_VARIANTS[cls]
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
        return build_source_coder(self.params.source, cast(tuple[int, int, int], self.image_shape))

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

    @staticmethod
    def _choice_tensors(choices: list[SourceChoice]) -> dict[str, torch.Tensor]:
        return {
            "sent": torch.tensor([c.sent for c in choices], dtype=torch.bool),
            "quality": torch.tensor([c.quality for c in choices], dtype=torch.int64),
            "source_bytes": torch.tensor([c.num_bytes for c in choices], dtype=torch.int64),
        }
