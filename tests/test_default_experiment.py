"""The default experiment's shipped variants (``train.reuse: semcom:aecnn-fashion``) are the ones
its config trains: ``make run`` reuses every one of them instead of training for ~45 minutes.
The test subset is not part of a variant's training key, so a small one keeps this fast."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
from typer.testing import CliRunner

from semcom.cli import app
from semcom.config import expand_system, load_yaml, parse_config, variant_id
from semcom.data import DEBIAN_FASHION_MNIST_DIR, resolve_data_root
from semcom.data.fashion_mnist import locate_fashion_mnist

DEFAULT = Path(str(resources.files("semcom") / "configs" / "aecnn_fashion.yaml"))


def _fashion_mnist_available() -> bool:
    found = locate_fashion_mnist(resolve_data_root(None)) is not None
    return found or Path(DEBIAN_FASHION_MNIST_DIR).is_dir()


@pytest.mark.skipif(not _fashion_mnist_available(), reason="Fashion-MNIST is not installed here")
def test_make_run_reuses_every_shipped_variant(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["run", "--out", str(out), "--set", "data.test_subset=256",
            "--set", "eval.timing_samples=0", "--set", "eval.snr_db=[10]"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    phases = {p["phase"] for p in metrics["phases"]}
    cfg = parse_config(load_yaml(DEFAULT))
    trained = [
        variant_id(v)
        for e in cfg.systems
        for v in expand_system(e)
        if v["name"] in ("aecnn", "bottlenet++")
    ]
    assert len(trained) == 6
    for vid in trained:
        assert f"{vid}:reused" in phases, (vid, result.output[-2000:])
    accuracy = {r["variant"]: r["accuracy"] for r in metrics["records"]}
    local = accuracy["local"]
    best_aecnn = max(accuracy[v] for v in trained if v.startswith("aecnn"))
    assert best_aecnn > local - 0.1  # trained weights, not a fresh build (~10 % there)
