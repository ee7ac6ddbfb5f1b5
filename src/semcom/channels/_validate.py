"""Parameter checks shared by the channel constructors.

Every check raises :class:`ValueError` whose message starts with the name of the offending field
and, for choices, lists the allowed values, e.g. ``csi must be one of 'perfect', 'none', got
'full'``. Configuration files reach the constructors through :func:`~semcom.channels.build_channel`,
so these messages are what a user sees for a typo in a config.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any


def check_choice(field: str, value: Any, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings ``allowed``, else raise ``ValueError``.

    >>> check_choice("csi", "none", ("perfect", "none"))
    'none'
    >>> check_choice("csi", "full", ("perfect", "none"))
    Traceback (most recent call last):
    ...
    ValueError: csi must be one of 'perfect', 'none', got 'full'
    """
    if not isinstance(value, str) or value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{field} must be one of {options}, got {value!r}")
    return value


def check_real(
    field: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` within the given bounds, else raise ``ValueError``.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``.

    >>> check_real("p", 0.25, low=0.0, high=1.0)
    0.25
    >>> check_real("p", 1.5, low=0.0, high=1.0)
    Traceback (most recent call last):
    ...
    ValueError: p must be a number in [0.0, 1.0], got 1.5
    """
    lo = "(" if low_open else "["
    hi = ")" if high_open else "]"
    span = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(float(value))
    if ok:
        v = float(value)
        if low is not None and (v < low or (low_open and v == low)):
            ok = False
        if high is not None and (v > high or (high_open and v == high)):
            ok = False
    if not ok:
        raise ValueError(f"{field} must be a number in {span}, got {value!r}")
    return float(value)


def check_int(field: str, value: Any, *, low: int = 1) -> int:
    """Return ``value`` as an ``int`` ``>= low``, else raise ``ValueError``.

    >>> check_int("packet_bytes", 0)
    Traceback (most recent call last):
    ...
    ValueError: packet_bytes must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or int(value) < low:
        raise ValueError(f"{field} must be an integer >= {low}, got {value!r}")
    return int(value)


def check_bool(field: str, value: Any) -> bool:
    """Return ``value`` if it is a ``bool``, else raise ``ValueError``."""
    if not isinstance(value, bool):
        raise ValueError(f"{field} must be true or false, got {value!r}")
    return value
