"""``source: features``: the plane-prefix feature code (bit-exact round trips within a byte
budget, garbage rejected) and the ``sscc`` / ``capacity`` systems that carry it."""

from __future__ import annotations

import pytest
import torch

from semcom.channels import build_channel
from semcom.nn.feature_codec import MISSING_FILL, FeatureCodec
from semcom.sscc.stats import batch_summary
from semcom.systems import BuildContext, build_system
from semcom.systems.separate_coding import FeatureCapacity, FeatureSSCC

CTX = BuildContext(10, (3, 32, 32), "resnet-small", "layer2", "cifar10")


def _codec(channels: int = 6, bits: int = 3) -> FeatureCodec:
    torch.manual_seed(0)
    codec = FeatureCodec(width=16, channels=channels, bits=bits, downsample=2)
    with torch.no_grad():  # a non-uniform entropy model, so planes cost different amounts
        for p in codec.entropy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    codec.entropy.update()
    return codec.eval()


def test_prefix_round_trip_is_bit_exact_within_every_budget() -> None:
    codec = _codec()
    shape = codec.code_shape((8, 8))
    symbols = codec.symbols(torch.randn(3, 16, 8, 8) * 3)
    assert symbols.shape == (3, *shape)
    for sym in symbols:
        full, m_full = codec.fit_prefix(sym, 10_000)
        assert m_full == 6 and full is not None
        previous = 0
        for budget in range(2, len(full) + 1, 3):
            data, m = codec.fit_prefix(sym, budget)
            assert m >= previous  # more room never sends fewer planes
            previous = m
            if data is None:
                assert m == 0
                continue
            assert len(data) <= budget and data[0] == m
            decoded = codec.parse_prefix(data, shape)
            assert torch.equal(decoded[:m], sym[:m])
            assert (decoded[m:] == -1).all()
        assert codec.fit_prefix(sym, 1) == (None, 0)


def test_damaged_or_foreign_bytes_are_rejected_not_raised() -> None:
    codec = _codec()
    shape = codec.code_shape((8, 8))
    data, m = codec.fit_prefix(codec.symbols(torch.randn(1, 16, 8, 8))[0], 10_000)
    assert codec.parse_prefix(b"", shape) is None
    assert codec.parse_prefix(bytes([0]) + data[1:], shape) is None  # zero planes
    assert codec.parse_prefix(bytes([7]) + data[1:], shape) is None  # more planes than exist
    assert codec.parse_prefix(bytes(len(data)), shape) is None  # zero-filled after a CRC failure
    gen = torch.Generator().manual_seed(1)
    for _ in range(200):
        junk = bytes(
            torch.randint(
                0, 256, (int(torch.randint(1, 60, (1,), generator=gen)),), generator=gen
            ).tolist()
        )
        out = codec.parse_prefix(junk, shape)
        assert out is None or out.shape == shape


def test_missing_planes_are_filled_like_training_does() -> None:
    codec = _codec()
    sym = codec.symbols(torch.randn(2, 16, 8, 8))
    partial = sym.clone()
    partial[:, 2:] = -1
    filled = codec.quantizer.dequantize(sym.float())
    filled[:, 2:] = MISSING_FILL
    with torch.no_grad():
        assert torch.allclose(codec.reconstruct(partial), codec.decoder(filled))


@pytest.mark.parametrize(("name", "cls"), [("sscc", FeatureSSCC), ("capacity", FeatureCapacity)])
def test_feature_systems_keep_their_names_and_train_a_coder(name, cls) -> None:
    system = build_system(name, {"source": "features", "channels": 4, "lambda": 0.1}, CTX)
    assert type(system) is cls and system.name == name and system.has_rate
    assert {"encoder", "entropy", "decoder"} <= set(system.roles())
    out = system(torch.rand(2, 3, 32, 32))
    assert out.output.shape == (2, 10) and out.rate_bits.shape == (2,)
    out.output.sum().backward()
    assert system.codec.encoder[0].weight.grad is not None
    d = system.describe()
    assert (d["source"], d["channels"], d["bits"], d["downsample"]) == ("features", 4, 2, 2)
    assert d["code_shape"] == [4, 8, 8] and d["lambda"] == 0.1


def test_sscc_features_deliver_what_the_device_coded_or_nothing() -> None:
    torch.manual_seed(0)
    system = build_system("sscc", {"source": "features", "qam": 4, "ldpc_rate": 0.5}, CTX)
    system.prepare_for_coding()
    system.eval()
    x = torch.rand(6, 3, 32, 32)
    with torch.no_grad():
        symbols = system.codec.symbols(system.head(x))
    budget = system.layout.source_bytes
    expected = []
    for sym in symbols:
        data, m = system.codec.fit_prefix(sym, budget)
        part = sym.clone()
        part[m:] = -1
        expected.append(part)
    with torch.no_grad():
        reference = system.tail(system.codec.reconstruct(torch.stack(expected)))
    result = system.phy_transmit(x, torch.full((6,), 30.0), build_channel("awgn"))
    stats = result.per_sample
    assert stats["valid"].all() and batch_summary(stats)["bler"] == 0
    assert (stats["source_bytes"] <= budget).all() and (stats["quality"] >= 1).all()
    assert torch.allclose(result.output, reference, atol=1e-5)
    result = system.phy_transmit(x, torch.full((6,), -10.0), build_channel("awgn"))
    assert not result.valid.any() and (result.output == 0).all()


def test_capacity_features_send_more_planes_as_the_snr_grows() -> None:
    torch.manual_seed(0)
    system = build_system("capacity", {"source": "features", "channels": 8}, CTX)
    system.prepare_for_coding()
    system.eval()
    x = torch.rand(4, 3, 32, 32)
    planes = []
    for snr in (-10.0, 0.0, 20.0):
        result = system.phy_transmit(x, torch.full((4,), snr), build_channel("awgn"))
        planes.append(float(result.per_sample["quality"].float().mean()))
    assert planes[0] < planes[-1] and planes == sorted(planes) and planes[-1] == 8
