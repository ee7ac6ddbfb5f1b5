"""Staged training: roles freeze, checkpoints skip finished stages, an interrupted stage resumes
to exactly the weights of an uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semcom.data import fetch_batch
from semcom.storage.checkpoint import load_progress
from semcom.systems import BuildContext, build_system, set_trainable
from semcom.train import Phase, frozen_teacher, train_phase
from semcom.train.losses import distillation_loss


def _weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_set_trainable_freezes_other_roles(tiny_ctx: BuildContext) -> None:
    system = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    params = set_trainable(system, ["encoder", "decoder"])
    trainable = {id(p) for p in params}
    assert all(id(p) in trainable for p in system.encoder.parameters())
    assert not any(p.requires_grad for p in system.head.parameters())
    assert not any(p.requires_grad for p in system.tail.parameters())
    with pytest.raises(ValueError, match="allowed: head"):
        set_trainable(system, ["encodr"])


def test_frozen_roles_do_not_change(tiny_ctx: BuildContext, tiny_data, tmp_path: Path) -> None:
    torch.manual_seed(0)
    system = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    head_before = _weights(system.head)
    enc_before = _weights(system.encoder)
    phase = Phase(
        "compressor",
        epochs=0.25,
        lr=1e-2,
        trainable=["encoder", "entropy", "decoder"],
        losses={"task": 1.0, "rate": 0.01},
    )
    train_phase(system, phase, tiny_data[0], batch_size=32, seed=0, ckpt_dir=tmp_path)
    for k, v in system.head.state_dict().items():
        assert torch.equal(v, head_before[k]), k  # weights and BN statistics untouched
    assert any(not torch.equal(v, enc_before[k]) for k, v in system.encoder.state_dict().items())


def test_interrupted_stage_resumes_exactly(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    phase = Phase("joint", epochs=1, lr=1e-2, losses={"task": 1.0, "rate": 0.01})

    torch.manual_seed(0)
    straight = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    train_phase(straight, phase, tiny_data[0], batch_size=64, seed=3, ckpt_dir=tmp_path / "a")

    torch.manual_seed(0)
    interrupted = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    part = train_phase(
        interrupted,
        phase,
        tiny_data[0],
        batch_size=64,
        seed=3,
        ckpt_dir=tmp_path / "b",
        stop_after_steps=3,
    )
    assert part.steps == 3
    assert load_progress(tmp_path / "b" / "joint.progress.pt")["step"] == 3
    assert not (tmp_path / "b" / "joint.safetensors").exists()

    torch.manual_seed(123)  # a new process: fresh model, different global RNG
    resumed = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    result = train_phase(
        resumed, phase, tiny_data[0], batch_size=64, seed=3, ckpt_dir=tmp_path / "b"
    )
    assert result.resumed_from_step == 3
    assert (tmp_path / "b" / "joint.safetensors").exists()
    assert not (tmp_path / "b" / "joint.progress.pt").exists()
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, msg=k)


def test_finished_stage_is_loaded_not_retrained(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    phase = Phase("joint", epochs=0.25, lr=1e-2)
    torch.manual_seed(0)
    first = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    train_phase(first, phase, tiny_data[0], batch_size=64, seed=0, ckpt_dir=tmp_path)
    torch.manual_seed(1)
    second = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    result = train_phase(second, phase, tiny_data[0], batch_size=64, seed=0, ckpt_dir=tmp_path)
    assert result.skipped and result.steps == 0
    for k, v in first.state_dict().items():
        assert torch.equal(second.state_dict()[k], v), k


def test_noise_aware_stage_draws_snr_per_sample(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    seen: list[torch.Tensor] = []
    system = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    original = system.forward

    def spy(x, snr_db=None, path="full"):
        seen.append(snr_db)
        return original(x, snr_db, path)

    system.forward = spy  # type: ignore[method-assign]
    phase = Phase("noisy", epochs=0.125, lr=1e-3, snr_db=(-5.0, 15.0), bn_batches=0)
    train_phase(system, phase, tiny_data[0], batch_size=32, seed=0, ckpt_dir=tmp_path)
    assert seen and all(s is not None and s.shape == (32,) for s in seen)
    allsnr = torch.cat(seen)
    assert allsnr.min() >= -5 and allsnr.max() <= 15 and allsnr.std() > 1


def test_batchnorm_recalibration_matches_the_data_statistics(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    """After a phase, BN running statistics are the plain average over training batches."""
    torch.manual_seed(0)
    system = build_system("local", {}, tiny_ctx)
    phase = Phase("short", epochs=0.125, lr=1e-3, path="bypass", bn_batches=8)
    train_phase(system, phase, tiny_data[0], batch_size=64, seed=0, ckpt_dir=tmp_path)
    normalize, conv, stem_bn = system.head.stem[:3]
    x, _ = fetch_batch(tiny_data[0], torch.arange(len(tiny_data[0])))
    with torch.no_grad():
        pre = conv(normalize(x))  # 8 batches of 64 cover the 512 samples exactly once
    torch.testing.assert_close(stem_bn.running_mean, pre.mean(dim=(0, 2, 3)), atol=1e-4, rtol=1e-4)
    assert stem_bn.momentum == 0.1  # restored


def test_batchnorm_statistics_of_an_augmented_phase_are_those_of_augmented_batches(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    """A network trained on augmented batches is evaluated with the statistics of augmented
    batches (with plain-image statistics a CIFAR-10 ResNet-20 lost 3.4 points), drawn from the
    phase's seed: the same whatever the random state before, which is left as it was."""
    from semcom.data.augment import Augment
    from semcom.train.batchnorm import recalibrate_batchnorm

    augment = Augment(crop_padding=4, hflip=True)
    means = []
    for before in (1, 2):
        torch.manual_seed(0)
        system = build_system("local", {}, tiny_ctx)
        torch.manual_seed(before)
        state = torch.get_rng_state()
        recalibrate_batchnorm(system, tiny_data[0], roles="all", path="bypass", batch_size=64,
                              batches=8, seed=0, augment=augment)  # fmt: skip
        assert torch.equal(torch.get_rng_state(), state)
        means.append(system.head.stem[2].running_mean.clone())
    torch.testing.assert_close(means[0], means[1], rtol=0, atol=0)
    torch.manual_seed(0)
    plain = build_system("local", {}, tiny_ctx)
    recalibrate_batchnorm(plain, tiny_data[0], roles="all", path="bypass", batch_size=64,
                          batches=8, seed=0)  # fmt: skip
    # zero padding darkens the crops' borders: other statistics than the plain images'
    assert not torch.allclose(plain.head.stem[2].running_mean, means[0], atol=1e-3)


