"""Every experiment shipped in ``semcom/configs`` parses, builds every system variant it lists and
passes the stage checks, without data (the geometry of each data set is given here)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from semcom.config import expand_system, load_yaml, resolve
from semcom.data import TaskSpec
from semcom.systems import BuildContext, build_system
from semcom.train import check_stages, stage_for

#: (classes, channels, (H, W)) of the data sets the shipped configs use.
GEOMETRY = {
    "cifar10": (10, 3, (32, 32)),
    "fashion-mnist": (10, 1, (28, 28)),
    "synthetic-segmentation": (6, 3, (32, 32)),
    "camvid": (11, 3, (192, 256)),
    "voc": (21, 3, (256, 256)),
    "sprite-actions": (10, 3, (32, 32)),
    "hmdb51": (51, 3, (112, 112)),
    "ucf101": (101, 3, (112, 112)),
}
#: video sets: frames per clip (``None``: ``data.frames``).
FRAMES = {"sprite-actions": 16, "hmdb51": None, "ucf101": None}
#: the targets of the sets that are not classification (detection classes, segmentation classes).
MULTITASK = {"camvid": (4, 11), "voc": (20, 21)}


def context(cfg) -> BuildContext:  # noqa: ANN001
    """The build context of ``cfg``'s data set, its task included."""
    classes, channels, size = GEOMETRY[cfg.data.name]
    if isinstance(cfg.data.image_size, int):
        size = (cfg.data.image_size, cfg.data.image_size)
    elif cfg.data.image_size is not None:
        size = tuple(cfg.data.image_size)
    if cfg.data.name in FRAMES:
        size = (FRAMES[cfg.data.name] or cfg.data.frames, *size)
    task = None
    if cfg.data.name in MULTITASK:
        det, seg = MULTITASK[cfg.data.name]
        task = TaskSpec(
            "multitask",
            subtasks={
                "detection": TaskSpec("detection", det),
                "segmentation": TaskSpec("segmentation", seg),
            },
        )
    return BuildContext(
        classes, (channels, *size), cfg.backbone.name, cfg.backbone.split_after, cfg.data.name, task
    )


CONFIGS = sorted(Path(str(resources.files("semcom") / "configs")).glob("*.yaml"))


def test_the_configs_are_found() -> None:
    assert {"aecnn_fashion.yaml", "aecnn_cifar10.yaml", "lssc_cifar10.yaml"} <= {
        p.name for p in CONFIGS
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_builds_every_variant(path: Path) -> None:
    cfg = resolve(load_yaml(path))
    ctx = context(cfg)
    variants = [v for entry in cfg.systems for v in expand_system(entry)]
    systems = [build_system(v["name"], {k: x for k, x in v.items() if k != "name"}, ctx)
               for v in variants]  # fmt: skip
    assert systems
    check_stages(cfg.train.stages, systems)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_learned_part_is_trained_by_some_stage(path: Path) -> None:
    """A variant with parts beyond the shared backbone (a coder, an attention, an entropy model)
    that no stage trains would be evaluated at its random initialisation: chance accuracy that
    looks like a result."""
    cfg = resolve(load_yaml(path))
    ctx = context(cfg)
    for variant in (v for entry in cfg.systems for v in expand_system(entry)):
        system = build_system(variant["name"], {k: x for k, x in variant.items() if k != "name"},
                              ctx)  # fmt: skip
        shared = {"head", "tail"} if system.shares_backbone else set()
        learned = set(system.roles()) - shared
        if not learned:
            continue
        trained = [s.name for s in cfg.train.stages if stage_for(s, system) is not None]
        assert trained, f"{path.name}: {variant} has learned parts {sorted(learned)}, untrained"
