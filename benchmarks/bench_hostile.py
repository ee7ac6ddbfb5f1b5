"""Hostile payloads against the edge: what the worst CRC-valid body costs, against a normal one.

For each served kind of payload (entropy-coded AECNN and quantized-split features, PNG / JPEG /
WebP images), three CRC-valid bodies go through the server's own path in this process
(:class:`~semcom.runtime.server.EdgeService`: parse with the body limit → model check → batched
decode + edge network), one torch thread:

* ``normal`` — what the model's device side sends for a test image;
* ``at_bound`` — every chunk exactly as long as the model's layout allows (``chunk_bytes``' upper
  bound: the longest stream the model can write for its shapes), filled with random bytes: the
  largest body that reaches a decoder;
* ``maximal`` — the first chunk grown to fill the 1 MiB body limit (what a fuzzer sends): the
  layout refuses it before any decoder runs.

Per body: the median time from bytes to answer (or refusal) and its ratio to ``normal``. Target:
a maximal CRC-valid payload costs <= 10x a normal one, or is refused before decoding; the
``at_bound`` ratio is the worst a body that is decoded can cost.

Run: ``.venv/bin/python benchmarks/bench_hostile.py [--repeats 20]``. Writes
``benchmarks/results/hostile.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import torch
from common import report

from semcom.coding import Payload
from semcom.runtime.catalog import ModelCatalog
from semcom.runtime.server import EdgeService, ServerConfig, _Reject
from semcom.storage.store import StoredSystem
from semcom.systems import BuildContext, build_system

RATIO_TARGET = 10.0
MAX_BODY = 1 << 20
GREY = BuildContext(10, (1, 28, 28), "resnet-small", "layer2", "fashion-mnist")
RGB = BuildContext(10, (3, 32, 32), "resnet-small", "layer2", "cifar10")
VARIANTS = {
    "aecnn_k=4_bits=4": ("aecnn", {"k": 4, "bits": 4}, GREY),
    "quantized-split_channels=8_bits=4": ("quantized-split", {"channels": 8, "bits": 4}, GREY),
    "offload-png": ("offload-png", {}, RGB),
    "offload-jpeg": ("offload-jpeg", {"quality": 75}, RGB),
    "offload-webp": ("offload-webp", {"quality": 75}, RGB),
}


def crafted(good: Payload, lengths: list[int], rng: random.Random) -> bytes:
    """``good`` with its chunks replaced by random bytes of ``lengths`` (a valid header / CRC)."""
    chunks = tuple(rng.randbytes(n) for n in lengths)
    return Payload(good.system, good.shapes, dict(good.params), chunks).to_bytes()


async def answer(service: EdgeService, body: bytes, variant: str) -> str:
    """The server's path for one body: ``"ok"``, or the error kind it answers with."""
    try:
        payload, named = service.parse(body)  # named: the model a compact payload's id names
        chosen = service.select(payload, variant, named)
        service.check(chosen, payload)
        await service.compute(chosen, payload)
    except _Reject as rej:
        return rej.kind
    return "ok"


def timed(service: EdgeService, body: bytes, variant: str, repeats: int) -> tuple[float, str]:
    async def run() -> tuple[list[float], str]:
        seconds, outcome = [], ""
        for i in range(repeats + 2):
            t0 = time.perf_counter()
            outcome = await answer(service, body, variant)
            if i >= 2:  # warm-up discarded
                seconds.append(time.perf_counter() - t0)
        return seconds, outcome

    seconds, outcome = asyncio.run(run())
    return statistics.median(seconds), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = random.Random(0)
    stored = {}
    for i, (variant, (name, params, ctx)) in enumerate(VARIANTS.items()):
        torch.manual_seed(i)
        system = build_system(name, params, ctx).eval()
        system.prepare_for_coding()
        stored[variant] = StoredSystem(variant, system, params)
    service = EdgeService(ModelCatalog(stored, device="cpu"), ServerConfig(max_body_bytes=MAX_BODY))
    rows = []
    for variant, (_, _, ctx) in VARIANTS.items():
        model = service.catalog.models[variant]
        x = torch.rand(1, *ctx.input_shape, generator=torch.Generator().manual_seed(1))
        with torch.inference_mode():
            good = model.system.device_encode(x)[0]
        layout = model.accepts.layout  # type: ignore[union-attr]
        bound = [b if isinstance(b, int) else b.high for b in layout.chunk_bytes]
        bound += [len(c) for c in good.chunks[len(bound) :]]
        normal_body = good.to_bytes()
        at_bound_body = crafted(good, bound, rng)
        header = len(at_bound_body) - sum(bound)
        maximal = [MAX_BODY - header - sum(bound[1:]) - 64, *bound[1:]]
        maximal_body = crafted(good, maximal, rng)
        normal_s, _ = timed(service, normal_body, variant, args.repeats)
        for kind, body in (("normal", normal_body), ("at_bound", at_bound_body),
                           ("maximal", maximal_body)):  # fmt: skip
            seconds, outcome = timed(service, body, variant, args.repeats)
            rows.append({
                "variant": variant, "body": kind, "bytes": len(body), "outcome": outcome,
                "median_ms": 1e3 * seconds, "vs_normal": seconds / normal_s,
                "meets": outcome == "rejected_payload" or seconds / normal_s <= RATIO_TARGET,
            })  # fmt: skip
    meta = {
        "target": f"maximal CRC-valid body <= {RATIO_TARGET}x normal, or refused before decoding",
        "all_met": all(r["meets"] for r in rows),
        "worst_decoded_ratio": max(
            r["vs_normal"] for r in rows if r["outcome"] != "rejected_payload"
        ),
        "body_limit_bytes": MAX_BODY,
    }
    report("hostile", rows, meta)
    print({k: meta[k] for k in ("all_met", "worst_decoded_ratio")})


if __name__ == "__main__":
    main()
