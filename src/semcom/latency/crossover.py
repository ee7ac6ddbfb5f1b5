"""The link rate at which two methods take equally long (e.g. a split system vs offloading).

Under the latency model a method takes ``T(R) = D + bits / R`` at rate ``R`` bit/s, where ``D`` is
its compute time (device + edge, s). Two methods cross where ``D_a + b_a / R = D_b + b_b / R``,
i.e. ``R* = (b_a - b_b) / (D_b - D_a)``.

>>> round(crossover_rate_bps(0.010, 1e3, 0.001, 1e5))  # split system vs offloading
11000000
"""

from __future__ import annotations


def crossover_rate_bps(
    compute_a_s: float, bits_a: float, compute_b_s: float, bits_b: float
) -> float | None:
    """Link rate (bit/s) at which ``compute_a_s + bits_a / R == compute_b_s + bits_b / R``.

    Below the crossover the method sending fewer bits is faster, above it the one computing less.
    Returns ``None`` when the two never cross at a positive finite rate (one is at least as fast
    at every rate, or they are identical).
    """
    if compute_a_s == compute_b_s:
        return None
    rate = (bits_a - bits_b) / (compute_b_s - compute_a_s)
    return rate if rate > 0 else None
