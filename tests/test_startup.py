"""Start-up stays light: the modules every command imports do not pull in the heavy libraries
(torchvision's models and ops, which import torch._dynamo; Sionna; matplotlib; torchmetrics;
onnxruntime); each is imported where it is used."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torchvision", "torch._dynamo", "sionna", "matplotlib", "torchmetrics", "onnxruntime",
         "tensorflow")  # fmt: skip
ENTRY_POINTS = ("semcom.cli", "semcom.experiment", "semcom.systems", "semcom.runtime.server",
                "semcom.runtime.serving", "semcom.runtime.client", "semcom.backbones")  # fmt: skip


def test_the_entry_points_import_no_heavy_library() -> None:
    code = (
        "import json, sys\n"
        + "".join(f"import {m}\n" for m in ENTRY_POINTS)
        + f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_building_the_default_systems_imports_no_torchvision() -> None:
    code = (
        "import json, sys\n"
        "from semcom.cli import default_config_path\n"
        "from semcom.config import expand_system, load_yaml, resolve\n"
        "from semcom.systems import BuildContext, build_system\n"
        "cfg = resolve(load_yaml(default_config_path()))\n"
        "ctx = BuildContext(10, (1, 28, 28), cfg.backbone.name, cfg.backbone.split_after)\n"
        "for entry in cfg.systems:\n"
        "    for v in expand_system(entry):\n"
        "        build_system(v['name'], {k: x for k, x in v.items() if k != 'name'}, ctx)\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
