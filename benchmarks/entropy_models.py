"""Factorised against channel-context entropy models on the same AECNN codes (equal accuracy).

The entropy model changes the bits, never the symbols: the edge decodes the same integers
whichever model coded them, so on one trained AECNN variant every model here has *exactly* the
same accuracy and the comparison is of bits alone. For each stored AECNN variant of a finished
run that uses the factorised prior, this script

1. computes the code symbols ``[C, H, W]`` of the run's training images (the encoder as trained);
2. fits the tables of a channel-context entropy model to them
   (:meth:`~semcom.coding.context_model.ChannelContextEntropyModel.fit_tables`: maximum
   likelihood, +1/2 per cell) with ``d`` = 0 (one free pmf per plane: what a factorised prior
   could reach at best on these codes), 1 and 2 preceding planes as context;
3. ANS-codes the symbols of the test images with the run's own factorised model and with each
   fitted model, and reports the mean real body bits per sample, the ideal (table) bits, and the
   ratio to the run's factorised model.

Run: ``.venv/bin/python benchmarks/entropy_models.py RUN_DIR [--fit-images N]`` (default
``runs/aecnn-fashion``, the default experiment's ``semcom run --out``). Writes
``benchmarks/results/entropy_models.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import report  # noqa: E402

from semcom.coding.context_model import ChannelContextEntropyModel
from semcom.config import load_yaml, parse_config
from semcom.data import build_dataset, take_first
from semcom.storage.store import load_run


def code_symbols(system: Any, images: Any, batch_size: int = 256) -> torch.Tensor:
    """The integer code ``[N, C, H, W]`` of every image of ``images`` (a data set of (x, y))."""
    loader = torch.utils.data.DataLoader(images, batch_size=batch_size)
    parts = [system.device_tensors(x)["symbols"] for x, _ in loader]
    return torch.cat(parts).to(torch.int64)


def fitted_context_model(
    symbols: torch.Tensor, num_symbols: int, context_channels: int
) -> ChannelContextEntropyModel:
    """A context model with the tables fitted to ``symbols`` ``[N, C, *spatial]``, frozen."""
    model = ChannelContextEntropyModel(symbols.shape[1], num_symbols, context_channels)
    model.fit_tables(symbols)
    return model


def mean_stream_bits(model: Any, symbols: torch.Tensor) -> float:
    """Mean real ANS body bits per sample of ``symbols`` ``[N, *code]`` under ``model``."""
    streams = model.compress(symbols.to(torch.int32))
    return 8.0 * sum(len(s) for s in streams) / len(streams)


def compare(run_dir: Path, fit_images: int) -> list[dict[str, Any]]:
    cfg = parse_config(load_yaml(run_dir / "config.yaml"))
    train_set, test_set, _ = build_dataset(cfg.data.name, cfg.data.root, **cfg.data.options())
    train_set = take_first(train_set, min(fit_images, len(train_set)))
    if cfg.data.test_subset:
        test_set = take_first(test_set, cfg.data.test_subset)
    rows: list[dict[str, Any]] = []
    for variant, stored in load_run(run_dir).items():
        system = stored.system
        factorized = stored.params.get("entropy_model", "factorized") == "factorized"
        if system.name != "aecnn" or not factorized:
            continue
        if stored.params.get("selection", "global") != "global":
            continue  # per-sample selection adds a channel mask; its code is compared elsewhere
        system.prepare_for_coding()
        levels = 2 ** int(stored.params.get("bits", 2))
        fit = code_symbols(system, train_set)
        test = code_symbols(system, test_set)
        code = "x".join(map(str, test.shape[1:]))
        base = mean_stream_bits(system.entropy, test)
        base_ideal = float(system.entropy.table_bits(test.to(torch.int32)).mean())
        rows.append(
            {
                "variant": variant,
                "model": "factorized (as trained)",
                "code": code,
                "body_bits": base,
                "ideal_bits": base_ideal,
                "vs_trained": 1.0,
            }
        )
        coder = getattr(system, "coder", None)
        if coder is not None:  # the run's own coder (fit_context), fitted after its training
            bits = mean_stream_bits(coder, test)
            rows.append(
                {
                    "variant": variant,
                    "model": f"run's coder: fit_context={stored.params.get('fit_context')}",
                    "code": code,
                    "body_bits": bits,
                    "ideal_bits": float(coder.table_bits(test.to(torch.int32)).mean()),
                    "vs_trained": bits / base,
                }
            )
        for d in (0, 1, 2):
            model = fitted_context_model(fit, levels, d)
            bits = mean_stream_bits(model, test)
            rows.append(
                {
                    "variant": variant,
                    "model": f"channel-context d={d} (fitted)",
                    "code": code,
                    "body_bits": bits,
                    "ideal_bits": float(model.table_bits(test.to(torch.int32)).mean()),
                    "vs_trained": bits / base,
                }
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", nargs="?", default="runs/aecnn-fashion")
    parser.add_argument("--fit-images", type=int, default=12000)
    args = parser.parse_args()
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.yaml").is_file():
        print(f"{run_dir}/config.yaml not found: run `semcom run --out {run_dir}` first",
              file=sys.stderr)  # fmt: skip
        return 1
    rows = compare(run_dir, args.fit_images)
    if not rows:
        print(f"{run_dir}: no AECNN variant with the factorised prior", file=sys.stderr)
        return 1
    report("entropy_models", rows, {"run": str(run_dir), "fit_images": args.fit_images})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
