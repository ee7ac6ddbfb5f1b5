"""ViT_STAE: the device keeps the frames and cells its attention ranks best and nothing else
reaches the edge, the real bytes give what the training graph gives, the masks in a payload are
checked against its shape, the task loss teaches both attention modules, the video ratio
convention, and a short staged run that learns motion."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from semcom.coding import PayloadError
from semcom.data.clips import synthetic_clip_datasets
from semcom.eval.evaluate import measure_system
from semcom.nn.spatiotemporal_attention import straight_through_top_k, top_k_mask
from semcom.systems import BuildContext, SystemConfigError, build_system
from semcom.train.trainer import Phase, train_phase

SMALL = {"frames": 2, "patches": 3, "patch": 4, "channels": 4, "bits": 3, "width": 8,
         "decoder_width": 16}  # fmt: skip


def ctx(shape: tuple[int, ...] = (3, 8, 16, 16), classes: int = 5) -> BuildContext:
    return BuildContext(classes, shape, "video-vit", "embed", "sprite-actions")


def built(**params: object):
    torch.manual_seed(0)
    system = build_system("stae", {**SMALL, **params}, ctx())
    system.eval()
    system.prepare_for_coding()
    return system


def test_straight_through_top_k_is_hard_forward_and_soft_backward() -> None:
    scores = torch.tensor([[0.1, 2.0, -1.0, 0.5]], requires_grad=True)
    hard, st = straight_through_top_k(scores, 2)
    assert hard.tolist() == [[False, True, False, True]]
    assert st.detach().tolist() == [[0.0, 1.0, 0.0, 1.0]]
    st.sum().backward()
    assert scores.grad is not None and bool((scores.grad > 0).all())
    assert top_k_mask(torch.zeros(2, 5), 9).all()  # k beyond the length keeps everything


def test_the_edge_gets_exactly_the_kept_frames_and_cells_and_the_training_graphs_answer() -> None:
    system = built()
    x = torch.rand(3, 3, 8, 16, 16)
    keep, levels = system.device_tensors_of(x)
    assert keep.shape == (3, 8, 16) and levels.shape == (3, 4, 8, 16)
    assert keep.any(dim=2).sum(dim=1).tolist() == [2, 2, 2]  # 2 frames
    assert keep.sum(dim=2)[keep.any(dim=2)].unique().tolist() == [3]  # 3 cells each
    payloads = system.device_encode(x)
    assert [p.shapes[0] for p in payloads] == [(4, 2, 3)] * 3
    logits = system.edge_decode(payloads)
    torch.testing.assert_close(logits, system(x, path="full").output, atol=1e-5, rtol=1e-4)
    bits = system.estimate_payload_bits(x)
    real = torch.tensor([8.0 * sum(len(c) for c in p.chunks) for p in payloads])
    assert torch.all((real - bits).abs() < 0.15 * bits + 32)


def test_masks_that_disagree_with_the_payload_shape_are_refused() -> None:
    system = built()
    (payload,) = system.device_encode(torch.rand(1, 3, 8, 16, 16))
    body, frames, cells = payload.chunks
    bad_frames = dataclasses.replace(payload, chunks=(body, bytes([0xFF]), cells))
    with pytest.raises(PayloadError, match="frame mask keeps 8"):
        system.edge_decode([bad_frames])
    bad_cells = dataclasses.replace(payload, chunks=(body, frames, bytes(len(cells))))
    with pytest.raises(PayloadError, match="cell masks keep"):
        system.edge_decode([bad_cells])
    short = dataclasses.replace(payload, chunks=(body, frames, cells[:-1]))
    with pytest.raises(PayloadError):
        system.edge_decode([short])


def test_the_task_loss_reaches_both_attention_modules_and_frames_leaves_cells_alone() -> None:
    torch.manual_seed(0)
    system = build_system("stae", SMALL, ctx())
    x, y = torch.rand(4, 3, 8, 16, 16), torch.randint(0, 5, (4,))

    def grads(path: str) -> tuple[float, float]:
        system.zero_grad()
        torch.nn.functional.cross_entropy(system(x, path=path).output, y).backward()
        fa = sum(float(p.grad.abs().sum()) for p in system.frame_attention.parameters())
        sa = [p.grad for p in system.spatial_attention.parameters()]
        return fa, sum(float(g.abs().sum()) for g in sa if g is not None)

    fa_full, sa_full = grads("full")
    assert fa_full > 0 and sa_full > 0
    fa_frames, sa_frames = grads("frames")
    assert fa_frames > 0 and sa_frames == 0


def test_bad_cells_and_images_are_refused() -> None:
    with pytest.raises(SystemConfigError, match="power of two"):
        build_system("stae", {**SMALL, "patch": 3}, ctx())
    with pytest.raises(SystemConfigError, match="clips"):
        build_system("stae", SMALL, BuildContext(5, (3, 16, 16), "video-vit", "embed", "x"))


def test_video_ratio_is_raw_uint8_clip_bits_with_the_float32_figure_beside_it() -> None:
    _, test, _ = synthetic_clip_datasets(8, 8)
    grey = build_system("stae", SMALL, ctx((1, 8, 16, 16), 4))
    grey.eval()
    grey.prepare_for_coding()
    m = measure_system(grey, test, batch_size=8, timing_samples=0)
    record = grey.transport.ratio_fields(grey, m)
    bits = record["payload_bits"]
    assert record["ratio_kind"] == "raw uint8 clip bits per payload bit"
    assert record["compression_ratio"] == pytest.approx(8 * 8 * 16 * 16 / bits)
    assert record["float32_split_ratio"] == pytest.approx(32 * 8 * 16 * 16 / bits)


def test_a_short_staged_run_learns_the_motion(tmp_path) -> None:
    """synthetic-clips: a square moving in one of 4 directions. The ViT first, then STAE's
    codec and attention with the ViT frozen: accuracy through the real bytes rises well above
    chance (25 %) and above the untrained codec's."""
    torch.manual_seed(0)
    train, test, info = synthetic_clip_datasets(384, 128)
    tiny = BuildContext(4, info.input_shape, "video-vit-tiny", "embed", info.name)
    system = build_system("stae", {**SMALL, "frames": 4, "patches": 8}, tiny)
    x, y = test.batch(range(128))

    def accuracy() -> float:
        system.eval()
        system.prepare_for_coding()
        return float((system.edge_decode(system.device_encode(x)).argmax(1) == y).float().mean())

    common = {"optimizer": "AdamW", "schedule": "cosine"}
    train_phase(system, Phase("vit", epochs=5, lr=3e-3, path="bypass", **common), train,
                batch_size=32, seed=0, ckpt_dir=tmp_path / "vit")  # fmt: skip
    before = accuracy()
    codec = ["frame_attention", "spatial_attention", "encoder", "entropy", "decoder"]
    train_phase(system, Phase("codec", epochs=6, lr=5e-3, path="full", trainable=codec,
                              losses={"task": 1.0, "feature": 20.0, "rate": 0.01}, **common),
                train, batch_size=32, seed=0, ckpt_dir=tmp_path / "codec")  # fmt: skip
    after = accuracy()
    assert after > 0.45 and after > before + 0.1, (before, after)


