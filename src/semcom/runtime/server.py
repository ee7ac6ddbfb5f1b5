"""The edge server: FastAPI app that decodes device payloads and finishes the task.

Endpoints (JSON unless said otherwise):

* ``POST /v1/infer[?model=<variant id>]`` — body: one :class:`~semcom.coding.Payload` in
  either wire form (:mod:`semcom.coding.wire`): compact (a model identifier of ``/v1/models``;
  what the project's devices send for fixed-shape models) or self-describing
  (``application/octet-stream``, or no content type). Answer::

      {"model": variant, "system": name, "task": kind, <the task's answer>, "payload_bytes": int,
       "batch_size": int,
       "timing_ms": {"read", "parse", "queue", "decode", "edge_compute", "total_server"}}

  The task's answer (:meth:`semcom.tasks.Task.answer`): classification ``prediction``,
  ``logits``, ``probabilities``; segmentation ``mask_png`` (base64 PNG of class indices),
  ``height``, ``width``, ``classes``; detection ``boxes``, ``scores``, ``labels``,
  ``label_names``; multi-task one such answer per sub-task name. ``GET /v1/models`` states each
  variant's task and output schema.

  ``read`` is receiving the body, ``parse`` :meth:`Payload.from_bytes` + model selection +
  payload check, ``queue`` this request's wait for its batch to start, ``decode`` entropy / image
  decoding up to the first edge module, ``edge_compute`` the edge network, ``total_server`` the
  handler from start to answer (milliseconds). Concurrent requests for one model are decoded
  and run as one batch (:mod:`semcom.runtime.batching`, ``max_batch`` / ``batch_wait_ms``):
  ``decode`` and ``edge_compute`` are then the batch's times, and ``batch_size`` says how many
  requests shared them.
* ``GET /v1/health`` — ``{"status": "ok", "served": n, "pid", "uptime_s"}``.
* ``GET /v1/models`` — every variant of the run: served ones with the payload they accept, others
  with the reason they are not served (:class:`~semcom.runtime.catalog.ModelCatalog`).
* ``GET /v1/metrics`` — Prometheus text (:mod:`semcom.runtime.server_metrics`), per worker.

Validation, in this order, each failure a 4xx whose JSON ``{"error": kind, "detail": reason}``
says why: content type (415) → ``Content-Length`` above the body limit, or a body that grows past
it (413; a malformed length is 400) → body not received within ``read_timeout_s`` (408) →
the strict parse with the body limit and the largest served tensor as bounds (400 with the
parser's message: magic, version, truncation, CRC, ...; a compact payload whose model identifier
no served model has is 404) → model selection (404 / 422, see
:meth:`ModelCatalog.select`) → the model's payload check (422: shapes, parameters, chunks) → too
many computations pending (503; queued and running requests count) → decode + edge compute in a
batch on a compute thread, within ``compute_timeout_s`` of this request (504; a request still
queued is dropped unrun, one whose batch has started is finished in the background — its work is
bounded by the payload layout's sizes — and counts as pending until then).
Any exception raised while decoding a checked payload (a corrupt entropy-coded body whose CRC the
sender recomputed, an image that does not decode) is answered 422 ``decode_failed``: a payload can
never cause a 500.

Nothing is unpickled: models come from safetensors files (:mod:`semcom.storage.store`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from semcom.accel import resolve_device
from semcom.coding import Payload, PayloadError
from semcom.coding.compact import compact_model_id, from_compact_bytes, is_compact
from semcom.runtime.batching import BatchScheduler, JobResult
from semcom.runtime.catalog import ModelCatalog, SelectionError, ServedModel
from semcom.runtime.server_metrics import ServerMetrics
from semcom.storage.store import StoredSystem, load_run

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: Largest request body, bytes (the largest payload of a shipped config is a few kB).
DEFAULT_MAX_BODY_BYTES = 1 << 20
DEFAULT_COMPUTE_TIMEOUT_S = 10.0
DEFAULT_READ_TIMEOUT_S = 10.0
DEFAULT_MAX_PENDING = 256
#: Environment variable carrying :class:`ServerConfig` (JSON) to ``--workers`` processes.
ENV_CONFIG = "SEMCOM_SERVE_CONFIG"
_OCTET = "application/octet-stream"


@dataclass(frozen=True)
class ServerConfig:
    """Server settings.

    Attributes:
        max_body_bytes: largest accepted request body, bytes.
        compute_timeout_s: longest decode + edge compute before a 504, seconds.
        read_timeout_s: longest wait for the request body, seconds.
        compute_threads: threads running decode + edge compute (default: CPU count, at most 4).
        torch_threads: torch intra-op threads per worker (``None`` leaves torch's default).
        device: where the edge networks run (``auto``: CUDA, MPS, else CPU; payload decoding
            stays on the CPU).
        max_pending: computations queued or running before new requests get a 503.
        header_timeout_s: longest wait for a connection's request line and headers (408).
        worker_start_timeout_s: how long a ``--workers`` process may take to load before the
            health check may call it dead.
        max_worker_restarts: worker deaths after which ``semcom serve`` stops.
        max_batch: most concurrent requests for one model decoded and run as one batch
            (:mod:`semcom.runtime.batching`; 1: no batching).
        batch_wait_ms: how long a batch that is not full may wait for more requests, ms (0: a
            free compute thread takes whatever is queued at once).
    """

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    compute_timeout_s: float = DEFAULT_COMPUTE_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    compute_threads: int | None = None
    torch_threads: int | None = 1
    device: str = "auto"
    max_pending: int = DEFAULT_MAX_PENDING
    header_timeout_s: float = 10.0
    worker_start_timeout_s: float = 120.0
    max_worker_restarts: int = 5
    max_batch: int = 32
    batch_wait_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {self.max_body_bytes}")
        for name in ("compute_timeout_s", "read_timeout_s", "header_timeout_s",
                     "worker_start_timeout_s"):  # fmt: skip
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)}")
        for name in ("compute_threads", "torch_threads"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        from semcom.accel import check_device_name

        check_device_name(self.device)
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {self.max_pending}")
        if self.max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {self.max_batch}")
        if not self.batch_wait_ms >= 0:
            raise ValueError(f"batch_wait_ms must be >= 0, got {self.batch_wait_ms}")
        if self.max_worker_restarts < 0:
            raise ValueError(f"max_worker_restarts must be >= 0, got {self.max_worker_restarts}")

    @property
    def threads(self) -> int:
        """Compute threads actually used."""
        return self.compute_threads or max(1, min(4, os.cpu_count() or 1))


class _Reject(Exception):
    """A request answered with a 4xx/5xx error (kind and reason in the JSON body)."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.kind, self.detail = status, kind, detail


class EdgeService:
    """The state behind the app: catalog, compute pool, metrics, settings."""

    def __init__(self, catalog: ModelCatalog, config: ServerConfig) -> None:
        self.catalog = catalog
        self.config = config
        self.metrics = ServerMetrics()
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.threads, thread_name_prefix="semcom-edge"
        )
        self.batcher = BatchScheduler(
            self.pool,
            slots=config.threads,
            max_batch=config.max_batch,
            max_wait_s=config.batch_wait_ms / 1e3,
            on_pending=self.metrics.add_in_flight,
            on_batch=self.metrics.observe_batch,
        )
        self.started = time.time()
        self.max_elements = catalog.max_elements

    async def read_body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit() or len(declared) > 18:
                raise _Reject(400, "bad_request", f"malformed Content-Length {declared[:40]!r}")
            if int(declared) > limit:
                raise _Reject(
                    413,
                    "body_too_large",
                    f"body of {int(declared)} bytes exceeds the limit of {limit} bytes",
                )
        parts: list[bytes] = []
        size = 0

        async def collect() -> None:
            nonlocal size
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _Reject(413, "body_too_large", f"body exceeds the limit of {limit} bytes")
                parts.append(chunk)

        try:
            await asyncio.wait_for(collect(), self.config.read_timeout_s)
        except asyncio.TimeoutError:  # builtin TimeoutError from 3.11
            raise _Reject(
                408, "read_timeout", f"body not received within {self.config.read_timeout_s} s"
            ) from None
        return b"".join(parts)

    def parse(self, body: bytes) -> tuple[Payload, ServedModel | None]:
        """Strict parse with the body limit and the largest served tensor as bounds (400); a
        compact payload also gives the model its identifier names (404 if none has it)."""
        try:
            if not is_compact(body):
                payload = Payload.from_bytes(
                    body, max_bytes=self.config.max_body_bytes, max_elements=self.max_elements
                )
                return payload, None
            named = self.catalog.by_model_id(compact_model_id(body))
            if named is None or named.accepts is None or named.accepts.codec is None:
                ident = compact_model_id(body).hex()
                raise _Reject(
                    404,
                    "unknown_model",
                    f"compact payload for model id {ident}; served model ids: "
                    + (", ".join(self.catalog.model_ids()) or "none"),
                )
            codec = named.accepts.codec
            layouts = {codec.model_id: codec.layout}
            return from_compact_bytes(body, layouts, max_bytes=self.config.max_body_bytes), named
        except PayloadError as exc:
            raise _Reject(400, "bad_payload", f"malformed payload: {exc}") from None

    def select(
        self, payload: Payload, model: str | None, named: ServedModel | None = None
    ) -> ServedModel:
        """The model for ``payload`` (404 / 422, :meth:`ModelCatalog.select`); ``named``: the
        model a compact payload's identifier names."""
        if named is not None:
            if model is not None and model != named.variant:
                raise _Reject(
                    422,
                    "rejected_payload",
                    f"the payload's model id names variant {named.variant!r}, ?model= names "
                    f"{model[:80]!r}",
                )
            return named
        try:
            return self.catalog.select(payload, model)
        except SelectionError as exc:
            raise _Reject(exc.status, exc.kind, exc.message) from None

    @staticmethod
    def check(chosen: ServedModel, payload: Payload) -> None:
        """The model's own payload check: shapes, parameters, chunks (422)."""
        try:
            chosen.check(payload)
        except PayloadError as exc:
            raise _Reject(
                422, "rejected_payload", f"model {chosen.variant!r} rejects the payload: {exc}"
            ) from None

    async def compute(self, chosen: ServedModel, payload: Payload) -> JobResult:
        """Decode + edge compute of one checked payload, batched with concurrent requests for
        the same model (:mod:`semcom.runtime.batching`); 503 / 504 / 422 as the module says."""
        if self.batcher.pending >= self.config.max_pending:
            raise _Reject(
                503, "overloaded", f"{self.batcher.pending} computations pending; try again later"
            )
        job = self.batcher.submit(chosen, payload)
        try:
            result = await asyncio.wait_for(
                asyncio.shield(job.future), self.config.compute_timeout_s
            )
        except asyncio.TimeoutError:  # builtin TimeoutError from 3.11
            self.batcher.withdraw(job)  # never computed if its batch had not started
            raise _Reject(
                504,
                "timeout",
                f"decode + edge compute took longer than {self.config.compute_timeout_s} s",
            ) from None
        if result.error is not None or result.answer is None:
            raise _Reject(
                422,
                "decode_failed",
                f"model {chosen.variant!r} cannot decode the payload: {result.error}",
            )
        return result

    async def infer(self, request: Request) -> JSONResponse:
        t0 = time.perf_counter()
        chosen: ServedModel | None = None
        try:
            ctype = request.headers.get("content-type")
            if ctype is not None and ctype.split(";")[0].strip().lower() != _OCTET:
                raise _Reject(415, "unsupported_media_type", f"send {_OCTET}, not {ctype[:60]!r}")
            models = request.query_params.getlist("model")
            if len(models) > 1:
                raise _Reject(400, "bad_request", "give ?model= at most once")
            model = models[0] if models else None
            body = await self.read_body(request)
            t_read = time.perf_counter()
            payload, named = self.parse(body)
            chosen = self.select(payload, model, named)
            self.check(chosen, payload)
            t_parse = time.perf_counter()
            result = await self.compute(chosen, payload)
        except _Reject as rej:
            seconds = time.perf_counter() - t0
            self.metrics.observe_request(
                chosen.variant if chosen else None, rej.status, seconds, error=rej.kind
            )
            return JSONResponse({"error": rej.kind, "detail": rej.detail}, status_code=rej.status)
        t_end = time.perf_counter()
        stages = {
            "parse": t_parse - t_read,
            "decode": result.decode_s,
            "edge_compute": result.edge_s,
        }
        self.metrics.observe_request(chosen.variant, 200, t_end - t0, stages)
        timing = {
            "read": t_read - t0,
            "parse": t_parse - t_read,
            "queue": result.queue_s,
            "decode": result.decode_s,
            "edge_compute": result.edge_s,
            "total_server": t_end - t0,
        }
        return JSONResponse(
            {
                "model": chosen.variant,
                "system": chosen.system_name,
                "task": chosen.system.task.kind,
                **result.answer,  # type: ignore[dict-item]
                "payload_bytes": len(body),
                "batch_size": result.batch,
                "timing_ms": {k: 1e3 * v for k, v in timing.items()},
            }
        )


