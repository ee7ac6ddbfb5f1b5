"""Tasks and their evaluators: what a system's output is scored as.

:func:`build_task` makes the task of a :class:`~semcom.data.TaskSpec` — classification,
segmentation, detection, or several named ones (multi-task). A task owns its loss, its streaming
evaluator (``reset / update / compute``), its primary metric and the JSON answer of the server
(:mod:`semcom.tasks.base`). Nothing outside this package branches on the kind of task.
"""

from semcom.tasks.base import Evaluator, Metrics, Task, TaskError, unbatch
from semcom.tasks.classification import ClassificationEvaluator, ClassificationTask
from semcom.tasks.detection import DetectionEvaluator, DetectionTask, empty_detection
from semcom.tasks.multitask import MultiTask, MultiTaskEvaluator
from semcom.tasks.registry import TASK_CLASSES, build_task, check_fits
from semcom.tasks.segmentation import SegmentationEvaluator, SegmentationTask

__all__ = [
    "unbatch",
    "TASK_CLASSES",
    "ClassificationEvaluator",
    "ClassificationTask",
    "DetectionEvaluator",
    "DetectionTask",
    "Evaluator",
    "Metrics",
    "MultiTask",
    "MultiTaskEvaluator",
    "SegmentationEvaluator",
    "SegmentationTask",
    "Task",
    "TaskError",
    "build_task",
    "check_fits",
    "empty_detection",
]
