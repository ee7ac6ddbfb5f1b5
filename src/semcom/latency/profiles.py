"""Compute profiles of devices and edge servers: effective FLOP/s, each with its source.

Sustained throughput of CNN inference is far below a chip's peak, so every shipped profile states
the peak from its datasheet and the utilisation assumed to get an effective rate. These are
modelling inputs, not measurements; ``this-cpu`` is measured on the machine running the code.

>>> get_profile("jetson-nano").flops_per_s
59000000000.0
>>> get_profile(1e9).name
'1e+09 FLOP/s'
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class ComputeProfile:
    """A compute resource as seen by the latency model.

    Attributes:
        name: profile name used in configs (``eval.devices``, ``eval.edge``).
        flops_per_s: effective sustained FLOP/s for CNN inference (FLOPs as counted by
            ``torch.utils.flop_counter``: a multiply-accumulate is 2 FLOPs).
        description: what the profile stands for.
        source: where the peak figure comes from and how the effective rate was derived.
    """

    name: str
    flops_per_s: float
    description: str = ""
    source: str = ""

    def compute_time_s(self, flops: float) -> float:
        """Seconds to run ``flops`` FLOPs on this resource."""
        return float(flops) / self.flops_per_s


PROFILES: dict[str, ComputeProfile] = {
    p.name: p
    for p in (
        ComputeProfile(
            "iot-mcu",
            2.4e8,
            "microcontroller-class IoT node: Arm Cortex-M7 at 480 MHz (STM32H7), FP32 CNN",
            "STMicroelectronics STM32H743xI datasheet DS12110 (Cortex-M7 with FPU at up to 480 "
            "MHz): peak 2 FLOP/cycle (single-precision FMA) = 0.96 GFLOP/s; 25% sustained on "
            "convolution kernels (CMSIS-NN class code) assumed -> 0.24 GFLOP/s",
        ),
        ComputeProfile(
            "raspberry-pi-4",
            4.8e9,
            "Raspberry-Pi-class board: 4x Arm Cortex-A72 at 1.5 GHz (BCM2711), FP32 CNN",
            "Raspberry Pi 4 Model B product brief (BCM2711, quad Cortex-A72 at 1.5 GHz): peak 4 "
            "cores x 1.5 GHz x 8 FP32 FLOP/cycle (128-bit NEON FMA) = 48 GFLOP/s; 10% sustained "
            "for framework CNN inference assumed -> 4.8 GFLOP/s",
        ),
        ComputeProfile(
            "jetson-nano",
            5.9e10,
            "Jetson-class module: NVIDIA Jetson Nano, 128-core Maxwell GPU at 921 MHz",
            "NVIDIA Jetson Nano module datasheet: 472 GFLOP/s FP16 peak, i.e. 236 GFLOP/s FP32; "
            "25% sustained at batch 1 assumed -> 59 GFLOP/s",
        ),
        ComputeProfile(
            "edge-gpu",
            2.4e12,
            "edge GPU server: one NVIDIA T4 (Turing, 70 W)",
            "NVIDIA T4 Tensor Core GPU datasheet: 8.1 TFLOP/s FP32 peak; 30% sustained for small-"
            "batch CNN inference assumed -> 2.4 TFLOP/s",
        ),
    )
}


def profile_names() -> list[str]:
    """Names :func:`get_profile` accepts (``this-cpu`` is measured on first use)."""
    return [*PROFILES, "this-cpu"]


@cache
def _this_cpu() -> ComputeProfile:
    return measure_cpu_profile()


def measure_cpu_profile(name: str = "this-cpu", repeats: int = 5) -> ComputeProfile:
    """Measure this CPU's sustained FLOP/s on a ResNet-like 3×3 convolution workload.

    Runs ``conv3x3(64 → 64)`` + ReLU twice on a ``[16, 64, 32, 32]`` batch (≈2.4 GFLOP) with the
    current ``torch`` thread count, best of ``repeats`` after a warm-up.
    """
    net = nn.Sequential(
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU()
    ).eval()
    x = torch.randn(16, 64, 32, 32)
    with torch.no_grad():
        with FlopCounterMode(display=False) as counter:
            net(x)
        flops = counter.get_total_flops()
        net(x)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            net(x)
            best = min(best, time.perf_counter() - t0)
    return ComputeProfile(
        name,
        flops / best,
        f"this machine's CPU, {torch.get_num_threads()} torch threads",
        f"measured by semcom.latency.measure_cpu_profile (3x3 conv workload, best of {repeats})",
    )


def get_profile(profile: str | float | int | ComputeProfile) -> ComputeProfile:
    """A profile by name, a number of FLOP/s, or a :class:`ComputeProfile` passed through."""
    if isinstance(profile, ComputeProfile):
        return profile
    if isinstance(profile, (int, float)) and not isinstance(profile, bool):
        if not profile > 0:
            raise ValueError(f"a compute profile given as FLOP/s must be > 0, got {profile}")
        return ComputeProfile(f"{float(profile):g} FLOP/s", float(profile), "given as FLOP/s")
    if profile == "this-cpu":
        return _this_cpu()
    try:
        return PROFILES[profile]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown compute profile {profile!r}; allowed: {', '.join(profile_names())} "
            "or a number of FLOP/s"
        ) from None
