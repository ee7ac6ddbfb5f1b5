"""Shipped weights: found by name, verified by checksum, refused with a reason otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from semcom import pretrained
from semcom.pretrained import WeightsError, resolve_variant_weights, resolve_weights, sha256_file


def test_every_shipped_file_matches_its_checksum() -> None:
    sums = pretrained.shipped_checksums()
    root = pretrained.shipped_dir()
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.safetensors"))
    assert files == sorted(sums), "every shipped file needs a SHA256SUMS line and vice versa"
    for name in files:
        if "/" in name:  # a shipped set of trained variants
            folder, file = name.split("/")
            variant = file.removesuffix(".safetensors")
            assert resolve_variant_weights("semcom:" + folder, variant) == root / name
        else:
            assert resolve_weights("semcom:" + name.removesuffix(".safetensors")).name == name


def test_shipped_sets_refuse_a_bad_checksum_and_name_what_exists(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "a.safetensors").write_bytes(b"weights")
    (tmp_path / "runs" / "b.safetensors").write_bytes(b"tampered")
    (tmp_path / "SHA256SUMS").write_text(
        f"{sha256_file(tmp_path / 'runs' / 'a.safetensors')}  runs/a.safetensors\n"
        f"{'0' * 64}  runs/b.safetensors\n"
    )
    monkeypatch.setattr(pretrained, "shipped_dir", lambda: tmp_path)
    assert resolve_variant_weights("semcom:runs", "a") == tmp_path / "runs" / "a.safetensors"
    assert resolve_variant_weights("semcom:runs", "c") is None
    with pytest.raises(WeightsError, match="train.start_from: runs/b.safetensors fails"):
        resolve_variant_weights("semcom:runs", "b")
    with pytest.raises(WeightsError, match="available: semcom:runs"):
        resolve_variant_weights("semcom:other", "a")
    with pytest.raises(WeightsError, match="expected a `semcom run` directory"):
        resolve_variant_weights(str(tmp_path / "nowhere"), "a")


def test_checksum_mismatch_and_unknown_names_are_refused(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "good.safetensors").write_bytes(b"weights")
    (tmp_path / "bad.safetensors").write_bytes(b"tampered")
    (tmp_path / "SHA256SUMS").write_text(
        f"{sha256_file(tmp_path / 'good.safetensors')}  good.safetensors\n"
        f"{'0' * 64}  bad.safetensors\n"
    )
    monkeypatch.setattr(pretrained, "shipped_dir", lambda: tmp_path)
    assert resolve_weights("semcom:good") == tmp_path / "good.safetensors"
    with pytest.raises(WeightsError, match="fails its checksum"):
        resolve_weights("semcom:bad")
    with pytest.raises(WeightsError, match="available: semcom:bad, semcom:good"):
        resolve_weights("semcom:missing")
    with pytest.raises(WeightsError, match="does not exist"):
        resolve_weights(str(tmp_path / "nowhere.safetensors"))
