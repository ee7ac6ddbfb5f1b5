"""AECNN: staged training on the tiny set raises accuracy, the real byte path reproduces the
training graph for both selection modes, real bits track the estimate, bad payloads are named."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.coding import Payload, PayloadError
from semcom.coding.ans import max_overhead_bits
from semcom.data import fetch_batch
from semcom.latency.flops import count_params
from semcom.systems import BuildContext, SystemConfigError, build_system
from semcom.train import Phase, train_phase


def _accuracy(system, data) -> float:
    system.eval()
    x, y = fetch_batch(data, torch.arange(len(data)))
    with torch.no_grad():
        return float((system(x).output.argmax(1) == y).float().mean())


@pytest.fixture(scope="module", params=["global", "per-sample"])
def trained(request, tmp_path_factory, tiny_ctx: BuildContext, tiny_data) -> tuple:
    train, test = tiny_data
    torch.manual_seed(0)
    params = {"k": 4, "bits": 3, "selection": request.param}
    if request.param == "per-sample":
        params.update(mix=3, downsample=2, encoder_blocks=1, decoder_blocks=1, decoder="inverse")
    system = build_system("aecnn", params, tiny_ctx)
    before = _accuracy(system, test)
    ckpt = tmp_path_factory.mktemp("ckpt")
    stages = [
        Phase("backbone", epochs=2, lr=3e-3, path="bypass"),
        Phase("attention", epochs=1, lr=3e-3, trainable=["attention", "tail"], path="attention"),
        Phase(
            "compressor",
            epochs=4,
            lr=3e-3,
            trainable=["encoder", "entropy", "decoder"],
            losses={"task": 1.0, "rate": 0.01, "feature": 0.1},
        ),
        Phase("finetune", epochs=1, lr=1e-3, losses={"task": 1.0, "rate": 0.01}),
    ]
    for phase in stages:
        train_phase(system, phase, train, batch_size=32, seed=0, ckpt_dir=ckpt)
    system.prepare_for_coding()
    system.eval()
    return system, test, before


def test_staged_training_raises_accuracy(trained) -> None:
    system, test, before = trained
    after = _accuracy(system, test)
    assert after > 0.6 and after > before + 0.2, (before, after)


def test_byte_path_equals_training_graph(trained) -> None:
    system, test, _ = trained
    x, _ = fetch_batch(test, torch.arange(32))
    wire = [p.to_bytes() for p in system.device_encode(x)]
    decoded = system.edge_decode([Payload.from_bytes(b) for b in wire])
    with torch.no_grad():
        reference = system(x).output
    torch.testing.assert_close(decoded, reference, rtol=1e-4, atol=1e-4)


def test_global_ranking_is_frozen_into_the_state_dict(trained, tiny_ctx) -> None:
    system, _, _ = trained
    if system.params.selection != "global":
        pytest.skip("per-sample selection sends its indices")
    assert torch.equal(system.global_index, system.importance.topk(4).indices.sort().values)
    clone = build_system("aecnn", system.params.model_dump(by_alias=True), tiny_ctx)
    clone.load_state_dict(system.state_dict())
    assert torch.equal(clone.global_index, system.global_index)


def test_real_bits_track_estimate_plus_header(trained) -> None:
    system, test, _ = trained
    x, _ = fetch_batch(test, torch.arange(128))
    payloads = system.device_encode(x)
    body = sum(8 * (len(p.to_bytes()) - p.header_bytes) for p in payloads)
    estimate = float(system.estimate_payload_bits(x).sum())
    # ANS ends each sample's stream on a whole 32-bit word: the documented bound is
    # max_overhead_bits(N) (<= 56 bits + 0.6 % of N) per sample on top of the table rate.
    slack = sum(max_overhead_bits(math.prod(system.code_shape())) for _ in payloads)
    assert abs(body - estimate) <= 0.01 * estimate + slack, (body, estimate)


def test_wrong_payloads_are_rejected_with_reasons(trained) -> None:
    system, test, _ = trained
    x, _ = fetch_batch(test, torch.arange(1))
    good = system.device_encode(x)[0]
    bad_k = Payload(good.system, good.shapes, {**good.params, "k": 5}, good.chunks)
    with pytest.raises(PayloadError, match="k=5"):
        system.edge_decode([bad_k])
    bad_shape = Payload(good.system, ((9, 1, 1),), good.params, good.chunks)
    with pytest.raises(PayloadError, match="shapes"):
        system.edge_decode([bad_shape])
    if system.params.selection == "per-sample":
        wrong_mask = Payload(good.system, good.shapes, good.params, (good.chunks[0], b"\xff" * 4))
        with pytest.raises(PayloadError, match="selects 32 channels"):
            system.edge_decode([wrong_mask])


def test_residual_blocks_go_to_their_side(tiny_ctx) -> None:
    def counts(**blocks: int) -> tuple[int, int]:
        system = build_system("aecnn", {"k": 4, **blocks}, tiny_ctx)
        return count_params(system.device_modules()), count_params(system.edge_modules())

    device0, edge0 = counts()
    device_dec, edge_dec = counts(decoder_blocks=2)
    device_enc, edge_enc = counts(encoder_blocks=1)
    assert device_dec == device0 and edge_dec > edge0
    assert device_enc > device0 and edge_enc == edge0
    for field in ("decoder_blocks", "encoder_blocks"):
        with pytest.raises(SystemConfigError, match=field):
            build_system("aecnn", {field: -1}, tiny_ctx)


def test_invalid_parameters_name_the_field(tiny_ctx) -> None:
    with pytest.raises(SystemConfigError, match="aecnn.k"):
        build_system("aecnn", {"k": 1000}, tiny_ctx)
    with pytest.raises(SystemConfigError, match="selection"):
        build_system("aecnn", {"selection": "random"}, tiny_ctx)


def test_inverse_decoder_starts_as_the_identity(tiny_ctx, tiny_data) -> None:
    """At initialisation and 8 bits, the ``inverse`` edge hands the tail what the attention
    path would (logit undoes the sigmoid, the residual conv starts at zero); the ``plain`` one
    starts from a random map."""
    x, _ = fetch_batch(tiny_data[1], torch.arange(64))

    def gap(decoder: str) -> float:
        torch.manual_seed(0)
        params = {"k": 32, "bits": 8, "decoder": decoder}  # k = width: every channel kept
        system = build_system("aecnn", params, tiny_ctx).eval()
        with torch.no_grad():
            reference = system(x, path="attention").output
            return float((system(x).output - reference).abs().max() / reference.abs().max())

    assert gap("inverse") < 0.05
    assert gap("plain") > 0.1
    with pytest.raises(SystemConfigError, match="decoder"):
        build_system("aecnn", {"decoder": "identity"}, tiny_ctx)


def _body_bits(system, x) -> int:
    return sum(8 * (len(p.to_bytes()) - p.header_bytes) for p in system.device_encode(x))


def test_fitted_coder_changes_bits_not_what_the_edge_decodes(trained, tiny_ctx, tiny_data) -> None:
    system, test, _ = trained
    train, _ = tiny_data
    params = {**system.params.model_dump(by_alias=True), "fit_context": 1}
    fitted = build_system("aecnn", params, tiny_ctx)
    missing, unexpected = fitted.load_state_dict(system.state_dict(), strict=False)
    # a model stored without fit_context lacks only the coder's entries (and loads as it was)
    assert not unexpected and all(k.startswith("coder") for k in missing), missing
    assert not any(k.startswith("coder") for k in system.state_dict())
    fitted.eval()
    fitted.prepare_for_coding()
    x_test, _ = fetch_batch(test, torch.arange(len(test)))
    x_train, _ = fetch_batch(train, torch.arange(len(train)))
    # before the fit the coder codes with the trained density in every context: the same ideal
    # code length; the streams may differ only within the ANS overhead bound, because the
    # context coder orders the symbols by context, which moves the raw-coded stack start
    symbols = system.device_tensors(x_test)["symbols"]
    trained_ideal = float(system.entropy.table_bits(symbols).sum())
    assert float(fitted.coder.table_bits(symbols).sum()) == pytest.approx(trained_ideal, rel=1e-3)
    slack = len(x_test) * max_overhead_bits(math.prod(symbols.shape[1:]))
    for model in (system, fitted):
        assert _body_bits(model, x_test) <= trained_ideal + slack
    summary = fitted.fit_coding(x_train[i : i + 50] for i in range(0, len(x_train), 50))
    assert summary is not None and summary["fitted_images"] == len(train)
    assert summary["fitted_table_bits"] < summary["trained_table_bits"]
    assert _body_bits(fitted, x_train) < _body_bits(system, x_train)
    wire = [p.to_bytes() for p in fitted.device_encode(x_test[:32])]
    decoded = fitted.edge_decode([Payload.from_bytes(b) for b in wire])
    reference = system.edge_decode(system.device_encode(x_test[:32]))
    torch.testing.assert_close(decoded, reference)
    # the fitted tables travel in the state dict: a reloaded model writes the same bytes
    clone = build_system("aecnn", params, tiny_ctx)
    clone.load_state_dict(fitted.state_dict())
    clone.eval()
    clone.prepare_for_coding()
    assert [p.to_bytes() for p in clone.device_encode(x_test[:32])] == wire
    assert system.fit_coding([x_train]) is None  # no fit_context: nothing to fit
