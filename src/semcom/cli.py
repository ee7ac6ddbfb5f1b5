"""The ``semcom`` command: run experiments, list systems, fetch data.

``semcom run [CONFIG] [--quick] [--out DIR] [--set key=value]...`` trains and evaluates an
experiment; with no CONFIG it runs the default experiment on Fashion-MNIST.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Get and check data sets.")
app.add_typer(data_app, name="data")
# Piped output (CI logs, `| tee`) gets a wide table instead of rich's 80-column default.
# markup off: messages carry paths, URLs and exception text, whose "[...]" is not rich markup
console = Console(width=None if sys.stdout.isatty() else 160, markup=False)
err_console = Console(stderr=True, markup=False)

DEFAULT_CONFIG = "aecnn_fashion.yaml"


def default_config_path() -> Path:
    """The packaged default experiment."""
    return Path(str(resources.files("semcom") / "configs" / DEFAULT_CONFIG))


def _fail(message: str, code: int = 2) -> None:
    err_console.print(Text("error: ", style="bold red") + Text(message))
    raise typer.Exit(code)


StepReporter = Callable[[str, int, int, dict[str, float]], None]


@contextlib.contextmanager
def _training_progress(quiet: bool) -> Iterator[tuple[StepReporter, Callable[[str], None]]]:
    """``(on_step, log)`` for a training command: a progress bar per phase on a terminal; in a
    log file (no terminal) one line per tenth of each phase, with the elapsed time."""
    started = time.monotonic()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[terms]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
    ) as progress:
        tasks: dict[str, TaskID] = {}
        tenths: dict[str, int] = {}

        def on_step(label: str, step: int, total: int, terms: dict[str, float]) -> None:
            text = " ".join(f"{k}={v:.3g}" for k, v in terms.items())
            if console.is_terminal:
                if label not in tasks:
                    tasks[label] = progress.add_task(label, total=total, terms="")
                progress.update(tasks[label], completed=step, terms=text)
                return
            tenth = 10 * step // max(total, 1)
            if not quiet and tenth > tenths.get(label, 0) and os.environ.get("CI") != "true":
                tenths[label] = tenth
                elapsed = time.monotonic() - started
                console.print(f"[{elapsed:7.0f} s] {label} {step}/{total} {text}", highlight=False)

        def log(message: str) -> None:
            if not quiet:
                progress.console.print(message, highlight=False)

        yield on_step, log


@app.command()
def run(
    config: Annotated[
        Path | None, typer.Argument(help="experiment YAML; default: Fashion-MNIST")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="small subsets, short training (smoke run)")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="output directory (default runs/<experiment>)")
    ] = None,
    set_: Annotated[
        list[str], typer.Option("--set", help="override a config field: a.b=value")
    ] = [],  # noqa: B006
    data_root: Annotated[
        Path | None, typer.Option("--data-root", help="where data sets live (or SEMCOM_DATA)")
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="auto (default: CUDA, MPS, else CPU) | cpu | cuda[:N] | mps"),
    ] = None,
) -> None:
    """Train and evaluate an experiment; write config.yaml, metrics.json, report.md and plots."""
    from semcom.config import ConfigError, load_yaml, resolve
    from semcom.data import DataUnavailableError
    from semcom.experiment import apply_quick, run_experiment
    from semcom.report import rich_table, summary_rows
    from semcom.storage.checkpoint import CheckpointError
    from semcom.storage.lock import RunLockedError
    from semcom.train import distributed

    overrides = list(set_)
    if data_root is not None:
        overrides.append(f"data.root={data_root}")
    if device is not None:
        overrides.append(f"device={device}")
    try:
        raw = load_yaml(config or default_config_path())
        cfg = resolve(raw, overrides)
    except ConfigError as exc:
        _fail(str(exc))
    if quick:
        cfg = apply_quick(cfg)
    out_dir = out or Path("runs") / cfg.experiment
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        _fail(f"--out {out_dir}: cannot write there ({exc.strerror or exc})")
    distributed.init_if_launched()

    quiet = not distributed.is_main()
    with _training_progress(quiet) as (on_step, log):
        try:
            result = run_experiment(cfg, out_dir, on_step=on_step, log=log)
        except (ConfigError, DataUnavailableError, CheckpointError, RunLockedError) as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail(
                f"interrupted; the run can be resumed: run the same command again (same --out "
                f"{out_dir}) and it continues from its last checkpoint",
                code=130,
            )
    if quiet:
        return
    console.print(rich_table(summary_rows(result.records), title=f"{cfg.experiment} — {out_dir}"))
    console.print(
        f"wrote {out_dir}/config.yaml, metrics.json, report.md and plots in {result.seconds:.1f} s",
        highlight=False,
    )


@app.command("eval")
def eval_(
    run_dir: Annotated[Path, typer.Argument(help="a directory written by `semcom run`")],
    set_: Annotated[
        list[str],
        typer.Option("--set", help="override an evaluation setting: eval.*, data.*, device, seed"),
    ] = [],  # noqa: B006
    out: Annotated[
        Path | None,
        typer.Option("--out", help="output folder (default: a new eval-<time> folder in the run)"),
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="auto | cpu | cuda[:N] | mps")
    ] = None,
) -> None:
    """Re-score a run's stored variants on other channels, SNRs, devices, deadlines or test data,
    without training; write metrics.json, report.md and plots beside."""
    from semcom.data import DataUnavailableError
    from semcom.eval.rescore import RescoreError, rescore_run
    from semcom.report import rich_table, summary_rows
    from semcom.storage.store import StoreError

    overrides = list(set_) + ([f"device={device}"] if device else [])
    try:
        result = rescore_run(
            run_dir, overrides, out, log=lambda m: console.print(m, highlight=False)
        )
    except (RescoreError, StoreError, DataUnavailableError) as exc:
        _fail(str(exc))
    console.print(rich_table(summary_rows(result.records), title=f"re-scored — {result.out_dir}"))
    console.print(
        f"wrote {result.out_dir}/metrics.json, report.md and plots in {result.seconds:.1f} s",
        highlight=False,
    )


@app.command()
def backbone(
    config: Annotated[
        Path | None, typer.Argument(help="experiment YAML (default as for run)")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="safetensors file to write")] = Path(
        "backbone.safetensors"
    ),
    set_: Annotated[
        list[str], typer.Option("--set", help="override a config field: a.b=value")
    ] = [],  # noqa: B006
    work_dir: Annotated[
        Path, typer.Option("--work-dir", help="checkpoints of the (resumable) training")
    ] = Path("runs/backbone"),
) -> None:
    """Train only an experiment's shared backbone and write it (for `backbone.weights`)."""
    from semcom.config import ConfigError, load_yaml, resolve
    from semcom.data import DataUnavailableError
    from semcom.experiment import train_backbone
    from semcom.pretrained import sha256_file
    from semcom.storage.checkpoint import CheckpointError

    try:
        cfg = resolve(load_yaml(config or default_config_path()), list(set_))
        with _training_progress(quiet=False) as (on_step, log):
            path, accuracy = train_backbone(cfg, out, work_dir=work_dir, on_step=on_step, log=log)
    except (ConfigError, DataUnavailableError, CheckpointError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail(f"interrupted; run the same command again (same --work-dir {work_dir}) to resume",
              code=130)  # fmt: skip
    console.print(
        f"wrote {path} ({path.stat().st_size:,} bytes, test top-1 {accuracy:.4f})\n"
        f"sha256 {sha256_file(path)}",
        highlight=False,
    )


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="run directory (its models/*.safetensors)")],
    onnx: Annotated[
        Path, typer.Option("--onnx", help="output folder: one sub-folder per exported variant")
    ],
    system: Annotated[
        str | None,
        typer.Option("--system", help="variant id or system name (default: every exportable)"),
    ] = None,
    check: Annotated[
        int, typer.Option("--check", min=1, help="random images each export is verified on")
    ] = 8,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="also fail on payloads that differ by rounding-boundary flips"
        ),
    ] = False,
) -> None:
    """Export the device part of a run's digital systems to ONNX (network only; entropy coding
    stays in Python) and verify onnxruntime + packing against PyTorch's device_encode."""
    from rich.table import Table

    from semcom.runtime.onnx_device import OnnxDeviceError, load_onnx_device
    from semcom.runtime.onnx_export import (
        LATENT_ATOL,
        ExportError,
        export_device,
        export_refusal,
        verify_export,
    )
    from semcom.storage.store import StoreError, load_run

    broken: dict[str, str] = {}
    try:
        stored = load_run(run_dir, broken)
    except StoreError as exc:
        _fail(str(exc))
    for variant, why in broken.items():
        console.print(f"skipping {variant}: {why}", highlight=False)
    chosen = stored
    if system is not None:
        chosen = (
            {system: stored[system]}
            if system in stored
            else {v: s for v, s in stored.items() if s.system.name == system}
        )
        if not chosen:
            _fail(f"no variant or system named {system!r} in {run_dir}; variants: "
                  + ", ".join(stored))  # fmt: skip
    todo = {}
    for variant, s in chosen.items():
        reason = export_refusal(s.system)
        if reason is None:
            todo[variant] = s
        else:
            console.print(f"skipping {variant}: {reason}", highlight=False)
    if not todo:
        _fail(
            f"nothing to export from {run_dir}: no variant has an exportable device part "
            "(digital systems whose device runs a network, e.g. aecnn, quantized-split)"
        )

    table = Table(title=f"ONNX device export — {onnx}")
    for col in ("variant", "system", "device.onnx", "latent max diff", "symbols differing",
                "payloads identical", "status"):  # fmt: skip
        table.add_column(col, justify="left" if col in ("variant", "system", "status") else "right")
    failed: list[str] = []
    flips = False
    for variant, s in todo.items():
        try:
            folder = export_device(s, onnx)
            result = verify_export(s, load_onnx_device(folder), samples=check)
        except (ExportError, OnnxDeviceError) as exc:
            failed.append(f"{variant}: {exc}")
            table.add_row(variant, s.system.name, "—", "—", "—", "—", "export failed")
            continue
        if result.problems:
            status = "FAILED: " + "; ".join(result.problems)
            failed.append(f"{variant}: " + "; ".join(result.problems))
        elif result.identical:
            status = "ok"
        else:
            flips = True
            status = f"boundary flips (within {result.boundary_distance:.1e} of n+1/2)"
            if strict:
                failed.append(f"{variant}: payloads differ (rounding-boundary flips; --strict)")
        table.add_row(
            variant,
            s.system.name,
            f"{(folder / 'device.onnx').stat().st_size / 1024:,.1f} KiB",
            f"{result.latent_max_diff:.2g}",
            str(result.symbols_differing),
            f"{result.payloads_identical}/{result.samples}",
            status,
        )
    console.print(table)
    if flips:
        console.print(
            "note: a symbol differs where PyTorch's and onnxruntime's latents (equal within "
            f"{LATENT_ATOL:g}) straddle a rounding boundary; such payloads stay decodable "
            "(DESIGN.md, 'ONNX export')",
            highlight=False,
        )
    if failed:
        _fail("verification failed:\n  " + "\n  ".join(failed), code=1)
    console.print(f"wrote {len(todo)} export(s) to {onnx}", highlight=False)


