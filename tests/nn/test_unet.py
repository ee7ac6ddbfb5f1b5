"""The UNet JSCC codec: channel uses match the target bandwidth ratio at every depth, transmitted
skips add exactly what they send, FLOPs and parameters shrink with depth, odd sizes round-trip."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from semcom.nn.unet import UNetCodec, unet_layout


def _flops(fn, *args) -> int:  # noqa: ANN001
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn(*args)
    return int(counter.get_total_flops())


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("c", "size", "cbr"), [(3, (32, 32), 0.25), (1, (28, 28), 0.25), (3, (32, 32), 1 / 6)]
)
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_dropped_skips_use_exactly_the_target_channel_uses(c, size, cbr, depth) -> None:  # noqa: ANN001
    codec = UNetCodec(c, size, c, depth=depth, width=4, cbr=cbr).eval()
    target = round(cbr * c * size[0] * size[1])
    assert codec.channel_uses == codec.layout.code_channel_uses == target
    x = torch.rand(2, c, *size)
    with torch.no_grad():
        reals = codec.encoder(x)
        symbols = codec.link.encode(reals)
        y = codec(x, 10.0)
    assert reals.shape == (2, 2 * target) and symbols.shape == (2, target)
    assert y.shape == x.shape and bool(((y >= 0) & (y <= 1)).all())
    assert codec.layout.bandwidth_ratio == pytest.approx(target / (c * size[0] * size[1]))


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_transmitted_skips_add_what_they_send(depth: int) -> None:
    dropped = UNetCodec(3, (32, 32), 3, depth=depth, width=4)
    sent = UNetCodec(3, (32, 32), 3, depth=depth, width=4, skips="transmitted", skip_channels=2)
    skip_reals = sum(2 * (32 >> i) ** 2 for i in range(depth))
    assert sent.layout.skip_reals == skip_reals
    assert sent.channel_uses == 768 + math.ceil(skip_reals / 2) > dropped.channel_uses == 768
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        reals = sent.encoder(x)
        assert reals.shape == (2, 1536 + skip_reals)
        assert sent.link.encode(reals).shape == (2, sent.channel_uses)
        assert sent(x, 5.0).shape == x.shape


def test_the_decoder_uses_the_transmitted_skips() -> None:
    torch.manual_seed(0)
    codec = UNetCodec(1, (16, 16), 1, depth=2, width=4, skips="transmitted").eval()
    with torch.no_grad():
        reals = codec.encoder(torch.rand(1, 1, 16, 16))
        changed = reals.clone()
        changed[:, codec.layout.code_reals :] += 1.0  # only the skips
        assert not torch.allclose(codec.decoder(reals), codec.decoder(changed))


def test_flops_and_params_drop_as_depth_decreases() -> None:
    x = torch.rand(1, 3, 32, 32)
    enc_flops, codec_flops, enc_params, codec_params = [], [], [], []
    for depth in (1, 2, 3, 4):
        codec = UNetCodec(3, (32, 32), 3, depth=depth).eval()
        enc_flops.append(_flops(codec.encoder, x))
        codec_flops.append(_flops(codec, x, 10.0))
        enc_params.append(_params(codec.encoder))
        codec_params.append(_params(codec))
    for series in (enc_flops, codec_flops, enc_params, codec_params):
        assert series == sorted(series) and len(set(series)) == 4, series
    with_cbam = UNetCodec(3, (32, 32), 3, depth=2, cbam=True)
    without = UNetCodec(3, (32, 32), 3, depth=2, cbam=False)
    assert _params(with_cbam.encoder) > _params(without.encoder)
    assert _params(with_cbam.decoder) == _params(without.decoder)  # CBAM is encoder-only


def test_sizes_not_divisible_by_2_to_the_depth_are_padded_and_cropped() -> None:
    lay = unet_layout(1, (28, 30), depth=3, cbr=0.25)
    assert lay.padded_size == (32, 32) and lay.bottleneck_size == (4, 4)
    # 2 * 210 = 420 reals over 16 positions: 27 planes, the last one only partly sent
    assert lay.code_channels == 27 and lay.code_reals == 420 and lay.channel_uses == 210
    codec = UNetCodec(1, (28, 30), 1, depth=3, width=4).eval()
    with torch.no_grad():
        reals = codec.encoder(torch.rand(2, 1, 28, 30))
        code, skips = codec.decoder.unpack(reals)
        assert code.shape == (2, 27, 4, 4) and skips == []
        assert bool((code.flatten(1)[:, 420:] == 0).all())  # unsent tail zero-filled
        assert codec(torch.rand(2, 1, 28, 30), 0.0).shape == (2, 1, 28, 30)


def test_logits_output_for_segmentation_and_gradients_to_the_encoder() -> None:
    torch.manual_seed(0)
    codec = UNetCodec(3, (16, 16), 5, depth=2, width=4, output="logits", snr_adaptive=True)
    x = torch.rand(2, 3, 16, 16)
    logits = codec(x, torch.tensor([0.0, 10.0]))
    assert logits.shape == (2, 5, 16, 16)
    torch.nn.functional.cross_entropy(logits, torch.randint(0, 5, (2, 16, 16))).backward()
    first = codec.encoder.stages[0][0].weight
    assert first.grad is not None and first.grad.abs().sum() > 0
    assert codec.encoder.gate is not None and codec.encoder.gate.mlp[0].weight.grad is not None


def test_bad_layouts_are_rejected_naming_the_field() -> None:
    with pytest.raises(ValueError, match="depth must be one of 1, 2, 3, 4"):
        unet_layout(3, (32, 32), depth=5)
    with pytest.raises(ValueError, match="skips must be one of dropped, transmitted"):
        unet_layout(3, (32, 32), depth=2, skips="sent")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cbr"):
        unet_layout(3, (32, 32), depth=2, cbr=0)
    with pytest.raises(ValueError, match=r"\[B, 3, 32, 32\]"):
        UNetCodec(3, (32, 32), 3, depth=1).encoder(torch.rand(1, 3, 28, 28))
