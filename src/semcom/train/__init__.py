"""Staged training: phases that train named roles with weighted loss terms (a registry), optimisers
and schedules from ``torch.optim`` by name, a declared distillation teacher, checkpointed and
resumable, optionally until a validation plateau; DDP under torchrun."""

from semcom.train.losses import LOSS_TERMS, register_loss, stage_loss
from semcom.train.plateau import Plateau, validation_score
from semcom.train.snr_sampling import sample_snr_db
from semcom.train.stages import StageError, check_stages, needs_teacher, stage_for
from semcom.train.teacher import Teacher, TeacherError, build_teacher, frozen_teacher
from semcom.train.trainer import (
    Phase,
    PhaseResult,
    phase_from_config,
    plateau_from_config,
    train_phase,
)

__all__ = [
    "LOSS_TERMS",
    "Phase",
    "PhaseResult",
    "Plateau",
    "StageError",
    "Teacher",
    "TeacherError",
    "build_teacher",
    "check_stages",
    "frozen_teacher",
    "needs_teacher",
    "phase_from_config",
    "plateau_from_config",
    "register_loss",
    "sample_snr_db",
    "stage_for",
    "stage_loss",
    "train_phase",
    "validation_score",
]
