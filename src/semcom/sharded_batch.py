"""A training batch split across DDP ranks: per-sample random draws and batch means that do not
depend on the split.

Training draws noise for every sample: channel noise, erasure masks, quantisation noise, dropped
planes, per-sample SNRs. One process draws it for the whole batch ``[B, ...]`` from the global
RNG. Under DDP, rank ``r`` of ``W`` holds the samples ``r, r + W, ...`` of the same global batch
(:mod:`semcom.train.trainer`); inside :func:`batch_shard` every rank keeps the same global RNG,
and :func:`rand` / :func:`randn` / :func:`randint` draw for the **global** batch and return this
rank's rows. Every sample then gets exactly the noise one process gives it, and the RNG advances
by the same amount on every rank, so the ranks stay in step draw after draw.

Outside :func:`batch_shard`, with a ``generator`` (seeded evaluation draws), or when the first
dimension is not this rank's batch, these are plain ``torch`` draws. Draws that do not depend on
the batch (one noise level per step) need nothing: every rank draws the same value, as one
process does. A system that draws per-sample noise with ``torch.rand`` directly would give its
DDP ranks the same noise for different samples; the systems contract test catches that.

A statistic a system keeps over training batches (AECNN's channel importance, a running mean like
batch norm's) takes :func:`batch_mean`: the mean over the global batch (an ``all_reduce`` across
the ranks inside :func:`batch_shard`), the plain ``mean(0)`` elsewhere.

>>> _ = torch.manual_seed(0)
>>> whole = randn((4, 3))
>>> halves = []
>>> for r in (0, 1):
...     _ = torch.manual_seed(0)
...     with batch_shard(r, 2, 4):
...         halves.append(randn((2, 3)))
>>> bool(torch.equal(halves[1], whole[1::2]))
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Shard:
    """This process's share of a global batch: rows ``rank, rank + world, ...`` of ``batch``."""

    rank: int
    world: int
    batch: int

    @property
    def local(self) -> int:
        """Rows of the global batch this rank holds."""
        return len(range(self.rank, self.batch, self.world))


_SHARD: ContextVar[Shard | None] = ContextVar("semcom_batch_shard", default=None)


@contextlib.contextmanager
def batch_shard(rank: int, world: int, batch: int) -> Iterator[Shard]:
    """Within the context, batch draws are those of a ``batch``-sample global batch, sliced to
    rank ``rank`` of ``world`` (module docstring)."""
    if not 0 <= rank < world or batch < world:
        raise ValueError(f"rank {rank} of {world} cannot hold a share of a batch of {batch}")
    shard = Shard(rank, world, batch)
    token = _SHARD.set(shard)
    try:
        yield shard
    finally:
        _SHARD.reset(token)


def _global(shape: Sequence[int], generator: torch.Generator | None) -> tuple[tuple, Shard | None]:
    shape = tuple(int(s) for s in shape)
    shard = _SHARD.get()
    if generator is not None or shard is None or not shape or shape[0] != shard.local:
        return shape, None
    return (shard.batch, *shape[1:]), shard


def _rows(draws: torch.Tensor, shard: Shard | None) -> torch.Tensor:
    return draws if shard is None else draws[shard.rank :: shard.world].contiguous()


def rand(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``torch.rand(shape)`` of a batch ``[B, ...]`` (module docstring)."""
    full, shard = _global(shape, generator)
    return _rows(torch.rand(full, generator=generator, device=device, dtype=dtype), shard)


def randn(
    shape: Sequence[int],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``torch.randn(shape)`` of a batch ``[B, ...]`` (module docstring; complex dtypes too)."""
    full, shard = _global(shape, generator)
    return _rows(torch.randn(full, generator=generator, device=device, dtype=dtype), shard)


def randint(
    low: int,
    high: int,
    shape: Sequence[int],
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``torch.randint(low, high, shape)`` of a batch ``[B, ...]`` (module docstring)."""
    full, shard = _global(shape, generator)
    return _rows(torch.randint(low, high, full, generator=generator, device=device), shard)


@torch.no_grad()
def batch_mean(values: torch.Tensor) -> torch.Tensor:
    """``values [B, ...]`` averaged over the global batch (module docstring); no gradient."""
    shard = _SHARD.get()
    if shard is None or shard.world == 1 or values.shape[0] != shard.local:
        return values.mean(0)
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return values.mean(0)
    total = values.sum(0)
    dist.all_reduce(total)
    return total / shard.batch
