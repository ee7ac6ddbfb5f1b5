"""ANS layer: constriction codes with our exact integer tables; round trips; length bounds."""

from __future__ import annotations

import constriction
import numpy as np
import pytest

from semcom.coding.ans import (
    CategoricalCoder,
    CodingError,
    backend_probabilities,
    bytes_to_words,
    ideal_bits,
    max_overhead_bits,
    reference_encode,
    validate_pmf_table,
)


def random_table(rng: np.random.Generator, groups: int, symbols: int, precision: int) -> np.ndarray:
    """Random skewed integer table: rows sum to 2**precision, every entry >= 1."""
    raw = rng.random((groups, symbols)) ** rng.uniform(0.2, 8.0)
    total = 2**precision
    pmf = 1 + np.floor(raw / raw.sum(1, keepdims=True) * (total - symbols)).astype(np.int64)
    pmf[np.arange(groups), pmf.argmax(1)] += total - pmf.sum(1)
    return pmf


def sample(rng: np.random.Generator, pmf: np.ndarray, n: int) -> np.ndarray:
    return np.stack([rng.choice(pmf.shape[1], size=n, p=row / row.sum()) for row in pmf])


@pytest.mark.parametrize(
    "groups,symbols,precision", [(1, 2, 1), (3, 16, 16), (2, 256, 12), (4, 5, 24), (1, 300, 24)]
)
def test_constriction_uses_exactly_our_integer_tables(groups, symbols, precision) -> None:
    """Words from constriction == words from a pure-Python rANS driven by our integers alone."""
    rng = np.random.default_rng(precision * 1000 + symbols)
    pmf = random_table(rng, groups, symbols, precision)
    for n in (1, 3, 50, 400):
        sym = sample(rng, pmf, n)
        got = bytes_to_words(CategoricalCoder(pmf, precision).encode(sym))
        assert np.array_equal(got, reference_encode(sym, pmf, precision))


def test_naive_float_probabilities_would_not_match() -> None:
    """Control: handing constriction ``count / 2**precision`` (no exact mapping) changes the stream,
    so the equality above is a real check of the table mapping."""
    rng = np.random.default_rng(3)
    pmf = random_table(rng, 1, 16, 16)
    sym = sample(rng, pmf, 400)
    naive = constriction.stream.model.Categorical(pmf[0] / 2.0**16, perfect=False)
    coder = constriction.stream.stack.AnsCoder()
    coder.encode_reverse(sym[0].astype(np.int32), naive)
    assert not np.array_equal(coder.get_compressed(), reference_encode(sym, pmf, 16))


def test_backend_probabilities_are_exact_integers() -> None:
    pmf = np.array([1, 2, 65533])
    p = backend_probabilities(pmf, 16)
    assert p.dtype == np.float64
    assert p.tolist() == [255.0, 511.0, 65533 * 256 - 1.0]
    assert p.sum() == 2**24 - 3  # constriction's normalisation: scale is exactly 1


@pytest.mark.parametrize("n", [0, 1, 7, 1000])
def test_round_trip_groups(n: int) -> None:
    rng = np.random.default_rng(n)
    pmf = random_table(rng, 5, 32, 16)
    coder = CategoricalCoder(pmf, 16)
    sym = sample(rng, pmf, n)
    data = coder.encode(sym)
    assert not data or data[-1] != 0  # canonical: no trailing zero byte
    out = coder.decode(data, n)
    assert out.dtype == np.int32 and out.shape == (5, n)
    assert np.array_equal(out, sym)


def test_code_length_bounds_random_and_adversarial() -> None:
    """0 <= bits <= ideal + N log2(1 + 2^-8) + 56 (module docstring), incl. worst cases."""
    rng = np.random.default_rng(7)
    cases = []
    for _ in range(60):
        precision = int(rng.integers(4, 25))
        symbols = int(rng.integers(2, min(2**precision, 64) + 1))
        pmf = random_table(rng, int(rng.integers(1, 4)), symbols, precision)
        n = int(rng.integers(0, 2000))
        cases.append((pmf, precision, sample(rng, pmf, n)))  # matched statistics
        cases.append((pmf, precision, rng.integers(0, symbols, (pmf.shape[0], n))))  # mismatched
    for precision in (8, 16, 24):
        skew = np.array([[1, 2**precision - 1]])
        for s in (0, 1):
            for n in (1, 100, 100_000):
                cases.append((skew, precision, np.full((1, n), s)))
    for pmf, precision, sym in cases:
        coder = CategoricalCoder(pmf, precision)
        bits = 8 * len(coder.encode(sym))
        ideal = coder.ideal_bits(sym)
        assert 0 <= bits <= ideal + max_overhead_bits(sym.size), (precision, pmf.shape, sym.shape)


