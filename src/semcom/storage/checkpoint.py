"""Checkpoints that never unpickle code.

* Stage checkpoints: the model's weights as safetensors (``<stage>.safetensors``).
* Progress checkpoints (``<stage>.progress.pt``): weights, optimiser state, step and RNG state, so
  an interrupted stage resumes where it stopped. Saved with ``torch.save`` of tensors and plain
  Python values only, and loaded with ``weights_only=True``.

Writes go to a temporary file of a name no other process uses (process id and a random part),
then replace the target atomically: an interrupted write leaves the old file or none, and two
processes never write the same temporary file. A file that cannot be read (truncated, corrupt,
not a checkpoint) raises :class:`CheckpointError` naming it and what to do.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn


class CheckpointError(ValueError):
    """A checkpoint file cannot be read; the message names the file."""


def _atomic_replace(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def temporary_path(path: Path) -> Path:
    """A temporary file next to ``path`` that no other process or call uses."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def save_weights(
    module: nn.Module, path: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``module.state_dict()`` to ``path`` (safetensors), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()
    }
    tmp = temporary_path(path)
    try:
        save_file(state, str(tmp), metadata=metadata or {})
        _atomic_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file (:class:`CheckpointError` if it cannot be read)."""
    try:
        return dict(load_file(str(path)))
    except Exception as exc:  # SafetensorError (not an OSError), truncated or foreign files
        raise CheckpointError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); it is truncated or corrupt"
        ) from None


def load_weights(module: nn.Module, path: str | Path, strict: bool = True) -> None:
    """Load safetensors weights from ``path`` into ``module``."""
    module.load_state_dict(read_weights(path), strict=strict)


def save_progress(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a resumable progress checkpoint (tensors and plain values only), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        torch.save(state, tmp)
        _atomic_replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def load_progress(path: str | Path) -> dict[str, Any]:
    """Load a progress checkpoint with ``weights_only=True`` (no arbitrary code)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError, EOFError, RuntimeError of a truncated zip
        raise CheckpointError(
            f"{path} cannot be read ({type(exc).__name__}: {exc}); it is truncated or corrupt"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a progress checkpoint")
    return state
