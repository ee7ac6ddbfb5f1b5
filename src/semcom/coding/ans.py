"""Asymmetric numeral systems (ANS) over integer probability tables, via ``constriction``.

Streams written here must decode bit-exactly on any machine, so the coder is driven by **integer**
tables only: a table is an ``int`` array ``pmf[G, L]`` (one row per group of symbols, typically one
channel) whose rows sum to exactly ``2**precision`` with every entry ``>= 1``.

How the integer tables reach constriction
----------------------------------------
``constriction.stream.stack.AnsCoder`` works with 32-bit words, a 64-bit state and 24-bit
fixed-point probabilities. Its ``Categorical(probabilities, perfect=False)`` model turns float
probabilities ``p_0 .. p_{L-1}`` into a 24-bit CDF as ``cdf_i = floor(P_i * (2**24 - L) / S) + i``
with ``P_i = p_0 + ... + p_{i-1}`` and ``S = P_L`` (each symbol gets one extra unit of "slack"). We
feed it ``p_i = pmf_i * 2**(24 - precision) - 1``: these are integers below ``2**24``, so every
partial sum is exact in float64, ``S = 2**24 - L`` makes the scale exactly 1 and the model's CDF is
exactly ``cdf_i = 2**(24 - precision) * (pmf_0 + ... + pmf_{i-1})`` — our table, shifted. No float
rounding is involved anywhere, so the code is deterministic across machines. :func:`verify_backend`
checks this once per process against a small pure-Python rANS (:func:`reference_encode`) and fails
loudly if a future constriction changes its fixed-point format.

Stream format
-------------
Groups are pushed on the ANS stack last group first, so the decoder pops group 0 first; the
compressed ``uint32`` words are written little-endian. The decoder learns the number of symbols per
group from the tensor shape (no length field).

Start state. From the empty state the first symbol that is pushed with a non-zero CDF costs
``log2(cdf)`` bits, up to 24 whatever its probability, because the state is still below the
table's scale. So the last ``m = ceil(24 / log2 L)`` symbols in decoding order (the *tail*; every
symbol if there are fewer; none if ``L < 2`` or ``L > 2**16``) are written as the plain integer
``x0 = L**m + sum(tail[i] * L**i)``, and the other symbols are pushed on top of ``x0``: the tail
costs ``m * log2(L) + 1`` bits in place of up to 24 bits of waste. A tail of zeros is pushed from
the empty state instead (zeros cost nothing there and leave it empty). The decoder pops the other
symbols, then reads what is left as an integer: in ``[L**m, 2 * L**m)`` it is ``x0``; otherwise
(only 0 is written) it pops the tail with the tables and the coder must end empty. Anything else
means the bytes were corrupt or decoded with the wrong tables/shape.

Code length
-----------
For ``N`` symbols with ideal length ``I = sum(-log2(pmf[g, s] / 2**precision))`` the stream holds
``0 <= bits <= I + N * log2(1 + 2**-8) + 56`` bits (:func:`max_overhead_bits`). Upper bound, for
the start from empty: while the state ``x`` is below ``2**32``, ``log2(x + 2**24)`` grows by at most
the ideal cost per symbol (start ``x = 0``: at most 24 bits of slack); from then on a step
(renormalisation + encode) loses at most ``log2(1 + p / x) <= log2(1 + 2**-8)`` because
``x >= 2**8 * p`` when it encodes; flushing the final state to whole words adds at most 32 bits
(less: the high zero bytes of the last word are not written, :func:`words_to_bytes`). The lower
bound is 0, not ``I - const``: from the empty state, symbol 0 is pushed for free (``x`` stays 0),
so e.g. an all-zero message codes to no bytes at all. The raw start keeps both bounds: ``x0`` has
at most ``m * log2(L) + 1 <= 41`` bits (``L <= 2**16``), within the 24 + 32 bits of slack; for a
2-bit code near its entropy it cuts the start-up cost from about 23 to 5 bits per stream. Both are
exact properties of the integer arithmetic, tested in ``tests/coding``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import constriction
import numpy as np

#: Fixed-point precision (bits) of constriction's default ANS coder and categorical models.
BACKEND_PRECISION = 24
#: Largest table precision this module accepts (tables are scaled up to the backend's precision).
MAX_PRECISION = BACKEND_PRECISION

_stack = constriction.stream.stack
_model = constriction.stream.model


class CodingError(ValueError):
    """Compressed data could not be decoded (corrupt bytes, wrong tables or wrong shape)."""


def validate_pmf_table(pmf: np.ndarray, precision: int) -> np.ndarray:
    """Check an integer table ``pmf[G, L]`` and return it as a C-contiguous int64 array.

    Every entry must be ``>= 1`` and every row must sum to exactly ``2**precision``; ``L >= 2``.
    Raises ``ValueError`` naming what is wrong.
    """
    if isinstance(precision, bool) or not isinstance(precision, int):
        raise TypeError(f"precision must be an int, got {type(precision).__name__}")
    if not 1 <= precision <= MAX_PRECISION:
        raise ValueError(f"precision must be in 1..{MAX_PRECISION}, got {precision}")
    table = np.asarray(pmf)
    if table.ndim != 2:
        raise ValueError(f"pmf table must have shape [groups, symbols], got shape {table.shape}")
    if not np.issubdtype(table.dtype, np.integer):
        raise ValueError(f"pmf table must hold integers, got dtype {table.dtype}")
    if table.shape[1] < 2:
        raise ValueError(f"pmf table needs at least 2 symbols per row, got {table.shape[1]}")
    table = np.ascontiguousarray(table, dtype=np.int64)
    if table.size and table.min() < 1:
        g, s = np.argwhere(table < 1)[0]
        raise ValueError(f"pmf table entry [{g}, {s}] = {table[g, s]} < 1 (symbol uncodable)")
    sums = table.sum(axis=1)
    bad = np.flatnonzero(sums != 2**precision)
    if bad.size:
        raise ValueError(
            f"pmf table row {bad[0]} sums to {sums[bad[0]]}, expected 2**{precision} = "
            f"{2**precision}"
        )
    return table


def backend_probabilities(pmf_row: np.ndarray, precision: int) -> np.ndarray:
    """Float64 weights that make constriction's fast quantiser reproduce ``pmf_row`` exactly.

    ``pmf_row`` is one validated row (int, sums to ``2**precision``); returns
    ``pmf_row * 2**(24 - precision) - 1`` as float64 (exact integers). See the module docstring.
    """
    return (np.asarray(pmf_row, dtype=np.int64) * 2 ** (BACKEND_PRECISION - precision) - 1).astype(
        np.float64
    )


def words_to_bytes(words: np.ndarray) -> bytes:
    """``uint32`` words → little-endian bytes, without the last word's high zero bytes.

    The last word is the most significant word of the coder's final state and is never zero, so
    its high zero bytes (up to 3) carry nothing: they are dropped, and :func:`bytes_to_words`
    restores them. A stream therefore never ends in a zero byte.
    """
    data = np.asarray(words, dtype=np.uint32).astype("<u4", copy=False).tobytes()
    trimmed = data.rstrip(b"\0")
    return data[: max(len(trimmed), len(data) - 3)]


_NO_WORDS = np.zeros(0, dtype=np.uint32)


@functools.lru_cache(maxsize=256)
def raw_tail_length(num_symbols: int, total: int) -> int:
    """How many symbols at the end of the decoding order may start the stack as the raw integer
    ``x0`` (module docstring): ``ceil(24 / log2 L)``, at most ``total``; 0 unless ``2 <= L <=
    2**16``."""
    if not 2 <= num_symbols <= 2**16:
        return 0
    return min(total, math.ceil(24 / math.log2(num_symbols)))


def raw_tail_start(tail: list[int], num_symbols: int) -> int:
    """``x0 = L**m + sum(tail[i] * L**i)`` for the ``m`` tail symbols in decoding order."""
    x = 1
    for d in reversed(tail):
        x = x * num_symbols + d
    return x


def _words_to_int(words: np.ndarray) -> int:
    """Little-endian ``uint32`` words → the non-negative integer they spell (0 for none); one
    pass over the bytes (a sum of shifted big integers would be quadratic in the length)."""
    return int.from_bytes(np.asarray(words, dtype="<u4").tobytes(), "little")


def bytes_to_words(data: bytes) -> np.ndarray:
    """Bytes from :func:`words_to_bytes` → native ``uint32`` words.

    Raises :class:`CodingError` for a stream that ends in a zero byte (not one we write).
    """
    if data and data[-1] == 0:
        raise CodingError("ANS stream ends in a zero byte; streams are written without them")
    padded = bytes(data) + b"\0" * (-len(data) % 4)
    return np.frombuffer(padded, dtype="<u4").astype(np.uint32)


def ideal_bits(pmf: np.ndarray, precision: int, symbols: np.ndarray) -> np.ndarray:
    """Ideal code length ``sum(-log2(pmf[g, s] / 2**precision))`` per leading index, in bits.

    ``pmf``: validated table ``[G, L]``; ``symbols``: int array ``[..., G, N]``. Returns float64
    ``[...]`` (the sum over the last two axes).
    """
    log_p = np.log2(np.asarray(pmf, dtype=np.float64)) - precision
    sym = np.asarray(symbols, dtype=np.int64)
    groups = np.arange(sym.shape[-2])[:, None]
    return -(log_p[groups, sym]).sum(axis=(-2, -1))


def categorical_models(pmf: np.ndarray, precision: int) -> list[Any]:
    """One constriction categorical model per row of a validated table ``pmf[G, L]``, each
    reproducing its row exactly (:func:`backend_probabilities`); checks the backend first."""
    verify_backend()
    return [_model.Categorical(backend_probabilities(row, precision), perfect=False) for row in pmf]


class CategoricalCoder:
    """ANS coder for ``G`` groups of symbols, each group with its own integer table.

    Args:
        pmf: integer table ``[G, L]``; rows sum to ``2**precision``, entries ``>= 1``.
        precision: table precision in bits, ``1..24``.

    Per-group constriction models are built once here; :meth:`encode` / :meth:`decode` make one
    vectorised constriction call per group (no Python loop over symbols).
    """

    def __init__(self, pmf: np.ndarray, precision: int) -> None:
        self.pmf = validate_pmf_table(pmf, precision)
        self.precision = precision
        self.num_groups, self.num_symbols = self.pmf.shape
        if self.num_symbols >= 2**BACKEND_PRECISION - 1:
            raise ValueError(f"alphabet of {self.num_symbols} symbols is too large for the coder")
        self._models = categorical_models(self.pmf, precision)

    def _check_symbols(self, symbols: np.ndarray) -> np.ndarray:
        sym = np.asarray(symbols)
        if sym.ndim != 2 or sym.shape[0] != self.num_groups:
            raise ValueError(
                f"symbols must have shape [{self.num_groups}, N] (groups, symbols per group), "
                f"got {sym.shape}"
            )
        if sym.dtype == np.int32 and sym.flags.c_contiguous:
            # the usual case (symbols from torch): one pass, negatives wrap to huge as uint32
            if not sym.size or int(sym.view(np.uint32).max()) < self.num_symbols:
                return sym
        elif not np.issubdtype(sym.dtype, np.integer):
            raise ValueError(f"symbols must be integers, got dtype {sym.dtype}")
        if sym.size:
            lo, hi = int(sym.min()), int(sym.max())
            if lo < 0 or hi >= self.num_symbols:
                raise ValueError(
                    f"symbols must lie in 0..{self.num_symbols - 1}, got values in {lo}..{hi}"
                )
        return np.ascontiguousarray(sym, dtype=np.int32)

    def _push_prefix(self, coder: Any, sym: np.ndarray, stop: int) -> None:
        """Push flat positions ``0..stop-1`` of ``sym`` ``[G, N]`` (group-major decoding order)
        onto ``coder``, last first."""
        full, part = divmod(stop, sym.shape[1]) if sym.shape[1] else (0, 0)
        if part:
            coder.encode_reverse(sym[full, :part], self._models[full])
        for g in range(full - 1, -1, -1):
            coder.encode_reverse(sym[g], self._models[g])

    def _pop(self, coder: Any, out: np.ndarray, start: int, stop: int) -> None:
        """Pop flat positions ``start..stop-1`` of ``out`` ``[G, N]`` from ``coder``, in order."""
        n = out.shape[1]
        for g in range(self.num_groups):
            lo, hi = max(start, g * n) - g * n, min(stop, (g + 1) * n) - g * n
            if lo < hi:
                out[g, lo:hi] = coder.decode(self._models[g], hi - lo)

    def encode(self, symbols: np.ndarray) -> bytes:
        """Encode ``symbols`` (int ``[G, N]``, values in ``0..L-1``) into one byte string."""
        sym = self._check_symbols(symbols)
        total = sym.size
        m = raw_tail_length(self.num_symbols, total)
        tail = sym.reshape(-1)[total - m :].tolist()
        if any(tail):
            x0 = raw_tail_start(tail, self.num_symbols)
            start_words = np.array(
                (x0 & 0xFFFFFFFF, x0 >> 32) if x0 >> 32 else (x0,), dtype=np.uint32
            )
        else:  # zeros cost nothing from the empty state (and leave it empty: never ambiguous)
            start_words, m = _NO_WORDS, 0
        coder = _stack.AnsCoder(start_words)
        self._push_prefix(coder, sym, total - m)
        return words_to_bytes(coder.get_compressed())

    def max_stream_bytes(self, length: int) -> int:
        """Longest stream :meth:`encode` can write for ``length`` symbols per group: every
        symbol at the cost of its group's least likely one, plus :func:`max_overhead_bits`."""
        worst = float(np.max(self.precision - np.log2(self.pmf.astype(np.float64)), axis=1).sum())
        bits = worst * length + max_overhead_bits(self.num_groups * length)
        return math.ceil(bits / 8)

    def decode(self, data: bytes, length: int) -> np.ndarray:
        """Decode ``length`` symbols per group from ``data``; returns int32 ``[G, length]``.

        Raises :class:`CodingError` if ``data`` is not a stream this coder wrote for that shape;
        a stream longer than :meth:`max_stream_bytes` is refused before any decoding.
        """
        if length < 0:
            raise ValueError(f"length must be >= 0, got {length}")
        limit = self.max_stream_bytes(length)
        if len(data) > limit:
            raise CodingError(
                f"ANS stream of {len(data)} bytes is longer than any stream of "
                f"{self.num_groups} x {length} symbols under these tables ({limit} bytes at most)"
            )
        words = bytes_to_words(bytes(data))
        try:
            coder = _stack.AnsCoder(words)
        except ValueError as exc:  # e.g. a stream that ends in a zero word
            raise CodingError(f"invalid ANS stream: {exc}") from exc
        out = np.empty((self.num_groups, length), dtype=np.int32)
        total = out.size
        m = raw_tail_length(self.num_symbols, total)
        self._pop(coder, out, 0, total - m)
        if m:
            rest = _words_to_int(coder.get_compressed())
            size = self.num_symbols**m
            if size <= rest < 2 * size:  # the tail was written as a raw integer
                value, flat = rest - size, out.reshape(-1)
                for i in range(total - m, total):
                    value, flat[i] = divmod(value, self.num_symbols)
                return out
            self._pop(coder, out, total - m, total)
        if not coder.is_empty():
            raise CodingError(
                f"ANS stream of {len(data)} bytes has data left after decoding "
                f"{self.num_groups} x {length} symbols: corrupt, or decoded with the wrong "
                "tables or shape"
            )
        return out

    def ideal_bits(self, symbols: np.ndarray) -> float:
        """Ideal code length of ``symbols`` (int ``[G, N]``) under the tables, in bits."""
        return float(ideal_bits(self.pmf, self.precision, self._check_symbols(symbols)))


