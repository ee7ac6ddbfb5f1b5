"""End to end through ``semcom run`` on generated data of every task kind: a digital segmentation
system reports ``miou``, a detector ``map_50`` (torchmetrics), a clip system trains on
``[C, T, H, W]`` inputs with a variable number of frames sent; each above chance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from semcom.cli import app


def _run(tmp_path: Path, data: str, system: dict, epochs: float, lr: float = 0.003) -> list[dict]:
    cfg = {
        "experiment": f"task-{data}",
        "data": {"name": data, "batch_size": 32, "train_subset": 512, "test_subset": 128},
        "systems": [system],
        "train": {
            "backbone": {"epochs": 0},
            "stages": [
                {
                    "name": "all",
                    "trainable": "all",
                    "epochs": epochs,
                    "lr": lr,
                    "losses": {"task": 1.0, "rate": 0.001},
                    "bn_batches": 4,
                }
            ],
        },  # fmt: skip
        "eval": {
            "channel": {"name": "awgn"},
            "snr_db": [10.0],
            "deadline_s": 0.5,
            "timing_samples": 1,
        },  # fmt: skip
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "out" / "metrics.json").read_text())["records"]


def test_digital_segmentation_reports_miou(tmp_path: Path) -> None:
    (r,) = _run(tmp_path, "synthetic-segmentation", {"name": "seg-split", "channels": 4}, 3)
    assert r["transport"] == "digital" and r["primary_metric"] == "miou" and r["metric"] == "mIoU"
    assert r["payload_bits"] > 0 and r["compression_ratio"] > 1
    assert r["miou"] > 0.35 and r["pixel_accuracy"] > 0.8, r  # majority class: 1/6 mIoU
    assert set(r["metrics_within_deadline"]) == {"miou", "pixel_accuracy"}


def test_detection_reports_map_50_through_torchmetrics(tmp_path: Path) -> None:
    system = {"name": "det-split", "channels": 8, "bits": 4, "width": 32}
    (r,) = _run(tmp_path, "synthetic-detection", system, 4)
    assert r["task"] == "detection" and r["metric"] == "mAP@0.5" and r["accuracy"] is None
    assert r["map_50"] > 0.3 and 0 <= r["map"] <= r["map_50"], r
    assert r["metrics_within_deadline"]["map_50"] <= r["map_50"]


@pytest.mark.parametrize("frames_sent", ["variable"])
def test_clips_train_and_evaluate_end_to_end(tmp_path: Path, frames_sent: str) -> None:
    system = {"name": "clip-split", "width": 16, "channels": 4, "bits": 2, "threshold": 0.3}
    (r,) = _run(tmp_path, "synthetic-clips", system, 4, lr=0.005)
    assert r["dataset"] == "synthetic-clips" and r["transport"] == "digital"
    assert r["accuracy"] > 0.5, r  # four directions: chance is 0.25
    header = r["header_bits"]
    assert r["payload_bits"] > header


def test_a_system_whose_task_does_not_fit_the_data_is_refused_naming_both(tmp_path: Path) -> None:
    cfg = {
        "experiment": "mismatch",
        "data": {"name": "synthetic-segmentation"},
        "systems": [{"name": "quantized-split"}],
        "train": {"backbone": {"epochs": 0}},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    message = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "'quantized-split' does classification" in message
    assert "'synthetic-segmentation' has segmentation" in message


def test_augmentation_of_a_segmentation_run_moves_its_masks(tmp_path: Path) -> None:
    """data.augment used to be refused for dense tasks; masks now move with their images."""
    cfg = {
        "experiment": "augment",
        "data": {"name": "synthetic-segmentation", "train_subset": 64, "test_subset": 32,
                 "augment": {"hflip": True, "crop_padding": 2}},
        "systems": [{"name": "seg-split", "channels": 4}],
        "train": {"backbone": {"epochs": 0},
                  "stages": [{"name": "s", "epochs": 0.5, "bn_batches": 0}]},
        "eval": {"devices": ["iot-mcu"], "timing_samples": 0},
    }  # fmt: skip
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = CliRunner().invoke(app, ["run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "out" / "metrics.json").read_text())["records"]
    assert records and all(r["miou"] is not None for r in records)
