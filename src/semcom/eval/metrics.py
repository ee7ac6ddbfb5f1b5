"""Task and link metrics with the conventions of DESIGN.md.

>>> compression_ratio(split_elements=32 * 14 * 14, payload_bits=1024.0)
196.0
>>> channel_bandwidth_ratio(source_elements=3 * 32 * 32, complex_symbols=512)
0.16666666666666666
"""

from __future__ import annotations

import torch


def top1_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of samples whose highest logit is the label; ``logits [B, K]``, ``labels [B]``."""
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"expected logits [B, K] and labels [B], got {tuple(logits.shape)} and "
            f"{tuple(labels.shape)}"
        )
    if len(labels) == 0:
        raise ValueError("top1_accuracy of an empty batch is undefined")
    return float((logits.argmax(1) == labels).float().mean())


def compression_ratio(split_elements: int, payload_bits: float) -> float:
    """Bits of the float32 tensor at the split (``32 · elements``) divided by the payload bits.

    For offloading baselines the split is the input image. Raises ``ValueError`` for a payload of
    zero or negative size (nothing sent: no ratio).
    """
    if payload_bits <= 0:
        raise ValueError(f"payload_bits must be > 0, got {payload_bits}")
    if split_elements <= 0:
        raise ValueError(f"split_elements must be > 0, got {split_elements}")
    return 32.0 * split_elements / float(payload_bits)


def channel_bandwidth_ratio(source_elements: int, complex_symbols: int) -> float:
    """Channel uses per source element (complex symbols ÷ source elements), the CBR of deep JSCC.

    ``source_elements`` is usually the input image's ``C·H·W``.
    """
    if source_elements <= 0 or complex_symbols < 0:
        raise ValueError(
            f"need source_elements > 0 and complex_symbols >= 0, got {source_elements}, "
            f"{complex_symbols}"
        )
    return complex_symbols / source_elements
