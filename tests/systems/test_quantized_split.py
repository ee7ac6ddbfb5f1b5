"""The first end-to-end user of the core: training raises accuracy, the real byte path gives the
same answers as the training graph, and real bits match the entropy model's estimate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from semcom.coding import Payload, PayloadError
from semcom.coding.ans import max_overhead_bits
from semcom.data import fetch_batch
from semcom.systems import BuildContext, build_system, system_names
from semcom.train import Phase, train_phase


def _accuracy(system, data) -> float:
    system.eval()
    x, y = fetch_batch(data, torch.arange(len(data)))
    with torch.no_grad():
        return float((system(x).output.argmax(1) == y).float().mean())


def test_registered() -> None:
    assert {"quantized-split", "local"} <= set(system_names())


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_ctx: BuildContext, tiny_data) -> tuple:
    """A quantized-split model trained for a few dozen steps on the tiny learnable set."""
    ctx = tiny_ctx
    train, test = tiny_data
    torch.manual_seed(0)
    system = build_system("quantized-split", {"channels": 4, "bits": 3}, ctx)
    before = _accuracy(system, test)
    ckpt = tmp_path_factory.mktemp("ckpt")
    train_phase(
        system,
        Phase("all", epochs=4, lr=3e-3, losses={"task": 1.0, "rate": 0.01}),
        train,
        batch_size=32,
        seed=0,
        ckpt_dir=ckpt,
    )
    system.prepare_for_coding()
    system.eval()
    return system, test, before


def test_training_raises_accuracy_above_chance(trained) -> None:
    system, test, before = trained
    after = _accuracy(system, test)
    assert after > 0.6, f"accuracy {after:.2f} after training (chance 0.25)"
    assert after > before + 0.2


def test_real_byte_path_matches_training_graph(trained) -> None:
    system, test, _ = trained
    x, _ = fetch_batch(test, torch.arange(32))
    wire = [p.to_bytes() for p in system.device_encode(x)]
    decoded = system.edge_decode([Payload.from_bytes(b) for b in wire])
    with torch.no_grad():
        reference = system(x).output  # eval mode: hard rounding (STE forward = round)
    torch.testing.assert_close(decoded, reference, rtol=1e-4, atol=1e-4)


def test_real_bits_within_one_percent_of_estimate_plus_header(trained) -> None:
    system, test, _ = trained
    x, _ = fetch_batch(test, torch.arange(128))
    payloads = system.device_encode(x)
    real = sum(8 * len(p.to_bytes()) for p in payloads)
    header = sum(8 * p.header_bytes for p in payloads)
    estimate = float(system.estimate_payload_bits(x).sum())
    body = real - header
    # ANS ends each sample's stream on a whole 32-bit word: the documented bound is
    # max_overhead_bits(N) (<= 56 bits + 0.6 % of N) per sample on top of the table rate.
    slack = sum(max_overhead_bits(math.prod(system.code_shape())) for _ in payloads)
    assert abs(body - estimate) <= 0.01 * estimate + slack, (body, estimate)


def test_wrong_payloads_are_rejected_with_reasons(trained) -> None:
    system, test, _ = trained
    x, _ = fetch_batch(test, torch.arange(1))
    good = system.device_encode(x)[0]
    bad_system = Payload(system="aecnn", shapes=good.shapes, params=good.params, chunks=good.chunks)
    with pytest.raises(PayloadError, match="system"):
        system.edge_decode([bad_system])
    bad_shape = Payload(
        system=good.system, shapes=((4, 2, 2),), params=good.params, chunks=good.chunks
    )
    with pytest.raises(PayloadError, match="shape"):
        system.edge_decode([bad_shape])
    bad_bits = Payload(system=good.system, shapes=good.shapes, params={"b": 7}, chunks=good.chunks)
    with pytest.raises(PayloadError, match="bits"):
        system.edge_decode([bad_bits])


def test_split_elements_and_describe(trained) -> None:
    system, _, _ = trained
    assert system.split_elements() == 32 * 8 * 8  # resnet-small after layer2 on 16x16
    assert system.describe() == {"channels": 4, "bits": 3, "lambda": None}


def test_local_runs_whole_model(tiny_ctx: BuildContext, tmp_path: Path) -> None:
    system = build_system("local", {}, tiny_ctx)
    assert system.link == "none"
    x = torch.rand(3, 1, 16, 16)
    assert system.infer_local(x).shape == (3, 4)
