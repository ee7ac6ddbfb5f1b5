"""Run every ``bench_*.py`` in this folder (``make bench``); each prints a table and writes JSON.

``python benchmarks/run_all.py [NAME ...]`` runs only the named benchmarks (e.g. ``ans channels``
or ``runtime``). Each script runs with its default arguments (its own ``sys.argv``).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if argv:
        wanted = set(argv)
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    if not scripts:
        print("no benchmark matched", argv, file=sys.stderr)
        return 2
    sys.path.insert(0, str(HERE))
    saved = sys.argv
    for script in scripts:
        print(f"\n### {script.name}")
        sys.argv = [str(script)]  # not our NAME arguments: scripts parse their own options
        try:
            runpy.run_path(str(script), run_name="__main__")
        finally:
            sys.argv = saved
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