@app.command()
def systems() -> None:
    """List the registered systems, what crosses their link, and their parameters."""
    from rich.table import Table

    from semcom.systems import system_class, system_names

    table = Table(title="registered systems")
    table.add_column("name")
    table.add_column("link")
    table.add_column("parameters")
    for name in system_names():
        cls = system_class(name)
        fields = ", ".join(
            f"{f.alias or n}={f.default!r}" for n, f in cls.Params.model_fields.items()
        )
        table.add_row(name, " | ".join(cls.transport_kinds), fields or "—")
    console.print(table)


@app.command()
def serve(
    run_dir: Annotated[Path, typer.Argument(help="run directory (its models/*.safetensors)")],
    host: Annotated[
        str, typer.Option("--host", help="address to bind (0.0.0.0 exposes the server)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="server processes (metrics are per worker)")
    ] = 1,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="largest request body, bytes")
    ] = 1 << 20,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0.001, help="decode + edge compute limit per request, s"),
    ] = 10.0,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="compute threads per worker (default: CPUs, <= 4)"),
    ] = None,
    header_timeout: Annotated[
        float,
        typer.Option("--header-timeout", min=0.001, help="wait for a request's headers, s (408)"),
    ] = 10.0,
    worker_start_timeout: Annotated[
        float,
        typer.Option("--worker-start-timeout", min=1, help="--workers: load time allowed, s"),
    ] = 120.0,
    max_worker_restarts: Annotated[
        int,
        typer.Option("--max-worker-restarts", min=0, help="--workers: deaths before stopping"),
    ] = 5,
    max_batch: Annotated[
        int,
        typer.Option(
            "--max-batch", min=1, help="most concurrent requests run as one batch (1: off)"
        ),
    ] = 32,
    batch_wait_ms: Annotated[
        float,
        typer.Option(
            "--batch-wait-ms", min=0.0, help="how long a batch may wait for more requests, ms"
        ),
    ] = 0.0,
    torch_threads: Annotated[
        int, typer.Option("--torch-threads", min=1, help="torch intra-op threads per worker")
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level")] = "info",
    device: Annotated[
        str, typer.Option("--device", help="edge networks on: auto | cpu | cuda[:N] | mps")
    ] = "auto",
) -> None:
    """Serve a run's digital systems over HTTP: POST /v1/infer, GET /v1/health, /v1/models,
    /v1/metrics."""
    from semcom.runtime.server import ServerConfig
    from semcom.runtime.serving import ServeError
    from semcom.runtime.serving import serve as run_server
    from semcom.storage.store import StoreError

    def announce(catalog) -> None:
        for m in catalog.models.values():
            if m.served:
                console.print(
                    f"serving {m.variant} ({m.system_name}, ~{m.accepts.example_bytes} B payloads)",
                    highlight=False,
                )
            else:
                console.print(f"not serving {m.variant}: {m.reason}", highlight=False)
        for variant, reason in catalog.broken.items():
            console.print(f"not serving {variant}: {reason}", highlight=False)
        if not catalog.served:
            console.print("warning: no variant of this run is served", style="yellow")
        console.print(f"listening on http://{host}:{port} ({workers} worker(s))", highlight=False)

    try:
        config = ServerConfig(
            max_body_bytes=max_body_bytes,
            compute_timeout_s=timeout,
            compute_threads=threads,
            torch_threads=torch_threads,
            device=device,
            header_timeout_s=header_timeout,
            worker_start_timeout_s=worker_start_timeout,
            max_worker_restarts=max_worker_restarts,
            max_batch=max_batch,
            batch_wait_ms=batch_wait_ms,
        )
        run_server(
            run_dir,
            host=host,
            port=port,
            workers=workers,
            config=config,
            log_level=log_level,
            announce=announce,
        )
    except (StoreError, ValueError) as exc:
        _fail(str(exc))
    except ServeError as exc:
        _fail(str(exc), code=1)


