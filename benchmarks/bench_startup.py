"""``semcom run --quick``: wall time and start-up (process launch to the first training phase).

Launches ``semcom run --quick`` (the shipped Fashion-MNIST experiment) in a fresh Python process
``--repeats`` times. The child is the real command (``semcom.cli.app``) with one wrapper around
the experiment's ``train_phase`` that notes the clock when the first phase starts; the parent
measures from just before the launch. Targets (issue: run-time hardening): wall <= 30 s on an
idle machine, start-up <= 5 s. ``load_average`` tells how idle the machine was.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeats 3]``. Writes
``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import report

WALL_TARGET_S = 30.0
STARTUP_TARGET_S = 5.0

CHILD = """
import json, sys, time
import semcom.experiment as experiment
original = experiment.train_phase
marks = {}
def first_phase(*args, **kwargs):
    marks.setdefault("first_phase", time.time())
    return original(*args, **kwargs)
experiment.train_phase = first_phase
from semcom.cli import app
sys.argv = ["semcom", "run", "--quick", "--out", sys.argv[1]]
try:
    app()
except SystemExit as exc:
    if exc.code:
        raise
print("MARKS " + json.dumps(marks))
"""


def one_run(out: Path) -> dict[str, float]:
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out)], capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"semcom run --quick failed:\n{proc.stderr[-3000:]}")
    marks = json.loads(proc.stdout.rsplit("MARKS ", 1)[1])
    return {"wall_s": wall, "startup_s": marks["first_phase"] - t0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            load = os.getloadavg()[0]
            result = one_run(Path(tmp) / f"run{i}")  # a fresh --out: nothing to resume
            rows.append({"repeat": i, **result, "load_average": load})
    wall = statistics.median(r["wall_s"] for r in rows)
    startup = statistics.median(r["startup_s"] for r in rows)
    meta = {
        "median_wall_s": wall,
        "median_startup_s": startup,
        "wall_target_s": WALL_TARGET_S,
        "startup_target_s": STARTUP_TARGET_S,
        "meets_wall": wall <= WALL_TARGET_S,
        "meets_startup": startup <= STARTUP_TARGET_S,
    }
    report("startup", rows, meta)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
