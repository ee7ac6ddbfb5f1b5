"""The source chooser: the highest ladder quality whose encoding fits, "not sent" when none does,
and sizes cached so a sweep encodes each image once."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from semcom.coding import encode_image
from semcom.data.synthetic import make_pattern_images
from semcom.sscc import ImageSourceCoder, build_source_coder
from semcom.sscc.source import clear_caches

LADDER = tuple(range(1, 96, 3))


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return make_pattern_images(3, seed=0, size=24, channels=3)[0]


@pytest.mark.parametrize("codec", ["jpeg", "webp"])
def test_chooser_picks_the_largest_quality_that_fits(codec: str, images: torch.Tensor) -> None:
    clear_caches()
    coder = ImageSourceCoder(codec, (3, 24, 24), qualities=LADDER)
    for img in images.numpy():
        sizes = np.array([len(encode_image(img, codec, q)) for q in LADDER])
        for budget in (int(sizes.min()) - 1, int(sizes.min()), int(np.median(sizes)), 10**6):
            choice = coder.choose(img, budget)
            fits = [q for q, s in zip(LADDER, sizes, strict=True) if s <= budget]
            if not fits:
                assert choice.data is None and choice.quality == 0 and not choice.sent
                continue
            assert choice.quality == max(fits)
            assert choice.data == encode_image(img, codec, choice.quality)
            assert choice.num_bytes <= budget
            decoded = coder.decode(choice.data)
            assert decoded is not None and decoded.shape == (3, 24, 24)


def test_sizes_are_cached_across_calls_and_coders(images: torch.Tensor) -> None:
    clear_caches()
    x = images.float() / 255
    first = ImageSourceCoder("jpeg", (3, 24, 24), qualities=LADDER)
    choices = first.encode(x, [400, 400, 400])
    assert first.encodings > 0
    second = ImageSourceCoder("jpeg", (3, 24, 24), qualities=LADDER)
    assert second.encode(x, [400, 400, 400]) == choices
    assert second.encodings == 0
    assert (second.sizes(images[0].numpy()) > 0).all()


def test_decode_rejects_garbage_and_features_are_built_by_the_system() -> None:
    coder = build_source_coder("jpeg", (1, 8, 8))
    assert coder.decode(b"\x00" * 50) is None
    assert coder.decode(encode_image(np.zeros((1, 16, 16), np.uint8), "jpeg", 50)) is None
    assert coder.placeholder().unique().tolist() == [128]
    with pytest.raises(ValueError, match="the system builds it"):
        build_source_coder("features", (1, 8, 8))
    with pytest.raises(ValueError, match="jpeg, webp"):
        build_source_coder("png", (1, 8, 8))
