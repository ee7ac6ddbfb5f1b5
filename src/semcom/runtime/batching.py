"""Dynamic batching at the edge: concurrent requests for one model decoded and run as one batch.

Triton's dynamic batcher, scheduled opportunistically. The server has ``slots`` compute threads.
A checked request becomes a :class:`Job` in the queue of its model and payload shape; whenever a
slot is free, the queue whose oldest job has waited longest is taken whole (up to ``max_batch``
jobs) and run as one :meth:`~semcom.runtime.catalog.ServedModel.decode_batch` in the free slot.
So a lone request starts at once — at one client nothing waits for company — and under load the
requests that arrive while the slots are busy leave together. ``max_wait_s > 0`` additionally holds
a queue that is not yet full for up to that long after its oldest job arrived, to gather a bigger
batch at the cost of latency (Triton's ``max_queue_delay``); the default is 0.

Per request, inside a batch:

* **pending limit** — every job counts from :meth:`BatchScheduler.submit` until its batch has
  finished (or until it is withdrawn while still queued): :attr:`BatchScheduler.pending`;
* **timeout** — the caller waits for its own job; a job withdrawn by the caller's timeout before
  its batch started is dropped from the queue and never computed; once started, its batch runs to
  the end (the work is bounded: payload sizes are bounded by the model's layout) and the result
  is discarded;
* **timing** — ``queue_s`` is the job's own wait from submission to its batch's start;
  ``decode_s`` and ``edge_s`` are the wall times of the batch it was in (what the request waited
  for), and ``batch`` says how many requests shared them.

A batch whose decoding fails (one corrupt body among good ones) is decoded again one payload at a
time, so only the bad payloads fail. All scheduling runs on the event loop's thread; only
:meth:`BatchScheduler._run` runs in the pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from semcom.coding import Payload
from semcom.runtime.catalog import ServedModel


@dataclass(frozen=True)
class JobResult:
    """What one request gets back: its ``answer`` (or ``error``), its own ``queue_s``, its batch's
    ``decode_s`` / ``edge_s`` (seconds) and the ``batch`` size."""

    answer: dict[str, Any] | None
    error: str | None
    queue_s: float
    decode_s: float
    edge_s: float
    batch: int


@dataclass(eq=False)
class Job:
    """One checked request waiting for, or in, a batch."""

    model: ServedModel
    payload: Payload
    submitted: float
    future: asyncio.Future[JobResult]
    started: bool = False
    key: Hashable = field(default=None)


class BatchScheduler:
    """Queues of jobs per (model, payload shapes) and the slots that run them (module docstring).

    Args:
        pool: the executor whose threads run the batches.
        slots: batches running at once (the pool's thread count).
        max_batch: most jobs in one batch (1: no batching).
        max_wait_s: how long a queue that is not full may wait for more jobs, seconds.
        on_pending: called with ``+1`` / ``-1`` as jobs enter and leave (metrics).
        on_batch: called with the size of every batch started (metrics).
    """

    def __init__(
        self,
        pool: concurrent.futures.Executor,
        *,
        slots: int,
        max_batch: int = 32,
        max_wait_s: float = 0.0,
        on_pending: Callable[[int], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if slots < 1 or max_batch < 1 or max_wait_s < 0:
            raise ValueError("slots and max_batch must be >= 1 and max_wait_s >= 0")
        self.pool = pool
        self.slots = slots
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_pending = on_pending or (lambda delta: None)
        self.on_batch = on_batch or (lambda size: None)
        self.queues: dict[Hashable, deque[Job]] = {}
        self.running = 0
        self.pending = 0
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ event-loop side
    def submit(self, model: ServedModel, payload: Payload) -> Job:
        """Queue a checked ``payload`` for ``model``; await ``job.future`` for the result."""
        loop = asyncio.get_running_loop()
        key = (model.variant, tuple(tuple(s) for s in payload.shapes))
        job = Job(model, payload, time.perf_counter(), loop.create_future(), key=key)
        self.queues.setdefault(key, deque()).append(job)
        self._enter(1)
        self._dispatch()
        return job

    def withdraw(self, job: Job) -> bool:
        """Drop ``job`` if its batch has not started (its caller gave up); ``True`` if dropped."""
        if job.started:
            return False
        queue = self.queues.get(job.key)
        if queue is None or job not in queue:
            return False
        queue.remove(job)
        if not queue:
            del self.queues[job.key]
        self._enter(-1)
        return True

    def _enter(self, delta: int) -> None:
        self.pending += delta
        self.on_pending(delta)

    def _dispatch(self) -> None:
        """Start batches while slots are free (oldest queue first); arm the wait timer."""
        now = time.perf_counter()
        next_due: float | None = None
        for key in sorted(self.queues, key=lambda k: self.queues[k][0].submitted):
            if self.running >= self.slots:
                break
            queue = self.queues[key]
            due = queue[0].submitted + self.max_wait_s
            if len(queue) < self.max_batch and due > now:
                next_due = due if next_due is None else min(next_due, due)
                continue
            batch = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
            if not queue:
                del self.queues[key]
            self._start(batch)
        if next_due is not None and self.running < self.slots and self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(0.0, next_due - now), self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

    def _start(self, batch: list[Job]) -> None:
        for job in batch:
            job.started = True
        self.running += 1
        self.on_batch(len(batch))
        loop = asyncio.get_running_loop()
        done = self.pool.submit(self._run, batch)

        def finished(future: concurrent.futures.Future[list[JobResult]]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: shutting down
                loop.call_soon_threadsafe(self._finished, batch, future)

        done.add_done_callback(finished)

    def _finished(
        self, batch: list[Job], future: concurrent.futures.Future[list[JobResult]]
    ) -> None:
        self.running -= 1
        self._enter(-len(batch))
        error: BaseException | None = (
            asyncio.CancelledError() if future.cancelled() else future.exception()
        )
        for i, job in enumerate(batch):
            if job.future.done():  # its caller stopped waiting
                continue
            if error is not None:
                job.future.set_exception(error)
            else:
                job.future.set_result(future.result()[i])
        self._dispatch()

    # ------------------------------------------------------------------ pool side
    @staticmethod
    def _run(batch: list[Job]) -> list[JobResult]:
        """Decode and answer ``batch`` (runs in a pool thread); one result per job."""
        started = time.perf_counter()
        model = batch[0].model
        try:
            outputs, decode_s, edge_s = model.decode_batch([job.payload for job in batch])
        except (KeyboardInterrupt, SystemExit):  # pragma: no cover - process shutdown
            raise
        except BaseException as exc:  # noqa: BLE001 - includes native-extension panics
            if len(batch) > 1:  # find the bad payloads: each alone
                return [BatchScheduler._run([job])[0] for job in batch]
            return [JobResult(None, f"{type(exc).__name__}: {exc}",
                              started - batch[0].submitted, 0.0, 0.0, 1)]  # fmt: skip
        results = []
        for job, output in zip(batch, outputs, strict=True):
            queue_s = started - job.submitted
            try:
                answer = model.answer(output)
            except Exception as exc:  # noqa: BLE001 - one sample's answer, not the batch
                results.append(JobResult(None, f"{type(exc).__name__}: {exc}", queue_s,
                                         decode_s, edge_s, len(batch)))  # fmt: skip
                continue
            results.append(JobResult(answer, None, queue_s, decode_s, edge_s, len(batch)))
        return results
