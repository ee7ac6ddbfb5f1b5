"""The generated ``sprite-actions`` video set (:mod:`semcom.data.sprite_actions`)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import semcom.data.registry as registry
import semcom.data.sprite_actions as sa
from semcom.data.sprite_actions import (
    SPRITE_ACTION_CLASSES,
    SpriteActionClips,
    make_sprite_action_clips,
    render_sprite_actions,
    save_preview,
    sprite_action_datasets,
)

K = {name: i for i, name in enumerate(SPRITE_ACTION_CLASSES)}


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread: the small ops of the renderer are far slower on a busy machine with
    more (and these tests share two cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scene(one_thread: None) -> SpriteActionClips:
    """200 clips (20 per class) with the poses and the target's visible coverage."""
    return render_sprite_actions(200, seed=3, target_alpha=True)


def _of(out: SpriteActionClips, name: str) -> torch.Tensor:
    return torch.nonzero(out.labels == K[name])[:, 0]


def test_shapes_dtypes_balance(scene: SpriteActionClips) -> None:
    assert scene.clips.dtype == torch.uint8 and scene.clips.shape == (200, 3, 16, 32, 32)
    assert scene.labels.dtype == torch.int64
    assert torch.bincount(scene.labels, minlength=10).tolist() == [20] * 10
    assert torch.equal(scene.motion[:, 0], scene.labels)
    assert scene.centre.shape == (200, 3, 16, 2) and scene.size.shape == (200, 3, 16)
    assert scene.angle.shape == (200, 3, 16) and scene.pan.shape == (200, 16, 2)
    assert scene.target_alpha is not None and scene.target_alpha.shape == (200, 16, 32, 32)
    assert sorted(scene.depth[0].tolist()) == [0, 1, 2]
    assert len(SPRITE_ACTION_CLASSES) == 10
    _, labels = make_sprite_action_clips(23, seed=0)
    assert set(torch.bincount(labels, minlength=10).tolist()) == {2, 3}  # 23 = 3·3 + 7·2


def test_deterministic_and_chunk_independent(monkeypatch: pytest.MonkeyPatch) -> None:
    a, la = make_sprite_action_clips(12, seed=7)
    b, lb = make_sprite_action_clips(12, seed=7)
    assert torch.equal(a, b) and torch.equal(la, lb)
    monkeypatch.setattr(sa, "_CHUNK", 5)  # rendered in other chunks: the same bytes
    c, _ = make_sprite_action_clips(12, seed=7)
    assert torch.equal(a, c)
    d, _ = make_sprite_action_clips(12, seed=8)
    assert not torch.equal(a, d)


def test_translations_move_the_target_and_the_bright_outline(scene: SpriteActionClips) -> None:
    assert scene.target_alpha is not None
    clips = scene.clips.float()
    bright = clips.amin(1) >= 0.85 * 255  # only the target's outline is this bright
    ys = torch.arange(32.0)
    for name, (dy, dx) in {"right": (0, 1), "left": (0, -1), "up": (-1, 0), "down": (1, 0)}.items():
        idx = _of(scene, name)
        step = scene.centre[idx, 0, 1:] - scene.centre[idx, 0, :-1]  # [n, 15, 2] px/frame
        speed = step.norm(dim=-1)
        assert torch.allclose(speed, speed[:, :1].expand_as(speed), atol=1e-4)
        assert bool(((speed >= 0.6 - 1e-4) & (speed <= 1.2 + 1e-4)).all())
        cos = (step[..., 0] * dy + step[..., 1] * dx) / speed  # within ±15° of the direction
        assert bool((cos >= math.cos(math.radians(15)) - 1e-4).all())
        # in the pixels: the bright outline's centroid goes the same way
        first, last = bright[idx, 0].float(), bright[idx, -1].float()
        moved = []
        for f0, f1 in zip(first, last, strict=True):
            if f0.sum() < 3 or f1.sum() < 3:
                continue  # hidden behind a distractor
            c0 = torch.stack([(f0.sum(1) * ys).sum(), (f0.sum(0) * ys).sum()]) / f0.sum()
            c1 = torch.stack([(f1.sum(1) * ys).sum(), (f1.sum(0) * ys).sum()]) / f1.sum()
            moved.append(float((c1 - c0)[0] * dy + (c1 - c0)[1] * dx))
        assert len(moved) >= 12
        assert sum(m > 4 for m in moved) >= 0.85 * len(moved), (name, moved)


