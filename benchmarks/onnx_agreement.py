"""How often an ONNX device's payload differs from PyTorch's, on real images and trained models.

Trains AECNN variants as ``bench_aecnn.py`` does (shipped Fashion-MNIST backbone, attention and
compressor stages), exports each with :func:`semcom.runtime.onnx_export.export_device` and runs
:func:`~semcom.runtime.onnx_export.verify_device` over the Fashion-MNIST test set (batches of 500,
one thread). Per variant: ``identical`` payloads, ``flipped_symbols`` (symbols on the other side
of a rounding boundary), ``latent_max_diff``, ``boundary_distance`` (largest distance of a flipped
value from ``n + 1/2``, symbol units) and ``problems`` (export errors; expected empty). The
numbers behind DESIGN.md, "What bit-identical can mean across runtimes".

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/onnx_agreement.py`` (needs Fashion-MNIST).
Writes ``benchmarks/results/onnx_agreement.json``.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_aecnn import trained_variant  # noqa: E402
from common import report  # noqa: E402

from semcom.data import (  # noqa: E402
    build_dataset,
    fetch_batch,  # noqa: E402
    take_first,
)
from semcom.runtime.onnx_device import load_onnx_device  # noqa: E402
from semcom.runtime.onnx_export import export_device, verify_device  # noqa: E402
from semcom.storage.store import StoredSystem  # noqa: E402
from semcom.systems import BuildContext  # noqa: E402

VARIANTS = [
    {"k": 4, "bits": 4},
    {"k": 4, "bits": 4, "selection": "per-sample"},
    {"k": 4, "bits": 8},
]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=8000, help="training images")
    ap.add_argument("--images", type=int, default=10000, help="test images compared")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    train, test, info = build_dataset("fashion-mnist", None)
    train = take_first(train, args.train)
    ctx = BuildContext(info.num_classes, info.input_shape, "resnet-small", "layer2")
    n = min(args.images, len(test))
    rows = []
    for params in VARIANTS:
        with tempfile.TemporaryDirectory() as tmp:
            system = trained_variant(params, ctx, train, Path(tmp))
            stored = StoredSystem("v", system, params)
            device = load_onnx_device(export_device(stored, Path(tmp) / "onnx"), threads=1)
            parts = []
            for i in range(0, n, 500):
                x, _ = fetch_batch(test, torch.arange(i, min(n, i + 500)))
                parts.append(verify_device(stored, device, x))
        rows.append({
            **params,
            "symbols_per_image": math.prod(system.code_shape()),
            "images": n,
            "identical": sum(p.payloads_identical for p in parts),
            "flipped_symbols": sum(p.symbols_differing for p in parts),
            "latent_max_diff": max(p.latent_max_diff for p in parts),
            "boundary_distance": max(p.boundary_distance for p in parts),
            "problems": "; ".join(sorted({q for p in parts for q in p.problems})) or "none",
        })  # fmt: skip
    report("onnx_agreement", rows, {"threads": 1, "train_images": args.train})


if __name__ == "__main__":
    main()