def reference_encode(
    symbols: np.ndarray, pmf: np.ndarray, precision: int, *, raw_tail: bool = True
) -> np.ndarray:
    """Pure-Python rANS encoder of :class:`CategoricalCoder`'s stream (slow; for verification).

    ``symbols``: int ``[G, N]``; ``pmf``: validated table ``[G, L]``. Uses a 64-bit state, 32-bit
    words, 24-bit probabilities, pushes groups last-first and each group's symbols last-first,
    picks the start state as the module docstring says (empty, or the raw tail ``x0``; always
    empty with ``raw_tail=False``, which is plain constriction) and flushes the state as (low word,
    high word) with zero words dropped. Returns ``uint32`` words.
    """
    table = validate_pmf_table(pmf, precision)
    shift = BACKEND_PRECISION - precision
    cdf = np.concatenate([np.zeros((table.shape[0], 1), np.int64), np.cumsum(table, axis=1)], 1)
    sym = np.asarray(symbols)
    groups, n = sym.shape
    flat = sym.reshape(-1).tolist()

    def push(bulk: list[int], state: int, start: int, stop: int) -> int:
        for i in range(stop - 1, start - 1, -1):  # group-major order, last first
            g, s = i // n, flat[i]
            left = int(cdf[g, s]) << shift
            prob = int(table[g, s]) << shift
            if (state >> (64 - BACKEND_PRECISION)) >= prob:
                bulk.append(state & 0xFFFFFFFF)
                state >>= 32
            state = ((state // prob) << BACKEND_PRECISION) | (left + state % prob)
        return state

    def flush(bulk: list[int], state: int) -> list[int]:
        words = list(bulk)
        if state:
            words.append(state & 0xFFFFFFFF)
            if state >> 32:
                words.append(state >> 32)
        return words

    total = groups * n
    m = raw_tail_length(table.shape[1], total) if raw_tail else 0
    bulk: list[int] = []
    state = 0
    if m and sym.reshape(-1)[total - m :].any():
        state = raw_tail_start(sym.reshape(-1)[total - m :].tolist(), table.shape[1])
    else:
        m = 0
    state = push(bulk, state, 0, total - m)
    return np.array(flush(bulk, state), dtype=np.uint32)


@functools.cache
def verify_backend() -> None:
    """Check once per process that constriction codes exactly with our integer tables.

    Encodes a fixed pseudo-random message with a skewed 12-bit table through constriction and
    through :func:`reference_encode`; raises ``RuntimeError`` if the words differ (which would mean
    the installed constriction uses a different fixed-point format and streams would not be
    portable).
    """
    rng = np.random.default_rng(20240607)
    precision = 12
    raw = rng.random((3, 7)) ** 3 + 1e-3
    pmf = np.maximum(1, np.floor(raw / raw.sum(1, keepdims=True) * 2**precision)).astype(np.int64)
    pmf[:, 0] += 2**precision - pmf.sum(1)
    symbols = np.stack([rng.choice(7, size=40, p=row / row.sum()) for row in pmf]).astype(np.int32)
    coder = _stack.AnsCoder()
    for g in range(pmf.shape[0] - 1, -1, -1):
        model = _model.Categorical(backend_probabilities(pmf[g], precision), perfect=False)
        coder.encode_reverse(symbols[g], model)
    got = coder.get_compressed()
    want = reference_encode(symbols, pmf, precision, raw_tail=False)
    if not np.array_equal(got, want):
        version = getattr(constriction, "__version__", "unknown")
        raise RuntimeError(
            f"constriction {version} does not reproduce the reference rANS with "
            f"{BACKEND_PRECISION}-bit integer tables; streams would not be portable"
        )


def max_overhead_bits(num_symbols: int) -> float:
    """Upper bound on ``stream bits - ideal bits`` for ``num_symbols`` symbols (see module doc)."""
    return num_symbols * math.log2(1 + 2.0**-8) + 56
