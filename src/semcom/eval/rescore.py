"""Re-score a run's stored variants without training: ``semcom eval RUN_DIR``.

A run directory holds its resolved ``config.yaml`` and every trained variant in ``models/``
(:mod:`semcom.storage.store`). :func:`rescore_run` loads both, applies ``--set`` overrides of the
settings that evaluation alone uses — ``eval.*`` (channels, SNRs, devices, deadline, bandwidth,
timing), the test data (``data.name``, ``data.root``, ``data.test_subset``,
``data.eval_batch_size``), ``device`` and ``seed`` (the per-SNR noise and fading draws) — and
evaluates every stored variant as the run did, writing ``metrics.json``, ``report.md`` and the
plots into an output folder (default: a new ``eval-<UTC time>`` folder inside the run). The run's
own results are never overwritten: the run directory itself is refused as output.

With no override the records equal the run's own, field for field, but the timings. New test
data must fit what the models were built for: the same task, classes and input shape (an error
names the variant and both).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from semcom.accel import DeviceError, resolve_device
from semcom.config import ConfigError, apply_overrides, dump_yaml, load_yaml, parse_config
from semcom.data import DataUnavailableError, build_dataset, take_first
from semcom.eval.evaluate import evaluate_variant
from semcom.report import all_plots, write_metrics, write_report
from semcom.storage.store import StoredSystem, load_run
from semcom.tasks import TaskError, check_fits

#: config fields ``semcom eval --set`` may change (prefixes, dotted).
RESCORE_FIELDS = (
    "eval.",
    "data.name",
    "data.root",
    "data.test_subset",
    "data.eval_batch_size",
    "data.image_size",
    "data.channels",
    "data.test_fraction",
    "data.split_seed",
    "device",
    "seed",
)


class RescoreError(ValueError):
    """A run cannot be re-scored as asked; the message says why and what is allowed."""


@dataclass
class RescoreResult:
    out_dir: Path
    records: list[dict[str, Any]]
    seconds: float


def check_overrides(overrides: list[str]) -> None:
    """Refuse overrides of anything but the evaluation settings (:data:`RESCORE_FIELDS`)."""
    for item in overrides:
        key = item.partition("=")[0].strip()
        if not any(key == f.rstrip(".") or key.startswith(f) for f in RESCORE_FIELDS):
            allowed = ", ".join(f + "*" if f.endswith(".") else f for f in RESCORE_FIELDS)
            raise RescoreError(
                f"--set {key}: `semcom eval` re-scores stored models, so only the evaluation "
                f"settings can change ({allowed}); training, backbone and systems changes need "
                "`semcom run`"
            )


def default_out_dir(run_dir: Path) -> Path:
    """A new folder inside the run: ``eval-<UTC time>``."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    out = run_dir / f"eval-{stamp}"
    n = 1
    while out.exists():
        n += 1
        out = run_dir / f"eval-{stamp}-{n}"
    return out


def _run_lambdas(run_dir: Path) -> dict[str, Any]:
    """``lambda`` of each variant as the run recorded it (the stages' rate weight), in the run's
    order of variants."""
    path = run_dir / "metrics.json"
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text()).get("records", [])
    except (OSError, ValueError):
        return {}
    out: dict[str, Any] = {}
    for r in records:
        if "variant" in r:
            out.setdefault(r["variant"], r.get("lambda"))
    return out


def _check_fits(variant: str, stored: StoredSystem, info: Any) -> None:
    ctx = stored.system.ctx
    if tuple(info.input_shape) != tuple(ctx.input_shape):
        raise RescoreError(
            f"variant {variant!r} was built for inputs {list(ctx.input_shape)}, data set "
            f"{info.name!r} has {list(info.input_shape)}"
        )
    try:
        check_fits(stored.system.task, info.task, f"{variant} ({stored.system.name})", info.name)
    except TaskError as exc:
        raise RescoreError(str(exc)) from None


def rescore_run(
    run_dir: str | Path,
    overrides: list[str] | None = None,
    out_dir: str | Path | None = None,
    *,
    log: Callable[[str], None] = print,
) -> RescoreResult:
    """Evaluate every stored variant of ``run_dir`` under the overridden evaluation settings and
    write the results to ``out_dir`` (module docstring)."""
    t0 = time.perf_counter()
    run = Path(run_dir)
    overrides = list(overrides or [])
    check_overrides(overrides)
    config_file = run / "config.yaml"
    if not config_file.is_file():
        raise RescoreError(f"{run}: no config.yaml; is it a directory written by `semcom run`?")
    try:
        cfg = parse_config(apply_overrides(load_yaml(config_file), overrides))
    except ConfigError as exc:
        raise RescoreError(str(exc)) from None
    out = Path(out_dir) if out_dir is not None else default_out_dir(run)
    if out.resolve() == run.resolve():
        raise RescoreError(
            f"--out {out} is the run directory: `semcom eval` never overwrites a run's own "
            "results; give another folder (default: a new eval-<time> folder inside the run)"
        )
    try:
        device = resolve_device(cfg.device)
    except DeviceError as exc:
        raise RescoreError(f"device: {exc}") from None
    stored = load_run(run)
    try:
        _, test_set, info = build_dataset(cfg.data.name, cfg.data.root, **cfg.data.options())
    except ValueError as exc:
        if isinstance(exc, DataUnavailableError):
            raise
        raise RescoreError(f"data: {exc}") from None
    if cfg.data.test_subset:
        test_set = take_first(test_set, cfg.data.test_subset)
    for variant, item in stored.items():
        _check_fits(variant, item, info)
    log(
        f"re-scoring {len(stored)} variant(s) of {run} on {info.name}, {len(test_set)} test samples"
    )
    lambdas = _run_lambdas(run)
    order = [v for v in lambdas if v in stored] + sorted(set(stored) - set(lambdas))
    records: list[dict[str, Any]] = []
    for variant in order:  # the run's order of variants
        item = stored[variant]
        system = item.system.to(device)
        log(f"evaluating {variant}")
        records += evaluate_variant(
            system,
            test_set,
            cfg.eval,
            dataset=info.name,
            seed=cfg.seed,
            batch_size=cfg.data.eval_batch_size,
            extra={"variant": variant, "lambda": lambdas.get(variant)},
            device=device,
        )
        system.to("cpu")
    out.mkdir(parents=True, exist_ok=True)
    config_yaml = dump_yaml(cfg)
    (out / "config.yaml").write_text(config_yaml)
    seconds = time.perf_counter() - t0
    write_metrics(
        out / "metrics.json",
        experiment=cfg.experiment,
        seed=cfg.seed,
        records=records,
        extra={"rescored_from": str(run), "overrides": overrides, "wall_time_s": seconds},
    )
    plots = all_plots(records, out)
    write_report(
        out / "report.md",
        experiment=f"{cfg.experiment} (re-scored)",
        config_yaml=config_yaml,
        records=records,
        plots=plots,
        notes=[f"re-scored from {run} without training; overrides: {overrides or 'none'}"],
    )
    return RescoreResult(out, records, seconds)
