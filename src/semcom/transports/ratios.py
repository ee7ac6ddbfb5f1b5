"""The rate conventions of DESIGN.md as functions: compression ratio and bandwidth ratio.

>>> compression_ratio(split_elements=32 * 14 * 14, payload_bits=1024.0)
196.0
>>> channel_bandwidth_ratio(source_elements=3 * 32 * 32, complex_symbols=512)
0.16666666666666666
>>> raw_clip_ratio(input_elements=3 * 16 * 32 * 32, payload_bits=3072.0)
128.0
"""

from __future__ import annotations


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


def raw_clip_ratio(input_elements: int, payload_bits: float) -> float:
    """Video's compression ratio: bits of the raw uint8 clip at the classifier's input
    (``8 · C·T·H·W``) divided by the payload bits (issue 18; ``ratio_kind`` "raw uint8 clip bits
    per payload bit")."""
    if payload_bits <= 0 or input_elements <= 0:
        raise ValueError(
            f"need input_elements > 0 and payload_bits > 0, got {input_elements}, {payload_bits}"
        )
    return 8.0 * input_elements / float(payload_bits)


def channel_bandwidth_ratio(source_elements: int, complex_symbols: int) -> float:
    """CBR: complex channel symbols per source element (channel uses ÷ source elements).

    ``source_elements`` is usually the input image's ``C·H·W`` (real values); ``complex_symbols``
    the channel uses per sample. The bandwidth ratio of deep JSCC, e.g. 1/6 or 1/12.
    """
    if source_elements <= 0 or complex_symbols < 0:
        raise ValueError(
            f"need source_elements > 0 and complex_symbols >= 0, got {source_elements}, "
            f"{complex_symbols}"
        )
    return complex_symbols / source_elements
