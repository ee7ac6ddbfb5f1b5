"""The generated ``synthetic`` set: shape, determinism, balance, learnability; the registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from semcom.data import SYNTHETIC_CLASSES, build_dataset, make_pattern_images, synthetic_datasets


def test_shape_and_info() -> None:
    train, test, info = build_dataset("synthetic", None)
    assert (len(train), len(test)) == (3000, 500)
    assert train.images.shape == (3000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert (info.name, info.num_classes, info.in_channels) == ("synthetic", 10, 1)
    assert info.image_size == (28, 28) and info.classes == SYNTHETIC_CLASSES
    assert torch.bincount(train.labels).tolist() == [300] * 10
    assert torch.bincount(test.labels).tolist() == [50] * 10


def test_deterministic_and_train_differs_from_test() -> None:
    a, b = synthetic_datasets(200, 50), synthetic_datasets(200, 50)
    assert torch.equal(a[0].images, b[0].images) and torch.equal(a[1].labels, b[1].labels)
    assert not torch.equal(a[0].images[:50], a[1].images)
    assert not torch.equal(synthetic_datasets(200, 50, seed=1)[0].images, a[0].images)


def test_rgb_variant() -> None:
    images, labels = make_pattern_images(20, seed=0, size=32, channels=3)
    assert images.shape == (20, 3, 32, 32) and labels.shape == (20,)


def test_learnable_by_a_tiny_cnn_in_a_few_dozen_steps() -> None:
    torch.manual_seed(0)
    train, test, info = synthetic_datasets()
    model = nn.Sequential(
        nn.Conv2d(1, 8, 5, stride=2, padding=2),
        nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64, info.num_classes),
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    x_test, y_test = test.batch(torch.arange(len(test)))

    def accuracy() -> float:
        with torch.no_grad():
            return float((model(x_test).argmax(1) == y_test).float().mean())

    before = accuracy()
    g = torch.Generator().manual_seed(0)
    for _ in range(60):
        x, y = train.batch(torch.randint(0, len(train), (64,), generator=g))
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = accuracy()
    assert before < 0.25
    assert after > 0.6, f"accuracy {before:.2f} -> {after:.2f}"


def test_unknown_name_lists_allowed_names() -> None:
    with pytest.raises(ValueError, match="fashion-mnist, cifar10, synthetic"):
        build_dataset("imagenet", None)


def test_aliases() -> None:
    assert build_dataset("Synthetic", None)[2].name == "synthetic"
