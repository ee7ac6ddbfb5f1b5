"""Staged training with per-stage checkpoints and exact resume.

A phase (the shared backbone pre-training, or one of a system's stages) trains the roles it names
with its loss weights for a (possibly fractional) number of epochs, with its optimiser and
learning-rate schedule (:mod:`semcom.train.optim`: ``torch.optim`` by name). The batch order of
every epoch is a permutation drawn from ``(seed, phase name, epoch)``, so a resumed phase sees
exactly the batches the interrupted one would have seen.

Checkpoints are keyed: a finished phase leaves ``<name>-<key>.safetensors`` and is skipped next
time; an unfinished one leaves ``<name>-<key>.progress.pt`` (weights, optimiser, schedule, step,
RNG) every ``save_every`` steps and on Ctrl-C. The experiment makes ``key`` a digest of the
settings of this phase and of everything before it (data, backbone, variant, earlier stages), so
a changed stage is trained again instead of silently reusing weights made by other settings.

Networks run on ``device`` (batches are moved there; the permutations, SNR draws and RNG state
stay on the CPU generator, so the CPU numbers do not depend on the device setting), optionally
with mixed precision (``amp``, CUDA / MPS only; ``amp_cpu``: bfloat16 on the CPU).

**Data-parallel training** (``torchrun``, DDP on gloo) computes what one process computes. Every
step's global batch of ``batch_size`` samples is the one process's batch; rank ``r`` of ``W``
takes its samples ``r, r + W, ...`` and weighs its loss by its share of them (DDP averages the
ranks' gradients), so the summed gradient is the one process's. Per-sample SNRs are drawn for the
global batch and sliced the same way, and so is every per-sample draw of the system
(:mod:`semcom.sharded_batch`: the ranks keep one RNG state and draw for the global batch). With
``sync_batchnorm`` batch norm normalises over the global batch
(:mod:`semcom.train.global_batchnorm`). What remains is float summation order.
"""

from __future__ import annotations

import contextlib
import json
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from semcom.accel import autocast
from semcom.data.augment import Augment
from semcom.data.batch import fetch_batch, move_to
from semcom.sharded_batch import batch_shard
from semcom.storage.checkpoint import load_progress, load_weights, save_progress, save_weights
from semcom.systems import SplitSystem, apply_train_mode, set_trainable
from semcom.train import distributed
from semcom.train.batchnorm import recalibrate_batchnorm
from semcom.train.global_batchnorm import global_batchnorm
from semcom.train.losses import TEACHER_TERMS, stage_loss
from semcom.train.optim import OptimSpec, Schedule, build_optimizer
from semcom.train.plateau import Plateau, validation_score
from semcom.train.snr_sampling import sample_snr_db
from semcom.train.teacher import Teacher, as_teacher, frozen_teacher


@dataclass
class Phase:
    """One training phase (see the module docstring)."""

    name: str
    epochs: float
    lr: float
    trainable: Sequence[str] | Literal["all"] = "all"
    losses: dict[str, float] = field(default_factory=lambda: {"task": 1.0})
    #: a :mod:`torch.optim` optimiser by name (``adam``, ``sgd``, ``AdamW``, ...) or a mapping.
    optimizer: OptimSpec = "adam"
    weight_decay: float = 0.0
    #: ``constant``, ``cosine`` (decays the learning rate to 0 over the phase's steps) or a
    #: :mod:`torch.optim.lr_scheduler` scheduler (:mod:`semcom.train.optim`).
    schedule: OptimSpec = "constant"
    path: str = "full"
    #: batches over which batch-norm statistics are re-estimated after the phase (0: off).
    bn_batches: int = 20
    snr_db: tuple[float, float] | None = None
    #: weights of a multi-task system's sub-task losses inside its ``task`` term (default 1).
    task_weights: dict[str, float] | None = None
    #: stop early once the validation metric plateaus (:mod:`semcom.train.plateau`); ``epochs``
    #: is then the most the phase trains.
    plateau: Plateau | None = None
    #: a linear warm-up of the learning rate over this many epochs (built-in schedules only).
    warmup_epochs: float = 0.0
    #: clip the total L2 norm of the trainable parameters' gradients to this (``None``: off).
    grad_clip: float | None = None


