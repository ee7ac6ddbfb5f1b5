"""Factorised (per-channel, i.i.d. over positions) learned entropy model over a finite alphabet.

Density model
-------------
Each channel ``c`` has a learned cumulative ``c(x) = sigmoid(l_c(x))`` where ``l_c`` is a small
monotone MLP ``R -> R`` (Ballé et al., "Variational image compression with a scale hyperprior",
ICLR 2018, appendix 6.1)::

    l(x) = f_K( ... f_2(f_1(x - centre)) ... )
    f_k(v) = g_k(H_k v + b_k)  (k < K),   f_K(v) = H_K v + b_K
    H_k = softplus(raw H_k) > 0,   g_k(v) = v + tanh(raw a_k) * tanh(v)  (|tanh(raw a_k)| < 1)

Positive matrices and ``g_k' = 1 + a (1 - tanh^2) > 0`` make ``l`` strictly increasing, so ``c``
is a valid CDF for every parameter value. ``centre = (L - 1) / 2`` is a fixed shift of the symbol
domain.

Finite alphabet (DESIGN.md, "Bounded quantizer alphabet")
-------------------------------------------------------
Symbols are ``0 .. L-1``. The discrete pmf is ``P(s) = c(s + 1/2) - c(s - 1/2)`` with the left tail
folded into ``s = 0`` and the right tail into ``s = L-1``: ``P(0) = c(1/2)``, ``P(L-1) = 1 - c(L -
3/2)``; it sums to exactly one and there is no escape code. For continuous symbol-domain inputs
(training with additive ``U(-1/2, 1/2)`` noise) the likelihood is ``F(u + 1/2) - F(u - 1/2)``
where ``F`` is the CDF of the *folded density*: ``c``'s density on ``[1/2, L - 3/2]`` and each
tail's mass spread uniformly over its edge bin (``[-1/2, 1/2]`` resp. ``[L - 3/2, L - 1/2]``).
``F`` is continuous and agrees with the discrete pmf at integers, so the training rate is the
ideal code length of what the coder writes (up to the table's integer rounding, see :meth:`update`).

Coding
------
:meth:`FactorizedEntropyModel.update` freezes the pmf into integer tables ``[C, L]`` at
``precision`` bits (buffers, saved in the state dict); :meth:`~FactorizedEntropyModel.compress` and
:meth:`~FactorizedEntropyModel.decompress` use only those integers (ANS via :mod:`.ans`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semcom.accel import at_least_float32, full_precision
from semcom.coding.ans import MAX_PRECISION, CategoricalCoder


class _LowerBound(torch.autograd.Function):
    """``max(x, bound)`` whose gradient still flows where it would raise ``x`` above the bound."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        # Pass the gradient where x is above the bound, or where descent (-grad) would increase x.
        passes = (x >= ctx.bound) | (grad < 0)
        return grad * passes.to(grad.dtype), None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """Elementwise ``max(x, bound)`` with a gradient that can lift values out of the floor."""
    return _LowerBound.apply(x, bound)


def quantize_pmf(pmf: np.ndarray, precision: int) -> np.ndarray:
    """Integer counts ``[C, L]`` approximating ``pmf`` (float ``[C, L]``, rows >= 0, sum > 0).

    Each row sums to exactly ``2**precision`` and every entry is ``>= 1`` (so every symbol stays
    codable). Counts start at ``max(1, floor(p * 2**precision))``; the remaining difference is
    settled greedily, one count per symbol per round, on the symbols where adding (removing) one
    count lowers (raises) the cross-entropy ``-sum p log q`` the most (least). Deterministic.
    """
    p = np.asarray(pmf, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"pmf must have shape [C, L], got {p.shape}")
    total = 2**precision
    if p.shape[1] > total:
        raise ValueError(
            f"{p.shape[1]} symbols cannot each get a count at precision {precision} "
            f"(2**{precision} = {total})"
        )
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError("pmf must be finite and non-negative")
    sums = p.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        raise ValueError("every pmf row needs positive mass")
    p = p / sums
    counts = np.maximum(1, np.floor(p * total)).astype(np.int64)
    for row in range(p.shape[0]):
        pr, cr = p[row], counts[row]
        diff = total - int(cr.sum())
        while diff != 0:
            if diff > 0:
                gain = pr * np.log1p(1.0 / cr)
                k = min(diff, cr.size)
                cr[np.argsort(-gain, kind="stable")[:k]] += 1
                diff -= k
            else:
                with np.errstate(divide="ignore", invalid="ignore"):
                    loss = np.where(cr > 1, -pr * np.log1p(-1.0 / cr), np.inf)
                k = min(-diff, int((cr > 1).sum()))
                cr[np.argsort(loss, kind="stable")[:k]] -= 1
                diff += k
    return counts


