"""``semcom eval RUN_DIR``: re-score stored variants without training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from semcom.cli import app

TIMING = ("measured_s",)
RUN = {
    "experiment": "rescore",
    "seed": 0,
    "data": {"name": "synthetic", "batch_size": 32, "train_subset": 256, "test_subset": 64},
    "systems": [
        {"name": "quantized-split", "channels": 2, "bits": 2, "lambda": 0.02},
        {"name": "bottlenet++", "channel": "awgn", "hidden": 2, "stride": 2},
        {"name": "local"},
    ],
    "train": {
        "backbone": {"epochs": 0.5},
        "stages": [
            {
                "name": "c",
                "trainable": ["encoder", "entropy", "decoder"],
                "epochs": 0.5,
                "losses": {"task": 1.0, "rate": 0.01},
                "systems": ["quantized-split"],
            },
            {
                "name": "b",
                "trainable": ["encoder", "decoder"],
                "epochs": 0.5,
                "systems": ["bottlenet++"],
            },
        ],
    },  # fmt: skip
    "eval": {"snr_db": [0.0, 10.0], "deadline_s": 0.1, "timing_samples": 1},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("rescore")
    (tmp / "run.yaml").write_text(yaml.safe_dump(RUN))
    result = CliRunner().invoke(app, ["run", str(tmp / "run.yaml"), "--out", str(tmp / "run")])
    assert result.exit_code == 0, result.output
    return tmp / "run"


def _records(path: Path) -> list[dict]:
    records = json.loads(path.read_text())["records"]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in records]


def test_rescoring_without_overrides_reproduces_the_run(run_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", str(run_dir), "--out", str(tmp_path / "same")])
    assert result.exit_code == 0, result.output
    assert _records(tmp_path / "same" / "metrics.json") == _records(run_dir / "metrics.json")
    assert (tmp_path / "same" / "report.md").is_file() and list((tmp_path / "same").glob("*.png"))


def test_new_snrs_and_deadline_without_training(run_dir: Path) -> None:
    before = {p.name for p in run_dir.iterdir()}
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(run_dir),
            "--set",
            "eval.snr_db=[-5, 20, 30]",
            "--set",
            "eval.deadline_s=0.01",
        ],
    )
    assert result.exit_code == 0, result.output
    (new,) = {p.name for p in run_dir.iterdir()} - before
    assert new.startswith("eval-")
    doc = json.loads((run_dir / new / "metrics.json").read_text())
    assert doc["rescored_from"] == str(run_dir)
    records = doc["records"]
    assert {r["snr_db"] for r in records} == {-5.0, 20.0, 30.0}
    assert all(r["deadline_s"] == 0.01 for r in records)
    old = {r["variant"]: r for r in json.loads((run_dir / "metrics.json").read_text())["records"]}
    for r in records:
        if r["system"] == "quantized-split":  # digital: the decoded output does not change
            assert r["accuracy"] == old[r["variant"]]["accuracy"]
            assert r["lambda"] == 0.02
    assert (run_dir / "metrics.json").stat().st_size > 0  # the run's own results stay


def test_what_eval_refuses(run_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    same = runner.invoke(app, ["eval", str(run_dir), "--out", str(run_dir)])
    assert same.exit_code == 2 and "never overwrites" in same.output
    train = runner.invoke(app, ["eval", str(run_dir), "--set", "train.stages.0.lr=1"])
    assert train.exit_code == 2 and "need `semcom run`" in train.output
    other = runner.invoke(app, ["eval", str(run_dir), "--set", "data.name=synthetic-segmentation"])
    assert other.exit_code == 2 and "built for inputs" in " ".join(other.output.split())
    missing = runner.invoke(app, ["eval", str(tmp_path)])
    assert missing.exit_code == 2 and "config.yaml" in missing.output
