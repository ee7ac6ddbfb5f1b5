"""A variant's results do not depend on which variants the config lists before it: its initial
weights are seeded from ``(seed, variant id)``, not from the order the systems are built in."""

from __future__ import annotations

import json
from pathlib import Path

import torch
import yaml
from typer.testing import CliRunner

from semcom.cli import app
from semcom.experiment import variant_seed

BASE = {
    "experiment": "independence",
    "seed": 3,
    "data": {"name": "synthetic", "batch_size": 32, "train_subset": 64, "test_subset": 32},
    "train": {"backbone": {"epochs": 0.5},
              "stages": [{"name": "c", "trainable": ["encoder", "decoder"], "epochs": 1.0}]},
    "eval": {"snr_db": [10.0], "timing_samples": 0},
}  # fmt: skip


def _run(tmp_path: Path, name: str, systems: list[dict]) -> dict[str, dict]:
    cfg = {**BASE, "systems": systems}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / name
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = json.loads((out / "metrics.json").read_text())["records"]
    return {r["variant"]: r for r in records}


def test_a_variant_trains_the_same_whatever_precedes_it(tmp_path: Path) -> None:
    later = {"name": "quantized-split", "channels": 2, "bits": 2}
    alone = _run(tmp_path, "alone", [later])
    after = _run(tmp_path, "after", [{"name": "quantized-split", "channels": 4, "bits": 3}, later])
    vid = "quantized-split_bits=2_channels=2"
    assert vid in alone and vid in after
    for field in ("accuracy", "payload_bits"):
        assert alone[vid][field] == after[vid][field], field


def test_variant_seeds_differ_between_variants_and_runs() -> None:
    seeds = {variant_seed(s, v) for s in (0, 1) for v in ("aecnn_mix=3", "aecnn_mix=6")}
    assert len(seeds) == 4 and all(0 <= s < 2**63 for s in seeds)


def test_reuse_loads_variants_trained_under_the_same_settings(tmp_path: Path) -> None:
    variant = {"name": "quantized-split", "channels": 2, "bits": 2}
    other = {"name": "quantized-split", "channels": 4, "bits": 2}
    first = _run(tmp_path, "first", [variant, {"name": "local"}])
    cfg = {**BASE, "systems": [variant, other, {"name": "local"}]}
    cfg["train"] = {**BASE["train"], "reuse": str(tmp_path / "first")}
    path = tmp_path / "again.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    vid, new = "quantized-split_bits=2_channels=2", "quantized-split_bits=2_channels=4"
    assert f"{vid}: reused from" in result.output
    assert f"{new}: not in" in result.output  # a variant the stored run lacks trains here
    metrics = json.loads((tmp_path / "again" / "metrics.json").read_text())
    (rec,) = [r for r in metrics["records"] if r["variant"] == vid]
    assert rec["accuracy"] == first[vid]["accuracy"]
    assert rec["payload_bits"] == first[vid]["payload_bits"]
    trained = {p["phase"] for p in metrics["phases"]}
    assert f"{vid}:reused" in trained and f"{new}:c" in trained and f"{vid}:c" not in trained


def test_reuse_trains_a_variant_stored_under_other_settings(tmp_path: Path) -> None:
    variant = {"name": "quantized-split", "channels": 2, "bits": 2}
    _run(tmp_path, "first", [variant])
    cfg = {**BASE, "systems": [variant]}
    stage = {**BASE["train"]["stages"][0], "lr": 0.01}  # type: ignore[index]
    cfg["train"] = {**BASE["train"], "stages": [stage], "reuse": str(tmp_path / "first")}
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "changed")])
    assert result.exit_code == 0, result.output
    assert "trained it under other settings" in result.output
    metrics = json.loads((tmp_path / "changed" / "metrics.json").read_text())
    assert "quantized-split_bits=2_channels=2:c" in {p["phase"] for p in metrics["phases"]}