@app.command()
def infer(
    images: Annotated[
        Path,
        typer.Argument(
            metavar="IMAGE|VIDEO|DIR",
            help="an image (.png .jpg .jpeg .bmp .gif .webp .tif .tiff .ppm .pgm) for a model "
            "taking images, a video (.avi .mp4 .mkv .webm .mov .m4v .mpg .mpeg .ogv .flv .3gp "
            ".wmv) for one taking clips, or a directory of them",
        ),
    ],
    server: Annotated[
        str, typer.Option("--server", help="edge server URL")
    ] = "http://127.0.0.1:8000",
    system: Annotated[
        str | None, typer.Option("--system", help="variant id or system name to run")
    ] = None,
    run_dir: Annotated[
        Path | None, typer.Option("--run", help="run directory: device part in PyTorch")
    ] = None,
    onnx: Annotated[
        Path | None, typer.Option("--onnx", help="`semcom export` folder: device in onnxruntime")
    ] = None,
    rate_bps: Annotated[
        float | None, typer.Option("--rate-bps", help="emulated uplink rate, bit/s")
    ] = None,
    loss: Annotated[
        float, typer.Option("--loss", help="emulated packet loss probability, [0, 1)")
    ] = 0.0,
    mtu: Annotated[int, typer.Option("--mtu", min=1, help="emulated packet size, bytes")] = 1400,
    max_retransmissions: Annotated[
        int, typer.Option("--max-retransmissions", min=0, help="per packet, then give up")
    ] = 10,
    seed: Annotated[int, typer.Option("--seed", help="seed of the emulated losses")] = 0,
    timeout: Annotated[float, typer.Option("--timeout", help="HTTP timeout, s")] = 30.0,
    json_lines: Annotated[
        bool, typer.Option("--json", help="one JSON record per file instead of a table")
    ] = False,
    device: Annotated[
        str, typer.Option("--device", help="--run: the device part on cpu | cuda[:N] | mps | auto")
    ] = "cpu",
) -> None:
    """Run the device part locally, send each image's or video's payload to the server, print
    the prediction and the time of every stage.

    A model taking clips (C, T, H, W) gets each video decoded to T frames sampled uniformly over
    the file, scaled to cover H x W and centre-cropped, in its C channels; a model taking images
    (C, H, W) gets each image converted and resized. A file of the other kind is refused."""
    import json
    import math
    import statistics

    from rich.table import Table

    from semcom.runtime.client import (
        ClientError,
        EdgeClient,
        infer_one,
        input_paths,
        is_clip_shape,
        load_input,
        load_onnx_device,
        load_torch_device,
    )
    from semcom.runtime.link_emulator import LinkDropped, LinkEmulator
    from semcom.storage.store import StoreError

    if (run_dir is None) == (onnx is None):
        _fail("give exactly one device part: --run RUN_DIR (PyTorch) or --onnx DIR (onnxruntime)")
    if not 0.0 <= loss < 1.0:
        _fail(f"--loss must be in [0, 1), got {loss}")
    if not timeout > 0:
        _fail(f"--timeout must be > 0 seconds, got {timeout}")
    link = None
    try:
        client = EdgeClient(server, timeout_s=timeout)  # checks the URL before any work
        if rate_bps is not None or loss > 0:
            link = LinkEmulator(
                math.inf if rate_bps is None else rate_bps,
                loss,
                mtu_bytes=mtu,
                max_retransmissions=max_retransmissions,
                seed=seed,
            )
        from semcom.accel import resolve_device

        device_part = (
            load_torch_device(run_dir, system, resolve_device(device))
            if run_dir is not None
            else load_onnx_device(onnx, system)  # type: ignore[arg-type]
        )
        shape = tuple(device_part.input_shape)
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{device_part.variant} takes {shape} inputs, neither (C, H, W) images nor "
                "(C, T, H, W) clips"
            )
        try:
            paths = input_paths(images, shape)
        except ClientError as exc:
            raise ClientError(f"{exc} (variant {device_part.variant})") from None
    except (ClientError, StoreError, ValueError) as exc:
        _fail(str(exc))
    kind = "video" if is_clip_shape(shape) else "image"  # also the JSON records' file key

    table = Table(title=f"{device_part.variant} via {server}")
    for col in (kind, "pred", "bytes", "device", "link", "parse", "decode", "edge", "overhead",
                "total"):  # fmt: skip
        table.add_column(col, justify="left" if col == kind else "right")
    failures = 0
    totals: list[float] = []
    with client:
        for path in paths:  # an unreadable file fails alone; the others still go
            try:
                result = infer_one(device_part, client, load_input(path, shape), link)
            except (ClientError, LinkDropped) as exc:
                failures += 1
                if json_lines:
                    print(json.dumps({kind: str(path), "error": str(exc)}), flush=True)
                else:
                    err_console.print(f"{path}: {exc}", highlight=False)
                continue
            totals.append(result.total_s)
            if json_lines:
                print(json.dumps({kind: str(path), **result.to_json()}), flush=True)
                continue
            ms = result.server_ms
            link_text = f"{1e3 * result.link_s:.2f}"
            if result.link is not None and result.link.retransmissions:
                link_text += f" ({result.link.retransmissions} retx)"
            table.add_row(
                path.name,
                str(result.prediction),
                f"{result.payload_bytes:,}",
                f"{1e3 * result.device_s:.2f}",
                link_text,
                f"{ms.get('parse', 0.0):.2f}",
                f"{ms.get('decode', 0.0):.2f}",
                f"{ms.get('edge_compute', 0.0):.2f}",
                f"{1e3 * result.overhead_s:.2f}",
                f"{1e3 * result.total_s:.2f}",
            )
    if not json_lines:
        console.print(table)
        if totals:
            console.print(
                f"{len(totals)} {kind}(s), median total {1e3 * statistics.median(totals):.2f} ms "
                "(times in ms; overhead = total - device - link - edge decode - edge compute)",
                highlight=False,
            )
    if failures:
        _fail(f"{failures} of {len(paths)} {kind}(s) failed", code=1)


