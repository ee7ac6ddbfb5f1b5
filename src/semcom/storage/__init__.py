"""Storage that training and serving share: weights and progress checkpoints
(:mod:`~semcom.storage.checkpoint`) and trained systems in a run directory
(:mod:`~semcom.storage.store`). Nothing is unpickled: safetensors, or ``torch.load`` with
``weights_only=True``."""

from semcom.storage.checkpoint import (
    CheckpointError,
    load_progress,
    load_weights,
    read_weights,
    save_progress,
    save_weights,
)

__all__ = [
    "CheckpointError",
    "load_progress",
    "load_weights",
    "read_weights",
    "save_progress",
    "save_weights",
]
