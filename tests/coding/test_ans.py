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
        coder.decode(data, 10)  # wrong shape: stops early


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
