"""Staged training with per-stage checkpoints and exact resume.

A phase (the shared backbone pre-training, or one of a system's stages) trains the roles it names
with its loss weights for a (possibly fractional) number of epochs. The batch order of every epoch
is a permutation drawn from ``(seed, phase name, epoch)``, so a resumed phase sees exactly the
batches the interrupted one would have seen. A finished phase leaves ``<name>.safetensors`` and is
skipped next time; an unfinished one leaves ``<name>.progress.pt`` (weights, optimiser, step, RNG)
every ``save_every`` steps and on Ctrl-C.
"""

from __future__ import annotations

import copy
import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.utils.data import Dataset

from semcom.data.batch import fetch_batch
from semcom.systems import SplitSystem, apply_train_mode, set_trainable
from semcom.train import distributed
from semcom.train.batchnorm import recalibrate_batchnorm
from semcom.train.checkpoint import load_progress, load_weights, save_progress, save_weights
from semcom.train.losses import stage_loss
from semcom.train.snr_sampling import sample_snr_db


@dataclass
class Phase:
    """One training phase (see the module docstring)."""

    name: str
    epochs: float
    lr: float
    trainable: Sequence[str] | Literal["all"] = "all"
    losses: dict[str, float] = field(default_factory=lambda: {"task": 1.0})
    optimizer: str = "adam"
    weight_decay: float = 0.0
    #: ``constant`` or ``cosine`` (decays the learning rate to 0 over the phase's steps).
    schedule: str = "constant"
    path: str = "full"
    #: batches over which batch-norm statistics are re-estimated after the phase (0: off).
    bn_batches: int = 20
    snr_db: tuple[float, float] | None = None
    #: weights of a multi-task system's sub-task losses inside its ``task`` term (default 1).
    task_weights: dict[str, float] | None = None


@dataclass
class PhaseResult:
    """What a phase did: steps run, whether it was loaded from a finished checkpoint, the running
    means of its loss terms over its last epoch, and the task's metrics over the training batches
    of that epoch (``train_metrics``, by name; ``train_accuracy`` is their ``accuracy``, the
    fraction of training samples classified right, when the task has one)."""

    name: str
    steps: int
    skipped: bool
    resumed_from_step: int = 0
    terms: dict[str, float] = field(default_factory=dict)
    train_accuracy: float | None = None
    train_metrics: dict[str, float | None] = field(default_factory=dict)


ProgressCallback = Callable[[int, int, dict[str, float]], None]


def _epoch_order(n: int, seed: int, name: str, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(
        (seed * 1_000_003 + zlib.crc32(name.encode()) + epoch) % 2**63
    )
    order = torch.randperm(n, generator=g)
    world, rank = distributed.world_size(), distributed.rank()
    if world > 1:
        per_rank = n // world
        order = order[rank * per_rank : (rank + 1) * per_rank]
    return order


def _optimizer(phase: Phase, params: list[nn.Parameter]) -> torch.optim.Optimizer:
    if phase.optimizer == "adam":
        return torch.optim.Adam(params, lr=phase.lr, weight_decay=phase.weight_decay)
    if phase.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=phase.lr, momentum=0.9, nesterov=True, weight_decay=phase.weight_decay
        )
    raise ValueError(f"optimizer={phase.optimizer!r}; allowed: adam, sgd")


