"""The weighted loss of a training stage, from a registry of named terms.

A stage's ``losses`` map term names to weights; each term is a function registered with
:func:`register_loss` that computes a scalar from :class:`LossInputs`. The built-in terms:

* ``task`` — the system's own task loss (:meth:`SplitSystem.task_loss`: the task object's loss,
  e.g. cross-entropy for classification, per-pixel cross-entropy for segmentation, the detector's
  own terms for detection; per-sub-task weights for multi-task).
* ``rate`` — estimated bits per sample divided by the input's pixel count (bits per pixel, as in
  learned image compression), so one weight means the same across image sizes.
* ``feature`` — MSE between the edge's reconstruction of the split feature and the feature itself
  (the target is detached: the decoder learns to match the head, not the other way round).
* ``distill`` — knowledge distillation: ``T^2 · KL(softmax(teacher/T) ‖ softmax(student/T))``
  over the class dimension at the teacher's temperature ``T`` (``train.teacher.temperature``,
  default :data:`DISTILL_TEMPERATURE`); per-pixel logits are distilled pixel by pixel.
* ``feature_distill`` — MSE between the student's and the teacher's features at the hooked
  modules of ``train.teacher.features`` (each pair with its own weight; a larger feature map is
  average-pooled to the smaller one's size).

A new term is a function and a registration; configs can name it at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from semcom.systems import SystemOutput

#: default softening temperature of the ``distill`` term.
DISTILL_TEMPERATURE = 2.0


@dataclass
class LossInputs:
    """What a loss term may use for one batch."""

    output: SystemOutput
    targets: Any
    pixels_per_sample: int
    task_loss: Callable[[Any, Any], torch.Tensor]
    teacher_output: Any = None
    #: ``(student feature, teacher feature, weight)`` per hooked pair.
    feature_pairs: Sequence[tuple[torch.Tensor, torch.Tensor, float]] = field(default_factory=list)
    temperature: float = DISTILL_TEMPERATURE


LossTerm = Callable[[LossInputs], torch.Tensor]
LOSS_TERMS: dict[str, LossTerm] = {}
#: terms that need a teacher (the trainer builds one when a stage weights them).
TEACHER_TERMS: set[str] = set()


def register_loss(name: str, *, needs_teacher: bool = False) -> Callable[[LossTerm], LossTerm]:
    """Register a loss term under ``name`` (a stage's ``losses`` key)."""

    def decorate(fn: LossTerm) -> LossTerm:
        if name in LOSS_TERMS and LOSS_TERMS[name] is not fn:
            raise ValueError(f"loss term {name!r} is already registered")
        LOSS_TERMS[name] = fn
        if needs_teacher:
            TEACHER_TERMS.add(name)
        return fn

    return decorate


def loss_names() -> list[str]:
    """The registered loss terms."""
    return list(LOSS_TERMS)


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


def matched_feature_mse(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """MSE between a student feature and a (detached) teacher feature ``[B, C, ...]``; the larger
    spatial map is average-pooled to the smaller one. Channels must agree."""
    teacher = teacher.detach()
    if student.shape[:2] != teacher.shape[:2]:
        raise ValueError(
            f"feature_distill: student feature {list(student.shape)} and teacher feature "
            f"{list(teacher.shape)} differ in batch or channels; hook layers of equal width"
        )
    if student.shape[2:] != teacher.shape[2:]:
        size = tuple(min(a, b) for a, b in zip(student.shape[2:], teacher.shape[2:], strict=True))
        pool: Callable[..., torch.Tensor] = (
            F.adaptive_avg_pool2d if len(size) == 2 else F.adaptive_avg_pool1d
        )
        student, teacher = pool(student, size), pool(teacher, size)
    return F.mse_loss(student, teacher)


@register_loss("task")
def _task(inputs: LossInputs) -> torch.Tensor:
    return inputs.task_loss(inputs.output.output, inputs.targets)


@register_loss("rate")
def _rate(inputs: LossInputs) -> torch.Tensor:
    if inputs.output.rate_bits is None:
        raise ValueError("stage asks for a 'rate' loss but the system estimates no rate")
    return inputs.output.rate_bits.mean() / inputs.pixels_per_sample


@register_loss("feature")
def _feature(inputs: LossInputs) -> torch.Tensor:
    extras = inputs.output.extras
    if "feature" not in extras or "feature_hat" not in extras:
        raise ValueError("stage asks for a 'feature' loss but the system exposes no feature")
    return F.mse_loss(extras["feature_hat"], extras["feature"].detach())


@register_loss("distill", needs_teacher=True)
def _distill(inputs: LossInputs) -> torch.Tensor:
    if inputs.teacher_output is None:
        raise ValueError("stage asks for a 'distill' loss but no teacher output was given")
    return distillation_loss(inputs.output.output, inputs.teacher_output, inputs.temperature)


@register_loss("feature_distill", needs_teacher=True)
def _feature_distill(inputs: LossInputs) -> torch.Tensor:
    if not inputs.feature_pairs:
        raise ValueError(
            "stage asks for a 'feature_distill' loss but train.teacher.features hooks no layer"
        )
    total = sum(w * matched_feature_mse(s, t) for s, t, w in inputs.feature_pairs)
    return total  # type: ignore[return-value]


def stage_loss(
    out: SystemOutput,
    targets: Any,
    weights: dict[str, float],
    pixels_per_sample: int,
    task_loss: Callable[[Any, Any], torch.Tensor] = F.cross_entropy,
    teacher_output: Any = None,
    feature_pairs: Sequence[tuple[torch.Tensor, torch.Tensor, float]] = (),
    temperature: float = DISTILL_TEMPERATURE,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the stage's terms and each term's value (for logging).

    ``teacher_output`` is required when the ``distill`` weight is positive, ``feature_pairs``
    when ``feature_distill``'s is.
    """
    inputs = LossInputs(
        out, targets, pixels_per_sample, task_loss, teacher_output, feature_pairs, temperature
    )
    unknown = [name for name in weights if name not in LOSS_TERMS]
    if unknown:
        raise ValueError(f"unknown loss term(s) {unknown}; registered: {', '.join(LOSS_TERMS)}")
    terms: dict[str, torch.Tensor] = {}
    for name, term in LOSS_TERMS.items():  # registry order: the sum does not depend on the config's
        if weights.get(name, 0.0) > 0:
            terms[name] = term(inputs)
    if not terms:
        raise ValueError("stage has no loss term with a positive weight")
    total = sum(weights[k] * v for k, v in terms.items())
    return total, {k: float(v.detach()) for k, v in terms.items()}  # type: ignore[return-value]
