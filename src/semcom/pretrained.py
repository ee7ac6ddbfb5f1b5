"""Resolve ``backbone.weights``: a file path, or ``semcom:NAME`` for weights shipped in the package.

Shipped weights live in ``semcom/weights/NAME.safetensors``; ``semcom/weights/SHA256SUMS`` holds
their checksums (``sha256sum`` format) and every load verifies them, so a corrupted or replaced
file is refused with a reason. ``semcom/weights/README.md`` gives the command that reproduces each
file.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

PACKAGE_PREFIX = "semcom:"


class WeightsError(ValueError):
    """Weights that cannot be found or fail their checksum."""


def shipped_dir() -> Path:
    """The directory of the package's shipped weights."""
    return Path(str(resources.files("semcom") / "weights"))


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def shipped_checksums() -> dict[str, str]:
    """File name → expected SHA-256, from ``SHA256SUMS``."""
    sums = shipped_dir() / "SHA256SUMS"
    out: dict[str, str] = {}
    if sums.is_file():
        for line in sums.read_text().splitlines():
            if line.strip():
                digest, name = line.split(maxsplit=1)
                out[name.lstrip("*").strip()] = digest
    return out


def resolve_weights(spec: str, field: str = "backbone.weights") -> Path:
    """The file for ``spec`` (a path or ``semcom:NAME``); shipped files are checksum-verified.
    ``field`` is the config field named in the errors."""
    if not spec.startswith(PACKAGE_PREFIX):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise WeightsError(f"{field}: file {path} does not exist")
        return path
    name = spec[len(PACKAGE_PREFIX) :] + ".safetensors"
    path = shipped_dir() / name
    available = sorted(p.stem for p in shipped_dir().glob("*.safetensors"))
    if not path.is_file():
        raise WeightsError(
            f"{field}: no shipped weights {spec!r}; available: "
            + (", ".join(PACKAGE_PREFIX + a for a in available) or "none")
        )
    return _verified(path, name, field)


def _verified(path: Path, entry: str, field: str) -> Path:
    """``path``, whose SHA-256 must equal its ``SHA256SUMS`` line ``entry`` (relative to the
    shipped directory); :class:`WeightsError` naming ``field`` otherwise."""
    expected = shipped_checksums().get(entry)
    if expected is None:
        raise WeightsError(f"{field}: {entry} has no entry in SHA256SUMS")
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(
            f"{field}: {entry} fails its checksum (SHA-256 {actual}, expected {expected})"
        )
    return path


def resolve_run_dir(spec: str, field: str = "train.reuse") -> Path:
    """The run directory ``spec`` names: a path, or ``semcom:NAME`` for a shipped one
    (``weights/NAME``, holding ``config.yaml`` and ``models/*.safetensors``)."""
    if spec.startswith(PACKAGE_PREFIX):
        folder = shipped_dir() / spec[len(PACKAGE_PREFIX) :]
        if not (folder / "config.yaml").is_file():
            available = sorted(p.parent.name for p in shipped_dir().glob("*/config.yaml"))
            raise WeightsError(
                f"{field}: no shipped run {spec!r}; available: "
                + (", ".join(PACKAGE_PREFIX + a for a in available) or "none")
            )
        return folder
    folder = Path(spec).expanduser()
    if not (folder / "config.yaml").is_file():
        raise WeightsError(
            f"{field}: {folder} has no config.yaml (expected a `semcom run` directory)"
        )
    return folder


def check_shipped(path: Path, field: str = "train.reuse") -> Path:
    """``path`` unchanged; if it lies in the shipped weights, its SHA-256 must match its
    ``SHA256SUMS`` line (:class:`WeightsError` otherwise)."""
    root = shipped_dir().resolve()
    try:
        entry = path.resolve().relative_to(root).as_posix()
    except ValueError:
        return path  # a user's run directory: no checksum to hold it to
    return _verified(path, entry, field)
