"""Run an experiment end to end: data → shared backbone → each system's stages → honest evaluation
→ ``config.yaml``, ``metrics.json``, ``report.md`` and plots in the output directory.

Re-running with the same output directory resumes: finished phases are loaded from their
checkpoints, an interrupted phase continues from its last progress checkpoint. Checkpoints are
keyed by a digest of everything that made them (data, backbone, variant, teacher, the stage and
every stage before it), so a changed stage trains again instead of reusing old weights; those of
runs made before checkpoints were keyed are not reused (the variants train again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import torch

from semcom.accel import DeviceError, resolve_device
from semcom.backbones import BackboneWeightsError, load_backbone_weights
from semcom.config import (
    ConfigError,
    ExperimentConfig,
    OptimConfig,
    dump_yaml,
    expand_system,
    load_yaml,
    parse_config,
    variant_id,
)
from semcom.data import DataUnavailableError, build_dataset, split_off, take_first
from semcom.data.augment import Augment, check_augment
from semcom.data.batch import fetch_batch
from semcom.data.class_weights import weighted_spec
from semcom.data.info import TaskSpec
from semcom.eval.evaluate import evaluate_variant, measure_system
from semcom.pretrained import WeightsError, check_shipped, resolve_run_dir, sha256_file
from semcom.report import all_plots, write_metrics, write_report
from semcom.storage.checkpoint import save_weights
from semcom.storage.lock import run_lock
from semcom.storage.store import StoreError, load_system, save_system
from semcom.systems import BuildContext, SplitSystem, build_system
from semcom.tasks import TaskError, check_fits
from semcom.train import (
    Phase,
    PhaseResult,
    StageError,
    TeacherError,
    build_teacher,
    check_stages,
    distributed,
    needs_teacher,
    phase_from_config,
    plateau_from_config,
    stage_for,
    train_phase,
)

#: Called as ``(phase label, step, total steps, loss terms)`` after every training step.
StepReporter = Callable[[str, int, int, dict[str, float]], None]


def _labelled(on_step: StepReporter, label: str) -> Callable[[int, int, dict[str, float]], None]:
    """``on_step`` with the phase label bound (the trainer's per-step callback)."""
    return lambda s, t, terms: on_step(label, s, t, terms)


@dataclass
class RunResult:
    out_dir: Path
    records: list[dict[str, Any]]
    phases: list[dict[str, Any]]
    seconds: float


def apply_quick(cfg: ExperimentConfig) -> ExperimentConfig:
    """The config ``--quick`` runs: the ``quick`` section's subsets (the validation split no
    larger than the test subset), epoch cap, SNR points and channel count applied."""
    q = cfg.quick
    data = cfg.data.model_copy(
        update={
            "train_subset": min(cfg.data.train_subset or q.train_subset, q.train_subset),
            "test_subset": min(cfg.data.test_subset or q.test_subset, q.test_subset),
            # a smoke run validates on as few samples as it tests on
            "validation": min(cfg.data.validation, q.test_subset) if cfg.data.validation else None,
        }
    )
    backbone_train = cfg.train.backbone.model_copy(
        update={"epochs": min(cfg.train.backbone.epochs, q.epochs)}
    )
    stages = [s.model_copy(update={"epochs": min(s.epochs, q.epochs)}) for s in cfg.train.stages]
    train = cfg.train.model_copy(update={"backbone": backbone_train, "stages": stages})
    eval_update: dict[str, Any] = {"timing_samples": min(cfg.eval.timing_samples, q.timing_samples)}
    if q.snr_db is not None:
        eval_update["snr_db"] = list(q.snr_db)
    if q.channels is not None and isinstance(cfg.eval.channel, list):
        eval_update["channel"] = cfg.eval.channel[: q.channels]
    evaluation = cfg.eval.model_copy(update=eval_update)
    return cfg.model_copy(update={"data": data, "train": train, "eval": evaluation})


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:10]


