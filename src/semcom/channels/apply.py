"""Real tensor through a complex channel in one call: :func:`apply_channel`."""

from __future__ import annotations

import torch

from semcom.channels.complex_utils import (
    complex_to_real,
    mean_energy,
    normalize_power,
    real_to_complex,
)
from semcom.channels.factory import build_channel
from semcom.channels.snr import Number


def apply_channel(
    x: torch.Tensor,
    channel: torch.nn.Module | str,
    snr_db: Number,
    generator: torch.Generator | None = None,
    *,
    restore_scale: bool = False,
) -> torch.Tensor:
    """Send a real tensor ``x`` ``[B, ...]`` over ``channel`` as an analog (JSCC) link.

    ``real_to_complex`` (pairs of elements → ``ceil(m / 2)`` symbols per sample) →
    ``normalize_power`` (unit mean symbol energy per sample) → ``channel(z, snr_db, generator)``
    → ``complex_to_real`` back to ``x.shape``. ``channel`` is a channel module or a name for
    :func:`build_channel` (default parameters). ``snr_db``: float or ``[B]`` tensor (dB).

    The result is in the power-normalised domain (each sample's mean energy per *real* element is
    ``1/2`` before noise). With ``restore_scale=True`` it is multiplied back by each sample's
    original RMS symbol amplitude (a receiver that knows the transmit scale). Differentiable.

    >>> x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    >>> y = apply_channel(x, "awgn", 40.0, torch.Generator().manual_seed(1), restore_scale=True)
    >>> y.shape, bool((y - x).abs().max() < 0.1)
    (torch.Size([2, 3, 4, 4]), True)
    """
    if isinstance(channel, str):
        channel = build_channel(channel)
    z = real_to_complex(x)
    y = channel(normalize_power(z), snr_db, generator=generator)
    if restore_scale:
        rms = mean_energy(z).clamp_min(1e-12).sqrt()
        y = y * rms.reshape(-1, *([1] * (y.dim() - 1))).to(y.real.dtype)
    out = complex_to_real(y, x.shape)
    return out.to(x.dtype) if x.is_floating_point() else out
