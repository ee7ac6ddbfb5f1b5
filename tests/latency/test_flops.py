"""Cost counters: FLOPs are the analytic 2·MACs; shared tensors are counted once."""

from __future__ import annotations

import torch
from torch import nn

from semcom.latency.flops import count_flops, count_params, param_bytes


def test_conv_flops_are_twice_the_macs() -> None:
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    x = torch.zeros(2, 3, 10, 10)
    macs = (2 * 8 * 10 * 10) * (3 * 3 * 3)  # outputs x (C_in k k)
    assert count_flops(conv, x) == 2 * macs
    strided = nn.Conv2d(16, 32, 3, stride=2, padding=1, groups=2, bias=False)
    x = torch.zeros(1, 16, 8, 8)
    assert count_flops(strided, x) == 2 * (32 * 4 * 4) * (8 * 3 * 3)


def test_linear_flops_through_a_function() -> None:
    lin = nn.Linear(16, 4)
    assert count_flops(lambda t: lin(t), torch.zeros(5, 16)) == 2 * 5 * 16 * 4
    result = count_flops(lambda a, b: a @ b, torch.zeros(3, 7), torch.zeros(7, 2))
    assert result == 2 * 3 * 7 * 2
    assert isinstance(result, int)


def test_count_flops_does_not_record_gradients() -> None:
    lin = nn.Linear(4, 4)
    seen: list[bool] = []
    count_flops(lambda t: seen.append(lin(t).requires_grad), torch.zeros(1, 4))
    assert seen == [False]


def test_params_counted_once_and_bytes_include_buffers() -> None:
    shared = nn.Linear(4, 4)
    a, b = nn.Sequential(shared, nn.BatchNorm1d(4)), nn.Sequential(shared)
    assert count_params(a) == 20 + 8
    assert count_params([a, b]) == 20 + 8  # the shared Linear once
    assert count_params([b, b]) == 20
    assert param_bytes(a) == 4 * (20 + 8) + 4 * 8 + 8  # + BN running mean/var, int64 counter
    assert param_bytes([a, b]) == param_bytes(a)
    assert param_bytes(nn.Linear(4, 4).half()) == 2 * 20


def test_tied_weights_counted_once() -> None:
    emb, out = nn.Embedding(10, 6), nn.Linear(6, 10, bias=False)
    out.weight = emb.weight
    assert count_params(nn.ModuleList([emb, out])) == 60
