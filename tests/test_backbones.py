"""Splittable backbones: the device head and edge tail compose to the whole network."""

from __future__ import annotations

import pytest
import torch

from semcom.backbones import build_backbone


@pytest.mark.parametrize("name", ["resnet-small", "resnet18"])
def test_head_then_tail_equals_whole(name: str) -> None:
    torch.manual_seed(0)
    net = build_backbone(name, 3, 10).eval()
    x = torch.rand(2, 3, 32, 32)
    for after in net.split_points:
        head, tail = net.split(after)
        torch.testing.assert_close(tail(head(x)), net(x))


def test_block_and_layer_names_are_split_points() -> None:
    net = build_backbone("resnet18", 3, 10)
    assert "layer2" in net.split_points and "layer2.0" in net.split_points
    head_a, _ = net.split("layer2")
    head_b, _ = net.split("layer2.1")
    assert list(head_a.state_dict()) == list(head_b.state_dict())


def test_bad_split_point_lists_allowed() -> None:
    net = build_backbone("resnet-small", 1, 10)
    with pytest.raises(ValueError, match="allowed: stem"):
        net.split("layer9")
    with pytest.raises(ValueError, match="allowed: resnet-small"):
        build_backbone("vgg", 1, 10)


def test_split_shares_weights_with_backbone() -> None:
    net = build_backbone("resnet-small", 1, 10)
    head, _ = net.split("layer1")
    with torch.no_grad():
        next(head.parameters()).add_(1.0)
    assert torch.equal(next(head.parameters()), next(net.parameters()))


def test_imagenet_resnet50_stages() -> None:
    net = build_backbone("resnet50-imagenet", 3, 7).eval()
    assert net.feature_shape("layer3", (3, 64, 64)) == (1024, 4, 4)
