"""Data-parallel training against one process: how far do the records move?

Runs the same experiment three times and compares every record's primary metric (accuracy):

* ``one`` — one process, seed 0 (the reference);
* ``ddp`` — ``torchrun --nproc-per-node 2`` (gloo, CPU), seed 0: the ranks share every step's
  global batch and, with ``train.sync_bn`` (the default), normalise over it;
* ``seed1`` — one process, seed 1: the run-to-run spread of the training itself, the yardstick
  for variants whose training draws random numbers (channel noise, quantisation noise). Their
  DDP ranks draw that noise for their own samples, so it cannot equal one process's draw for the
  same samples; variants whose training draws nothing match one process exactly.

Per variant: the largest |difference| over its records (channels x SNRs), in points, DDP vs one
process and seed 1 vs seed 0, and the test-set size (one sample is ``100 / n`` points).

Run: ``.venv/bin/python benchmarks/ddp_equivalence.py [CONFIG] [--set key=value ...]``; default:
the shipped Fashion-MNIST experiment with ``--quick``. Writes ``benchmarks/results/ddp.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from common import report

LAUNCH_DDP = [
    sys.executable,
    "-m",
    "torch.distributed.run",
    "--standalone",
    "--nproc-per-node",
    "2",
]


def _run(prefix: list[str], config: list[str], out: Path, seed: int, sets: list[str]) -> float:
    args = [*prefix, "-m", "semcom.cli", "run", *config, "--quick", "--out", str(out),
            "--set", f"seed={seed}"]  # fmt: skip
    for item in sets:
        args += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1"} if prefix is LAUNCH_DDP else dict(os.environ)
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def _records(out: Path) -> dict[tuple, dict]:
    records = json.loads((out / "metrics.json").read_text())["records"]
    return {(r["variant"], r["channel_label"], r["snr_db"]): r for r in records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", help="experiment YAML (default: the shipped one)")
    parser.add_argument("--set", action="append", default=[], dest="sets", help="key=value")
    args = parser.parse_args()
    config = [args.config] if args.config else []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        walls = {
            "one": _run([sys.executable], config, root / "one", 0, args.sets),
            "ddp": _run(LAUNCH_DDP, config, root / "ddp", 0, args.sets),
            "seed1": _run([sys.executable], config, root / "seed1", 1, args.sets),
        }
        one, ddp, seed1 = (_records(root / name) for name in ("one", "ddp", "seed1"))
    gaps: dict[str, dict[str, float]] = defaultdict(lambda: {"ddp": 0.0, "seed1": 0.0})
    samples: dict[str, int] = {}
    for key, ref in one.items():
        if ref.get("accuracy") is None:
            continue
        variant = key[0]
        samples[variant] = int(ref.get("samples") or 0)
        for name, other in (("ddp", ddp), ("seed1", seed1)):
            gap = 100 * abs(float(other[key]["accuracy"]) - float(ref["accuracy"]))
            gaps[variant][name] = max(gaps[variant][name], gap)
    rows = [
        {
            "variant": v,
            "test_samples": samples[v],
            "ddp_vs_one_points": round(g["ddp"], 2),
            "seed1_vs_seed0_points": round(g["seed1"], 2),
        }  # fmt: skip
        for v, g in sorted(gaps.items())
    ]
    exact = sum(1 for r in rows if r["ddp_vs_one_points"] == 0)
    meta = {
        "wall_s": {k: round(v, 1) for k, v in walls.items()},
        "variants_identical": exact,
        "variants": len(rows),
        "max_ddp_points": max(r["ddp_vs_one_points"] for r in rows),
        "max_seed_points": max(r["seed1_vs_seed0_points"] for r in rows),
    }
    report("ddp", rows, meta)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
