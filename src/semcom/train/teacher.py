"""The teacher of the ``distill`` and ``feature_distill`` terms, declared as data.

``train.teacher`` in a config (:class:`~semcom.config.TeacherConfig`) says where the teacher comes
from, in the spirit of torchdistill's teacher / student declarations:

* ``source: self`` (the default, and the project's behaviour since distillation existed): a frozen
  copy of the variant itself, taken right after the shared backbone weights are loaded and before
  its first stage, run on its ``bypass`` path — the unsplit network as loaded. It is not re-taken
  per stage, because a stage may retrain the tail under another path (AECNN's ``attention`` stage
  does), after which the system's own ``bypass`` path is no longer the unsplit network.
* ``source: backbone``: the unsplit ``backbone`` network (any backbone name, default the
  experiment's) with ``weights`` from a file — a larger or differently trained network than the
  students'.
* ``source: run``: a stored variant of another run (``run`` directory, ``variant`` id), e.g. a
  trained split system; ``path`` picks its training graph (default ``bypass``).

``features`` hooks pairs of modules — ``student`` and ``teacher``, each a role name (``head``,
``encoder``, ...) or a dotted module path (``head.layer2_0``) — whose outputs the
``feature_distill`` term brings together (each pair with its ``weight``).

A :class:`Teacher` is frozen (eval mode, no gradients); :meth:`Teacher.run` returns its output
for a batch and fills :meth:`Teacher.features` for the hooked modules.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from semcom.systems import SplitSystem


class TeacherError(ValueError):
    """A teacher cannot be built or hooked; the message names the config field."""


def frozen_teacher(system: SplitSystem) -> SplitSystem:
    """A frozen eval-mode copy of ``system`` whose ``bypass`` path gives the ``distill`` term's
    teacher output. Take it right after the backbone weights are loaded, before any stage: later
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


def resolve_module(model: nn.Module, name: str, what: str) -> nn.Module:
    """The module named ``name`` in ``model``: a role of a system, or a dotted module path."""
    roles = model.roles() if isinstance(model, SplitSystem) else {}
    if name in roles:
        return roles[name]
    try:
        return model.get_submodule(name)
    except AttributeError:
        available = list(roles) + [n for n, _ in model.named_children()]
        raise TeacherError(
            f"{what}: {name!r} is neither a role nor a module path of {type(model).__name__}; "
            f"roles and top-level modules: {', '.join(available)} (deeper paths use dots, e.g. "
            "'head.layer2_0')"
        ) from None


class FeatureTap:
    """Keeps the latest output of a module (a forward hook)."""

    def __init__(self, module: nn.Module) -> None:
        self.value: torch.Tensor | None = None
        self.handle = module.register_forward_hook(self._keep)

    def _keep(self, module: nn.Module, args: Any, output: Any) -> None:
        self.value = output

    def take(self) -> torch.Tensor:
        if self.value is None:
            raise TeacherError("a hooked module did not run in this forward pass")
        value, self.value = self.value, None
        return value

    def remove(self) -> None:
        self.handle.remove()


@dataclass(frozen=True)
class FeaturePair:
    """One ``features`` entry: student module, teacher module, weight."""

    student: str
    teacher: str
    weight: float = 1.0


class Teacher:
    """A frozen network (a system and the path it runs, or a plain module) with feature hooks.

    Args:
        model: the teacher network.
        path: the system path that gives its output (``None`` for a plain module).
        temperature: of the ``distill`` term.
        pairs: hooked ``(student, teacher)`` module pairs for ``feature_distill``.
    """

    def __init__(
        self,
        model: nn.Module,
        path: str | None = "bypass",
        temperature: float = 2.0,
        pairs: Sequence[FeaturePair] = (),
    ) -> None:
        self.model = model.eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.path = path
        self.temperature = temperature
        self.pairs = list(pairs)
        self._teacher_taps = [
            FeatureTap(resolve_module(self.model, p.teacher, "train.teacher.features.teacher"))
            for p in self.pairs
        ]
        self._student_taps: list[FeatureTap] = []

    def attach_student(self, student: nn.Module) -> None:
        """Hook the student's modules of every feature pair (once per training phase)."""
        self.detach_student()
        self._student_taps = [
            FeatureTap(resolve_module(student, p.student, "train.teacher.features.student"))
            for p in self.pairs
        ]

    def detach_student(self) -> None:
        for tap in self._student_taps:
            tap.remove()
        self._student_taps = []

    @torch.no_grad()
    def run(self, x: torch.Tensor, snr_db: torch.Tensor | None) -> Any:
        """The teacher's output on ``x`` (its hooked features are kept for
        :meth:`feature_pairs`)."""
        if self.path is None:
            return self.model(x)
        return self.model(x, snr_db, self.path).output

    def feature_pairs(self) -> list[tuple[torch.Tensor, torch.Tensor, float]]:
        """``(student feature, teacher feature, weight)`` of the last student and teacher
        forward passes."""
        if not self.pairs:
            return []
        if not self._student_taps:
            raise TeacherError("feature pairs need attach_student(system) before training")
        return [
            (s.take(), t.take(), p.weight)
            for s, t, p in zip(self._student_taps, self._teacher_taps, self.pairs, strict=True)
        ]

    def to(self, device: Any) -> Teacher:
        self.model.to(device)
        return self


def as_teacher(teacher: Teacher | SplitSystem | None) -> Teacher | None:
    """A :class:`Teacher` from a teacher or a frozen system (run on its ``bypass`` path)."""
    if teacher is None or isinstance(teacher, Teacher):
        return teacher
    return Teacher(teacher, "bypass")


def build_teacher(config: Any, system: SplitSystem) -> Teacher:
    """The teacher ``config`` (a :class:`~semcom.config.TeacherConfig`) declares for ``system``
    (built right after the shared backbone weights are loaded; see the module docstring)."""
    pairs = [FeaturePair(f.student, f.teacher, f.weight) for f in config.features]
    if config.source == "self":
        model: nn.Module = frozen_teacher(system)
    elif config.source == "backbone":
        model = _backbone_teacher(config, system)
    else:
        model = _run_teacher(config)
    if isinstance(model, SplitSystem):
        model.check_path(config.path)
    return Teacher(model, config.path, config.temperature, pairs)


def _backbone_teacher(config: Any, system: SplitSystem) -> SplitSystem:
    from semcom.backbones import BackboneWeightsError, load_backbone_weights
    from semcom.systems import build_system

    ctx = replace(
        system.ctx,
        backbone=config.backbone or system.ctx.backbone,
        split_after=config.split_after or system.ctx.split_after,
    )
    try:
        teacher = build_system("local", {}, ctx)
        load_backbone_weights(teacher, config.weights, "train.teacher.weights")
    except (BackboneWeightsError, ValueError) as exc:
        raise TeacherError(f"train.teacher (source: backbone): {exc}") from None
    return teacher


def _run_teacher(config: Any) -> SplitSystem:
    from semcom.storage.store import MODELS_DIR, StoreError, load_system

    path = Path(config.run) / MODELS_DIR / f"{config.variant}.safetensors"
    if not path.is_file():
        found = sorted(p.stem for p in (Path(config.run) / MODELS_DIR).glob("*.safetensors"))
        raise TeacherError(
            f"train.teacher.variant: {path} does not exist; variants of {config.run}: "
            + (", ".join(found) or "none (is it a run directory?)")
        )
    try:
        return load_system(path).system
    except StoreError as exc:
        raise TeacherError(f"train.teacher: {exc}") from None
