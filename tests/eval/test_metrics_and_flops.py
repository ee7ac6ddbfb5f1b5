"""Metrics and cost counters: ratio conventions, analytic FLOP counts, shared-parameter dedupe."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from semcom.eval.flops import count_flops, count_params, param_bytes
from semcom.eval.metrics import channel_bandwidth_ratio, compression_ratio, top1_accuracy


def test_top1_accuracy() -> None:
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    assert top1_accuracy(logits, torch.tensor([1, 0, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="logits"):
        top1_accuracy(logits, torch.tensor([1, 0]))


def test_compression_and_bandwidth_ratios() -> None:
    assert compression_ratio(1000, 32000.0) == 1.0
    assert compression_ratio(128 * 8 * 8, 1024) == 256.0
    with pytest.raises(ValueError, match="payload_bits"):
        compression_ratio(10, 0)
    assert channel_bandwidth_ratio(3 * 32 * 32, 3 * 32 * 32 // 12) == pytest.approx(1 / 12)


def test_conv_and_linear_flops_are_twice_the_macs() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.zeros(2, 3, 10, 10)
    assert count_flops(conv, x) == 2 * (2 * 8 * 10 * 10) * (3 * 3 * 3)
    lin = nn.Linear(16, 4)
    assert count_flops(lambda t: lin(t), torch.zeros(5, 16)) == 2 * 5 * 16 * 4


def test_params_counted_once_and_bytes_include_buffers() -> None:
    shared = nn.Linear(4, 4)
    a, b = nn.Sequential(shared, nn.BatchNorm1d(4)), nn.Sequential(shared)
    assert count_params([a, b]) == 20 + 8
    assert param_bytes(a) == 4 * (20 + 8) + 4 * 8 + 8  # + BN running mean/var, int64 counter
