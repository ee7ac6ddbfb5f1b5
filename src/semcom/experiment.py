"""Run an experiment end to end: data → shared backbone → each system's stages → honest evaluation
→ ``config.yaml``, ``metrics.json``, ``report.md`` and plots in the output directory.

Re-running with the same output directory resumes: finished phases are loaded from their
checkpoints, an interrupted phase continues from its last progress checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from semcom.config import (
    ConfigError,
    ExperimentConfig,
    StageConfig,
    dump_yaml,
    expand_system,
    variant_id,
)
from semcom.data import build_dataset, take_first
from semcom.eval.evaluate import evaluate_variant, measure_system
from semcom.pretrained import WeightsError, resolve_weights
from semcom.report import all_plots, write_metrics, write_report
from semcom.runtime.store import save_system
from semcom.systems import BuildContext, SplitSystem, build_system
from semcom.tasks import TaskError, check_fits
from semcom.train import (
    Phase,
    PhaseResult,
    distributed,
    frozen_teacher,
    load_weights,
    phase_from_config,
    save_weights,
    train_phase,
)

#: Called as ``(phase label, step, total steps, loss terms)`` after every training step.
StepReporter = Callable[[str, int, int, dict[str, float]], None]


@dataclass
class RunResult:
    out_dir: Path
    records: list[dict[str, Any]]
    phases: list[dict[str, Any]]
    seconds: float


def apply_quick(cfg: ExperimentConfig) -> ExperimentConfig:
    """The config ``--quick`` runs: the ``quick`` section's subsets and epoch cap applied."""
    q = cfg.quick
    data = cfg.data.model_copy(
        update={
            "train_subset": min(cfg.data.train_subset or q.train_subset, q.train_subset),
            "test_subset": min(cfg.data.test_subset or q.test_subset, q.test_subset),
        }
    )
    backbone_train = cfg.train.backbone.model_copy(
        update={"epochs": min(cfg.train.backbone.epochs, q.epochs)}
    )
    stages = [s.model_copy(update={"epochs": min(s.epochs, q.epochs)}) for s in cfg.train.stages]
    train = cfg.train.model_copy(update={"backbone": backbone_train, "stages": stages})
    evaluation = cfg.eval.model_copy(
        update={"timing_samples": min(cfg.eval.timing_samples, q.timing_samples)}
    )
    return cfg.model_copy(update={"data": data, "train": train, "eval": evaluation})


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def _stage_for(stage: StageConfig, system: SplitSystem) -> StageConfig | None:
    """The stage as it applies to ``system`` (roles it lacks dropped), or ``None`` to skip it."""
    if stage.systems is not None and system.name not in stage.systems:
        return None
    if set(system.roles()) <= {"head", "tail"}:
        return None  # nothing but the shared backbone: its training is done
    weight = getattr(system.params, "rate_weight", None)
    if weight is not None and "rate" in stage.losses:  # the system's own lambda wins
        stage = stage.model_copy(update={"losses": {**stage.losses, "rate": weight}})
    if stage.trainable == "all":
        return stage
    roles = [r for r in stage.trainable if r in system.roles()]
    return stage.model_copy(update={"trainable": roles}) if roles else None


def _distills(cfg: ExperimentConfig, system: SplitSystem) -> bool:
    """Whether any stage that applies to ``system`` has a positive ``distill`` weight."""
    stages = (_stage_for(stage, system) for stage in cfg.train.stages)
    return any(s is not None and s.losses.get("distill", 0.0) > 0 for s in stages)


