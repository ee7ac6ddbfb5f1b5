"""The device–edge runtime over loopback: protocol overhead, throughput, emulated link vs model.

Starts real ``semcom serve`` processes on 127.0.0.1 and measures, with the PyTorch device part
running in this process (one torch thread):

* ``overhead`` — batch 1, sequential requests on one keep-alive connection (``infer_one``):
  p50 / p99 of the end-to-end time and of the **protocol overhead** = total − device compute −
  edge decode − edge network (what HTTP, JSON, the payload parse, model selection, the thread
  hand-off and the loopback cost). Target: overhead p50 <= 3 ms.
* ``batching`` — in this process, one torch thread: the edge time per sample of one
  ``decode_batch`` of b = 1..64 AECNN payloads, and how often a prediction of a batch of 64
  differs from the same payload decoded alone (printed: flips and the largest logit difference).
* ``throughput`` — requests/s against 1..64 concurrent clients (each a keep-alive connection of a
  small asyncio HTTP/1.1 load generator sending precomputed AECNN payloads; every answer's
  prediction is checked) for one worker unbatched (``--max-batch 1``), one worker with dynamic
  batching (the default ``--max-batch 32``) and two workers batched; errors = non-200, wrong
  prediction, or a broken connection. Also plotted: ``results/runtime_throughput.png``. Client
  and server share this machine's CPUs.
* ``target`` — dynamic batching against the unbatched server of the same run: throughput at 64
  clients >= 1.5x, edge compute per sample at batch 64 <= 0.3x batch 1's, p99 at one client
  <= 1.2x.
* ``link`` — end-to-end latency with the uplink emulated (``LinkEmulator``: rate R, loss P,
  256-byte packets) against the latency model of ``semcom.latency.model``,
  ``T = T_device + bits / R / (1 - P) + T_edge + T_overhead`` (``T_device``, ``T_edge`` and the
  fixed per-request ``T_overhead`` are medians measured in the overhead part without the emulated
  link, on requests sent after 20 ms idle — as a link-held request arrives at an idle server —
  a calibration, not a fit to the link cells; ``after_idle_*`` columns);
  ``ratio`` = mean measured / mean model. Target: within 20 %. ``ratio_without_overhead`` is
  against the simulation's model (``T_overhead = 0``), which is short by the ~2 ms of protocol
  cost wherever the link takes only a few ms.

Default run: builds small untrained (prepared-for-coding) systems in the Fashion-MNIST context
(1×28×28, 10 classes, resnet-small split after layer2) — enough for protocol timing — and sends
Fashion-MNIST test images when they are installed (random images otherwise). ``--run DIR`` serves
a trained run instead.

Run: ``.venv/bin/python benchmarks/bench_runtime.py [--run RUN_DIR] [--quick]``. Writes
``benchmarks/results/runtime.json`` and ``benchmarks/results/runtime_throughput.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, format_value, report  # noqa: E402

from semcom.latency import latency  # noqa: E402
from semcom.runtime.client import EdgeClient, TorchDevice, infer_one  # noqa: E402
from semcom.runtime.link_emulator import LinkEmulator  # noqa: E402
from semcom.storage.store import load_run, save_system  # noqa: E402
from semcom.systems import BuildContext, build_system  # noqa: E402

CTX = BuildContext(10, (1, 28, 28), "resnet-small", "layer2", "fashion-mnist")
VARIANTS = {
    "aecnn_k=4_bits=4": ("aecnn", {"k": 4, "bits": 4}),
    "quantized-split_channels=8_bits=4": ("quantized-split", {"channels": 8, "bits": 4}),
    "offload-raw": ("offload-raw", {}),
}
THROUGHPUT_VARIANT = "aecnn_k=4_bits=4"
LINK_CELLS = [(5e4, 0.0), (5e4, 0.1), (5e4, 0.3), (2e5, 0.0), (2e5, 0.1), (2e5, 0.3), (1e6, 0.0)]
LINK_MTU = 256
OVERHEAD_TARGET_MS = 3.0
IDLE_GAP_S = 0.02  # idle time before each calibration request of the link model
RATIO_TARGET = 0.2
DEFAULT_MAX_BATCH = 32  # ServerConfig's default
#: (workers, --max-batch) of the throughput servers: unbatched and batched with one worker (the
#: targets compare these two), batched with two.
THROUGHPUT_SERVERS = [(1, 1), (1, DEFAULT_MAX_BATCH), (2, DEFAULT_MAX_BATCH)]
THROUGHPUT_GAIN_TARGET = 1.5  # rps at 64 clients, batched / unbatched
EDGE_PER_SAMPLE_TARGET = 0.3  # edge compute per sample at batch 64 / at batch 1
P99_ONE_CLIENT_TARGET = 1.2  # p99 at one client, batched / unbatched


# ------------------------------------------------------------------------------------ setup
def build_run(run_dir: Path) -> Path:
    for i, (variant, (name, params)) in enumerate(VARIANTS.items()):
        torch.manual_seed(i)
        system = build_system(name, params, CTX)
        system.prepare_for_coding()
        save_system(system, run_dir, variant)
    return run_dir


def test_images(shape: tuple[int, int, int], n: int) -> tuple[torch.Tensor, str]:
    """``n`` inputs ``[n, C, H, W]``: Fashion-MNIST test images if installed and of that shape."""
    if shape == (1, 28, 28):
        try:
            from semcom.data import build_dataset, fetch_batch, take_first

            _, test, _ = build_dataset("fashion-mnist", None)
            x, _ = fetch_batch(take_first(test, n), torch.arange(n))
            return x.float(), "fashion-mnist test"
        except Exception as exc:  # no data set here: random images time the same protocol
            print(f"(Fashion-MNIST unavailable: {exc}; using random images)")
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, *shape, generator=g), "random"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(run_dir: Path, workers: int, max_batch: int = DEFAULT_MAX_BATCH) -> Iterator[str]:
    """A ``semcom serve`` process; yields its URL once ``/v1/health`` answers."""
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "semcom.cli", "serve", str(run_dir), "--port", str(port),
           "--workers", str(workers), "--log-level", "warning",
           "--max-batch", str(max_batch)]  # fmt: skip
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError(f"server did not start:\n{log.read().decode()}")
            try:
                if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def pct(values: list[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``values``, linear interpolation."""
    data = sorted(values)
    pos = q * (len(data) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


# ------------------------------------------------------------------------------------ overhead
def measure_overhead(url: str, devices: dict[str, TorchDevice], x: torch.Tensor, n: int):
    rows, calibration = [], {}
    with EdgeClient(url) as client:
        for variant, device in devices.items():
            results = []
            for i in range(n + 20):
                r = infer_one(device, client, x[i % len(x)][None])
                if i >= 20:  # warm-up discarded
                    results.append(r)
            overhead = [1e3 * r.overhead_s for r in results]
            total = [1e3 * r.total_s for r in results]
            device_ms = [1e3 * r.device_s for r in results]
            edge_ms = [1e3 * r.edge_compute_s for r in results]
            # The same request after an idle gap (client and server asleep, as while an
            # emulated link holds the bytes): waking both sides costs more than back-to-back.
            idle = []
            for i in range(max(10, n // 8)):
                time.sleep(IDLE_GAP_S)
                idle.append(infer_one(device, client, x[i % len(x)][None]))
            idle_overhead = [1e3 * r.overhead_s for r in idle]
            idle_device = [1e3 * r.device_s for r in idle]
            idle_edge = [1e3 * r.edge_compute_s for r in idle]
            calibration[variant] = (
                statistics.median(idle_device) / 1e3,
                statistics.median(idle_edge) / 1e3,
                statistics.median(idle_overhead) / 1e3,
            )
            rows.append(
                {
                    "kind": "overhead",
                    "variant": variant,
                    "requests": len(results),
                    "payload_bytes": statistics.fmean(r.payload_bytes for r in results),
                    "device_p50_ms": statistics.median(device_ms),
                    "edge_p50_ms": statistics.median(edge_ms),
                    "parse_p50_ms": statistics.median(r.server_ms["parse"] for r in results),
                    "total_p50_ms": statistics.median(total),
                    "total_p99_ms": pct(total, 0.99),
                    "overhead_p50_ms": statistics.median(overhead),
                    "overhead_p99_ms": pct(overhead, 0.99),
                    "meets_3ms": statistics.median(overhead) <= OVERHEAD_TARGET_MS,
                    "after_idle_device_p50_ms": statistics.median(idle_device),
                    "after_idle_edge_p50_ms": statistics.median(idle_edge),
                    "after_idle_overhead_p50_ms": statistics.median(idle_overhead),
                }
            )
    return rows, calibration


# ------------------------------------------------------------------------------------ throughput
async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)


async def _load(url: str, items: list[tuple[bytes, int]], clients: int, warmup: float,
                duration: float) -> dict:  # fmt: skip
    host, port = url.removeprefix("http://").split(":")
    t_start = time.perf_counter()
    t_measure, t_end = t_start + warmup, t_start + warmup + duration
    latencies: list[float] = []
    errors = 0

    async def client(c: int) -> None:
        nonlocal errors
        k = c
        reader = writer = None
        while time.perf_counter() < t_end:
            request, expected = items[k % len(items)]
            k += clients
            t0 = time.perf_counter()
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(request)
                await writer.drain()
                status, body = await _read_response(reader)  # type: ignore[arg-type]
                good = status == 200 and json.loads(body)["prediction"] == expected
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                good = False
                writer = None
            t1 = time.perf_counter()
            if t0 >= t_measure and t1 <= t_end:
                latencies.append(t1 - t0)
                errors += not good
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client(c) for c in range(clients)))
    return {
        "requests": len(latencies),
        "rps": len(latencies) / duration,
        "p50_ms": 1e3 * statistics.median(latencies) if latencies else None,
        "p99_ms": 1e3 * pct(latencies, 0.99) if latencies else None,
        "errors": errors,
    }


