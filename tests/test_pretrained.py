"""Shipped weights: found by name, verified by checksum, refused with a reason otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from semcom import pretrained
from semcom.pretrained import WeightsError, resolve_weights, sha256_file


def test_every_shipped_file_matches_its_checksum() -> None:
    sums = pretrained.shipped_checksums()
    files = sorted(p.name for p in pretrained.shipped_dir().glob("*.safetensors"))
    assert files == sorted(sums), "every shipped file needs a SHA256SUMS line and vice versa"
    for name in files:
        assert resolve_weights("semcom:" + name.removesuffix(".safetensors")).name == name


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
