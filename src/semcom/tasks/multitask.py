"""Several named tasks on one input (e.g. detection + segmentation for FFMNet).

Outputs and targets are dicts keyed by the sub-task names of the spec. The loss is the weighted
sum of the sub-tasks' losses (``weights[name]``, default 1: a stage's ``task_weights``). Metrics
are the sub-tasks' metrics under their own names (``map_50``, ``miou``, ...; a name two sub-tasks
share is prefixed ``<sub-task>/``) and ``multitask_mean``, the mean of the sub-tasks' primary
metrics, which is the primary metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from semcom.data.info import TaskSpec
from semcom.tasks.base import Evaluator, Metrics, Task, TaskError


def _split(value: Any, names: list[str], what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TaskError(f"a multi-task {what} is a dict over {names}, got {type(value).__name__}")
    missing = [n for n in names if n not in value]
    if missing:
        raise TaskError(f"multi-task {what} lacks sub-task(s) {missing}; has {sorted(value)}")
    return {n: value[n] for n in names}


class MultiTaskEvaluator(Evaluator):
    """The sub-tasks' evaluators side by side (module docstring)."""

    def __init__(self, tasks: Mapping[str, Task]) -> None:
        self.tasks = dict(tasks)
        self.evaluators = {name: task.evaluator() for name, task in self.tasks.items()}
        super().__init__()

    def reset(self) -> None:
        for ev in getattr(self, "evaluators", {}).values():
            ev.reset()

    def update(self, output: Any, targets: Any, delivered: torch.Tensor | None = None) -> None:
        names = list(self.tasks)
        outs, tgts = _split(output, names, "output"), _split(targets, names, "target")
        for name, ev in self.evaluators.items():
            ev.update(outs[name], tgts[name], delivered)

    @property
    def count(self) -> int:
        return min((ev.count for ev in self.evaluators.values()), default=0)

    def subset(self, index: torch.Tensor) -> MultiTaskEvaluator:
        out = MultiTaskEvaluator(self.tasks)
        out.evaluators = {name: ev.subset(index) for name, ev in self.evaluators.items()}
        return out

    def compute(self, on_time: torch.Tensor | None = None) -> Metrics:
        per_task = {name: ev.compute(on_time) for name, ev in self.evaluators.items()}
        seen: dict[str, int] = {}
        for metrics in per_task.values():
            for key in metrics:
                seen[key] = seen.get(key, 0) + 1
        out: Metrics = {}
        primaries: list[float] = []
        for name, metrics in per_task.items():
            for key, value in metrics.items():
                out[f"{name}/{key}" if seen[key] > 1 else key] = value
            p = self.tasks[name].primary(metrics)
            if p is not None:
                primaries.append(p)
        full = len(primaries) == len(per_task)
        out["multitask_mean"] = sum(primaries) / len(primaries) if full and primaries else None
        return out


class MultiTask(Task):
    """Named sub-tasks built from ``spec.subtasks`` (module docstring)."""

    kind = "multitask"
    primary_metric = "multitask_mean"

    def __init__(self, spec: TaskSpec) -> None:
        super().__init__(spec)
        from semcom.tasks.registry import build_task

        self.tasks = {name: build_task(sub) for name, sub in spec.subtasks.items()}
        self.tracks_training = all(t.tracks_training for t in self.tasks.values())  # type: ignore[misc]

    @property
    def metric_label(self) -> str:
        return "mean of " + ", ".join(f"{n}:{t.primary_metric}" for n, t in self.tasks.items())

    @property
    def metric_names(self) -> tuple[str, ...]:  # type: ignore[override]
        return tuple(m for t in self.tasks.values() for m in t.metric_names) + ("multitask_mean",)

    def loss(self, output: Any, targets: Any, weights: Mapping[str, float] | None = None) -> Any:
        names = list(self.tasks)
        outs, tgts = _split(output, names, "output"), _split(targets, names, "target")
        w = weights or {}
        unknown = sorted(set(w) - set(names))
        if unknown:
            raise TaskError(f"task_weights name unknown sub-task(s) {unknown}; sub-tasks: {names}")
        return sum(w.get(n, 1.0) * self.tasks[n].loss(outs[n], tgts[n]) for n in names)

    def evaluator(self) -> MultiTaskEvaluator:
        return MultiTaskEvaluator(self.tasks)

    def answer(self, output: Any) -> dict[str, Any]:
        outs = _split(output, list(self.tasks), "output")
        return {name: task.answer(outs[name]) for name, task in self.tasks.items()}

    def output_schema(self) -> dict[str, Any]:
        return {name: task.output_schema() for name, task in self.tasks.items()}

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        out["subtasks"] = {n: t.describe() for n, t in self.tasks.items()}
        return out
