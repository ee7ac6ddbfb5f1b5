"""Training until the validation metric plateaus: the stop rule, the curve, resumption, and that
validating does not change what a phase trains."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semcom.data import ImageTensorDataset, split_off
from semcom.systems import BuildContext, build_system
from semcom.train import Phase, Plateau, train_phase, validation_score


def test_the_rule_compares_with_the_evaluation_evals_back() -> None:
    rule = Plateau(every=1.0, min_gain=0.003, evals=2)
    assert not rule.reached([0.50, 0.50])  # too few evaluations to judge
    assert not rule.reached([0.50, 0.51, 0.504])  # +0.4 points over the last two
    assert rule.reached([0.50, 0.51, 0.502])  # +0.2 points
    assert rule.reached([0.50, 0.51, 0.49])  # a fall
    with pytest.raises(ValueError, match="every > 0"):
        Plateau(every=0.0)


def _local(ctx: BuildContext) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_system("local", {}, ctx)


def test_a_phase_that_stops_learning_stops_and_keeps_its_curve(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    train, validation = tiny_data
    # 512 samples / 32 = 16 steps an epoch: an evaluation every 4 steps; lr ~0: nothing changes
    phase = Phase("codec", epochs=4, lr=1e-12, trainable="all", path="bypass",
                  plateau=Plateau(every=0.25, min_gain=0.003, evals=2))  # fmt: skip
    system = _local(tiny_ctx)
    result = train_phase(system, phase, train, batch_size=32, seed=0, ckpt_dir=tmp_path,
                         validation=validation)  # fmt: skip
    assert result.plateaued and result.steps == 12
    assert [c["epoch"] for c in result.curve] == [0.25, 0.5, 0.75]
    assert all(0.0 <= c["metric"] <= 1.0 for c in result.curve)
    again = train_phase(_local(tiny_ctx), phase, train, batch_size=32, seed=0, ckpt_dir=tmp_path,
                        validation=validation)  # fmt: skip
    assert again.skipped and again.curve == result.curve and again.plateaued


def test_a_learning_phase_runs_to_its_epochs_and_its_curve_rises(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    train, validation = tiny_data
    phase = Phase("backbone", epochs=1, lr=5e-3, trainable="all", path="bypass",
                  plateau=Plateau(every=0.25, evals=100))  # fmt: skip
    result = train_phase(_local(tiny_ctx), phase, train, batch_size=32, seed=0,
                         ckpt_dir=tmp_path, validation=validation)  # fmt: skip
    assert not result.plateaued and result.steps == 16 and len(result.curve) == 4
    assert result.curve[-1]["metric"] > result.curve[0]["metric"]


def test_validating_does_not_change_what_the_phase_trains(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    train, validation = tiny_data
    plain = Phase("joint", epochs=0.5, lr=1e-2, trainable="all", path="bypass")
    watched = Phase("joint", epochs=0.5, lr=1e-2, trainable="all", path="bypass",
                    plateau=Plateau(every=0.125, evals=100))  # fmt: skip
    a, b = _local(tiny_ctx), _local(tiny_ctx)
    train_phase(a, plain, train, batch_size=32, seed=1, ckpt_dir=tmp_path / "a")
    result = train_phase(b, watched, train, batch_size=32, seed=1, ckpt_dir=tmp_path / "b",
                         validation=validation)  # fmt: skip
    assert len(result.curve) == 4
    for k, v in a.state_dict().items():
        assert torch.equal(b.state_dict()[k], v), k


def test_an_interrupted_plateau_phase_resumes_with_its_curve(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    train, validation = tiny_data
    phase = Phase("joint", epochs=1, lr=1e-2, trainable="all", path="bypass",
                  plateau=Plateau(every=0.25, evals=100))  # fmt: skip
    straight = _local(tiny_ctx)
    whole = train_phase(straight, phase, train, batch_size=32, seed=2, ckpt_dir=tmp_path / "a",
                        validation=validation)  # fmt: skip
    kw = {"batch_size": 32, "seed": 2, "ckpt_dir": tmp_path / "b", "validation": validation}
    part = train_phase(_local(tiny_ctx), phase, train, stop_after_steps=6, **kw)
    assert part.steps == 6
    torch.manual_seed(99)
    resumed = build_system("local", {}, tiny_ctx)
    rest = train_phase(resumed, phase, train, **kw)
    assert rest.resumed_from_step == 6 and rest.curve == whole.curve
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, msg=k)


def test_a_plateau_without_a_validation_split_is_refused(
    tiny_ctx: BuildContext, tiny_data, tmp_path: Path
) -> None:
    phase = Phase("joint", epochs=1, lr=1e-2, plateau=Plateau(every=0.5))
    with pytest.raises(ValueError, match="no validation split"):
        train_phase(_local(tiny_ctx), phase, tiny_data[0], batch_size=32, seed=0,
                    ckpt_dir=tmp_path)  # fmt: skip


def test_the_score_is_the_same_twice_and_leaves_the_random_state(
    tiny_ctx: BuildContext, tiny_data
) -> None:
    system = build_system("lssc", {"depth": 1, "cbr": 0.25}, tiny_ctx)
    state = torch.get_rng_state()
    kw = {"path": "full", "snr_db": (0.0, 10.0), "batch_size": 64}
    first = validation_score(system, tiny_data[1], **kw)
    assert torch.equal(torch.get_rng_state(), state)
    assert validation_score(system, tiny_data[1], **kw) == first


def test_split_off_holds_out_a_seeded_disjoint_draw() -> None:
    labels = torch.arange(100)
    ds = ImageTensorDataset(torch.zeros(100, 1, 2, 2, dtype=torch.uint8), labels)
    rest, held = split_off(ds, 10, seed=3)
    assert len(held) == 10 and len(rest) == 90
    assert set(held.labels.tolist()).isdisjoint(rest.labels.tolist())
    assert rest.labels.tolist() == sorted(rest.labels.tolist())  # the others keep their order
    assert torch.equal(split_off(ds, 10, seed=3)[1].labels, held.labels)
    assert not torch.equal(split_off(ds, 10, seed=4)[1].labels, held.labels)
    generic_rest, generic_held = split_off(torch.utils.data.TensorDataset(labels), 10, seed=3)
    assert [int(generic_held[i][0]) for i in range(10)] == held.labels.tolist()
    with pytest.raises(ValueError, match="cannot hold out"):
        split_off(ds, 100)


def _experiment(tmp_path: Path, data: dict, stage: dict) -> tuple[int, str, Path]:
    import yaml
    from typer.testing import CliRunner

    from semcom.cli import app

    cfg = {
        "experiment": "plateau",
        "data": {"name": "synthetic", "batch_size": 32, "train_subset": 128, "test_subset": 32,
                 **data},
        "systems": [{"name": "quantized-split", "channels": 2, "bits": 2}],
        "train": {"backbone": {"epochs": 0.5},
                  "stages": [{"name": "c", "trainable": ["encoder", "decoder"], **stage}]},
        "eval": {"snr_db": [10.0], "timing_samples": 0},
    }  # fmt: skip
    path = tmp_path / "plateau.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    return result.exit_code, result.output, out


def test_a_run_trains_a_stage_to_its_plateau_and_reports_the_curve(tmp_path: Path) -> None:
    import json

    code, output, out = _experiment(
        tmp_path, {"validation": 48}, {"epochs": 3.0, "plateau": {"every": 0.5, "evals": 9}}
    )
    assert code == 0, output
    assert "128 train / 48 validation" in output
    phases = json.loads((out / "metrics.json").read_text())["phases"]
    (stage,) = [p for p in phases if p["phase"].endswith(":c")]
    assert [c["epoch"] for c in stage["curve"]] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]
    assert stage["plateaued"] is False  # 9 evaluations back never came
    report = (out / "report.md").read_text()
    assert "## Training to a plateau" in report and "| epochs |" in report
    assert (out / "validation_curves.png").stat().st_size > 0


def test_a_plateau_without_data_validation_names_both_fields(tmp_path: Path) -> None:
    code, output, _ = _experiment(tmp_path, {}, {"epochs": 1.0, "plateau": {"every": 0.5}})
    assert code != 0
    assert "train.stages[0]" in output and "data.validation" in output


def test_a_validation_split_as_large_as_the_training_set_is_refused(tmp_path: Path) -> None:
    code, output, _ = _experiment(tmp_path, {"validation": 10**6}, {"epochs": 1.0})
    assert code != 0 and "data.validation" in output and "cannot hold out" in output
