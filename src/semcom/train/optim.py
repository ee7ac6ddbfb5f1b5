"""Optimisers and learning-rate schedules by name, from ``torch.optim`` (CompressAI's registry
pattern): a stage's ``optimizer`` and ``schedule`` are config, not a closed list.

``optimizer``:

* ``adam`` — :class:`torch.optim.Adam` (the default); ``sgd`` — :class:`torch.optim.SGD` with
  momentum 0.9 and Nesterov (the project's long-standing aliases);
* any class of :mod:`torch.optim` by its name, e.g. ``AdamW``, or ``{name: SGD, momentum: 0.9,
  dampening: 0}`` with keyword arguments. The stage's ``lr`` and ``weight_decay`` are passed too
  unless the mapping sets them.

``schedule``:

* ``constant`` (default) and ``cosine`` (decay to 0 over the phase's steps, set every step),
  either after an optional linear warm-up (``warmup_steps``, from 1 % of the rate);
* any scheduler of :mod:`torch.optim.lr_scheduler` by name with keyword arguments, e.g.
  ``{name: MultiStepLR, milestones: [30, 45], gamma: 0.1}`` or ``{name: OneCycleLR, max_lr: 0.1,
  interval: step}``. ``interval`` (``epoch``, the default, or ``step``) says when it steps; a
  scheduler that needs the length of the phase (``total_steps`` of ``OneCycleLR``, ``T_max`` of
  ``CosineAnnealingLR``, ``total_iters`` of ``LinearLR`` / ``PolynomialLR``) gets the phase's number
  of intervals when the config leaves it out.

:func:`check_optimizer` / :func:`check_schedule` validate a spec without building anything, so a
config error names the field and the allowed values before any training starts.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

#: the aliases the project has always accepted, and what they mean.
OPTIMIZER_ALIASES: dict[str, tuple[str, dict[str, Any]]] = {
    "adam": ("Adam", {}),
    "sgd": ("SGD", {"momentum": 0.9, "nesterov": True}),
}
#: schedules computed by the trainer itself (a factor of the base rate per step).
BUILTIN_SCHEDULES = ("constant", "cosine")
#: scheduler arguments filled with the phase's number of intervals when absent.
LENGTH_ARGUMENTS = ("total_steps", "T_max", "total_iters")
INTERVALS = ("epoch", "step")
#: the fraction of the base rate a warm-up starts from.
WARMUP_START = 0.01

OptimSpec = str | Mapping[str, Any]


def _split(spec: OptimSpec, what: str) -> tuple[str, dict[str, Any]]:
    if isinstance(spec, str):
        return spec, {}
    if isinstance(spec, Mapping) and isinstance(spec.get("name"), str):
        return str(spec["name"]), {k: v for k, v in spec.items() if k != "name"}
    raise ValueError(f"{what} must be a name or a mapping with a 'name', got {spec!r}")


def _torch_classes(module: Any, base: type) -> dict[str, type]:
    return {
        name: obj
        for name, obj in vars(module).items()
        if inspect.isclass(obj) and issubclass(obj, base) and obj is not base and name[0] != "_"
    }


def optimizer_names() -> list[str]:
    """Every accepted optimiser name (aliases first)."""
    return list(OPTIMIZER_ALIASES) + sorted(_torch_classes(torch.optim, torch.optim.Optimizer))


def scheduler_names() -> list[str]:
    """Every accepted schedule name (the built-in ones first)."""
    classes = _torch_classes(torch.optim.lr_scheduler, torch.optim.lr_scheduler.LRScheduler)
    return list(BUILTIN_SCHEDULES) + sorted(classes)


def _check_kwargs(
    cls: type[Any], kwargs: Mapping[str, Any], what: str, skip: Iterable[str]
) -> None:
    params = inspect.signature(cls.__init__).parameters
    allowed = [
        p for p in params if p not in ("self", *skip) and params[p].kind != params[p].VAR_KEYWORD
    ]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(
            f"{what} {cls.__name__} has no argument(s) {unknown}; allowed: {', '.join(allowed)}"
        )


def resolve_optimizer(spec: OptimSpec) -> tuple[type[torch.optim.Optimizer], dict[str, Any]]:
    """The optimiser class and keyword arguments of ``spec`` (``ValueError`` listing the names)."""
    name, kwargs = _split(spec, "optimizer")
    if name in OPTIMIZER_ALIASES:
        name, defaults = OPTIMIZER_ALIASES[name]
        kwargs = {**defaults, **kwargs}
    classes = _torch_classes(torch.optim, torch.optim.Optimizer)
    if name not in classes:
        raise ValueError(
            f"unknown optimizer {name!r}; allowed: {', '.join(optimizer_names())} "
            "(or a mapping {name: ..., <keyword arguments>})"
        )
    _check_kwargs(classes[name], kwargs, "optimizer", skip=("params",))
    return classes[name], kwargs


def check_optimizer(spec: OptimSpec) -> OptimSpec:
    """``spec`` if it names a known optimiser with valid keyword arguments."""
    resolve_optimizer(spec)
    return spec


def build_optimizer(
    spec: OptimSpec, params: list[nn.Parameter], lr: float, weight_decay: float
) -> torch.optim.Optimizer:
    """The optimiser of ``spec`` over ``params`` with the stage's ``lr`` and ``weight_decay``."""
    cls, kwargs = resolve_optimizer(spec)
    kwargs = {"lr": lr, "weight_decay": weight_decay, **kwargs}
    return cls(params, **kwargs)


