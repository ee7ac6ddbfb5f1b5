"""Splittable backbones: the device head and edge tail compose to the whole network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

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


# --- He et al. (2016) CIFAR ResNets -----------------------------------------------------------


def test_resnet20_has_about_0_27m_parameters() -> None:
    net = build_backbone("resnet20", 3, 10)
    assert 0.26e6 <= sum(p.numel() for p in net.parameters()) <= 0.28e6


def test_resnet20_shapes_at_every_split_point() -> None:
    torch.manual_seed(0)
    net = build_backbone("resnet20", 3, 10).eval()
    expected = {"stem": (16, 32, 32), "layer1": (16, 32, 32), "layer2": (32, 16, 16)}
    expected |= {"layer3": (64, 8, 8)}
    assert net.split_points == (
        ["stem"]
        + [f"layer{i}.{b}" for i in (1, 2, 3) for b in range(3)]
        + ["layer1", "layer2", "layer3"]
    )
    for after in net.split_points:
        assert net.feature_shape(after, (3, 32, 32)) == expected[after.split(".")[0]]
    net.eval()
    x = torch.rand(2, 3, 32, 32)
    for after in net.split_points:
        head, tail = net.split(after)
        feature = head(x)
        assert feature.shape[1:] == expected[after.split(".")[0]]
        torch.testing.assert_close(tail(feature), net(x))
    assert net(x).shape == (2, 10)


def test_option_a_shortcut_is_parameter_free_subsample_and_zero_pad() -> None:
    from semcom.backbones.cifar_resnet_he import OptionABasicBlock, ShortcutA

    net = build_backbone("resnet56", 1, 10)
    shortcuts = [m for m in net.modules() if isinstance(m, ShortcutA)]
    assert len(shortcuts) == 2  # the first block of layer2 and of layer3
    assert all(sum(p.numel() for p in m.parameters()) == 0 for m in shortcuts)
    assert not any(
        isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) for m in net.modules()
    )
    block = OptionABasicBlock(16, 32, stride=2)
    x = torch.rand(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, :16], x[:, :, ::2, ::2]) and not out[:, 16:].any()


# --- torchvision models by name ---------------------------------------------------------------


def _imagenet_normalize(x: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


def test_tv_resnet18_split_equals_unsplit_torchvision_model() -> None:
    torch.manual_seed(0)
    net = build_backbone("tv:resnet18", 3, 10).eval()
    head, tail = net.split("layer2")
    reference = torchvision.models.resnet18(weights=None, num_classes=10)
    reference.load_state_dict(
        {k.removeprefix("net."): v for k, v in head.state_dict().items()}
        | {k.removeprefix("net."): v for k, v in tail.state_dict().items()}
    )
    reference.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        feature = head(x)
        assert feature.shape == (2, 128, 8, 8) == (2, *net.feature_shape("layer2", (3, 64, 64)))
        torch.testing.assert_close(tail(feature), reference(_imagenet_normalize(x)))
        torch.testing.assert_close(tail(feature), net(x))
    # the halves share the backbone's parameters, and neither holds the other's
    assert head.get_submodule("net.layer2.1.conv2").weight is net.model.layer2[1].conv2.weight
    assert not set(head.state_dict()) & set(tail.state_dict())
    assert "net.layer1.0.conv1.weight" in head.state_dict()
    assert "net.layer3.0.conv1.weight" in tail.state_dict()


def test_tv_split_points_follow_the_graph() -> None:
    net = build_backbone("tv:resnet18", 3, 10)
    points = net.split_points
    assert {"layer2", "layer2.0", "layer2.1.relu_1", "maxpool", "avgpool"} <= set(points)
    assert points.index("layer1") < points.index("layer2.0") < points.index("layer2")
    # inside a residual block the shortcut still needs the block's input; the logits are the end
    for inside in ("layer2.0.conv2", "layer2.0.bn1", "layer2.0.relu", "fc"):
        assert inside not in points
        with pytest.raises(ValueError, match=rf"'{inside}' is not a split point.*allowed: conv1"):
            net.split(inside)
    with pytest.raises(ValueError, match="'layer9' is not a node or module of tv:resnet18"):
        net.feature_shape("layer9", (3, 64, 64))


def test_tv_mobilenet_v3_small_split_after_a_feature_block() -> None:
    torch.manual_seed(0)
    net = build_backbone("tv:mobilenet_v3_small", 3, 5).eval()
    assert "features.6" in net.split_points and "features.6.block.0" not in net.split_points
    head, tail = net.split("features.6")
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        feature = head(x)
        assert feature.shape[1:] == net.feature_shape("features.6", (3, 64, 64)) == (40, 4, 4)
        torch.testing.assert_close(tail(feature), net(x))


def test_tv_vit_b_16_token_feature_shape() -> None:
    net = build_backbone("tv:vit_b_16", 3, 10)
    assert net.feature_shape("encoder.layers.encoder_layer_1", (3, 224, 224)) == (197, 768)
    assert "encoder.layers.encoder_layer_1.self_attention" not in net.split_points
    with pytest.raises(ValueError, match="cannot take inputs of shape"):
        net.feature_shape("encoder.layers.encoder_layer_1", (3, 32, 32))


def test_tv_names_and_their_errors() -> None:
    from semcom.backbones import BACKBONES

    assert {"tv:resnet34", "tv:mobilenet_v3_large", "tv:efficientnet_b0", "tv:vit_b_16"} <= set(
        BACKBONES
    )
    with pytest.raises(ValueError, match="3-channel"):
        build_backbone("tv:resnet18", 1, 10)
    with pytest.raises(
        ValueError, match="not a torchvision classification model; allowed:.*tv:resnet18"
    ):
        build_backbone("tv:resnet19", 3, 10)
    with pytest.raises(ValueError, match=r"resnet20.*tv:<any torchvision classification model>"):
        build_backbone("vgg", 3, 10)


def test_torchvision_state_dict_loads_into_a_tv_split(tmp_path: Path) -> None:
    from semcom.backbones.weights import load_backbone_weights
    from semcom.systems import BuildContext, build_system

    torch.manual_seed(0)
    state = torchvision.models.resnet18(weights=None, num_classes=1000).state_dict()
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(state, path)
    ctx = BuildContext(10, (3, 64, 64), "tv:resnet18", "layer2")
    system = build_system("local", {}, ctx)
    fc_before = {k: v.clone() for k, v in system.tail.state_dict().items() if ".fc." in k}
    assert load_backbone_weights(system, str(path)) == path
    loaded = {
        f"{role}.{k}": v
        for role in ("head", "tail")
        for k, v in system.roles()[role].state_dict().items()
    }
    assert len(loaded) == len(state)
    for key, value in state.items():
        role = "head" if f"head.net.{key}" in loaded else "tail"
        if key.startswith("fc."):  # 1000 ImageNet classes: the 10-class classifier stays
            assert torch.equal(loaded[f"tail.net.{key}"], fc_before[f"net.{key}"])
        else:
            assert torch.equal(loaded[f"{role}.net.{key}"], value), key


def test_tv_split_in_training_mode_matches_whole_network() -> None:
    # stochastic depth and batch statistics: same draws, same batch → same output
    net = build_backbone("tv:efficientnet_b0", 3, 10).train()
    head, tail = net.split("features.4")
    assert head.training and tail.training
    x = torch.rand(4, 3, 64, 64)
    torch.manual_seed(3)
    whole = net(x)
    torch.manual_seed(3)
    torch.testing.assert_close(tail(head(x)), whole)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "size"),
    [("resnet34", 64), ("mobilenet_v3_large", 64), ("swin_t", 64), ("densenet121", 64)],
)
def test_tv_every_module_split_point_composes(name: str, size: int) -> None:
    net = build_backbone(f"tv:{name}", 3, 10)
    x = torch.rand(2, 3, size, size)
    for training in (False, True):  # swin_t's graph differs between the modes
        net.train(training)
        for after in net.module_split_points:
            head, tail = net.split(after)
            with torch.no_grad():
                torch.manual_seed(0)
                whole = net(x)
                torch.manual_seed(0)
                torch.testing.assert_close(tail(head(x)), whole, msg=f"{name} after {after}")


def test_the_per_frame_control_cannot_see_frame_order_and_the_video_vit_can() -> None:
    torch.manual_seed(0)
    x = torch.rand(2, 3, 16, 32, 32)
    control = build_backbone("frame-vit-16", 3, 10).eval()
    torch.testing.assert_close(control(x), control(x.flip(2)), atol=1e-5, rtol=1e-5)
    video = build_backbone("video-vit", 3, 10).eval()
    assert not torch.allclose(video(x), video(x.flip(2)), atol=1e-3)
    assert video.feature_shape("embed", (3, 16, 32, 32)) == (128, 128)  # 8 x 4 x 4 tokens
    with pytest.raises(ValueError, match="tubelet"):
        video(torch.rand(1, 3, 15, 32, 32))
