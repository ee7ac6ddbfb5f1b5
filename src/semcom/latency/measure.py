"""Measure this CPU's sustained FLOP/s on a ResNet-like convolution workload.

The workload is a ResNet basic block (3×3 conv → batch norm → ReLU → 3×3 conv → batch norm,
identity skip, ReLU) at 64 channels on ``[batch, 64, 32, 32]`` inputs, in ``float32``, eval mode,
without gradients. Its FLOPs are counted with ``torch.utils.flop_counter`` (2 per multiply-
accumulate; batch norm, ReLU and the skip add are not counted), so the effective rate includes
their cost, as the latency model needs: ``seconds = counted FLOPs / effective FLOP/s``.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from semcom.latency.profile import ComputeProfile


class _BasicBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


def measure_cpu_profile(
    name: str = "this-cpu",
    seconds: float = 1.0,
    *,
    batch: int = 8,
    threads: int | None = None,
    min_runs: int = 3,
) -> ComputeProfile:
    """Sustained FLOP/s of this CPU on a ResNet basic block, as a :class:`ComputeProfile`.

    Args:
        name: the returned profile's name.
        seconds: time budget for the timed runs, s (after one untimed warm-up run); at least
            ``min_runs`` runs are timed even if they take longer.
        batch: images per run (inputs ``[batch, 64, 32, 32]``, ≈0.15 GFLOP per image).
        threads: torch intra-op threads to use while measuring (restored afterwards); ``None``
            keeps the current setting, the one :func:`semcom.eval.evaluate.time_system` uses.
        min_runs: minimum number of timed runs.

    Returns:
        A profile whose ``flops_per_s`` is the median over runs of counted FLOPs / wall time.
        The global RNG state is left unchanged (weights and inputs come from a private stream).
    """
    if not seconds >= 0 or batch < 1 or min_runs < 1:
        raise ValueError(
            f"need seconds >= 0, batch >= 1 and min_runs >= 1, got {seconds}, {batch}, {min_runs}"
        )
    previous_threads = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        torch.set_num_threads(threads)
    try:
        with torch.random.fork_rng(devices=[]), torch.no_grad():
            torch.manual_seed(0)
            net = _BasicBlock(64).eval()
            x = torch.randn(batch, 64, 32, 32)
            with FlopCounterMode(display=False) as counter:
                net(x)
            flops = counter.get_total_flops()
            net(x)  # warm-up
            rates: list[float] = []
            start = time.perf_counter()
            while len(rates) < min_runs or time.perf_counter() - start < seconds:
                t0 = time.perf_counter()
                net(x)
                rates.append(flops / max(time.perf_counter() - t0, 1e-9))
        used_threads = torch.get_num_threads()
    finally:
        torch.set_num_threads(previous_threads)
    return ComputeProfile(
        name,
        statistics.median(rates),
        f"this machine's CPU, {used_threads} torch thread(s), float32",
        "measured by semcom.latency.measure_cpu_profile: ResNet basic block (2x conv3x3 64->64 "
        f"+ BN + ReLU + skip) on [{batch}, 64, 32, 32], median of {len(rates)} timed runs",
    )
