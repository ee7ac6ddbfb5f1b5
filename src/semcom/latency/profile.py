"""A compute resource as the latency model sees it: effective FLOP/s (and optionally power).

>>> p = ComputeProfile("toy", 2e9, "a toy device", "made up for this example")
>>> p.compute_time_s(1e9)
0.5
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ComputeProfile:
    """A device or edge server characterised by its effective CNN-inference throughput.

    Attributes:
        name: profile name used in configs (``eval.devices``, ``eval.edge``).
        flops_per_s: effective *sustained* FLOP/s for CNN inference, with FLOPs as counted by
            ``torch.utils.flop_counter`` (a multiply-accumulate is 2 FLOPs; element-wise ops are
            not counted, so their cost is folded into this effective rate).
        description: what hardware the profile stands for.
        source: where the figure comes from (datasheet, measurement) and how the effective rate
            was derived from it (e.g. peak × an assumed utilisation).
        power_w: power drawn while computing, W (``None`` when no sourced figure is known);
            used by :func:`semcom.latency.energy_j`.
    """

    name: str
    flops_per_s: float
    description: str = ""
    source: str = ""
    power_w: float | None = None

    def __post_init__(self) -> None:
        if not (self.flops_per_s > 0 and math.isfinite(self.flops_per_s)):
            raise ValueError(f"flops_per_s must be finite and > 0, got {self.flops_per_s}")
        if self.power_w is not None and not (self.power_w > 0 and math.isfinite(self.power_w)):
            raise ValueError(f"power_w must be finite and > 0 (or None), got {self.power_w}")

    def compute_time_s(self, flops: float | int | torch.Tensor) -> float | torch.Tensor:
        """Seconds to run ``flops`` FLOPs (a number, or a tensor ``[N]`` → float64 ``[N]``)."""
        if isinstance(flops, torch.Tensor):
            if bool((flops < 0).any()):
                raise ValueError("flops must be >= 0")
            return flops.double() / self.flops_per_s
        if flops < 0:
            raise ValueError(f"flops must be >= 0, got {flops}")
        return float(flops) / self.flops_per_s
