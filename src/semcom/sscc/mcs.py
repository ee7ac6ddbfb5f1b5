"""Modulation and coding schemes: square QAM order × 5G LDPC code rate.

An :class:`MCS` is what the digital PHY of the SSCC baseline is configured with. The QAM order
``M`` sets ``log2(M)`` coded bits per complex channel use; the code rate ``r`` is the nominal
ratio of information bits (source bytes + CRC) to coded bits of each LDPC codeword (the layout
may use a slightly lower rate so that every codeword carries a whole number of bytes, see
:mod:`semcom.sscc.layout`).

>>> mcs = MCS(qam=16, rate=parse_rate(0.5))
>>> mcs.bits_per_symbol, mcs.label
(4, '16QAM-r1/2')
>>> parse_rate(0.333)
0.3333333333333333
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

#: QAM orders supported (Gray-labelled square constellations, unit average energy).
QAM_ORDERS: tuple[int, ...] = (4, 16, 64)
#: Nominal LDPC code rates supported, as fractions (5G NR BG1/BG2 with rate matching).
CODE_RATES: tuple[Fraction, ...] = (
    Fraction(1, 3),
    Fraction(1, 2),
    Fraction(2, 3),
    Fraction(3, 4),
    Fraction(5, 6),
)
#: How far a configured rate may be from an allowed one (so ``0.333`` means 1/3).
RATE_TOLERANCE = 2e-3


def allowed_rates_text() -> str:
    """The allowed code rates as text, e.g. ``"1/3, 1/2, 2/3, 3/4, 5/6"``."""
    return ", ".join(f"{r.numerator}/{r.denominator}" for r in CODE_RATES)


def parse_rate(rate: float | str) -> float:
    """The allowed code rate ``rate`` names (a float within :data:`RATE_TOLERANCE` of one, or a
    ``"p/q"`` string), as the exact float ``p / q``; ``ValueError`` naming the allowed rates
    otherwise."""
    try:
        value = float(Fraction(rate)) if isinstance(rate, str) else float(rate)
    except (ValueError, ZeroDivisionError, TypeError):
        value = math.nan
    for r in CODE_RATES:
        if abs(value - float(r)) <= RATE_TOLERANCE:
            return float(r)
    raise ValueError(f"ldpc_rate must be one of {allowed_rates_text()}, got {rate!r}")


def rate_fraction(rate: float) -> Fraction:
    """The allowed :class:`~fractions.Fraction` closest to ``rate`` (see :func:`parse_rate`)."""
    value = parse_rate(rate)
    return min(CODE_RATES, key=lambda r: abs(float(r) - value))


@dataclass(frozen=True)
class MCS:
    """A modulation and coding scheme.

    Attributes:
        qam: constellation size ``M`` in :data:`QAM_ORDERS`.
        rate: nominal LDPC code rate (information bits per coded bit), one of
            :data:`CODE_RATES` as a float.
    """

    qam: int
    rate: float

    def __post_init__(self) -> None:
        if self.qam not in QAM_ORDERS:
            raise ValueError(
                f"qam must be one of {', '.join(map(str, QAM_ORDERS))}, got {self.qam}"
            )
        object.__setattr__(self, "rate", parse_rate(self.rate))

    @property
    def bits_per_symbol(self) -> int:
        """Coded bits per complex channel use, ``log2(M)``."""
        return int(math.log2(self.qam))

    @property
    def spectral_efficiency(self) -> float:
        """Nominal information bits per channel use, ``rate · log2(M)`` (before CRC overhead)."""
        return self.rate * self.bits_per_symbol

    @property
    def label(self) -> str:
        """Short name, e.g. ``"16QAM-r1/2"``."""
        r = rate_fraction(self.rate)
        return f"{self.qam}QAM-r{r.numerator}/{r.denominator}"
