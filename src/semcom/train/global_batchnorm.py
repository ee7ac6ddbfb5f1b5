"""Batch norm over the global batch under DDP (``train.sync_bn``).

With plain batch norm each DDP rank normalises its share of the step's batch with that share's
statistics, so two ranks of 64 samples do not compute what one process does with 128.
:func:`global_batchnorm` swaps every batch-norm layer of a model, for the duration of a phase,
for one that normalises with the mean and variance of the whole global batch (all ranks) and
back-propagates through them:

* on CUDA (and other accelerators) torch's own :class:`torch.nn.SyncBatchNorm`;
* on the CPU, where torch's refuses to run, :class:`GlobalBatchNorm` here: each rank gathers
  every rank's sample count, mean and sum of squared deviations (``all_gather`` from
  :mod:`torch.distributed.nn`, which carries gradients back to the rank that sent them), combines
  them exactly (Chan et al.'s parallel variance) and normalises with the result. Running
  statistics are updated as :func:`torch.nn.functional.batch_norm` does (biased variance to
  normalise, unbiased into ``running_var``; ``momentum=None`` is a cumulative average).

The replacement layers hold the very same parameter and buffer tensors as the layers they stand in
for, so optimisers, state dicts and checkpoints do not see the swap; the original layers are put
back (in the replacement's train / eval mode) when the context exits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm


class GlobalBatchNorm(nn.Module):
    """Batch norm whose training statistics span every DDP rank (module docstring; CPU-capable).

    Built from an existing batch-norm layer ``bn`` and sharing its tensors. Input ``[B, C, ...]``
    with ``B >= 1`` on every rank; the process group must be initialised.
    """

    running_mean: Tensor
    running_var: Tensor
    num_batches_tracked: Tensor

    def __init__(self, bn: _BatchNorm) -> None:
        super().__init__()
        self.num_features = bn.num_features
        self.eps = bn.eps
        self.momentum = bn.momentum
        self.track_running_stats = bn.track_running_stats
        self.weight = bn.weight
        self.bias = bn.bias
        self.register_buffer("running_mean", bn.running_mean)
        self.register_buffer("running_var", bn.running_var)
        self.register_buffer("num_batches_tracked", bn.num_batches_tracked)
        self.train(bn.training)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training and self.track_running_stats:
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        mean, var, unbiased_var = _global_moments(x)
        if self.training and self.track_running_stats:
            self._update_running_stats(mean.detach(), unbiased_var.detach())
        view = (1, -1) + (1,) * (x.dim() - 2)
        y = (x - mean.view(view)) * torch.rsqrt(var.view(view) + self.eps)
        if self.weight is not None:
            y = y * self.weight.view(view) + self.bias.view(view)
        return y

    @torch.no_grad()
    def _update_running_stats(self, mean: Tensor, unbiased_var: Tensor) -> None:
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        for buffer, value in ((self.running_mean, mean), (self.running_var, unbiased_var)):
            buffer.mul_(1 - factor).add_(value.to(buffer.dtype), alpha=factor)


def _global_moments(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-channel mean, biased and unbiased variance of ``x [B, C, ...]`` over all ranks."""
    from torch.distributed.nn.functional import all_gather

    dims = [0, *range(2, x.dim())]
    count = x.numel() // x.shape[1]
    local_mean = x.mean(dims)
    deviation = x - local_mean.view((1, -1) + (1,) * (x.dim() - 2))
    local_m2 = (deviation * deviation).sum(dims)
    stats = torch.cat([x.new_full((1,), float(count)), local_mean, local_m2])
    gathered = torch.stack(all_gather(stats))  # [world, 1 + 2C], gradients flow back
    channels = x.shape[1]
    counts, means, m2s = gathered[:, :1], gathered[:, 1 : 1 + channels], gathered[:, 1 + channels :]
    total = counts.sum()
    mean = (counts * means).sum(0) / total
    m2 = m2s.sum(0) + (counts * (means - mean) ** 2).sum(0)
    return mean, m2 / total, m2 / (total - 1).clamp_min(1)


def _synced(bn: _BatchNorm, device_type: str) -> nn.Module:
    if device_type == "cpu":
        return GlobalBatchNorm(bn)
    synced = nn.SyncBatchNorm(
        bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats
    )
    synced.weight, synced.bias = bn.weight, bn.bias
    synced.running_mean, synced.running_var = bn.running_mean, bn.running_var
    synced.num_batches_tracked = bn.num_batches_tracked
    synced.train(bn.training)
    return synced


@contextlib.contextmanager
def global_batchnorm(model: nn.Module, device_type: str = "cpu") -> Iterator[int]:
    """Within the context every batch-norm layer of ``model`` normalises over the global batch
    (module docstring); yields how many layers were swapped. A layer reachable from two parents
    gets one replacement."""
    replacement: dict[int, nn.Module] = {}
    swaps: list[tuple[nn.Module, str, _BatchNorm]] = []
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, _BatchNorm) and not isinstance(child, nn.SyncBatchNorm):
                if id(child) not in replacement:
                    replacement[id(child)] = _synced(child, device_type)
                setattr(parent, name, replacement[id(child)])
                swaps.append((parent, name, child))
    try:
        yield len(replacement)
    finally:
        for parent, name, original in reversed(swaps):
            original.train(getattr(parent, name).training)
            setattr(parent, name, original)
