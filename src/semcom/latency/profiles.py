"""Shipped compute profiles (each with its source) and lookup by name or FLOP/s.

Sustained throughput of CNN inference is far below a chip's peak, so every shipped profile states
the peak from its datasheet and the utilisation assumed to get an effective rate. These are
modelling inputs, not measurements; ``this-cpu`` is measured on the machine running the code the
first time it is asked for (see :func:`semcom.latency.measure_cpu_profile`).

>>> get_profile("jetson-nano").flops_per_s
59000000000.0
>>> get_profile(1e9).name
'1e+09 FLOP/s'
>>> get_profile("2.5e9").flops_per_s
2500000000.0
"""

from __future__ import annotations

import math
from functools import cache

from semcom.latency.measure import measure_cpu_profile
from semcom.latency.profile import ComputeProfile

#: Name of the profile measured on this machine (lazily, once per process).
THIS_CPU = "this-cpu"

PROFILES: dict[str, ComputeProfile] = {
    p.name: p
    for p in (
        ComputeProfile(
            "iot-mcu",
            2.4e8,
            "microcontroller-class IoT node: Arm Cortex-M7 at 480 MHz (STM32H7), FP32 CNN",
            "STMicroelectronics STM32H743xI datasheet DS12110 (Cortex-M7 with double-precision "
            "FPU at up to 480 MHz): peak 2 FLOP/cycle (single-precision FMA) = 0.96 GFLOP/s; 25% "
            "sustained on convolution kernels assumed -> 0.24 GFLOP/s. Cross-check: CMSIS-NN "
            "(Lai, Suda, Chandra 2018, arXiv:1801.06601) runs an int8 CIFAR-10 CNN of ~12 M MACs "
            "at ~10 images/s on a 216 MHz Cortex-M7, ~0.25 G op/s, i.e. ~0.5 G op/s at 480 MHz "
            "for an int8 model (about 2x this FP32 figure)",
        ),
        ComputeProfile(
            "raspberry-pi-4",
            4.8e9,
            "Raspberry-Pi-class board: 4x Arm Cortex-A72 at 1.5 GHz (BCM2711), FP32 CNN",
            "Raspberry Pi 4 Model B product brief (BCM2711, quad Cortex-A72 at 1.5 GHz): peak 4 "
            "cores x 1.5 GHz x 8 FP32 FLOP/cycle (one 128-bit NEON FMA per cycle) = 48 GFLOP/s; "
            "10% sustained for framework CNN inference at batch 1 assumed -> 4.8 GFLOP/s",
        ),
        ComputeProfile(
            "jetson-nano",
            5.9e10,
            "Jetson-class module: NVIDIA Jetson Nano, 128-core Maxwell GPU at 921 MHz",
            "NVIDIA Jetson Nano module datasheet: 472 GFLOP/s FP16 peak (128 cores x 921.6 MHz x "
            "2 FLOP/FMA x 2 FP16 lanes), i.e. 236 GFLOP/s FP32; 25% sustained at batch 1 assumed "
            "-> 59 GFLOP/s. Power: the module's 10 W (maximum) power mode",
            power_w=10.0,
        ),
        ComputeProfile(
            "edge-gpu",
            2.4e12,
            "edge GPU server: one NVIDIA T4 (Turing, 70 W)",
            "NVIDIA T4 Tensor Core GPU datasheet: 8.1 TFLOP/s FP32 peak, 70 W maximum board "
            "power; 30% sustained for small-batch CNN inference assumed -> 2.4 TFLOP/s",
            power_w=70.0,
        ),
    )
}


def profile_names() -> list[str]:
    """Names :func:`get_profile` accepts (``this-cpu`` is measured on first use)."""
    return [*PROFILES, THIS_CPU]


@cache
def _this_cpu() -> ComputeProfile:
    return measure_cpu_profile(THIS_CPU)


def _as_flops_per_s(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def get_profile(profile: str | float | int | ComputeProfile) -> ComputeProfile:
    """A profile by name, a number of FLOP/s, or a :class:`ComputeProfile` passed through.

    A string that parses as a number (``"2.5e9"``) also means FLOP/s, so configs can name an
    arbitrary device. ``"this-cpu"`` measures this machine once per process and caches it.
    Raises ``ValueError`` (listing the allowed names) for anything else.
    """
    if isinstance(profile, ComputeProfile):
        return profile
    if isinstance(profile, str):
        if profile == THIS_CPU:
            return _this_cpu()
        if profile in PROFILES:
            return PROFILES[profile]
        number = _as_flops_per_s(profile)
        if number is None:
            raise ValueError(
                f"unknown compute profile {profile!r}; allowed: {', '.join(profile_names())} "
                "or a number of FLOP/s"
            )
        profile = number
    if isinstance(profile, (int, float)) and not isinstance(profile, bool):
        if not (profile > 0 and math.isfinite(profile)):
            raise ValueError(
                f"a compute profile given as FLOP/s must be finite and > 0, got {profile}"
            )
        return ComputeProfile(f"{float(profile):g} FLOP/s", float(profile), "given as FLOP/s")
    raise ValueError(
        f"a compute profile is a name ({', '.join(profile_names())}), a number of FLOP/s or a "
        f"ComputeProfile, got {type(profile).__name__}"
    )