@data_app.command("fashion-mnist")
def data_fashion_mnist(
    root: Annotated[Path | None, typer.Option("--root", help="data root (or SEMCOM_DATA)")] = None,
    install: Annotated[
        bool,
        typer.Option("--install", help="as root, apt-get install dataset-fashion-mnist if missing"),
    ] = False,
) -> None:
    """Make sure Fashion-MNIST is available (used by `make run`)."""
    from semcom.data import DataUnavailableError, ensure_fashion_mnist

    try:
        where = ensure_fashion_mnist(str(root) if root else None, install_system_package=install)
    except DataUnavailableError as exc:
        _fail(str(exc))
    console.print(f"Fashion-MNIST ready under {where}", highlight=False)


def _print_dataset(train: object, test: object, info: object, header: str) -> None:
    """What ``semcom data NAME`` prints once a set is loaded (class names are not markup)."""
    from semcom.data import describe_dataset

    console.print(header, highlight=False, markup=False)
    text = describe_dataset(train, test, info)  # type: ignore[arg-type]
    console.print(text, highlight=False, markup=False)


@data_app.command("mnist")
def data_mnist(
    root: Annotated[Path | None, typer.Option("--root", help="data root (or SEMCOM_DATA)")] = None,
) -> None:
    """Make sure MNIST is available (data root, else torchvision's download); show what it holds."""
    from semcom.data import DataUnavailableError, ensure_mnist, load_mnist

    try:
        where = ensure_mnist(str(root) if root else None)
        train, test, info = load_mnist(where)
    except DataUnavailableError as exc:
        _fail(str(exc))
    _print_dataset(train, test, info, f"MNIST ready under {where}")