def resolve_schedule(spec: OptimSpec) -> tuple[str, type[Any] | None, dict[str, Any], str]:
    """``(name, scheduler class or None for the built-in ones, kwargs, interval)``."""
    name, kwargs = _split(spec, "schedule")
    interval = str(kwargs.pop("interval", "epoch"))
    if interval not in INTERVALS:
        raise ValueError(
            f"schedule interval must be one of {', '.join(INTERVALS)}, got {interval!r}"
        )
    if name in BUILTIN_SCHEDULES:
        if kwargs:
            raise ValueError(f"schedule {name!r} takes no arguments, got {sorted(kwargs)}")
        return name, None, {}, "step"
    classes = _torch_classes(torch.optim.lr_scheduler, torch.optim.lr_scheduler.LRScheduler)
    if name not in classes:
        raise ValueError(
            f"unknown schedule {name!r}; allowed: {', '.join(scheduler_names())} "
            "(or a mapping {name: ..., interval: epoch|step, <keyword arguments>})"
        )
    _check_kwargs(classes[name], kwargs, "schedule", skip=("optimizer",))
    return name, classes[name], kwargs, interval


def check_schedule(spec: OptimSpec) -> OptimSpec:
    """``spec`` if it names a known schedule with valid keyword arguments."""
    resolve_schedule(spec)
    return spec


class Schedule:
    """The learning rate of a phase over its steps (module docstring).

    Call :meth:`before_step` before every optimiser step (``step`` counted from 0 over the whole
    phase, ``epoch_start`` when the step opens an epoch); ``state_dict`` / ``load_state_dict``
    carry a torch scheduler's state through a resume.
    """

    def __init__(
        self,
        spec: OptimSpec,
        optimizer: torch.optim.Optimizer,
        base_lr: float,
        total_steps: int,
        steps_per_epoch: int,
        warmup_steps: int = 0,
    ) -> None:
        self.name, cls, kwargs, self.interval = resolve_schedule(spec)
        if warmup_steps and cls is not None:
            raise ValueError(f"warm-up works with the schedules {', '.join(BUILTIN_SCHEDULES)}")
        self.optimizer = optimizer
        self.base_lr = base_lr
        self.total_steps = total_steps
        self.warmup_steps = min(warmup_steps, total_steps)
        self.scheduler: Any = None
        if cls is not None:
            intervals = (
                total_steps if self.interval == "step" else math.ceil(total_steps / steps_per_epoch)
            )
            signature = inspect.signature(cls.__init__).parameters
            for arg in LENGTH_ARGUMENTS:
                if arg in signature and arg not in kwargs:
                    kwargs[arg] = max(1, intervals)
            self.scheduler = cls(optimizer, **kwargs)
        self._last_epoch_stepped = 0

    def factor(self, step: int) -> float:
        """Built-in schedules: the multiplier of the base rate at ``step`` — a linear ramp from
        :data:`WARMUP_START` over the warm-up steps, then constant or a cosine decay to 0 over the
        steps that remain."""
        if step < self.warmup_steps:
            return WARMUP_START + (1.0 - WARMUP_START) * step / self.warmup_steps
        if self.name == "constant":
            return 1.0
        after = max(self.total_steps - self.warmup_steps, 1)
        return 0.5 * (1.0 + math.cos(math.pi * (step - self.warmup_steps) / after))

    def before_step(self, step: int, epoch: int) -> None:
        """Set the learning rate for ``step`` of ``epoch`` (0-based)."""
        if self.scheduler is None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.base_lr * self.factor(step)
            return
        if self.interval == "step":
            if step > self.scheduler.last_epoch:
                self.scheduler.step()
        else:
            while self.scheduler.last_epoch < epoch:
                self.scheduler.step()

    def state_dict(self) -> dict[str, Any]:
        return self.scheduler.state_dict() if self.scheduler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scheduler is not None and state:
            self.scheduler.load_state_dict(state)
