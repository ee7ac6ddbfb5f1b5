"""Data-parallel training reproduces one process: two DDP ranks (gloo, CPU) that share every
step's global batch (interleaved shards) and normalise over it (``sync_batchnorm``) end a phase
with the weights one process reaches, to float tolerance.

The phase uses SGD: its update is linear in the gradient, so equal gradients (up to summation
order, ~1e-7) give equal weights: 3e-7 in the worst weight here. Adam's first steps are close to
``lr * sign(grad)``, which turns float noise in a near-zero gradient into up to ``2 * lr`` for
that weight: the same run under Adam (lr 5e-3) agrees to 4e-3 in the worst weight."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def _train(out: Path, world: int, *, sync_bn: bool, system: str = "local", params: str = "{}",
           epochs: float = 1.0) -> dict:  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(world):
        env = {**os.environ, "RANK": str(rank), "LOCAL_RANK": str(rank),
               "WORLD_SIZE": str(world), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port),
               "OMP_NUM_THREADS": "1"}  # fmt: skip
        args = [str(out / "weights.pt"), system, "1" if sync_bn else "0", str(out / "ckpt"),
                params, str(epochs)]  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, str(WORKER), *args], env=env,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    return torch.load(out / "weights.pt")


def _max_difference(a: dict, b: dict) -> float:
    return max(
        float((a[k].double() - b[k].double()).abs().max()) for k in a if a[k].is_floating_point()
    )


def test_two_ranks_with_sync_batchnorm_reach_the_one_process_weights(tmp_path: Path) -> None:
    one = _train(tmp_path / "one", 1, sync_bn=True)
    two = _train(tmp_path / "two", 2, sync_bn=True)
    plain = _train(tmp_path / "plain", 2, sync_bn=False)
    assert one.keys() == two.keys()
    synced_gap = _max_difference(one, two)
    per_rank_gap = _max_difference(one, plain)
    assert synced_gap < 1e-5, synced_gap  # 3e-7 here
    assert per_rank_gap > 0.01  # per-rank statistics move the weights visibly (0.1 here)


@pytest.mark.parametrize(
    ("system", "params", "epochs", "tolerance"),
    [
        # channel noise and a noise level drawn every step: the ranks draw the global batch's
        # noise (semcom.sharded_batch). Over a whole epoch the quantiser's rounding turns float
        # summation order into visible differences (1e-4 after five steps), so two steps here.
        ("bottlenet++", "{}", 0.2, 1e-5),
        # a phase that trains the entropy model without a rate term: DDP must see that those
        # parameters get no gradient (it hung before); channel importance is a global-batch mean
        ("aecnn", '{"k": 4, "bits": 2}', 1.0, 1e-3),
    ],
)
def test_noise_trained_systems_match_one_process(tmp_path: Path, system, params, epochs,
                                                 tolerance) -> None:  # fmt: skip
    one = _train(tmp_path / "one", 1, sync_bn=True, system=system, params=params, epochs=epochs)
    two = _train(tmp_path / "two", 2, sync_bn=True, system=system, params=params, epochs=epochs)
    assert _max_difference(one, two) < tolerance
