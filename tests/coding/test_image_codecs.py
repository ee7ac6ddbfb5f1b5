"""Pillow codecs for the offloading baselines: lossless PNG, quality-controlled JPEG/WebP, and a
decoder that refuses anything that is not a bounded PNG/JPEG/WebP image."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from semcom.coding import ImageCodecError, decode_image, decode_images, encode_image, encode_images


def smooth_image(channels: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """A natural-ish uint8 image ``[C, size, size]``: smooth gradients plus mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    planes = [128 + 100 * np.sin(3 * xx + c) * np.cos(2 * yy - c) for c in range(channels)]
    img = np.stack(planes) + rng.normal(0, 4, (channels, size, size))
    return np.clip(img, 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return 10 * np.log10(255**2 / max(mse, 1e-12))


@pytest.mark.parametrize("channels", [1, 3])
def test_png_is_lossless(channels: int) -> None:
    img = smooth_image(channels)
    out = decode_image(encode_image(img, "png"))
    assert out.dtype == torch.uint8 and np.array_equal(out.numpy(), img)


@pytest.mark.parametrize("codec", ["jpeg", "webp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossy_quality_trades_bytes_for_fidelity(codec: str, channels: int) -> None:
    img = smooth_image(channels, size=64)
    low, high = encode_image(img, codec, 10), encode_image(img, codec, 90)
    assert len(low) < len(high)
    dec_low = decode_image(low, channels).numpy()
    dec_high = decode_image(high, channels).numpy()
    assert dec_low.shape == img.shape and dec_high.shape == img.shape
    assert psnr(img, dec_high) > psnr(img, dec_low) > 20


def test_batch_helpers_and_tensor_input() -> None:
    batch = torch.from_numpy(np.stack([smooth_image(3, seed=s) for s in range(3)]))
    datas = encode_images(batch, "jpeg", 75)
    assert len(datas) == 3
    out = decode_images(datas)
    assert out.shape == batch.shape
    with pytest.raises(ValueError, match="different shapes"):
        decode_images([encode_image(smooth_image(3, 16), "png"), datas[0]])


@pytest.mark.parametrize(
    "codec,quality,match",
    [
        ("gif", None, "unknown image codec"),
        ("jpeg", None, "quality"),
        ("webp", 0, "1..100"),
        ("png", 50, "lossless"),
    ],
)
def test_bad_codec_arguments(codec: str, quality, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        encode_image(smooth_image(3), codec, quality)


def test_bad_images_rejected() -> None:
    with pytest.raises(TypeError, match="uint8"):
        encode_image(np.zeros((3, 4, 4), np.float32), "png")
    with pytest.raises(ValueError, match="C, H, W"):
        encode_image(np.zeros((2, 4, 4), np.uint8), "png")


def test_decoder_refuses_other_formats_truncation_and_bombs() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="BMP")
    with pytest.raises(ImageCodecError):
        decode_image(buf.getvalue())
    data = encode_image(smooth_image(3), "png")
    with pytest.raises(ImageCodecError):
        decode_image(data[: len(data) // 2])
    with pytest.raises(ImageCodecError, match="max_pixels"):
        decode_image(data, max_pixels=100)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_raise_image_codec_error(data: bytes) -> None:
    try:
        decode_image(data)
    except ImageCodecError:
        pass


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 1, 1), (1, 3, 500), (3, 17, 9), (1, 28, 28),
                                   (3, 32, 32), (3, 96, 80)])  # fmt: skip
def test_no_file_is_longer_than_max_file_bytes(shape) -> None:
    from semcom.coding.image_codecs import max_file_bytes

    g = torch.Generator().manual_seed(sum(shape))
    images = {
        "noise": (torch.rand(shape, generator=g) * 255).to(torch.uint8),
        "flat": torch.full(shape, 128, dtype=torch.uint8),
        "checker": ((torch.arange(shape[1])[:, None] + torch.arange(shape[2])) % 2 * 255)
        .to(torch.uint8)
        .expand(shape)
        .contiguous(),
    }
    for img in images.values():
        assert len(encode_image(img, "png")) <= max_file_bytes("png", shape)
        for codec in ("jpeg", "webp"):
            for quality in (1, 75, 100):
                size = len(encode_image(img, codec, quality))
                assert size <= 0.6 * max_file_bytes(codec, shape), (codec, quality, size)
