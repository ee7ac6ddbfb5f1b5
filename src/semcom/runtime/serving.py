"""Running the edge server: the listening socket, the HTTP protocol, the worker processes.

:func:`serve` (``semcom serve``):

* **binds the port first**, before any model loads: a port in use or out of range is a
  :class:`ServeError` at once, not after "listening on …";
* runs uvicorn with :class:`HardenedH11Protocol` — ``TCP_NODELAY`` on every connection (the
  listening socket handed to ``--workers`` processes comes back with ``proto = 0``, and asyncio sets
  ``TCP_NODELAY`` only for ``IPPROTO_TCP``: every keep-alive answer then waited ~40 ms for the
  client's delayed ACK) and a **header timeout**: a connection that has not sent a whole request
  line and headers within ``header_timeout_s`` (from its opening, or from the end of its previous
  answer) gets ``408`` and is closed, so connections that never finish their headers cannot pile
  up;
* with ``workers > 1``, supervises the worker processes with :class:`GuardedMultiprocess`: a
  worker gets ``worker_start_timeout_s`` to import torch and load the run before the health check
  may declare it dead (uvicorn's default of 5 s killed every worker on a busy host, forever), and
  after ``max_worker_restarts`` deaths the server stops with a :class:`ServeError` that says so
  instead of restarting them in a loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

from semcom.accel import resolve_device
from semcom.runtime.catalog import ModelCatalog
from semcom.runtime.server import ENV_CONFIG, ServerConfig, create_app
from semcom.storage.store import load_run

logger = logging.getLogger("semcom.serve")
_TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class ServeError(RuntimeError):
    """The server cannot start or keep its workers alive; the message says why."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket on ``host:port`` (inheritable, for worker processes)."""
    if not 1 <= port <= 65535:
        raise ServeError(f"--port must be in 1..65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host!r} does not resolve: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        why = "the port is in use" if exc.errno == 98 else (exc.strerror or str(exc))
        raise ServeError(f"cannot listen on {host}:{port}: {why}") from None
    sock.set_inheritable(True)
    return sock


class HardenedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with ``TCP_NODELAY`` and a header timeout (module docstring)."""

    #: seconds a connection has to send a whole request line and headers.
    header_timeout_s: float = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._header_deadline)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_deadline(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_TIMEOUT_ANSWER)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # a request line or headers still to come
        else:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)


def protocol_with(header_timeout_s: float) -> type[HardenedH11Protocol]:
    """:class:`HardenedH11Protocol` with a given header timeout."""
    return type(
        "HardenedH11Protocol", (HardenedH11Protocol,), {"header_timeout_s": header_timeout_s}
    )


class GuardedMultiprocess(Multiprocess):
    """uvicorn's worker supervisor that gives up after ``max_restarts`` worker deaths."""

    def __init__(self, config: Any, sockets: list[socket.socket], max_restarts: int) -> None:
        super().__init__(config, sockets)
        self.max_restarts = max_restarts
        self.deaths = 0
        #: a worker failed before serving (the app or the run cannot load): uvicorn stops then.
        self.startup_failed = False

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        before = [p.pid for p in self.processes]
        super().keep_subprocess_alive()
        if self.should_exit.is_set() and any(p.exitcode == STARTUP_FAILURE for p in self.processes):
            self.startup_failed = True
        died = sum(1 for old, new in zip(before, self.processes, strict=True) if new.pid != old)
        if died:
            self.deaths += died
            if self.deaths > self.max_restarts:
                logger.error(
                    "workers died %d times (more than --max-worker-restarts %d): stopping",
                    self.deaths,
                    self.max_restarts,
                )
                self.should_exit.set()


def app_from_env() -> Any:
    """App factory for uvicorn worker processes: reads ``SEMCOM_SERVE_CONFIG`` (JSON with
    ``run_dir`` and the :class:`ServerConfig` fields) set by :func:`serve`."""
    raw = os.environ.get(ENV_CONFIG)
    if not raw:
        raise RuntimeError(f"{ENV_CONFIG} is not set; start the server with `semcom serve`")
    settings = json.loads(raw)
    run_dir = settings.pop("run_dir")
    config = ServerConfig(**settings)
    # The worker's protocol class is the module's own (a class made by protocol_with cannot
    # be pickled into a spawned worker): it takes the timeout here, before any connection.
    HardenedH11Protocol.header_timeout_s = config.header_timeout_s
    return create_app(run_dir, config=config)


def serve(
    run_dir: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    config: ServerConfig | None = None,
    log_level: str = "info",
    access_log: bool = False,
    announce: Callable[[ModelCatalog], None] | None = None,
) -> None:
    """Run the server until interrupted (``semcom serve``; module docstring).

    The port is bound first, then the run is loaded (a bad run directory fails before anything
    is served) and ``announce(catalog)`` (e.g. printing what is served) runs. With ``workers >
    1`` that many processes each load the run from the ``SEMCOM_SERVE_CONFIG`` environment
    variable (metrics are then per worker). Raises :class:`ServeError`.
    """
    import uvicorn

    config = config or ServerConfig()
    if workers < 1:
        raise ServeError(f"--workers must be >= 1, got {workers}")
    sock = bind_socket(host, port)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
        "server_header": False,
        "timeout_keep_alive": 5,
        "http": protocol_with(config.header_timeout_s),
        "timeout_worker_healthcheck": max(1, round(config.worker_start_timeout_s)),
    }
    try:
        if workers == 1:
            app = create_app(run_dir, config=config)
            if announce is not None:
                announce(app.state.service.catalog)
            server = uvicorn.Server(uvicorn.Config(app, **common))
            server.run(sockets=[sock])
            return
        broken: dict[str, str] = {}
        catalog = ModelCatalog(  # fail early, in the parent
            load_run(run_dir, broken), device=resolve_device(config.device), broken=broken
        )
        if announce is not None:
            announce(catalog)
        del catalog
        settings = {"run_dir": str(Path(run_dir).resolve()), **asdict(config)}
        os.environ[ENV_CONFIG] = json.dumps(settings)
        factory = "semcom.runtime.serving:app_from_env"
        common["http"] = HardenedH11Protocol  # app_from_env sets its timeout in each worker
        uv_config = uvicorn.Config(factory, factory=True, workers=workers, **common)
        supervisor = GuardedMultiprocess(uv_config, [sock], config.max_worker_restarts)
        supervisor.run()
        if supervisor.startup_failed:
            raise ServeError("a worker process failed to start (see the log above)")
        if supervisor.deaths > supervisor.max_restarts:
            raise ServeError(
                f"the worker processes died {supervisor.deaths} times (see the log above; a "
                "worker that needs longer to load the run needs a larger --worker-start-timeout)"
            )
    finally:
        sock.close()