def test_all_zero_message_is_free() -> None:
    """From the empty state, symbol 0 leaves the ANS state at 0: nothing is written (and the
    decoder still recovers it, since it knows the count)."""
    coder = CategoricalCoder(np.array([[1, 255], [128, 128]]), 8)
    sym = np.zeros((2, 500), dtype=np.int32)
    assert coder.encode(sym) == b""
    assert np.array_equal(coder.decode(b"", 500), sym)


def test_ideal_bits_matches_definition() -> None:
    pmf = np.array([[1, 3], [2, 2]])
    sym = np.array([[0, 1, 1], [0, 0, 1]])
    want = -(np.log2(1 / 4) + 2 * np.log2(3 / 4)) + 3.0
    assert ideal_bits(pmf, 2, sym) == pytest.approx(want)
    assert CategoricalCoder(pmf, 2).ideal_bits(sym) == pytest.approx(want)


def test_decode_rejects_corrupt_streams() -> None:
    rng = np.random.default_rng(0)
    pmf = random_table(rng, 2, 16, 16)
    coder = CategoricalCoder(pmf, 16)
    sym = sample(rng, pmf, 300)
    data = coder.encode(sym)
    with pytest.raises(CodingError, match="zero byte"):
        coder.decode(data + b"\0", 300)
    with pytest.raises(CodingError, match="zero byte"):
        coder.decode(data + b"\0\0\0\0", 300)
    with pytest.raises(CodingError, match="data left"):
        coder.decode(data + b"\1\2\3\4\5", 300)
    with pytest.raises(CodingError, match="data left"):
        coder.decode(data, 290)  # wrong shape: stops early
    with pytest.raises(CodingError, match=r"longer than any stream of 2 x 10 symbols"):
        coder.decode(data, 10)  # far too long for the shape: refused before decoding


def test_the_longest_stream_bounds_every_encoding_and_long_junk_is_refused_unread() -> None:
    rng = np.random.default_rng(1)
    pmf = random_table(rng, 3, 4, 12)
    coder = CategoricalCoder(pmf, 12)
    worst = np.argmin(pmf, axis=1)[:, None].repeat(50, axis=1).astype(np.int32)  # least likely
    for sym in (worst, sample(rng, pmf, 50), np.zeros((3, 50), dtype=np.int32)):
        assert len(coder.encode(sym)) <= coder.max_stream_bytes(50)
    junk = bytes(rng.integers(1, 256, coder.max_stream_bytes(50) + 1, dtype=np.uint8))
    with pytest.raises(CodingError, match="longer than any stream"):
        coder.decode(junk, 50)


def test_words_to_an_integer_in_one_pass() -> None:
    from semcom.coding.ans import _words_to_int

    words = np.array([0xFFFFFFFF, 1, 0, 7], dtype=np.uint32)
    assert _words_to_int(words) == sum(int(w) << (32 * i) for i, w in enumerate(words))
    assert _words_to_int(np.zeros(0, dtype=np.uint32)) == 0


def test_encode_rejects_bad_symbols() -> None:
    coder = CategoricalCoder(np.array([[2, 2], [1, 3]]), 2)
    with pytest.raises(ValueError, match="0..1"):
        coder.encode(np.array([[0, 2], [0, 1]]))
    with pytest.raises(ValueError, match="shape"):
        coder.encode(np.array([0, 1]))
    with pytest.raises(ValueError, match="integers"):
        coder.encode(np.array([[0.0], [1.0]]))


