"""Additive white Gaussian noise channel."""

from __future__ import annotations

import torch

from semcom.channels.base import Channel, check_symbols
from semcom.channels.complex_utils import complex_normal
from semcom.channels.snr import Number, noise_variance


class AWGNChannel(Channel):
    """``y = z + w`` with ``w ~ CN(0, N0)``, ``N0 = 10^(-snr_db / 10)`` (see :mod:`~.snr`).

    Input ``z``: complex ``[B, ...]`` (usually ``[B, n]``, unit mean energy per sample).
    ``snr_db``: float, 0-d, or ``[B]`` tensor in dB (one SNR per sample). Output: complex, same
    shape. The noise is additive, so the output is differentiable w.r.t. ``z`` with identity
    Jacobian. Same convention as ``sionna.phy.channel.AWGN(x, no=N0)``.

    >>> ch = AWGNChannel()
    >>> z = torch.ones(2, 4, dtype=torch.complex64)
    >>> ch(z, 30.0, generator=torch.Generator().manual_seed(0)).shape
    torch.Size([2, 4])
    """

    def forward(
        self,
        z: torch.Tensor,
        snr_db: Number,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        check_symbols(z)
        n0 = noise_variance(snr_db, z)
        noise = complex_normal(z.shape, generator=generator, device=z.device, dtype=z.dtype)
        return z + noise * n0.sqrt()
