"""The contract of a task: its loss, its streaming evaluator, its primary metric, its answers.

A :class:`Task` is built from a :class:`~semcom.data.TaskSpec` (what a data set's targets are) by
:func:`semcom.tasks.build_task`. It owns everything that depends on the kind of output:

* :meth:`Task.loss` — the ``task`` loss term on a batch (``output`` from the system, collated
  ``targets`` from :mod:`semcom.data.batch`);
* :meth:`Task.evaluator` — a fresh :class:`Evaluator` (``reset / update / compute``, in the spirit
  of detectron2's ``DatasetEvaluator``) whose metrics are read by name everywhere (evaluation
  records, training progress, reports, the server);
* :attr:`Task.primary_metric` — the key of the metric that ranks systems (``accuracy``, ``miou``,
  ``map_50``, ``multitask_mean``), and :attr:`Task.metric_label`, the same in words;
* :meth:`Task.answer` / :meth:`Task.output_schema` — one sample's output as JSON for the server.

**Delivery and deadlines.** :meth:`Evaluator.update` takes an optional ``delivered`` mask (bool
``[B]``): a sample the link did not deliver counts as an *empty prediction* — wrong class, every
pixel wrong, no boxes. :meth:`Evaluator.compute` takes an optional ``on_time`` mask (bool ``[N]``
over every sample added): late samples count as empty predictions too, and the metrics are
computed over all ``N`` samples. That is what "correct on time" means for set-level metrics.

**Per-sample scores.** Tasks whose samples can be scored one by one (classification: correct or
not; segmentation: the sample's pixel accuracy) return them from :meth:`Evaluator.sample_scores`
(``[N]``, ``bool`` or ``float`` in ``[0, 1]``); their mean is a record's ``accuracy`` and their
on-time mean its ``accuracy_within_deadline``. Detection has none (``None``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from semcom.data.info import TaskSpec

Metrics = dict[str, float | None]


class TaskError(ValueError):
    """A task and what it was given do not fit (output shape, target type, data set)."""


class Evaluator(ABC):
    """Streaming evaluation of one task over a data set (module docstring)."""

    def __init__(self) -> None:
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget every sample added."""

    @abstractmethod
    def update(self, output: Any, targets: Any, delivered: torch.Tensor | None = None) -> None:
        """Add a batch: the system's ``output``, the collated ``targets``, and optionally which
        samples arrived (bool ``[B]``; ``False`` = an empty prediction)."""

    @abstractmethod
    def compute(self, on_time: torch.Tensor | None = None) -> Metrics:
        """Metrics by name over every sample added; ``on_time`` (bool ``[N]``) marks samples
        that met the deadline (late ones count as empty predictions)."""

    @abstractmethod
    def subset(self, index: torch.Tensor) -> Evaluator:
        """A new evaluator holding the samples ``index`` (int64 ``[M]``, in the order added,
        repeats allowed) of this one, as if only they had been added: what a bootstrap of the
        metrics resamples (:mod:`semcom.eval.bootstrap`)."""

    def sample_scores(self) -> torch.Tensor | None:
        """Per-sample scores ``[N]`` (bool, or float in ``[0, 1]``) in the order added, or
        ``None`` for tasks scored only over the set."""
        return None

    @property
    @abstractmethod
    def count(self) -> int:
        """Samples added so far."""


class Task(ABC):
    """A kind of task (module docstring); built from its :class:`TaskSpec`."""

    #: the spec kind this class implements (``classification``, ...).
    kind: ClassVar[str] = ""
    #: key of the metric that ranks systems.
    primary_metric: ClassVar[str] = ""
    #: every metric key the evaluator returns.
    metric_names: ClassVar[tuple[str, ...]] = ()
    #: whether the trainer runs the evaluator over training batches (cheap metrics only).
    tracks_training: ClassVar[bool] = True

    def __init__(self, spec: TaskSpec) -> None:
        if spec.kind != self.kind:
            raise TaskError(f"{type(self).__name__} is built from a {self.kind!r} spec, "
                            f"got {spec.kind!r}")  # fmt: skip
        self.spec = spec

    @property
    def num_classes(self) -> int:
        return self.spec.num_classes

    @property
    def metric_label(self) -> str:
        """The primary metric in words (a record's ``metric`` field)."""
        return self.primary_metric

    @abstractmethod
    def loss(self, output: Any, targets: Any, weights: Mapping[str, float] | None = None) -> Any:
        """The ``task`` loss term (a scalar tensor) of a batch. ``weights`` are per-sub-task
        weights (multi-task only; others ignore them)."""

    @abstractmethod
    def evaluator(self) -> Evaluator:
        """A fresh evaluator."""

    @abstractmethod
    def answer(self, output: Any) -> dict[str, Any]:
        """One sample's output (batch of one, as the edge returns it) as JSON for the server."""

    @abstractmethod
    def output_schema(self) -> dict[str, Any]:
        """What :meth:`answer` returns, for ``GET /v1/models``."""

    def primary(self, metrics: Mapping[str, float | None]) -> float | None:
        """The primary metric of ``metrics``."""
        return metrics.get(self.primary_metric)

    def describe(self) -> dict[str, Any]:
        """JSON description: kind, classes, metrics."""
        return {
            "kind": self.kind,
            "num_classes": self.num_classes,
            "primary_metric": self.primary_metric,
            "metrics": list(self.metric_names),
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_classes={self.num_classes})"


def unbatch(output: Any, n: int) -> list[Any]:
    """A batched task output of ``n`` samples as ``n`` outputs of one sample each, in the form
    the edge returns for a batch of one (what :meth:`Task.answer` takes): a tensor ``[n, ...]``
    → ``[1, ...]`` slices; a list of ``n`` per-sample items (detection dicts) → one-item lists; a
    mapping (multi-task) → one mapping per sample, split key by key.

    >>> [o.shape for o in unbatch(torch.zeros(3, 10), 3)]
    [torch.Size([1, 10]), torch.Size([1, 10]), torch.Size([1, 10])]
    >>> unbatch({"a": [{"k": 1}, {"k": 2}]}, 2)
    [{'a': [{'k': 1}]}, {'a': [{'k': 2}]}]
    """
    if isinstance(output, torch.Tensor):
        if output.dim() == 0 or output.shape[0] != n:
            raise TaskError(f"a batched output of {n} samples, got shape {tuple(output.shape)}")
        return [output[i : i + 1] for i in range(n)]
    if isinstance(output, Mapping):
        parts = {key: unbatch(value, n) for key, value in output.items()}
        return [{key: parts[key][i] for key in output} for i in range(n)]
    if isinstance(output, (list, tuple)):
        if len(output) != n:
            raise TaskError(f"a batched output of {n} samples, got {len(output)} items")
        return [[item] for item in output]
    raise TaskError(f"cannot split a {type(output).__name__} output into samples")


def masked_rows(values: torch.Tensor, keep: torch.Tensor | None) -> torch.Tensor:
    """``values`` ``[N, ...]`` with the rows where ``keep`` (bool ``[N]``) is ``False`` zeroed."""
    if keep is None:
        return values
    keep = keep.to(torch.bool).reshape(-1)
    if len(keep) != len(values):
        raise TaskError(f"mask of {len(keep)} samples for {len(values)} samples")
    return values * keep.view(-1, *[1] * (values.dim() - 1)).to(values.dtype)