def test_distillation_pulls_the_split_system_towards_the_unsplit_teacher(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    from semcom.train.losses import distillation_loss

    logits = torch.randn(8, 4)
    assert float(distillation_loss(logits, logits)) == pytest.approx(0.0, abs=1e-6)
    assert float(distillation_loss(logits, logits.flip(1))) > 0.01

    torch.manual_seed(0)
    system = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    backbone = Phase("backbone", epochs=2, lr=1e-2, path="bypass")  # a confident teacher
    train_phase(system, backbone, tiny_data[0], batch_size=32, seed=0, ckpt_dir=tmp_path)
    x, _ = fetch_batch(tiny_data[1], torch.arange(128))

    def gap() -> float:
        system.eval()
        with torch.no_grad():
            teacher = system(x, path="bypass").output
            return float(distillation_loss(system(x).output, teacher))

    before = gap()
    phase = Phase(
        "distill",
        epochs=3,
        lr=1e-2,
        trainable=["encoder", "entropy", "decoder"],
        losses={"distill": 1.0},
        schedule="cosine",
    )
    result = train_phase(system, phase, tiny_data[0], batch_size=32, seed=0, ckpt_dir=tmp_path)
    assert set(result.terms) == {"distill"}
    assert gap() < 0.5 * before


def test_a_given_teacher_stays_the_unsplit_network_after_the_tail_is_retrained(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    from semcom.train.losses import distillation_loss

    torch.manual_seed(0)
    train = tiny_data[0]
    system = build_system("aecnn", {"k": 32, "bits": 3}, tiny_ctx)  # k = width: no selection
    backbone = Phase("backbone", epochs=2, lr=1e-2, path="bypass")
    train_phase(system, backbone, train, batch_size=32, seed=0, ckpt_dir=tmp_path)
    teacher = frozen_teacher(system)
    # AECNN's attention stage retrains the tail on attention-scaled features: afterwards the
    # system's own bypass path is no longer the network the teacher was taken from
    attention = Phase(
        "attention", epochs=2, lr=1e-2, trainable=["attention", "tail"], path="attention"
    )
    train_phase(system, attention, train, batch_size=32, seed=0, ckpt_dir=tmp_path)
    x, _ = fetch_batch(train, torch.arange(len(train)))
    system.eval()
    with torch.no_grad():
        student = system(x, path="attention").output
        to_unsplit = float(distillation_loss(student, teacher(x, path="bypass").output))
        to_moved = float(distillation_loss(student, system(x, path="bypass").output))
    assert abs(to_unsplit - to_moved) > 0.05 * to_unsplit  # the bypass path did move

    # one full-batch step with a negligible learning rate reports the distill term it trained on
    probe = Phase(
        "probe", epochs=1, lr=1e-9, trainable=["attention"], path="attention", losses={"distill": 1}
    )
    n = len(train)
    own = train_phase(system, probe, train, batch_size=n, seed=0, ckpt_dir=tmp_path / "own")
    given = train_phase(
        system, probe, train, batch_size=n, seed=0, ckpt_dir=tmp_path / "given", teacher=teacher
    )
    assert own.terms["distill"] == pytest.approx(to_moved, rel=1e-3)  # default: phase start
    assert given.terms["distill"] == pytest.approx(to_unsplit, rel=1e-3)


def test_distillation_of_segmentation_logits_is_per_pixel(tmp_path: Path) -> None:
    ctx = BuildContext(3, (3, 16, 16), "resnet-small", "layer1", "synthetic-segmentation")
    system = build_system("lssc", {"task": "segmentation", "depth": 1, "width": 8}, ctx)
    data = torch.utils.data.TensorDataset(torch.rand(8, 3, 16, 16), torch.zeros(8, 16, 16).long())
    phase = Phase("d", epochs=1, lr=1e-3, losses={"task": 1.0, "distill": 1.0}, bn_batches=0)
    result = train_phase(system, phase, data, batch_size=4, seed=0, ckpt_dir=tmp_path)
    assert result.terms["distill"] > 0 and result.train_metrics["miou"] is not None
    student = torch.randn(2, 3, 4, 4)
    assert float(distillation_loss(student, student)) == pytest.approx(0.0, abs=1e-6)
    # the per-pixel mean: the same KL on every pixel of a 4x4 map equals that KL on one pixel
    one = distillation_loss(student[:, :, :1, :1], torch.zeros(2, 3, 1, 1))
    tiled = distillation_loss(student[:, :, :1, :1].expand(2, 3, 4, 4), torch.zeros(2, 3, 4, 4))
    assert float(tiled) == pytest.approx(float(one), rel=1e-5)


def _learning_rates(phase: Phase, ctx: BuildContext, data, ckpt_dir: Path) -> list[float]:
    """The learning rate of each of ``phase``'s Adam steps on a small quantised split."""
    seen: list[float] = []
    torch.manual_seed(0)
    system = build_system("quantized-split", {"channels": 2, "bits": 2}, ctx)
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):  # records the learning rate each step uses
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy  # type: ignore[method-assign]
    try:
        train_phase(system, phase, data, batch_size=64, seed=0, ckpt_dir=ckpt_dir)
    finally:
        torch.optim.Adam.step = original  # type: ignore[method-assign]
    return seen


def test_cosine_schedule_decays_the_learning_rate_to_zero(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    phase = Phase("c", epochs=1, lr=0.01, schedule="cosine")
    seen = _learning_rates(phase, tiny_ctx, tiny_data[0], tmp_path)
    assert seen[0] == pytest.approx(0.01) and len(seen) == 8
    assert all(a > b for a, b in zip(seen, seen[1:], strict=False)) and seen[-1] < 0.01 * 0.05


def test_channels_last_training_matches_the_default_layout(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    """The channels-last layout is an execution detail: the same steps give the same weights (to
    float rounding), and the trained weights are back in the default layout (safetensors and the
    coders expect contiguous tensors)."""
    phase = Phase("backbone", epochs=0.125, lr=1e-2, trainable="all", path="bypass")
    trained = []
    for layout, channels_last in (("plain", False), ("last", True)):
        torch.manual_seed(0)
        system = build_system("local", {}, tiny_ctx)
        train_phase(system, phase, tiny_data[0], batch_size=32, seed=0,
                    ckpt_dir=tmp_path / layout, channels_last=channels_last)  # fmt: skip
        trained.append(system.state_dict())
    for k, v in trained[0].items():
        assert trained[1][k].is_contiguous(), k
        torch.testing.assert_close(trained[1][k], v, rtol=1e-2, atol=2e-3, msg=k)


@pytest.mark.parametrize(("amp", "amp_cpu", "expected"), [
    (True, False, torch.float32),  # amp is for CUDA / MPS: CPU results never depend on it
    (False, True, torch.bfloat16),
])  # fmt: skip
def test_cpu_precision_is_chosen_by_amp_cpu_alone(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path, amp: bool, amp_cpu: bool, expected
) -> None:
    """``amp_cpu`` runs the CPU training steps' convolutions in bfloat16; the trained weights
    stay float32 and their update follows that of float32 training."""
    phase = Phase("backbone", epochs=0.125, lr=1e-2, trainable="all", path="bypass")
    trained, starts, seen = [], [], []
    for name, flags in (("plain", {}), ("mixed", {"amp": amp, "amp_cpu": amp_cpu})):
        torch.manual_seed(0)
        system = build_system("local", {}, tiny_ctx)
        starts.append(torch.nn.utils.parameters_to_vector(system.parameters()).detach().clone())
        conv = next(m for m in system.modules() if isinstance(m, torch.nn.Conv2d))
        hook = conv.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
        train_phase(system, phase, tiny_data[0], batch_size=32, seed=0,
                    ckpt_dir=tmp_path / name, **flags)  # fmt: skip
        hook.remove()
        trained.append(system)
    mixed_dtypes = seen[len(seen) // 2 :]
    # training steps in ``expected``; the batch-norm re-estimation after the phase is float32
    assert mixed_dtypes[0] == expected
    assert (torch.bfloat16 in mixed_dtypes) == (expected == torch.bfloat16)
    assert all(v.dtype in (torch.float32, torch.int64) for v in trained[1].state_dict().values())
    step_plain, step = (
        torch.nn.utils.parameters_to_vector(s.parameters()).detach() - start
        for s, start in zip(trained, starts, strict=True)
    )
    assert torch.nn.functional.cosine_similarity(step, step_plain, dim=0) > 0.9
    assert float(step.norm() / step_plain.norm()) == pytest.approx(1.0, abs=0.1)


def test_warmup_ramps_the_rate_up_then_the_cosine_decays_it(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    # 8 steps per epoch: 4 of warm-up, then 4 of cosine
    phase = Phase("w", epochs=1, lr=0.01, schedule="cosine", warmup_epochs=0.5)
    seen = _learning_rates(phase, tiny_ctx, tiny_data[0], tmp_path)
    assert seen[0] == pytest.approx(1e-4)
    assert all(a < b for a, b in zip(seen[:4], seen[1:5], strict=False))
    assert seen[4] == pytest.approx(0.01)
    assert all(a > b for a, b in zip(seen[4:], seen[5:], strict=False))


def test_gradient_clipping_bounds_the_update(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    """With plain SGD the change of the weights in one step is lr x the clipped gradient."""
    torch.manual_seed(0)
    system = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    before = [p.detach().clone() for p in system.parameters()]
    phase = Phase("c", epochs=1 / 8, lr=1.0, optimizer={"name": "SGD"}, grad_clip=1e-3)
    train_phase(system, phase, tiny_data[0], batch_size=64, seed=0, ckpt_dir=tmp_path)
    pairs = zip(system.parameters(), before, strict=True)
    step = torch.cat([(p.detach() - b).flatten() for p, b in pairs])
    assert 0 < float(step.norm()) <= 1e-3 * 1.001
