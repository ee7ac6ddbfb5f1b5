"""Request counters and latency histograms of the edge server, in Prometheus text format.

Hand-written (``prometheus_client`` is not a dependency): :class:`ServerMetrics` keeps

* ``semcom_requests_total{model, status}`` — ``POST /v1/infer`` answers by model and HTTP status
  (``model="none"`` when the request failed before a model was chosen);
* ``semcom_errors_total{kind}`` — failed requests by reason (``body_too_large``,
  ``bad_payload``, ``unknown_model``, ``rejected_payload``, ``decode_failed``, ``timeout``, ...);
* ``semcom_request_duration_seconds`` — histogram of the server time of every ``/v1/infer``
  request (from the handler's start to the response), seconds;
* ``semcom_stage_duration_seconds{stage}`` — histograms of ``parse``, ``decode`` and
  ``edge_compute`` of successful requests, seconds;
* ``semcom_in_flight_computations`` — edge computations queued or running;
* ``semcom_batch_size`` — histogram of the number of requests in each batch the edge ran
  (:mod:`semcom.runtime.batching`);
* ``semcom_process_start_time_seconds`` and ``semcom_worker_info{pid}``.

Label values come from the server's own vocabulary (variant ids it loaded, fixed error kinds), never
from request text, so the number of series is bounded. With ``semcom serve --workers N`` each
worker process keeps its own metrics: a scrape sees the worker that answered it.

>>> m = ServerMetrics(buckets=(0.01, 0.1))
>>> m.observe_request("aecnn_k=4", 200, 0.005, {"parse": 0.001})
>>> 'semcom_requests_total{model="aecnn_k=4",status="200"} 1' in m.render()
True
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping

#: Histogram bucket upper bounds, seconds (0.5 ms .. 10 s).
DEFAULT_BUCKETS: tuple[float, ...] = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)  # fmt: skip

#: Bucket upper bounds of the batch-size histogram, requests.
BATCH_BUCKETS: tuple[float, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256)

STAGES = ("parse", "decode", "edge_compute")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(float(value)) if isinstance(value, float) else str(value)


class Histogram:
    """Cumulative-bucket histogram (of seconds, or of batch sizes; not thread-safe on its own)."""

    def __init__(self, buckets: Iterable[float]) -> None:
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self.counts = [0] * (len(self.bounds) + 1)  # last: above every bound
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds
        self.count += 1

    def lines(self, name: str, labels: tuple[tuple[str, str], ...] = ()) -> list[str]:
        out = []
        running = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            out.append(f"{name}_bucket{_labels((*labels, ('le', _number(bound))))} {running}")
        out.append(f"{name}_sum{_labels(labels)} {_number(self.sum)}")
        out.append(f"{name}_count{_labels(labels)} {self.count}")
        return out


class ServerMetrics:
    """Thread-safe counters and histograms of one server process (see the module docstring)."""

    def __init__(self, buckets: Iterable[float] = DEFAULT_BUCKETS) -> None:
        self._lock = threading.Lock()
        self._buckets = tuple(buckets)
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.errors: dict[str, int] = defaultdict(int)
        self.duration = Histogram(self._buckets)
        self.stages = {stage: Histogram(self._buckets) for stage in STAGES}
        self.in_flight = 0
        self.batch_sizes = Histogram(BATCH_BUCKETS)
        self.start_time = time.time()

    def observe_request(
        self,
        model: str | None,
        status: int,
        seconds: float,
        stages: Mapping[str, float] | None = None,
        error: str | None = None,
    ) -> None:
        """Count one ``/v1/infer`` answer: ``model`` (``None`` if none was chosen), HTTP
        ``status``, server ``seconds``, per-stage seconds of a success, the error kind of a
        failure."""
        with self._lock:
            self.requests[(model or "none", int(status))] += 1
            if error is not None:
                self.errors[error] += 1
            self.duration.observe(seconds)
            for stage, value in (stages or {}).items():
                if stage in self.stages:
                    self.stages[stage].observe(value)

    def add_in_flight(self, delta: int) -> None:
        """Adjust the number of edge computations queued or running."""
        with self._lock:
            self.in_flight += delta

    def observe_batch(self, size: int) -> None:
        """Count one batch of ``size`` requests started on the edge."""
        with self._lock:
            self.batch_sizes.observe(size)

    def total_requests(self, status_class: int | None = None) -> int:
        """Requests counted so far; only those with status ``status_class``xx if given (e.g. 5)."""
        with self._lock:
            return sum(
                n
                for (_, status), n in self.requests.items()
                if status_class is None or status // 100 == status_class
            )

    def render(self) -> str:
        """The metrics in Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            lines = [
                "# HELP semcom_requests_total POST /v1/infer answers by model and HTTP status.",
                "# TYPE semcom_requests_total counter",
            ]
            for (model, status), n in sorted(self.requests.items()):
                lines.append(
                    f"semcom_requests_total{_labels((('model', model), ('status', str(status))))}"
                    f" {n}"
                )
            lines += [
                "# HELP semcom_errors_total Failed /v1/infer requests by reason.",
                "# TYPE semcom_errors_total counter",
            ]
            for kind, n in sorted(self.errors.items()):
                lines.append(f"semcom_errors_total{_labels((('kind', kind),))} {n}")
            lines += [
                "# HELP semcom_request_duration_seconds Server time of /v1/infer requests.",
                "# TYPE semcom_request_duration_seconds histogram",
                *self.duration.lines("semcom_request_duration_seconds"),
                "# HELP semcom_stage_duration_seconds Stages of successful requests.",
                "# TYPE semcom_stage_duration_seconds histogram",
            ]
            for stage, hist in self.stages.items():
                lines += hist.lines("semcom_stage_duration_seconds", (("stage", stage),))
            lines += [
                "# HELP semcom_in_flight_computations Edge computations queued or running.",
                "# TYPE semcom_in_flight_computations gauge",
                f"semcom_in_flight_computations {self.in_flight}",
                "# HELP semcom_batch_size Requests per batch run on the edge.",
                "# TYPE semcom_batch_size histogram",
                *self.batch_sizes.lines("semcom_batch_size"),
                "# HELP semcom_process_start_time_seconds Start of this worker, Unix time.",
                "# TYPE semcom_process_start_time_seconds gauge",
                f"semcom_process_start_time_seconds {_number(self.start_time)}",
                "# HELP semcom_worker_info This worker process (metrics are per worker).",
                "# TYPE semcom_worker_info gauge",
                f"semcom_worker_info{_labels((('pid', str(os.getpid())),))} 1",
            ]
        return "\n".join(lines) + "\n"