def _check_stages(cfg: ExperimentConfig, systems: list[SplitSystem]) -> None:
    """Every stage names roles and a path that the systems it applies to actually have."""
    names = {s.name for s in systems}
    roles = set().union(*(s.roles() for s in systems)) if systems else set()
    for i, stage in enumerate(cfg.train.stages):
        unknown_systems = sorted(set(stage.systems or []) - names)
        if unknown_systems:
            raise ConfigError(
                f"train.stages.{i}.systems: {unknown_systems} are not in this experiment; "
                f"systems here: {', '.join(sorted(names))}"
            )
        for system in systems:
            applied = _stage_for(stage, system)
            if applied is not None and applied.path not in system.paths:
                raise ConfigError(
                    f"train.stages.{i}.path: {stage.path!r} is not a training path of system "
                    f"{system.name!r}; allowed: {', '.join(system.paths)} (or restrict the stage "
                    "with 'systems: [...]')"
                )
            if applied is not None and applied.losses.get("rate") and not system.has_rate:
                raise ConfigError(
                    f"train.stages.{i}.losses.rate: system {system.name!r} has no entropy model "
                    "to estimate a rate; restrict the stage with 'systems: [...]'"
                )
        if stage.trainable == "all":
            continue
        unknown = [r for r in stage.trainable if r not in roles]
        if unknown:
            raise ConfigError(
                f"train.stages.{i}.trainable: role(s) {unknown} exist in no system of this "
                f"experiment; roles available: {', '.join(sorted(roles))}"
            )


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    on_step: StepReporter | None = None,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Train and evaluate every system variant of ``cfg``; write the four outputs to ``out_dir``."""
    t_start = time.perf_counter()
    out = Path(out_dir)
    ckpt_root = out / "checkpoints"
    out.mkdir(parents=True, exist_ok=True)
    config_yaml = dump_yaml(cfg)
    (out / "config.yaml").write_text(config_yaml)
    torch.manual_seed(cfg.seed)

    train_set, test_set, ctx = _load_data(cfg, log)
    variants = [v for entry in cfg.systems for v in expand_system(entry)]
    torch.manual_seed(cfg.seed)
    systems = [
        build_system(v["name"], {k: x for k, x in v.items() if k != "name"}, ctx) for v in variants
    ]
    check_tasks(systems, ctx)
    _check_stages(cfg, systems)

    phases: list[dict[str, Any]] = []

    def report_phase(label: str, result: PhaseResult) -> None:
        phases.append({"phase": label, **result.__dict__})

    # 1. The backbone, trained once unsplit and shared by every system.
    backbone_state = _shared_backbone(cfg, ctx, train_set, ckpt_root, on_step, report_phase, log)

    # 2. Each variant: backbone weights, then its stages.
    records: list[dict[str, Any]] = []
    for variant, system in zip(variants, systems, strict=True):
        vid = variant_id(variant)
        system.load_backbone_state(backbone_state)
        # every distill term of this variant learns from the unsplit network as loaded, not from
        # the system's bypass path at the start of a later stage (see frozen_teacher)
        teacher = frozen_teacher(system) if _distills(cfg, system) else None
        rate_weight: float | None = None
        for stage_entry in cfg.train.stages:
            stage_cfg = _stage_for(stage_entry, system)
            if stage_cfg is None:
                continue
            rate_weight = stage_cfg.losses.get("rate", rate_weight)
            phase = phase_from_config(stage_cfg)
            result = train_phase(
                system,
                phase,
                train_set,
                batch_size=cfg.data.batch_size,
                seed=cfg.seed,
                ckpt_dir=ckpt_root / vid,
                teacher=teacher,
                on_step=(lambda s, t, terms, _l=f"{vid}:{phase.name}": on_step(_l, s, t, terms))
                if on_step
                else None,
            )
            report_phase(f"{vid}:{phase.name}", result)
        system.prepare_for_coding()
        if distributed.is_main():
            save_system(system, out, vid)  # what `semcom serve` / `semcom export` load
        log(f"evaluating {vid}")
        records += evaluate_variant(
            system,
            test_set,
            cfg.eval,
            dataset=ctx.dataset,
            seed=cfg.seed,
            batch_size=cfg.data.eval_batch_size,
            extra={"variant": vid, "lambda": rate_weight},
        )

    seconds = time.perf_counter() - t_start
    if distributed.is_main():
        write_metrics(
            out / "metrics.json",
            experiment=cfg.experiment,
            seed=cfg.seed,
            records=records,
            extra={"phases": phases, "wall_time_s": seconds},
        )
        plots = all_plots(records, out)
        write_report(
            out / "report.md",
            experiment=cfg.experiment,
            config_yaml=config_yaml,
            records=records,
            plots=plots,
        )
    return RunResult(out, records, phases, seconds)


def check_tasks(systems: list[SplitSystem], ctx: BuildContext) -> None:
    """Every system's task fits the data set's targets (kind, classes, sub-tasks); a mismatch is
    a :class:`ConfigError` naming the system and the data set."""
    for system in systems:
        try:
            check_fits(system.task, ctx.task, system.name, ctx.dataset)
        except TaskError as exc:
            raise ConfigError(str(exc)) from None


def _load_data(cfg: ExperimentConfig, log: Callable[[str], None]) -> tuple[Any, Any, BuildContext]:
    train_set, test_set, info = build_dataset(cfg.data.name, cfg.data.root)
    if cfg.data.train_subset:
        train_set = take_first(train_set, cfg.data.train_subset)
    if cfg.data.test_subset:
        test_set = take_first(test_set, cfg.data.test_subset)
    log(
        f"data: {info.name}, {len(train_set)} train / {len(test_set)} test, "
        f"{info.num_classes} classes"
    )
    ctx = BuildContext(
        num_classes=info.num_classes,
        input_shape=info.input_shape,
        backbone=cfg.backbone.name,
        split_after=cfg.backbone.split_after,
        dataset=info.name,
        task=info.task,
    )
    return train_set, test_set, ctx


def train_backbone(
    cfg: ExperimentConfig,
    out_file: str | Path,
    *,
    work_dir: str | Path,
    on_step: StepReporter | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Path, float]:
    """Train only the shared backbone of ``cfg`` (``train.backbone``) and save it to ``out_file``.

    Returns the file and the backbone's test accuracy. The file is what ``backbone.weights``
    loads; ``semcom backbone`` is the command around this.
    """
    cfg = cfg.model_copy(update={"backbone": cfg.backbone.model_copy(update={"weights": None})})
    train_set, test_set, ctx = _load_data(cfg, log)
    state = _shared_backbone(
        cfg, ctx, train_set, Path(work_dir), on_step, lambda _label, _result: None, log
    )
    reference = build_system("local", {}, ctx)
    reference.load_backbone_state(state)
    out = save_weights(reference, out_file)
    m = measure_system(reference, test_set, batch_size=cfg.data.eval_batch_size, timing_samples=0)
    return out, m.accuracy


def _shared_backbone(
    cfg: ExperimentConfig,
    ctx: BuildContext,
    train_set: Any,
    ckpt_root: Path,
    on_step: StepReporter | None,
    report_phase: Callable[[str, PhaseResult], None],
    log: Callable[[str], None],
) -> dict[str, torch.Tensor]:
    """Backbone weights (head + tail) from ``backbone.weights`` or from training it unsplit."""
    torch.manual_seed(cfg.seed)
    reference = build_system("local", {}, ctx)
    if cfg.backbone.weights:
        try:
            path = resolve_weights(cfg.backbone.weights)
            load_weights(reference, path)
        except WeightsError as exc:
            raise ConfigError(str(exc)) from exc
        except RuntimeError as exc:  # shapes do not fit this backbone / data set
            raise ConfigError(
                f"backbone.weights: {cfg.backbone.weights} does not fit backbone "
                f"{cfg.backbone.name!r} on {ctx.dataset!r}: {str(exc).splitlines()[0]}"
            ) from exc
        log(f"backbone: loaded {cfg.backbone.weights}")
        return reference.backbone_state()
    key = _digest(
        {
            "data": cfg.data.model_dump(include={"name", "train_subset"}),
            "backbone": cfg.backbone.model_dump(),
            "train": cfg.train.backbone.model_dump(),
            "seed": cfg.seed,
        }
    )
    b = cfg.train.backbone
    phase = Phase(
        name="backbone",
        epochs=b.epochs,
        lr=b.lr,
        optimizer=b.optimizer,
        weight_decay=b.weight_decay,
        schedule=b.schedule,
        trainable="all",
        losses={"task": 1.0},
        path="bypass",
    )
    result = train_phase(
        reference,
        phase,
        train_set,
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
        ckpt_dir=ckpt_root / f"backbone-{key}",
        on_step=(lambda s, t, terms: on_step("backbone", s, t, terms)) if on_step else None,
    )
    report_phase("backbone", result)
    return reference.backbone_state()
