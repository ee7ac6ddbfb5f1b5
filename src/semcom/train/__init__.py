"""Staged training: phases that train named roles with weighted losses, checkpointed and resumable;
DDP under torchrun."""

from semcom.train.checkpoint import load_progress, load_weights, save_progress, save_weights
from semcom.train.losses import stage_loss
from semcom.train.snr_sampling import sample_snr_db
from semcom.train.trainer import (
    Phase,
    PhaseResult,
    frozen_teacher,
    phase_from_config,
    train_phase,
)

__all__ = [
    "Phase",
    "PhaseResult",
    "frozen_teacher",
    "load_progress",
    "load_weights",
    "phase_from_config",
    "sample_snr_db",
    "save_progress",
    "save_weights",
    "stage_loss",
    "train_phase",
]
