"""Accuracy within a deadline: a sample counts only if it is correct **and** on time.

>>> import torch
>>> accuracy_within_deadline(torch.tensor([True, True, False]), torch.tensor([0.1, 0.3, 0.1]), 0.2)
0.3333333333333333
"""

from __future__ import annotations

import torch

from semcom.latency.rate import Number


def accuracy_within_deadline(
    correct: torch.Tensor, total_latency_s: torch.Tensor | Number, deadline_s: float
) -> float:
    """Fraction of samples that are correct and finish within ``deadline_s`` seconds.

    Args:
        correct: bool ``[N]``, whether each sample's prediction is right; or a float score in
            ``[0, 1]`` per sample (e.g. a segmentation's pixel accuracy), counted only on time.
        total_latency_s: end-to-end latency, s: ``[N]`` or one value for every sample. A sample
            with latency exactly ``deadline_s`` is on time; ``inf`` or NaN never is.
        deadline_s: the deadline, s (>= 0).
    """
    ok = torch.as_tensor(correct)
    ok = ok.double() if ok.is_floating_point() else ok.to(torch.bool).double()
    if ok.dim() != 1 or ok.numel() == 0:
        raise ValueError(f"correct must be a non-empty [N] tensor, got shape {tuple(ok.shape)}")
    if not deadline_s >= 0:
        raise ValueError(f"deadline_s must be >= 0, got {deadline_s}")
    total = torch.as_tensor(total_latency_s, dtype=torch.float64)
    if total.dim() > 0 and total.shape != ok.shape:
        raise ValueError(
            f"total_latency_s must be a number or [N] = {tuple(ok.shape)}, got {tuple(total.shape)}"
        )
    return float((ok * (total <= deadline_s)).mean())
