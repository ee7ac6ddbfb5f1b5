"""The open training vocabulary: optimisers and schedules by name, registered loss terms, the
explicit sweep syntax, declared teachers with feature hooks, and checkpoints keyed by settings."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from semcom.config import ConfigError, expand_system, parse_config, variant_id
from semcom.experiment import run_experiment
from semcom.storage.checkpoint import save_weights
from semcom.storage.store import save_system
from semcom.systems import BuildContext, build_system
from semcom.train import Phase, Teacher, TeacherError, build_teacher, register_loss, train_phase
from semcom.train.losses import LOSS_TERMS, LossInputs
from semcom.train.optim import Schedule, build_optimizer, resolve_optimizer

BASE = {"experiment": "t", "systems": [{"name": "quantized-split"}]}


def _stage_cfg(**stage: object) -> dict:
    return {**BASE, "train": {"stages": [{"name": "s", **stage}]}}


# --- optimisers and schedules --------------------------------------------------------------------
def test_any_torch_optimizer_by_name_with_arguments() -> None:
    cls, kwargs = resolve_optimizer({"name": "AdamW", "betas": [0.9, 0.99]})
    assert cls is torch.optim.AdamW and kwargs == {"betas": [0.9, 0.99]}
    sgd = build_optimizer("sgd", [torch.nn.Parameter(torch.zeros(1))], lr=0.1, weight_decay=1e-4)
    group = sgd.param_groups[0]
    assert (group["momentum"], group["nesterov"], group["weight_decay"]) == (0.9, True, 1e-4)
    parse_config(_stage_cfg(optimizer={"name": "RMSprop", "alpha": 0.9}))
    with pytest.raises(ConfigError, match=r"train\.stages\.0\.optimizer.*lbfgs.*AdamW"):
        parse_config(_stage_cfg(optimizer="lbfgs"))
    with pytest.raises(ConfigError, match=r"AdamW has no argument\(s\) \['momentum'\]"):
        parse_config(_stage_cfg(optimizer={"name": "AdamW", "momentum": 0.9}))


def test_torch_schedulers_step_per_epoch_or_per_step() -> None:
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1.0)
    step_lr = Schedule({"name": "StepLR", "step_size": 1, "gamma": 0.5}, opt, 1.0, 9, 3)
    seen = []
    for step in range(9):
        step_lr.before_step(step, step // 3)
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
    assert seen == [1.0] * 3 + [0.5] * 3 + [0.25] * 3
    opt = torch.optim.SGD([param], lr=1.0)
    one_cycle = Schedule({"name": "OneCycleLR", "max_lr": 1.0, "interval": "step"}, opt, 1.0, 10, 5)
    assert one_cycle.scheduler.total_steps == 10  # the phase's length, filled in
    with pytest.raises(ConfigError, match=r"schedule.*unknown schedule 'warmup'"):
        parse_config(_stage_cfg(schedule="warmup"))
    with pytest.raises(ConfigError, match="interval must be one of epoch, step"):
        parse_config(_stage_cfg(schedule={"name": "StepLR", "step_size": 1, "interval": "hour"}))


def test_an_interrupted_phase_with_a_torch_schedule_resumes_exactly(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    phase = Phase(
        "p",
        epochs=2,
        lr=0.01,
        trainable=["encoder", "entropy", "decoder"],
        losses={"task": 1.0, "rate": 0.01},
        optimizer={"name": "SGD", "momentum": 0.5},
        schedule={"name": "ExponentialLR", "gamma": 0.7},
        bn_batches=0,
    )
    torch.manual_seed(0)
    base = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    whole = copy.deepcopy(base)
    train_phase(whole, phase, tiny_data[0], batch_size=64, seed=0, ckpt_dir=tmp_path / "a")
    cut = copy.deepcopy(base)
    kw = {"batch_size": 64, "seed": 0, "ckpt_dir": tmp_path / "b"}
    train_phase(cut, phase, tiny_data[0], stop_after_steps=11, **kw)  # past the epoch boundary
    resumed = train_phase(cut, phase, tiny_data[0], **kw)
    assert resumed.resumed_from_step == 11
    for (name, a), b in zip(whole.state_dict().items(), cut.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


# --- loss terms ----------------------------------------------------------------------------------
def test_a_registered_loss_term_is_usable_by_name(
    tiny_ctx: BuildContext, tiny_data, tmp_path
) -> None:
    name = "latent_l1_test"
    if name not in LOSS_TERMS:

        @register_loss(name)
        def _l1(inputs: LossInputs) -> torch.Tensor:
            return inputs.output.extras["feature_hat"].abs().mean()

    parse_config(_stage_cfg(losses={"task": 1.0, name: 0.5}))
    system = build_system("quantized-split", {"channels": 2, "bits": 2}, tiny_ctx)
    phase = Phase("l", epochs=0.25, lr=1e-3, losses={"task": 1.0, name: 0.5}, bn_batches=0)
    result = train_phase(system, phase, tiny_data[0], batch_size=64, seed=0, ckpt_dir=tmp_path)
    assert result.terms[name] > 0 and "task" in result.terms
    with pytest.raises(ConfigError, match="unknown loss term.*allowed: task, rate"):
        parse_config(_stage_cfg(losses={"kl": 1.0}))


# --- sweeps --------------------------------------------------------------------------------------
def test_sweep_syntax_is_explicit_and_the_ambiguous_case_is_refused() -> None:
    plain = expand_system({"name": "quantized-split", "channels": [2, 4], "bits": 2})
    assert [variant_id(v) for v in plain] == [
        "quantized-split_channels=2_bits=2",
        "quantized-split_channels=4_bits=2",
    ]
    explicit = expand_system({"name": "quantized-split", "channels": {"sweep": [2, 4]}, "bits": 2})
    assert explicit == plain
    one = expand_system({"name": "lssc", "train_snr_db": {"value": [5, 20]}})
    assert one == [{"name": "lssc", "train_snr_db": [5, 20]}]
    assert variant_id(one[0]) == "lssc_train_snr_db=[5,20]"
    two = expand_system({"name": "lssc", "train_snr_db": {"sweep": [[5, 20], [0, 10]]}})
    assert [v["train_snr_db"] for v in two] == [[5, 20], [0, 10]]
    with pytest.raises(ConfigError) as exc:
        parse_config({**BASE, "systems": [{"name": "lssc", "train_snr_db": [5, 20]}]})
    msg = str(exc.value)
    assert "ambiguous" in msg and "{value: [5, 20]}" in msg and "{sweep: [[5, 20], ...]}" in msg


# --- teachers ------------------------------------------------------------------------------------
def _teacher_cfg(**fields: object):
    return parse_config({**BASE, "train": {"teacher": fields}}).train.teacher


def test_teacher_sources_and_their_required_fields() -> None:
    with pytest.raises(ConfigError, match=r"train\.teacher.*source 'backbone' needs weights"):
        _teacher_cfg(source="backbone")
    with pytest.raises(ConfigError, match=r"source 'run' needs run, variant"):
        _teacher_cfg(source="run")
    with pytest.raises(ConfigError, match=r"weights: not used with source 'self'"):
        _teacher_cfg(weights="x.safetensors")


def test_a_backbone_teacher_loads_its_weights_and_a_run_teacher_its_variant(
    tiny_ctx: BuildContext, tmp_path: Path
) -> None:
    torch.manual_seed(1)
    reference = build_system("local", {}, tiny_ctx)
    save_weights(reference, tmp_path / "teacher.safetensors")
    student = build_system("quantized-split", {"channels": 2}, tiny_ctx)
    cfg = _teacher_cfg(source="backbone", weights=str(tmp_path / "teacher.safetensors"))
    teacher = build_teacher(cfg, student)
    x = torch.rand(3, 1, 16, 16)
    reference.eval()
    torch.testing.assert_close(teacher.run(x, None), reference(x, path="bypass").output)
    save_system(reference, tmp_path / "run", "local")
    from_run = build_teacher(
        _teacher_cfg(source="run", run=str(tmp_path / "run"), variant="local"), student
    )
    torch.testing.assert_close(from_run.run(x, None), teacher.run(x, None))
    with pytest.raises(TeacherError, match="variants of .*: local"):
        build_teacher(
            _teacher_cfg(source="run", run=str(tmp_path / "run"), variant="nope"), student
        )


def test_feature_distillation_pulls_the_hooked_feature_towards_the_teacher(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    torch.manual_seed(0)
    system = build_system("quantized-split", {"channels": 4, "bits": 4}, tiny_ctx)
    cfg = _teacher_cfg(features=[{"student": "decoder", "teacher": "head", "weight": 1.0}])
    teacher = build_teacher(cfg, system)
    phase = Phase(
        "fd",
        epochs=2,
        lr=0.01,
        trainable=["encoder", "decoder"],
        losses={"feature_distill": 1.0},
        bn_batches=0,
    )

    def gap() -> float:
        x = tiny_data[1][0][0][None].expand(8, -1, -1, -1)
        system.eval()
        with torch.no_grad():
            return float(
                (system.decoder(system.encoder(system.head(x))) - system.head(x)).pow(2).mean()
            )

    before = gap()
    result = train_phase(
        system, phase, tiny_data[0], batch_size=64, seed=0, ckpt_dir=tmp_path, teacher=teacher
    )
    after = gap()
    assert result.terms["feature_distill"] > 0 and after < 0.7 * before, (before, after)
    bad = build_teacher(_teacher_cfg(features=[{"student": "nope", "teacher": "head"}]), system)
    with pytest.raises(TeacherError, match="'nope' is neither a role nor a module path.*encoder"):
        bad.attach_student(system)
    assert isinstance(bad, Teacher)


# --- checkpoints keyed by settings ---------------------------------------------------------------
def test_a_changed_stage_is_trained_again_and_an_unchanged_one_reused(tmp_path: Path) -> None:
    raw = {
        "experiment": "keys",
        "data": {"name": "synthetic", "batch_size": 32, "train_subset": 128, "test_subset": 32},
        "systems": [{"name": "quantized-split", "channels": 2, "bits": 2}],
        "train": {
            "backbone": {"epochs": 0.25},
            "stages": [
                {"name": "a", "trainable": ["encoder", "decoder"], "epochs": 0.25, "lr": 1e-3},
                {"name": "b", "trainable": "all", "epochs": 0.25, "lr": 1e-3},
            ],
        },
        "eval": {"snr_db": [10.0], "timing_samples": 0},
    }
    out = tmp_path / "run"
    first = run_experiment(parse_config(raw), out, log=lambda _: None)
    assert [p["skipped"] for p in first.phases] == [False, False, False]
    again = run_experiment(parse_config(raw), out, log=lambda _: None)
    assert [p["skipped"] for p in again.phases[1:]] == [True, True]
    raw["train"]["stages"][1]["lr"] = 2e-3
    changed = run_experiment(parse_config(raw), out, log=lambda _: None)
    assert [p["skipped"] for p in changed.phases[1:]] == [True, False]
    raw["train"]["stages"][0]["epochs"] = (
        0.5  # an earlier stage changes what every later one starts from
    )
    earlier = run_experiment(parse_config(raw), out, log=lambda _: None)
    assert [p["skipped"] for p in earlier.phases[1:]] == [False, False]
