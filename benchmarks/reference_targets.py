"""The shipped reference networks against their targets (issue 8): top-1 on the full test set.

For each shipped reference (``semcom:resnet20-cifar10``, ``semcom:resnet20-fashion``) this loads
the weights into the unsplit network of its config (``configs/reference_*.yaml``), runs all test
images and reports top-1 with its binomial standard error ``sqrt(p (1 - p) / n)``, the parameter
count and whether the target is met (CIFAR-10: >= 90.0 % with <= 0.3 M parameters; Fashion-MNIST:
>= 93.0 %). A reference whose data is not here (CIFAR-10 without ``--cifar10 PATH``) or whose
weights are not shipped yet is listed as skipped with the reason.

Run: ``.venv/bin/python benchmarks/reference_targets.py [--cifar10 PATH]``. Writes
``benchmarks/results/reference_targets.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from common import report, standard_error

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CIFAR10 = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
#: (weights name, config, target top-1, parameter limit or None)
REFERENCES = (
    ("resnet20-cifar10", "reference_cifar10", 0.900, 300_000),
    ("resnet20-fashion", "reference_fashion", 0.930, None),
)


def measure(name: str, config: str, cifar10: Path) -> dict[str, Any]:
    from semcom.backbones import load_backbone_weights
    from semcom.config import load_yaml, resolve
    from semcom.eval.evaluate import measure_system
    from semcom.experiment import _load_data
    from semcom.pretrained import shipped_dir
    from semcom.systems import build_system

    if not (shipped_dir() / f"{name}.safetensors").is_file():
        return {"reference": name, "skipped": "weights not shipped"}
    raw = load_yaml(ROOT / "src" / "semcom" / "configs" / f"{config}.yaml")
    if raw["data"]["name"] == "cifar10":
        if not cifar10.is_file():
            return {"reference": name, "skipped": f"{cifar10} is absent"}
        raw["data"]["root"] = str(cifar10)
    cfg = resolve(raw)
    _, test_set, ctx, _ = _load_data(cfg, lambda _line: None)
    system = build_system("local", {}, ctx)
    load_backbone_weights(system, f"semcom:{name}")
    m = measure_system(system, test_set, batch_size=500, timing_samples=0)
    p, n = float(m.accuracy or 0.0), len(test_set)  # type: ignore[arg-type]
    return {
        "reference": name,
        "test_images": n,
        "top1": round(p, 4),
        "std_error": round(standard_error(p, n), 4),
        "params": sum(t.numel() for t in system.parameters()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cifar10", type=Path, default=DEFAULT_CIFAR10)
    args = parser.parse_args()
    rows = []
    for name, config, target, max_params in REFERENCES:
        row = {**measure(name, config, args.cifar10), "target_top1": target}
        if "top1" in row:
            row["met"] = row["top1"] >= target and (
                max_params is None or row["params"] <= max_params
            )
        rows.append(row)
    report("reference_targets", rows)
    return 0 if all(r.get("met", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