@pytest.mark.parametrize(
    "pmf,precision,match",
    [
        (np.array([[3, 1]]), 3, "sums to 4"),
        (np.array([[4, 0]]), 2, "< 1"),
        (np.array([4]), 2, "shape"),
        (np.array([[4]]), 2, "at least 2"),
        (np.array([[2.0, 2.0]]), 2, "integers"),
        (np.array([[1, 1]]), 25, "precision"),
    ],
)
def test_table_validation(pmf, precision, match) -> None:
    with pytest.raises(ValueError, match=match):
        validate_pmf_table(pmf, precision)


def test_byte_packing_drops_only_high_zero_bytes_of_the_last_word() -> None:
    from semcom.coding.ans import bytes_to_words, words_to_bytes

    for words in ([1, 2, 21], [0x01020304], [7, 0x00010000], [5, 0xFF000000], []):
        w = np.array(words, dtype=np.uint32)
        data = words_to_bytes(w)
        assert not data or data[-1] != 0
        assert len(data) >= 4 * len(words) - 3
        assert np.array_equal(bytes_to_words(data), w)
    assert words_to_bytes(np.array([9, 21], dtype=np.uint32)) == b"\x09\0\0\0\x15"


@pytest.mark.parametrize("symbols,groups,n", [(2, 1, 30), (4, 3, 5), (4, 2, 200), (16, 4, 2)])
def test_raw_start_round_trips_when_the_tail_spans_groups(symbols, groups, n) -> None:
    """Tails of ceil(24 / log2 L) symbols may cross group boundaries (or cover every symbol);
    every stream decodes exactly and matches the pure-Python reference."""
    rng = np.random.default_rng(symbols * 100 + n)
    pmf = random_table(rng, groups, symbols, 12)
    coder = CategoricalCoder(pmf, 12)
    for _ in range(40):
        sym = rng.integers(0, symbols, (groups, n))
        data = coder.encode(sym)
        assert np.array_equal(bytes_to_words(data), reference_encode(sym, pmf, 12))
        assert np.array_equal(coder.decode(data, n), sym)


def test_raw_start_removes_most_of_the_start_up_cost() -> None:
    """A 2-bit alphabet near its entropy (a trained AECNN code): from the empty state the first
    pushed symbol costs up to 24 bits whatever its probability; the raw tail start leaves a few
    bits above the ideal length instead."""
    rng = np.random.default_rng(3)
    pmf = np.array([[1200, 1100, 1000, 796]] * 6)  # 12-bit rows
    coder = CategoricalCoder(pmf, 12)
    raw, empty = [], []
    for _ in range(300):
        sym = sample(rng, pmf, 64)  # 384 symbols, ~760 bits
        ideal = coder.ideal_bits(sym)
        raw.append(8 * len(coder.encode(sym)) - ideal)
        empty.append(32 * len(reference_encode(sym, pmf, 12, raw_tail=False)) - ideal)
    assert np.mean(raw) < 8.0, np.mean(raw)
    assert np.mean(empty) > 16.0, np.mean(empty)  # whole words, but the gap is the start-up


def test_ambiguous_table_start_is_never_written() -> None:
    """A tail that, pushed with the tables from empty, would leave a state that reads as a raw start
    (``4**12 <= r < 2 * 4**12`` here) must not be written that way: the decoder reads that range
    as raw. With probabilities 1/4096, the tail ``[s, 1, 0, ..., 0]`` leaves ``r = 2**24 +
    cdf(s)``; every such stream, and every other small tail, decodes exactly."""
    pmf = np.array([[1, 1, 1, 2**12 - 3]])
    coder = CategoricalCoder(pmf, 12)
    hit = 0
    for s in range(3):
        tail = np.array([[s, 1] + [0] * 10])
        words = reference_encode(tail, pmf, 12, raw_tail=False)
        r = sum(int(w) << (32 * i) for i, w in enumerate(words))
        hit += 4**12 <= r < 2 * 4**12
        sym = np.concatenate([np.full((1, 20), 3), tail], axis=1)
        assert np.array_equal(coder.decode(coder.encode(sym), sym.shape[1]), sym)
    assert hit == 3
    for tail in np.ndindex(*(4,) * 4):
        sym = np.array([[3] * 20 + list(tail) * 3])  # the last 12 symbols are the tail
        assert np.array_equal(coder.decode(coder.encode(sym), sym.shape[1]), sym)
