"""Tasks by kind: :func:`build_task` turns a :class:`~semcom.data.TaskSpec` into its task, and
:func:`check_fits` refuses a system whose task does not fit a data set's targets."""

from __future__ import annotations

from semcom.data.info import TaskSpec
from semcom.tasks.base import Task, TaskError
from semcom.tasks.classification import ClassificationTask
from semcom.tasks.detection import DetectionTask
from semcom.tasks.multitask import MultiTask
from semcom.tasks.segmentation import SegmentationTask

TASK_CLASSES: dict[str, type[Task]] = {
    cls.kind: cls for cls in (ClassificationTask, SegmentationTask, DetectionTask, MultiTask)
}


def build_task(spec: TaskSpec | str, num_classes: int = 0) -> Task:
    """The task of ``spec`` (a spec, or a kind with ``num_classes``).

    >>> build_task("classification", 10)
    ClassificationTask(num_classes=10)
    """
    if isinstance(spec, str):
        spec = TaskSpec(spec, num_classes)
    try:
        return TASK_CLASSES[spec.kind](spec)
    except KeyError:
        raise TaskError(f"unknown task {spec.kind!r}; tasks: {', '.join(TASK_CLASSES)}") from None


def _shape(spec: TaskSpec) -> str:
    if spec.subtasks:
        return "multitask(" + ", ".join(f"{n}: {_shape(s)}" for n, s in spec.subtasks.items()) + ")"
    return f"{spec.kind} over {spec.num_classes} classes"


def check_fits(task: Task, data: TaskSpec, system: str, dataset: str) -> None:
    """Raise :class:`TaskError` naming both unless ``task`` serves ``data``'s targets: the same
    kind, the same classes, and for multi-task sub-tasks that the data set has (all of them, or
    some: a single-task network of a multi-task comparison reads its own sub-task's targets)."""
    problem = _mismatch(task.spec, data)
    if problem:
        raise TaskError(
            f"system {system!r} does {_shape(task.spec)}, but data set {dataset!r} has "
            f"{_shape(data)} targets: {problem}"
        )


def _mismatch(have: TaskSpec, want: TaskSpec) -> str | None:
    if have.kind != want.kind:
        return f"task {have.kind!r} != {want.kind!r}"
    if have.subtasks or want.subtasks:
        missing = [n for n in have.subtasks if n not in want.subtasks]
        if not have.subtasks or missing:
            return f"sub-tasks {list(have.subtasks)} are not among {list(want.subtasks)}"
        for name in have.subtasks:
            sub = _mismatch(have.subtasks[name], want.subtasks[name])
            if sub:
                return f"{name}: {sub}"
        return None
    if have.num_classes != want.num_classes:
        return f"{have.num_classes} classes != {want.num_classes}"
    return None