@dataclass
class PhaseResult:
    """What a phase did: steps run, whether it was loaded from a finished checkpoint, the running
    means of its loss terms over its last epoch, and the task's metrics over the training batches
    of that epoch (``train_metrics``, by name; ``train_accuracy`` is their ``accuracy``, the
    fraction of training samples classified right, when the task has one). With a plateau rule,
    ``curve`` holds each validation evaluation (``{"epoch": ..., "metric": ...}``, epochs
    fractional) and ``plateaued`` whether the rule stopped the phase before its ``epochs``."""

    name: str
    steps: int
    skipped: bool
    resumed_from_step: int = 0
    terms: dict[str, float] = field(default_factory=dict)
    train_accuracy: float | None = None
    train_metrics: dict[str, float | None] = field(default_factory=dict)
    curve: list[dict[str, float]] = field(default_factory=list)
    plateaued: bool = False


ProgressCallback = Callable[[int, int, dict[str, float]], None]


def _epoch_order(n: int, seed: int, name: str, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(
        (seed * 1_000_003 + zlib.crc32(name.encode()) + epoch) % 2**63
    )
    return torch.randperm(n, generator=g)


class _LossOfStep(nn.Module):
    """What DDP wraps: the system (its parameters) and one step's loss. DDP finds the parameters
    a step used by walking back from the tensors the forward returns; returning the loss, and the
    system's output detached, makes that the parameters the loss depends on (returning the
    system's whole output would also reach, say, an entropy model whose rate a stage does not
    train, whose gradients then never arrive)."""

    def __init__(self, system: SplitSystem, step_loss: Callable[..., tuple[Any, ...]]) -> None:
        super().__init__()
        self.system = system
        self._step_loss = step_loss

    def forward(self, x: torch.Tensor, snr: torch.Tensor | None, y: Any) -> tuple[Any, ...]:
        loss, terms, output = self._step_loss(x, snr, y)
        return loss, terms, _detached(output)


def _detached(value: Any) -> Any:
    """``value`` (tensors in lists / tuples / dicts) without autograd history."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_detached(v) for v in value)
    return value


def _teacher(system: SplitSystem, phase: Phase, given: Teacher | None) -> Teacher | None:
    """The teacher of ``phase``: ``given`` if any, else the network at the start of the phase."""
    if not any(phase.losses.get(term, 0.0) > 0 for term in TEACHER_TERMS):
        return None
    if given is not None:
        return given
    try:
        return Teacher(frozen_teacher(system), "bypass")
    except ValueError as exc:
        raise ValueError(f"stage {phase.name!r}: {exc}") from None


def checkpoint_paths(ckpt_dir: Path, phase: str, key: str | None) -> tuple[Path, Path]:
    """The finished and the progress checkpoint of phase ``phase`` under ``key``."""
    stem = f"{phase}-{key}" if key else phase
    return ckpt_dir / f"{stem}.safetensors", ckpt_dir / f"{stem}.progress.pt"


def _curve_path(final: Path) -> Path:
    """Where a finished phase keeps its validation curve and whether it plateaued."""
    return final.with_suffix(".curve.json")


def _finished(name: str, final: Path) -> PhaseResult:
    """The result of a phase loaded from its finished checkpoint (with its stored curve)."""
    stored = _curve_path(final)
    kept = json.loads(stored.read_text()) if stored.exists() else {}
    return PhaseResult(
        name,
        steps=0,
        skipped=True,
        curve=kept.get("curve", []),
        plateaued=bool(kept.get("plateaued", False)),
    )


def train_phase(
    system: SplitSystem,
    phase: Phase,
    dataset: Dataset,
    *,
    batch_size: int,
    seed: int,
    ckpt_dir: str | Path,
    save_every: int = 200,
    on_step: ProgressCallback | None = None,
    stop_after_steps: int | None = None,
    teacher: Teacher | SplitSystem | None = None,
    ckpt_key: str | None = None,
    device: torch.device | None = None,
    amp: bool = False,
    amp_cpu: bool = False,
    channels_last: bool = False,
    sync_batchnorm: bool = False,
    augment: Augment | None = None,
    validation: Dataset | None = None,
) -> PhaseResult:
    """Train ``system`` for one phase, resuming or skipping from checkpoints in ``ckpt_dir``.

    Args:
        batch_size: the global batch. Under DDP the ranks share every step's batch (rank ``r`` of
            ``W`` takes its samples ``r, r + W, ...``; see "Data-parallel training" in the module
            docstring), so ``batch_size >= W``.
        stop_after_steps: stop (leaving a progress checkpoint) after this many steps of this call;
            simulates an interruption in tests.
        teacher: the ``distill`` / ``feature_distill`` teacher (a :class:`Teacher`, or a frozen
            system run on its ``bypass`` path), normally built before the variant's first stage
            (:func:`semcom.train.teacher.build_teacher`). Without it the teacher is a copy of
            ``system`` at the start of this phase, which is the unsplit network only if no earlier
            phase retrained the tail under another path.
        ckpt_key: the checkpoints' key (module docstring); ``None``: the phase name alone.
        device: where the system runs (it must be there already); ``None``: where it is.
        amp: mixed precision for the forward pass and the loss (CUDA / MPS only).
        amp_cpu: bfloat16 autocast for the forward pass and the loss on the CPU.
        channels_last: run the phase's 4-D weights and image batches in the channels-last
            layout (faster convolutions; the weights are back in the default layout afterwards).
        sync_batchnorm: under DDP, batch norm over the global batch
            (:mod:`semcom.train.global_batchnorm`); ignored in one process.
        augment: per-sample augmentation of the training inputs (:mod:`semcom.data.augment`);
            the batch-norm re-estimation after the phase sees augmented batches too (the
            statistics the network was trained with).
        validation: the held-out samples that ``phase.plateau`` evaluates on (required with
            it; evaluated in ``batch_size`` batches on every rank, so all ranks stop together).
    """
    ckpt_dir = Path(ckpt_dir)
    final, progress_path = checkpoint_paths(ckpt_dir, phase.name, ckpt_key)
    if final.exists():
        load_weights(system, final)
        return _finished(phase.name, final)
    if phase.plateau is not None and validation is None:
        raise ValueError(f"stage {phase.name!r} stops on a plateau but has no validation split")

    system.check_path(phase.path)
    n = len(dataset)  # type: ignore[arg-type]
    world = distributed.world_size()
    if world > batch_size:
        raise ValueError(f"data.batch_size {batch_size} is smaller than the {world} DDP ranks")
    steps_per_epoch = max(1, n // batch_size)
    total_steps = math.ceil(phase.epochs * steps_per_epoch)
    params = set_trainable(system, phase.trainable)
    if total_steps == 0 or not params:
        if distributed.is_main():
            save_weights(system, final)
        return PhaseResult(phase.name, steps=0, skipped=False)

    optimizer = build_optimizer(phase.optimizer, params, phase.lr, phase.weight_decay)
    schedule = Schedule(
        phase.schedule, optimizer, phase.lr, total_steps, steps_per_epoch,
        warmup_steps=math.ceil(phase.warmup_epochs * steps_per_epoch),
    )  # fmt: skip
    torch.manual_seed(seed + zlib.crc32(phase.name.encode()))
    start = 0
    curve: list[dict[str, float]] = []
    plateaued = False
    # a default teacher is the network at the start of the phase: taken before a resume loads
    # the interrupted phase's weights (the previous phases' checkpoints give the same start again)
    active_teacher = _teacher(system, phase, as_teacher(teacher))
    if active_teacher is not None and device is not None:
        active_teacher.to(device)
    if progress_path.exists():
        state = load_progress(progress_path)
        system.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state.get("schedule", {}))
        torch.set_rng_state(state["rng"])
        start = int(state["step"])
        curve = list(state.get("curve", []))
    run_on = device if device is not None else next(system.parameters()).device
    scaler = torch.amp.GradScaler("cuda") if amp and run_on.type == "cuda" else None

    weights = dict(phase.losses)
    override = getattr(system.params, "rate_weight", None)
    if override is not None and "rate" in weights:
        weights["rate"] = float(override)
    pixels = int(math.prod(dataset[0][0].shape[1:]))  # H*W (or T*H*W) of one sample

    def step_loss(x: torch.Tensor, snr: torch.Tensor | None, y: Any) -> tuple[Any, ...]:
        """The phase's loss of one batch: ``(loss, terms, the system's output)``."""
        extra = {"targets": y} if system.wants_targets else {}
        out = system(x, snr, phase.path, **extra)
        teacher_output = active_teacher.run(x, snr) if active_teacher is not None else None
        loss, terms = stage_loss(
            out,
            y,
            weights,
            pixels,
            lambda o, t: system.task_loss(o, t, phase.task_weights),
            teacher_output=teacher_output,
            feature_pairs=active_teacher.feature_pairs() if active_teacher else (),
            temperature=active_teacher.temperature if active_teacher else 2.0,
        )
        return loss, terms, out.output

    compute: Callable[..., tuple[Any, ...]] = step_loss
    swaps = contextlib.ExitStack()
    rank = 0
    if distributed.init_if_launched():
        rank = distributed.rank()
        if sync_batchnorm:
            swaps.enter_context(global_batchnorm(system, run_on.type))
        compute = nn.parallel.DistributedDataParallel(
            _LossOfStep(system, step_loss), find_unused_parameters=True
        )

    if channels_last:
        system.to(memory_format=torch.channels_last)
        swaps.callback(system.to, memory_format=torch.contiguous_format)
    apply_train_mode(system, phase.trainable)
    sums: dict[str, float] = {}
    count = 0
    progress = system.task.evaluator() if system.task.tracks_training else None
    order: torch.Tensor | None = None
    order_epoch = -1
    step = start

    def checkpoint(at: int) -> None:
        if distributed.is_main():
            save_progress(
                progress_path,
                {
                    "model": system.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "schedule": schedule.state_dict(),
                    "rng": torch.get_rng_state(),
                    "step": at,
                    "curve": curve,
                },
            )

    if active_teacher is not None:
        active_teacher.attach_student(system)

    def share_of(global_batch: int) -> contextlib.AbstractContextManager[object]:
        """DDP: the system's per-sample noise is drawn for the global batch and sliced to this
        rank's samples (:mod:`semcom.sharded_batch`), as one process draws it."""
        if world == 1:
            return contextlib.nullcontext()
        return batch_shard(rank, world, global_batch)

    try:
        for step in range(start, total_steps):
            if stop_after_steps is not None and step - start >= stop_after_steps:
                checkpoint(step)
                return PhaseResult(
                    phase.name, steps=step - start, skipped=False, resumed_from_step=start
                )
            epoch, within = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                order, order_epoch = _epoch_order(n, seed, phase.name, epoch), epoch
                sums, count = {}, 0
                if progress is not None:
                    progress.reset()
            assert order is not None
            index = order[within * batch_size : (within + 1) * batch_size]
            global_batch = len(index)
            snr = sample_snr_db(global_batch, phase.snr_db)
            # this rank's share of the step: every world-th sample of the global batch
            share = len(index[rank::world]) * world / global_batch
            index = index[rank::world]
            snr = snr[rank::world] if snr is not None else None
            schedule.before_step(step, epoch)
            with share_of(global_batch), autocast(run_on, amp, cpu=amp_cpu):
                x, y = fetch_batch(dataset, index)
                x, y, snr = move_to((x, y, snr), device)
                if augment is not None and augment.active:
                    x, y = augment.apply(x, y)
                if channels_last and x.dim() == 4:
                    x = x.contiguous(memory_format=torch.channels_last)
                loss, terms, output = compute(x, snr, y)
                if world > 1:  # DDP averages the ranks' gradients: weigh each by its share
                    loss = loss * share
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:
                scaler.scale(loss).backward()
                if phase.grad_clip is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(params, phase.grad_clip)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if phase.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(params, phase.grad_clip)
                optimizer.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            if progress is not None:
                with torch.no_grad():
                    progress.update(output, y)
            if on_step is not None:
                on_step(step + 1, total_steps, terms)
            if phase.plateau is not None and (
                (step + 1) % phase.plateau.steps_between(steps_per_epoch) == 0
                or step + 1 == total_steps
            ):
                assert validation is not None
                score = validation_score(system, validation, path=phase.path,
                                         snr_db=phase.snr_db, batch_size=batch_size, seed=seed,
                                         device=device)  # fmt: skip
                apply_train_mode(system, phase.trainable)
                curve.append({"epoch": (step + 1) / steps_per_epoch, "metric": score})
                if phase.plateau.reached([c["metric"] for c in curve]) and step + 1 < total_steps:
                    plateaued = True
                    step += 1  # this step ran: the phase ends after it
                    break
            if save_every and (step + 1) % save_every == 0 and step + 1 < total_steps:
                checkpoint(step + 1)
    except KeyboardInterrupt:
        checkpoint(step)
        raise
    finally:
        if active_teacher is not None:
            active_teacher.detach_student()
        swaps.close()

    if phase.bn_batches:
        recalibrate_batchnorm(
            system,
            dataset,
            roles=phase.trainable,
            path=phase.path,
            batch_size=batch_size,
            batches=phase.bn_batches,
            seed=seed,
            device=device,
            augment=augment,
        )
    if distributed.is_main():
        if phase.plateau is not None:
            final.parent.mkdir(parents=True, exist_ok=True)
            _curve_path(final).write_text(json.dumps({"curve": curve, "plateaued": plateaued}))
        save_weights(system, final)
        progress_path.unlink(missing_ok=True)
    distributed.barrier()
    train_metrics = progress.compute() if progress is not None and progress.count else {}
    train_accuracy = None
    if "accuracy" in train_metrics and progress is not None:
        scores = progress.sample_scores()  # exact fraction right (the metric is a float32 mean)
        train_accuracy = float(scores.double().mean()) if scores is not None else None
    return PhaseResult(
        phase.name,
        steps=(step if plateaued else total_steps) - start,
        skipped=False,
        resumed_from_step=start,
        terms={k: v / max(count, 1) for k, v in sums.items()},
        train_accuracy=train_accuracy,
        train_metrics=train_metrics,
        curve=curve,
        plateaued=plateaued,
    )


def phase_from_config(stage: Any) -> Phase:
    """A :class:`Phase` from a validated :class:`semcom.config.StageConfig`."""
    return Phase(
        name=stage.name,
        epochs=stage.epochs,
        lr=stage.lr,
        trainable=stage.trainable,
        losses=dict(stage.losses),
        optimizer=stage.optimizer,
        weight_decay=stage.weight_decay,
        schedule=stage.schedule,
        path=stage.path,
        bn_batches=stage.bn_batches,
        snr_db=tuple(stage.snr_db) if stage.snr_db else None,
        task_weights=dict(stage.task_weights) if stage.task_weights else None,
        plateau=plateau_from_config(stage.plateau),
        warmup_epochs=stage.warmup_epochs,
        grad_clip=stage.grad_clip,
    )


def plateau_from_config(plateau: Any) -> Plateau | None:
    """A :class:`Plateau` from a validated :class:`semcom.config.PlateauConfig` (its
    ``min_gain`` in points, i.e. metric x 100) or ``None``."""
    if plateau is None:
        return None
    return Plateau(every=plateau.every, min_gain=plateau.min_gain / 100.0, evals=plateau.evals)
