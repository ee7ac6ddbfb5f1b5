"""The shape ``stae`` and ``deepisc`` share: a learned video codec in front of the experiment's
whole video classifier at the edge.

:class:`VideoCodecAtEdge` takes clips ``(C, T, H, W)`` only, runs the backbone (head + tail,
loaded from the shared, once-trained classifier) on whatever clip the edge restores
(:meth:`classify`), freezes its entropy model's tables before coding, and returns the training
graph's output with the clip and its restoration as ``feature`` / ``feature_hat`` (the pixel
loss).
"""

from __future__ import annotations

import torch

from semcom.coding import FactorizedEntropyModel
from semcom.systems.base import BuildContext, SystemOutput, SystemParams
from semcom.systems.edge_model import WholeModelAtEdge
from semcom.systems.registry import SystemConfigError


class VideoCodecAtEdge(WholeModelAtEdge):
    """See the module docstring. Subclasses set ``self.entropy``."""

    entropy: FactorizedEntropyModel

    def __init__(self, params: SystemParams, ctx: BuildContext) -> None:
        if len(ctx.input_shape) != 4:
            raise SystemConfigError(
                f"{self.name} takes clips (C, T, H, W); the data's inputs are "
                f"{list(ctx.input_shape)}"
            )
        super().__init__(params, ctx)

    def classify(self, clip: torch.Tensor) -> torch.Tensor:
        """The backbone (the video classifier) on a clip ``[B, C, T, H, W]`` → logits ``[B, K]``."""
        return self.tail(self.head(clip))

    def restored_output(
        self, x: torch.Tensor, x_hat: torch.Tensor, rate_bits: torch.Tensor
    ) -> SystemOutput:
        """The training graph's output: the classifier on the restoration ``x_hat``, the rate
        ``[B]`` in bits, and ``feature`` / ``feature_hat`` = the clip and its restoration."""
        return SystemOutput(
            self.classify(x_hat), rate_bits=rate_bits, extras={"feature": x, "feature_hat": x_hat}
        )

    @torch.no_grad()
    def prepare_for_coding(self) -> None:
        self.entropy.update()
