"""Bootstrap standard errors: an evaluator's subset scores as if only those samples had been
added (every task kind), a per-sample score's bootstrap error matches the binomial one, and the
paired difference of a system with itself has no noise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semcom.data import TaskSpec
from semcom.eval.bootstrap import bootstrap_metrics, standard_error
from semcom.tasks import build_task

SPECS = {
    "classification": TaskSpec("classification", 3),
    "segmentation": TaskSpec("segmentation", 3),
    "detection": TaskSpec("detection", 2),
    "multitask": TaskSpec(
        "multitask",
        subtasks={
            "detection": TaskSpec("detection", 2),
            "segmentation": TaskSpec("segmentation", 3),
        },
    ),
}


def _samples(spec: TaskSpec, n: int, g: torch.Generator):
    """``n`` (output, target) pairs of one sample each, for ``spec``."""
    if spec.kind == "classification":
        return [(torch.randn(1, 3, generator=g), torch.randint(0, 3, (1,), generator=g))
                for _ in range(n)]  # fmt: skip
    if spec.kind == "segmentation":
        return [(torch.randn(1, 3, 4, 4, generator=g), torch.randint(0, 3, (1, 4, 4), generator=g))
                for _ in range(n)]  # fmt: skip
    if spec.kind == "detection":
        out = []
        for _ in range(n):
            xy = torch.rand(2, generator=g) * 20
            box = torch.cat([xy, xy + 10])[None]
            shift = torch.rand(1, 4, generator=g) * 4
            label = torch.randint(0, 2, (1,), generator=g)
            pred = {"boxes": box + shift, "scores": torch.rand(1, generator=g), "labels": label}
            out.append(([pred], [{"boxes": box, "labels": label}]))
        return out
    det, seg = (
        _samples(spec.subtasks["detection"], n, g),
        _samples(spec.subtasks["segmentation"], n, g),
    )
    return [({"detection": d[0], "segmentation": s[0]}, {"detection": d[1], "segmentation": s[1]})
            for d, s in zip(det, seg, strict=True)]  # fmt: skip


@pytest.mark.parametrize("kind", list(SPECS))
def test_a_subset_scores_as_if_only_those_samples_were_added(kind: str) -> None:
    task = build_task(SPECS[kind])
    samples = _samples(SPECS[kind], 12, torch.Generator().manual_seed(0))
    full = task.evaluator()
    for output, target in samples:
        full.update(output, target)
    index = torch.tensor([3, 3, 0, 11, 7, 7, 7, 2])
    alone = task.evaluator()
    for i in index.tolist():
        alone.update(*samples[i])
    assert full.subset(index).compute() == alone.compute()
    assert full.subset(index).count == len(index)


def test_the_bootstrap_error_of_a_per_sample_score_is_the_binomial_one() -> None:
    task = build_task(SPECS["classification"])
    ev = task.evaluator()
    n, p = 1000, 0.9
    labels = torch.zeros(n, dtype=torch.int64)
    right = torch.rand(n, generator=torch.Generator().manual_seed(1)) < p
    logits = torch.zeros(n, 3)
    logits[right, 0] = 1.0
    logits[~right, 1] = 1.0
    ev.update(logits, labels)
    acc = float(right.float().mean())
    values = bootstrap_metrics({"a": ev}, ["accuracy"], rounds=400, seed=0)["a"]["accuracy"]
    binomial = math.sqrt(acc * (1 - acc) / n)
    assert abs(standard_error(values) - binomial) < 0.2 * binomial
    paired = bootstrap_metrics({"a": ev, "b": ev}, ["accuracy"], rounds=50)
    assert np.all(paired["a"]["accuracy"] == paired["b"]["accuracy"])  # same resamples


def test_unequal_sample_counts_are_refused() -> None:
    task = build_task(SPECS["classification"])
    a, b = task.evaluator(), task.evaluator()
    a.update(torch.zeros(2, 3), torch.zeros(2, dtype=torch.int64))
    b.update(torch.zeros(3, 3), torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="equal sample counts"):
        bootstrap_metrics({"a": a, "b": b}, ["accuracy"], rounds=2)
