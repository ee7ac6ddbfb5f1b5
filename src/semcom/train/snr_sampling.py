"""SNR drawn per sample for noise-aware training."""

from __future__ import annotations

import torch


def sample_snr_db(
    batch: int,
    snr_range_db: tuple[float, float] | None,
    generator: torch.Generator | None = None,
) -> torch.Tensor | None:
    """``[B]`` SNRs in dB, uniform in ``[lo, hi]``; ``None`` when no range is given.

    >>> s = sample_snr_db(4, (0.0, 10.0), torch.Generator().manual_seed(0))
    >>> bool(((s >= 0) & (s <= 10)).all()), s.shape
    (True, torch.Size([4]))
    """
    if snr_range_db is None:
        return None
    lo, hi = snr_range_db
    if hi < lo:
        raise ValueError(f"snr_db range must be [lo, hi] with lo <= hi, got {snr_range_db}")
    return lo + (hi - lo) * torch.rand(batch, generator=generator)