def device_of(cfg: ExperimentConfig) -> torch.device:
    """The torch device of ``cfg.device`` (a :class:`ConfigError` when it is not here)."""
    try:
        return resolve_device(cfg.device)
    except DeviceError as exc:
        raise ConfigError(f"device: {exc}") from None


def augment_of(cfg: ExperimentConfig) -> Augment:
    """The training augmentation of ``cfg.data.augment``."""
    return Augment(cfg.data.augment.crop_padding, cfg.data.augment.hflip)


def _data_key(cfg: ExperimentConfig, fields: set[str]) -> dict[str, Any]:
    """The data settings a checkpoint key depends on (``augment`` only when it is on, so that
    the keys of runs without augmentation are what they were)."""
    data = cfg.data.model_dump(include=fields)
    if cfg.data.class_weights != "none":  # a weighted loss trains another network
        data["class_weights"] = cfg.data.class_weights
    if augment_of(cfg).active:
        data["augment"] = cfg.data.augment.model_dump()
    if cfg.data.validation is not None:  # fewer training samples, and which ones
        data["validation"] = [cfg.data.validation, cfg.data.split_seed or 0]
    return data


def _optim_key(optim: OptimConfig) -> dict[str, Any]:
    """The settings of a training phase in a checkpoint key (``plateau``, ``warmup_epochs`` and
    ``grad_clip`` only when set, so that keys of phases without them are what they were)."""
    return _drop_defaults(optim.model_dump())


def _phase_key(phase: Phase) -> dict[str, Any]:
    """:func:`_optim_key` for a :class:`Phase`."""
    return _drop_defaults(asdict(phase))


#: phase settings added after runs were keyed: left out of a key at their "off" value, so that
#: the keys of phases that do not use them are what they were.
_OPTIONAL_PHASE_SETTINGS = {"plateau": None, "warmup_epochs": 0.0, "grad_clip": None}


def _drop_defaults(settings: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in settings.items()
        if not (k in _OPTIONAL_PHASE_SETTINGS and v == _OPTIONAL_PHASE_SETTINGS[k])
    }


def _check_augment(cfg: ExperimentConfig, ctx: BuildContext) -> None:
    try:
        check_augment(augment_of(cfg), ctx.task.kind)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _checks(cfg: ExperimentConfig, systems: list[SplitSystem], ctx: BuildContext) -> None:
    """Everything refused before training: tasks that do not fit the data, bad stages,
    augmentation of a task whose targets it would not move."""
    check_tasks(systems, ctx)
    _check_augment(cfg, ctx)
    try:
        check_stages(cfg.train.stages, systems)
    except StageError as exc:
        raise ConfigError(str(exc)) from None


