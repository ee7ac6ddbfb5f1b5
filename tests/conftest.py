"""Shared fixtures: a tiny learnable image classification set and a build context for it."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from semcom.systems import BuildContext


def learnable_images(n: int, classes: int = 4, size: int = 16, seed: int = 0) -> TensorDataset:
    """``n`` single-channel ``size``×``size`` images in [0, 1] whose class is a bright quadrant
    / stripe pattern plus noise: a small CNN separates them within a few dozen steps."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (n,), generator=g)
    x = 0.3 * torch.rand(n, 1, size, size, generator=g)
    half = size // 2
    for c in range(classes):
        idx = labels == c
        r, q = divmod(c, 2)
        x[idx, :, r * half : (r + 1) * half, q * half : (q + 1) * half] += 0.6
    return TensorDataset(x.clamp(0, 1), labels)


@pytest.fixture(scope="session")
def tiny_data() -> tuple[TensorDataset, TensorDataset]:
    return learnable_images(512, seed=0), learnable_images(256, seed=1)


@pytest.fixture(scope="session")
def tiny_ctx() -> BuildContext:
    return BuildContext(
        num_classes=4,
        input_shape=(1, 16, 16),
        backbone="resnet-small",
        split_after="layer2",
    )
