"""DDP under ``torchrun``: detect, initialise (gloo, CPU), and tell rank 0 apart."""

from __future__ import annotations

import os

import torch.distributed as dist


def world_size() -> int:
    """Processes in this run (``WORLD_SIZE`` from torchrun; 1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank (0 when not distributed)."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def is_main() -> bool:
    """True on the process that writes files and prints."""
    return rank() == 0


def init_if_launched() -> bool:
    """Initialise the gloo process group when launched by torchrun; returns whether DDP is on."""
    if world_size() <= 1:
        return False
    if not dist.is_initialized():
        dist.init_process_group(backend="gloo")
    return True


def barrier() -> None:
    """Wait for all ranks (no-op when not distributed)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
