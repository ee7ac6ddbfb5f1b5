"""The noise behind issue 17's "within 2 points" claims: paired bootstrap standard errors of the
differences between FFMNet systems on the same test images.

Loads the stored variants of a finished FFMNet run (``RUN_DIR/models``) and its test set (from
``RUN_DIR/config.yaml``; pass ``--set data.root=...`` as for the run), scores each compared
system once through its real path (unsplit networks as they are; ``ffmnet-jscc`` on AWGN at
``--snr`` dB with the run's seeded noise), and resamples the test images ``--rounds`` times with
the same indices for every system (:mod:`semcom.eval.bootstrap`). Prints and writes
``benchmarks/results/ffmnet_noise.json``: per pair and metric the difference in points, its
standard error and whether the claim holds beyond it:

* FFMNet above ``mtl-hardshare`` (mAP@0.5 and mIoU);
* ``det-only`` / ``seg-only`` at most 2 points above FFMNet on their own task;
* each ``ffmnet-jscc`` variant at >= 512x at most 2 points below FFMNet (both metrics).

Run: ``.venv/bin/python benchmarks/ffmnet_noise.py RUN_DIR [--set data.root=...] [--rounds 200]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from semcom.config import load_yaml, resolve  # noqa: E402
from semcom.data import build_dataset, take_first  # noqa: E402
from semcom.eval.bootstrap import bootstrap_metrics, standard_error  # noqa: E402
from semcom.eval.evaluate import measure_system  # noqa: E402
from semcom.storage.store import load_run  # noqa: E402

METRICS = ("map_50", "miou")
#: the JSCC variants the headline is about: at least this ratio.
HEADLINE_RATIO = 512.0
#: "within" this many points.
WITHIN_POINTS = 2.0


def compared(stored: dict[str, Any]) -> dict[str, Any]:
    """The systems of the claims, by role: ``ffmnet`` (default fusion), ``mtl-hardshare``,
    ``det-only``, ``seg-only`` and ``jscc:<variant>`` for JSCC variants at >= 512x."""
    out: dict[str, Any] = {}
    for variant, s in stored.items():
        system = s.system
        if system.name == "ffmnet" and s.params.get("fusion", "fpn") == "fpn":
            out["ffmnet"] = system
        elif system.name in ("mtl-hardshare", "det-only", "seg-only"):
            out[system.name] = system
        elif system.name == "ffmnet-jscc":
            if system.split_elements() / system.channel_uses() >= HEADLINE_RATIO:
                out[f"jscc:{variant}"] = system
    return out


def pair_rows(
    values: dict[str, dict[str, Any]], point: dict[str, dict[str, float]]
) -> list[dict[str, Any]]:
    """The claims as rows: difference (points), its paired bootstrap standard error, verdict."""
    rows = []

    def diff(a: str, b: str, metric: str) -> tuple[float, float]:
        d = 100 * (point[a][metric] - point[b][metric])
        return d, 100 * standard_error(values[a][metric] - values[b][metric])

    def add(claim: str, a: str, b: str, metric: str, holds: Any) -> None:
        if metric not in point.get(a, {}) or metric not in point.get(b, {}):
            return
        d, se = diff(a, b, metric)
        rows.append({"claim": claim, "metric": metric, "a": a, "b": b, "a_minus_b_points": d,
                     "se_points": se, "holds": holds(d, se)})  # fmt: skip

    for m in METRICS:
        add("ffmnet above mtl-hardshare", "ffmnet", "mtl-hardshare", m, lambda d, se: d > se)
    add("det-only at most 2 above ffmnet", "det-only", "ffmnet", "map_50",
        lambda d, se: d <= WITHIN_POINTS)  # fmt: skip
    add("seg-only at most 2 above ffmnet", "seg-only", "ffmnet", "miou",
        lambda d, se: d <= WITHIN_POINTS)  # fmt: skip
    for name in (n for n in point if n.startswith("jscc:")):
        for m in METRICS:
            add("jscc >= 512x at most 2 below ffmnet", "ffmnet", name, m,
                lambda d, se: d <= WITHIN_POINTS)  # fmt: skip
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, nargs="?", default=Path("runs/ffmnet-camvid"))
    parser.add_argument("--set", action="append", default=[], dest="overrides")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--snr", type=float, default=20.0)
    args = parser.parse_args(argv)
    cfg = resolve(load_yaml(args.run_dir / "config.yaml"), args.overrides)
    _, test_set, _ = build_dataset(cfg.data.name, cfg.data.root, **cfg.data.options())
    if cfg.data.test_subset:
        test_set = take_first(test_set, cfg.data.test_subset)
    systems = compared(load_run(args.run_dir))
    evaluators, point = {}, {}
    for name, system in systems.items():
        m = measure_system(system, test_set, batch_size=cfg.data.eval_batch_size,
                           timing_samples=0, channel={"name": "awgn"}, snr_db=[args.snr],
                           seed=cfg.seed)  # fmt: skip
        evaluators[name] = m.evaluator_at(args.snr)
        point[name] = {k: v for k, v in evaluators[name].compute().items() if v is not None}
        print(f"{name}: " + ", ".join(f"{k} {100 * v:.2f}" for k, v in point[name].items()
                                      if k in METRICS))  # fmt: skip
    values = bootstrap_metrics(evaluators, METRICS, rounds=args.rounds, seed=cfg.seed)
    for name in evaluators:
        for m in METRICS:
            if m in point[name]:
                point[name][f"{m}_se"] = standard_error(values[name][m])
    rows = pair_rows(values, point)
    meta = {"run": str(args.run_dir), "rounds": args.rounds, "snr_db": args.snr,
            "samples": len(test_set),
            "per_system": {n: {k: 100 * v for k, v in p.items() if k.split("_se")[0] in METRICS}
                           for n, p in point.items()}}  # fmt: skip
    report("ffmnet_noise", rows, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
