"""The ``sscc`` and ``capacity`` systems: per-SNR results through their simulated-PHY transport on
AWGN and Rayleigh, no-image samples exposed as zero rows plus a mask, capacity-sized sources,
parameter errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import Subset

from semcom.channels import build_channel
from semcom.coding import decode_image
from semcom.data import build_dataset, fetch_batch
from semcom.eval.evaluate import measure_system
from semcom.sscc import UnsupportedChannelError
from semcom.sscc.stats import batch_summary
from semcom.systems import BuildContext, SystemConfigError, build_system
from semcom.transports import PHYTransport

SSCC = {"source": "webp", "qam": 16, "ldpc_rate": 0.5, "cbr": 1.0}
CAPACITY = {"source": "webp", "cbr": 0.5}


@pytest.fixture(scope="module")
def data():
    _, test, info = build_dataset("synthetic")
    ctx = BuildContext(
        num_classes=info.num_classes,
        input_shape=info.input_shape,
        backbone="resnet-small",
        split_after="layer1",
        dataset="synthetic",
    )
    return Subset(test, range(24)), ctx


@pytest.mark.parametrize("name", ["sscc", "capacity"])
@pytest.mark.parametrize(
    "channel", [{"name": "awgn"}, {"name": "rayleigh", "coherence": "block", "csi": "perfect"}]
)
def test_the_phy_transport_gives_per_snr_results(name, channel, data) -> None:
    subset, ctx = data
    torch.manual_seed(0)
    system = build_system(name, SSCC if name == "sscc" else CAPACITY, ctx)
    assert isinstance(system.transport, PHYTransport) and system.device_modules() == []
    assert system.channel_uses() == round(system.params.cbr * 28 * 28)
    m = measure_system(system, subset, channel=channel, snr_db=[0.0, 25.0], timing_samples=1)
    assert set(m.evaluators) == {0.0, 25.0}
    for ev in m.evaluators.values():
        scores = ev.sample_scores()
        assert scores.shape == (24,) and scores.dtype == torch.bool
    assert m.device_flops == 0 and m.edge_flops > 0 and m.channel_uses == system.channel_uses()
    summary = m.link_stats_by_snr
    assert set(summary) == {0.0, 25.0} and summary[25.0]["samples"] == 24
    if channel["name"] == "awgn":
        assert summary[25.0]["delivered_rate"] == 1.0
    if name == "sscc":
        assert summary[25.0]["bler"] is not None and 0 <= summary[0.0]["bler"] <= 1
    else:
        assert summary[25.0]["mean_capacity_bits"] > summary[0.0]["mean_capacity_bits"]


def test_dropped_samples_are_zero_rows_with_a_mask(data) -> None:
    subset, ctx = data
    x, _ = fetch_batch(subset, torch.arange(6))
    snr = torch.full((6,), -8.0)
    drop = build_system("sscc", SSCC, ctx).eval()
    result = drop.phy_transmit(x, snr, build_channel("awgn"), torch.Generator().manual_seed(0))
    out, stats = result.output, result.per_sample
    assert out.shape == (6, 10)
    assert stats["sent"].all() and not stats["intact"].any() and not stats["valid"].any()
    assert (out == 0).all() and batch_summary(stats)["bler"] == 1.0

    fill = build_system("sscc", {**SSCC, "on_error": "zero-fill"}, ctx).eval()
    fill.load_state_dict(drop.state_dict())
    result = fill.phy_transmit(x, snr, build_channel("awgn"), torch.Generator().manual_seed(0))
    out = result.output
    assert result.valid.all() and result.per_sample["decode_failed"].all()
    with torch.no_grad():
        grey = fill(torch.full((1, 1, 28, 28), 128 / 255)).output
    torch.testing.assert_close(out, grey.expand(6, -1))


def test_a_budget_too_small_for_any_codeword_sends_nothing(data) -> None:
    subset, ctx = data
    system = build_system("sscc", {"qam": 4, "ldpc_rate": 1 / 3, "cbr": 0.01}, ctx).eval()
    assert system.channel_uses() == 8 and system.layout.num_blocks == 0
    x, _ = fetch_batch(subset, torch.arange(3))
    symbols = system.phy_encode(x, torch.zeros(3))
    assert symbols.shape == (3, 8) and not symbols.any()
    assert (system.phy_decode(symbols, torch.zeros(3)) == 0).all()
    result = system.phy_transmit(x, torch.full((3,), 30.0), build_channel("awgn"))
    assert (result.output == 0).all() and not result.valid.any()
    assert batch_summary(result.per_sample)["sent_rate"] == 0.0


def test_transmitter_is_fixed_and_the_receiver_decodes_the_image(data) -> None:
    subset, ctx = data
    system = build_system("sscc", SSCC, ctx).eval()
    x, _ = fetch_batch(subset, torch.arange(5))
    low = system.phy_encode(x, torch.full((5,), 0.0))
    assert low.shape == (5, system.channel_uses()) and low.dtype == torch.complex64
    assert torch.equal(low, system.phy_encode(x, torch.full((5,), 30.0)))
    logits = system.phy_decode(low, torch.full((5,), 40.0))
    choices = system.source.encode(x, [system.layout.source_bytes] * 5)
    images = torch.stack([decode_image(c.data, channels=1) for c in choices]).float() / 255
    with torch.no_grad():
        torch.testing.assert_close(logits, system(images).output)


def test_capacity_sizes_the_source_to_the_capacity(data) -> None:
    subset, ctx = data
    system = build_system("capacity", CAPACITY, ctx).eval()
    x, _ = fetch_batch(subset, torch.arange(8))
    snr = torch.tensor([0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0])
    result = system.phy_transmit(x, snr, build_channel("awgn"))
    assert result.output.shape == (8, 10)
    stats = result.per_sample
    n_cu = system.channel_uses()
    want = [n_cu * math.log2(1 + 10 ** (s / 10)) for s in snr.tolist()]
    torch.testing.assert_close(
        stats["capacity_bits"], torch.tensor(want, dtype=torch.float64), rtol=1e-12, atol=0
    )
    assert (8 * stats["source_bytes"] <= stats["capacity_bits"]).all()
    assert torch.equal(stats["valid"], stats["sent"]) and stats["sent"][-1]
    assert (stats["quality"].diff() >= 0).all()  # same image budget grows with SNR: never worse


def test_describe_and_unsupported_channels(data) -> None:
    _, ctx = data
    sscc = build_system("sscc", SSCC, ctx)
    d = sscc.describe()
    assert {k: d[k] for k in ("source", "ldpc_rate", "qam", "cbr")} == SSCC
    assert set(build_system("capacity", CAPACITY, ctx).describe()) == {"source", "cbr"}
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(UnsupportedChannelError, match="csi: perfect"):
        sscc.phy_transmit(x, torch.zeros(2), build_channel("rayleigh", csi="none"))
    with pytest.raises(UnsupportedChannelError, match="awgn, rayleigh"):
        build_system("capacity", CAPACITY, ctx).phy_transmit(
            x, torch.zeros(2), build_channel("erasure", p=0.1)
        )


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("sscc", {"ldpc_rate": 0.4}, r"ldpc_rate.*1/3, 1/2, 2/3, 3/4, 5/6"),
        ("sscc", {"qam": 8}, r"qam.*4, 16 or 64"),
        ("sscc", {"on_error": "retry"}, r"on_error.*'drop' or 'zero-fill'"),
        ("sscc", {"source": "jpeg", "channels": 4}, r"channels: apply to source 'features'"),
        ("sscc", {"source": "features", "downsample": 3}, r"downsample.*1, 2 or 4"),
        ("sscc", {"source": "png"}, r"source.*'jpeg', 'webp' or 'features'"),
        ("sscc", {"bp_iterations": 0}, r"bp_iterations"),
        ("sscc", {"cbr": 0}, r"cbr.*greater than 0"),
        ("sscc", {"cbr": 1e-4}, r"cbr.*need at least 1"),
        ("capacity", {"ldpc_rate": 0.5}, r"ldpc_rate.*[Ee]xtra"),
        ("capacity", {"source": "webp", "lambda": 0.1}, r"lambda: apply to source 'features'"),
    ],
)
def test_bad_parameters_are_named(name, params, match, data) -> None:
    with pytest.raises(SystemConfigError, match=match):
        build_system(name, params, data[1])
