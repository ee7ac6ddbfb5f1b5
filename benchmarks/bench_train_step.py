"""ResNet-20 training step on this CPU: default memory layout against ``train.channels_last``.

One SGD step (forward, cross-entropy, backward, Nesterov SGD with weight decay) of the CIFAR-10
reference network (``resnet20``, unsplit) on a random batch ``[128, 3, 32, 32]``, in the default
(contiguous) layout and in channels-last, alternating the two so that machine load affects both
alike; the median of ``--steps`` steps each after two warm-up steps. Reports seconds per step,
images per second and the channels-last speed-up (ratio of medians). Absolute times on a shared
machine are indicative only; the ratio is the figure.

Run: ``.venv/bin/python benchmarks/bench_train_step.py [--steps 12] [--batch 128]``. Writes
``benchmarks/results/train_step.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from common import report


def step_time(
    net: Callable[[torch.Tensor], torch.Tensor],
    opt: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
) -> float:
    """Seconds of one training step of ``net`` on ``(x, y)``."""
    t0 = time.perf_counter()
    loss = F.cross_entropy(net(x), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    from semcom.systems import BuildContext, build_system

    torch.manual_seed(0)
    ctx = BuildContext(10, (3, 32, 32), "resnet20", "layer2", "cifar10")
    model = build_system("local", {}, ctx).train()

    def net(inp: torch.Tensor) -> torch.Tensor:
        return model(inp, None, "bypass").output

    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)  # fmt: skip
    x = torch.rand(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    layouts = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
    times: dict[str, list[float]] = {name: [] for name in layouts}
    for i in range(args.steps + 2):
        for name, fmt in layouts.items():
            model.to(memory_format=fmt)
            t = step_time(net, opt, x.contiguous(memory_format=fmt), y)
            if i >= 2:
                times[name].append(t)
    rows = []
    for name, ts in times.items():
        median = statistics.median(ts)
        rows.append({"layout": name, "s_per_step": round(median, 4),
                     "images_per_s": round(args.batch / median, 1)})  # fmt: skip
    speedup = rows[0]["s_per_step"] / rows[1]["s_per_step"]
    report("train_step", rows, {"batch": args.batch, "steps": args.steps,
                                "channels_last_speedup": round(speedup, 3),
                                "torch_threads": torch.get_num_threads()})  # fmt: skip
    print(f"channels-last speed-up: {speedup:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
