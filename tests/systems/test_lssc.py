"""LSSC and its UNet baseline: the analog contract, the shared backbone, training on the
``synthetic`` set (loss drops, accuracy rises, high SNR beats very low SNR), the segmentation
variant on ``synthetic-segmentation``, and parameter errors that name the field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from semcom.channels import build_channel, mean_energy
from semcom.data import build_dataset, fetch_batch, take_first
from semcom.data.segmentation import (
    SegmentationTensorDataset,
    make_segmentation_images,
    synthetic_segmentation_datasets,
)
from semcom.systems import BuildContext, SystemConfigError, build_system
from semcom.tasks.functional import majority_pixel_accuracy
from semcom.train import Phase, train_phase


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Tiny networks on a shared CPU: one intra-op thread is much faster than two that wait for
    each other."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def synthetic():  # noqa: ANN201
    return build_dataset("synthetic")


@pytest.fixture(scope="module")
def ctx28(synthetic) -> BuildContext:  # noqa: ANN001
    info = synthetic[2]
    return BuildContext(info.num_classes, info.input_shape, "resnet-small", "layer2", "synthetic")


def _accuracy(out: torch.Tensor, y: torch.Tensor) -> float:
    return float((out.argmax(1) == y).float().mean())


def _analog_accuracy(system, x, y, snr: float, channel: str = "awgn") -> float:  # noqa: ANN001
    g = torch.Generator().manual_seed(0)
    s = torch.full((len(x),), snr)
    return _accuracy(system.transport.transmit(system, x, s, build_channel(channel), g), y)


@pytest.fixture(scope="module")
def trained(synthetic, ctx28, tmp_path_factory):  # noqa: ANN001, ANN201
    """LSSC (depth 2, width 8) trained end to end for 40 steps on 640 ``synthetic`` images."""
    torch.manual_seed(0)
    train, test, _ = synthetic
    system = build_system("lssc", {"depth": 2, "width": 8, "train_snr_db": [0, 20]}, ctx28)
    x, y = fetch_batch(test, torch.arange(256))
    system.eval()
    before = _analog_accuracy(system, x, y, 20.0)
    losses: list[float] = []
    phase = Phase("joint", epochs=2, lr=3e-3, losses={"task": 1.0, "feature": 1.0}, bn_batches=5)
    train_phase(
        system,
        phase,
        take_first(train, 640),
        batch_size=32,
        seed=0,
        ckpt_dir=tmp_path_factory.mktemp("lssc"),
        on_step=lambda step, total, terms: losses.append(terms["task"]),
    )
    system.eval()
    return system, losses, before, (x, y)


# --- training ------------------------------------------------------------------------------------
def test_lssc_trains_loss_drops_and_accuracy_rises(trained) -> None:  # noqa: ANN001
    system, losses, before, (x, y) = trained
    assert len(losses) == 40
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert last < 0.5 * first, losses
    after = _analog_accuracy(system, x, y, 20.0)
    assert after > 0.7 and after > before + 0.4, (before, after)


def test_high_snr_analog_accuracy_beats_very_low_snr(trained) -> None:  # noqa: ANN001
    system, _, _, (x, y) = trained
    low, high = _analog_accuracy(system, x, y, -20.0), _analog_accuracy(system, x, y, 20.0)
    assert high >= low and high > 0.7, (low, high)
    # the decoder with perfect-CSI equalisation also works over block Rayleigh fading
    assert _analog_accuracy(system, x, y, 20.0, "rayleigh") > low


def test_feature_extras_are_the_image_and_its_reconstruction(trained) -> None:  # noqa: ANN001
    system, _, _, (x, _) = trained
    with torch.no_grad():
        out = system(x[:8], torch.full((8,), 20.0))
        again = system.reconstruct(x[:8], 20.0)
    assert out.output.shape == (8, 10)
    assert torch.equal(out.extras["feature"], x[:8])
    hat = out.extras["feature_hat"]
    assert hat.shape == x[:8].shape and bool(((hat >= 0) & (hat <= 1)).all())
    assert again.shape == hat.shape


# --- contract ------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_analog_contract_and_accounting(ctx28: BuildContext, depth: int) -> None:
    system = build_system("lssc", {"depth": depth, "width": 4}, ctx28).eval()
    assert system.link == "analog" and system.task.kind == "classification"
    assert system.channel_uses() == round(0.25 * 28 * 28) == 196
    assert system.split_elements() == 784
    assert set(system.roles()) == {"encoder", "decoder", "tail"}
    assert system.device_modules() == [system.encoder]
    assert system.edge_modules() == [system.decoder, system.classifier]
    described = system.describe()
    assert described["depth"] == depth and described["cbam"] is True
    x = torch.rand(3, 1, 28, 28)
    snr = torch.tensor([0.0, 10.0, 20.0])
    symbols = system.analog_encode(x, snr)
    assert symbols.shape == (3, 196) and symbols.is_complex()
    torch.testing.assert_close(mean_energy(symbols), torch.ones(3), rtol=1e-5, atol=1e-5)
    assert system.analog_decode(symbols, snr).shape == (3, 10)


def test_bypass_is_the_classifier_and_the_shared_backbone_loads(ctx28: BuildContext) -> None:
    torch.manual_seed(0)
    local = build_system("local", {}, ctx28).eval()
    system = build_system("lssc", {"depth": 1, "width": 4}, ctx28).eval()
    assert set(system.backbone_state()) == set(local.backbone_state())
    system.load_backbone_state(local.backbone_state())
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(system(x, path="bypass").output, local.infer_local(x))
        torch.testing.assert_close(system.infer_local(x), local.infer_local(x))
    with pytest.raises(ValueError, match="allowed: full, bypass"):
        system(x, path="attention")


def test_unspecified_snr_is_drawn_per_sample_and_snr_adaptive_code_depends_on_it(
    ctx28: BuildContext,
) -> None:
    torch.manual_seed(0)
    system = build_system("lssc", {"depth": 2, "width": 4, "snr_adaptive": True}, ctx28)
    system.train()
    x = torch.rand(4, 1, 28, 28)
    out = system(x)  # snr_db None: drawn from train_snr_db
    assert out.output.shape == (4, 10) and bool(torch.isfinite(out.output).all())
    system.eval()
    a = system.analog_encode(x, torch.full((4,), -5.0))
    b = system.analog_encode(x, torch.full((4,), 20.0))
    assert not torch.allclose(a, b)


def test_rayleigh_training_channel_and_transmitted_skips(ctx28: BuildContext) -> None:
    torch.manual_seed(0)
    params = {"depth": 2, "width": 4, "train_channel": "rayleigh", "skips": "transmitted"}
    system = build_system("lssc", params, ctx28)
    skip_reals = 1 * 28 * 28 + 1 * 14 * 14  # one plane per skip, stages 0 and 1
    assert system.channel_uses() == 196 + skip_reals // 2
    out = system(torch.rand(4, 1, 28, 28), torch.full((4,), 10.0))
    torch.nn.functional.cross_entropy(out.output, torch.arange(4)).backward()
    grad = system.encoder.stages[0][0].weight.grad
    assert grad is not None and bool(torch.isfinite(grad).all()) and grad.abs().sum() > 0


def test_unet_baseline_is_the_4_stage_unet_without_cbam(ctx28: BuildContext) -> None:
    unet = build_system("unet", {"width": 4}, ctx28)
    same = build_system("lssc", {"width": 4, "depth": 4, "cbam": False}, ctx28)
    assert unet.describe()["depth"] == 4 and unet.describe()["cbam"] is False
    assert unet.layout == same.layout and unet.channel_uses() == 196
    assert [n for n, _ in unet.named_parameters()] == [n for n, _ in same.named_parameters()]
    lighter = build_system("lssc", {"width": 4, "depth": 2}, ctx28)
    n_unet = sum(p.numel() for m in unet.device_modules() for p in m.parameters())
    n_lssc = sum(p.numel() for m in lighter.device_modules() for p in m.parameters())
    assert n_lssc < n_unet


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("lssc", {"depth": 5}, r"systems\.depth: Input should be 1, 2, 3 or 4"),
        ("lssc", {"skips": "sent"}, r"systems\.skips: Input should be 'dropped' or 'transmitted'"),
        ("lssc", {"cbam": "maybe"}, r"systems\.cbam"),
        ("lssc", {"cbr": 0}, r"systems\.cbr: Input should be greater than 0"),
        ("lssc", {"train_channel": "rician"}, r"systems\.train_channel: .*'awgn' or 'rayleigh'"),
        ("lssc", {"task": "detection"}, r"systems\.task: .*'classification' or 'segmentation'"),
        ("lssc", {"train_snr_db": [10, 0]}, r"systems\.train_snr_db: .*lo <= hi"),
        ("lssc", {"width": 32, "max_width": 16}, r"systems\.max_width: .*>= width"),
        ("lssc", {"kk": 1}, r"systems\.kk: Extra inputs are not permitted"),
        ("unet", {"depth": 3}, r"systems\.depth: .*depth 4 only.*'lssc'"),
        ("unet", {"cbam": True}, r"systems\.cbam: .*no CBAM"),
    ],
)
def test_bad_params_are_rejected_naming_the_field(
    ctx28: BuildContext, name: str, params: dict, message: str
) -> None:
    with pytest.raises(SystemConfigError, match=message):
        build_system(name, params, ctx28)


# --- segmentation --------------------------------------------------------------------------------
def test_synthetic_segmentation_set_is_deterministic_and_well_formed() -> None:
    train, test, info = synthetic_segmentation_datasets(40, 8)
    assert (
        info.task.kind == "segmentation" and info.num_classes == 6 and info.image_size == (32, 32)
    )
    assert isinstance(train, SegmentationTensorDataset) and len(train) == 40 and len(test) == 8
    x, m = train[3]
    assert x.shape == (3, 32, 32) and m.shape == (32, 32) and m.dtype == torch.int64
    xb, mb = fetch_batch(train, torch.tensor([3, 0]))
    torch.testing.assert_close(xb[0], x)
    torch.testing.assert_close(mb[0], m)
    assert torch.equal(make_segmentation_images(16, 5)[1], make_segmentation_images(16, 5)[1])
    assert not torch.equal(train.masks[:8], test.masks)
    counts = torch.bincount(train.masks.flatten(), minlength=6)
    assert bool((counts > 0).all()) and int(counts.argmax()) == 0  # all classes, background most
    with pytest.raises(ValueError, match="masks"):
        SegmentationTensorDataset(train.images, train.masks[:, :8])


@pytest.fixture(scope="module")
def segmenter(tmp_path_factory):  # noqa: ANN201
    torch.manual_seed(0)
    train, test, info = build_dataset("synthetic-segmentation")
    ctx = BuildContext(
        info.num_classes, info.input_shape, "resnet-small", "layer2", info.name, info.task
    )
    system = build_system(
        "lssc", {"depth": 2, "width": 8, "task": "segmentation", "train_snr_db": [5, 20]}, ctx
    )
    phase = Phase("codec", epochs=3, lr=5e-3, bn_batches=5)
    ckpt = tmp_path_factory.mktemp("lssc-seg")
    train_phase(system, phase, take_first(train, 640), batch_size=32, seed=0, ckpt_dir=ckpt)
    system.eval()
    return system, test


def test_segmentation_variant_beats_the_majority_class(segmenter) -> None:  # noqa: ANN001
    system, test = segmenter
    assert system.task.kind == "segmentation" and system.classifier is None
    assert set(system.roles()) == {"encoder", "decoder"} and system.backbone_state() == {}
    x, masks = fetch_batch(test, torch.arange(200))
    out = system.transport.transmit(system, x, torch.full((200,), 20.0), build_channel("awgn"))
    assert out.shape == (200, 6, 32, 32)
    evaluator = system.task.evaluator()
    evaluator.update(out, masks)
    scores = evaluator.compute()
    assert scores["pixel_accuracy"] > majority_pixel_accuracy(masks) + 0.02, scores
    with torch.no_grad():
        bypass = system(x[:4], path="bypass").output
    assert bypass.shape == (4, 6, 32, 32)


def test_segmentation_loss_is_per_pixel_and_ignores_255(tmp_path: Path) -> None:
    ctx = BuildContext(3, (3, 16, 16), "resnet-small", "layer2")
    system = build_system("lssc", {"depth": 1, "width": 4, "task": "segmentation"}, ctx)
    logits = torch.zeros(2, 3, 16, 16)
    logits[:, 1] = 5.0  # confident class 1 everywhere
    masks = torch.ones(2, 16, 16, dtype=torch.int64)
    low = system.task_loss(logits, masks)
    masks[:, :8] = 255  # ignored pixels change nothing
    assert float(system.task_loss(logits, masks)) == pytest.approx(float(low))
    masks[:, 8:] = 0
    assert float(system.task_loss(logits, masks)) > float(low) + 1
