"""FLOPs (``torch.utils.flop_counter``), parameter counts and parameter bytes.

FLOPs follow PyTorch's counter: a multiply-accumulate is 2 FLOPs; element-wise ops are not counted.

>>> from torch import nn
>>> count_flops(nn.Linear(10, 4), torch.zeros(1, 10))
80
>>> count_params(nn.Linear(10, 4)), param_bytes(nn.Linear(10, 4))
(44, 176)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def count_flops(fn: Callable[..., Any] | nn.Module, *args: Any, **kwargs: Any) -> int:
    """FLOPs of one call ``fn(*args, **kwargs)`` (no gradients)."""
    with FlopCounterMode(display=False) as counter:
        fn(*args, **kwargs)
    return int(counter.get_total_flops())


def _tensors(modules: nn.Module | Iterable[nn.Module], buffers: bool) -> list[torch.Tensor]:
    if isinstance(modules, nn.Module):
        modules = [modules]
    seen: set[int] = set()
    out: list[torch.Tensor] = []
    for m in modules:
        tensors = list(m.parameters()) + (list(m.buffers()) if buffers else [])
        for t in tensors:
            if id(t) not in seen:
                seen.add(id(t))
                out.append(t)
    return out


def count_params(modules: nn.Module | Iterable[nn.Module]) -> int:
    """Number of parameters of a module or modules (tensors shared between them counted once)."""
    return sum(t.numel() for t in _tensors(modules, buffers=False))


def param_bytes(modules: nn.Module | Iterable[nn.Module]) -> int:
    """Bytes of parameters **and** buffers (what a device must store), shared tensors once."""
    return sum(t.numel() * t.element_size() for t in _tensors(modules, buffers=True))
