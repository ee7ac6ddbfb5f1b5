"""``benchmarks/aecnn_targets.py`` reads several runs as one curve: a later run's variant
replaces the earlier run's of the same id, and runs of different references are refused."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
_spec = importlib.util.spec_from_file_location(
    "aecnn_targets", ROOT / "benchmarks" / "aecnn_targets.py"
)
assert _spec is not None and _spec.loader is not None
aecnn_targets = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(aecnn_targets)


def _run(records: list[tuple[str, float]]) -> dict:
    return {"records": [{"variant": v, "system": v, "accuracy": a} for v, a in records]}


def test_a_later_run_replaces_a_variant_and_keeps_the_others() -> None:
    first = _run([("local", 0.9), ("aecnn_mix=6", 0.8), ("bottlenet++", 0.7)])
    later = _run([("local", 0.9), ("aecnn_mix=6", 0.85)])
    merged = {r["variant"]: r["accuracy"] for r in aecnn_targets.merged_records([first, later])}
    assert merged == {"local": 0.9, "aecnn_mix=6": 0.85, "bottlenet++": 0.7}


def test_runs_of_different_references_are_refused() -> None:
    with pytest.raises(ValueError, match="local"):
        aecnn_targets.merged_records([_run([("local", 0.9)]), _run([("local", 0.88)])])


def test_main_reports_the_merged_curve(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, data in (("a", _run([("local", 0.9)])), ("b", _run([("local", 0.9)]))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "metrics.json").write_text(json.dumps({**data, "wall_time_s": 60.0}))
    seen: list[tuple[str, dict]] = []
    monkeypatch.setattr(aecnn_targets, "report", lambda n, rows, meta=None: seen.append((n, meta)))
    assert aecnn_targets.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert seen and seen[0][1]["wall_time_s"] == 120.0 and " + " in seen[0][1]["run_dir"]
    assert aecnn_targets.main([str(tmp_path / "missing")]) == 2
