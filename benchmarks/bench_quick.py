"""``semcom run CONFIG --quick`` of every shipped config: wall time against the 90 s target.

Runs each config in ``src/semcom/configs`` (CIFAR-10 ones with ``--cifar10 PATH``, default the
shared archive; skipped with a note when it is absent) once, in a fresh process with the default
thread count, as a user would, and reports the wall time, the number of records and the load
average before each run (a busy machine explains a slow row). Target (issue 8): every config
within 90 s here.

Run: ``.venv/bin/python benchmarks/bench_quick.py [CONFIG ...] [--cifar10 PATH]``. Writes
``benchmarks/results/quick_runs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "src" / "semcom" / "configs"
DEFAULT_CIFAR10 = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"
TARGET_S = 90.0


def uses_cifar10(path: Path) -> bool:
    """Whether the config reads CIFAR-10 (its data root must be given)."""
    import yaml

    return (yaml.safe_load(path.read_text()).get("data") or {}).get("name") == "cifar10"


def run_one(path: Path, cifar10: Path) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "semcom.cli", "run", str(path), "--quick", "--out", tmp]
        if uses_cifar10(path):
            cmd += ["--set", f"data.root={cifar10}"]
        load = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(
            cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "CI": "true"}
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
            )
        records = len(json.loads((Path(tmp) / "metrics.json").read_text())["records"])
    return {
        "config": path.stem,
        "wall_s": round(wall, 1),
        "records": records,
        "load_before": round(load, 2),
        "within_target": wall <= TARGET_S,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", help="config stems (default: every shipped one)")
    parser.add_argument("--cifar10", type=Path, default=DEFAULT_CIFAR10)
    args = parser.parse_args()
    paths = [CONFIG_DIR / f"{c}.yaml" for c in args.configs] or sorted(CONFIG_DIR.glob("*.yaml"))
    rows, skipped = [], []
    for path in paths:
        if uses_cifar10(path) and not args.cifar10.is_file():
            skipped.append(path.stem)
            continue
        rows.append(run_one(path, args.cifar10))
        print(rows[-1], flush=True)
    report(
        "quick_runs",
        rows,
        {"target_s": TARGET_S, "skipped_no_cifar10": skipped, "cpu_count": os.cpu_count()},
    )
    return 0 if all(r["within_target"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
