"""ANS over a sequence of segments whose tables the decoder learns as it goes.

:class:`~semcom.coding.ans.CategoricalCoder` codes ``G`` groups of equal length, each with its
own table, known in advance. A context model (:mod:`semcom.coding.context_model`) needs more:
the table of a symbol depends on symbols decoded before it, so the decoder can only say which
table and how many symbols come next once it has decoded what precedes them. Here a stream is a
sequence of *segments* ``(row, symbols)`` — ``len(symbols)`` symbols coded with table row
``row`` — in decoding order; the encoder gets them all at once, the decoder asks for them one by
one (:meth:`SegmentDecoder.pop`), each call choosing the row and the count from what it has.

Same stream format and guarantees as :mod:`semcom.coding.ans`: integer tables only (bit-exact
across machines), groups pushed last first, the last ``ceil(24 / log2 L)`` symbols of the
decoding order may start the stack as a raw integer, a stream never ends in a zero byte, and the
code length is within :func:`~semcom.coding.ans.max_overhead_bits` of the ideal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from semcom.coding.ans import (
    _NO_WORDS,
    BACKEND_PRECISION,
    CodingError,
    _stack,
    _words_to_int,
    bytes_to_words,
    categorical_models,
    max_overhead_bits,
    raw_tail_length,
    raw_tail_start,
    validate_pmf_table,
    words_to_bytes,
)


class SegmentCoder:
    """ANS coder for segments ``(row, symbols)`` over integer tables ``pmf[R, L]``.

    Args:
        pmf: integer table ``[R, L]``; rows sum to ``2**precision``, entries ``>= 1``.
        precision: table precision in bits, ``1..24``.
    """

    def __init__(self, pmf: np.ndarray, precision: int) -> None:
        self.pmf = validate_pmf_table(pmf, precision)
        self.precision = precision
        self.num_rows, self.num_symbols = self.pmf.shape
        if self.num_symbols >= 2**BACKEND_PRECISION - 1:
            raise ValueError(f"alphabet of {self.num_symbols} symbols is too large for the coder")
        self._models = categorical_models(self.pmf, precision)
        #: per row, the cost of its least likely symbol, bits (the stream-length bound).
        self.worst_bits = precision - np.log2(self.pmf.min(axis=1).astype(np.float64))

    def _check(self, segments: Sequence[tuple[int, np.ndarray]]) -> list[tuple[int, np.ndarray]]:
        out = []
        for row, symbols in segments:
            if not 0 <= int(row) < self.num_rows:
                raise ValueError(f"segment row {row} outside 0..{self.num_rows - 1}")
            sym = np.ascontiguousarray(symbols, dtype=np.int32).reshape(-1)
            if sym.size and (int(sym.min()) < 0 or int(sym.max()) >= self.num_symbols):
                raise ValueError(
                    f"symbols must lie in 0..{self.num_symbols - 1}, got values in "
                    f"{int(sym.min())}..{int(sym.max())}"
                )
            out.append((int(row), sym))
        return out

    def encode(self, segments: Sequence[tuple[int, np.ndarray]]) -> bytes:
        """Encode the segments (decoding order) into one byte string."""
        segs = self._check(segments)
        total = sum(len(s) for _, s in segs)
        m = raw_tail_length(self.num_symbols, total)
        flat = np.concatenate([s for _, s in segs]) if segs else np.zeros(0, np.int32)
        tail = flat[total - m :].tolist()
        if any(tail):
            x0 = raw_tail_start(tail, self.num_symbols)
            start = np.array((x0 & 0xFFFFFFFF, x0 >> 32) if x0 >> 32 else (x0,), dtype=np.uint32)
        else:  # zeros cost nothing from the empty state (and leave it empty)
            start, m = _NO_WORDS, 0
        coder = _stack.AnsCoder(start)
        stop = total - m  # push flat positions 0..stop-1, last first
        offset = total
        for row, sym in reversed(segs):
            offset -= len(sym)
            n = min(len(sym), max(0, stop - offset))
            if n:
                coder.encode_reverse(sym[:n], self._models[row])
        return words_to_bytes(coder.get_compressed())

    def ideal_bits(self, segments: Sequence[tuple[int, np.ndarray]]) -> float:
        """Ideal code length of the segments under the tables, bits."""
        log_p = np.log2(self.pmf.astype(np.float64)) - self.precision
        return float(-sum(log_p[row, sym].sum() for row, sym in self._check(segments)))

    def max_stream_bytes(self, worst_bits: float, total: int) -> int:
        """Longest stream for ``total`` symbols whose worst costs (:attr:`worst_bits` of their
        rows) sum to ``worst_bits`` bits: that plus the coder's overhead, in bytes."""
        return math.ceil((worst_bits + max_overhead_bits(total)) / 8)

    def decoder(self, data: bytes, total: int) -> SegmentDecoder:
        """A decoder of a stream of ``total`` symbols (the sum of the segment lengths)."""
        return SegmentDecoder(self, data, total)