def test_rotation_zoom_bounce_still(scene: SpriteActionClips) -> None:
    for name, sign in (("rotate-cw", 1), ("rotate-ccw", -1)):
        idx = _of(scene, name)
        turn = (scene.angle[idx, 0, 1:] - scene.angle[idx, 0, :-1]) * sign
        assert bool(((turn > 8 - 1e-3) & (turn < 15 + 1e-3)).all())
        assert bool((scene.centre[idx, 0].std(1) < 1e-4).all())  # turns in place
    for name, sign in (("zoom-in", 1), ("zoom-out", -1)):
        idx = _of(scene, name)
        ratio = (scene.size[idx, 0, 1:] / scene.size[idx, 0, :-1]) ** sign
        assert bool(((ratio > 1.04 - 1e-4) & (ratio < 1.07 + 1e-4)).all())
        assert scene.target_alpha is not None
        area = scene.target_alpha[idx].sum((2, 3))
        grew = (area[:, -3:].mean(1) - area[:, :3].mean(1)) * sign
        assert int((grew > 0).sum()) >= 17  # a few may be hidden behind a distractor
    idx = _of(scene, "bounce")
    centre = scene.centre[idx, 0]
    out = (centre - centre[:, :1]).norm(dim=-1)  # distance from the start, px
    assert bool((out[:, -1] < 1e-4).all())  # back where it started
    furthest = out.amax(1)
    assert bool(((furthest > 5 * math.sin(math.pi * 7 / 15) - 1e-3) & (furthest < 9 + 1e-3)).all())
    assert bool((out[:, 7] > out[:, 2]).all())
    # still: the target's pose is constant; where it is in front, its pixels are too, while the
    # background pans under it
    idx = _of(scene, "still")
    for value in (scene.centre[idx, 0], scene.size[idx, 0], scene.angle[idx, 0]):
        assert bool(((value - value[:, :1]).abs() < 1e-5).all())
    assert scene.target_alpha is not None
    front = idx[scene.depth[idx, 0] == 2]
    assert len(front) >= 2
    alpha = scene.target_alpha[front]
    assert bool(((alpha - alpha[:, :1]).abs() < 1e-4).all())
    pan = scene.pan[idx]
    assert float((pan[:, -1] - pan[:, 0]).norm(dim=-1).max()) > 2.0  # some cameras move


def test_single_frame_statistics_do_not_tell_the_class(scene: SpriteActionClips) -> None:
    mean_size = scene.size[:, 0].mean(1)
    lows = [float(mean_size[_of(scene, c)].min()) for c in SPRITE_ACTION_CLASSES]
    highs = [float(mean_size[_of(scene, c)].max()) for c in SPRITE_ACTION_CLASSES]
    assert max(lows) < min(highs)  # every class's mean size range overlaps every other's
    middle = scene.size[:, 0, 7]
    lows = [float(middle[_of(scene, c)].min()) for c in SPRITE_ACTION_CLASSES]
    highs = [float(middle[_of(scene, c)].max()) for c in SPRITE_ACTION_CLASSES]
    assert max(lows) < min(highs)
    # a middle frame's pixel statistics: a nearest-class-mean classifier is near chance
    frame = scene.clips[:, :, 7].float() / 255
    feats = torch.cat([frame.mean((2, 3)), frame.std((2, 3))], 1)
    train, test = torch.arange(0, 200, 2), torch.arange(1, 200, 2)
    mu, sd = feats[train].mean(0), feats[train].std(0)
    z = (feats - mu) / sd
    cent = torch.stack([z[train][scene.labels[train] == k].mean(0) for k in range(10)])
    acc = (torch.cdist(z[test], cent).argmin(1) == scene.labels[test]).float().mean()
    assert float(acc) < 0.3


def test_target_is_the_bright_one_and_visible(scene: SpriteActionClips) -> None:
    assert scene.target_alpha is not None
    bright = scene.clips.amin(1) >= round(0.85 * 255)
    on_target = scene.target_alpha > 0.01
    assert int(bright.sum()) > 0
    assert float((bright & on_target).sum() / bright.sum()) > 0.99
    seen = (scene.target_alpha.sum((2, 3)) > 4).float().mean()  # frames where it shows
    assert float(seen) > 0.9


def test_datasets_cache_and_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sa, "_CACHE_MIN", 0)
    train, test, info = sprite_action_datasets(20, 10, seed=1)
    assert (len(train), len(test)) == (20, 10)
    assert info.name == "sprite-actions" and info.num_classes == 10
    assert info.input_shape == (3, 16, 32, 32) and info.classes == SPRITE_ACTION_CLASSES
    x, y = train.batch([0, 1])
    assert x.shape == (2, 3, 16, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert not torch.equal(train.clips[:10], test.clips)
    assert torch.equal(train.clips, make_sprite_action_clips(20, seed=2)[0])

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("should come from the cache")

    monkeypatch.setattr(sa, "make_sprite_action_clips", fail)
    again, _, _ = sprite_action_datasets(20, 10, seed=1)
    assert torch.equal(again.clips, train.clips) and torch.equal(again.labels, train.labels)

    assert "sprite-actions" in registry.DATASET_NAMES
    monkeypatch.setattr(registry, "sprite_action_datasets", lambda: (train, test, info))
    assert registry.build_dataset("sprite-actions")[2].name == "sprite-actions"


def test_save_preview(tmp_path: Path, scene: SpriteActionClips) -> None:
    path = tmp_path / "preview.png"
    save_preview(path, scene.clips[:3, :, :4], scene.labels[:3], SPRITE_ACTION_CLASSES)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