class FactorizedEntropyModel(nn.Module):
    """Learned per-channel entropy model over symbols ``{0, ..., num_symbols - 1}``.

    Args:
        channels: ``C``, the number of channels (dim 1 of every input).
        num_symbols: alphabet size ``L`` (``2**bits`` of the quantiser), ``>= 2``.
        precision: bits of the integer coding tables, ``ceil(log2 L) .. 24``; rows sum to
            ``2**precision``.
        filters: hidden widths of the per-channel monotone MLP (Ballé et al. use ``(3, 3, 3)``).
        init_scale: spread (symbol units) of the initial logistic-like density; default
            ``max(1, (L - 1) / 6)``, broad over the alphabet.
        likelihood_bound: floor on likelihoods in :meth:`likelihood` (training stability).

    Inputs are symbol-domain tensors ``[B, C, *spatial]`` (any number of spatial dims, incl. none).
    """

    pmf_table: torch.Tensor  # buffer [C, L] int32 (registered in __init__)

    def __init__(
        self,
        channels: int,
        num_symbols: int,
        precision: int = 16,
        filters: Sequence[int] = (3, 3, 3),
        init_scale: float | None = None,
        likelihood_bound: float = 1e-9,
    ) -> None:
        super().__init__()
        for name, value in (("channels", channels), ("num_symbols", num_symbols)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if num_symbols < 2:
            raise ValueError(f"num_symbols must be >= 2, got {num_symbols}")
        if isinstance(precision, bool) or not isinstance(precision, int):
            raise TypeError(f"precision must be an int, got {type(precision).__name__}")
        if not 1 <= precision <= MAX_PRECISION or 2**precision < num_symbols:
            raise ValueError(
                f"precision must be in {math.ceil(math.log2(num_symbols))}..{MAX_PRECISION} "
                f"for num_symbols={num_symbols}, got {precision}"
            )
        filters = tuple(int(f) for f in filters)
        if any(f < 1 for f in filters):
            raise ValueError(f"filters must be positive widths, got {filters}")
        if init_scale is None:
            init_scale = max(1.0, (num_symbols - 1) / 6)
        if not init_scale > 0:
            raise ValueError(f"init_scale must be > 0, got {init_scale}")
        if not 0 < likelihood_bound < 1:
            raise ValueError(f"likelihood_bound must be in (0, 1), got {likelihood_bound}")

        self.channels = channels
        self.num_symbols = num_symbols
        self.precision = precision
        self.filters = filters
        self.init_scale = float(init_scale)
        self.likelihood_bound = float(likelihood_bound)
        self.centre = (num_symbols - 1) / 2

        widths = (1, *filters, 1)
        num_layers = len(widths) - 1
        # Each layer's positive matrix has row sums init_scale**(-1/K), so the initial composite
        # slope is 1 / init_scale (the tanh terms start at zero).
        row_sum = self.init_scale ** (-1.0 / num_layers)
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(num_layers):
            d_in, d_out = widths[k], widths[k + 1]
            entry = row_sum / d_in
            raw = math.log(math.expm1(entry))  # softplus^-1(entry)
            self.matrices.append(nn.Parameter(torch.full((channels, d_out, d_in), raw)))
            bias = torch.zeros(channels, d_out, 1)
            if k < num_layers - 1:
                bias.uniform_(-0.5, 0.5)
                self.factors.append(nn.Parameter(torch.zeros(channels, d_out, 1)))
            self.biases.append(nn.Parameter(bias))

        self.register_buffer("pmf_table", torch.zeros(channels, num_symbols, dtype=torch.int32))
        self._coder: CategoricalCoder | None = None
        self._coder_key: tuple[int, int] | None = None

    # ------------------------------------------------------------------ density
    def _logits(self, x: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """``l_c(x)`` for ``x`` of shape ``[C, N]`` (symbol domain) → ``[C, N]``."""
        dtype = dtype or x.dtype
        v = (x.to(dtype) - self.centre).unsqueeze(1)  # [C, 1, N]
        last = len(self.matrices) - 1
        for k, (matrix, bias) in enumerate(zip(self.matrices, self.biases, strict=True)):
            v = torch.matmul(F.softplus(matrix.to(dtype)), v) + bias.to(dtype)
            if k < last:
                v = v + torch.tanh(self.factors[k].to(dtype)) * torch.tanh(v)
        return v.squeeze(1)

    def _check_input(self, u: torch.Tensor) -> None:
        if u.dim() < 2 or u.shape[1] != self.channels:
            raise ValueError(
                f"expected a tensor [B, {self.channels}, *spatial], got shape {tuple(u.shape)}"
            )

    def likelihood(self, u: torch.Tensor) -> torch.Tensor:
        """Likelihood of symbol-domain values ``u`` ``[B, C, *spatial]``, same shape, in (0, 1].

        ``F(u + 1/2) - F(u - 1/2)`` under the folded CDF (module docstring); equals the discrete
        pmf at integer ``u`` and is differentiable in ``u`` and the parameters. Values are floored
        at ``likelihood_bound``. Computed in float32 or wider even under autocast.
        """
        self._check_input(u)
        with full_precision(u.device):
            return self._likelihood(at_least_float32(u))

    def _likelihood(self, u: torch.Tensor) -> torch.Tensor:
        shape = u.shape
        flat = u.transpose(0, 1).reshape(self.channels, -1)  # [C, N]
        n = flat.shape[1]
        top = self.num_symbols - 1.5  # last interior edge
        lo, hi = flat - 0.5, flat + 0.5
        edges = flat.new_tensor([0.5, top]).expand(self.channels, 2)
        points = torch.cat([lo.clamp(0.5, top), hi.clamp(0.5, top), edges], dim=1)
        logits = self._logits(points)
        l_lo, l_hi = logits[:, :n], logits[:, n : 2 * n]
        l_a, l_c = logits[:, 2 * n : 2 * n + 1], logits[:, 2 * n + 1 :]
        f_lo, s_lo = self._folded_cdf(lo, l_lo, l_a, l_c, top)
        f_hi, s_hi = self._folded_cdf(hi, l_hi, l_a, l_c, top)
        # Difference taken on the side where it is numerically accurate.
        lik = torch.where(f_lo > 0.5, s_lo - s_hi, f_hi - f_lo)
        lik = lower_bound(lik, self.likelihood_bound)
        return lik.reshape(shape[1], shape[0], *shape[2:]).transpose(0, 1)

    @staticmethod
    def _folded_cdf(
        x: torch.Tensor, l_x: torch.Tensor, l_a: torch.Tensor, l_c: torch.Tensor, top: float
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Folded CDF ``F(x)`` and survival ``1 - F(x)``, each computed without cancellation."""
        t_a = (x + 0.5).clamp(0.0, 1.0)
        t_c = (x - top).clamp(0.0, 1.0)
        cdf_a, sf_a = torch.sigmoid(l_a), torch.sigmoid(-l_a)
        cdf_c, sf_c = torch.sigmoid(l_c), torch.sigmoid(-l_c)
        in_a, in_c = x <= 0.5, x >= top
        cdf = torch.where(
            in_a, cdf_a * t_a, torch.where(in_c, cdf_c + sf_c * t_c, torch.sigmoid(l_x))
        )
        sf = torch.where(
            in_a, sf_a + cdf_a * (1 - t_a), torch.where(in_c, sf_c * (1 - t_c), torch.sigmoid(-l_x))
        )
        return cdf, sf

    def estimate_bits(self, u: torch.Tensor) -> torch.Tensor:
        """Estimated code length ``sum(-log2 likelihood(u))`` per sample: ``[B]`` bits (float)."""
        lik = self.likelihood(u)
        return -torch.log2(lik).reshape(lik.shape[0], -1).sum(dim=1)

    @torch.no_grad()
    def pmf(self) -> torch.Tensor:
        """Discrete pmf ``[C, L]`` (float64) of the current parameters; rows sum to one.

        Computed in float64 on the CPU whatever device the model trains on, so the integer tables
        :meth:`update` freezes do not depend on the accelerator (and a stream coded with them on
        a GPU machine decodes bit-exactly on a CPU one)."""
        if self.pmf_table.device.type != "cpu":
            coder, self._coder = self._coder, None
            try:
                return copy.deepcopy(self).cpu().pmf()
            finally:
                self._coder = coder
        edges = torch.arange(self.num_symbols - 1, dtype=torch.float64) + 0.5
        logits = self._logits(edges.expand(self.channels, -1), dtype=torch.float64)
        cdf = torch.sigmoid(logits)
        sf = torch.sigmoid(-logits)
        # Interior masses: differences of whichever of cdf / survival is smaller (more precise).
        inner = torch.where(cdf[:, :-1] > 0.5, sf[:, :-1] - sf[:, 1:], cdf[:, 1:] - cdf[:, :-1])
        return torch.cat([cdf[:, :1], inner, sf[:, -1:]], dim=1).clamp_min(0.0)

    # ------------------------------------------------------------------ tables
    @torch.no_grad()
    def update(self) -> None:
        """Freeze the current pmf into integer tables ``pmf_table`` ``[C, L]`` (state-dict buffer).

        Rows sum to exactly ``2**precision`` and every symbol gets at least one count. Call after
        training and before :meth:`compress`; retraining afterwards needs another ``update()``.
        """
        counts = quantize_pmf(self.pmf().cpu().numpy(), self.precision)
        self.pmf_table.copy_(torch.from_numpy(counts).to(torch.int32))
        self._coder = None

    @property
    def tables_ready(self) -> bool:
        """Whether :meth:`update` (or loading a state dict with tables) has filled the tables."""
        return bool((self.pmf_table > 0).all())

    def _get_coder(self) -> CategoricalCoder:
        # the tables' identity and version say whether the cached coder is still theirs (any
        # in-place change, update() or load_state_dict, bumps the version); readiness is checked
        # only when a coder is built, which keeps it off the per-call path
        key = (self.pmf_table.data_ptr(), self.pmf_table._version)
        if self._coder is not None and self._coder_key == key:
            return self._coder
        if not self.tables_ready:
            raise RuntimeError(
                "entropy model tables are not built: call update() after training (or load a "
                "state dict that contains pmf_table) before compress()/decompress()"
            )
        self._coder = CategoricalCoder(self.pmf_table.cpu().numpy(), self.precision)
        self._coder_key = key
        return self._coder

    def _check_symbols(self, symbols: torch.Tensor) -> np.ndarray:
        self._check_input(symbols)
        dtype = symbols.dtype
        if dtype.is_floating_point or dtype.is_complex or dtype == torch.bool:
            raise TypeError(f"symbols must be an integer tensor, got {symbols.dtype}")
        n = math.prod(symbols.shape[2:])
        return symbols.detach().reshape(symbols.shape[0], self.channels, n).cpu().numpy()

    def compress(self, symbols: torch.Tensor) -> list[bytes]:
        """Entropy-code integer ``symbols`` ``[B, C, *spatial]`` (values ``0..L-1``).

        Returns one ``bytes`` per sample (the ANS stream; its length is the body size). Raises
        ``RuntimeError`` before :meth:`update`, ``ValueError`` for out-of-range symbols. No
        ``no_grad`` context: nothing here is differentiable, and entering one costs a few µs per
        call on the device's hot path.
        """
        coder = self._get_coder()
        sym = self._check_symbols(symbols)
        return [coder.encode(sample) for sample in sym]

    def max_stream_bytes(self, shape: Sequence[int]) -> int:
        """Longest stream :meth:`compress` can write for one sample of ``shape = (C,
        *spatial)`` (a payload bound: longer bodies are refused before decoding)."""
        if len(shape) < 1 or shape[0] != self.channels:
            raise ValueError(f"expected a shape ({self.channels}, *spatial), got {tuple(shape)}")
        return self._get_coder().max_stream_bytes(math.prod(shape[1:]))

    @torch.no_grad()
    def decompress(self, strings: Sequence[bytes], shape: Sequence[int]) -> torch.Tensor:
        """Decode streams from :meth:`compress`; ``shape = (C, *spatial)`` of one sample.

        Returns int32 ``[len(strings), C, *spatial]``. Raises
        :class:`~semcom.coding.ans.CodingError` (a ``ValueError``) for bytes that are not a stream
        of that shape under these tables.
        """
        coder = self._get_coder()
        shape = tuple(int(d) for d in shape)
        if not shape or shape[0] != self.channels or any(d < 0 for d in shape):
            raise ValueError(f"shape must be ({self.channels}, *spatial), got {shape}")
        n = math.prod(shape[1:])
        out = np.empty((len(strings), self.channels, n), dtype=np.int32)
        for i, data in enumerate(strings):
            out[i] = coder.decode(data, n)
        return torch.from_numpy(out).reshape(len(strings), *shape)

    @torch.no_grad()
    def table_bits(self, symbols: torch.Tensor) -> torch.Tensor:
        """Ideal code length of integer ``symbols`` ``[B, C, *spatial]`` under the integer tables.

        ``sum(-log2(pmf_table[c, s] / 2**precision))`` per sample: float64 ``[B]`` bits.
        """
        if not self.tables_ready:
            self._get_coder()  # raises the "call update()" error
        sym = self._check_symbols(symbols)
        if sym.size and (sym.min() < 0 or sym.max() >= self.num_symbols):
            raise ValueError(
                f"symbols must lie in 0..{self.num_symbols - 1}, got values in "
                f"{sym.min()}..{sym.max()}"
            )
        log_p = torch.log2(self.pmf_table.detach().cpu().to(torch.float64)) - self.precision
        idx = torch.from_numpy(sym.astype(np.int64))  # [B, C, N]
        per = torch.gather(log_p.expand(idx.shape[0], -1, -1), 2, idx)
        return -per.sum(dim=(1, 2))

    # ------------------------------------------------------------------ state dict
    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        key = prefix + "pmf_table"
        table = state_dict.get(key)
        if table is not None:
            expected = (self.channels, self.num_symbols)
            if tuple(table.shape) != expected:
                error_msgs.append(
                    f"{key}: table of shape {tuple(table.shape)} does not fit this model "
                    f"(channels={self.channels}, num_symbols={self.num_symbols})"
                )
            elif bool((table > 0).all()):
                sums = table.to(torch.int64).sum(dim=1)
                if bool((sums != 2**self.precision).any()):
                    error_msgs.append(
                        f"{key}: rows sum to {sorted(set(sums.tolist()))[:3]}, expected "
                        f"2**precision = {2**self.precision} (precision={self.precision})"
                    )
            elif bool((table != 0).any()):
                error_msgs.append(f"{key}: table has zero or negative counts (partially built)")
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
        self._coder = None

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, num_symbols={self.num_symbols}, "
            f"precision={self.precision}, filters={self.filters}"
        )