@data_app.command("cifar10")
def data_cifar10(
    root: Annotated[
        Path | None,
        typer.Option("--root", help="data root, a CIFAR-10 folder or a .tar.gz (or SEMCOM_DATA)"),
    ] = None,
) -> None:
    """Find CIFAR-10 (torchvision's batches, an ImageFolder or an archive; decoded once and
    cached) or download it; show what it holds."""
    from semcom.data import DataUnavailableError, find_cifar10, load_cifar10, resolve_data_root

    try:
        train, test, info = load_cifar10(str(root) if root else None)
    except DataUnavailableError as exc:
        _fail(str(exc))
    found = find_cifar10(resolve_data_root(str(root) if root else None))
    where = f"{found[1]} ({found[0]})" if found else "the data root"
    _print_dataset(train, test, info, f"CIFAR-10 ready from {where}")


@data_app.command(
    "image-folder", context_settings={"allow_extra_args": True, "ignore_unknown_options": False}
)
def data_image_folder(
    ctx: typer.Context,
    root: Annotated[
        Path,
        typer.Option(
            "--root",
            help="the folder (train/ + test/ or val/, or <class>/ folders) or a .tar.gz of it",
        ),
    ],
    image_size: Annotated[
        str, typer.Option("--image-size", help="H W, HxW or N (square) pixels")
    ] = "32x32",
    channels: Annotated[int, typer.Option("--channels", help="1 (grey) or 3 (RGB)")] = 3,
    test_fraction: Annotated[
        float,
        typer.Option("--test-fraction", help="share of each class held out (<class>/ layout)"),
    ] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="seed of that split")] = 0,
) -> None:
    """Decode an image folder once (resized, grey or RGB) into the cache; show what it holds."""
    from semcom.data import DataUnavailableError, ImageFolderOptions, prepare_image_folder

    extra = list(ctx.args)
    if len(extra) == 1 and extra[0].isdigit() and image_size.isdigit():  # --image-size H W
        image_size, extra = f"{image_size}x{extra[0]}", []
    if extra:
        _fail(f"unexpected argument(s): {' '.join(extra)}")
    try:
        options = ImageFolderOptions(image_size, channels, test_fraction, seed)  # type: ignore[arg-type]
        prepared = prepare_image_folder(root, options)
    except (DataUnavailableError, ValueError) as exc:
        _fail(str(exc))
    how = "from the cache" if prepared.from_cache else "decoded into the cache"
    header = f"{prepared.source}: {prepared.layout}; {how} {prepared.cache}"
    _print_dataset(*prepared.datasets(), header)


def main() -> None:  # pragma: no cover - console-script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
