"""Sending a payload across the slots of a time-varying channel: each slot of ``slot_s`` seconds
carries what its own rate allows, and the payload has arrived once the slots' bits add up to it.

>>> import torch
>>> rates = torch.tensor([[1000.0, 0.0, 3000.0, 3000.0]])  # bit/s in each 1 s slot
>>> slotted_delivery_time(torch.tensor([2500.0]), rates, 1.0)  # 1000 + 0 + 1500 of 3000
tensor([2.5000], dtype=torch.float64)
>>> slotted_delivery_time(torch.tensor([9000.0]), rates, 1.0)  # more than the slots carry
tensor([inf], dtype=torch.float64)
"""

from __future__ import annotations

import torch


def slotted_delivery_time(
    bits: torch.Tensor, rate_bps: torch.Tensor, slot_s: float
) -> torch.Tensor:
    """Seconds until ``bits`` ``[N]`` have crossed slots of rates ``rate_bps`` ``[N, L]`` (bit/s,
    slot ``t`` from ``t · slot_s`` to ``(t + 1) · slot_s``), the last slot used only as far as
    needed; ``inf`` where the ``L`` slots carry less than ``bits``; 0 for nothing to send.
    float64 ``[N]``."""
    if slot_s <= 0:
        raise ValueError(f"slot_s must be > 0, got {slot_s}")
    bits = bits.to(torch.float64)
    per_slot = rate_bps.to(torch.float64) * slot_s  # bits each slot carries
    carried = per_slot.cumsum(dim=1)  # [N, L]: bits by the end of slot t
    # the slot in which the payload completes: the first whose running total reaches it
    last = torch.searchsorted(carried, bits[:, None].contiguous()).squeeze(1)  # [N]
    delivered = last < carried.shape[1]
    index = last.clamp(max=carried.shape[1] - 1)
    before = torch.where(
        index > 0, carried.gather(1, (index - 1).clamp(min=0)[:, None]).squeeze(1), 0.0
    )
    in_slot = per_slot.gather(1, index[:, None]).squeeze(1)
    fraction = torch.where(in_slot > 0, (bits - before) / in_slot, torch.zeros_like(bits))
    time = (index.to(torch.float64) + fraction) * slot_s
    time = torch.where(delivered, time, torch.full_like(time, float("inf")))
    return torch.where(bits > 0, time, torch.zeros_like(time))
