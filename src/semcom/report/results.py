"""``metrics.json``: the experiment, seed, package versions and one record per measured point."""

from __future__ import annotations

import json
import math
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("semcom", "torch", "torchvision", "numpy", "constriction", "sionna-no-rt", "pydantic")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide the numbers (plus Python's)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _clean(value: Any) -> Any:
    """JSON has no inf/nan: write them as null so every reader can parse the file."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def write_metrics(
    path: str | Path,
    *,
    experiment: str,
    seed: int,
    records: list[dict[str, Any]],
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``{"experiment", "seed", "versions", "records", ...extra}`` to ``path``."""
    doc = {
        "experiment": experiment,
        "seed": seed,
        "versions": package_versions(),
        "records": records,
        **(extra or {}),
    }
    path = Path(path)
    path.write_text(json.dumps(_clean(doc), indent=2, allow_nan=False))
    return path


def read_metrics(path: str | Path) -> dict[str, Any]:
    """Read a ``metrics.json`` back."""
    return json.loads(Path(path).read_text())
