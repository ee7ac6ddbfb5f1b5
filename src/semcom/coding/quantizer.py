"""Bounded uniform scalar quantiser with a finite alphabet of ``2**bits`` symbols.

The quantiser works in two domains:

* the **feature domain** — the float tensor at the split, in the caller's units; values are clamped
  to ``[low, high]`` before anything else (DESIGN.md, "Bounded quantizer alphabet");
* the **symbol domain** — the affine image of ``[low, high]`` on ``[0, L - 1]`` with
  ``L = 2**bits`` and step ``(high - low) / (L - 1)``. Integer points of this domain are the
  symbols the entropy coder writes, so the entropy model always sees symbol-domain values.

Three relaxations of rounding are offered by :meth:`UniformQuantizer.forward`:

* ``"noise"`` — additive ``U(-0.5, 0.5)`` noise (training-time stand-in used for the rate term);
* ``"ste"`` — hard rounding in the forward pass, identity gradient (straight-through estimator);
* ``"round"`` — hard rounding, no gradient (evaluation).

Example:
    >>> import torch
    >>> q = UniformQuantizer(bits=2, low=0.0, high=3.0)
    >>> q.symbols(torch.tensor([[-1.0, 0.4, 1.6, 9.0]])).tolist()
    [[0, 0, 2, 3]]
    >>> q.dequantize(torch.tensor([0, 1, 2, 3])).tolist()
    [0.0, 1.0, 2.0, 3.0]
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from semcom import sharded_batch

QuantizerMode = Literal["noise", "ste", "round"]
QUANTIZER_MODES: tuple[str, ...] = ("noise", "ste", "round")


class UniformQuantizer(nn.Module):
    """Uniform quantiser of ``[low, high]`` onto ``L = 2**bits`` equally spaced levels.

    Args:
        bits: bits per symbol, 1..16 (alphabet size ``L = 2**bits``).
        low: smallest representable feature value (feature units); smaller inputs are clamped.
        high: largest representable feature value (feature units), ``> low``; larger inputs are
            clamped.

    The module has no parameters or buffers; ``bits``, ``low`` and ``high`` are plain attributes.
    """

    def __init__(self, bits: int, low: float, high: float) -> None:
        super().__init__()
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise TypeError(f"bits must be an int, got {type(bits).__name__}")
        if not 1 <= bits <= 16:
            raise ValueError(f"bits must be in 1..16, got {bits}")
        for name, value in (("low", low), ("high", high)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, got {value}")
        if not low < high:
            raise ValueError(f"low must be < high, got low={low}, high={high}")
        self.bits = bits
        self.low = float(low)
        self.high = float(high)

    @property
    def num_levels(self) -> int:
        """Alphabet size ``L = 2**bits``."""
        return 2**self.bits

    @property
    def step(self) -> float:
        """Distance between two adjacent levels, in feature units: ``(high - low) / (L - 1)``."""
        return (self.high - self.low) / (self.num_levels - 1)

    def to_symbol_domain(self, x: torch.Tensor) -> torch.Tensor:
        """Clamp ``x`` (any shape, feature units) to ``[low, high]`` and map it onto ``[0, L-1]``.

        Returns a float tensor of the same shape. The gradient is ``1 / step`` inside the range and
        0 where the input was clamped.
        """
        return (x.clamp(self.low, self.high) - self.low) / self.step

    def forward(self, x: torch.Tensor, mode: QuantizerMode = "noise") -> torch.Tensor:
        """Quantise ``x`` (any shape, feature units); returns symbol-domain values, same shape.

        ``mode="noise"`` returns ``u + n`` with ``n ~ U(-0.5, 0.5)`` i.i.d. (values in
        ``[-0.5, L - 0.5]``); ``"ste"`` returns ``round(u)`` whose gradient is that of ``u``;
        ``"round"`` returns ``round(u)`` without gradient.
        """
        u = self.to_symbol_domain(x)
        if mode == "noise":
            return u + (sharded_batch.rand(u.shape, device=u.device, dtype=u.dtype) - 0.5)
        if mode == "ste":
            return u + (torch.round(u) - u).detach()
        if mode == "round":
            return torch.round(u).detach()
        raise ValueError(f"mode must be one of {QUANTIZER_MODES}, got {mode!r}")

    @torch.no_grad()
    def symbols(self, x: torch.Tensor) -> torch.Tensor:
        """Integer symbols in ``{0, ..., L-1}`` of ``x`` (feature units): int32, same shape."""
        return torch.round(self.to_symbol_domain(x)).to(torch.int32)

    def dequantize(self, u: torch.Tensor) -> torch.Tensor:
        """Map symbols (integer tensor) or symbol-domain floats back to feature units.

        Returns ``low + u * step`` as float32 (or ``u``'s float dtype), same shape; differentiable
        for float inputs.
        """
        if not torch.is_floating_point(u):
            u = u.to(torch.float32)
        return self.low + u * self.step

    def extra_repr(self) -> str:
        return f"bits={self.bits}, low={self.low}, high={self.high}"
