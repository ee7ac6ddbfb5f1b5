"""Ship a finished run's trained variants as ``semcom:NAME`` for ``train.reuse``.

Copies ``RUN_DIR/config.yaml`` and the stored models of the variants that have parameters of their
own (``RUN_DIR/models/<variant>.safetensors``; the offloading baselines and ``local`` hold only the
shared backbone and are left out) to ``src/semcom/weights/NAME/``, and writes their SHA-256 lines
into ``src/semcom/weights/SHA256SUMS`` (replacing that set's old lines). Refuses a file over 5 MB.

Usage: ``.venv/bin/python scripts/ship_run.py RUN_DIR NAME``
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from semcom.pretrained import sha256_file, shipped_dir
from semcom.storage.store import load_run
from semcom.systems import SplitSystem

MAX_BYTES = 5 * 2**20


def has_own_parameters(system: SplitSystem) -> bool:
    """Whether ``system`` has trained parts besides the shared backbone (``head`` / ``tail``)."""
    shared = ("head", "tail") if system.shares_backbone else ()
    own = [m for role, m in system.roles().items() if role not in shared]
    return any(p.numel() for m in own for p in m.parameters())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("name")
    args = parser.parse_args()
    target = shipped_dir() / args.name
    if target.exists():
        shutil.rmtree(target)
    (target / "models").mkdir(parents=True)
    shutil.copyfile(args.run_dir / "config.yaml", target / "config.yaml")
    files = [target / "config.yaml"]
    for variant, stored in load_run(args.run_dir).items():
        if not has_own_parameters(stored.system):
            continue
        source = args.run_dir / "models" / f"{variant}.safetensors"
        if source.stat().st_size > MAX_BYTES:
            print(f"{source}: {source.stat().st_size} bytes, over the 5 MB limit", file=sys.stderr)
            return 1
        shutil.copyfile(source, target / "models" / source.name)
        files.append(target / "models" / source.name)
    sums = shipped_dir() / "SHA256SUMS"
    kept = [ln for ln in sums.read_text().splitlines() if f"  {args.name}/" not in ln]
    added = [f"{sha256_file(f)}  {f.relative_to(shipped_dir()).as_posix()}" for f in files]
    sums.write_text("\n".join(kept + added) + "\n")
    for line in added:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
