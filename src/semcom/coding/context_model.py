"""Channel-conditional entropy model: each symbol's table depends on the channels coded before it.

A factorised prior (:class:`~semcom.coding.FactorizedEntropyModel`) codes every channel of a
code ``[C, *spatial]`` independently. Neighbouring channels of a learned code are rarely
independent (AECNN's mixed planes are projections of one feature), so here the symbol at
position ``i`` of channel ``c`` is coded with a table chosen by the symbols at the same position
of the ``d`` channels before it::

    P(u[c, i] | u[c-1, i], ..., u[c-d, i]) = softmax(logits[c, k])[u[c, i]],
    k = u[c-1, i] + L * u[c-2, i] + ... + L**(d-1) * u[c-d, i]     (missing channels count as 0)

with learned ``logits`` ``[C, L**d, L]`` — ``C * L**(d+1)`` numbers, 384 for six 2-bit planes at
``d = 1``. Decoding goes channel by channel: once channel ``c - 1`` is decoded, the positions of
channel ``c`` that share a context are one segment with one table
(:mod:`semcom.coding.ans_segments`), so a sample takes ``C * L**d`` vectorised ANS calls.

Bit-exact by construction: the decoder's tables are the integer ``pmf_table`` ``[C, L**d, L]``
(frozen by :meth:`update`, a state-dict buffer) and the context is an integer computed from
decoded integers; no float network runs on the receiving side.

Training rate. For symbol-domain values ``u`` (integers, or integers plus ``U(-1/2, 1/2)``
noise) the likelihood is that of a density that is constant on each bin ``[s - 1/2, s + 1/2]``
with mass ``P(s)``: ``(1 - t) P(s) + t P(s + 1)`` for ``u = s + t`` (``u`` clamped to
``[0, L - 1]``), the discrete pmf at integers and differentiable in ``u`` and the logits. The
context is the rounded (hard) value of the neighbouring channels, without gradient.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from semcom.accel import at_least_float32, full_precision
from semcom.coding.ans import MAX_PRECISION
from semcom.coding.ans_segments import SegmentCoder
from semcom.coding.entropy_model import lower_bound, quantize_pmf


class ChannelContextEntropyModel(nn.Module):
    """Learned tables ``P(u[c, i] | u[c-1..c-d, i])`` over symbols ``0 .. L-1`` (module docstring).

    Args:
        channels: ``C`` (dim 1 of every input; coded in this order).
        num_symbols: alphabet size ``L`` (``2**bits`` of the quantiser), ``2 .. 16``.
        context_channels: ``d``, how many preceding channels choose the table, ``0 .. 3``
            (``0``: one table per channel, a factorised prior with free pmfs).
        precision: bits of the integer tables (rows sum to ``2**precision``).
        likelihood_bound: floor on likelihoods in :meth:`likelihood`.

    Inputs are symbol-domain tensors ``[B, C, *spatial]``.
    """

    pmf_table: torch.Tensor  # buffer [C, L**d, L] int32

    def __init__(
        self,
        channels: int,
        num_symbols: int,
        context_channels: int = 1,
        precision: int = 16,
        likelihood_bound: float = 1e-9,
    ) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        if not 2 <= num_symbols <= 16:
            raise ValueError(f"num_symbols must be in 2..16, got {num_symbols}")
        if not 0 <= context_channels <= 3:
            raise ValueError(f"context_channels must be in 0..3, got {context_channels}")
        if not 1 <= precision <= MAX_PRECISION or 2**precision < num_symbols:
            raise ValueError(f"precision must be in {math.ceil(math.log2(num_symbols))}..24")
        self.channels = channels
        self.num_symbols = num_symbols
        self.context_channels = context_channels
        self.precision = precision
        self.likelihood_bound = float(likelihood_bound)
        self.contexts = num_symbols**context_channels
        self.logits = nn.Parameter(torch.zeros(channels, self.contexts, num_symbols))
        self.register_buffer(
            "pmf_table", torch.zeros(channels, self.contexts, num_symbols, dtype=torch.int32)
        )
        self._coder: SegmentCoder | None = None
        self._coder_key: tuple[int, int] | None = None

    # ------------------------------------------------------------------ contexts
    def context_index(self, symbols: torch.Tensor) -> torch.Tensor:
        """Context of every position of integer ``symbols`` ``[B, C, N]``: int64 ``[B, C, N]``."""
        ctx = torch.zeros_like(symbols, dtype=torch.int64)
        for j in range(1, self.context_channels + 1):
            if j >= self.channels + 1:
                break
            prev = torch.zeros_like(ctx)
            prev[:, j:] = symbols[:, :-j].to(torch.int64)
            ctx = ctx + prev * self.num_symbols ** (j - 1)
        return ctx

    def _check_input(self, u: torch.Tensor) -> None:
        if u.dim() < 2 or u.shape[1] != self.channels:
            raise ValueError(
                f"expected a tensor [B, {self.channels}, *spatial], got shape {tuple(u.shape)}"
            )

    # ------------------------------------------------------------------ training
    def likelihood(self, u: torch.Tensor) -> torch.Tensor:
        """Likelihood of symbol-domain ``u`` ``[B, C, *spatial]`` (module docstring), same shape;
        computed in float32 or wider even under autocast."""
        self._check_input(u)
        with full_precision(u.device):
            return self._likelihood(at_least_float32(u))

    def _likelihood(self, u: torch.Tensor) -> torch.Tensor:
        b, c = u.shape[:2]
        flat = u.reshape(b, c, -1)
        top = self.num_symbols - 1
        hard = flat.detach().round().clamp(0, top).to(torch.int64)
        ctx = self.context_index(hard)  # [B, C, N]
        pmf = F.softmax(self.logits, dim=-1)  # [C, K, L]
        rows = pmf[torch.arange(c)[None, :, None], ctx]  # [B, C, N, L]
        v = flat.clamp(0, top)
        low = v.detach().floor().clamp(max=top - 1).to(torch.int64)
        t = v - low.to(v.dtype)
        p_low = rows.gather(-1, low.unsqueeze(-1)).squeeze(-1)
        p_high = rows.gather(-1, (low + 1).unsqueeze(-1)).squeeze(-1)
        lik = lower_bound((1 - t) * p_low + t * p_high, self.likelihood_bound)
        return lik.reshape(u.shape)

    def estimate_bits(self, u: torch.Tensor) -> torch.Tensor:
        """Estimated code length ``sum(-log2 likelihood(u))`` per sample: ``[B]`` bits."""
        lik = self.likelihood(u)
        return -torch.log2(lik).reshape(lik.shape[0], -1).sum(dim=1)

    # ------------------------------------------------------------------ tables
    @torch.no_grad()
    def fit_tables(self, symbols: torch.Tensor, prior_count: float = 0.5) -> None:
        """Set the tables to the conditional frequencies of integer ``symbols`` ``[B, C, *spatial]``
        (the maximum-likelihood tables, ``prior_count`` added to every cell) and freeze them
        (:meth:`update`). Fitting after training changes the bits only, never the symbols."""
        self._check_input(symbols)
        c, k, n = self.channels, self.logits.shape[1], self.num_symbols
        flat = symbols.reshape(symbols.shape[0], c, -1).to(torch.int64)
        cell = (torch.arange(c)[None, :, None] * k + self.context_index(flat)) * n + flat
        counts = torch.bincount(cell.reshape(-1), minlength=c * k * n).to(torch.float64)
        self.logits.copy_((counts.reshape(c, k, n) + prior_count).log().to(self.logits.dtype))
        self.update()

    @torch.no_grad()
    def pmf(self) -> torch.Tensor:
        """The pmf ``[C, L**d, L]`` (float64, CPU) of the current logits."""
        return F.softmax(self.logits.detach().to("cpu", torch.float64), dim=-1)

    @torch.no_grad()
    def update(self) -> None:
        """Freeze the pmf into the integer tables ``pmf_table`` (call after training)."""
        flat = self.pmf().reshape(-1, self.num_symbols).numpy()
        counts = quantize_pmf(flat, self.precision).reshape(self.pmf_table.shape)
        self.pmf_table.copy_(torch.from_numpy(counts).to(torch.int32))
        self._coder = None

    @property
    def tables_ready(self) -> bool:
        return bool((self.pmf_table > 0).all())

    def _get_coder(self) -> SegmentCoder:
        key = (self.pmf_table.data_ptr(), self.pmf_table._version)
        if self._coder is not None and self._coder_key == key:
            return self._coder
        if not self.tables_ready:
            raise RuntimeError(
                "entropy model tables are not built: call update() after training (or load a "
                "state dict that contains pmf_table) before compress()/decompress()"
            )
        table = self.pmf_table.cpu().numpy().reshape(-1, self.num_symbols)
        self._coder = SegmentCoder(table, self.precision)
        self._coder_key = key
        return self._coder

    def _check_symbols(self, symbols: torch.Tensor) -> np.ndarray:
        self._check_input(symbols)
        if (
            symbols.dtype.is_floating_point
            or symbols.dtype.is_complex
            or symbols.dtype == torch.bool
        ):
            raise TypeError(f"symbols must be an integer tensor, got {symbols.dtype}")
        n = math.prod(symbols.shape[2:])
        sym = symbols.detach().reshape(symbols.shape[0], self.channels, n).cpu().numpy()
        if sym.size and (sym.min() < 0 or sym.max() >= self.num_symbols):
            raise ValueError(
                f"symbols must lie in 0..{self.num_symbols - 1}, got values in "
                f"{sym.min()}..{sym.max()}"
            )
        return sym.astype(np.int32)

    def _segments(self, sym: np.ndarray, ctx: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """One sample's segments in decoding order: per channel, per context value, the
        symbols at the positions with that context (ascending)."""
        out = []
        for c in range(self.channels):
            for k in range(self.contexts if c else 1):
                where = np.flatnonzero(ctx[c] == k)
                if where.size:
                    out.append((c * self.contexts + k, sym[c, where]))
        return out

    def compress(self, symbols: torch.Tensor) -> list[bytes]:
        """Entropy-code integer ``symbols`` ``[B, C, *spatial]``: one stream per sample."""
        coder = self._get_coder()
        sym = self._check_symbols(symbols)
        ctx = self.context_index(torch.from_numpy(sym)).numpy()
        return [coder.encode(self._segments(s, k)) for s, k in zip(sym, ctx, strict=True)]

    def max_stream_bytes(self, shape: Sequence[int]) -> int:
        """Longest stream :meth:`compress` can write for one sample of ``shape = (C, *spatial)``."""
        if len(shape) < 1 or shape[0] != self.channels:
            raise ValueError(f"expected a shape ({self.channels}, *spatial), got {tuple(shape)}")
        coder = self._get_coder()
        n = math.prod(shape[1:])
        per_channel = coder.worst_bits.reshape(self.channels, self.contexts).max(axis=1)
        return coder.max_stream_bytes(float(per_channel.sum()) * n, self.channels * n)

    @torch.no_grad()
    def decompress(self, strings: Sequence[bytes], shape: Sequence[int]) -> torch.Tensor:
        """Decode streams from :meth:`compress`; ``shape = (C, *spatial)`` of one sample.

        Returns int32 ``[len(strings), C, *spatial]``; a stream that is not one of that shape
        under these tables raises :class:`~semcom.coding.ans.CodingError`."""
        from semcom.coding.ans import CodingError

        coder = self._get_coder()
        shape = tuple(int(d) for d in shape)
        if not shape or shape[0] != self.channels or any(d < 0 for d in shape):
            raise ValueError(f"shape must be ({self.channels}, *spatial), got {shape}")
        n = math.prod(shape[1:])
        limit = self.max_stream_bytes(shape)
        out = np.zeros((len(strings), self.channels, n), dtype=np.int32)
        for i, data in enumerate(strings):
            if len(data) > limit:
                raise CodingError(
                    f"ANS stream of {len(data)} bytes is longer than any stream of shape "
                    f"{list(shape)} under these tables ({limit} bytes at most)"
                )
            dec = coder.decoder(data, self.channels * n)
            sample = out[i]
            for c in range(self.channels):
                ctx = self.context_index(torch.from_numpy(sample[None]))[0, c].numpy()
                for k in range(self.contexts if c else 1):
                    where = np.flatnonzero(ctx == k)
                    if where.size:
                        sample[c, where] = dec.pop(c * self.contexts + k, where.size)
            dec.finish()
        return torch.from_numpy(out).reshape(len(strings), *shape)

    @torch.no_grad()
    def table_bits(self, symbols: torch.Tensor) -> torch.Tensor:
        """Ideal code length of integer ``symbols`` ``[B, C, *spatial]`` under the integer
        tables: float64 ``[B]`` bits."""
        coder = self._get_coder()
        sym = self._check_symbols(symbols)
        ctx = self.context_index(torch.from_numpy(sym)).numpy()
        bits = [coder.ideal_bits(self._segments(s, k)) for s, k in zip(sym, ctx, strict=True)]
        return torch.tensor(bits, dtype=torch.float64)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, num_symbols={self.num_symbols}, "
            f"context_channels={self.context_channels}, precision={self.precision}"
        )
