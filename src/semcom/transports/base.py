"""What crosses the link, as an object that owns its measurement.

A system declares its :class:`Transport` (``system.transport``): payload bytes
(:class:`~semcom.transports.payload.PayloadTransport`), analog complex symbols
(:class:`~semcom.transports.analog.AnalogTransport`), a simulated digital PHY
(:class:`~semcom.transports.phy.PHYTransport`) or nothing
(:class:`~semcom.transports.none.NoTransport`). The transport — not the evaluation loop, the
experiment or the server — knows

* how to run the system's real path over a test set and score it with the task's evaluator
  (:meth:`Transport.measure`, per SNR when the output depends on the channel), and how to time it
  (:meth:`Transport.time`);
* the rate and ratio fields of a record (:meth:`Transport.ratio_fields`) and what a sample costs
  on the link (:meth:`Transport.link_load`: units sent and their rate);
* the link statistics it measured (:attr:`Measurement.link_stats_by_snr`);
* whether the runtime can serve or export the system (:meth:`Transport.serve_refusal`,
  :meth:`Transport.export_refusal`).

The systems stay duck-type free: a transport calls only the methods its protocol names
(``device_encode`` / ``edge_decode``, ``analog_encode`` / ``analog_decode``, ``phy_transmit``,
``infer_local``).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypedDict

import torch
from torch import nn
from torch.utils.data import Dataset

from semcom.data.batch import fetch_batch, move_to
from semcom.latency.flops import count_flops, count_params, param_bytes
from semcom.tasks import Evaluator


@dataclass(frozen=True)
class MeasurePlan:
    """How to measure: the evaluation channel (``{"name": ..., **params}``), the SNRs (dB),
    the seed of the per-SNR noise, the batch size, how many samples to time one by one, and the
    torch device the networks run on (payload coding stays on the CPU), and the payloads' wire
    form (:mod:`semcom.coding.wire`)."""

    channel: dict[str, Any] | None = None
    snr_db: tuple[float, ...] = ()
    seed: int = 0
    batch_size: int = 256
    timing_samples: int = 32
    device: torch.device | str | None = None
    #: payload wire form where the system's layout allows it (config ``eval.header``).
    header: str = "compact"


@dataclass
class Measurement:
    """What running a system's real path over ``N`` test samples gave.

    Attributes:
        evaluators: the task's evaluator per evaluation SNR (dB), or one under key ``None`` when
            the output does not depend on the channel; each keeps its per-sample state, so
            metrics can be recomputed for the samples that met a deadline.
        payload_bits: float64 ``[N]``, real payload size, header included (0 when nothing is
            sent as bytes).
        estimated_bits: float64 ``[N]``, the entropy model's estimate of the body, or ``None``.
        header_bits: bits of the payload header (``None`` when nothing is sent as bytes).
        header_form: which wire form the payload bytes took (:mod:`semcom.coding.wire`).
        channel_uses: complex channel symbols per sample (symbol transports), else ``None``.
        link_stats_by_snr: what a simulated link did, per SNR (``None`` for other transports).
        measured_s: median wall time per sample of the device and edge paths here, seconds.
    """

    evaluators: dict[float | None, Evaluator]
    payload_bits: torch.Tensor
    estimated_bits: torch.Tensor | None
    header_bits: float | None
    device_flops: int
    edge_flops: int
    device_params: int
    edge_params: int
    device_param_bytes: int
    channel_uses: int | None = None
    link_stats_by_snr: dict[float, dict[str, Any]] | None = None
    measured_s: dict[str, float] = field(default_factory=dict)
    #: the payload form that crossed (``compact`` / ``self-describing``; ``None``: no bytes).
    header_form: str | None = None

    @property
    def samples(self) -> int:
        return len(self.payload_bits)

    def evaluator_at(self, snr_db: float) -> Evaluator:
        """The evaluator of ``snr_db`` (the SNR-independent one for channel-free outputs)."""
        if None in self.evaluators:
            return self.evaluators[None]
        return self.evaluators[float(snr_db)]

    @property
    def accuracy(self) -> float | None:
        """Mean per-sample score of the first evaluation (``None`` for set-level tasks)."""
        scores = next(iter(self.evaluators.values())).sample_scores()
        return float(scores.float().mean()) if scores is not None and len(scores) else None


def snr_generator(seed: int, snr_db: float) -> torch.Generator:
    """The noise generator of one evaluation SNR (seeded by the run's seed and the SNR)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + round(1000 * snr_db) % 2**31)


def flops_of(fn: Any, *args: Any) -> tuple[int, Any]:
    """FLOPs of one call and its result (``torch.utils.flop_counter``; 2 FLOPs per MAC)."""
    result: list[Any] = []
    flops = count_flops(lambda *a: result.append(fn(*a)), *args)
    return flops, result[0]


class ModuleCosts(TypedDict):
    """:func:`module_costs`: the :class:`Measurement` fields of the same names."""

    device_params: int
    edge_params: int
    device_param_bytes: int


def module_costs(system: Any) -> ModuleCosts:
    """Parameters of the device and edge modules, and the device's parameter + buffer bytes."""
    device: list[nn.Module] = system.device_modules()
    edge: list[nn.Module] = system.edge_modules()
    return {
        "device_params": count_params(device),
        "edge_params": count_params(edge),
        "device_param_bytes": param_bytes(device),
    }


def median_times(device_t: list[float], edge_t: list[float]) -> dict[str, float]:
    """``{"device", "edge"}`` medians (seconds) of per-sample wall times; ``{}`` if none."""
    if not device_t:
        return {}
    return {
        "device": float(torch.tensor(device_t).median()),
        "edge": float(torch.tensor(edge_t).median()),
    }


def time_halves(
    test_set: Dataset,
    samples: int,
    device: Any,
    device_side: Callable[[torch.Tensor], Any],
    edge_side: Callable[[Any], Any] | None = None,
) -> dict[str, float]:
    """Median wall time per sample (batch of one, the first ``samples`` test inputs on
    ``device``) of ``device_side(x)`` and of ``edge_side`` on what it returned, seconds; a
    transport without an edge side times 0 there."""
    device_t: list[float] = []
    edge_t: list[float] = []
    for i in range(min(samples, len(test_set))):  # type: ignore[arg-type]
        x = move_to(fetch_batch(test_set, torch.tensor([i])).inputs, device)
        t0 = time.perf_counter()
        sent = device_side(x)
        t1 = time.perf_counter()
        if edge_side is not None:
            edge_side(sent)
        t2 = time.perf_counter()
        device_t.append(t1 - t0)
        edge_t.append(t2 - t1 if edge_side is not None else 0.0)
    return median_times(device_t, edge_t)


def batches(test_set: Dataset, batch_size: int, device: Any = None) -> Any:
    """``(inputs, targets)`` of ``test_set`` in order, ``batch_size`` at a time, on ``device``."""
    n = len(test_set)  # type: ignore[arg-type]
    for start in range(0, n, batch_size):
        x, y = fetch_batch(test_set, torch.arange(start, min(start + batch_size, n)))
        yield move_to(x, device), y


def first_input(test_set: Dataset, device: Any = None) -> torch.Tensor:
    """The first test input as a batch of one ``[1, ...]`` (for FLOP counting)."""
    x, _ = fetch_batch(test_set, torch.arange(1))
    return move_to(x, device)


class Transport(ABC):
    """What crosses the link (module docstring)."""

    #: short name in records, tables and ``/v1/models``: ``digital``, ``analog``, ``phy``, ``none``.
    kind: ClassVar[str] = ""
    #: the output depends on the channel: measure on every evaluation channel at every SNR.
    depends_on_channel: ClassVar[bool] = False
    #: records carry the evaluation channel (``False``: one set of records, ``channel: none``).
    uses_channel: ClassVar[bool] = True
    #: per-sample fading gains decide the transfer time (rate ``B log2(1 + SNR |h|^2)``).
    uses_link_gains: ClassVar[bool] = False

    @abstractmethod
    def measure(self, system: Any, test_set: Dataset, plan: MeasurePlan) -> Measurement:
        """Run ``system``'s real path over ``test_set`` and score it with its task."""

    @abstractmethod
    def time(
        self, system: Any, test_set: Dataset, samples: int, device: Any = None
    ) -> dict[str, float]:
        """Median wall time per sample (batch of one) of the device and edge paths, seconds."""

    @abstractmethod
    def ratio_fields(self, system: Any, m: Measurement) -> dict[str, Any]:
        """Payload size and compression fields of a record (DESIGN.md: say which ratio)."""

    @abstractmethod
    def link_load(
        self,
        m: Measurement,
        gains: torch.Tensor,
        snr_db: float,
        bandwidth_hz: float,
        *,
        slot_s: float | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Per-sample units sent ``[N]``, their rate ``[N]`` (units/s) and the record's ``link``
        fields, at ``snr_db`` with per-sample power gains ``gains`` ``[N]`` — or, on a
        time-varying channel, ``[N, L]`` per slot of ``slot_s`` seconds (the rate is then the
        effective one: units over the time the slots take to carry them)."""

    def measured(
        self, system: Any, test_set: Dataset, plan: MeasurePlan, **fields: Any
    ) -> Measurement:
        """The :class:`Measurement` of ``fields`` with the system's module costs and, when the
        plan asks for it, the per-sample timing (:meth:`time`)."""
        m = Measurement(**fields, **module_costs(system))
        if plan.timing_samples > 0:
            m.measured_s = self.time(system, test_set, plan.timing_samples, plan.device)
        return m

    def channel_refusal(self, channel: dict[str, Any] | None) -> str | None:
        """Why this transport cannot cross the evaluation channel ``channel`` (an
        ``eval.channel`` entry; ``None``: it can). The evaluation leaves such a channel out of
        the system's records and says so."""
        return None

    def serve_refusal(self, system: Any) -> str | None:
        """Why the edge server cannot serve ``system`` over HTTP (``None``: it can)."""
        return f"its {self.kind} link sends no payload bytes"

    def export_refusal(self, system: Any) -> str:
        """Why the device part cannot be exported as ONNX + payload packing (one sentence)."""
        return f"its {self.kind} link sends no payload bytes"

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def finite_mean(rate: torch.Tensor) -> float | None:
    """Mean of the finite entries, or ``None`` when there are none."""
    finite = rate[torch.isfinite(rate)]
    return float(finite.mean()) if len(finite) else None


def nothing_sent(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Units ``0`` at rate ``inf`` for ``n`` samples."""
    return torch.zeros(n, dtype=torch.float64), torch.full((n,), math.inf, dtype=torch.float64)