def throughput_items(stored, x: torch.Tensor) -> list[tuple[bytes, int]]:
    """HTTP requests (precomputed payloads) with the prediction the server must give."""
    from semcom.coding import Payload

    system = stored[THROUGHPUT_VARIANT].system
    items = []
    with torch.inference_mode():
        for i in range(min(64, len(x))):
            body = system.device_encode(x[i][None])[0].to_bytes()
            expected = int(system.edge_decode([Payload.from_bytes(body)]).argmax())
            head = (
                f"POST /v1/infer?model={quote(THROUGHPUT_VARIANT)} HTTP/1.1\r\nHost: bench\r\n"
                f"Content-Type: application/octet-stream\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            items.append((head.encode() + body, expected))
    return items


# ------------------------------------------------------------------------------------ batching
def measure_batching(stored, x: torch.Tensor, repeats: int) -> tuple[list[dict], dict]:
    """In-process, one torch thread: edge time per sample of one batch of ``b`` payloads
    (:meth:`ServedModel.decode_batch`) for b = 1..64, and how often a batch-64 prediction
    differs from the same payload decoded alone (argmax flips) with the largest logit gap."""
    from semcom.coding import Payload
    from semcom.runtime.catalog import ModelCatalog

    catalog = ModelCatalog({THROUGHPUT_VARIANT: stored[THROUGHPUT_VARIANT]}, device="cpu")
    model = catalog.models[THROUGHPUT_VARIANT]
    system = model.system
    with torch.inference_mode():
        payloads = [Payload.from_bytes(system.device_encode(x[i][None])[0].to_bytes())
                    for i in range(len(x))]  # fmt: skip
    rows = []
    for b in (1, 2, 4, 8, 16, 32, 64):
        edge, decode = [], []
        for r in range(repeats + 2):
            batch = [payloads[(r * b + i) % len(payloads)] for i in range(b)]
            _, decode_s, edge_s = model.decode_batch(batch)
            if r >= 2:  # warm-up discarded
                edge.append(edge_s / b)
                decode.append(decode_s / b)
        rows.append({"kind": "batching", "variant": THROUGHPUT_VARIANT, "batch": b,
                     "edge_per_sample_ms": 1e3 * statistics.median(edge),
                     "decode_per_sample_ms": 1e3 * statistics.median(decode)})  # fmt: skip
    base = rows[0]["edge_per_sample_ms"]
    for row in rows:
        row["edge_vs_batch1"] = row["edge_per_sample_ms"] / base
    flips, gap, compared = 0, 0.0, 0
    for start in range(0, len(payloads) - 63, 64):
        chunk = payloads[start : start + 64]
        batched, _, _ = model.decode_batch(chunk)
        for payload, together in zip(chunk, batched, strict=True):
            alone, _, _ = model.decode(payload)
            flips += int(alone.argmax()) != int(together.argmax())
            gap = max(gap, float((alone - together).abs().max()))
            compared += 1
    return rows, {"compared": compared, "flips": flips, "max_logit_gap": gap}


# ------------------------------------------------------------------------------------ link
def measure_link(url, devices, x, calibration, n: int) -> list[dict]:
    rows = []
    with EdgeClient(url) as client:
        for variant in (THROUGHPUT_VARIANT, "offload-raw"):
            device = devices[variant]
            t_dev, t_edge, t_protocol = calibration[variant]
            for rate, loss in LINK_CELLS:
                link = LinkEmulator(rate, loss, mtu_bytes=LINK_MTU, seed=17, max_retransmissions=50)
                results = [infer_one(device, client, x[i % len(x)][None], link) for i in range(n)]
                # Measured compute seconds enter as FLOPs on a 1 FLOP/s profile; retransmissions
                # (a geometric number of sends) as the effective rate R (1 - P).
                model = [
                    latency(
                        t_dev,
                        t_edge,
                        8 * r.payload_bytes,
                        1.0,
                        1.0,
                        rate * (1 - loss),
                        overhead_s=t_protocol,
                    ).total
                    for r in results
                ]
                measured = [r.total_s for r in results]
                ratio = statistics.fmean(measured) / statistics.fmean(model)
                ratio_no_oh = statistics.fmean(measured) / (statistics.fmean(model) - t_protocol)
                rows.append(
                    {
                        "kind": "link",
                        "variant": variant,
                        "rate_bps": rate,
                        "loss": loss,
                        "requests": n,
                        "payload_bytes": statistics.fmean(r.payload_bytes for r in results),
                        "packets": statistics.fmean(r.link.packets for r in results),
                        "retx_per_request": statistics.fmean(
                            r.link.retransmissions for r in results
                        ),
                        "link_mean_ms": 1e3 * statistics.fmean(r.link_s for r in results),
                        "link_expected_ms": 1e3
                        * statistics.fmean(link.expected_seconds(r.payload_bytes) for r in results),
                        "measured_mean_ms": 1e3 * statistics.fmean(measured),
                        "model_mean_ms": 1e3 * statistics.fmean(model),
                        "overhead_ms": 1e3 * t_protocol,
                        "ratio": ratio,
                        "within_20pct": abs(ratio - 1) <= RATIO_TARGET,
                        "ratio_without_overhead": ratio_no_oh,
                    }
                )
    return rows


def targets(tput: list[dict], batching: list[dict]) -> list[dict]:
    """The issue's three batching targets from rows of this run (``target`` rows)."""

    def cell(max_batch: int, clients: int) -> dict | None:
        found = [r for r in tput if (r["workers"], r["max_batch"], r["clients"]) ==
                 (1, max_batch, clients)]  # fmt: skip
        return found[0] if found else None

    rows = []
    top = max(r["clients"] for r in tput)
    off, on = cell(1, top), cell(DEFAULT_MAX_BATCH, top)
    if off and on:
        gain = on["rps"] / off["rps"]
        rows.append({"kind": "target", "what": f"rps at {top} clients, batched / unbatched",
                     "value": gain, "target": f">= {THROUGHPUT_GAIN_TARGET}",
                     "met": gain >= THROUGHPUT_GAIN_TARGET})  # fmt: skip
    by_batch = {r["batch"]: r for r in batching}
    if 64 in by_batch:
        ratio = by_batch[64]["edge_vs_batch1"]
        rows.append({"kind": "target", "what": "edge compute per sample, batch 64 / batch 1",
                     "value": ratio, "target": f"<= {EDGE_PER_SAMPLE_TARGET}",
                     "met": ratio <= EDGE_PER_SAMPLE_TARGET})  # fmt: skip
    off, on = cell(1, 1), cell(DEFAULT_MAX_BATCH, 1)
    if off and on and off["p99_ms"] and on["p99_ms"]:
        ratio = on["p99_ms"] / off["p99_ms"]
        rows.append({"kind": "target", "what": "p99 at 1 client, batched / unbatched",
                     "value": ratio, "target": f"<= {P99_ONE_CLIENT_TARGET}",
                     "met": ratio <= P99_ONE_CLIENT_TARGET})  # fmt: skip
    return rows


# ------------------------------------------------------------------------------------ output
def print_table(title: str, rows: list[dict]) -> None:
    columns = [c for c in rows[0] if c != "kind"]
    cells = [[format_value(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    print(f"\n== runtime: {title} ==")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def plot_throughput(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_rps, ax_lat) = plt.subplots(1, 2, figsize=(10, 4))
    for workers, max_batch in sorted({(r["workers"], r["max_batch"]) for r in rows}):
        sel = [r for r in rows if (r["workers"], r["max_batch"]) == (workers, max_batch)]
        clients = [r["clients"] for r in sel]
        name = f"{workers} worker(s), " + (
            "unbatched" if max_batch == 1 else f"batch ≤ {max_batch}"
        )
        ax_rps.plot(clients, [r["rps"] for r in sel], "o-", label=name)
        ax_lat.plot(clients, [r["p50_ms"] for r in sel], "o-", label=f"p50, {name}")
        ax_lat.plot(clients, [r["p99_ms"] for r in sel], "x--", label=f"p99, {name}")
    for ax in (ax_rps, ax_lat):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent clients")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    ax_rps.set_ylabel("requests / s")
    ax_lat.set_ylabel("latency per request (ms)")
    ax_lat.set_yscale("log")
    fig.suptitle(f"semcom serve on loopback, {THROUGHPUT_VARIANT}, {os.cpu_count()} CPUs shared")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, help="a run directory to serve (default: build one)")
    ap.add_argument("--requests", type=int, default=400, help="batch-1 requests per variant")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per throughput cell")
    ap.add_argument("--clients", default="1,2,4,8,16,32,64")
    ap.add_argument("--batch-repeats", type=int, default=30, help="timed batches per size")
    ap.add_argument("--link-requests", type=int, default=40, help="requests per link cell")
    ap.add_argument("--quick", action="store_true", help="a short smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.duration, args.link_requests, args.batch_repeats = 60, 1.0, 8, 5
        args.clients = "1,8,64"
    torch.set_num_threads(1)  # the device part: one thread, as on a small device
    clients = [int(c) for c in args.clients.split(",")]

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = args.run or build_run(Path(tmp) / "run")
        stored = load_run(run_dir)
        global THROUGHPUT_VARIANT
        digital = [
            v for v, s in stored.items() if s.system.transport.serve_refusal(s.system) is None
        ]
        if THROUGHPUT_VARIANT not in digital:
            THROUGHPUT_VARIANT = digital[0]
        devices = {v: TorchDevice(stored[v]) for v in digital}
        shape = next(iter(devices.values())).input_shape
        x, source = test_images(shape, 200)

        rows: list[dict] = []
        with server(run_dir, 1) as url:
            overhead, calibration = measure_overhead(url, devices, x, args.requests)
            rows += overhead
            if "offload-raw" in devices:
                rows += measure_link(url, devices, x, calibration, args.link_requests)
        batching, flips = measure_batching(stored, x[:192], args.batch_repeats)
        rows += batching
        items = throughput_items(stored, x)
        tput = []
        for workers, max_batch in THROUGHPUT_SERVERS:
            with server(run_dir, workers, max_batch) as url:
                for c in clients:
                    result = asyncio.run(_load(url, items, c, 0.5, args.duration))
                    tput.append({"kind": "throughput", "workers": workers, "max_batch": max_batch,
                                 "clients": c, **result})  # fmt: skip
        rows += tput
        rows += targets(tput, batching)

    for kind in ("overhead", "batching", "throughput", "link", "target"):
        selected = [r for r in rows if r["kind"] == kind]
        if selected:
            print_table(kind, selected)
    plot = RESULTS_DIR / "runtime_throughput.png"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    plot_throughput(tput, plot)
    meta = {
        "run": str(args.run) if args.run else "built: untrained systems, fashion-mnist context",
        "images": source,
        "requests_per_variant": args.requests,
        "throughput_seconds_per_cell": args.duration,
        "throughput_variant": THROUGHPUT_VARIANT,
        "link_mtu_bytes": LINK_MTU,
        "link_requests": args.link_requests,
        "server_threads": "compute threads = min(4, CPUs); 1 torch thread per worker",
        "load_average_at_end": os.getloadavg(),
        "note": "client, load generator and server share this machine's CPUs (and other users')",
        "plot": str(plot),
        "batch_vs_alone": flips,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        path = report("runtime", rows, meta)
    print(f"batch of 64 vs alone: {flips['flips']} of {flips['compared']} predictions flip, "
          f"largest logit difference {flips['max_logit_gap']:.2e}")  # fmt: skip
    print(f"wrote {path} and {plot}")


if __name__ == "__main__":
    main()
