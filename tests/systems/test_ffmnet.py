"""FFMNet and its comparisons: what fusion means (levels see coarser ones or not, at equal
parameters), images without detection labels leave the loss, the single-task networks answer
their own sub-task of a multi-task set, which systems share the trained network, the JSCC code's
channel uses, and a short training run that improves both tasks."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.data import TaskSpec
from semcom.data.multitask import synthetic_multitask_datasets
from semcom.eval.evaluate import measure_system
from semcom.nn.fcos_head import FCOSDetector
from semcom.nn.feature_fusion import build_fusion
from semcom.systems import BuildContext, SystemConfigError, build_system
from semcom.tasks import TaskError, check_fits
from semcom.train.trainer import Phase, train_phase

SPEC = TaskSpec(
    "multitask",
    subtasks={"detection": TaskSpec("detection", 4), "segmentation": TaskSpec("segmentation", 11)},
)
SMALL = {"width": 8, "head_channels": 32, "head_convs": 1}


def ctx(size: tuple[int, int] = (64, 96), split: str = "layer2") -> BuildContext:
    return BuildContext(11, (3, *size), "ffmnet", split, "camvid", SPEC)


def _maps(seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, c, s, s, generator=g) for c, s in ((8, 8), (16, 4), (32, 2))]


def test_fpn_mixes_coarser_levels_into_finer_ones_and_none_does_not() -> None:
    torch.manual_seed(0)
    fpn, none = build_fusion("fpn", [8, 16, 32], 32), build_fusion("none", [8, 16, 32], 32)
    none.load_state_dict(fpn.state_dict())  # the same layers, to the last parameter
    maps, changed = _maps(), _maps()
    changed[2] = changed[2] + 1.0  # only the coarsest level differs
    assert not torch.allclose(fpn(maps)[0], fpn(changed)[0])
    assert torch.equal(none(maps)[0], none(changed)[0])
    assert torch.equal(none(maps)[2], fpn(maps)[2])  # the coarsest has nothing above it
    concat = build_fusion("concat", [8, 16, 32], 32)
    assert not torch.allclose(concat(maps)[0], concat(changed)[0])
    with pytest.raises(ValueError, match="fusion must be one of"):
        build_fusion("sum", [8], 32)


def test_hard_sharing_has_ffmnets_parameters() -> None:
    def count(name: str, **params: object) -> int:
        return sum(p.numel() for p in build_system(name, {**SMALL, **params}, ctx()).parameters())

    assert count("mtl-hardshare") == count("ffmnet")
    assert count("ffmnet", fusion="concat") != count("ffmnet")
    assert count("det-only") < count("ffmnet") and count("seg-only") < count("ffmnet")


def _image_targets(n: int, labelled: list[bool]) -> list[dict[str, torch.Tensor]]:
    out = []
    for i in range(n):
        box = torch.tensor([[4.0 + i, 4.0, 30.0, 28.0]])
        none = torch.zeros(0, dtype=torch.int64)
        out.append({"boxes": box if labelled[i] else torch.zeros(0, 4),
                    "labels": torch.tensor([1]) if labelled[i] else none,
                    "has_boxes": torch.tensor(labelled[i])})  # fmt: skip
    return out


def test_images_without_detection_labels_leave_the_detection_loss() -> None:
    torch.manual_seed(0)
    det = FCOSDetector(32, 4, num_convs=1)
    feats = [torch.randn(3, 32, 8, 8), torch.randn(3, 32, 4, 4)]
    targets = _image_targets(3, [True, False, True])
    mixed = det(feats, (64, 64), targets)
    alone = det([f[[0, 2]] for f in feats], (64, 64), [targets[0], targets[2]])
    for name, value in mixed.items():
        assert torch.allclose(value, alone[name]), name
    none = det(feats, (64, 64), _image_targets(3, [False] * 3))
    assert all(float(v.detach()) == 0.0 for v in none.values())
    sum(none.values()).backward()  # still attached to the graph


def test_a_batch_without_segmentation_labels_gives_no_term_not_nan() -> None:
    system = build_system("seg-only", SMALL, ctx())
    logits = torch.randn(2, 11, 64, 96, requires_grad=True)
    masks = torch.full((2, 64, 96), 255)
    loss = system.task_loss({"segmentation": logits}, {"segmentation": masks})
    assert float(loss.detach()) == 0.0
    loss.backward()


def test_single_task_networks_answer_their_sub_task_of_the_set() -> None:
    det, seg = build_system("det-only", SMALL, ctx()), build_system("seg-only", SMALL, ctx())
    assert list(det.task.spec.subtasks) == ["detection"]
    assert list(seg.task.spec.subtasks) == ["segmentation"]
    for system in (det, seg):
        check_fits(system.task, SPEC, system.name, "camvid")
    other = BuildContext(10, (3, 64, 64), "ffmnet", "layer2", "cifar10")
    with pytest.raises(TaskError, match="multitask"):
        check_fits(build_system("ffmnet", SMALL, other).task, other.task, "ffmnet", "cifar10")


def test_only_the_default_two_task_network_is_shared() -> None:
    assert build_system("ffmnet", {}, ctx()).shares_backbone
    assert build_system("ffmnet-jscc", {"channels": 2}, ctx()).shares_backbone
    assert build_system("ffmnet-digital", {"channels": 2}, ctx()).shares_backbone
    assert not build_system("ffmnet", {"fusion": "concat"}, ctx()).shares_backbone
    assert not build_system("ffmnet-jscc", {"channels": 2, "width": 16}, ctx()).shares_backbone
    for name in ("det-only", "seg-only", "mtl-hardshare"):
        assert not build_system(name, {}, ctx()).shares_backbone


def test_refusals_name_the_field() -> None:
    with pytest.raises(SystemConfigError, match="multiples of 32.*data.image_size"):
        build_system("ffmnet", SMALL, ctx((60, 96)))
    with pytest.raises(SystemConfigError, match="backbone.split_after.*layer1, layer2"):
        build_system("ffmnet", SMALL, ctx(split="layer3"))


@pytest.mark.parametrize(
    ("channels", "downsample", "ratio"), [(8, 2, 64), (1, 2, 512), (1, 4, 2048)]
)
def test_jscc_ratio_is_split_floats_per_channel_use(
    channels: int, downsample: int, ratio: int
) -> None:
    system = build_system("ffmnet-jscc", {"channels": channels, "downsample": downsample},
                          ctx((192, 256)))  # fmt: skip
    assert system.feature_shape == (64, 24, 32)
    assert system.split_elements() / system.channel_uses() == ratio
    x = torch.rand(3, 3, 192, 256)
    symbols = system.eval().analog_encode(x, torch.tensor([0.0, 10.0, 20.0]))
    assert symbols.shape == (3, system.channel_uses()) and symbols.is_complex()
    power = symbols.abs().pow(2).mean(dim=1)
    assert torch.allclose(power, torch.ones(3), atol=1e-5)  # unit power per sample


def test_a_short_training_run_improves_both_tasks(tmp_path) -> None:  # noqa: ANN001
    train, test, info = synthetic_multitask_datasets(192, 48, seed=0)
    context = BuildContext(info.num_classes, info.input_shape, "ffmnet", "layer2",
                           info.name, info.task)  # fmt: skip
    torch.manual_seed(0)
    system = build_system("ffmnet", {"width": 16, "head_channels": 32}, context)

    def scores() -> tuple[float, float]:
        metrics = (
            measure_system(system, test, batch_size=48, timing_samples=0)
            .evaluator_at(0.0)
            .compute()
        )
        return float(metrics["map_50"] or 0.0), float(metrics["miou"] or 0.0)

    before = scores()
    phase = Phase(name="t", epochs=6, lr=3e-3, path="bypass", bn_batches=0)
    train_phase(system, phase, train, batch_size=16, seed=0, ckpt_dir=tmp_path)
    after = scores()
    assert after[1] > before[1] + 0.1, (before, after)  # mIoU
    assert after[0] > before[0], (before, after)  # mAP@0.5
    assert math.isfinite(after[0])


def test_separate_coding_is_not_measured_where_its_receiver_cannot_work() -> None:
    from semcom.config import EvalConfig
    from semcom.eval.evaluate import evaluate_variant

    _, test, info = synthetic_multitask_datasets(8, 4, seed=1)
    context = BuildContext(info.num_classes, info.input_shape, "ffmnet", "layer2",
                           info.name, info.task)  # fmt: skip
    system = build_system("ffmnet-capacity", {"source": "webp", "cbr": 0.05, **SMALL}, context)
    evaluation = EvalConfig(
        channel=[{"name": "awgn"}, {"name": "rayleigh", "coherence": "block", "csi": "none"}],
        snr_db=[10.0], devices=["iot-mcu"], timing_samples=0,
    )  # fmt: skip
    said: list[str] = []
    records = evaluate_variant(system, test, evaluation, dataset=info.name, seed=0, batch_size=4,
                               extra={"variant": "v"}, log=said.append)  # fmt: skip
    assert {r["channel"] for r in records} == {"awgn"}
    assert len(said) == 1 and "csi: perfect" in said[0] and "v:" in said[0]
    assert {"map_50", "miou", "pixel_accuracy", "cbr"} <= set(records[0])


def test_the_prediction_picture_is_drawn_for_the_links_it_runs(tmp_path) -> None:  # noqa: ANN001
    from semcom.report.multitask_examples import draw_examples

    _, test, info = synthetic_multitask_datasets(8, 4, seed=2)
    context = BuildContext(info.num_classes, info.input_shape, "ffmnet", "layer2",
                           info.name, info.task)  # fmt: skip
    awgn = {"name": "awgn"}
    for name, params in (("ffmnet", {}), ("ffmnet-jscc", {"channels": 2}),
                         ("ffmnet-digital", {"channels": 2})):  # fmt: skip
        system = build_system(name, {**SMALL, **params}, context)
        system.prepare_for_coding()
        path = draw_examples(system, test, tmp_path / f"{name}.png", channel=awgn, count=2)
        assert path is not None and path.stat().st_size > 1000
    phy = build_system("ffmnet-capacity", {"source": "webp", "cbr": 0.05, **SMALL}, context)
    assert draw_examples(phy, test, tmp_path / "phy.png", channel=awgn) is None
    classifier = build_system("local", {}, BuildContext(10, (3, 32, 32), "resnet-small", "layer2"))
    assert draw_examples(classifier, test, tmp_path / "c.png") is None