class SegmentDecoder:
    """Pops the segments of one stream in order (:meth:`pop`), then :meth:`finish`."""

    def __init__(self, coder: SegmentCoder, data: bytes, total: int) -> None:
        if total < 0:
            raise ValueError(f"total must be >= 0, got {total}")
        self.coder = coder
        self.total = total
        self.done = 0
        try:
            self._ans = _stack.AnsCoder(bytes_to_words(bytes(data)))
        except ValueError as exc:  # CodingError is one; constriction raises ValueError too
            raise CodingError(f"invalid ANS stream: {exc}") from exc
        self.m = raw_tail_length(coder.num_symbols, total)
        self._raw: int | None = None  # the raw tail's remaining digits once it was read as one
        self._tail_mode: str | None = None

    def _enter_tail(self) -> None:
        rest = _words_to_int(self._ans.get_compressed())
        size = self.coder.num_symbols**self.m
        if size <= rest < 2 * size:
            self._tail_mode, self._raw = "raw", rest - size
        else:
            self._tail_mode = "pop"

    def pop(self, row: int, n: int) -> np.ndarray:
        """The next ``n`` symbols, coded with table row ``row``: int32 ``[n]``."""
        if not 0 <= row < self.coder.num_rows:
            raise ValueError(f"segment row {row} outside 0..{self.coder.num_rows - 1}")
        if n < 0 or self.done + n > self.total:
            raise ValueError(f"{n} more symbols exceed the stream's {self.total}")
        out = np.empty(n, dtype=np.int32)
        model = self.coder._models[row]
        boundary = self.total - self.m
        head = min(n, max(0, boundary - self.done))
        try:
            self._pop_into(out, model, head, n)
        except (ValueError, RuntimeError) as exc:  # constriction's own errors on bad input
            raise CodingError(f"invalid ANS stream: {exc}") from exc
        self.done += n
        return out

    def _pop_into(self, out: np.ndarray, model: object, head: int, n: int) -> None:
        if head:
            out[:head] = self._ans.decode(model, head)
        if head < n:
            if self._tail_mode is None:
                self._enter_tail()
            if self._tail_mode == "raw":
                assert self._raw is not None
                for i in range(head, n):
                    self._raw, out[i] = divmod(self._raw, self.coder.num_symbols)
            else:
                out[head:] = self._ans.decode(model, n - head)

    def finish(self) -> None:
        """Check that the whole stream was consumed; :class:`CodingError` otherwise."""
        if self.done != self.total:
            raise ValueError(f"{self.done} of {self.total} symbols popped")
        if self.m and self._tail_mode is None:  # pragma: no cover - pop() enters the tail
            self._enter_tail()
        if self._tail_mode != "raw" and not self._ans.is_empty():
            raise CodingError(
                "ANS stream has data left after decoding: corrupt, or decoded with the wrong "
                "tables or shape"
            )
