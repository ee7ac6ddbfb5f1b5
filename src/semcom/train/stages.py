"""How an experiment's stage list applies to each system, and the checks run before training.

One stage list serves every system of an experiment: :func:`stage_for` gives a stage as it
applies to one system — skipped when the stage names other systems (``systems: [...]``) or when
the system has nothing of its own to train (only the shared backbone's ``head`` / ``tail``; a
system whose network is its own, such as ``det-only``, trains it in its stages), its
roles reduced to those the system has, and the system's own ``lambda`` as the rate weight.
:func:`check_stages` refuses, before anything trains, a stage that names an unknown system, a role
no system has, a path a system lacks, or a rate term for a system without an entropy model.
:func:`needs_teacher` says whether a variant's stages weight a term that needs a teacher.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from semcom.systems import SplitSystem
from semcom.train.losses import TEACHER_TERMS


class StageError(ValueError):
    """A stage does not fit the systems it applies to; the message names the field."""


def stage_for(stage: Any, system: SplitSystem) -> Any | None:
    """The stage (a :class:`~semcom.config.StageConfig`) as it applies to ``system``, or
    ``None`` to skip it."""
    if stage.systems is not None and system.name not in stage.systems:
        return None
    if system.shares_backbone and set(system.roles()) <= {"head", "tail"}:
        return None  # nothing but the shared backbone: its training is done
    weight = getattr(system.params, "rate_weight", None)
    if weight is not None and "rate" in stage.losses:  # the system's own lambda wins
        stage = stage.model_copy(update={"losses": {**stage.losses, "rate": weight}})
    if stage.trainable == "all":
        return stage
    roles = [r for r in stage.trainable if r in system.roles()]
    return stage.model_copy(update={"trainable": roles}) if roles else None


def needs_teacher(stages: Sequence[Any], system: SplitSystem) -> bool:
    """Whether any stage that applies to ``system`` weights a term that needs a teacher."""
    applied = (stage_for(stage, system) for stage in stages)
    return any(
        s is not None and any(s.losses.get(term, 0.0) > 0 for term in TEACHER_TERMS)
        for s in applied
    )


def check_stages(stages: Sequence[Any], systems: Sequence[SplitSystem]) -> None:
    """Every stage names roles and a path that the systems it applies to actually have
    (:class:`StageError` naming ``train.stages.<i>.<field>`` otherwise)."""
    names = {s.name for s in systems}
    roles = set().union(*(s.roles() for s in systems)) if systems else set()
    for i, stage in enumerate(stages):
        unknown_systems = sorted(set(stage.systems or []) - names)
        if unknown_systems:
            raise StageError(
                f"train.stages.{i}.systems: {unknown_systems} are not in this experiment; "
                f"systems here: {', '.join(sorted(names))}"
            )
        for system in systems:
            applied = stage_for(stage, system)
            if applied is not None and applied.path not in system.paths:
                raise StageError(
                    f"train.stages.{i}.path: {stage.path!r} is not a training path of system "
                    f"{system.name!r}; allowed: {', '.join(system.paths)} (or restrict the stage "
                    "with 'systems: [...]')"
                )
            if applied is not None and applied.losses.get("rate") and not system.has_rate:
                raise StageError(
                    f"train.stages.{i}.losses.rate: system {system.name!r} has no entropy model "
                    "to estimate a rate; restrict the stage with 'systems: [...]'"
                )
        if stage.trainable == "all":
            continue
        unknown = [r for r in stage.trainable if r not in roles]
        if unknown:
            raise StageError(
                f"train.stages.{i}.trainable: role(s) {unknown} exist in no system of this "
                f"experiment; roles available: {', '.join(sorted(roles))}"
            )