def run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    on_step: StepReporter | None = None,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Train and evaluate every system variant of ``cfg``; write the four outputs to ``out_dir``.

    One process at a time per ``out_dir`` (:func:`semcom.storage.lock.run_lock`; under torchrun
    the main rank holds it)."""
    lock = run_lock(out_dir) if distributed.is_main() else contextlib.nullcontext()
    with lock:
        return _run_experiment(cfg, out_dir, on_step=on_step, log=log)


def _run_experiment(
    cfg: ExperimentConfig,
    out_dir: str | Path,
    *,
    on_step: StepReporter | None = None,
    log: Callable[[str], None] = print,
) -> RunResult:
    t_start = time.perf_counter()
    out = Path(out_dir)
    ckpt_root = out / "checkpoints"
    out.mkdir(parents=True, exist_ok=True)
    config_yaml = dump_yaml(cfg)
    (out / "config.yaml").write_text(config_yaml)
    torch.manual_seed(cfg.seed)

    device = device_of(cfg)
    train_set, test_set, ctx, validation = _load_data(cfg, log)
    variants = [v for entry in cfg.systems for v in expand_system(entry)]
    systems = [_build_variant(v, ctx, cfg.seed) for v in variants]
    _checks(cfg, systems, ctx)
    reuse = _reuse_source(cfg)
    start_dir = _start_from_dir(cfg)

    phases: list[dict[str, Any]] = []

    def report_phase(label: str, result: PhaseResult) -> None:
        phases.append({"phase": label, **result.__dict__})

    # 1. The backbone, trained once unsplit and shared by every system that builds on it.
    backbone_state: dict[str, torch.Tensor] = {}
    if any(s.shares_backbone for s in systems):
        backbone_state = _shared_backbone(
            cfg, ctx, train_set, ckpt_root, on_step, report_phase, log, device, validation
        )

    # 2. Each variant: backbone weights, then its stages.
    records: list[dict[str, Any]] = []
    examples: list[Path] = []
    for variant, system in zip(variants, systems, strict=True):
        vid = variant_id(variant)
        system.load_backbone_state(backbone_state)
        system.to(device)
        plan, _ = _stage_plan(cfg, variant, system)
        # only a variant with stages to train starts from a stored model (`local` stays this
        # run's network, not the stored run's)
        start = _start_model(start_dir, cfg.train.start_from, vid, log) if plan else None
        if start is not None:
            log(f"{vid}: starts its stages from {start.path}")
        plan, rate_weight = _stage_plan(cfg, variant, system, start)
        if plan and _reuse(reuse, system, vid, _trained_key(cfg, variant, plan, start), log):
            report_phase(f"{vid}:reused", PhaseResult("reused", steps=0, skipped=True))
        else:
            _train_variant(
                cfg,
                system,
                vid,
                plan,
                start,
                train_set,
                ckpt_root,
                device,
                on_step,
                report_phase,
                validation,
            )
            fitted = system.fit_coding(_training_inputs(train_set, cfg.data.batch_size, device))
            if fitted is not None:
                phases.append({"phase": f"{vid}:fit-coding", **fitted})
                log(f"{vid}: coder tables fitted to {int(fitted['fitted_images'])} training codes")
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
            device=device,
            log=log,
        )
        example = _draw_examples(system, test_set, cfg, out, vid)
        if example is not None:
            examples.append(example)
        system.to("cpu")

    seconds = time.perf_counter() - t_start
    if distributed.is_main():
        write_metrics(
            out / "metrics.json",
            experiment=cfg.experiment,
            seed=cfg.seed,
            records=records,
            extra={"phases": phases, "wall_time_s": seconds},
        )
        plots = all_plots(records, out, phases) + examples
        write_report(
            out / "report.md",
            experiment=cfg.experiment,
            config_yaml=config_yaml,
            records=records,
            plots=plots,
            phases=phases,
        )
    return RunResult(out, records, phases, seconds)


def _draw_examples(
    system: SplitSystem, test_set: Any, cfg: ExperimentConfig, out: Path, vid: str
) -> Path | None:
    """A picture of a detection + segmentation variant's predictions on a few test images
    (:mod:`semcom.report.multitask_examples`): unsplit ones, and analog ones on the first
    evaluation channel at its highest SNR; of what a video system sends and restores
    (:mod:`semcom.report.clip_examples`); ``None`` for other systems."""
    from semcom.report.clip_examples import draw_clip_examples, draws_clips
    from semcom.report.multitask_examples import draw_examples, is_detection_and_segmentation

    if not distributed.is_main():
        return None
    if draws_clips(system):
        return draw_clip_examples(system, test_set, out / f"examples_{vid}.png")
    if not is_detection_and_segmentation(system):
        return None
    if system.transport.kind not in ("none", "analog"):
        return None
    channel = cfg.eval.channels()[0]
    return draw_examples(
        system,
        test_set,
        out / f"examples_{vid}.png",
        channel=channel,
        snr_db=max(cfg.eval.snr_db),
    )


def _training_inputs(
    train_set: Any, batch_size: int, device: torch.device | None
) -> Iterator[torch.Tensor]:
    """The training images in order, ``[B, ...]`` batches (no augmentation): what the
    post-training coding fit (:meth:`SplitSystem.fit_coding`) sees."""
    n = len(train_set)
    for start in range(0, n, batch_size):
        x = fetch_batch(train_set, torch.arange(start, min(start + batch_size, n))).inputs
        yield x if device is None else x.to(device)


@dataclass(frozen=True)
class _StartModel:
    """The stored model a variant starts its stages from (``train.start_from``)."""

    path: Path
    sha256: str


def _variant_key(
    cfg: ExperimentConfig, variant: dict[str, Any], start: _StartModel | None = None
) -> str:
    """Digest of what a variant's training starts from (data, backbone, teacher, seed, the
    variant's parameters, and the stored model's checksum when ``train.start_from`` gives one);
    each stage chains its own settings onto it (:func:`_stage_plan`)."""
    settings = {
        "variant": variant,
        "data": _data_key(cfg, {"name", "root", "train_subset"}),
        "backbone": cfg.backbone.model_dump(),
        "backbone_training": _optim_key(cfg.train.backbone),
        "teacher": cfg.train.teacher.model_dump(),
        "seed": cfg.seed,
        "init": "variant-seeded",  # initial weights from variant_seed (not the build order)
    }
    if start is not None:  # only then, so that every other key stays what it was
        settings["init"] = {"start_from": start.sha256}
    return _digest(settings)


def _stage_plan(
    cfg: ExperimentConfig,
    variant: dict[str, Any],
    system: SplitSystem,
    start: _StartModel | None = None,
) -> tuple[list[tuple[Phase, str]], float | None]:
    """The phases that train ``system`` under ``cfg``, each with its checkpoint key (a digest of
    everything that made it: the variant's start and every phase up to this one), and the rate
    weight of the last stage that sets one."""
    key = _variant_key(cfg, variant, start)
    plan: list[tuple[Phase, str]] = []
    rate_weight: float | None = None
    for stage_entry in cfg.train.stages:
        stage_cfg = stage_for(stage_entry, system)
        if stage_cfg is None:
            continue
        rate_weight = stage_cfg.losses.get("rate", rate_weight)
        phase = phase_from_config(stage_cfg)
        key = _digest({"before": key, "phase": _phase_key(phase)})
        plan.append((phase, key))
    return plan, rate_weight


def _trained_key(
    cfg: ExperimentConfig,
    variant: dict[str, Any],
    plan: list[tuple[Phase, str]],
    start: _StartModel | None = None,
) -> str:
    """The key of a variant once ``plan`` has trained it (its start's key if nothing trains)."""
    return plan[-1][1] if plan else _variant_key(cfg, variant, start)


def _start_from_dir(cfg: ExperimentConfig) -> Path | None:
    """Resolve ``train.start_from`` before anything trains, so a wrong one fails at once."""
    if cfg.train.start_from is None:
        return None
    try:
        return resolve_run_dir(cfg.train.start_from, "train.start_from")
    except WeightsError as exc:
        raise ConfigError(str(exc)) from None


def _start_model(
    run_dir: Path | None, spec: str | None, vid: str, log: Callable[[str], None]
) -> _StartModel | None:
    """The stored model of ``vid`` in the ``train.start_from`` run (checksum-verified when
    shipped); ``None`` when no start is set or that run lacks the variant (it starts from its
    seeded weights, and the log says so)."""
    if run_dir is None:
        return None
    path = run_dir / "models" / f"{vid}.safetensors"
    if not path.is_file():
        log(f"{vid}: not in {spec}; it starts from its seeded weights")
        return None
    try:
        return _StartModel(path, sha256_file(check_shipped(path, "train.start_from")))
    except WeightsError as exc:
        raise ConfigError(str(exc)) from None


def _load_start(system: SplitSystem, start: _StartModel, vid: str) -> None:
    """Load every weight of the stored model ``start`` (backbone parts, codec, coder tables)
    into ``system``; the stored variant must have the same parameters."""
    field = f"train.start_from: {start.path}"
    try:
        stored = load_system(start.path)
    except StoreError as exc:
        raise ConfigError(f"train.start_from: {exc}") from None
    mine = system.params.model_dump(by_alias=True, mode="json")
    if stored.system.name != system.name or stored.params != mine:
        raise ConfigError(
            f"{field}: stores {stored.system.name} {stored.params}, not {vid} ({mine})"
        )
    try:
        system.load_state_dict(stored.system.state_dict())
    except RuntimeError as exc:
        raise ConfigError(f"{field}: does not fit {vid}: {exc}") from None


def _train_variant(
    cfg: ExperimentConfig,
    system: SplitSystem,
    vid: str,
    plan: list[tuple[Phase, str]],
    start: _StartModel | None,
    train_set: Any,
    ckpt_root: Path,
    device: torch.device | None,
    on_step: StepReporter | None,
    report_phase: Callable[[str, PhaseResult], None],
    validation: Any = None,
) -> None:
    """Run ``plan`` on ``system`` (checkpointed under ``ckpt_root / vid``, resumable), first
    loading ``start``'s weights when ``train.start_from`` gives it; ``validation``: the split
    that plateau-stopped stages evaluate on."""
    # every distill term of this variant learns from the teacher built now, right after the
    # backbone weights are loaded (train.teacher; by default the unsplit network as loaded,
    # not the system's bypass path at the start of a later stage: see semcom.train.teacher)
    teacher = None
    if needs_teacher(cfg.train.stages, system):
        try:
            teacher = build_teacher(cfg.train.teacher, system).to(device)
        except (TeacherError, ValueError) as exc:
            raise ConfigError(f"train.teacher: {exc}") from None
    if start is not None:  # after the teacher: it stays what train.teacher names, not the start
        _load_start(system, start, vid)
        system.to(device)
    for phase, key in plan:
        result = train_phase(
            system,
            phase,
            train_set,
            batch_size=cfg.data.batch_size,
            seed=cfg.seed,
            ckpt_dir=ckpt_root / vid,
            teacher=teacher,
            ckpt_key=key,
            device=device,
            amp=cfg.train.amp,
            amp_cpu=cfg.train.amp_cpu,
            channels_last=cfg.train.channels_last,
            sync_batchnorm=cfg.train.sync_bn,
            augment=augment_of(cfg),
            validation=validation,
            on_step=_labelled(on_step, f"{vid}:{phase.name}") if on_step else None,
        )
        report_phase(f"{vid}:{phase.name}", result)


@dataclass(frozen=True)
class _ReuseSource:
    """The run ``train.reuse`` names: its directory and the config it ran with."""

    spec: str
    run_dir: Path
    cfg: ExperimentConfig


def _reuse_source(cfg: ExperimentConfig) -> _ReuseSource | None:
    """Resolve ``train.reuse`` before anything trains, so a wrong one fails at once."""
    spec = cfg.train.reuse
    if spec is None:
        return None
    try:
        run_dir = resolve_run_dir(spec, "train.reuse")
    except WeightsError as exc:
        raise ConfigError(str(exc)) from None
    try:
        stored = parse_config(load_yaml(run_dir / "config.yaml"))
    except (ConfigError, OSError) as exc:
        raise ConfigError(f"train.reuse: {run_dir / 'config.yaml'}: {exc}") from None
    return _ReuseSource(spec, run_dir, stored)


def _reuse(
    source: _ReuseSource | None,
    system: SplitSystem,
    vid: str,
    key: str,
    log: Callable[[str], None],
) -> bool:
    """Load ``vid`` from ``train.reuse`` into ``system`` when the stored run trained it under the
    same settings (its final checkpoint key equals ``key``); ``False`` when it must train here."""
    if source is None:
        return False
    path = source.run_dir / "models" / f"{vid}.safetensors"
    variant = next((v for e in source.cfg.systems for v in expand_system(e) if
                    variant_id(v) == vid), None)  # fmt: skip
    if variant is None or not path.is_file():
        log(f"{vid}: not in {source.spec}; training it here")
        return False
    try:  # the stored run's own start, when it began from another run's model
        stored_start = _start_model(_start_from_dir(source.cfg), None, vid, lambda _: None)
    except ConfigError:  # only raised when that run names a start_from
        log(f"{vid}: {source.spec} started it from {source.cfg.train.start_from}, which is not "
            "here; training it here")  # fmt: skip
        return False
    stored_plan, _ = _stage_plan(source.cfg, variant, system, stored_start)
    if _trained_key(source.cfg, variant, stored_plan, stored_start) != key:
        log(f"{vid}: {source.spec} trained it under other settings (data, backbone, stages); "
            "training it here")  # fmt: skip
        return False
    try:
        stored = load_system(check_shipped(path, "train.reuse"))
    except WeightsError as exc:
        raise ConfigError(str(exc)) from None
    except StoreError as exc:
        raise ConfigError(f"train.reuse: {exc}") from None
    system.load_state_dict(stored.system.state_dict())
    log(f"{vid}: reused from {path} (trained under these settings)")
    return True


def variant_seed(seed: int, vid: str) -> int:
    """The seed of one variant's initial weights: ``(run seed, variant id)``, so a variant starts
    from the same weights whichever variants come before it in the config."""
    return (seed * 1_000_003 + zlib.crc32(vid.encode())) % 2**63


def _build_variant(variant: dict[str, Any], ctx: BuildContext, seed: int) -> SplitSystem:
    torch.manual_seed(variant_seed(seed, variant_id(variant)))
    return build_system(variant["name"], {k: x for k, x in variant.items() if k != "name"}, ctx)


def check_tasks(systems: list[SplitSystem], ctx: BuildContext) -> None:
    """Every system's task fits the data set's targets (kind, classes, sub-tasks); a mismatch is
    a :class:`ConfigError` naming the system and the data set."""
    for system in systems:
        try:
            check_fits(system.task, ctx.task, system.name, ctx.dataset)
        except TaskError as exc:
            raise ConfigError(str(exc)) from None


def _load_data(
    cfg: ExperimentConfig, log: Callable[[str], None]
) -> tuple[Any, Any, BuildContext, Any]:
    """Training set, test set, build context and validation split (``None`` without
    ``data.validation``; held out of the training set before ``train_subset``)."""
    try:
        train_set, test_set, info = build_dataset(
            cfg.data.name, cfg.data.root, **cfg.data.options()
        )
    except ValueError as exc:
        if isinstance(exc, DataUnavailableError):
            raise
        raise ConfigError(f"data: {exc}") from None
    validation = None
    if cfg.data.validation is not None:
        try:
            train_set, validation = split_off(
                train_set, cfg.data.validation, cfg.data.split_seed or 0
            )
        except ValueError as exc:
            raise ConfigError(f"data.validation: {exc}") from None
    if cfg.data.train_subset:
        train_set = take_first(train_set, cfg.data.train_subset)
    if cfg.data.test_subset:
        test_set = take_first(test_set, cfg.data.test_subset)
    task = info.task
    if cfg.data.class_weights != "none":
        try:
            task = weighted_spec(info.task, train_set, cfg.data.class_weights)
        except ValueError as exc:
            raise ConfigError(f"data.class_weights: {exc}") from None
        log(f"data: {cfg.data.class_weights} class weights {_weights_text(task)}")
    held = f" / {len(validation)} validation" if validation is not None else ""
    log(
        f"data: {info.name}, {len(train_set)} train{held} / {len(test_set)} test, "
        f"{info.num_classes} classes"
    )
    ctx = BuildContext(
        num_classes=info.num_classes,
        input_shape=info.input_shape,
        backbone=cfg.backbone.name,
        split_after=cfg.backbone.split_after,
        dataset=info.name,
        task=task,
    )
    return train_set, test_set, ctx, validation


def _weights_text(spec: TaskSpec) -> str:
    subs = spec.subtasks.values() if spec.subtasks else [spec]
    return " ".join(
        f"[{', '.join(f'{w:.2f}' for w in s.class_weights)}]" for s in subs if s.class_weights
    )


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
    device = device_of(cfg)
    train_set, test_set, ctx, validation = _load_data(cfg, log)
    _check_augment(cfg, ctx)
    state = _shared_backbone(
        cfg,
        ctx,
        train_set,
        Path(work_dir),
        on_step,
        lambda _label, _result: None,
        log,
        device,
        validation,
    )
    reference = build_system(cfg.backbone.reference, {}, ctx)
    reference.load_backbone_state(state)
    out = save_weights(reference, out_file)
    m = measure_system(
        reference, test_set, batch_size=cfg.data.eval_batch_size, timing_samples=0, device=None
    )
    return out, cast(float, m.accuracy)  # a classifier: per-sample scores, a float


def _load_backbone(reference: SplitSystem, spec: str, field: str) -> Path:
    """Load ``spec`` into ``reference``'s head and tail; a :class:`ConfigError` naming ``field``
    (``backbone.weights`` or ``backbone.init``) when it cannot be."""
    try:
        return load_backbone_weights(reference, spec, field)
    except BackboneWeightsError as exc:
        raise ConfigError(str(exc)) from exc


def _shared_backbone(
    cfg: ExperimentConfig,
    ctx: BuildContext,
    train_set: Any,
    ckpt_root: Path,
    on_step: StepReporter | None,
    report_phase: Callable[[str, PhaseResult], None],
    log: Callable[[str], None],
    device: torch.device | None = None,
    validation: Any = None,
) -> dict[str, torch.Tensor]:
    """Backbone weights (head + tail) from ``backbone.weights`` or from training the reference
    system (``backbone.reference``, default ``local``) unsplit."""
    torch.manual_seed(cfg.seed)
    reference = build_system(cfg.backbone.reference, {}, ctx)
    if cfg.backbone.weights:
        _load_backbone(reference, cfg.backbone.weights, "backbone.weights")
        log(f"backbone: loaded {cfg.backbone.weights}")
        return reference.backbone_state()
    if cfg.train.backbone.epochs > 0:
        try:
            check_fits(reference.task, ctx.task, reference.name, ctx.dataset)
        except TaskError as exc:
            raise ConfigError(
                f"backbone.reference: the shared backbone is trained as {reference.name!r}, "
                f"and {exc}; name a reference system of this task, set train.backbone.epochs: 0 "
                "or give backbone.weights"
            ) from None
    backbone_key = cfg.backbone.model_dump(exclude={"init"})
    if cfg.backbone.init:
        init_file = _load_backbone(reference, cfg.backbone.init, "backbone.init")
        log(f"backbone: training starts from {cfg.backbone.init}")
        backbone_key["init"] = sha256_file(init_file)  # the bytes, not the name
    key = _digest(
        {
            "data": _data_key(cfg, {"name", "train_subset"}),
            "backbone": backbone_key,
            "train": _optim_key(cfg.train.backbone),
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
        warmup_epochs=b.warmup_epochs,
        grad_clip=b.grad_clip,
        trainable="all",
        losses={"task": 1.0},
        path="bypass",
        plateau=plateau_from_config(b.plateau),
    )
    reference.to(device)
    result = train_phase(
        reference,
        phase,
        train_set,
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
        ckpt_dir=ckpt_root / f"backbone-{key}",
        on_step=(lambda s, t, terms: on_step("backbone", s, t, terms)) if on_step else None,
        device=device,
        amp=cfg.train.amp,
        amp_cpu=cfg.train.amp_cpu,
        channels_last=cfg.train.channels_last,
        sync_batchnorm=cfg.train.sync_bn,
        augment=augment_of(cfg),
        validation=validation,
    )
    report_phase("backbone", result)
    reference.to("cpu")
    return reference.backbone_state()
