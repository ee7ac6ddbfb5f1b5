"""What a data set is: its name, classes, the shape of one input, and what its labels are.

* :class:`TaskSpec` — what the targets of a data set are (the *kind* of task and its classes):
  ``classification`` (one label per input), ``segmentation`` (one label per pixel, masks
  ``[H, W]``, :data:`IGNORE_INDEX` left out), ``detection`` (boxes and labels per input) or
  ``multitask`` (a dict of named sub-tasks, each a :class:`TaskSpec`). :mod:`semcom.tasks` turns a
  spec into the task object that owns the loss and the metrics.
* :class:`DatasetInfo` — name, classes, ``input_shape`` (``(C, H, W)`` images or ``(C, T, H, W)``
  clips) and the :class:`TaskSpec`.

Both are plain, JSON-able data (:meth:`TaskSpec.to_json` / :meth:`TaskSpec.from_json`), so a
stored model can carry the spec it was trained for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: The kinds of task a data set's targets can serve.
TASKS: tuple[str, ...] = ("classification", "segmentation", "detection", "multitask")
#: Mask value left out of segmentation losses and metrics (Pascal VOC's convention).
IGNORE_INDEX = 255


@dataclass(frozen=True)
class TaskSpec:
    """What a data set's targets are.

    Attributes:
        kind: one of :data:`TASKS`.
        num_classes: classes of the labels (segmentation: mask values ``0 .. K-1``, background
            included; detection: object classes, no background). 0 for ``multitask``.
        classes: class names, index = label (may be empty: then ``class_<i>``).
        ignore_index: segmentation mask value left out of losses and metrics.
        subtasks: ``multitask`` only: the sub-tasks by name (their targets are the entries of the
            sample's target dict with the same names).
        class_weights: segmentation only, optional: the loss weight of each class
            (``data.class_weights``, :mod:`semcom.data.class_weights`); empty: unweighted.

    >>> TaskSpec("segmentation", 3).ignore_index
    255
    >>> spec = TaskSpec("multitask", subtasks={"detection": TaskSpec("detection", 2)})
    >>> TaskSpec.from_json(spec.to_json()) == spec
    True
    """

    kind: str = "classification"
    num_classes: int = 0
    classes: tuple[str, ...] = ()
    ignore_index: int | None = None
    subtasks: Mapping[str, TaskSpec] = field(default_factory=dict)
    class_weights: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.kind!r}")
        if self.kind == "segmentation" and self.ignore_index is None:
            object.__setattr__(self, "ignore_index", IGNORE_INDEX)
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "subtasks", dict(self.subtasks))
        if (self.kind == "multitask") != bool(self.subtasks):
            raise ValueError("a multitask spec needs sub-tasks, and only a multitask spec has them")
        if self.classes and len(self.classes) != self.num_classes:
            raise ValueError(f"{len(self.classes)} class names for num_classes={self.num_classes}")
        object.__setattr__(self, "class_weights", tuple(float(w) for w in self.class_weights))
        if self.class_weights and (
            self.kind != "segmentation" or len(self.class_weights) != self.num_classes
        ):
            raise ValueError(
                f"class_weights are one per class of a segmentation task; got "
                f"{len(self.class_weights)} for a {self.kind} task of {self.num_classes} classes"
            )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (the stored model's metadata)."""
        out: dict[str, Any] = {"kind": self.kind, "num_classes": self.num_classes}
        if self.classes:
            out["classes"] = list(self.classes)
        if self.ignore_index is not None:
            out["ignore_index"] = self.ignore_index
        if self.subtasks:
            out["subtasks"] = {k: v.to_json() for k, v in self.subtasks.items()}
        if self.class_weights:
            out["class_weights"] = list(self.class_weights)
        return out

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> TaskSpec:
        """Inverse of :meth:`to_json`."""
        return cls(
            kind=str(raw.get("kind", "classification")),
            num_classes=int(raw.get("num_classes", 0)),
            classes=tuple(raw.get("classes", ())),
            ignore_index=raw.get("ignore_index"),
            subtasks={k: cls.from_json(v) for k, v in (raw.get("subtasks") or {}).items()},
            class_weights=tuple(raw.get("class_weights") or ()),
        )


class InputShaped:
    """``in_channels`` and ``image_size`` of a class with an ``input_shape`` ``(C, H, W)`` or
    ``(C, T, H, W)`` (:class:`DatasetInfo`, :class:`~semcom.systems.BuildContext`)."""

    input_shape: tuple[int, ...]

    @property
    def in_channels(self) -> int:
        """Channels ``C`` of one input (1 = grey, 3 = RGB)."""
        return self.input_shape[0]

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)`` of one image or frame, pixels."""
        return (self.input_shape[-2], self.input_shape[-1])


@dataclass(frozen=True)
class DatasetInfo(InputShaped):
    """Facts about a data set that models are built from.

    Attributes:
        name: canonical data set name (``"fashion-mnist"``, ``"cifar10"``, ``"synthetic"``).
        num_classes: number of classes; labels are ``0 .. num_classes - 1`` (segmentation: mask
            values, background included).
        input_shape: one input without the batch dimension: ``(C, H, W)`` for images,
            ``(C, T, H, W)`` for clips of ``T`` frames.
        classes: human-readable class names, index = label.
        task: what the targets are: a kind (``"classification"``, the default, or
            ``"segmentation"``) or a full :class:`TaskSpec` (detection, multi-task).

    >>> info = DatasetInfo("toy", 2, (1, 8, 8), ("no", "yes"))
    >>> info.classes[1], info.in_channels, info.image_size, info.task.kind
    ('yes', 1, (8, 8), 'classification')
    """

    name: str
    num_classes: int
    input_shape: tuple[int, ...]
    classes: tuple[str, ...]
    task: TaskSpec = None  # type: ignore[assignment]  # default: classification, set below

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.input_shape)
        object.__setattr__(self, "input_shape", shape)
        if len(shape) not in (3, 4) or min(shape) < 1:
            raise ValueError(
                f"DatasetInfo({self.name!r}): input_shape must be (C, H, W) or (C, T, H, W) with "
                f"positive sizes, got {shape}"
            )
        if len(self.classes) != self.num_classes:
            raise ValueError(
                f"DatasetInfo({self.name!r}): {len(self.classes)} class names for "
                f"num_classes={self.num_classes}"
            )
        task = self.task if self.task is not None else "classification"
        if isinstance(task, str):
            try:
                task = TaskSpec(task, self.num_classes, self.classes)
            except ValueError as exc:
                raise ValueError(f"DatasetInfo({self.name!r}): {exc}") from None
        object.__setattr__(self, "task", task)


def image_shape(channels: int, size: Sequence[int]) -> tuple[int, ...]:
    """``(C, H, W)`` from a channel count and ``(H, W)``.

    >>> image_shape(3, (32, 32))
    (3, 32, 32)
    """
    return (int(channels), *(int(s) for s in size))
