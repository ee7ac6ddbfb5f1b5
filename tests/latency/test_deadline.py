"""Accuracy within a deadline: right and on time, or it does not count."""

from __future__ import annotations

import math

import pytest
import torch

from semcom.latency import accuracy_within_deadline


def test_late_correct_answers_count_as_wrong() -> None:
    correct = torch.tensor([True, True, False, True])
    total = torch.tensor([0.01, 0.2, 0.01, 0.05], dtype=torch.float64)
    assert accuracy_within_deadline(correct, total, 0.1) == pytest.approx(0.5)
    assert accuracy_within_deadline(correct, total, 1.0) == pytest.approx(0.75)  # = accuracy
    assert accuracy_within_deadline(correct, total, 0.0) == 0.0


def test_boundary_and_non_finite_latencies() -> None:
    correct = torch.tensor([True, True, True])
    total = torch.tensor([0.1, math.inf, math.nan], dtype=torch.float64)
    assert accuracy_within_deadline(correct, total, 0.1) == pytest.approx(1 / 3)  # 0.1 <= 0.1


def test_one_latency_for_all_samples() -> None:
    correct = torch.tensor([True, True, False, True])
    assert accuracy_within_deadline(correct, 0.01, 0.1) == pytest.approx(0.75)
    assert accuracy_within_deadline(correct, math.inf, 0.1) == 0.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        accuracy_within_deadline(torch.tensor([], dtype=torch.bool), 0.0, 1.0)
    with pytest.raises(ValueError, match="total_latency_s"):
        accuracy_within_deadline(torch.tensor([True, False]), torch.zeros(3), 1.0)
    with pytest.raises(ValueError, match="deadline_s"):
        accuracy_within_deadline(torch.tensor([True]), 0.0, -1.0)
