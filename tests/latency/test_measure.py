"""The measured CPU profile: positive and plausible, cached once, side-effect free."""

from __future__ import annotations

import pytest
import torch

from semcom.latency import get_profile, measure_cpu_profile


def test_measured_cpu_profile_is_plausible() -> None:
    p = measure_cpu_profile("probe", seconds=0.0, batch=1, min_runs=2)
    assert p.name == "probe"
    assert 1e7 < p.flops_per_s < 1e14  # from a slow shared core to a big many-core server
    assert "measured" in p.source and "median of 2" in p.source


def test_measurement_leaves_rng_and_threads_alone() -> None:
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    state = torch.get_rng_state()
    p = measure_cpu_profile(seconds=0.0, batch=1, min_runs=1, threads=1)
    assert "1 torch thread" in p.description
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        measure_cpu_profile(seconds=-1.0)
    with pytest.raises(ValueError, match="threads"):
        measure_cpu_profile(threads=0)


@pytest.mark.slow  # measures for about a second
def test_this_cpu_is_measured_once_and_cached() -> None:
    p = get_profile("this-cpu")
    assert p.name == "this-cpu" and p.flops_per_s > 0
    assert get_profile("this-cpu") is p