def test_the_picture_shows_what_was_sent_and_what_the_edge_restored(tmp_path) -> None:
    from semcom.report.clip_examples import draw_clip_examples, sent_view

    system = built()
    clip = torch.rand(3, 8, 16, 16)
    sent = torch.zeros(8, 16, dtype=torch.bool)
    sent[2, 5] = True  # one cell of frame 2: rows 4..7, columns 4..7
    shown = sent_view(clip, sent)
    torch.testing.assert_close(shown[:, 2, 4:8, 4:8], clip[:, 2, 4:8, 4:8])
    torch.testing.assert_close(shown[:, 2, :4], clip[:, 2, :4] * 0.25)
    assert bool((shown[:, 0] == 0.5).all())  # nothing of frame 0 was sent
    _, test, _ = synthetic_clip_datasets(4, 4)
    test.clips = test.clips.expand(-1, 3, -1, -1, -1).contiguous()  # RGB for this system
    path = draw_clip_examples(system, test, tmp_path / "examples.png")
    assert path is not None and path.stat().st_size > 1000


def test_a_dropped_frame_starts_as_the_nearest_kept_one_before_it() -> None:
    from semcom.systems.stae.system import hold_dropped_frames

    latent = torch.arange(10.0).view(2, 1, 5, 1, 1)
    kept = torch.tensor([[False, True, False, False, True], [True, False, False, False, False]])
    held = hold_dropped_frames(latent, kept).flatten(1).tolist()
    assert held == [[1.0, 1.0, 1.0, 1.0, 4.0], [5.0, 5.0, 5.0, 5.0, 5.0]]
