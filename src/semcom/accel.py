"""Where networks run: ``device: auto | cpu | cuda[:N] | mps`` (config) and ``--device`` (commands).

``auto`` picks CUDA when it is available, then Apple's MPS, else the CPU. Asking for an
accelerator that is not there is an error naming what is available, never a silent fall-back.
Entropy coding, payloads and image codecs stay on the CPU with integer tables whatever the device,
so a stream coded on a GPU machine decodes bit-exactly on a CPU one.

>>> check_device_name("cuda:1"), check_device_name("auto")
('cuda:1', 'auto')
>>> resolve_device("cpu")
device(type='cpu')
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import torch

DEVICE_NAMES = "auto, cpu, cuda, cuda:N, mps"
_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


class DeviceError(ValueError):
    """A device that is unknown or not available here."""


def check_device_name(name: str) -> str:
    """``name`` if it is a device name this project accepts (not whether it is present)."""
    if not isinstance(name, str) or not _PATTERN.match(name.strip().lower()):
        raise DeviceError(f"device must be one of {DEVICE_NAMES}, got {name!r}")
    return name.strip().lower()


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """The devices present on this machine (``cpu`` always)."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        found.append("mps")
    return found


def resolve_device(name: str = "auto") -> torch.device:
    """The :class:`torch.device` of ``name`` (``auto``: CUDA, MPS, else CPU)."""
    name = check_device_name(name)
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name.startswith("cuda"):
        index = int(name.split(":")[1]) if ":" in name else 0
        if not torch.cuda.is_available() or index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {name!r} is not available; here: {', '.join(available_devices())}"
            )
    if name == "mps" and not _mps_available():
        raise DeviceError(f"device 'mps' is not available; here: {', '.join(available_devices())}")
    return torch.device(name)


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool, cpu: bool = False) -> Iterator[None]:
    """Mixed precision for a training step on ``device`` when ``enabled`` (CUDA: float16, MPS:
    bfloat16). On the CPU a no-op unless ``cpu`` (then bfloat16, whatever ``enabled`` says), so
    CPU results never depend on ``enabled``: the CPU's precision is its own choice."""
    if device.type == "cpu":
        if not cpu:
            yield
            return
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            yield
        return
    if not enabled:
        yield
        return
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


@contextlib.contextmanager
def full_precision(device: torch.device) -> Iterator[None]:
    """Autocast off on ``device`` for a region whose numerics matter under mixed-precision
    training (entropy-model likelihoods: a CDF difference in bfloat16 keeps ~3 significant
    digits). Callers cast their low-precision inputs up with :func:`at_least_float32`."""
    with torch.autocast(device_type=device.type, enabled=False):
        yield


def at_least_float32(x: torch.Tensor) -> torch.Tensor:
    """``x`` as float32 when it is a float16 / bfloat16 tensor, else unchanged."""
    return x.float() if x.is_floating_point() and x.element_size() < 4 else x
