"""The weighted loss of a training stage.

Terms (weights come from the stage config):

* ``task`` — the system's own task loss (:meth:`SplitSystem.task_loss`; cross-entropy for
  classification).
* ``rate`` — estimated bits per sample divided by the input's pixel count (bits per pixel, as in
  learned image compression), so one weight means the same across image sizes.
* ``feature`` — MSE between the edge's reconstruction of the split feature and the feature itself
  (the target is detached: the decoder learns to match the head, not the other way round).
* ``distill`` — knowledge distillation: ``T^2 · KL(softmax(teacher/T) ‖ softmax(student/T))``
  with ``T = DISTILL_TEMPERATURE`` over the class dimension, where the teacher logits are the
  unsplit network's (the trainer runs a frozen copy of the system's ``bypass`` path); per-pixel
  logits are distilled pixel by pixel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from semcom.systems import SystemOutput

#: softening temperature of the ``distill`` term.
DISTILL_TEMPERATURE = 2.0


def distillation_loss(
    student: torch.Tensor, teacher: torch.Tensor, temperature: float = DISTILL_TEMPERATURE
) -> torch.Tensor:
    """``T^2 · KL(softmax(teacher/T) ‖ softmax(student/T))`` over the class dimension (dim 1),
    averaged over the batch and any further positions: logits ``[B, K]`` or per-pixel
    ``[B, K, H, W]`` (``[B, K, ...]``). Zero when the student's logits equal the teacher's."""
    t = temperature
    log_p_student = F.log_softmax(student / t, dim=1)
    log_p_teacher = F.log_softmax(teacher.detach() / t, dim=1)
    kl = F.kl_div(log_p_student, log_p_teacher, log_target=True, reduction="sum")
    positions = student.numel() // student.shape[1]  # B for [B, K]: the batch mean
    return kl / positions * t * t


def stage_loss(
    out: SystemOutput,
    targets: Any,
    weights: dict[str, float],
    pixels_per_sample: int,
    task_loss: Callable[[Any, Any], torch.Tensor] = F.cross_entropy,
    teacher_output: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the stage's terms and each term's value (for logging).

    ``teacher_output`` (logits ``[B, K]``) is required when the ``distill`` weight is positive.
    """
    terms: dict[str, torch.Tensor] = {}
    if weights.get("task", 0.0) > 0:
        terms["task"] = task_loss(out.output, targets)
    if weights.get("rate", 0.0) > 0:
        if out.rate_bits is None:
            raise ValueError("stage asks for a 'rate' loss but the system estimates no rate")
        terms["rate"] = out.rate_bits.mean() / pixels_per_sample
    if weights.get("feature", 0.0) > 0:
        if "feature" not in out.extras or "feature_hat" not in out.extras:
            raise ValueError("stage asks for a 'feature' loss but the system exposes no feature")
        terms["feature"] = F.mse_loss(out.extras["feature_hat"], out.extras["feature"].detach())
    if weights.get("distill", 0.0) > 0:
        if teacher_output is None:
            raise ValueError("stage asks for a 'distill' loss but no teacher output was given")
        terms["distill"] = distillation_loss(out.output, teacher_output)
    if not terms:
        raise ValueError("stage has no loss term with a positive weight")
    total = sum(weights[k] * v for k, v in terms.items())
    return total, {k: float(v.detach()) for k, v in terms.items()}  # type: ignore[return-value]