_ERROR_BODY = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string", "description": "the kind of failure"},
        "detail": {"type": "string", "description": "the reason, in words"},
    },
}
#: every failure of ``POST /v1/infer``: status → (error kinds, when).
ERRORS: dict[int, tuple[tuple[str, ...], str]] = {
    400: (
        ("bad_payload", "bad_request"),
        "the parser's reason: magic, version, truncation, CRC, limits",
    ),
    404: (
        ("unknown_model", "unknown_system"),
        "no such variant, no served variant of the system, or no served model with the compact "
        "payload's model id",
    ),
    408: (("read_timeout",), "the body (or the headers) did not arrive in time"),
    413: (("body_too_large",), "Content-Length or the streamed body over the body limit"),
    415: (("unsupported_media_type",), "a content type other than application/octet-stream"),
    422: (
        ("model_not_served", "rejected_payload", "ambiguous_model", "decode_failed"),
        "a variant not served; a payload the model does not take; several candidates; a body "
        "that does not decode",
    ),
    503: (("overloaded",), "too many computations pending"),
    504: (("timeout",), "decode + edge compute over the compute timeout"),
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": f"{when} ({', '.join(kinds)})",
        "content": {"application/json": {"schema": _ERROR_BODY}},
    }
    for status, (kinds, when) in ERRORS.items()
}
INFER_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": "model",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "the variant id (default: chosen from the payload's system)",
        }
    ],
    "requestBody": {
        "required": True,
        "description": "one semcom Payload (the device's bytes for one sample)",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    },
    "responses": {
        "200": {
            "description": "the task's answer: model, system, task, the task's fields "
            "(prediction / logits / probabilities; mask_png; boxes / scores / labels), "
            "payload_bytes, timing_ms",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
}


def create_app(
    source: str | Path | Mapping[str, StoredSystem],
    *,
    config: ServerConfig | None = None,
    **settings: Any,
) -> FastAPI:
    """The edge server app for a run directory or a dict of loaded variants.

    ``source``: ``RUN_DIR`` (its ``models/*.safetensors``) or ``{variant: StoredSystem}``.
    ``config`` or keyword ``settings`` (fields of :class:`ServerConfig`, e.g.
    ``max_body_bytes=4096``) set the limits. The app's ``state.service`` is the
    :class:`EdgeService` (catalog, metrics).
    """
    if config is None:
        config = ServerConfig(**settings)
    elif settings:
        raise TypeError("pass either config or keyword settings, not both")
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)
    broken: dict[str, str] = {}
    stored = load_run(source, broken) if isinstance(source, (str, Path)) else source
    catalog = ModelCatalog(stored, device=resolve_device(config.device), broken=broken)
    service = EdgeService(catalog, config)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.pool.shutdown(wait=False, cancel_futures=True)

    # /openapi.json describes every endpoint; the Swagger / ReDoc pages stay off: their default
    # assets come from a CDN, which an offline edge box cannot reach
    app = FastAPI(
        title="semcom edge server",
        lifespan=lifespan,
        version="1",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.service = service

    @app.post(
        "/v1/infer",
        summary="Decode one device payload and answer with the task's output",
        openapi_extra=INFER_OPENAPI,
        responses=ERROR_RESPONSES,
    )
    async def infer(request: Request) -> JSONResponse:
        return await service.infer(request)

    @app.get("/v1/health")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "served": len(service.catalog.served),
            "pid": os.getpid(),
            "uptime_s": time.time() - service.started,
        }

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "models": service.catalog.describe(),
            "limits": {
                "max_body_bytes": config.max_body_bytes,
                "compute_timeout_s": config.compute_timeout_s,
                "read_timeout_s": config.read_timeout_s,
                "max_pending": config.max_pending,
            },
        }

    @app.get(
        "/v1/metrics",
        response_class=PlainTextResponse,
        summary="Prometheus text exposition of this worker's counters",
    )
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(
            service.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return app
