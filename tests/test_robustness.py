"""Bad files and bad places get a clear error and lose nothing: corrupt weights, stored models
and checkpoints, an unwritable --out, two runs on one --out, Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from semcom.cli import app
from semcom.runtime.catalog import ModelCatalog
from semcom.storage.checkpoint import CheckpointError, load_progress, load_weights
from semcom.storage.lock import RunLockedError, run_lock
from semcom.storage.store import load_run, save_system
from semcom.systems import BuildContext, build_system

TINY = {
    "experiment": "robust",
    "data": {"name": "synthetic", "batch_size": 32, "train_subset": 64, "test_subset": 32},
    "systems": [{"name": "quantized-split", "channels": 2, "bits": 2}],
    "train": {"backbone": {"epochs": 0.5},
              "stages": [{"name": "c", "trainable": ["encoder", "decoder"], "epochs": 0.5}]},
    "eval": {"snr_db": [10.0], "timing_samples": 0},
}  # fmt: skip


def _write(tmp_path: Path, cfg: dict) -> Path:
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 3])


def test_corrupt_weights_checkpoints_and_progress_name_the_file(tmp_path: Path) -> None:
    ctx = BuildContext(4, (1, 16, 16), "resnet-small", "layer2")
    system = build_system("local", {}, ctx)
    bad = tmp_path / "w.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match=r"w\.safetensors cannot be read"):
        load_weights(system, bad)
    pt = tmp_path / "p.progress.pt"
    pt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError, match=r"p\.progress\.pt cannot be read"):
        load_progress(pt)
    result = CliRunner().invoke(
        app, ["run", str(_write(tmp_path, TINY)), "--out", str(tmp_path / "o"),
              "--set", f"backbone.weights={bad}"],
    )  # fmt: skip
    assert result.exit_code == 2 and "cannot read the weights" in " ".join(result.output.split())


def test_a_corrupt_phase_checkpoint_on_resume_is_named(tmp_path: Path) -> None:
    cfg = _write(tmp_path, TINY)
    out = tmp_path / "run"
    assert CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)]).exit_code == 0
    (phase,) = (out / "checkpoints").glob("quantized-split*/c-*.safetensors")
    _truncate(phase)
    again = CliRunner().invoke(app, ["run", str(cfg), "--out", str(out)])
    message = " ".join(again.output.split())
    assert again.exit_code == 2 and "cannot be read" in message and phase.name in message


def test_one_corrupt_stored_model_does_not_stop_the_others(tmp_path: Path) -> None:
    ctx = BuildContext(4, (1, 16, 16), "resnet-small", "layer2")
    for variant, params in (("good", {"channels": 2}), ("bad", {"channels": 4})):
        system = build_system("quantized-split", params, ctx)
        system.prepare_for_coding()
        save_system(system, tmp_path, variant)
    _truncate(tmp_path / "models" / "bad.safetensors")
    broken: dict[str, str] = {}
    stored = load_run(tmp_path, broken)
    assert set(stored) == {"good"} and "bad.safetensors" in broken["bad"]
    catalog = ModelCatalog(stored, broken=broken)
    listing = {m["model"]: m for m in catalog.describe()}
    assert listing["good"]["served"] and not listing["bad"]["served"]
    assert "cannot load" in listing["bad"]["reason"]
    export = CliRunner().invoke(app, ["export", str(tmp_path), "--onnx", str(tmp_path / "x")])
    assert export.exit_code == 0 and "skipping bad" in export.output


def test_an_unwritable_out_and_a_second_run_on_the_same_out(tmp_path: Path) -> None:
    cfg = _write(tmp_path, TINY)
    (tmp_path / "file").write_text("not a folder")
    result = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "file" / "out")])
    assert result.exit_code == 2 and "cannot write there" in " ".join(result.output.split())
    with run_lock(tmp_path / "busy"):
        with pytest.raises(RunLockedError, match="in use by another semcom process"):
            with run_lock(tmp_path / "busy"):
                pass
        second = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "busy")])
    assert second.exit_code == 2
    assert "in use by another semcom process" in " ".join(second.output.split())
    with run_lock(tmp_path / "busy"):  # released: taken again at once
        pass


def test_ctrl_c_says_the_run_can_be_resumed(tmp_path: Path, monkeypatch) -> None:
    import semcom.experiment

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(semcom.experiment, "run_experiment", interrupted)
    result = CliRunner().invoke(
        app, ["run", str(_write(tmp_path, TINY)), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 130 and "can be resumed" in " ".join(result.output.split())
