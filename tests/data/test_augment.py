"""Per-sample crop and flip: each sample is a shifted (zero-filled) and possibly mirrored copy of
itself, offsets are uniform, clips keep one offset for all frames, and data-parallel ranks augment
each sample as one process does."""

from __future__ import annotations

import pytest
import torch

from semcom.data.augment import Augment, check_augment, random_crop, random_hflip
from semcom.sharded_batch import batch_shard


def _shifted(img: torch.Tensor, dy: int, dx: int, pad: int) -> torch.Tensor:
    """``img [C, H, W]`` padded by ``pad`` and cropped at offset ``(dy, dx)``."""
    h, w = img.shape[-2:]
    padded = torch.nn.functional.pad(img, (pad, pad, pad, pad))
    return padded[..., dy : dy + h, dx : dx + w]


def test_each_crop_is_the_sample_at_its_own_offset() -> None:
    x = torch.rand(16, 3, 8, 10, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(1)
    out = random_crop(x, 2)
    torch.manual_seed(1)
    offsets = torch.randint(0, 5, (16, 2))
    assert len({tuple(o.tolist()) for o in offsets}) > 1  # not one crop for the whole batch
    for i, (dy, dx) in enumerate(offsets.tolist()):
        assert torch.equal(out[i], _shifted(x[i], dy, dx, 2))


def test_offsets_are_uniform_and_flips_are_half() -> None:
    x = torch.zeros(4000, 1, 3, 3)
    x[:, :, 1, 1] = 1.0  # a dot in the middle: where it lands gives the offset
    torch.manual_seed(0)
    out = random_crop(x, 1)
    landed = out.reshape(4000, 9).argmax(1)
    visible = out.reshape(4000, 9).amax(1) > 0
    counts = torch.bincount(landed[visible], minlength=9).float()
    assert bool(visible.all())  # padding 1 on a 3x3 image never pushes the centre out
    expected = 4000 / 9
    assert float(((counts - expected) ** 2 / expected).sum()) < 26.1  # chi-square, 8 dof, p=0.001
    flips = torch.arange(2.0).repeat(2000, 1).reshape(2000, 1, 1, 2)
    flipped = random_hflip(flips)[:, 0, 0, 0] == 1
    assert abs(float(flipped.float().mean()) - 0.5) < 4 * (0.25 / 2000) ** 0.5


def test_a_clip_keeps_one_offset_for_all_frames() -> None:
    frame = torch.rand(1, 1, 1, 6, 6)
    clip = frame.expand(8, 2, 4, 6, 6).contiguous()
    out = Augment(crop_padding=2, hflip=True)(clip)
    assert torch.equal(out, out[:, :, :1].expand_as(out))


def test_ranks_augment_their_samples_as_one_process() -> None:
    x = torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    augment = Augment(crop_padding=4, hflip=True)
    torch.manual_seed(5)
    whole = augment(x)
    for rank in (0, 1):
        torch.manual_seed(5)
        with batch_shard(rank, 2, 6):
            assert torch.equal(augment(x[rank::2]), whole[rank::2])


def test_augmentation_refuses_a_task_it_cannot_move() -> None:
    for kind in ("classification", "segmentation", "detection", "multitask"):
        check_augment(Augment(crop_padding=4, hflip=True), kind)
    check_augment(Augment(), "captioning")  # off: nothing to refuse
    with pytest.raises(ValueError, match="captioning"):
        check_augment(Augment(hflip=True), "captioning")
    with pytest.raises(ValueError, match="crop_padding"):
        Augment(crop_padding=-1)


def _scene(n: int, h: int, w: int, seed: int = 0):
    """Images with one bright rectangle each, its mask (class 1, background 0) and its box."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 3, h, w)
    masks = torch.zeros(n, h, w, dtype=torch.int64)
    boxes = []
    for i in range(n):
        y0, x0 = (int(v) for v in torch.randint(0, 4, (2,), generator=g))
        y1, x1 = y0 + 2 + int(torch.randint(0, 3, (), generator=g)), x0 + 3
        x[i, :, y0:y1, x0:x1] = 1.0
        masks[i, y0:y1, x0:x1] = 1
        boxes.append({"boxes": torch.tensor([[x0, y0, x1, y1]], dtype=torch.float32),
                      "labels": torch.tensor([2]), "difficult": torch.tensor([False])})  # fmt: skip
    return x, masks, boxes


def test_masks_and_boxes_move_with_their_image() -> None:
    x, masks, boxes = _scene(64, 8, 10)
    torch.manual_seed(3)
    out, moved = Augment(crop_padding=3, hflip=True).apply(
        x, {"segmentation": masks, "detection": boxes, "other": torch.arange(64)}
    )
    assert torch.equal(moved["other"], torch.arange(64))
    dropped = 0
    for i in range(64):
        lit = out[i, 0] > 0
        mask = moved["segmentation"][i]
        # the mask follows the pixels; padding that came in is unlabelled
        assert torch.equal(mask == 1, lit)
        assert bool(((mask == 255) | (mask == 0) | lit).all())
        det = moved["detection"][i]
        if not bool(lit.any()):
            assert det["boxes"].shape == (0, 4) and len(det["labels"]) == 0
            assert len(det["difficult"]) == 0
            dropped += 1
            continue
        rows, cols = lit.any(1).nonzero()[:, 0], lit.any(0).nonzero()[:, 0]
        expected = [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
        assert det["boxes"].tolist() == [[float(v) for v in expected]]
        assert det["labels"].tolist() == [2]
    assert dropped < 64
    # something moved: not every sample kept its place
    assert not torch.equal(out, x)
