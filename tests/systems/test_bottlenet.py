"""BottleNet++: both channel modes learn on the tiny set; the analog code degrades gracefully with
SNR through the real channel; the condition plane reaches the encoder; erasures are applied."""

from __future__ import annotations

import pytest
import torch

from semcom.channels import build_channel
from semcom.coding import Payload, PayloadError
from semcom.data import fetch_batch
from semcom.systems import BuildContext, SystemConfigError, build_system
from semcom.systems.bottlenet import _erase
from semcom.train import Phase, train_phase


def _train(system, train, tmp) -> None:
    for phase in (
        Phase("backbone", epochs=2, lr=3e-3, path="bypass"),
        Phase("compressor", epochs=3, lr=3e-3, trainable=["encoder", "decoder"]),
        Phase("finetune", epochs=1, lr=1e-3),
    ):
        train_phase(system, phase, train, batch_size=32, seed=0, ckpt_dir=tmp)
    system.eval()


@pytest.fixture(scope="module")
def analog(tmp_path_factory, tiny_ctx: BuildContext, tiny_data):
    torch.manual_seed(0)
    system = build_system("bottlenet++", {"channel": "awgn", "hidden": 4, "stride": 2}, tiny_ctx)
    _train(system, tiny_data[0], tmp_path_factory.mktemp("bn-awgn"))
    return system


@pytest.fixture(scope="module")
def erasure(tmp_path_factory, tiny_ctx: BuildContext, tiny_data):
    torch.manual_seed(0)
    params = {"channel": "erasure", "hidden": 4, "max_noise": 0.3}
    system = build_system("bottlenet++", params, tiny_ctx)
    _train(system, tiny_data[0], tmp_path_factory.mktemp("bn-erasure"))
    return system


def _acc(out: torch.Tensor, y: torch.Tensor) -> float:
    return float((out.argmax(1) == y).float().mean())


def test_analog_accuracy_rises_with_snr_on_awgn_and_rayleigh(analog, tiny_data) -> None:
    x, y = fetch_batch(tiny_data[1], torch.arange(256))
    assert analog.link == "analog" and analog.channel_uses() == 4 * 4 * 4 // 2
    for channel in (build_channel("awgn"), build_channel("rayleigh", csi="perfect")):
        accs = []
        for snr in (-10.0, 20.0):
            g = torch.Generator().manual_seed(0)
            accs.append(
                _acc(analog.transport.transmit(analog, x, torch.full((256,), snr), channel, g), y)
            )
        assert accs[1] > 0.9, accs
        assert accs[0] < accs[1], accs


def test_condition_plane_changes_the_code(analog, tiny_data) -> None:
    x, _ = fetch_batch(tiny_data[1], torch.arange(4))
    feature = analog.head(x)
    with torch.no_grad():
        a = analog._encode(feature, torch.zeros(4))
        b = analog._encode(feature, torch.ones(4))
    assert not torch.allclose(a, b)


def test_erasure_mode_sends_8bit_symbols_and_round_trips(erasure, tiny_data) -> None:
    x, y = fetch_batch(tiny_data[1], torch.arange(64))
    payloads = erasure.device_encode(x)
    assert erasure.link == "digital" and erasure.channel_uses() is None
    assert all(len(p.chunks[0]) == 4 * 8 * 8 for p in payloads)
    decoded = erasure.edge_decode([Payload.from_bytes(p.to_bytes()) for p in payloads])
    with torch.no_grad():
        torch.testing.assert_close(decoded, erasure(x).output)
    assert _acc(decoded, y) > 0.9
    bad = Payload(payloads[0].system, payloads[0].shapes, {"b": 8}, (b"\x00",))
    with pytest.raises(PayloadError, match="chunk 0 has 1 bytes; this model's has 256"):
        erasure.edge_decode([bad])
    unlabelled = Payload(payloads[0].system, payloads[0].shapes, {}, payloads[0].chunks)
    with pytest.raises(PayloadError, match=r"b=None != model's 8"):
        erasure.edge_decode([unlabelled])


def test_erasure_mask_is_applied_at_the_requested_rate() -> None:
    u = torch.ones(4, 100_000)
    p = torch.tensor([0.0, 0.1, 0.5, 0.9])
    kept = _erase(u, p, torch.Generator().manual_seed(0)).mean(1)
    torch.testing.assert_close(kept, 1 - p, atol=0.01, rtol=0)


def test_bad_parameters_are_named(tiny_ctx: BuildContext) -> None:
    with pytest.raises(SystemConfigError, match="stride"):
        build_system("bottlenet++", {"stride": 3}, tiny_ctx)
    with pytest.raises(SystemConfigError, match="channel"):
        build_system("bottlenet++", {"channel": "bsc"}, tiny_ctx)
