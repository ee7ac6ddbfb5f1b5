"""AECNN on this CPU: per-image device encode and edge decode, the ANS share, real bits vs estimate.

Trains AECNN variants briefly on Fashion-MNIST from the shipped backbone (attention + compressor
stages, a few hundred steps each), then, per variant, at batch 1 over ``--images`` test images:

* ``device_ms`` — head + attention + encoder + quantiser + ANS + Payload serialisation (median),
* ``onnx_device_ms`` — the same with the network in onnxruntime (``semcom export``'s
  ``device.onnx``, one thread) and the packing in Python; ``onnx_identical`` — share of the timed
  images whose ONNX payload is byte-identical to PyTorch's, ``onnx_latent_max_diff`` — largest
  latent difference over them,
* ``ans_ms`` / ``ans_share`` — the entropy coder alone and its share of the device time,
* ``edge_ms`` — Payload parse + ANS decode + decoder + tail (median),
* ``body_vs_estimate_pct`` — mean ``(real body bits - estimate) / estimate`` (body = payload minus
  the fixed header), and ``header_bits`` — that fixed header,
* against the same run's offloading: JPEG q50 encode time for comparison.

Run: ``.venv/bin/python benchmarks/bench_aecnn.py`` (needs Fashion-MNIST: ``semcom data
fashion-mnist``). Writes ``benchmarks/results/aecnn.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from semcom.coding import Payload  # noqa: E402
from semcom.data import (  # noqa: E402
    build_dataset,
    fetch_batch,  # noqa: E402
    take_first,
)
from semcom.pretrained import resolve_weights  # noqa: E402
from semcom.runtime.onnx_device import OnnxDevice, load_onnx_device  # noqa: E402
from semcom.runtime.onnx_export import export_device  # noqa: E402
from semcom.storage.checkpoint import load_weights  # noqa: E402
from semcom.storage.store import StoredSystem  # noqa: E402
from semcom.systems import BuildContext, build_system  # noqa: E402
from semcom.train import Phase, train_phase  # noqa: E402

VARIANTS = [
    {"k": 2, "bits": 2},
    {"k": 4, "bits": 4},
    {"k": 8, "bits": 2},
    {"k": 4, "bits": 4, "selection": "per-sample"},
]


def trained_variant(params: dict, ctx: BuildContext, train, work: Path):
    torch.manual_seed(0)
    system = build_system("aecnn", params, ctx)
    reference = build_system("local", {}, ctx)
    load_weights(reference, resolve_weights("semcom:resnet-small-fashion"))
    system.load_backbone_state(reference.backbone_state())
    for phase in (
        Phase("attention", 0.5, 1e-3, ["attention", "tail"], path="attention"),
        Phase("compressor", 1.0, 2e-3, ["encoder", "entropy", "decoder"],
              {"task": 1.0, "rate": 0.02, "feature": 0.05}),
    ):  # fmt: skip
        train_phase(system, phase, train, batch_size=128, seed=0, ckpt_dir=work)
    system.prepare_for_coding()
    return system.eval()


def median_ms(values: list[float]) -> float:
    return 1e3 * statistics.median(values)


@torch.no_grad()
def measure(system, test, images: int, onnx: OnnxDevice) -> dict:
    device, ans, edge, body, est, ort_device = [], [], [], [], [], []
    header, identical, latent_diff = 0, 0, 0.0
    for i in range(images):
        x, _ = fetch_batch(test, torch.tensor([i]))
        t0 = time.perf_counter()
        wire = system.device_encode(x)[0].to_bytes()
        device.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ort_wire = onnx.encode(x)[0].to_bytes()
        ort_device.append(time.perf_counter() - t0)
        identical += ort_wire == wire
        ref = system.device_tensors(x)
        diff = (onnx.tensors(x)["latent"] - ref["latent"]).abs().max()
        latent_diff = max(latent_diff, float(diff))
        symbols = ref["symbols"]
        t0 = time.perf_counter()
        system.entropy.compress(symbols)
        ans.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        system.edge_decode([Payload.from_bytes(wire)])
        edge.append(time.perf_counter() - t0)
        p = Payload.from_bytes(wire)
        header = p.header_bytes * 8
        body.append(8 * len(wire) - header)
        est.append(float(system.estimate_payload_bits(x)[0]))
    gaps = [(b - e) / e for b, e in zip(body, est, strict=True)]
    return {
        "device_ms": median_ms(device),
        "onnx_device_ms": median_ms(ort_device),
        "onnx_identical": identical / images,
        "onnx_latent_max_diff": latent_diff,
        "ans_ms": median_ms(ans),
        "ans_share": statistics.median(ans) / statistics.median(device),
        "edge_ms": median_ms(edge),
        "body_bits": statistics.mean(body),
        "estimated_bits": statistics.mean(est),
        "body_vs_estimate_pct": 100 * statistics.mean(gaps),
        "header_bits": header,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=8000, help="training images")
    ap.add_argument("--images", type=int, default=200, help="test images timed one by one")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)  # a device has few cores; one thread is the honest per-image time
    train, test, info = build_dataset("fashion-mnist", None)
    train = take_first(train, args.train)
    ctx = BuildContext(info.num_classes, info.input_shape, "resnet-small", "layer2")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, params in enumerate(VARIANTS):
            system = trained_variant(params, ctx, train, Path(tmp) / str(n))
            folder = export_device(StoredSystem(str(n), system, params), Path(tmp) / "onnx")
            onnx = load_onnx_device(folder, threads=1)
            rows.append({**params, **measure(system, test, args.images, onnx)})
        jpeg = build_system("offload-jpeg", {"quality": 50}, ctx).eval()
        times = []
        for i in range(args.images):
            x, _ = fetch_batch(test, torch.tensor([i]))
            t0 = time.perf_counter()
            jpeg.device_encode(x)[0].to_bytes()
            times.append(time.perf_counter() - t0)
        rows.append({"k": "offload-jpeg q50", "device_ms": median_ms(times)})
    report("aecnn", rows, {"threads": 1, "train_images": args.train, "timed_images": args.images})


if __name__ == "__main__":
    main()
