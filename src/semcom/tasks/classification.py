"""Classification: logits ``[B, K]`` against labels ``[B]`` (images or clips alike)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from semcom.tasks.base import Evaluator, Metrics, Task, TaskError


def _check_logits(output: Any, targets: Any) -> None:
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise TaskError(f"classification expects logits [B, K], got {shape}")
    if not isinstance(targets, torch.Tensor) or targets.shape != output.shape[:1]:
        got = tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise TaskError(f"classification expects labels [B] = [{len(output)}], got {got}")


class ClassificationEvaluator(Evaluator):
    """Top-1 accuracy; per-sample scores are bool (prediction right and delivered).

    >>> ev = ClassificationEvaluator()
    >>> ev.update(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
    >>> ev.compute(), ev.compute(on_time=torch.tensor([False, True]))
    ({'accuracy': 0.5}, {'accuracy': 0.0})
    """

    def reset(self) -> None:
        self._correct: list[torch.Tensor] = []

    def update(self, output: Any, targets: Any, delivered: torch.Tensor | None = None) -> None:
        _check_logits(output, targets)
        hit = (output.argmax(1) == targets).cpu()
        if delivered is not None:
            hit = hit & delivered.to(torch.bool).cpu()
        self._correct.append(hit)

    def sample_scores(self) -> torch.Tensor:
        return torch.cat(self._correct) if self._correct else torch.zeros(0, dtype=torch.bool)

    def subset(self, index: torch.Tensor) -> ClassificationEvaluator:
        out = copy.copy(self)
        out._correct = [self.sample_scores()[index]]
        return out

    @property
    def count(self) -> int:
        return sum(len(c) for c in self._correct)

    def compute(self, on_time: torch.Tensor | None = None) -> Metrics:
        correct = self.sample_scores()
        if len(correct) == 0:
            return {"accuracy": None}
        if on_time is not None:
            correct = correct & on_time.to(torch.bool).cpu()
        # float32 mean of the per-sample hits: the value every record has carried
        return {"accuracy": float(correct.float().mean())}


class ClassificationTask(Task):
    """Cross-entropy loss, top-1 ``accuracy``; the answer is the class and its probabilities."""

    kind = "classification"
    primary_metric = "accuracy"
    metric_names = ("accuracy",)

    @property
    def metric_label(self) -> str:
        return "top-1 accuracy"

    def loss(self, output: Any, targets: Any, weights: Mapping[str, float] | None = None) -> Any:
        return F.cross_entropy(output, targets)

    def evaluator(self) -> ClassificationEvaluator:
        return ClassificationEvaluator()

    def answer(self, output: Any) -> dict[str, Any]:
        logits = output.reshape(-1).float()
        return {
            "prediction": int(torch.argmax(logits)),
            "logits": logits.tolist(),
            "probabilities": torch.softmax(logits, dim=0).tolist(),
        }

    def output_schema(self) -> dict[str, Any]:
        return {
            "prediction": "int: the class index",
            "logits": f"list of {self.num_classes} floats",
            "probabilities": f"list of {self.num_classes} floats (softmax of the logits)",
        }
