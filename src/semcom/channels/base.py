"""Common base of the channel modules."""

from __future__ import annotations

import torch
from torch import nn


class Channel(nn.Module):
    """A channel: an ``nn.Module`` without trainable parameters.

    Subclasses implement ``forward(z, snr_db, generator=None)`` (received symbols, same shape as
    ``z``) and :meth:`power_gain`. All randomness comes from the optional ``torch.Generator``
    (which must live on the device of the input); with ``generator=None`` the global RNG is used.
    """

    def power_gain(
        self,
        n: int,
        generator: torch.Generator | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> torch.Tensor:
        """Per-sample power gains ``|h|^2`` ``[n]`` (dimensionless) for a link-rate model.

        The base channel has no fading: all ones.
        """
        return torch.ones(int(n), device=device, dtype=dtype)


def check_symbols(z: torch.Tensor) -> None:
    """Raise unless ``z`` is a complex tensor with a batch dimension."""
    if not isinstance(z, torch.Tensor) or not z.is_complex():
        raise TypeError(
            "channels take complex symbols [B, n]; convert real tensors with real_to_complex "
            "(or use apply_channel)"
        )
    if z.dim() < 1:
        raise ValueError("channel input needs a batch dimension, got a 0-d tensor")
