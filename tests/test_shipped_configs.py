"""Every experiment shipped in ``semcom/configs`` parses, builds every system variant it lists and
passes the stage checks, without data (the geometry of each data set is given here)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from semcom.config import expand_system, load_yaml, resolve
from semcom.systems import BuildContext, build_system
from semcom.train import check_stages, stage_for

#: (classes, channels, (H, W)) of the data sets the shipped configs use.
GEOMETRY = {
    "cifar10": (10, 3, (32, 32)),
    "fashion-mnist": (10, 1, (28, 28)),
    "synthetic-segmentation": (6, 3, (32, 32)),
}
CONFIGS = sorted(Path(str(resources.files("semcom") / "configs")).glob("*.yaml"))


def test_the_configs_are_found() -> None:
    assert {"aecnn_fashion.yaml", "aecnn_cifar10.yaml", "lssc_cifar10.yaml"} <= {
        p.name for p in CONFIGS
    }


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_config_builds_every_variant(path: Path) -> None:
    cfg = resolve(load_yaml(path))
    classes, channels, size = GEOMETRY[cfg.data.name]
    ctx = BuildContext(
        classes, (channels, *size), cfg.backbone.name, cfg.backbone.split_after, cfg.data.name
    )
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
    classes, channels, size = GEOMETRY[cfg.data.name]
    ctx = BuildContext(
        classes, (channels, *size), cfg.backbone.name, cfg.backbone.split_after, cfg.data.name
    )
    for variant in (v for entry in cfg.systems for v in expand_system(entry)):
        system = build_system(variant["name"], {k: x for k, x in variant.items() if k != "name"},
                              ctx)  # fmt: skip
        learned = set(system.roles()) - {"head", "tail"}
        if not learned:
            continue
        trained = [s.name for s in cfg.train.stages if stage_for(s, system) is not None]
        assert trained, f"{path.name}: {variant} has learned parts {sorted(learned)}, untrained"
