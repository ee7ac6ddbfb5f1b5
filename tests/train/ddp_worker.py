"""One rank of the DDP equivalence test (``test_distributed.py`` starts it with ``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR`` / ``MASTER_PORT`` set; ``WORLD_SIZE=1`` is the one-process
reference). Trains one phase of a tiny system and has rank 0 save the weights.

Usage: ``python ddp_worker.py OUT.pt SYSTEM SYNC_BN(0|1) CKPT_DIR [PARAMS_JSON [EPOCHS]]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import learnable_images  # noqa: E402
from semcom.systems import BuildContext, build_system  # noqa: E402
from semcom.train import Phase, distributed, train_phase  # noqa: E402


def main(out: str, name: str, sync_bn: str, ckpt_dir: str, params: str = "{}",
         epochs: str = "1") -> None:  # fmt: skip
    torch.set_num_threads(1)
    ctx = BuildContext(num_classes=4, input_shape=(1, 16, 16), backbone="resnet-small",
                       split_after="layer2")  # fmt: skip
    torch.manual_seed(0)
    system = build_system(name, json.loads(params), ctx)
    phase = Phase("joint", epochs=float(epochs), lr=0.05, optimizer="sgd", bn_batches=4)
    train_phase(system, phase, learnable_images(320, seed=0), batch_size=32, seed=1,
                ckpt_dir=ckpt_dir, sync_batchnorm=sync_bn == "1")  # fmt: skip
    if distributed.is_main():
        torch.save(system.state_dict(), out)


if __name__ == "__main__":
    main(*sys.argv[1:])
