"""Training until the validation metric plateaus.

A phase with a :class:`Plateau` evaluates the system's primary task metric (accuracy, mIoU, ...)
on a validation split every ``every`` epochs and stops once the last ``evals`` evaluations gained
less than ``min_gain`` together: after evaluation ``i`` it stops when
``metric[i] - metric[i - evals] < min_gain``. The phase's ``epochs`` is then the most it trains.
Issue 8's definition is ``evals = 2`` and ``min_gain = 0.003`` (0.3 points of accuracy).

The validation pass (:func:`validation_score`) runs the phase's training graph (``path``) in eval
mode on every validation sample, with the per-sample SNRs of a noise-aware phase drawn from a
fixed seed, so two evaluations of the same weights agree exactly; it saves and restores the
global random state, so a phase that validates trains exactly as one that does not (up to the
stop).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from semcom.data.batch import fetch_batch, move_to
from semcom.systems import SplitSystem
from semcom.train.snr_sampling import sample_snr_db


@dataclass(frozen=True)
class Plateau:
    """Stop rule: evaluate every ``every`` epochs; stop when the last ``evals`` evaluations
    gained less than ``min_gain`` (metric units: 0.003 = 0.3 points of accuracy)."""

    every: float
    min_gain: float = 0.003
    evals: int = 2

    def __post_init__(self) -> None:
        if self.every <= 0 or self.evals < 1 or self.min_gain < 0:
            raise ValueError(f"plateau needs every > 0, evals >= 1 and min_gain >= 0; got {self}")

    def reached(self, history: Sequence[float]) -> bool:
        """Whether the metric values ``history`` (oldest first) have plateaued."""
        return len(history) > self.evals and history[-1] - history[-1 - self.evals] < self.min_gain

    def steps_between(self, steps_per_epoch: int) -> int:
        """Training steps between two evaluations (at least one)."""
        return max(1, round(self.every * steps_per_epoch))


@torch.no_grad()
def validation_score(
    system: SplitSystem,
    dataset: Dataset,
    *,
    path: str,
    snr_db: tuple[float, float] | None,
    batch_size: int,
    seed: int = 0,
    device: torch.device | None = None,
) -> float:
    """The primary task metric of ``system`` on all of ``dataset`` through training graph
    ``path`` in eval mode; ``snr_db``: per-sample SNRs (dB) drawn uniformly in this range from
    ``seed`` (``None``: the system's own default). Leaves the system in eval mode and the global
    random state as it found it."""
    task = system.task
    evaluator = task.evaluator()
    system.eval()
    n = len(dataset)  # type: ignore[arg-type]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, n, batch_size):
            index = torch.arange(start, min(start + batch_size, n))
            x, y = fetch_batch(dataset, index)
            snr = sample_snr_db(len(index), snr_db)
            x, y, snr = move_to((x, y, snr), device)
            extra = {"targets": y} if system.wants_targets else {}
            out = system(x, snr, path, **extra)
            evaluator.update(out.output, y)
    score = task.primary(evaluator.compute())
    if score is None:
        raise ValueError(f"the {task.kind} task gave no {task.primary_metric} on validation")
    return float(score)
