"""The ``semcom`` command: run experiments, list systems, fetch data.

``semcom run [CONFIG] [--quick] [--out DIR] [--set key=value]...`` trains and evaluates an
experiment; with no CONFIG it runs the default experiment on Fashion-MNIST.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
data_app = typer.Typer(no_args_is_help=True, help="Get and check data sets.")
app.add_typer(data_app, name="data")
# Piped output (CI logs, `| tee`) gets a wide table instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)

DEFAULT_CONFIG = "aecnn_fashion.yaml"


def default_config_path() -> Path:
    """The packaged default experiment."""
    return Path(str(resources.files("semcom") / "configs" / DEFAULT_CONFIG))


def _fail(message: str, code: int = 2) -> None:
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


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
) -> None:
    """Train and evaluate an experiment; write config.yaml, metrics.json, report.md and plots."""
    from semcom.config import ConfigError, load_yaml, resolve
    from semcom.data import DataUnavailableError
    from semcom.experiment import apply_quick, run_experiment
    from semcom.report import rich_table, summary_rows
    from semcom.train import distributed

    overrides = list(set_)
    if data_root is not None:
        overrides.append(f"data.root={data_root}")
    try:
        raw = load_yaml(config or default_config_path())
        cfg = resolve(raw, overrides)
    except ConfigError as exc:
        _fail(str(exc))
    if quick:
        cfg = apply_quick(cfg)
    out_dir = out or Path("runs") / cfg.experiment
    distributed.init_if_launched()

    quiet = not distributed.is_main()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[terms]}"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal and os.environ.get("CI") == "true",
    ) as progress:
        tasks: dict[str, int] = {}

        def on_step(label: str, step: int, total: int, terms: dict[str, float]) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total, terms="")
            text = " ".join(f"{k}={v:.3g}" for k, v in terms.items())
            progress.update(tasks[label], completed=step, terms=text)

        def log(message: str) -> None:
            if not quiet:
                progress.console.print(message, highlight=False)

        try:
            result = run_experiment(cfg, out_dir, on_step=on_step, log=log)
        except (ConfigError, DataUnavailableError) as exc:
            _fail(str(exc))
    if quiet:
        return
    console.print(rich_table(summary_rows(result.records), title=f"{cfg.experiment} — {out_dir}"))
    console.print(
        f"wrote {out_dir}/config.yaml, metrics.json, report.md and plots in {result.seconds:.1f} s",
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

    try:
        cfg = resolve(load_yaml(config or default_config_path()), list(set_))
        path, accuracy = train_backbone(cfg, out, work_dir=work_dir, log=console.print)
    except (ConfigError, DataUnavailableError) as exc:
        _fail(str(exc))
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

    try:
        stored = load_run(run_dir)
    except StoreError as exc:
        _fail(str(exc))
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
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="server processes (metrics are per worker)")
    ] = 1,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1, help="largest request body, bytes")
    ] = 1 << 20,
    timeout: Annotated[
        float, typer.Option("--timeout", help="decode + edge compute limit per request, s")
    ] = 10.0,
    threads: Annotated[
        int | None,
        typer.Option("--threads", min=1, help="compute threads per worker (default: CPUs, <= 4)"),
    ] = None,
    torch_threads: Annotated[
        int, typer.Option("--torch-threads", min=1, help="torch intra-op threads per worker")
    ] = 1,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level")] = "info",
) -> None:
    """Serve a run's digital systems over HTTP: POST /v1/infer, GET /v1/health, /v1/models,
    /v1/metrics."""
    from semcom.runtime.server import ServerConfig
    from semcom.runtime.server import serve as run_server
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
        if not catalog.served:
            console.print("warning: no variant of this run is served", style="yellow")
        console.print(f"listening on http://{host}:{port} ({workers} worker(s))", highlight=False)

    try:
        config = ServerConfig(
            max_body_bytes=max_body_bytes,
            compute_timeout_s=timeout,
            compute_threads=threads,
            torch_threads=torch_threads,
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


@app.command()
def infer(
    images: Annotated[Path, typer.Argument(help="an image file, or a directory of images")],
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
        bool, typer.Option("--json", help="one JSON record per image instead of a table")
    ] = False,
) -> None:
    """Run the device part locally, send each image's payload to the server, print the
    prediction and the time of every stage."""
    import json
    import math
    import statistics

    from rich.table import Table

    from semcom.runtime.client import (
        ClientError,
        EdgeClient,
        infer_one,
        iter_images,
        load_onnx_device,
        load_torch_device,
    )
    from semcom.runtime.link_emulator import LinkDropped, LinkEmulator
    from semcom.storage.store import StoreError

    if (run_dir is None) == (onnx is None):
        _fail("give exactly one device part: --run RUN_DIR (PyTorch) or --onnx DIR (onnxruntime)")
    link = None
    try:
        if rate_bps is not None or loss > 0:
            link = LinkEmulator(
                math.inf if rate_bps is None else rate_bps,
                loss,
                mtu_bytes=mtu,
                max_retransmissions=max_retransmissions,
                seed=seed,
            )
        device = (
            load_torch_device(run_dir, system)
            if run_dir is not None
            else load_onnx_device(onnx, system)  # type: ignore[arg-type]
        )
        inputs = list(iter_images(images, device.input_shape))
    except (ClientError, StoreError, ValueError) as exc:
        _fail(str(exc))

    table = Table(title=f"{device.variant} via {server}")
    for col in ("image", "pred", "bytes", "device", "link", "parse", "decode", "edge", "overhead",
                "total"):  # fmt: skip
        table.add_column(col, justify="left" if col == "image" else "right")
    failures = 0
    totals: list[float] = []
    with EdgeClient(server, timeout_s=timeout) as client:
        for path, x in inputs:
            try:
                result = infer_one(device, client, x, link)
            except (ClientError, LinkDropped) as exc:
                failures += 1
                if json_lines:
                    print(json.dumps({"image": str(path), "error": str(exc)}), flush=True)
                else:
                    err_console.print(f"{path}: {exc}", highlight=False)
                continue
            totals.append(result.total_s)
            if json_lines:
                print(json.dumps({"image": str(path), **result.to_json()}), flush=True)
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
                f"{len(totals)} image(s), median total {1e3 * statistics.median(totals):.2f} ms "
                "(times in ms; overhead = total - device - link - edge decode - edge compute)",
                highlight=False,
            )
    if failures:
        _fail(f"{failures} of {len(inputs)} image(s) failed", code=1)


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


def main() -> None:  # pragma: no cover - console-script shim
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