def test_reuse_of_a_missing_run_names_the_field(tmp_path: Path) -> None:
    cfg = {**BASE, "systems": [{"name": "quantized-split", "channels": 2, "bits": 2}]}
    cfg["train"] = {**BASE["train"], "reuse": str(tmp_path / "nowhere")}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2
    assert "train.reuse" in result.output and "backbone" not in result.output  # before training
    assert "expected a `semcom run` directory" in " ".join(result.output.split())


def _run_config(tmp_path: Path, name: str, train: dict, systems: list[dict]):
    cfg = {**BASE, "systems": systems, "train": {**BASE["train"], **train}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / name)])


def test_start_from_continues_a_stored_variant_and_keys_its_checkpoints(tmp_path: Path) -> None:
    from semcom.storage.store import load_system

    variant = {"name": "quantized-split", "channels": 2, "bits": 2}
    vid, new = "quantized-split_bits=2_channels=2", "quantized-split_bits=2_channels=4"
    _run(tmp_path, "first", [variant])
    stored = load_system(tmp_path / "first" / "models" / f"{vid}.safetensors").system
    still = {**BASE["train"]["stages"][0], "lr": 1e-12}  # type: ignore[index]
    barely = _run_config(
        tmp_path,
        "same",
        {"stages": [still], "start_from": str(tmp_path / "first")},
        [variant, {"name": "local"}],
    )
    assert barely.exit_code == 0, barely.output
    same = load_system(tmp_path / "same" / "models" / f"{vid}.safetensors").system
    for name, tensor in stored.named_parameters():  # a step of 1e-12: the stored model itself
        assert torch.allclose(tensor, dict(same.named_parameters())[name], atol=1e-8), name
    assert "local: not in" not in barely.output  # nothing to train: not started from a model

    longer = _run_config(
        tmp_path,
        "longer",
        {"start_from": str(tmp_path / "first")},
        [variant, {"name": "quantized-split", "channels": 4, "bits": 2}],
    )
    assert longer.exit_code == 0, longer.output
    assert f"{new}: not in" in longer.output  # a variant the stored run lacks starts seeded
    assert f"{vid}: starts its stages from" in longer.output
    trained = load_system(tmp_path / "longer" / "models" / f"{vid}.safetensors").system
    encoder = [n for n in stored.state_dict() if n.startswith("encoder") and "weight" in n]
    assert encoder and any(
        not torch.equal(stored.state_dict()[n], trained.state_dict()[n]) for n in encoder
    )
    # the stage's checkpoint key chains the stored model: a plain run of the same stage differs
    plain = {p.name for p in (tmp_path / "first" / "checkpoints" / vid).glob("c-*.safetensors")}
    started = {p.name for p in (tmp_path / "longer" / "checkpoints" / vid).glob("c-*.safetensors")}
    assert plain and started and not plain & started

    # a run reusing the started run checks the same chain and reuses it
    again = _run_config(
        tmp_path,
        "again",
        {"start_from": str(tmp_path / "first"), "reuse": str(tmp_path / "longer")},
        [variant],
    )
    assert again.exit_code == 0, again.output
    assert f"{vid}: reused from" in again.output


def test_start_from_refuses_a_missing_run_and_a_model_of_other_parameters(tmp_path: Path) -> None:
    variant = {"name": "quantized-split", "channels": 2, "bits": 2}
    missing = _run_config(tmp_path, "missing", {"start_from": str(tmp_path / "nowhere")}, [variant])
    assert missing.exit_code == 2 and "train.start_from" in missing.output
    _run(tmp_path, "first", [variant])
    models = tmp_path / "first" / "models"
    other = models / "quantized-split_bits=2_channels=2.safetensors"
    _run(tmp_path, "wide", [{"name": "quantized-split", "channels": 4, "bits": 2}])
    wide = tmp_path / "wide" / "models" / "quantized-split_bits=2_channels=4.safetensors"
    other.write_bytes(wide.read_bytes())
    bad = _run_config(tmp_path, "bad", {"start_from": str(tmp_path / "first")}, [variant])
    assert bad.exit_code == 2
    assert "train.start_from" in bad.output
    assert "not quantized-split_bits=2_channels=2" in bad.output
