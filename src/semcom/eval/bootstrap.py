"""Bootstrap standard errors of set-level metrics (mAP, mIoU) and of their differences between
systems scored on the same test samples.

A binomial standard error fits a per-sample score (top-1); mAP and mIoU are ratios over the whole
set, so their noise comes from resampling the test set: draw ``N`` sample indices with
replacement, recompute each metric on them (:meth:`~semcom.tasks.Evaluator.subset`), repeat
``rounds`` times. For two systems evaluated on the same samples the *paired* resample (the same
indices for both) gives the standard error of their difference, which is what "A is within 2
points of B" needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from semcom.tasks import Evaluator


def bootstrap_metrics(
    evaluators: Mapping[str, Evaluator],
    metrics: Sequence[str],
    rounds: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """``{system: {metric: values [rounds]}}`` over paired resamples of the evaluators' samples
    (every evaluator must hold the same number of samples, in the same order)."""
    counts = {name: ev.count for name, ev in evaluators.items()}
    if len(set(counts.values())) != 1:
        raise ValueError(f"paired resampling needs equal sample counts, got {counts}")
    n = next(iter(counts.values()))
    gen = torch.Generator().manual_seed(seed)
    out = {name: {m: np.zeros(rounds) for m in metrics} for name in evaluators}
    for r in range(rounds):
        index = torch.randint(0, n, (n,), generator=gen)
        for name, ev in evaluators.items():
            values = ev.subset(index).compute()
            for m in metrics:
                v = values.get(m)
                out[name][m][r] = np.nan if v is None else float(v)
    return out


def standard_error(values: np.ndarray) -> float:
    """The bootstrap standard error (sample standard deviation of the resampled values)."""
    finite = values[np.isfinite(values)]
    return float(finite.std(ddof=1)) if len(finite) > 1 else float("nan")
