"""Channel-conditional entropy model and the segment coder: exact round trips, a rate estimate the
coder meets, a gain over the factorised prior where channels are correlated, strict decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom.coding.ans import CodingError
from semcom.coding.ans_segments import SegmentCoder
from semcom.coding.context_model import ChannelContextEntropyModel
from semcom.coding.entropy_model import quantize_pmf

C, L, H = 4, 4, 6


def correlated(n: int, seed: int = 0, keep: float = 0.8) -> torch.Tensor:
    """Symbols ``[n, C, H, H]`` where each channel copies the previous one with prob. ``keep``."""
    g = torch.Generator().manual_seed(seed)
    chans = [torch.randint(0, L, (n, 1, H, H), generator=g)]
    for _ in range(1, C):
        fresh = torch.randint(0, L, (n, 1, H, H), generator=g)
        chans.append(torch.where(torch.rand(n, 1, H, H, generator=g) < keep, chans[-1], fresh))
    return torch.cat(chans, 1).to(torch.int32)


def trained(d: int, symbols: torch.Tensor, steps: int = 150) -> ChannelContextEntropyModel:
    torch.manual_seed(0)
    model = ChannelContextEntropyModel(C, L, context_channels=d)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):
        u = symbols.float() + torch.rand(symbols.shape) - 0.5
        loss = model.estimate_bits(u).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.update()
    return model


@pytest.fixture(scope="module")
def data() -> torch.Tensor:
    return correlated(256)


@pytest.mark.parametrize("d", [0, 1, 2])
def test_round_trip_is_exact_and_real_bits_meet_the_estimate(data, d: int) -> None:
    model = trained(d, data)
    test = correlated(64, seed=1)
    streams = model.compress(test)
    assert torch.equal(model.decompress(streams, (C, H, H)), test)
    assert streams == model.compress(test)  # deterministic
    real = torch.tensor([8.0 * len(s) for s in streams], dtype=torch.float64)
    ideal = model.table_bits(test)
    estimate = model.estimate_bits(test.float()).double()
    torch.testing.assert_close(estimate, ideal, rtol=1e-4, atol=1e-3)  # integers: the tables
    # start-up cost: the raw tail's 12 symbols take 25 bits whatever their probability (about
    # 18 bits more than their ideal cost here, where context symbols cost ~0.6 bits), plus the
    # final word's partial byte
    assert float(real.mean()) <= 1.01 * float(ideal.mean()) + 24, (real - ideal).mean()
    assert bool((real <= 1.01 * ideal + 40).all()), (real - ideal).max()
    assert all(len(s) <= model.max_stream_bytes((C, H, H)) for s in streams)


def test_context_beats_the_factorised_prior_on_correlated_channels(data) -> None:
    test = correlated(64, seed=2)
    free = trained(0, data)
    context = trained(1, data)
    free_bits = np.mean([8 * len(s) for s in free.compress(test)])
    context_bits = np.mean([8 * len(s) for s in context.compress(test)])
    # 0.8 copy probability: about 1.0 bit per symbol instead of 2 on the conditioned channels
    assert context_bits < 0.7 * free_bits, (context_bits, free_bits)


def test_fitted_tables_are_the_conditional_frequencies_and_code_at_least_as_well(data) -> None:
    fitted = ChannelContextEntropyModel(C, L, context_channels=1)
    fitted.fit_tables(data)
    pmf = fitted.pmf()
    # channel 1 given channel 0 = s: stays s with prob. 0.8 + 0.2 / 4, else one of the other three
    for s in range(L):
        expected = torch.full((L,), 0.05, dtype=torch.float64)
        expected[s] = 0.85
        torch.testing.assert_close(pmf[1, s], expected, atol=0.04, rtol=0)
    torch.testing.assert_close(
        pmf[0, 0], torch.full((L,), 0.25, dtype=torch.float64), atol=0.03, rtol=0
    )
    test = correlated(64, seed=3)
    assert torch.equal(fitted.decompress(fitted.compress(test), (C, H, H)), test)
    # the maximum-likelihood tables code unseen data of the same source no worse than gradient
    # training reaches (within 1 %)
    by_gradient = float(trained(1, data).table_bits(test).mean())
    assert float(fitted.table_bits(test).mean()) <= 1.01 * by_gradient


def test_golden_stream() -> None:
    """A fixed table and message give fixed bytes: the stream format cannot drift silently."""
    model = ChannelContextEntropyModel(2, 4, context_channels=1)
    with torch.no_grad():
        model.logits.copy_(torch.tensor([[[2.0, 1.0, 0.0, -1.0]] * 4, [[0.0, 0.5, 1.0, 1.5]] * 4]))
        model.logits[1, 2] = torch.tensor([-2.0, -2.0, 3.0, -2.0])
    model.update()
    first = [0, 1, 2, 3, 2, 2, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 2, 2, 1, 0]
    second = [1, 1, 2, 3, 2, 0, 0, 1, 1, 2, 3, 2, 2, 2, 0, 1, 2, 2, 0, 0]
    symbols = torch.tensor([[first, second]], dtype=torch.int32)
    (stream,) = model.compress(symbols)
    assert stream.hex() == GOLDEN_HEX
    assert torch.equal(model.decompress([stream], (2, 20)), symbols)


GOLDEN_HEX = "a2e2c442d03df8d5d091143809"


def test_corrupt_or_foreign_streams_are_refused(data) -> None:
    model = trained(1, data, steps=20)
    test = correlated(8, seed=3)
    streams = model.compress(test)
    refused = 0
    for s in streams:
        for cut in (s[:-1], s + b"\x01", b"\xff" * (model.max_stream_bytes((C, H, H)) + 1)):
            try:
                model.decompress([cut], (C, H, H))
            except CodingError:
                refused += 1
    assert refused >= len(streams) * 2  # longer-than-possible always; the others mostly
    with pytest.raises(CodingError, match="longer than any stream"):
        model.decompress([b"\x01" * 10_000], (C, H, H))
    with pytest.raises(ValueError, match="symbols must lie in"):
        model.compress(torch.full((1, C, H, H), L, dtype=torch.int32))
    with pytest.raises(RuntimeError, match="update"):
        ChannelContextEntropyModel(C, L).compress(test)


def test_tables_survive_the_state_dict(data) -> None:
    model = trained(1, data, steps=20)
    copy = ChannelContextEntropyModel(C, L, context_channels=1)
    copy.load_state_dict(model.state_dict())
    test = correlated(4, seed=4)
    assert copy.compress(test) == model.compress(test)


def test_segment_coder_matches_a_plain_decode() -> None:
    rng = np.random.default_rng(0)
    pmf = quantize_pmf(rng.dirichlet(np.ones(5), size=3), 12)
    coder = SegmentCoder(pmf, 12)
    segments = [(int(rng.integers(3)), rng.integers(0, 5, size=int(rng.integers(0, 9))))
                for _ in range(20)]  # fmt: skip
    stream = coder.encode(segments)
    dec = coder.decoder(stream, sum(len(s) for _, s in segments))
    for row, sym in segments:
        assert np.array_equal(dec.pop(row, len(sym)), sym)
    dec.finish()
    with pytest.raises(ValueError, match="exceed"):
        coder.decoder(stream, 3).pop(0, 4)


def test_likelihood_stays_float32_under_bfloat16_autocast(data) -> None:
    model = trained(1, data[:32], steps=5)
    u = (data[:4].float() + torch.rand(data[:4].shape) - 0.5).to(torch.bfloat16)
    want = model.estimate_bits(u.float())
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = model.estimate_bits(u)
    assert got.dtype == torch.float32
    assert torch.allclose(got, want, rtol=1e-6)
