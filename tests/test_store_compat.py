"""Runs written before inputs of any rank and declared tasks still load: their models' context
(``in_channels`` + ``image_size``, no task) is read as ``input_shape`` and the system's own task."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from semcom.storage.store import load_run, save_system
from semcom.systems import BuildContext, build_system


def _as_old_format(path: Path) -> None:
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    ctx = json.loads(meta["context"])
    old = {
        "num_classes": ctx["num_classes"],
        "in_channels": ctx["input_shape"][0],
        "image_size": ctx["input_shape"][1:],
        "backbone": ctx["backbone"],
        "split_after": ctx["split_after"],
        "dataset": ctx["dataset"],
    }
    meta["context"] = json.dumps(old)
    save_file(load_file(str(path)), str(path), metadata=meta)


def test_models_stored_in_the_old_context_format_load(tmp_path: Path) -> None:
    torch.manual_seed(0)
    ctx = BuildContext(6, (3, 32, 32), "resnet-small", "layer2", "synthetic-segmentation")
    systems = {
        "qs": build_system("quantized-split", {"channels": 2}, ctx),
        "seg": build_system("lssc", {"depth": 1, "width": 4, "task": "segmentation"}, ctx),
    }
    for variant, system in systems.items():
        system.prepare_for_coding()
        _as_old_format(save_system(system, tmp_path, variant))
    loaded = load_run(tmp_path)
    for variant, system in systems.items():
        again = loaded[variant].system
        assert again.ctx.input_shape == (3, 32, 32) and again.ctx.in_channels == 3
        assert again.task.kind == system.task.kind and again.ctx.task.kind == system.task.kind
        state = system.state_dict()
        assert all(torch.equal(state[k], v) for k, v in again.state_dict().items())
