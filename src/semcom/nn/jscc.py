"""The deep-JSCC analog link shared by JSCC systems (LSSC, and later FFMNet / BottleNet++).

A JSCC encoder outputs a real tensor ``[B, ...]``; :class:`JSCCLink` sends it over a channel of
:mod:`semcom.channels` as an analog transmission and hands the decoder a real tensor of the same
shape::

    real [B, ...] --real_to_complex--> complex [B, n] --normalize_power--> unit power per sample
        --channel(z, snr_db)--> received [B, n] --complex_to_real--> real [B, ...]

* **Channel uses.** ``m`` real elements per sample become ``n = ceil(m / 2)`` complex symbols
  (consecutive pairs, :func:`semcom.channels.real_to_complex`); ``n`` is the number of channel uses
  per sample. The channel bandwidth ratio (CBR) is ``n / source_elements`` (complex symbols per
  real source element, e.g. ``768 / 3072 = 1/4`` for a ``3×32×32`` image).
* **Power.** Every sample has unit mean energy per complex symbol before the noise (so ``snr_db``
  is ``Es / N0`` in dB with ``Es = 1``, ``N0 = 10^(-snr_db / 10)``), whatever the encoder's scale.
* **Channels.** Any channel module of :mod:`semcom.channels`; by name: ``awgn``; ``rayleigh``
  (block fading, one ``h ~ CN(0, 1)`` per sample, receiver equalises with perfect CSI by zero
  forcing); ``rayleigh-nocsi`` (block Rayleigh, the receiver gets ``h z + w`` unchanged).
* ``snr_db``: a float or one SNR per sample, ``[B]`` (dB). Everything is differentiable w.r.t. the
  encoder output (the noise is additive; equalisation divides by a constant gain).

The maths (pairing, power normalisation, noise, fading) lives in :mod:`semcom.channels`; this
module only chains it and keeps the bookkeeping (shapes, channel uses).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from semcom.channels import (
    FadingChannel,
    GaussMarkovFadingChannel,
    as_per_sample_snr,
    build_channel,
    complex_to_real,
    normalize_power,
    real_to_complex,
)

#: Channel modules whose ``forward`` can return the gains (``return_h=True``).
FADING_WITH_GAINS = (FadingChannel, GaussMarkovFadingChannel)
#: Channel names :class:`JSCCLink` builds itself → (``build_channel`` name, its parameters).
LINK_CHANNELS: dict[str, tuple[str, dict[str, Any]]] = {
    "awgn": ("awgn", {}),
    "rayleigh": ("rayleigh", {"coherence": "block", "csi": "perfect", "equalizer": "zf"}),
    "rayleigh-nocsi": ("rayleigh", {"coherence": "block", "csi": "none"}),
}


def link_channel(name: str) -> nn.Module:
    """Channel module for a JSCC link name: ``awgn``, ``rayleigh`` (block, perfect CSI, ZF) or
    ``rayleigh-nocsi`` (block, no CSI).

    >>> link_channel("rayleigh")
    FadingChannel(kind='rayleigh', coherence='block', csi='perfect', equalizer='zf')
    >>> link_channel("rician")
    Traceback (most recent call last):
    ...
    ValueError: channel must be one of 'awgn', 'rayleigh', 'rayleigh-nocsi', got 'rician'
    """
    if name not in LINK_CHANNELS:
        options = ", ".join(repr(n) for n in LINK_CHANNELS)
        raise ValueError(f"channel must be one of {options}, got {name!r}")
    config_name, params = LINK_CHANNELS[name]
    return build_channel(config_name, **params)


def channel_uses_for(elements: int | Sequence[int]) -> int:
    """Complex channel uses of one sample of ``elements`` reals (an int, or a per-sample shape
    such as ``(C, H, W)``): ``ceil(m / 2)``.

    >>> channel_uses_for(1536), channel_uses_for((3, 7, 7))
    (768, 74)
    """
    m = elements if isinstance(elements, int) else math.prod(elements)
    if m < 0:
        raise ValueError(f"elements must be >= 0, got {m}")
    return (m + 1) // 2


def bandwidth_ratio(channel_uses: int, source_elements: int) -> float:
    """Channel bandwidth ratio: complex symbols per real source element (e.g. ``C·H·W``).

    >>> bandwidth_ratio(768, 3 * 32 * 32)
    0.25
    """
    if source_elements <= 0 or channel_uses < 0:
        raise ValueError(
            f"need source_elements > 0 and channel_uses >= 0, got {source_elements}, {channel_uses}"
        )
    return channel_uses / source_elements


class JSCCLink(nn.Module):
    """Analog link: real encoder output ``[B, ...]`` → channel → real tensor of the same shape.

    Args:
        channel: a channel module of :mod:`semcom.channels` (anything called as
            ``channel(z, snr_db, generator=...)``), or a name of :func:`link_channel`
            (``awgn``, ``rayleigh``, ``rayleigh-nocsi``).

    No parameters. ``forward(x, snr_db)`` is the differentiable training graph; :meth:`encode` and
    :meth:`decode` are its device and edge halves (``analog_encode`` / ``analog_decode`` of a
    system).

    >>> link = JSCCLink("awgn")
    >>> x = torch.randn(2, 6, 4, 4)
    >>> link(x, torch.tensor([10.0, 20.0])).shape, link.channel_uses(x.shape[1:])
    (torch.Size([2, 6, 4, 4]), 48)
    """

    def __init__(self, channel: nn.Module | str = "awgn") -> None:
        super().__init__()
        self.channel = link_channel(channel) if isinstance(channel, str) else channel

    @staticmethod
    def channel_uses(sample_shape: int | Sequence[int]) -> int:
        """Complex channel uses per sample for encoder outputs of ``sample_shape`` (no batch)."""
        return channel_uses_for(sample_shape)

    @staticmethod
    def encode(x: torch.Tensor) -> torch.Tensor:
        """Device half: real ``[B, ...]`` → unit-power complex symbols ``[B, ceil(m / 2)]`` (each
        sample has mean ``|z|^2 = 1``)."""
        return normalize_power(real_to_complex(x))

    @staticmethod
    def decode(received: torch.Tensor, shape: Sequence[int] | torch.Size) -> torch.Tensor:
        """Edge half: received complex symbols ``[B, n]`` → real tensor of ``shape`` (the full
        shape of what was encoded, batch included)."""
        return complex_to_real(received, shape)

    @staticmethod
    def bandwidth_ratio(sample_shape: int | Sequence[int], source_elements: int) -> float:
        """Channel bandwidth ratio of encoder outputs of ``sample_shape`` for a source of
        ``source_elements`` reals (e.g. ``C·H·W``): channel uses per source element."""
        return bandwidth_ratio(channel_uses_for(sample_shape), source_elements)

    def forward(
        self,
        x: torch.Tensor,
        snr_db: float | torch.Tensor,
        generator: torch.Generator | None = None,
        return_h: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Send ``x`` ``[B, ...]`` (real) at ``snr_db`` (float or ``[B]``, dB) → received reals of
        ``x.shape``, in the power-normalised domain (mean energy ``1/2`` per real element before
        noise). Differentiable w.r.t. ``x``.

        With ``return_h`` also the complex channel gains (``[B, 1]`` for block fading, ``[B, n]``
        per symbol for fast fading, ones ``[B, 1]`` for channels without fading), for decoders
        that are fed CSI."""
        snr = as_per_sample_snr(snr_db, x.shape[0], device=x.device)
        z = self.encode(x)
        if return_h and isinstance(self.channel, FADING_WITH_GAINS):
            received, h = self.channel(z, snr, generator=generator, return_h=True)
        else:
            received = self.channel(z, snr, generator=generator)
            h = torch.ones(z.shape[0], 1, dtype=z.dtype, device=z.device)
        y = self.decode(received, x.shape).to(x.dtype)
        return (y, h) if return_h else y

    def extra_repr(self) -> str:
        return "real -> complex pairs -> unit power per sample -> channel -> real"
