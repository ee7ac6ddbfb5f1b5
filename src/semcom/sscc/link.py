"""The project's channels as the digital receiver sees them: equalised symbols + noise variance.

The SSCC systems use :mod:`semcom.channels` (so the SNR convention is the project's:
``N0 = 10^(-snr_db/10)``, noise ``CN(0, N0)``, unit-energy symbols) and need, besides the received
symbols, the per-symbol noise variance of what the demapper sees:

* ``awgn``: ``y = z + w`` → variance ``N0``;
* ``rayleigh`` / ``rician`` / ``gauss-markov`` with ``csi: perfect``: the channel returns its gains
  ``h`` (``return_h=True``); after zero forcing ``y / h = z + w / h`` the variance is
  ``N0 / |h|^2`` per symbol (``[B, 1]`` for block fading, ``[B, n]`` for fast fading). An MMSE
  equaliser's output is rescaled by ``(|h|^2 + N0) / |h|^2``, which turns it into exactly the
  zero-forcing output (same variance).
* ``csi: none`` is refused: without CSI a coherent QAM receiver has nothing to equalise with.
  Channels without gains (erasure channels) are refused too.
"""

from __future__ import annotations

import torch
from torch import nn

from semcom.channels import AWGNChannel, noise_variance

#: Channel config names the SSCC systems run on.
SUPPORTED_CHANNELS = "awgn, rayleigh, rician, gauss-markov (the fading ones with csi: perfect)"


class UnsupportedChannelError(ValueError):
    """The channel cannot carry the digital link (no CSI, or not a symbol channel)."""


def _check_channel(channel: nn.Module) -> bool:
    """``True`` for a fading channel with perfect CSI, ``False`` for AWGN; raises otherwise."""
    if isinstance(channel, AWGNChannel):
        return False
    csi = getattr(channel, "csi", None)
    if csi is None:
        raise UnsupportedChannelError(
            f"the SSCC link runs on {SUPPORTED_CHANNELS}; got {type(channel).__name__}"
        )
    if csi != "perfect":
        raise UnsupportedChannelError(
            f"the SSCC link needs csi: perfect (a coherent QAM receiver equalises with the "
            f"channel gains); got csi: {csi!r} on {type(channel).__name__}"
        )
    return True


def channel_refusal(channel: nn.Module) -> str | None:
    """Why the SSCC link cannot run on ``channel`` (``None``: it can)."""
    try:
        _check_channel(channel)
    except UnsupportedChannelError as exc:
        return str(exc)
    return None


def receive(
    channel: nn.Module,
    symbols: torch.Tensor,
    snr_db: torch.Tensor,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Send ``symbols`` complex ``[B, n]`` through ``channel`` at ``snr_db`` ``[B]`` (dB).

    Returns the equalised received symbols complex ``[B, n]``, the per-symbol noise variance
    float ``[B, 1]`` or ``[B, n]`` (module docstring), and the power gains ``|h|^2`` with the same
    shape (ones for AWGN).
    """
    fading = _check_channel(channel)
    n0 = noise_variance(snr_db, symbols)
    if n0.dim() == 0:
        n0 = n0.expand(symbols.shape[0]).reshape(-1, 1)
    if not fading:
        y = channel(symbols, snr_db, generator=generator)
        return y, n0, torch.ones_like(n0)
    y, h = channel(symbols, snr_db, generator=generator, return_h=True)
    gain = (h.real.square() + h.imag.square()).clamp_min(1e-30)
    if getattr(channel, "equalizer", "zf") == "mmse":
        y = y * ((gain + n0) / gain)
    return y, n0 / gain, gain


def power_gains(
    channel: nn.Module,
    batch: int,
    n: int,
    snr_db: torch.Tensor,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Power gains ``|h|^2`` a transmission of ``n`` symbols per sample sees: ``[B, 1]`` (AWGN:
    ones; block fading: one draw per sample) or ``[B, n]`` (fast / Gauss–Markov fading), drawn
    by the channel itself with ``generator``."""
    if not _check_channel(channel):
        return torch.ones(batch, 1)
    _, _, gain = receive(channel, torch.zeros(batch, n, dtype=torch.complex64), snr_db, generator)
    return gain
