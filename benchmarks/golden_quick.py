"""Golden ``--quick`` records of the shipped configs (CompressAI's ``tests/expected`` pattern).

``python benchmarks/golden_quick.py record [CONFIG ...]`` runs ``semcom run CONFIG --quick`` for
each shipped config (default: all of them) with one torch thread and writes what it measured to
``tests/expected/quick/<config stem>.json``; ``check`` runs them again and compares every field of
every golden record and phase with the new run, except the timing fields (:data:`TIMING_FIELDS`)
and package versions. A new run may add fields; it may not drop, rename or change one.

Floating-point results depend on the CPU (the kernels oneDNN and MKL pick differ in summation
order between CPU models: the same commit gives other last digits, and a quarter-epoch of
training then other accuracies, on an AMD EPYC than on the machine the files were first recorded
on). So each golden file records its platform (:func:`platform_key`: CPU model, torch's CPU
capability, torch version): on the same platform every field must be identical; on another one
strings, ints and bools must still be identical and floats agree within :data:`CROSS_PLATFORM_ATOL`
/ :data:`CROSS_PLATFORM_RTOL` (a changed header, record count, FLOP count or variant name still
fails; a last-digit difference does not), and the check says which mode it used.

The golden files are regenerated only on purpose (a change that is meant to change results),
never to make a check pass. One torch thread because the summation order of CPU kernels depends on
the thread count: 1 and 2 threads give different last digits, and a different last digit of an
accuracy is a different record.

Which configs run where:

* ``aecnn_fashion``, ``quantized_split_fashion`` (Fashion-MNIST) and ``lssc_segmentation``
  (generated data) take seconds each and are checked by ``tests/test_golden_quick.py`` in the
  default suite;
* the CIFAR-10 configs (every config whose ``data.name`` is ``cifar10``, the ResNet-20 reference
  among them) need ``../shared/data/cifar10-jpeg.tar.gz``, so only this script checks them
  (``check`` with ``--cifar10 PATH``; they are skipped with a message when the archive is
  absent).
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = ROOT / "src" / "semcom" / "configs"
EXPECTED_DIR = ROOT / "tests" / "expected" / "quick"
DEFAULT_CIFAR10 = ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"

#: cross-platform tolerance on floats: ``|golden - now| <= ATOL + RTOL * |golden|``.
CROSS_PLATFORM_ATOL = 0.05
CROSS_PLATFORM_RTOL = 0.05
#: fields that are wall-clock measurements (or depend on the installed packages), never compared.
TIMING_FIELDS = frozenset({"measured_s", "wall_time_s", "versions", "seconds", "wall_s"})
#: fields whose meaning changed on purpose after the golden files were recorded: (field, value
#: in the golden file, value now, why). Only that exact change of that field is accepted.
INTENDED_CHANGES: tuple[tuple[str, Any, Any, str], ...] = (
    (
        "metric",
        "pixel accuracy",
        "mIoU",
        "a record's `metric` names the task's primary metric; segmentation's is mIoU (the "
        "per-sample mean pixel accuracy stays in `accuracy`, `pixel_accuracy` is the set's)",
    ),
)


def needs_cifar10(config: str) -> bool:
    """Whether the shipped ``config`` reads CIFAR-10 (it needs the shared archive)."""
    import yaml

    doc = yaml.safe_load((CONFIG_DIR / f"{config}.yaml").read_text())
    return (doc.get("data") or {}).get("name") == "cifar10"


#: configs the default test suite checks (seconds each, data available on a fresh machine).
SUITE_CONFIGS = ("aecnn_fashion", "quantized_split_fashion", "lssc_segmentation")


def strip_timings(value: Any) -> Any:
    """``value`` without the :data:`TIMING_FIELDS` keys, at any depth."""
    if isinstance(value, dict):
        return {k: strip_timings(v) for k, v in value.items() if k not in TIMING_FIELDS}
    if isinstance(value, list):
        return [strip_timings(v) for v in value]
    return value


def platform_key() -> dict[str, str]:
    """What the exact results depend on besides the code: CPU model, torch's CPU capability and
    torch version."""
    import platform

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:  # no /proc (not Linux): platform.processor() above stands
        pass
    return {
        "cpu": cpu,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch": torch.__version__,
    }


def run_quick(config: str, out_dir: Path, cifar10: Path | None = None) -> dict[str, Any]:
    """Run ``semcom run CONFIG --quick`` in a subprocess with one torch thread; the comparable
    part of its ``metrics.json``: ``{"records": [...], "phases": [...]}``."""
    path = CONFIG_DIR / f"{config}.yaml"
    cmd = [sys.executable, "-m", "semcom.cli", "run", str(path), "--quick", "--out", str(out_dir)]
    if needs_cifar10(config):
        cmd += ["--set", f"data.root={cifar10 or DEFAULT_CIFAR10}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "CI": "true"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    doc = json.loads((out_dir / "metrics.json").read_text())
    return strip_timings({"records": doc["records"], "phases": doc.get("phases", [])})


def differences(golden: Any, new: Any, where: str = "", tolerant: bool = False) -> list[str]:
    """Every place where ``new`` lacks or changes a value of ``golden`` (extra keys are fine);
    ``tolerant``: floats within the cross-platform tolerance count as equal."""
    if isinstance(golden, dict):
        if not isinstance(new, dict):
            return [f"{where}: expected a mapping, got {type(new).__name__}"]
        out: list[str] = []
        for key, value in golden.items():
            if key not in new:
                out.append(f"{where}.{key}: missing")
            elif not _intended(key, value, new[key]):
                out += differences(value, new[key], f"{where}.{key}", tolerant)
        return out
    if isinstance(golden, list):
        if not isinstance(new, list) or len(new) != len(golden):
            got = len(new) if isinstance(new, list) else type(new).__name__
            return [f"{where}: expected a list of {len(golden)}, got {got}"]
        out = []
        for i, (g, n) in enumerate(zip(golden, new, strict=True)):
            out += differences(g, n, f"{where}[{i}]", tolerant)
        return out
    if tolerant and type(golden) is float and type(new) is float:
        if abs(golden - new) <= CROSS_PLATFORM_ATOL + CROSS_PLATFORM_RTOL * abs(golden):
            return []
        return [f"{where}: golden {golden!r}, now {new!r} (beyond the cross-platform tolerance)"]
    if golden != new or type(golden) is not type(new):
        return [f"{where}: golden {golden!r}, now {new!r}"]
    return []


def _intended(key: str, golden: Any, new: Any) -> bool:
    return any(key == f and golden == old and new == now for f, old, now, _ in INTENDED_CHANGES)


def expected_path(config: str) -> Path:
    return EXPECTED_DIR / f"{config}.json"


def check(config: str, cifar10: Path | None = None) -> tuple[list[str], bool]:
    """Run ``config`` quick; its differences from the golden file, and whether they were taken
    exactly (the golden file's platform is this one) or within the cross-platform tolerance."""
    golden = json.loads(expected_path(config).read_text())
    exact = golden.pop("platform", None) == platform_key()
    with tempfile.TemporaryDirectory() as tmp:
        new = run_quick(config, Path(tmp) / "run", cifar10)
    return differences(golden, new, tolerant=not exact), exact


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["record", "check"])
    parser.add_argument("configs", nargs="*", help="config stems (default: every shipped one)")
    parser.add_argument("--cifar10", type=Path, default=DEFAULT_CIFAR10)
    args = parser.parse_args(argv)
    configs = args.configs or sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    failed = 0
    for config in configs:
        if needs_cifar10(config) and not args.cifar10.is_file():
            print(f"{config}: skipped, {args.cifar10} is absent")
            continue
        t0 = time.perf_counter()
        if args.action == "record":
            with tempfile.TemporaryDirectory() as tmp:
                doc = {**run_quick(config, Path(tmp) / "run", args.cifar10),
                       "platform": platform_key()}  # fmt: skip
            EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
            expected_path(config).write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
            print(f"{config}: recorded {len(doc['records'])} records "
                  f"({time.perf_counter() - t0:.0f} s)")  # fmt: skip
            continue
        diffs, exact = check(config, args.cifar10)
        status = "identical" if not diffs else f"{len(diffs)} difference(s)"
        if not exact:
            status += " (another platform than the golden file's: floats within tolerance)"
        print(f"{config}: {status} ({time.perf_counter() - t0:.0f} s)")
        for line in diffs[:40]:
            print(f"  {line}")
        failed += bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
