"""Shipped weights: found by name, verified by checksum, refused with a reason otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from semcom import pretrained
from semcom.pretrained import (
    WeightsError,
    check_shipped,
    resolve_run_dir,
    resolve_weights,
    sha256_file,
)


def _ship(root: Path, monkeypatch, good: str, bad: str) -> None:
    """Make ``root`` the shipped directory: ``good`` with its right checksum line, ``bad`` with a
    wrong one (paths relative to ``root``)."""
    (root / good).write_bytes(b"weights")
    (root / bad).write_bytes(b"tampered")
    (root / "SHA256SUMS").write_text(f"{sha256_file(root / good)}  {good}\n{'0' * 64}  {bad}\n")
    monkeypatch.setattr(pretrained, "shipped_dir", lambda: root)


def test_every_shipped_file_matches_its_checksum() -> None:
    sums = pretrained.shipped_checksums()
    root = pretrained.shipped_dir()
    files = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix in (".safetensors", ".yaml")
    )
    assert files == sorted(sums), "every shipped file needs a SHA256SUMS line and vice versa"
    for name in files:
        if "/" in name:  # a shipped run of trained variants (train.reuse)
            assert check_shipped(root / name) == root / name
            assert resolve_run_dir("semcom:" + name.split("/")[0]) == root / name.split("/")[0]
        else:
            assert resolve_weights("semcom:" + name.removesuffix(".safetensors")).name == name


def test_shipped_runs_refuse_a_bad_checksum_and_name_what_exists(
    tmp_path: Path, monkeypatch
) -> None:
    models = tmp_path / "demo" / "models"
    models.mkdir(parents=True)
    (tmp_path / "demo" / "config.yaml").write_text("experiment: demo\n")
    _ship(tmp_path, monkeypatch, good="demo/models/a.safetensors", bad="demo/models/b.safetensors")
    assert resolve_run_dir("semcom:demo") == tmp_path / "demo"
    assert check_shipped(models / "a.safetensors") == models / "a.safetensors"
    with pytest.raises(WeightsError, match="train.reuse: demo/models/b.safetensors fails"):
        check_shipped(models / "b.safetensors")
    with pytest.raises(WeightsError, match="available: semcom:demo"):
        resolve_run_dir("semcom:other")
    with pytest.raises(WeightsError, match="expected a `semcom run` directory"):
        resolve_run_dir(str(tmp_path / "nowhere"))
    outside = tmp_path.parent / "elsewhere.safetensors"
    assert check_shipped(outside) == outside  # a user's run: nothing to check against


def test_checksum_mismatch_and_unknown_names_are_refused(tmp_path: Path, monkeypatch) -> None:
    _ship(tmp_path, monkeypatch, good="good.safetensors", bad="bad.safetensors")
    assert resolve_weights("semcom:good") == tmp_path / "good.safetensors"
    with pytest.raises(WeightsError, match="fails its checksum"):
        resolve_weights("semcom:bad")
    with pytest.raises(WeightsError, match="available: semcom:bad, semcom:good"):
        resolve_weights("semcom:missing")
    with pytest.raises(WeightsError, match="does not exist"):
        resolve_weights(str(tmp_path / "nowhere.safetensors"))
