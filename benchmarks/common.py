"""Shared helpers for benchmark scripts: print a table and write JSON next to it.

Every benchmark script builds a list of row dicts, then calls :func:`report`, which prints the rows
as a table and writes ``benchmarks/results/<name>.json`` with the rows, the machine and the package
versions. Figures in the README come from these files, never from hand-written numbers.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine_info() -> dict[str, Any]:
    """CPU count, platform and the versions of the packages that matter for timing."""
    import numpy
    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "numpy": numpy.__version__,
    }
    try:
        import constriction

        info["constriction"] = getattr(constriction, "__version__", "unknown")
    except ImportError:  # pragma: no cover - constriction is a hard dependency
        pass
    return info


def format_value(value: Any) -> str:
    """Compact human formatting: 3 significant digits for floats, thousands separators for ints."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def report(name: str, rows: list[dict[str, Any]], meta: dict[str, Any] | None = None) -> Path:
    """Print ``rows`` as an aligned table and write them to ``results/<name>.json``.

    Returns the path of the JSON file.
    """
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print(f"\n== {name} ==")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    payload = {
        "benchmark": name,
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine_info(),
        "meta": meta or {},
        "rows": rows,
    }
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")
    return path


def load_run_metrics(argv: list[str], default_run: str, config: str) -> tuple[Path, dict] | None:
    """``(run_dir, metrics.json contents)`` of the run named by ``argv[0]`` (else ``default_run``);
    ``None`` after telling on stderr how to make it (``semcom run configs/<config>``)."""
    run_dir = Path(argv[0] if argv else default_run)
    metrics = run_dir / "metrics.json"
    if not metrics.is_file():
        print(f"{metrics} not found: run `semcom run configs/{config} --set data.root=... "
              f"--out {run_dir}` first", file=sys.stderr)  # fmt: skip
        return None
    return run_dir, json.loads(metrics.read_text())


def best_time(fn, *, repeat: int = 5, number: int = 1) -> float:
    """Best-of-``repeat`` wall time in seconds of ``number`` calls of ``fn`` (after one warm-up)."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def standard_error(p: float, n: int | None) -> float | None:
    """Binomial standard error of an accuracy ``p`` measured on ``n`` samples."""
    return math.sqrt(p * (1.0 - p) / n) if n else None


def record_standard_error(record: dict[str, Any]) -> float | None:
    """Binomial standard error of a ``metrics.json`` record's ``accuracy`` (over its
    ``samples``)."""
    return standard_error(record["accuracy"], record.get("samples"))


def combined_se(a: dict[str, Any], b: dict[str, Any]) -> float | None:
    """Standard error of ``a["accuracy"] - b["accuracy"]`` from their ``accuracy_se``."""
    if a.get("accuracy_se") is None or b.get("accuracy_se") is None:
        return None
    return math.hypot(a["accuracy_se"], b["accuracy_se"])


def beyond_noise(a: dict[str, Any], b: dict[str, Any]) -> bool | None:
    """Whether ``a`` is more accurate than ``b`` by more than their combined standard error."""
    se = combined_se(a, b)
    return None if se is None else a["accuracy"] - b["accuracy"] > se
