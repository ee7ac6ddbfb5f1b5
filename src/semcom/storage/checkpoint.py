"""Checkpoints that never unpickle code.

* Stage checkpoints: the model's weights as safetensors (``<stage>.safetensors``).
* Progress checkpoints (``<stage>.progress.pt``): weights, optimiser state, step and RNG state, so
  an interrupted stage resumes where it stopped. Saved with ``torch.save`` of tensors and plain
  Python values only, and loaded with ``weights_only=True``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn


def _atomic_replace(tmp: Path, final: Path) -> None:
    os.replace(tmp, final)


def save_weights(
    module: nn.Module, path: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``module.state_dict()`` to ``path`` (safetensors), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", copy=True).contiguous() for k, v in module.state_dict().items()
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(state, str(tmp), metadata=metadata or {})
    _atomic_replace(tmp, path)
    return path


def load_weights(module: nn.Module, path: str | Path, strict: bool = True) -> None:
    """Load safetensors weights from ``path`` into ``module``."""
    state = load_file(str(path))
    module.load_state_dict(state, strict=strict)


def save_progress(path: str | Path, state: dict[str, Any]) -> Path:
    """Write a resumable progress checkpoint (tensors and plain values only), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    _atomic_replace(tmp, path)
    return path


def load_progress(path: str | Path) -> dict[str, Any]:
    """Load a progress checkpoint with ``weights_only=True`` (no arbitrary code)."""
    return torch.load(path, map_location="cpu", weights_only=True)
