"""Runtime fixtures: a run directory of small untrained (but coding-ready) variants, and its app.

Variants (16×16 grey inputs, 4 classes, resnet-small split after layer2):

* ``aecnn_k=4`` / ``aecnn_k=2`` (global selection) and ``aecnn_k=4_ps`` (per-sample mask): one
  system, three payload layouts, so selection by payload check is exercised;
* ``qs_a`` / ``qs_b``: two ``quantized-split`` variants with the same payload layout (ambiguous
  without ``?model=``);
* ``offload-png``: the only variant of its system;
* ``bottlenet++`` (analog) and ``local`` (no link): listed, not served.

Weights are random (seeded), which is enough: the server must reproduce exactly what the same
stored system computes locally.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest
import torch

from semcom.coding import Payload
from semcom.storage.store import StoredSystem, load_run, save_system
from semcom.systems import BuildContext, build_system

VARIANTS: dict[str, tuple[str, dict]] = {
    "aecnn_k=4": ("aecnn", {"k": 4, "bits": 4}),
    "aecnn_k=2": ("aecnn", {"k": 2, "bits": 4}),
    "aecnn_k=4_ps": ("aecnn", {"k": 4, "bits": 4, "selection": "per-sample"}),
    "qs_a": ("quantized-split", {"channels": 4, "bits": 4}),
    "qs_b": ("quantized-split", {"channels": 4, "bits": 4, "lambda": 0.1}),
    "offload-png": ("offload-png", {}),
    "bottlenet++": ("bottlenet++", {}),
    "local": ("local", {}),
}
SERVED = ["aecnn_k=2", "aecnn_k=4", "aecnn_k=4_ps", "offload-png", "qs_a", "qs_b"]
CTX = BuildContext(
    num_classes=4, input_shape=(1, 16, 16), backbone="resnet-small", split_after="layer2"
)


def make_run(run_dir: Path) -> Path:
    """Write every variant of :data:`VARIANTS` (seeded random weights) to ``run_dir``."""
    for i, (variant, (name, params)) in enumerate(VARIANTS.items()):
        torch.manual_seed(100 + i)
        system = build_system(name, params, CTX)
        # random batch-norm statistics, so untrained outputs differ between inputs and variants
        for module in system.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
        system.prepare_for_coding()
        save_system(system, run_dir, variant)
    return run_dir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("runtime") / "run")


@pytest.fixture(scope="session")
def stored(run_dir) -> dict[str, StoredSystem]:
    """The run loaded once (the reference the server's answers are compared with)."""
    return load_run(run_dir)


def _images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 16, 16, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="session")
def make_images():
    """``make_images(n, seed=0)``: ``n`` inputs ``[n, 1, 16, 16]`` in ``[0, 1]``."""
    return _images


@pytest.fixture(scope="session")
def local_answer(stored):
    """``local_answer(variant, x)``: ``(payload bytes, logits [K])`` of one input ``[1, C, H, W]``
    computed in this process with the stored system (device and edge side)."""

    @torch.no_grad()
    def answer(variant: str, x: torch.Tensor) -> tuple[bytes, torch.Tensor]:
        system = stored[variant].system
        wire = system.device_encode(x)[0].to_bytes()
        return wire, system.edge_decode([Payload.from_bytes(wire)])[0]

    return answer


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """:func:`_free_port`."""
    return _free_port()


#: how long a child ``semcom serve`` may take to answer ``/v1/health`` (the CPUs are shared).
STARTUP_S = 300.0


class ServedProcess(NamedTuple):
    """A running ``semcom serve`` child: its base URL and process id."""

    url: str
    pid: int


@contextmanager
def serve_in_child(run_dir: Path, log: Path, *extra: str) -> Iterator[ServedProcess]:
    """``semcom serve run_dir`` in a child process on a free loopback port, one torch thread,
    output to ``log``; entered once ``/v1/health`` answers, stopped (terminated, then killed) on
    exit. A child that exits or is not up within :data:`STARTUP_S` fails with its log."""
    port = _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "semcom.cli", "serve", str(run_dir), "--port", str(port),
           "--log-level", "warning", *extra]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _healthy(url):
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"server not up after {STARTUP_S} s:\n{log.read_text()}")
            time.sleep(0.2)
        yield ServedProcess(url, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(url: str) -> bool:
    """Whether ``url`` answers ``/v1/health`` with 200 (``False`` while nothing listens yet)."""
    try:
        return httpx.get(url + "/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def serve_process() -> Callable[..., AbstractContextManager[ServedProcess]]:
    """:func:`serve_in_child`, for tests that run a real server process."""
    return serve_in_child
