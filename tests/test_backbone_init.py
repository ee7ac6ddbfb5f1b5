"""`backbone.init`: train.backbone trains given weights further instead of a fresh network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from semcom.backbones.weights import read_state
from semcom.config import ConfigError, parse_config
from semcom.experiment import train_backbone

TINY = {
    "experiment": "init",
    "seed": 0,
    "data": {"name": "synthetic", "batch_size": 32, "train_subset": 128, "test_subset": 64},
    "backbone": {"name": "resnet-small", "split_after": "layer2"},
    "systems": [{"name": "local"}],
    "train": {"backbone": {"epochs": 0.5, "lr": 0.003}, "stages": []},
}


def _conv_weights(path: Path) -> dict[str, torch.Tensor]:
    """The 4-D (convolution) tensors of a saved backbone: what training moves, unlike the
    batch-norm statistics that are re-estimated at the end of every phase."""
    return {k: v for k, v in read_state(path).items() if v.ndim == 4}


def _distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_training_starts_from_init_weights(tmp_path: Path) -> None:
    first, _ = train_backbone(parse_config(TINY), tmp_path / "a.safetensors", work_dir=tmp_path)
    # A step so small it cannot move the weights: the result is the init, not a fresh network.
    still = {**TINY, "train": {"backbone": {"epochs": 0.25, "lr": 1e-12}, "stages": []}}
    started = parse_config({**still, "backbone": {**TINY["backbone"], "init": str(first)}})
    fresh = parse_config({**still, "seed": 1})
    b, _ = train_backbone(started, tmp_path / "b.safetensors", work_dir=tmp_path)
    c, _ = train_backbone(fresh, tmp_path / "c.safetensors", work_dir=tmp_path)
    assert _distance(_conv_weights(first), _conv_weights(b)) < 1e-6
    assert _distance(_conv_weights(first), _conv_weights(c)) > 1e-2


def test_init_and_weights_exclude_each_other() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({**TINY, "backbone": {**TINY["backbone"], "weights": "a", "init": "b"}})
    assert "backbone.weights" in str(exc.value) and "backbone.init" in str(exc.value)


def test_missing_init_file_names_the_field(tmp_path: Path) -> None:
    cfg = parse_config({**TINY, "backbone": {**TINY["backbone"], "init": str(tmp_path / "no")}})
    with pytest.raises(ConfigError) as exc:
        train_backbone(cfg, tmp_path / "x.safetensors", work_dir=tmp_path)
    assert "backbone.init" in str(exc.value) and "does not exist" in str(exc.value)