def _lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``total_steps``."""
    if schedule == "constant":
        return 1.0
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / max(total_steps, 1)))
    raise ValueError(f"schedule={schedule!r}; allowed: constant, cosine")


def frozen_teacher(system: SplitSystem) -> SplitSystem:
    """A frozen eval-mode copy of ``system`` whose ``bypass`` path gives the ``distill`` term's
    teacher logits. Take it right after the backbone weights are loaded, before any stage: later
    stages may retrain the tail under another path (AECNN's ``attention`` stage does), after
    which the system's own ``bypass`` path is no longer the unsplit network."""
    if "bypass" not in system.paths:
        raise ValueError(
            f"a 'distill' loss needs a system with a 'bypass' path; {system.name!r} has paths "
            f"{system.paths}"
        )
    teacher = copy.deepcopy(system).eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def _teacher(system: SplitSystem, phase: Phase, given: SplitSystem | None) -> SplitSystem | None:
    """The teacher of ``phase``: ``given`` if any, else the network at the start of the phase."""
    if phase.losses.get("distill", 0.0) <= 0:
        return None
    if given is not None:
        return given
    try:
        return frozen_teacher(system)
    except ValueError as exc:
        raise ValueError(f"stage {phase.name!r}: {exc}") from None


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
    teacher: SplitSystem | None = None,
) -> PhaseResult:
    """Train ``system`` for one phase, resuming or skipping from checkpoints in ``ckpt_dir``.

    Args:
        batch_size: global batch; under DDP each rank takes ``batch_size // world`` samples.
        stop_after_steps: stop (leaving a progress checkpoint) after this many steps of this call;
            simulates an interruption in tests.
        teacher: the ``distill`` term's teacher (its ``bypass`` logits), normally
            :func:`frozen_teacher` of the system before its first stage. Without it the teacher is
            a copy of ``system`` at the start of this phase, which is the unsplit network only if
            no earlier phase retrained the tail under another path.
    """
    ckpt_dir = Path(ckpt_dir)
    final = ckpt_dir / f"{phase.name}.safetensors"
    progress_path = ckpt_dir / f"{phase.name}.progress.pt"
    if final.exists():
        load_weights(system, final)
        return PhaseResult(phase.name, steps=0, skipped=True)

    system.check_path(phase.path)
    n = len(dataset)  # type: ignore[arg-type]
    world = distributed.world_size()
    local_batch = max(1, batch_size // world)
    steps_per_epoch = max(1, (n // world) // local_batch)
    total_steps = math.ceil(phase.epochs * steps_per_epoch)
    params = set_trainable(system, phase.trainable)
    if total_steps == 0 or not params:
        if distributed.is_main():
            save_weights(system, final)
        return PhaseResult(phase.name, steps=0, skipped=False)

    optimizer = _optimizer(phase, params)
    torch.manual_seed(seed + zlib.crc32(phase.name.encode()))
    start = 0
    # a default teacher is the network at the start of the phase: taken before a resume loads
    # the interrupted phase's weights (the previous phases' checkpoints give the same start again)
    teacher = _teacher(system, phase, teacher)
    if progress_path.exists():
        state = load_progress(progress_path)
        system.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start = int(state["step"])

    model: nn.Module = system
    if distributed.init_if_launched():
        model = nn.parallel.DistributedDataParallel(system, find_unused_parameters=True)

    weights = dict(phase.losses)
    override = getattr(system.params, "rate_weight", None)
    if override is not None and "rate" in weights:
        weights["rate"] = float(override)
    pixels = int(math.prod(dataset[0][0].shape[1:]))  # H*W (or T*H*W) of one sample

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
                    "rng": torch.get_rng_state(),
                    "step": at,
                },
            )

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
            index = order[within * local_batch : (within + 1) * local_batch]
            x, y = fetch_batch(dataset, index)
            snr = sample_snr_db(len(x), phase.snr_db)
            for group in optimizer.param_groups:
                group["lr"] = phase.lr * _lr_factor(phase.schedule, step, total_steps)
            out = model(x, snr, phase.path, **({"targets": y} if system.wants_targets else {}))
            teacher_logits = None
            if teacher is not None:
                with torch.no_grad():
                    teacher_logits = teacher(x, snr, "bypass").output
            loss, terms = stage_loss(
                out,
                y,
                weights,
                pixels,
                lambda o, t: system.task_loss(o, t, phase.task_weights),
                teacher_output=teacher_logits,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            count += 1
            if progress is not None:
                with torch.no_grad():
                    progress.update(out.output, y)
            if on_step is not None:
                on_step(step + 1, total_steps, terms)
            if save_every and (step + 1) % save_every == 0 and step + 1 < total_steps:
                checkpoint(step + 1)
    except KeyboardInterrupt:
        checkpoint(step)
        raise

    if phase.bn_batches:
        recalibrate_batchnorm(
            system,
            dataset,
            roles=phase.trainable,
            path=phase.path,
            batch_size=batch_size,
            batches=phase.bn_batches,
            seed=seed,
        )
    if distributed.is_main():
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
        steps=total_steps - start,
        skipped=False,
        resumed_from_step=start,
        terms={k: v / max(count, 1) for k, v in sums.items()},
        train_accuracy=train_accuracy,
        train_metrics=train_metrics,
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
    )
